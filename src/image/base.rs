//! Which base image a Containerfile is built on. `auto` takes the pinned Debian
//! image when the engine has it (or can pull it), else the local one that
//! `scripts/setup.sh` makes with debootstrap where no registry answers.

use crate::engine::{Engine, EngineError};
use crate::manifest::BaseImage;

/// Debian trixie slim, pinned by digest (the 2026-08-24 rebuild of the index).
/// Keep in sync with Containerfile.cpu and scripts/setup.sh.
pub const PINNED_DEBIAN: &str =
    "debian:trixie-slim@sha256:d7e12182ce18b85b93007c1dedf31f2d29e01ccf3182cc4017c709b6259bc132";
/// The base scripts/setup.sh builds from apt's own mirror when no registry answers.
pub const LOCAL_DEBIAN: &str = "localhost/rigbench/debian:trixie";

#[derive(Debug, thiserror::Error)]
pub enum BaseError {
    #[error(
        "no base image for the build: the engine has neither {PINNED_DEBIAN} nor {LOCAL_DEBIAN}, and pulling the first failed ({pull}).\nRun scripts/setup.sh (it builds {LOCAL_DEBIAN} where no registry answers), or name a base_image in the plan."
    )]
    NoAuto { pull: String },
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
    origin: &str,
) -> Result<Option<BaseImage>, EngineError> {
    Ok(engine.image(reference).await?.map(|img| BaseImage {
        reference: reference.to_string(),
        image_id: img.id,
        digest: img.repo_digests.into_iter().next(),
        origin: origin.to_string(),
    }))
}

/// Resolves the plan's `base_image` (`auto` or a reference) to an image the engine has.
pub async fn resolve<E: Engine>(engine: &E, choice: &str) -> Result<BaseImage, BaseError> {
    if choice != "auto" {
        if let Some(b) = present(engine, choice, "plan").await? {
            return Ok(b);
        }
        return match engine.pull(choice).await {
            Ok(()) => present(engine, choice, "plan")
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
    if let Some(b) = present(engine, PINNED_DEBIAN, "pinned").await? {
        return Ok(b);
    }
    if let Some(b) = present(engine, LOCAL_DEBIAN, "local").await? {
        return Ok(b);
    }
    match engine.pull(PINNED_DEBIAN).await {
        Ok(()) => present(engine, PINNED_DEBIAN, "pinned")
            .await?
            .ok_or_else(|| BaseError::NoAuto {
                pull: "the pull succeeded but the image is not there".to_string(),
            }),
        Err(e) => Err(BaseError::NoAuto {
            pull: e.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pinned_base_matches_the_containerfile_default_and_setup_script() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let cf = std::fs::read_to_string(root.join("Containerfile.cpu")).unwrap();
        assert!(cf.contains(&format!("ARG BASE_IMAGE={PINNED_DEBIAN}")));
        let setup = std::fs::read_to_string(root.join("scripts/setup.sh")).unwrap();
        assert!(setup.contains(&format!("PINNED_BASE=\"{PINNED_DEBIAN}\"")));
        assert!(setup.contains(&format!("LOCAL_BASE=\"{LOCAL_DEBIAN}\"")));
    }
}
