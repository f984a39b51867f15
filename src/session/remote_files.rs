//! Files on another host: a model reaches it as a named volume there
//! (`rigbench-model-SHA16`, labelled with its sha256), filled through the API
//! (`Engine::upload_file`, streamed) and checked there by rigbench's own
//! sha256 (`session::host_probe`'s way of running rigbench on that host). A
//! volume already holding the file with that sha256 is used as it is; one
//! whose file differs is filled again; one that still differs after is
//! removed, and the error names both hashes.

use std::collections::BTreeMap;
use std::path::Path;

use super::host_probe::{self, Job, ProbeError};
use crate::engine::{Bind, ContainerSpec, Engine, LABEL_MANAGED, LABEL_ROLE};

/// The label holding a model volume's sha256.
pub const LABEL_SHA256: &str = "io.rigbench.sha256";
/// Where a model volume is mounted, here as in a server's container.
const MOUNT: &str = "/models";

#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    #[error(transparent)]
    Probe(#[from] ProbeError),
    #[error(transparent)]
    Engine(#[from] crate::engine::EngineError),
    #[error(
        "{file} on {engine} (volume {volume}) has sha256 {found}, not {want}: the copy through the API is not the file; the volume is removed, run again to copy it anew"
    )]
    Mismatch {
        file: String,
        engine: String,
        volume: String,
        want: String,
        found: String,
    },
}

/// The volume a model of sha256 `sha256` goes into.
pub fn model_volume_name(sha256: &str) -> String {
    format!("rigbench-model-{}", &sha256[..sha256.len().min(16)])
}

/// How a model got into its volume.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placed {
    /// It was there already, its sha256 checked.
    Found,
    /// Copied through the API, its sha256 checked there.
    Copied,
}

/// The volume on the engine's host (`engine_name` in errors) holding `model`
/// (here) as `file_name`, whose sha256 is `sha256`; `binary` is this rigbench.
pub async fn model_volume<E: Engine>(
    engine: &E,
    engine_name: &str,
    model: &Path,
    file_name: &str,
    sha256: &str,
    binary: &Path,
) -> Result<(String, Placed), FilesError> {
    let volume = model_volume_name(sha256);
    let labels = BTreeMap::from([
        (LABEL_MANAGED.to_string(), "true".to_string()),
        (LABEL_ROLE.to_string(), "model".to_string()),
        (LABEL_SHA256.to_string(), sha256.to_string()),
    ]);
    engine.create_volume(&volume, &labels).await?;
    let image = host_probe::ensure_image(engine).await?;
    if sha_there(engine, &image, binary, &volume, file_name)
        .await?
        .as_deref()
        == Some(sha256)
    {
        return Ok((volume, Placed::Found));
    }
    // Into the volume through a container that is never started.
    let spec = ContainerSpec {
        name: format!("rigbench-model-copy-{}", crate::engine::unique_suffix()),
        image: image.clone(),
        entrypoint: Some(vec!["/none".to_string()]),
        binds: vec![Bind {
            host: volume.clone().into(),
            container: MOUNT.to_string(),
            read_only: false,
            relabel: true,
        }],
        labels: BTreeMap::from([
            (LABEL_MANAGED.to_string(), "true".to_string()),
            (LABEL_ROLE.to_string(), "model-copy".to_string()),
        ]),
        ..ContainerSpec::default()
    };
    let id = engine.create(&spec).await?;
    let copied = engine
        .upload_file(&id, MOUNT, file_name, model, 0o644)
        .await;
    let _ = engine.remove(&id).await;
    copied?;
    let found = sha_there(engine, &image, binary, &volume, file_name).await?;
    if found.as_deref() == Some(sha256) {
        return Ok((volume, Placed::Copied));
    }
    let _ = engine.remove_volume(&volume).await;
    Err(FilesError::Mismatch {
        file: file_name.to_string(),
        engine: engine_name.to_string(),
        volume,
        want: sha256.to_string(),
        found: found
            .unwrap_or_else(|| "none (the file is not there or could not be read)".to_string()),
    })
}

/// The sha256 of `file_name` in `volume`, computed on its host; `None` where
/// the file is not there.
async fn sha_there<E: Engine>(
    engine: &E,
    image: &str,
    binary: &Path,
    volume: &str,
    file_name: &str,
) -> Result<Option<String>, FilesError> {
    let path = format!("{MOUNT}/{file_name}");
    let job = Job {
        role: "model-check",
        args: &["sha256", &path],
        binds: vec![Bind {
            host: volume.into(),
            container: MOUNT.to_string(),
            read_only: true,
            relabel: true,
        }],
        env: BTreeMap::new(),
        uts_host: false,
    };
    let there = host_probe::rigbench_there(engine, image, binary, job).await?;
    let hex = String::from_utf8_lossy(&there.stdout).trim().to_string();
    Ok((there.code == 0 && hex.len() == 64).then_some(hex))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_file_that_cannot_be_checked_there_is_an_error_and_its_volume_goes() {
        use crate::fake::engine::FakeEngine;
        let engine = FakeEngine::default();
        engine
            .images
            .lock()
            .unwrap()
            .push(crate::engine::ImageFacts {
                id: "sha256:00".into(),
                repo_digests: vec![],
                tags: vec![host_probe::PROBE_IMAGE.to_string()],
                labels: BTreeMap::new(),
                created: None,
                size_bytes: None,
            });
        let dir = tempfile::tempdir().unwrap();
        let model = dir.path().join("m.gguf");
        std::fs::write(&model, b"GGUF").unwrap();
        let sha = crate::hash::sha256_hex(b"GGUF");
        // The fake's containers print no sha256: neither before nor after the copy.
        let err = model_volume(&engine, "ssh://gpu/sock", &model, "m.gguf", &sha, &model)
            .await
            .unwrap_err()
            .to_string();
        let volume = model_volume_name(&sha);
        assert_eq!(
            err,
            format!(
                "m.gguf on ssh://gpu/sock (volume {volume}) has sha256 none (the file is not there or could not be read), not {sha}: the copy through the API is not the file; the volume is removed, run again to copy it anew"
            )
        );
        assert!(engine.volumes.lock().unwrap().is_empty());
        // The file went into the volume's mount, whole, by a container never started.
        let uploads = engine.uploads.lock().unwrap();
        let copy = uploads.iter().find(|u| u.path == "/models/m.gguf").unwrap();
        assert_eq!(copy.bytes, b"GGUF");
        let specs = engine.specs.lock().unwrap();
        let copier = specs
            .iter()
            .find(|s| s.name.starts_with("rigbench-model-copy-"))
            .unwrap();
        assert_eq!(copier.binds[0].host, std::path::PathBuf::from(&volume));
        assert_eq!(engine.live_containers(), 0);
    }

    #[test]
    fn a_model_volume_is_named_by_its_sha256() {
        let sha = "366bbe3b59d1f206920a8648e2be1085c179471d533449603873fd5e79b22e3a";
        assert_eq!(model_volume_name(sha), "rigbench-model-366bbe3b59d1f206");
    }
}
