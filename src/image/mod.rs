//! Backend images: resolve the base, hash every build input (`inputs`), reuse
//! an image whose inputs label matches or build one from a context rigbench
//! assembles (`build`), then read back what the image holds (`read`: build
//! info, `llama-server --version`, devices) for the manifest.

pub mod base;
mod build;
pub mod context;
pub mod inputs;
pub mod probe;
mod read;
pub mod replaced;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use crate::cache::Cache;
use crate::engine::{Engine, EngineError, LABEL_INPUTS};
use crate::fetch::FetchedSource;
use crate::host::devices::Passthrough;
use crate::manifest::{ImageRecord, LlamaCpp};
use crate::plan::Source;
use crate::plan::images::ImagePlan;

pub use crate::backend::{COMPILER_CACHE_ARG, MANAGED_BUILD_ARGS};

/// How `ensure` has an image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rebuild {
    /// Reuse an image with the same inputs, else build it (layers and compiled
    /// objects from the caches where they match).
    No,
    /// Build again with no cached layer and every object compiled anew: what a
    /// rerun needs to show that the recorded inputs give the same binaries.
    Clean,
    /// Build again with no cached layer, but objects from the compiler cache
    /// where their inputs match (`rerun --compiler-cache`): the binaries are
    /// linked anew from objects compiled earlier on this machine.
    FromCompilerCache,
}

impl Rebuild {
    fn no_cache(self) -> bool {
        self != Rebuild::No
    }

    fn compiler_cache(self) -> &'static str {
        match self {
            Rebuild::No | Rebuild::FromCompilerCache => "1",
            Rebuild::Clean => "0",
        }
    }
}

/// The build arguments a build is asked with: the recorded ones (the inputs)
/// and whether it may compile through the compiler cache.
fn request_build_args(
    recorded: &BTreeMap<String, String>,
    rebuild: Rebuild,
) -> BTreeMap<String, String> {
    let mut args = recorded.clone();
    args.insert(
        COMPILER_CACHE_ARG.to_string(),
        rebuild.compiler_cache().to_string(),
    );
    args
}

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error(transparent)]
    Base(#[from] base::BaseError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("{backend} image: {message}")]
    Other {
        backend: crate::backend::Backend,
        message: String,
    },
}

/// Builds (or reuses) the image for one backend and reads its facts.
/// Where and how images are built.
pub struct BuildPlace<'a> {
    pub cache: &'a Cache,
    /// Build logs go here.
    pub logs: &'a Path,
    /// Whether to build even when an image with the same inputs exists.
    pub rebuild: Rebuild,
}

pub async fn ensure<E: Engine>(
    engine: &E,
    image: &ImagePlan,
    plan_source: &Source,
    source: &FetchedSource,
    place: &BuildPlace<'_>,
    passthrough: &Passthrough,
) -> Result<ImageRecord, ImageError> {
    let backend = image.backend;
    let other = |message: String| ImageError::Other { backend, message };
    let started = Instant::now();
    let base = base::resolve(engine, backend, &image.base_image).await?;
    let inputs = inputs::of(image, plan_source, source, &base);
    let tag = inputs.tag.clone();
    let existing = engine.image(&tag).await?;
    let reusable = existing
        .as_ref()
        .is_some_and(|img| img.labels.get(LABEL_INPUTS) == Some(&inputs.inputs_sha256));
    let built_now = !reusable || place.rebuild.no_cache();
    if built_now {
        build::build(engine, backend, plan_source, source, place, &inputs).await?;
    } else {
        log::info!("reusing {tag} (same build inputs)");
    }
    let facts = engine
        .image(&tag)
        .await?
        .ok_or_else(|| other(format!("{tag} vanished after the build")))?;
    if built_now {
        let tidied = replaced::tidy(engine, existing.as_ref(), &facts.id).await;
        if let Some(note) = tidied.note(&tag) {
            log::info!("{note}");
        }
    }
    let held = read::held(engine, backend, &facts.id, &tag, passthrough).await?;
    for n in held.build_notes() {
        log::info!("{tag}: build note: {n}");
    }
    Ok(ImageRecord {
        backend,
        source: plan_source.name.clone(),
        tag,
        image_id: facts.id,
        containerfile: backend.containerfile().to_string(),
        containerfile_sha256: inputs.containerfile_sha256,
        build_args: inputs.build_args,
        base_image: base,
        llama_cpp: LlamaCpp {
            commit: plan_source.commit.clone(),
            build_number: plan_source.build_number,
            source_sha256: source.sha256.clone(),
            source_pinned: source.verification.pinned,
            source_archive: source.archive.clone(),
            source_dir: source.dir.clone(),
            version_output: held.version_output.clone(),
        },
        toolchain: held.toolchain(),
        binaries_sha256: held.binaries_sha256(),
        inputs_sha256: inputs.inputs_sha256,
        built_now,
        build_seconds: started.elapsed().as_secs_f64(),
        build_info: held.build_info,
        runtime_info: held.runtime_info,
        devices: held.devices,
        device_probe: held.device_probe,
        llama_devices: held.llama_devices,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_clean_rebuild_compiles_every_object_anew() {
        let recorded = BTreeMap::from([("GGML_NATIVE".to_string(), "ON".to_string())]);
        let arg = |r: Rebuild| request_build_args(&recorded, r)[COMPILER_CACHE_ARG].clone();
        assert_eq!(arg(Rebuild::Clean), "0");
        assert_eq!(arg(Rebuild::No), "1");
        assert_eq!(arg(Rebuild::FromCompilerCache), "1");
        // Every rebuild skips the layer cache; only `No` may reuse an image.
        assert!(!Rebuild::No.no_cache());
        assert!(Rebuild::Clean.no_cache() && Rebuild::FromCompilerCache.no_cache());
        // The recorded arguments are passed on unchanged.
        assert_eq!(
            request_build_args(&recorded, Rebuild::No)["GGML_NATIVE"],
            "ON"
        );
        assert_eq!(request_build_args(&recorded, Rebuild::No).len(), 2);
        // A plan cannot set it: rigbench manages it.
        assert!(MANAGED_BUILD_ARGS.contains(&COMPILER_CACHE_ARG));
    }
}
