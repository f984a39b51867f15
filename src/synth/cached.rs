//! Where the cache keeps a synthetic model: a folder per recipe identity
//! (`Recipe::key`, its first 16 hex) under the cache's `synthetic/`, holding
//! the file and its `made.json`. Known before any work for the built-in
//! vocabulary; another's identity depends on its vocabulary file's hash.

use std::path::PathBuf;

use super::{Recipe, RecipeFile, VocabFile, VocabSource, values};
use crate::cache::Cache;

/// The folder that holds the file of the recipe whose identity is `key`.
pub fn dir(cache: &Cache, key: &str) -> PathBuf {
    cache.synthetic().join(&key[..16.min(key.len())])
}

/// The made file `file` of recipe `r` where the cache holds it already;
/// `quantizer` is the llama.cpp commit whose llama-quantize makes the types
/// rigbench does not write. `None` where it is not made yet, or where its
/// identity is not known before its vocabulary is read.
pub fn file(cache: &Cache, r: &RecipeFile, quantizer: &str, file: &str) -> Option<PathBuf> {
    if r.vocab != VocabFile::Builtin {
        return None;
    }
    let recipe = Recipe {
        shape: r.check().ok()?,
        quant: r.quant,
        seed: r.seed,
        vocab: VocabSource::Builtin,
        generator: values::GENERATOR,
    };
    let key = recipe.key((!recipe.quant.written_directly()).then_some(quantizer));
    let dir = dir(cache, &key);
    let path = dir.join(file);
    (path.is_file() && dir.join("made.json").is_file()).then_some(path)
}
