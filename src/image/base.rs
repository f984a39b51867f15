//! Which base image a Containerfile is built on. `auto` takes the backend's first
//! candidate the engine has, or else the first it can pull: the pinned registry
//! image, then (for CPU and Vulkan) the local Debian base that `scripts/setup.sh`
//! makes with debootstrap where no registry answers.

use crate::backend::{Backend, BaseOrigin};
use crate::engine::{Engine, EngineError};
use crate::manifest::BaseImage;
use crate::plan::AutoOr;

#[derive(Debug, thiserror::Error)]
pub enum BaseError {
    #[error(
        "no base image for the {backend} build: the engine has none of {candidates}, and pulling failed ({pull}).\nRun scripts/setup.sh (it builds the local Debian base where no registry answers), or name a base_image for {backend} in the plan."
    )]
    NoAuto {
        backend: String,
        candidates: String,
        pull: String,
    },
    #[error(
        "base image {reference} (from the plan) is not in the engine and could not be pulled: {pull}"
    )]
    Missing { reference: String, pull: String },
    #[error(transparent)]
    Engine(#[from] EngineError),
}

async fn present<E: Engine>(
    engine: &E,
    reference: &str,
    origin: BaseOrigin,
) -> Result<Option<BaseImage>, EngineError> {
    Ok(engine.image(reference).await?.map(|img| BaseImage {
        reference: reference.to_string(),
        image_id: img.id,
        digest: img.repo_digests.into_iter().next(),
        origin,
    }))
}

/// Resolves the plan's `base_image` (`auto` or a reference) to an image the engine has.
pub async fn resolve<E: Engine>(
    engine: &E,
    backend: Backend,
    choice: &AutoOr<String>,
) -> Result<BaseImage, BaseError> {
    if let AutoOr::Value(choice) = choice {
        let choice = choice.as_str();
        if let Some(b) = present(engine, choice, BaseOrigin::Plan).await? {
            return Ok(b);
        }
        return match engine.pull(choice).await {
            Ok(()) => present(engine, choice, BaseOrigin::Plan)
                .await?
                .ok_or_else(|| BaseError::Missing {
                    reference: choice.to_string(),
                    pull: "the pull succeeded but the image is not there".to_string(),
                }),
            Err(e) => Err(BaseError::Missing {
                reference: choice.to_string(),
                pull: e.to_string(),
            }),
        };
    }
    let candidates = backend.base_candidates();
    for (reference, origin) in candidates {
        if let Some(b) = present(engine, reference, *origin).await? {
            return Ok(b);
        }
    }
    let mut pull_errors = Vec::new();
    for (reference, origin) in candidates {
        // Only registry images can be pulled; local ones are made by setup.
        if reference.starts_with("localhost/") {
            continue;
        }
        match engine.pull(reference).await {
            Ok(()) => {
                if let Some(b) = present(engine, reference, *origin).await? {
                    return Ok(b);
                }
            }
            Err(e) => pull_errors.push(e.to_string()),
        }
    }
    Err(BaseError::NoAuto {
        backend: backend.name().to_string(),
        candidates: candidates
            .iter()
            .map(|(r, _)| *r)
            .collect::<Vec<_>>()
            .join(", "),
        pull: pull_errors.join("; "),
    })
}

#[cfg(test)]
mod tests {
    use crate::backend::{Backend, LOCAL_CUDA, LOCAL_DEBIAN, LOCAL_VULKAN, PINNED_DEBIAN};

    #[test]
    fn setup_script_makes_and_pulls_the_bases_rigbench_looks_for() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let setup = std::fs::read_to_string(root.join("scripts/setup.sh")).unwrap();
        assert!(setup.contains(&format!("PINNED_BASE=\"{PINNED_DEBIAN}\"")));
        assert!(setup.contains(&format!("LOCAL_BASE=\"{LOCAL_DEBIAN}\"")));
    }

    #[test]
    fn offline_scripts_make_the_local_bases_rigbench_looks_for() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let read = |f: &str| std::fs::read_to_string(root.join("scripts/offline").join(f)).unwrap();
        assert!(
            read("cuda-base.sh").contains(&format!("tag=${{RIGBENCH_CUDA_BASE:-{LOCAL_CUDA}}}"))
        );
        let vulkan = read("vulkan-base.sh");
        assert!(vulkan.contains(&format!("tag=${{RIGBENCH_VULKAN_BASE:-{LOCAL_VULKAN}}}")));
        assert!(vulkan.contains(&format!("from=${{RIGBENCH_VULKAN_FROM:-{LOCAL_CUDA}}}")));
        for b in [Backend::Cuda, Backend::Vulkan] {
            let local = if b == Backend::Cuda {
                LOCAL_CUDA
            } else {
                LOCAL_VULKAN
            };
            assert!(
                b.base_candidates()
                    .iter()
                    .any(|(r, o)| *r == local && *o == crate::backend::BaseOrigin::Local),
                "{} does not look for {local}",
                b.name()
            );
        }
    }
}
