//! Writing a recipe's GGUF: the keys (architecture, vocabulary, file type,
//! the recipe itself under `rigbench.synthetic.recipe`), the tensors with
//! their types, and their bytes made in chunks on a pool of threads while one
//! thread writes them in order (and hashes them). Memory stays at a few
//! chunks per thread whatever the model's size; the bytes do not depend on
//! the thread count (each block's come from its own counter).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use rayon::prelude::*;

use super::layout;
use super::quant::{Quant, Role, tensor_type};
use super::values::{Filler, Stream, writable};
use super::vocab::Vocab;
use super::{Recipe, RecipeError};
use crate::gguf::value::Value;
use crate::gguf::write::{Layout, TensorSpec, Writer, layout as lay_out};

/// What a file holds: its keys, tensors and how each tensor's blocks are made.
pub struct Content {
    pub layout: Layout,
    fillers: Vec<Filler>,
}

/// A model file written.
#[derive(Debug, Clone, PartialEq)]
pub struct Made {
    pub path: PathBuf,
    pub sha256: String,
    pub size_bytes: u64,
    /// Wall-clock seconds the writing took.
    pub seconds: f64,
    pub threads: usize,
}

/// Errors making a file; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum MakeError {
    #[error("{0}")]
    Recipe(#[from] RecipeError),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// The content of `recipe`'s file written in `written` (the recipe's own
/// quantization, or the Q8_0 that llama-quantize starts from).
pub fn content(recipe: &Recipe, written: Quant, vocab: &Vocab) -> Result<Content, RecipeError> {
    let s = &recipe.shape;
    let fail = |field: &str, message: String| RecipeError {
        field: field.to_string(),
        message,
    };
    let recipe_json = serde_json::to_string(recipe).map_err(|e| fail("recipe", e.to_string()))?;
    let mut kv = vec![
        (
            "general.architecture".to_string(),
            Value::str(s.arch.name()),
        ),
        ("general.type".to_string(), Value::str("model")),
        (
            "general.name".to_string(),
            Value::str(&format!("rigbench synthetic {}", s.name)),
        ),
    ];
    kv.extend(layout::hparams(s));
    kv.extend(vocab.kv.iter().cloned());
    if written.row_multiple() > 1 {
        kv.push(("general.quantization_version".into(), Value::U32(2)));
    }
    kv.push(("general.file_type".into(), Value::U32(written.ftype())));
    kv.push(("rigbench.synthetic.recipe".into(), Value::str(&recipe_json)));

    let tensors = layout::tensors(s);
    let muted = Arc::new(vocab.muted.clone());
    let none = Arc::new(Vec::new());
    let mut specs = Vec::with_capacity(tensors.len());
    let mut fillers = Vec::with_capacity(tensors.len());
    for t in tensors {
        let ty = tensor_type(
            written,
            t.role,
            t.dims[0],
            s.tied_embeddings,
            s.expert_count.unwrap_or(0),
        );
        if !writable(ty) {
            return Err(fail(
                "quant",
                format!("rigbench does not write {ty} blocks"),
            ));
        }
        let per = ty.block_elements().unwrap_or(1);
        let output = t.role == Role::Output || (s.tied_embeddings && t.role == Role::TokenEmbd);
        fillers.push(Filler {
            ty,
            role: t.role,
            stream: Stream::new(recipe.seed, &t.name),
            row_blocks: (t.dims[0] / per).max(1),
            muted: if output { muted.clone() } else { none.clone() },
        });
        specs.push(TensorSpec {
            name: t.name,
            dims: t.dims,
            ty,
        });
    }
    let layout = lay_out(&kv, &specs).map_err(|m| fail("shape", m))?;
    Ok(Content { layout, fillers })
}

/// Bytes a chunk aims at.
const CHUNK: u64 = 4 << 20;

/// A run of blocks of one tensor.
struct Chunk {
    tensor: usize,
    first: u64,
    blocks: u64,
}

impl Content {
    /// The file's size.
    pub fn file_size(&self) -> u64 {
        self.layout.file_size
    }

    fn chunks(&self) -> Vec<Chunk> {
        let mut out = Vec::new();
        for (i, (t, size)) in self
            .layout
            .tensors
            .iter()
            .zip(&self.layout.sizes)
            .enumerate()
        {
            let block = t.ty.layout().map_or(4, |(_, b)| b);
            let total = size / block;
            let per = (CHUNK / block).max(1);
            let mut first = 0;
            while first < total {
                let blocks = per.min(total - first);
                out.push(Chunk {
                    tensor: i,
                    first,
                    blocks,
                });
                first += blocks;
            }
        }
        out
    }

    fn make(&self, c: &Chunk) -> Vec<u8> {
        let f = &self.fillers[c.tensor];
        let block = f.ty.layout().map_or(4, |(_, b)| b);
        let mut buf = vec![0u8; (c.blocks * block) as usize];
        f.fill(c.first, &mut buf);
        buf
    }

    /// Writes the file to `dest` on `threads` threads (atomically: nothing
    /// under `dest` until it is whole), telling `progress` the bytes written.
    pub fn write(
        &self,
        dest: &Path,
        threads: usize,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<Made, MakeError> {
        let t0 = Instant::now();
        let io = |source: std::io::Error| MakeError::Io {
            path: dest.display().to_string(),
            source,
        };
        let threads = threads.max(1);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .map_err(|e| io(std::io::Error::other(e.to_string())))?;
        let mut writer = Writer::create(dest, self.layout.clone()).map_err(io)?;
        let chunks = self.chunks();
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Vec<u8>>>(1);
        let sha256 = std::thread::scope(|s| {
            let out = s.spawn(move || -> std::io::Result<String> {
                let mut done = 0u64;
                for batch in rx {
                    for buf in batch {
                        writer.write(&buf)?;
                        done += buf.len() as u64;
                    }
                    progress(done);
                }
                writer.finish()
            });
            for batch in chunks.chunks(threads * 2) {
                let bufs: Vec<Vec<u8>> =
                    pool.install(|| batch.par_iter().map(|c| self.make(c)).collect());
                if tx.send(bufs).is_err() {
                    break;
                }
            }
            drop(tx);
            out.join()
                .unwrap_or_else(|_| Err(std::io::Error::other("the writing thread panicked")))
        })
        .map_err(io)?;
        Ok(Made {
            path: dest.to_path_buf(),
            sha256,
            size_bytes: self.layout.file_size,
            seconds: t0.elapsed().as_secs_f64(),
            threads,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gguf::header;
    use crate::synth::{VocabSource, shape, values, vocab};

    fn tiny(quant: Quant) -> Recipe {
        let mut s = shape::builtin("gemma3-270m").unwrap();
        s.block_count = 2;
        s.vocab_size = 512;
        s.name = "tiny".into();
        Recipe {
            shape: s,
            quant,
            seed: 5,
            vocab: VocabSource::Builtin,
            generator: values::GENERATOR,
        }
    }

    #[test]
    fn the_same_bytes_on_one_thread_and_on_four() {
        let dir = tempfile::tempdir().unwrap();
        let r = tiny(Quant::Q4_0);
        let v = vocab::builtin(512).unwrap();
        let c = content(&r, Quant::Q4_0, &v).unwrap();
        let seen = std::sync::atomic::AtomicU64::new(0);
        let note = |n: u64| seen.store(n, std::sync::atomic::Ordering::Relaxed);
        let a = c.write(&dir.path().join("a.gguf"), 1, &note).unwrap();
        let b = c.write(&dir.path().join("b.gguf"), 4, &|_| {}).unwrap();
        assert_eq!(a.sha256, b.sha256);
        assert_eq!(a.threads, 1);
        assert_eq!(b.threads, 4);
        let bytes = std::fs::read(&a.path).unwrap();
        assert_eq!(bytes.len() as u64, a.size_bytes);
        assert_eq!(crate::hash::sha256_hex(&bytes), a.sha256);
        assert!(seen.load(std::sync::atomic::Ordering::Relaxed) > 0);
        // Another seed, other bytes.
        let other = content(&Recipe { seed: 6, ..r }, Quant::Q4_0, &v).unwrap();
        let o = other.write(&dir.path().join("c.gguf"), 2, &|_| {}).unwrap();
        assert_ne!(o.sha256, a.sha256);
    }

    #[test]
    fn the_file_says_what_it_is() {
        let dir = tempfile::tempdir().unwrap();
        let r = tiny(Quant::Q8_0);
        let v = vocab::builtin(512).unwrap();
        let made = content(&r, Quant::Q8_0, &v)
            .unwrap()
            .write(&dir.path().join("t.gguf"), 2, &|_| {})
            .unwrap();
        let h = header::read(&made.path).unwrap();
        let facts = crate::gguf::read_facts(&made.path).unwrap();
        assert_eq!(facts.architecture.as_deref(), Some("gemma3"));
        assert_eq!(facts.file_type_name.as_deref(), Some("Q8_0"));
        assert_eq!(facts.block_count, Some(2));
        assert_eq!(facts.tensor_count, 2 + 13 * 2);
        let recipe = match h.get("rigbench.synthetic.recipe") {
            Some(Value::Str(s)) => String::from_utf8(s.clone()).unwrap(),
            other => panic!("{other:?}"),
        };
        let back: Recipe = serde_json::from_str(&recipe).unwrap();
        assert_eq!(back, r);
        // Norms F32, the rest Q8_0; the embedding's muted rows are zero.
        let types: Vec<_> = h.tensors.iter().map(|t| (t.name.as_str(), t.ty)).collect();
        assert!(types.contains(&(
            "blk.1.post_ffw_norm.weight",
            crate::gguf::types::GgmlType::F32
        )));
        assert!(types.contains(&("token_embd.weight", crate::gguf::types::GgmlType::Q8_0)));
        let bytes = std::fs::read(&made.path).unwrap();
        let embd = h
            .tensors
            .iter()
            .find(|t| t.name == "token_embd.weight")
            .unwrap();
        let row = 640 / 32 * 34;
        let at = |token: usize| (h.data_start + embd.offset) as usize + token * row;
        assert!(
            bytes[at(132)..at(260)].iter().all(|b| *b == 0),
            "tokens 132..260 muted"
        );
        assert!(bytes[at(131)..at(132)].iter().any(|b| *b != 0));
        assert!(bytes[at(260)..at(261)].iter().any(|b| *b != 0));
    }
}
