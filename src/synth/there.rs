//! What rigbench, run on another host by the rigbench that drives it
//! (`session::remote_synth`), does to make a synthetic model there: write a
//! resolved recipe's file (`write`, the hidden `rigbench synth-write`), and
//! read a model file where it lies (`facts`, `rigbench model-facts`): its
//! sha256, size, header facts, and the record kept beside a made one
//! (`FILE.made.json`). Both print JSON the driving rigbench reads back.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::make::content;
use super::{Quant, Recipe, VocabSource, vocab};
use crate::gguf::GgufFacts;

/// A model file as read where it lies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileFacts {
    pub sha256: String,
    pub size_bytes: u64,
    pub gguf: GgufFacts,
    /// The record kept beside a made file (`made_record`), where there is one:
    /// a file without it was not finished.
    pub made: Option<serde_json::Value>,
}

/// What `write` wrote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Written {
    pub file: FileFacts,
    /// Seconds the writing took, on how many threads.
    pub seconds: f64,
    pub threads: usize,
    /// The vocabulary's muted and padding tokens.
    pub muted: usize,
    pub padded: u64,
}

/// Where the record of a made file is kept: beside it.
pub fn made_record(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".made.json");
    PathBuf::from(name)
}

/// Reads `file`'s sha256, size and header facts, and its made record.
pub fn facts(file: &Path) -> anyhow::Result<FileFacts> {
    let sha256 = crate::hash::sha256_file(file)?;
    let size_bytes = std::fs::metadata(file)?.len();
    let gguf = crate::gguf::read_facts(file)?;
    let made = match std::fs::read(made_record(file)) {
        Ok(b) => Some(serde_json::from_slice(&b)?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e.into()),
    };
    Ok(FileFacts {
        sha256,
        size_bytes,
        gguf,
        made,
    })
}

/// Writes `recipe`'s file as `quant` (its own type, or Q8_0 for
/// llama-quantize) to `out` on every CPU, its vocabulary rigbench's own or
/// read from `vocab` (the header of the real model the recipe names; the
/// tensor data need not follow it).
pub fn write(
    recipe: &Recipe,
    vocab_header: Option<&Path>,
    quant: Quant,
    out: &Path,
) -> anyhow::Result<Written> {
    let size = recipe.shape.vocab_size;
    let v = match (&recipe.vocab, vocab_header) {
        (VocabSource::Builtin, _) => vocab::builtin(size).map_err(anyhow::Error::msg)?,
        (VocabSource::Model { .. }, Some(h)) => {
            let header = crate::gguf::header::read(h)?;
            vocab::from_header(&header, &h.display().to_string(), size)
                .map_err(anyhow::Error::msg)?
        }
        (VocabSource::Model { name, .. }, None) => {
            anyhow::bail!("--vocab: the recipe's vocabulary is model {name}'s; give its header")
        }
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let made = content(recipe, quant, &v)?.write(out, threads, &|_| {})?;
    Ok(Written {
        file: facts(out)?,
        seconds: made.seconds,
        threads: made.threads,
        muted: v.muted.len(),
        padded: v.padded,
    })
}

/// A GGUF file's header alone, cut at its data (`data_start` bytes): what
/// the vocabulary needs of a real model, without its weights.
pub fn header_only(gguf: &Path, dest: &Path) -> anyhow::Result<()> {
    use std::io::{Read, Write};
    let header = crate::gguf::header::read(gguf)?;
    let mut from = std::fs::File::open(gguf)?.take(header.data_start);
    let mut to = std::fs::File::create(dest)?;
    std::io::copy(&mut from, &mut to)?;
    to.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::RecipeFile;

    fn recipe(vocab: VocabSource) -> Recipe {
        let file: RecipeFile = toml::from_str(
            "shape = { base = \"gemma3-270m\", block_count = 1, vocab_size = 512 }\nquant = \"q8_0\"\n",
        )
        .unwrap();
        let shape = file.check().unwrap();
        Recipe {
            shape,
            quant: Quant::parse("q8_0").unwrap(),
            seed: file.seed,
            vocab,
            generator: crate::synth::values::GENERATOR,
        }
    }

    #[test]
    fn written_there_is_the_file_made_here_and_its_facts_read_back() {
        let r = recipe(VocabSource::Builtin);
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("m.gguf");
        let w = write(&r, None, r.quant, &out).unwrap();
        // The same bytes as the maker writes for the same recipe.
        let v = vocab::builtin(512).unwrap();
        let here = dir.path().join("here.gguf");
        let made = content(&r, r.quant, &v)
            .unwrap()
            .write(&here, 1, &|_| {})
            .unwrap();
        assert_eq!(w.file.sha256, made.sha256);
        assert_eq!(w.file.size_bytes, std::fs::metadata(&here).unwrap().len());
        assert_eq!(w.file.gguf.architecture.as_deref(), Some("gemma3"));
        assert_eq!(w.file.made, None, "no record until one is kept beside it");
        std::fs::write(made_record(&out), b"{\"sha256\":\"x\"}").unwrap();
        let f = facts(&out).unwrap();
        assert_eq!(f.made, Some(serde_json::json!({"sha256": "x"})));
        assert_eq!(
            made_record(Path::new("/models/m.gguf")),
            Path::new("/models/m.gguf.made.json")
        );
    }

    #[test]
    fn a_real_models_vocabulary_comes_from_its_header_alone() {
        // A "real" model: a written one, cut at its data.
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.gguf");
        let r = recipe(VocabSource::Builtin);
        let v = vocab::builtin(512).unwrap();
        content(&r, r.quant, &v)
            .unwrap()
            .write(&real, 1, &|_| {})
            .unwrap();
        let cut = dir.path().join("vocab.gguf");
        header_only(&real, &cut).unwrap();
        let h = crate::gguf::header::read(&real).unwrap();
        assert_eq!(std::fs::metadata(&cut).unwrap().len(), h.data_start);
        let from = VocabSource::Model {
            name: "real".into(),
            sha256: "0".repeat(64),
        };
        let r2 = recipe(from);
        let out = dir.path().join("m.gguf");
        let w = write(&r2, Some(&cut), r2.quant, &out).unwrap();
        // The vocabulary read from the cut header is the whole file's.
        let whole = vocab::from_header(&h, "real", 512).unwrap();
        let made = content(&r2, r2.quant, &whole)
            .unwrap()
            .write(&dir.path().join("w.gguf"), 1, &|_| {})
            .unwrap();
        assert_eq!(w.file.sha256, made.sha256);
        let err = write(&r2, None, r2.quant, &out).unwrap_err().to_string();
        assert!(err.contains("model real's; give its header"), "{err}");
    }
}
