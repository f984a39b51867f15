//! Another host's view, read on that host: a short-lived container with that
//! host's `/` bound read-only at /host and this rigbench copied in through the
//! API runs `rigbench host-view --root /host` (the readers that read this
//! machine, on that host's files) in the host's UTS namespace (its hostname),
//! and prints the `HostView` read back here. Its image is empty (`FROM
//! scratch`, built there through the API in a moment, no registry needed):
//! rigbench runs on the host's own C library, its /usr, /lib and /lib64 bound
//! read-only where they are, as if installed there. The passthrough variables
//! are given this machine's values, as they would be to a run here.

use std::collections::BTreeMap;
use std::path::Path;

use crate::engine::{Bind, ContainerSpec, Engine, EngineError, LABEL_MANAGED, LABEL_ROLE};
use crate::host::view::{HostView, passthrough_env_names};

/// Where the probe container sees the host's `/`.
pub const PROBE_ROOT: &str = "/host";
/// The name rigbench has inside the probe container (at its `/`).
const PROBE_BIN: &str = "rigbench-host-view";

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("cannot make the host probe's image: {0}")]
    Image(String),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(
        "the host probe ({image}) on {engine} exited with {code}{hint}: {output}",
        hint = if *code == 126 || *code == 127 || output.contains("exec format error") {
            " (is that host's CPU this one's, and its C library glibc 2.34 or newer?)"
        } else {
            ""
        }
    )]
    Failed {
        image: String,
        engine: String,
        code: i64,
        output: String,
    },
    #[error(
        "the host probe ({image}) on {engine} printed what is not a host view ({message}): {output}"
    )]
    Unreadable {
        image: String,
        engine: String,
        message: String,
        output: String,
    },
}

/// The probe's image, empty: made on the engine's host when it lacks it.
pub const PROBE_IMAGE: &str = "localhost/rigbench/host-probe:scratch";
/// Where the host's C library and loader are found, bound at the same paths.
const HOST_LIBRARY_DIRS: &[&str] = &["/usr", "/lib", "/lib64"];

/// A host folder bound read-only at `container`, never relabelled; with the
/// mounts below it where `recursive`.
pub fn host_bind(host: &str, container: &str, recursive: bool) -> Bind {
    Bind {
        host: host.into(),
        container: container.to_string(),
        read_only: true,
        relabel: false,
        recursive,
    }
}

/// `PROBE_IMAGE` on the engine's host, built there (from nothing) if missing.
pub async fn ensure_image<E: Engine>(engine: &E) -> Result<String, ProbeError> {
    if engine.image(PROBE_IMAGE).await?.is_none() {
        let fail = |e: std::io::Error| ProbeError::Image(format!("its build context: {e}"));
        let dir = tempfile::tempdir().map_err(fail)?;
        let context = dir.path().join("context.tar");
        let mut tar = tar::Builder::new(std::fs::File::create(&context).map_err(fail)?);
        let text = b"FROM scratch\n";
        let mut header = tar::Header::new_gnu();
        header.set_size(text.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, "Containerfile", &text[..])
            .map_err(fail)?;
        tar.finish().map_err(fail)?;
        let req = crate::engine::BuildRequest {
            context_tar: context,
            containerfile: "Containerfile".to_string(),
            tag: PROBE_IMAGE.to_string(),
            build_args: BTreeMap::new(),
            labels: BTreeMap::from([
                (LABEL_MANAGED.to_string(), "true".to_string()),
                (LABEL_ROLE.to_string(), "host-probe".to_string()),
            ]),
            target: None,
            log: dir.path().join("build.log"),
            no_cache: false,
        };
        engine.build(&req, &|_| {}).await?;
    }
    Ok(PROBE_IMAGE.to_string())
}

/// What rigbench run on the engine's host printed.
pub struct There {
    pub code: i64,
    pub stdout: Vec<u8>,
    /// stdout and stderr, trimmed.
    pub output: String,
}

/// What rigbench is to do on the engine's host.
pub struct Job<'a> {
    /// Labels the container and names it.
    pub role: &'a str,
    pub args: &'a [&'a str],
    /// Besides the host's C library, which every job gets.
    pub binds: Vec<Bind>,
    pub env: BTreeMap<String, String>,
    /// In the host's UTS namespace (its hostname).
    pub uts_host: bool,
    /// Device nodes passed in, and their groups (NVML's, for telemetry).
    pub devices: Vec<String>,
    pub group_add: Vec<String>,
    /// Besides the managed and role labels (the run's, say).
    pub labels: BTreeMap<String, String>,
    /// Files from here put at the container's `/` before it starts (a
    /// file here, its name there).
    pub uploads: Vec<(std::path::PathBuf, String)>,
}

impl<'a> Job<'a> {
    /// `args` in a container of its own role, with nothing else.
    pub fn new(role: &'a str, args: &'a [&'a str]) -> Job<'a> {
        Job {
            role,
            args,
            binds: Vec::new(),
            env: BTreeMap::new(),
            uts_host: false,
            devices: Vec::new(),
            group_add: Vec::new(),
            labels: BTreeMap::new(),
            uploads: Vec::new(),
        }
    }
}

/// Runs `job` with the rigbench at `binary` (this one's executable, copied
/// in) on the engine's host, in a container of `image` with the host's C
/// library bound where it is. Removed afterwards.
pub async fn rigbench_there<E: Engine>(
    engine: &E,
    image: &str,
    binary: &Path,
    job: Job<'_>,
) -> Result<There, ProbeError> {
    let id = start_there(engine, image, binary, job).await?;
    let result = finish(engine, &id).await;
    let _ = engine.remove(&id).await;
    let (code, stdout, logs) = result?;
    Ok(There {
        code,
        stdout,
        output: String::from_utf8_lossy(&logs).trim().to_string(),
    })
}

/// Starts `job` as `rigbench_there` does and returns its container's id,
/// left running (removed on a failure to start it).
pub async fn start_there<E: Engine>(
    engine: &E,
    image: &str,
    binary: &Path,
    job: Job<'_>,
) -> Result<String, ProbeError> {
    let Job {
        role,
        args,
        binds,
        env,
        uts_host,
        devices,
        group_add,
        labels,
        uploads,
    } = job;
    let spec = ContainerSpec {
        name: format!("rigbench-{role}-{}", crate::engine::unique_suffix()),
        image: image.to_string(),
        entrypoint: Some(vec![format!("/{PROBE_BIN}")]),
        cmd: args.iter().map(|a| a.to_string()).collect(),
        env,
        binds: (HOST_LIBRARY_DIRS.iter())
            .map(|d| host_bind(d, d, false))
            .chain(binds)
            .collect(),
        labels: labels
            .into_iter()
            .chain([
                (LABEL_MANAGED.to_string(), "true".to_string()),
                (LABEL_ROLE.to_string(), role.to_string()),
            ])
            .collect(),
        devices,
        group_add,
        uts_host,
        network_none: true,
        ..ContainerSpec::default()
    };
    let id = engine.create(&spec).await?;
    let started = async {
        engine
            .upload_file(&id, "/", PROBE_BIN, binary, 0o755)
            .await?;
        for (file, name) in &uploads {
            engine.upload_file(&id, "/", name, file, 0o644).await?;
        }
        engine.start(&id).await
    };
    if let Err(e) = started.await {
        let _ = engine.remove(&id).await;
        return Err(e.into());
    }
    Ok(id)
}

/// The view of the engine's host (`engine_name` names it in errors), read by
/// a probe container of `image` running the rigbench at `binary` (this one's
/// executable), its passthrough variables from `env`.
pub async fn read<E: Engine>(
    engine: &E,
    engine_name: &str,
    image: &str,
    binary: &Path,
    env: &(dyn Fn(&str) -> Option<String> + Sync),
) -> Result<HostView, ProbeError> {
    // The host's root with the filesystems below it (/proc, /sys, /dev…).
    // Read-only applies to the root's own mount: the ones below stay
    // writable to the probe, whose only program is rigbench's read-only
    // host-view (a non-recursive bind of / is refused by runc as Podman 4.3
    // asks for it, and Podman 4.3 has no recursive read-only `rro`).
    let roots = vec![host_bind("/", PROBE_ROOT, true)];
    let env = passthrough_env_names()
        .into_iter()
        .filter_map(|k| Some((k.to_string(), env(k)?)))
        .collect();
    let job = Job {
        binds: roots,
        env,
        uts_host: true,
        ..Job::new("host-probe", &["host-view", "--root", PROBE_ROOT])
    };
    let there = rigbench_there(engine, image, binary, job).await?;
    if there.code != 0 {
        return Err(ProbeError::Failed {
            image: image.to_string(),
            engine: engine_name.to_string(),
            code: there.code,
            output: there.output,
        });
    }
    serde_json::from_slice(&there.stdout).map_err(|e| ProbeError::Unreadable {
        image: image.to_string(),
        engine: engine_name.to_string(),
        message: e.to_string(),
        output: there.output,
    })
}

/// Waits for the started container's end: (exit code, stdout, stdout and
/// stderr).
async fn finish<E: Engine>(engine: &E, id: &str) -> Result<(i64, Vec<u8>, Vec<u8>), ProbeError> {
    let status = engine.wait(id).await?;
    Ok((
        status.code,
        engine.stdout(id).await?,
        engine.logs(id).await?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::engine::FakeEngine;

    fn bin() -> tempfile::NamedTempFile {
        let f = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(f.path(), b"\x7fELF not really").unwrap();
        f
    }

    #[tokio::test]
    async fn the_probe_sees_the_host_read_only_with_rigbench_copied_in() {
        let engine = FakeEngine::default();
        let b = bin();
        let env = |k: &str| (k == "CUDA_VISIBLE_DEVICES").then(|| "1".to_string());
        // The fake's container prints nothing: not a view, and said so.
        let err = read(&engine, "ssh://gpu/podman.sock", "img", b.path(), &env)
            .await
            .unwrap_err()
            .to_string();
        assert!(
            err.contains(
                "the host probe (img) on ssh://gpu/podman.sock printed what is not a host view"
            ),
            "{err}"
        );
        let spec = engine.specs.lock().unwrap()[0].clone();
        assert_eq!(
            spec.entrypoint,
            Some(vec!["/rigbench-host-view".to_string()])
        );
        assert_eq!(spec.cmd, ["host-view", "--root", "/host"]);
        let binds: Vec<(String, &str)> = (spec.binds.iter())
            .map(|b| (b.host.display().to_string(), b.container.as_str()))
            .collect();
        // Read-only, never relabelled; only the host's root with the mounts
        // below it.
        assert!(
            (spec.binds.iter()).all(|b| b.read_only && !b.relabel),
            "{:?}",
            spec.binds
        );
        assert_eq!(
            binds,
            [
                ("/usr".to_string(), "/usr"),
                ("/lib".to_string(), "/lib"),
                ("/lib64".to_string(), "/lib64"),
                ("/".to_string(), "/host"),
            ]
        );
        let recursive: Vec<bool> = spec.binds.iter().map(|b| b.recursive).collect();
        assert_eq!(recursive, [false, false, false, true]);
        assert!(spec.network_none);
        assert!(spec.uts_host);
        assert_eq!(
            spec.env,
            BTreeMap::from([("CUDA_VISIBLE_DEVICES".to_string(), "1".to_string())])
        );
        // The binary went in as /rigbench-host-view, executable, whole.
        let uploads = engine.uploads.lock().unwrap();
        assert_eq!(uploads.len(), 1);
        assert_eq!(uploads[0].path, "/rigbench-host-view");
        assert_eq!(uploads[0].mode, 0o755);
        assert_eq!(uploads[0].bytes, b"\x7fELF not really");
        // The container is gone afterwards.
        assert_eq!(engine.live_containers(), 0);
    }

    #[tokio::test]
    async fn the_probe_image_is_built_only_where_missing() {
        let engine = FakeEngine::default();
        // Missing, it is built: the fake cannot, and says so.
        let err = ensure_image(&engine).await.unwrap_err().to_string();
        assert!(err.contains("not supported by the fake engine"), "{err}");
        engine.add_image(PROBE_IMAGE);
        assert_eq!(ensure_image(&engine).await.unwrap(), PROBE_IMAGE);
    }
}
