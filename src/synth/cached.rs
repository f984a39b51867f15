//! Where the cache keeps a synthetic model: a folder per recipe identity
//! (`key`, its first 16 hex) under the cache's `synthetic/`, holding the file
//! and its sidecar (`MADE`). Known before any work for the built-in
//! vocabulary; another's identity depends on its vocabulary file's hash.

use std::path::PathBuf;

use super::{Recipe, RecipeFile, VocabFile, VocabSource, values};
use crate::cache::Cache;

/// The sidecar beside a made file: its sha256 and provenance.
pub const MADE: &str = "made.json";

/// A recipe's identity in the cache: `Recipe::key`, with `quantizer` (the
/// llama.cpp commit whose llama-quantize makes the types rigbench does not
/// write) only for those types.
pub fn key(recipe: &Recipe, quantizer: &str) -> String {
    recipe.key((!recipe.quant.written_directly()).then_some(quantizer))
}

/// The folder that holds the file of the recipe whose identity is `key`.
pub fn dir(cache: &Cache, key: &str) -> PathBuf {
    cache.synthetic().join(&key[..16.min(key.len())])
}

/// Recipe `r` resolved without reading anything: only a recipe of the
/// built-in vocabulary (and a shape that checks) can be.
fn builtin(r: &RecipeFile) -> Option<Recipe> {
    if r.vocab != VocabFile::Builtin {
        return None;
    }
    Some(Recipe {
        shape: r.check().ok()?,
        quant: r.quant,
        seed: r.seed,
        vocab: VocabSource::Builtin,
        generator: values::GENERATOR,
    })
}

/// The made file `file` of recipe `r` where the cache holds it already (the
/// file and its `MADE` sidecar); `None` where it is not made yet, or where
/// its identity is not known before its vocabulary is read.
pub fn file(cache: &Cache, r: &RecipeFile, quantizer: &str, file: &str) -> Option<PathBuf> {
    let recipe = builtin(r)?;
    let dir = dir(cache, &key(&recipe, quantizer));
    let path = dir.join(file);
    (path.is_file() && dir.join(MADE).is_file()).then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The folder `session::synthetic::obtain` makes a built-in-vocabulary
    /// recipe's file in (its `key` and `dir`) is the one `file` finds it in,
    /// once the sidecar is there too.
    #[test]
    fn a_made_file_is_found_where_it_was_made() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = Cache::new(tmp.path().to_path_buf());
        let plan = crate::plan::load(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("plans/h200-study.toml"),
            16,
        )
        .unwrap();
        let m = plan
            .models
            .iter()
            .find(|m| m.name == "synthetic-gemma3-27b-q8_0")
            .unwrap();
        let r = m.recipe().unwrap();
        assert_eq!(r.vocab, VocabFile::Builtin);
        let recipe = builtin(r).unwrap();
        let dir = dir(&cache, &key(&recipe, "0c1e57098"));
        assert_eq!(
            file(&cache, r, "0c1e57098", &m.file),
            None,
            "nothing made yet"
        );
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(&m.file), b"gguf").unwrap();
        assert_eq!(
            file(&cache, r, "0c1e57098", &m.file),
            None,
            "no sidecar yet"
        );
        std::fs::write(dir.join(MADE), b"{}").unwrap();
        assert_eq!(
            file(&cache, r, "0c1e57098", &m.file),
            Some(dir.join(&m.file))
        );
        // Q8_0 is written by rigbench: the quantizer's commit is not part of
        // its identity.
        assert_eq!(file(&cache, r, "another", &m.file), Some(dir.join(&m.file)));
    }
}
