//! Synthetic models in a run (and in `rigbench model synth`): each recipe
//! resolved (its vocabulary read from the real model it names), found in the
//! cache under its identity, else made: written here, or, for the types
//! rigbench does not write, written as Q8_0 and quantized by the pinned
//! image's llama-quantize once the images are ready. A file is checked
//! against the plan's pinned SHA-256 (a rerun pins the recorded one): a
//! mismatch is an error that says what could differ.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::cache::Cache;
use crate::fetch::{FetchedModel, Fetcher, Verification};
use crate::hash::HashOrigin;
use crate::plan::Model;
use crate::synth::make::content;
use crate::synth::quantize::{self, QuantizeRecord, Quantizer};
use crate::synth::vocab::{self, Vocab};
use crate::synth::{Provenance, Quant, Recipe, RecipeFile, VocabFile, VocabSource, values};

/// A model whose file llama-quantize still has to make.
pub struct Pending {
    model: Model,
    recipe: Recipe,
    key: String,
    /// The Q8_0 file rigbench wrote, and its SHA-256.
    input: PathBuf,
    input_sha256: String,
    made: Made,
}

impl Pending {
    /// Drops the Q8_0 file written for llama-quantize (a run that makes
    /// the model writes it again).
    pub fn discard(self) -> std::io::Result<()> {
        std::fs::remove_file(&self.input)
    }
}

/// What writing a file took.
#[derive(Clone, Copy)]
struct Made {
    seconds: f64,
    threads: usize,
    muted: usize,
    padded: u64,
}

/// The recipe resolved: its shape, and its vocabulary read from `vocab_file`
/// (the real model it names, with that model's name and SHA-256).
pub fn resolve(
    r: &RecipeFile,
    vocab_file: Option<(&str, &Path, &str)>,
) -> anyhow::Result<(Recipe, Vocab)> {
    let shape = r.check()?;
    if let Some(g) = r.generator.filter(|g| *g != values::GENERATOR) {
        anyhow::bail!(
            "synthetic.generator: the model was made by generator {g}; this rigbench ({}) \
             writes generator {}, so it cannot remake the same bytes (use the rigbench that \
             made it: the manifest's models[].synthetic.made_by)",
            crate::version::LONG,
            values::GENERATOR
        );
    }
    let size = shape.vocab_size;
    let (source, vocab) = match (&r.vocab, vocab_file) {
        (VocabFile::Builtin, _) => (
            VocabSource::Builtin,
            vocab::builtin(size).map_err(anyhow::Error::msg)?,
        ),
        (VocabFile::Model { .. }, Some((name, path, sha256))) => {
            let header = crate::gguf::header::read(path)?;
            let v = vocab::from_header(&header, &path.display().to_string(), size)
                .map_err(anyhow::Error::msg)?;
            (
                VocabSource::Model {
                    name: name.to_string(),
                    sha256: sha256.to_string(),
                },
                v,
            )
        }
        (VocabFile::Model { model }, None) => {
            anyhow::bail!("vocab: the model \"{model}\" it names is not at hand")
        }
    };
    Ok((
        Recipe {
            shape,
            quant: r.quant,
            seed: r.seed,
            vocab: source,
            generator: values::GENERATOR,
        },
        vocab,
    ))
}

/// What is kept beside a made file: in the cache here, and beside a model
/// made on another host (`remote_synth`), where the next run reads it back.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(super) struct Sidecar {
    pub(super) sha256: String,
    pub(super) provenance: Provenance,
}

/// The model's file from the cache, or made (or written for llama-quantize,
/// `Err(Pending)`); `threads` for the writing, `quantizer` the llama.cpp
/// commit whose llama-quantize makes the types rigbench does not write.
pub async fn obtain(
    fetcher: &mut Fetcher,
    cache: &Cache,
    model: &Model,
    recipe: Recipe,
    vocab: Vocab,
    threads: usize,
    quantizer: &str,
) -> anyhow::Result<Result<FetchedModel, Pending>> {
    let quant = recipe.quant;
    let key = crate::synth::cached::key(&recipe, quantizer);
    let dir = crate::synth::cached::dir(cache, &key);
    let path = dir.join(&model.file);
    if let Some(hit) = cached(fetcher, model, &path, &dir)? {
        return Ok(Ok(hit));
    }
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("cannot create the cache folder {}", dir.display()))?;
    let written = quant.intermediate();
    let target = if quant.written_directly() {
        path.clone()
    } else {
        let tmp = cache.tmp().join(format!("synthetic-{}", &key[..16]));
        std::fs::create_dir_all(&tmp)
            .with_context(|| format!("cannot create {}", tmp.display()))?;
        tmp.join(format!(
            "{}.q8_0.gguf",
            model.file.trim_end_matches(".gguf")
        ))
    };
    let made = write(&recipe, written, &vocab, &target, threads, &model.name).await?;
    fetcher.remember(&made.path, &made.sha256)?;
    let m = Made {
        seconds: made.seconds,
        threads: made.threads,
        muted: vocab.muted.len(),
        padded: vocab.padded,
    };
    if !quant.written_directly() {
        return Ok(Err(Pending {
            model: model.clone(),
            recipe,
            key,
            input: made.path,
            input_sha256: made.sha256,
            made: m,
        }));
    }
    let provenance = provenance(recipe, key, m, None);
    finish(
        model,
        &path,
        &dir,
        provenance,
        &made.sha256,
        HashOrigin::Computed,
    )
    .map(Ok)
}

/// The recipe's file written to `target` as `written` (the plan's type, or
/// Q8_0 for llama-quantize) on `threads`, with a progress bar and a note.
async fn write(
    recipe: &Recipe,
    written: Quant,
    vocab: &Vocab,
    target: &Path,
    threads: usize,
    name: &str,
) -> anyhow::Result<crate::synth::make::Made> {
    let c = content(recipe, written, vocab)?;
    let bar = crate::progress::bytes(
        Some(c.file_size()),
        &format!("making model {name} ({})", recipe.describe()),
    );
    let out = target.to_path_buf();
    let progress_bar = bar.clone();
    let made = tokio::task::spawn_blocking(move || {
        c.write(&out, threads, &|n| progress_bar.set_position(n))
    })
    .await
    .context("writing the synthetic model")??;
    bar.finish_and_clear();
    log::info!(
        "model {name}: wrote {} ({} bytes of {} in {:.1} s on {} threads, sha256 {})",
        made.path.display(),
        made.size_bytes,
        written,
        made.seconds,
        made.threads,
        &made.sha256[..16]
    );
    Ok(made)
}

fn provenance(recipe: Recipe, key: String, m: Made, q: Option<QuantizeRecord>) -> Provenance {
    Provenance {
        recipe,
        key,
        made_by: crate::version::LONG.to_string(),
        made_now: true,
        write_seconds: m.seconds,
        threads: m.threads,
        muted_tokens: m.muted,
        padded_tokens: m.padded,
        quantize: q,
    }
}

/// A pending model made by llama-quantize in `q`'s image.
pub async fn quantize<E: crate::engine::Engine>(
    engine: &E,
    fetcher: &mut Fetcher,
    cache: &Cache,
    q: &Quantizer<'_>,
    p: Pending,
    threads: usize,
) -> anyhow::Result<FetchedModel> {
    let dir = crate::synth::cached::dir(cache, &p.key);
    let waiting = crate::progress::waiting(&format!(
        "llama-quantize: {} to {} in {}",
        p.model.name, p.recipe.quant, q.image
    ));
    let job = quantize::Job {
        input: &p.input,
        input_sha256: &p.input_sha256,
        out_dir: &dir,
        file: &p.model.file,
        quant: p.recipe.quant,
        threads,
    };
    let result = quantize::run(engine, q, &job).await;
    drop(waiting);
    // The Q8_0 file is not kept: the made one is, under the recipe's key.
    if let Some(tmp) = p.input.parent() {
        let _ = std::fs::remove_dir_all(tmp);
    }
    let (path, record) = result.map_err(|e| anyhow::anyhow!("model {}: {e}", p.model.name))?;
    let (sha, origin, secs) = fetcher.hash(&path)?;
    log::info!(
        "model {}: llama-quantize made {} in {:.1} s (sha256 {}, hashed in {secs:.1} s)",
        p.model.name,
        path.display(),
        record.seconds,
        &sha[..16]
    );
    let provenance = provenance(p.recipe, p.key, p.made, Some(record));
    finish(&p.model, &path, &dir, provenance, &sha, origin)
}

/// Records the made file beside it and checks it against the plan's pin.
fn finish(
    model: &Model,
    path: &Path,
    dir: &Path,
    provenance: Provenance,
    sha256: &str,
    origin: HashOrigin,
) -> anyhow::Result<FetchedModel> {
    let side = Sidecar {
        sha256: sha256.to_string(),
        provenance: provenance.clone(),
    };
    let bytes = serde_json::to_vec_pretty(&side)?;
    let side = dir.join(crate::synth::cached::MADE);
    crate::hash::write_atomic(&side, &bytes)
        .with_context(|| format!("cannot write {}", side.display()))?;
    fetched(model, path, provenance, sha256, origin, 0.0)
}

/// A cached file of this recipe, when its hash still matches what was made;
/// a file that no longer matches is removed (and made again).
fn cached(
    fetcher: &mut Fetcher,
    model: &Model,
    path: &Path,
    dir: &Path,
) -> anyhow::Result<Option<FetchedModel>> {
    let side = dir.join(crate::synth::cached::MADE);
    let Some(s) = std::fs::read(&side)
        .ok()
        .and_then(|b| serde_json::from_slice::<Sidecar>(&b).ok())
    else {
        return Ok(None);
    };
    if !path.is_file() {
        return Ok(None);
    }
    let (sha, origin, secs) = fetcher.hash(path)?;
    if sha != s.sha256 {
        log::info!(
            "model {}: the cached {} changed since it was made (sha256 {}, made {}): making it again",
            model.name,
            path.display(),
            &sha[..16],
            &s.sha256[..16]
        );
        std::fs::remove_file(path)?;
        return Ok(None);
    }
    let provenance = Provenance {
        made_now: false,
        ..s.provenance
    };
    fetched(model, path, provenance, &sha, origin, secs).map(Some)
}

fn fetched(
    model: &Model,
    path: &Path,
    provenance: Provenance,
    sha256: &str,
    origin: HashOrigin,
    hash_seconds: f64,
) -> anyhow::Result<FetchedModel> {
    check_pin(
        model,
        &provenance,
        sha256,
        "here",
        &path.display().to_string(),
    )?;
    let size_bytes = std::fs::metadata(path)?.len();
    Ok(FetchedModel {
        file: model.file.clone(),
        path: path.to_path_buf(),
        sha256: sha256.to_string(),
        size_bytes,
        source: model.sources[0].clone(),
        verification: Verification {
            pinned: model.sha256.is_some(),
            hash_origin: origin,
            hash_seconds,
        },
        shards: Vec::new(),
        synthetic: Some(provenance),
        there: None,
    })
}

/// A made file's sha256 against the plan's pin: a mismatch says what could
/// differ, where it was made (`made_on`: "here", "on ssh://…") and where the
/// made file is kept.
pub fn check_pin(
    model: &Model,
    provenance: &Provenance,
    sha256: &str,
    made_on: &str,
    kept: &str,
) -> anyhow::Result<()> {
    let Some(pinned) = model.sha256.as_ref().filter(|p| *p != sha256) else {
        return Ok(());
    };
    anyhow::bail!(
        "model {}: synthetic {} made {made_on} has sha256 {sha256}; the plan pins {pinned}.\n\
         A recipe's bytes change only with rigbench's generator (this one, {}, writes \
         generator {}){}. The file made is kept: {kept}",
        model.name,
        provenance.recipe.describe(),
        crate::version::LONG,
        values::GENERATOR,
        match &provenance.quantize {
            Some(q) => format!(
                " or, for a type llama-quantize makes, with its build (here the image \
                 {} of llama.cpp {}, compiled for the CPU it was built on); a type rigbench \
                 writes (F16, BF16, Q8_0, Q4_0) is the same everywhere",
                q.image, q.llama_cpp_commit
            ),
            None => String::new(),
        }
    )
}

/// Threads to write with: every CPU.
pub fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The quantizations that need an image.
pub fn needs_image(q: Quant) -> bool {
    !q.written_directly()
}
