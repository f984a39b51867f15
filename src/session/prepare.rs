//! What a run and `build` share: fetching the source and models, the
//! backends' device passthrough and shader caches, and building (or reusing)
//! the images, with the progress the user sees.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;

use crate::backend::Backend;
use crate::engine::Engine;
use crate::fetch::{FetchedModel, FetchedSource, Fetcher};
use crate::host::devices::Passthrough;
use crate::manifest::{ImageRecord, ModelRecord, ShardRecord};
use crate::plan::images::ImagePlan;
use crate::plan::{Plan, Source};
use crate::synth::quantize::Quantizer;

/// Fetches every llama.cpp source of the plan, in plan order.
pub async fn sources(fetcher: &mut Fetcher, plan: &Plan) -> anyhow::Result<Vec<FetchedSource>> {
    let mut out = Vec::new();
    for src in &plan.sources {
        out.push(source(fetcher, src).await?);
    }
    Ok(out)
}

async fn source(fetcher: &mut Fetcher, src: &Source) -> anyhow::Result<FetchedSource> {
    let s = fetcher.source(src).await?;
    log::info!(
        "source {} ({}): {} ({} sha256 {}{})",
        src.name,
        &src.commit[..src.commit.len().min(12)],
        s.path.display(),
        if s.verification.pinned {
            "verified"
        } else {
            "unpinned, recorded"
        },
        &s.sha256[..16],
        match s.verification.hash_origin {
            crate::hash::HashOrigin::Cached => ", hash cache",
            crate::hash::HashOrigin::Computed => "",
        }
    );
    Ok(s)
}

/// A model as the first step leaves it: ready, a synthetic one waiting for
/// llama-quantize (which needs the images) or to be made on another host, or
/// not needed here.
// One per model of a plan, moved a few times: the size is no matter.
#[allow(clippy::large_enum_variant)]
pub enum Obtained {
    Ready(FetchedModel),
    Pending(super::synthetic::Pending),
    /// A synthetic model to make on another host's engine, where it is used.
    There(super::remote_synth::ToMake),
    /// No cell or llama-bench run of the matrix uses it, nor is it the
    /// vocabulary of one that is used: neither fetched nor made.
    Unused,
}

/// Fetches every real model that `needed` marks, then finds in the cache or
/// makes every needed synthetic one (its vocabulary from the real
/// model it names); the ones llama-quantize makes wait for the images. In
/// plan order; the models not needed are `Unused`. For another host's engine
/// (`there`) the synthetic ones are resolved here and left to be made there.
pub async fn models(
    fetcher: &mut Fetcher,
    cache: &crate::cache::Cache,
    plan: &Plan,
    needed: &[bool],
    there: bool,
) -> anyhow::Result<Vec<Obtained>> {
    use super::synthetic;
    let needs = |i: usize| needed.get(i).copied().unwrap_or(true);
    let mut ready: Vec<Option<FetchedModel>> = Vec::new();
    for (i, m) in plan.models.iter().enumerate() {
        ready.push(match m.recipe() {
            None if needs(i) => Some(fetcher.model(m).await?),
            _ => None,
        });
    }
    let quantizer = plan.sources.first().map_or("", |s| s.commit.as_str());
    // Each real model's name, file and hash: where a vocabulary may come from.
    let real: Vec<(String, std::path::PathBuf, String)> = plan
        .models
        .iter()
        .zip(&ready)
        .filter_map(|(m, f)| {
            Some((
                m.name.clone(),
                f.as_ref()?.path.clone(),
                f.as_ref()?.sha256.clone(),
            ))
        })
        .collect();
    let mut out = Vec::new();
    for (i, m) in plan.models.iter().enumerate() {
        if !needs(i) {
            out.push(Obtained::Unused);
            continue;
        }
        let Some(recipe) = m.recipe() else {
            if let Some(f) = ready[i].take() {
                out.push(Obtained::Ready(f));
            }
            continue;
        };
        let vocab = match &recipe.vocab {
            crate::synth::VocabFile::Builtin => None,
            crate::synth::VocabFile::Model { model } => real.iter().find(|(n, _, _)| n == model),
        };
        let (resolved, v) = synthetic::resolve(
            recipe,
            vocab.map(|(n, p, s)| (n.as_str(), p.as_path(), s.as_str())),
        )
        .with_context(|| format!("model {}", m.name))?;
        if there {
            out.push(Obtained::There(super::remote_synth::ToMake {
                model: m.clone(),
                key: crate::synth::cached::key(&resolved, quantizer),
                recipe: resolved,
                vocab_model: vocab.map(|(_, p, _)| p.clone()),
            }));
            continue;
        }
        match synthetic::obtain(
            fetcher,
            cache,
            m,
            resolved,
            v,
            synthetic::threads(),
            quantizer,
        )
        .await?
        {
            Ok(f) => {
                if f.synthetic.as_ref().is_some_and(|p| !p.made_now) {
                    log::info!(
                        "model {}: synthetic {} from the cache ({})",
                        m.name,
                        recipe.describe(),
                        f.path.display()
                    );
                }
                out.push(Obtained::Ready(f));
            }
            Err(p) => out.push(Obtained::Pending(p)),
        }
    }
    Ok(out)
}

/// The synthetic models waiting for llama-quantize, made in the image of the
/// plan's first source (its CPU image where the plan has one; a GPU image's
/// container gets its backend's passthrough, without which its llama-quantize
/// does not start); on another host's engine (`there`), the synthetic models
/// made there.
#[allow(clippy::too_many_arguments)]
pub async fn finish_models<E: Engine>(
    engine: &E,
    there: Option<&super::There>,
    fetcher: &mut Fetcher,
    cache: &crate::cache::Cache,
    plan: &Plan,
    images: &[ImageRecord],
    passthroughs: &BTreeMap<Backend, Passthrough>,
    obtained: Vec<Obtained>,
) -> anyhow::Result<Vec<Option<FetchedModel>>> {
    let quantizer = || quantizer_of(plan, images, passthroughs);
    let mut out = Vec::new();
    for o in obtained {
        match o {
            Obtained::Ready(f) => out.push(Some(f)),
            Obtained::Unused => out.push(None),
            Obtained::Pending(p) => {
                let q = quantizer()?;
                let threads = super::synthetic::threads();
                out.push(Some(
                    super::synthetic::quantize(engine, fetcher, cache, &q, p, threads).await?,
                ));
            }
            Obtained::There(t) => {
                let there = there.ok_or_else(|| {
                    anyhow::anyhow!(
                        "model {}: to be made on another host, with none",
                        t.model.name
                    )
                })?;
                let q = match t.recipe.quant.written_directly() {
                    true => None,
                    false => Some(quantizer()?),
                };
                out.push(Some(
                    super::remote_synth::make(engine, there, t, q.as_ref()).await?,
                ));
            }
        }
    }
    Ok(out)
}

/// The image llama-quantize runs in: the plan's first source's, its CPU one
/// where there is one, with its backend's passthrough.
fn quantizer_of<'a>(
    plan: &Plan,
    images: &'a [ImageRecord],
    passthroughs: &'a BTreeMap<Backend, Passthrough>,
) -> anyhow::Result<Quantizer<'a>> {
    let first = plan.sources.first().map(|s| s.name.as_str());
    let image = images
        .iter()
        .filter(|i| Some(i.source.as_str()) == first)
        .min_by_key(|i| i.backend.is_gpu())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "no image of the plan's llama.cpp source was built to run llama-quantize in"
            )
        })?;
    Ok(Quantizer {
        passthrough: passthroughs.get(&image.backend),
        ..image.quantizer()
    })
}

/// Each obtained model's record: its file, hash and GGUF header facts (and a
/// synthetic one's recipe and making); the unused ones have none.
pub async fn model_records(
    plan: &Plan,
    fetched: &[Option<FetchedModel>],
) -> anyhow::Result<Vec<ModelRecord>> {
    let mut records = Vec::new();
    for (m, f) in plan.models.iter().zip(fetched) {
        let Some(f) = f else { continue };
        let paths: Vec<std::path::PathBuf> = f.files().files.into_iter().map(|(p, _)| p).collect();
        let gguf = match &f.there {
            // Read where it was made.
            Some(t) => t.gguf.clone(),
            None => tokio::task::spawn_blocking(move || match paths.as_slice() {
                [one] => crate::gguf::read_facts(one),
                shards => {
                    let refs: Vec<&Path> = shards.iter().map(|p| p.as_path()).collect();
                    crate::gguf::split::read_split_facts(&refs)
                }
            })
            .await
            .context("reading the GGUF header")??,
        };
        log::info!(
            "model {}: {} ({} bytes, {} {}, sha256 {} {} in {:.2} s)",
            m.name,
            f.path.display(),
            f.size_bytes,
            gguf.architecture.as_deref().unwrap_or("?"),
            gguf.file_type_name.as_deref().unwrap_or("?"),
            &f.sha256[..16],
            match f.verification.hash_origin {
                crate::hash::HashOrigin::Cached => "from the hash cache",
                crate::hash::HashOrigin::Computed => "hashed",
            },
            f.verification.hash_seconds
        );
        if let Some(expected) = m.size_bytes {
            if expected != f.size_bytes {
                anyhow::bail!(
                    "model {}: {} has {} bytes, the plan says {expected}",
                    m.name,
                    f.source.describe(),
                    f.size_bytes
                );
            }
        }
        records.push(ModelRecord {
            name: m.name.clone(),
            file: m.file.clone(),
            size_bytes: f.size_bytes,
            sha256: f.sha256.clone(),
            sha256_pinned: f.verification.pinned,
            source: f.source.clone(),
            hash_seconds: f.verification.hash_seconds,
            hash_origin: f.verification.hash_origin,
            gguf,
            shards: f
                .shards
                .iter()
                .map(|s| ShardRecord {
                    file: s.file.clone(),
                    size_bytes: s.size_bytes,
                    sha256: s.sha256.clone(),
                    source: s.source.clone(),
                })
                .collect(),
            synthetic: f.synthetic.clone(),
        });
    }
    Ok(records)
}

/// On another host's engine: the backends' shared shader cache is a named
/// volume there (`SHADER_CACHE_VOLUME`, made by the engine at first use),
/// as the cache's folder is here.
pub fn shader_volumes(passthroughs: &mut BTreeMap<Backend, Passthrough>) {
    for (b, p) in passthroughs.iter_mut() {
        if crate::host::devices::uses_mesa_shader_cache(*b) {
            p.shader_cache = Some(SHADER_CACHE_VOLUME.to_string());
        }
    }
}

/// The shader cache's volume on another host.
pub const SHADER_CACHE_VOLUME: &str = "rigbench-shader-cache";

/// Gives the backends whose driver keeps Mesa's shader cache the shared one
/// under the cache directory (created here).
pub fn shader_caches(
    passthroughs: &mut BTreeMap<Backend, Passthrough>,
    cache: &crate::cache::Cache,
) -> anyhow::Result<()> {
    let dir = cache.shader_cache();
    let users: Vec<&mut Passthrough> = passthroughs
        .iter_mut()
        .filter(|(b, _)| crate::host::devices::uses_mesa_shader_cache(**b))
        .map(|(_, p)| p)
        .collect();
    if !users.is_empty() {
        std::fs::create_dir_all(&dir).map_err(|e| {
            anyhow::anyhow!("cannot create the shader cache {}: {e}", dir.display())
        })?;
    }
    for p in users {
        p.shader_cache = Some(dir.display().to_string());
    }
    Ok(())
}

/// Builds or reuses the image of each backend from each source (`fetched` in the
/// order of `plan.sources`).
pub async fn images<E: Engine>(
    engine: &E,
    plan: &Plan,
    backends: &[(&ImagePlan, &Passthrough)],
    fetched: &[FetchedSource],
    place: &crate::image::BuildPlace<'_>,
) -> anyhow::Result<Vec<ImageRecord>> {
    let mut out = Vec::new();
    for (image, pass) in backends {
        for (src, source) in plan.sources.iter().zip(fetched) {
            let rec = crate::image::ensure(engine, image, src, source, place, pass).await?;
            log::info!(
                "image {} ({}): {} {} ({} in {:.1} s); {}",
                rec.backend,
                rec.source,
                rec.tag,
                &rec.image_id[..rec.image_id.len().min(19)],
                if rec.built_now { "built" } else { "reused" },
                rec.build_seconds,
                rec.llama_cpp.version_line()
            );
            out.push(rec);
        }
    }
    Ok(out)
}
