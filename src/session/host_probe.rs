//! Another host's view, read on that host: a short-lived container with that
//! host's `/` bound read-only at /host and this rigbench (from its volume
//! there, `binary_volume`: sent through the API once per build) runs `rigbench host-view --root /host` (the readers that read this
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
/// Where a job finds this rigbench: its volume there (`binary_volume`),
/// mounted read-only.
const BIN_DIR: &str = "/rigbench-bin";
/// Its name there.
const BIN_NAME: &str = "rigbench";
/// The label of the volumes holding a rigbench, and of their markers.
const ROLE_BINARY: &str = "rigbench-binary";
const ROLE_BINARY_WHOLE: &str = "rigbench-binary-whole";

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

/// Runs `job` with the rigbench at `binary` (this one's executable, from its
/// volume there: `binary_volume`) on the engine's host, in a container of `image` with the host's C
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
    let bin = binary_volume(engine, image, binary).await?;
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
        entrypoint: Some(vec![format!("{BIN_DIR}/{BIN_NAME}")]),
        cmd: args.iter().map(|a| a.to_string()).collect(),
        env,
        binds: (HOST_LIBRARY_DIRS.iter())
            .map(|d| host_bind(d, d, false))
            .chain([volume_bind(&bin, BIN_DIR, true)])
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

/// The volume on the engine's host holding this rigbench (`binary`),
/// `rigbench-bin-SHA16` after its sha256: sent through the API once, not
/// with every job (77 MB for a debug build). A marker volume made after the
/// copy says it is whole; without one the copy is made anew. The volumes of
/// other rigbench builds there are removed then (those no container uses).
pub async fn binary_volume<E: Engine>(
    engine: &E,
    image: &str,
    binary: &Path,
) -> Result<String, ProbeError> {
    let sha = binary_sha256(binary)
        .map_err(|e| ProbeError::Image(format!("this rigbench ({}): {e}", binary.display())))?;
    let volume = format!("rigbench-bin-{}", &sha[..16]);
    let labels = |role: &str| {
        BTreeMap::from([
            (LABEL_MANAGED.to_string(), "true".to_string()),
            (LABEL_ROLE.to_string(), role.to_string()),
            (crate::engine::LABEL_SHA256.to_string(), sha.clone()),
        ])
    };
    let filter = |role: &str| {
        [
            format!("{LABEL_MANAGED}=true"),
            format!("{LABEL_ROLE}={role}"),
        ]
    };
    let whole = engine
        .list_labelled_volumes(&filter(ROLE_BINARY_WHOLE))
        .await?;
    let marker = format!("{volume}-whole");
    if whole.contains(&marker) {
        return Ok(volume);
    }
    for role in [ROLE_BINARY_WHOLE, ROLE_BINARY] {
        for old in engine.list_labelled_volumes(&filter(role)).await? {
            if old != volume {
                let _ = engine.remove_volume(&old).await;
            }
        }
    }
    // A copy cut short before, if any, goes.
    let _ = engine.remove_volume(&volume).await;
    engine.create_volume(&volume, &labels(ROLE_BINARY)).await?;
    upload_into(engine, image, &volume, (binary, BIN_NAME), 0o755).await?;
    engine
        .create_volume(&marker, &labels(ROLE_BINARY_WHOLE))
        .await?;
    Ok(volume)
}

/// `binary`'s sha256, computed once per process.
fn binary_sha256(binary: &Path) -> std::io::Result<String> {
    static KNOWN: std::sync::Mutex<BTreeMap<std::path::PathBuf, String>> =
        std::sync::Mutex::new(BTreeMap::new());
    if let Some(sha) = KNOWN.lock().ok().and_then(|k| k.get(binary).cloned()) {
        return Ok(sha);
    }
    let sha = crate::hash::sha256_file(binary)?;
    if let Ok(mut k) = KNOWN.lock() {
        k.insert(binary.to_path_buf(), sha.clone());
    }
    Ok(sha)
}

/// A named volume mounted at `container`.
fn volume_bind(volume: &str, container: &str, read_only: bool) -> Bind {
    Bind {
        host: volume.into(),
        container: container.to_string(),
        read_only,
        relabel: true,
        recursive: true,
    }
}

/// Puts the file `file.0` (here) into `volume` on the engine's host as
/// `file.1` with permissions `mode`, through a container of `image` that is
/// never started.
pub async fn upload_into<E: Engine>(
    engine: &E,
    image: &str,
    volume: &str,
    file: (&Path, &str),
    mode: u32,
) -> Result<(), EngineError> {
    const INTO: &str = "/into";
    let spec = ContainerSpec {
        name: format!("rigbench-copy-{}", crate::engine::unique_suffix()),
        image: image.to_string(),
        entrypoint: Some(vec!["/none".to_string()]),
        binds: vec![volume_bind(volume, INTO, false)],
        labels: BTreeMap::from([
            (LABEL_MANAGED.to_string(), "true".to_string()),
            (LABEL_ROLE.to_string(), "copy".to_string()),
        ]),
        network_none: true,
        ..ContainerSpec::default()
    };
    let id = engine.create(&spec).await?;
    let copied = engine.upload_file(&id, INTO, file.1, file.0, mode).await;
    let _ = engine.remove(&id).await;
    copied
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
        let specs = engine.specs.lock().unwrap().clone();
        let probe =
            |s: &&ContainerSpec| s.labels.get(LABEL_ROLE).map(String::as_str) == Some("host-probe");
        let spec = specs.iter().find(probe).unwrap().clone();
        assert_eq!(
            spec.entrypoint,
            Some(vec!["/rigbench-bin/rigbench".to_string()])
        );
        assert_eq!(spec.cmd, ["host-view", "--root", "/host"]);
        let binds: Vec<(String, &str)> = (spec.binds.iter())
            .map(|b| (b.host.display().to_string(), b.container.as_str()))
            .collect();
        // Read-only; the host's folders never relabelled: its C library, the
        // root with the mounts below it; rigbench from its volume.
        assert!(spec.binds.iter().all(|b| b.read_only), "{:?}", spec.binds);
        let sha = crate::hash::sha256_file(b.path()).unwrap();
        let volume = format!("rigbench-bin-{}", &sha[..16]);
        assert_eq!(
            binds,
            [
                ("/usr".to_string(), "/usr"),
                ("/lib".to_string(), "/lib"),
                ("/lib64".to_string(), "/lib64"),
                (volume.clone(), "/rigbench-bin"),
                ("/".to_string(), "/host"),
            ]
        );
        let relabel: Vec<bool> = spec.binds.iter().map(|b| b.relabel).collect();
        assert_eq!(relabel, [false, false, false, true, false]);
        let recursive: Vec<bool> = spec.binds.iter().map(|b| b.recursive).collect();
        assert_eq!(recursive, [false, false, false, true, true]);
        assert!(spec.network_none);
        assert!(spec.uts_host);
        assert_eq!(
            spec.env,
            BTreeMap::from([("CUDA_VISIBLE_DEVICES".to_string(), "1".to_string())])
        );
        // The binary went into its volume once, executable, whole, through a
        // container never started; a marker says the copy is whole.
        {
            let uploads = engine.uploads.lock().unwrap();
            assert_eq!(uploads.len(), 1);
            assert_eq!(uploads[0].path, "/into/rigbench");
            assert_eq!(uploads[0].mode, 0o755);
            assert_eq!(uploads[0].bytes, b"\x7fELF not really");
        }
        let volumes = engine.volumes.lock().unwrap().clone();
        assert_eq!(
            volumes.keys().collect::<Vec<_>>(),
            [&volume, &format!("{volume}-whole")]
        );
        assert_eq!(
            volumes[&volume].get(crate::engine::LABEL_SHA256),
            Some(&sha)
        );
        // Read again: rigbench is not sent again.
        let _ = read(&engine, "ssh://gpu/podman.sock", "img", b.path(), &env).await;
        assert_eq!(engine.uploads.lock().unwrap().len(), 1);
        // The containers are gone afterwards.
        assert_eq!(engine.live_containers(), 0);
    }

    #[tokio::test]
    async fn another_rigbench_replaces_the_one_there_and_a_copy_cut_short_is_made_again() {
        let engine = FakeEngine::default();
        let (a, b) = (bin(), tempfile::NamedTempFile::new().unwrap());
        std::fs::write(b.path(), b"\x7fELF another").unwrap();
        let va = binary_volume(&engine, "img", a.path()).await.unwrap();
        let vb = binary_volume(&engine, "img", b.path()).await.unwrap();
        assert_ne!(va, vb);
        let names: Vec<String> = engine.volumes.lock().unwrap().keys().cloned().collect();
        assert_eq!(
            names,
            [vb.clone(), format!("{vb}-whole")],
            "a's volumes went"
        );
        // Without its marker (a copy cut short), the copy is made again.
        engine
            .volumes
            .lock()
            .unwrap()
            .remove(&format!("{vb}-whole"));
        binary_volume(&engine, "img", b.path()).await.unwrap();
        assert_eq!(engine.uploads.lock().unwrap().len(), 3);
        assert!(
            engine
                .volumes
                .lock()
                .unwrap()
                .contains_key(&format!("{vb}-whole"))
        );
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
