//! Files on another host: a model reaches it as a named volume there
//! (`rigbench-model-SHA16` after its first file's sha256, labelled with it;
//! a split model's shards side by side in it), each file streamed through
//! the API (`Engine::upload_file`) and checked there by rigbench's own sha256
//! (`session::host_probe`'s way of running rigbench on that host). A file
//! already there with its sha256 is not copied again; one that still differs
//! after the copy makes an error naming both hashes, and a volume this call
//! made is removed again on any error (no partial model is left).

use std::collections::BTreeMap;
use std::path::Path;

use super::host_probe::{self, Job, ProbeError};
use crate::engine::{Bind, Engine, LABEL_MANAGED, LABEL_ROLE};

/// The label holding a model volume's sha256.
pub use crate::engine::LABEL_SHA256;
/// Where a model volume is mounted, here as in a server's container.
pub const MOUNT: &str = "/models";
/// `rigbench sha256`'s exit code for a file that is not there.
pub const NOT_THERE: u8 = 3;

#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    #[error(transparent)]
    Probe(#[from] ProbeError),
    #[error(transparent)]
    Engine(#[from] crate::engine::EngineError),
    #[error(
        "{file} on {engine} (volume {volume}) has sha256 {found}, not {want}: the copy through the API is not the file; {removed}"
    )]
    Mismatch {
        file: String,
        engine: String,
        volume: String,
        want: String,
        found: String,
        /// What became of the volume.
        removed: String,
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

impl Placed {
    /// As rigbench's lines say it.
    pub fn said(self) -> &'static str {
        match self {
            Placed::Found => "already there",
            Placed::Copied => "copied through the API",
        }
    }
}

/// The fetched model `f`, a split model's shards too, in its volume on the
/// engine's host (`model_volume`).
pub async fn fetched_model_volume<E: Engine>(
    engine: &E,
    engine_name: &str,
    f: &crate::fetch::FetchedModel,
    binary: &Path,
) -> Result<(String, Placed), FilesError> {
    let files: Vec<ModelFile> = std::iter::once(f)
        .chain(&f.shards)
        .map(|s| ModelFile {
            path: &s.path,
            name: &s.file,
            sha256: &s.sha256,
        })
        .collect();
    model_volume(engine, engine_name, &files, binary).await
}

/// A file of a model: here, its name in the volume, its sha256.
pub struct ModelFile<'a> {
    pub path: &'a Path,
    pub name: &'a str,
    pub sha256: &'a str,
}

/// The volume on the engine's host (`engine_name` in errors) holding the
/// model's `files` (a split model's shards in order; the first names the
/// volume); `binary` is this rigbench. Says whether anything was copied.
pub async fn model_volume<E: Engine>(
    engine: &E,
    engine_name: &str,
    files: &[ModelFile<'_>],
    binary: &Path,
) -> Result<(String, Placed), FilesError> {
    let first = files.first().map_or("", |f| f.sha256);
    let volume = model_volume_name(first);
    let labels = BTreeMap::from([
        (LABEL_MANAGED.to_string(), "true".to_string()),
        (LABEL_ROLE.to_string(), "model".to_string()),
        (LABEL_SHA256.to_string(), first.to_string()),
    ]);
    let created = engine.create_volume(&volume, &labels).await?;
    let image = match host_probe::ensure_image(engine).await {
        Ok(i) => i,
        Err(e) => {
            if created {
                let _ = engine.remove_volume(&volume).await;
            }
            return Err(e.into());
        }
    };
    let there = Where {
        engine: engine_name,
        volume: &volume,
        image: &image,
        binary,
    };
    let mut placed = Placed::Found;
    let mut result = Ok(());
    for f in files {
        match put(engine, &there, f).await {
            Ok(Placed::Found) => {}
            Ok(Placed::Copied) => placed = Placed::Copied,
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    match result {
        Ok(()) => Ok((volume, placed)),
        Err(mut e) => {
            // A volume this call made holds no model now: it goes.
            let removed = match created {
                false => "the volume was there before and is kept".to_string(),
                true => match engine.remove_volume(&volume).await {
                    Ok(()) => "the volume is removed: run again to copy it anew".to_string(),
                    Err(r) => format!(
                        "removing the volume failed too ({r}): remove it there with `podman volume rm {volume}`"
                    ),
                },
            };
            if let FilesError::Mismatch { removed: r, .. } = &mut e {
                *r = removed;
            }
            Err(e)
        }
    }
}

/// The engine's host, the volume, the image and this rigbench, for each
/// file's copy and check.
struct Where<'a> {
    engine: &'a str,
    volume: &'a str,
    /// The probe's image there.
    image: &'a str,
    binary: &'a Path,
}

/// `f` in the volume: found there with its sha256, or copied and checked.
async fn put<E: Engine>(
    engine: &E,
    there: &Where<'_>,
    f: &ModelFile<'_>,
) -> Result<Placed, FilesError> {
    if sha_there(engine, there, f.name).await?.as_deref() == Some(f.sha256) {
        return Ok(Placed::Found);
    }
    host_probe::upload_into(engine, there.image, there.volume, (f.path, f.name), 0o644).await?;
    let found = sha_there(engine, there, f.name).await?;
    if found.as_deref() == Some(f.sha256) {
        return Ok(Placed::Copied);
    }
    Err(FilesError::Mismatch {
        file: f.name.to_string(),
        engine: there.engine.to_string(),
        volume: there.volume.to_string(),
        want: f.sha256.to_string(),
        found: found.unwrap_or_else(|| "none (the file is not there)".to_string()),
        removed: String::new(),
    })
}

/// The model volume mounted at /models.
pub fn volume_bind(volume: &str, read_only: bool) -> Bind {
    Bind {
        host: volume.into(),
        container: MOUNT.to_string(),
        read_only,
        relabel: true,
        recursive: true,
    }
}

/// The sha256 of `file_name` in the volume, computed on its host; `None`
/// where the file is not there. rigbench failing there otherwise is an error
/// with what it said (before any copy: it would fail after one too).
async fn sha_there<E: Engine>(
    engine: &E,
    there: &Where<'_>,
    file_name: &str,
) -> Result<Option<String>, FilesError> {
    let path = format!("{MOUNT}/{file_name}");
    let args = ["sha256", path.as_str()];
    let job = Job {
        binds: vec![volume_bind(there.volume, true)],
        ..Job::new("model-check", &args)
    };
    let out = host_probe::rigbench_there(engine, there.image, there.binary, job).await?;
    let hex = String::from_utf8_lossy(&out.stdout).trim().to_string();
    match out.code {
        0 if hex.len() == 64 => Ok(Some(hex)),
        c if c == i64::from(NOT_THERE) => Ok(None),
        code => Err(ProbeError::Failed {
            image: there.image.to_string(),
            engine: there.engine.to_string(),
            code,
            output: out.output,
        }
        .into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_file_that_cannot_be_checked_there_is_an_error_and_its_volume_goes() {
        use crate::fake::engine::FakeEngine;
        let engine = FakeEngine::default();
        engine.add_image(host_probe::PROBE_IMAGE);
        let dir = tempfile::tempdir().unwrap();
        let model = dir.path().join("m.gguf");
        std::fs::write(&model, b"GGUF").unwrap();
        let sha = crate::hash::sha256_hex(b"GGUF");
        // The fake's containers print no sha256 and exit 0: rigbench there
        // failing, said with its code, before any copy; the volume made goes.
        let files = [ModelFile {
            path: &model,
            name: "m.gguf",
            sha256: &sha,
        }];
        let err = model_volume(&engine, "ssh://gpu/sock", &files, &model)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("the host probe (localhost/rigbench/host-probe:scratch) on ssh://gpu/sock exited with 0"),
            "{err}"
        );
        assert!(
            (engine.volumes.lock().unwrap().keys()).all(|v| v.starts_with("rigbench-bin-")),
            "the model's volume went"
        );
        let uploads = engine.uploads.lock().unwrap();
        assert!(
            uploads.iter().all(|u| u.path == "/into/rigbench"),
            "only rigbench went in, the model was not copied"
        );
        assert_eq!(engine.live_containers(), 0);
    }

    #[test]
    fn a_model_volume_is_named_by_its_sha256() {
        let sha = "366bbe3b59d1f206920a8648e2be1085c179471d533449603873fd5e79b22e3a";
        assert_eq!(model_volume_name(sha), "rigbench-model-366bbe3b59d1f206");
    }
}
