//! GPU and memory telemetry of another host's engine, read there: a
//! long-lived container of the host probe's empty image (`host_probe`), with
//! this rigbench from its volume there, the host's `/` read-only at /host (amdgpu's sysfs
//! files, /proc/meminfo) and the NVIDIA nodes the run's backends get (NVML,
//! loaded from the host's own /usr), runs `rigbench telemetry-stream`. Its
//! followed stdout becomes the run's `Sampler` (`Sampler::streamed`), so a
//! run there records what a run here does: memory, temperature, power,
//! busy and clocks, and waits for the cool-down.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use crate::backend::Backend;
use crate::engine::{Engine, LABEL_RUN};
use crate::host::devices::Passthrough;
use crate::telemetry::sampler::Sampler;

use super::host_probe::{self, Job, PROBE_ROOT, ProbeError};

/// The container's role label.
pub const ROLE: &str = "telemetry";
/// How long the first sample may take: the container's start, rigbench's
/// copy and NVML's loading.
const FIRST_SAMPLE: Duration = Duration::from_secs(60);

/// The stream and its container, removed by `stop`.
pub struct Remote {
    pub sampler: Sampler,
    container: String,
}

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error(transparent)]
    Probe(#[from] ProbeError),
    #[error("the telemetry container on {engine} gave no samples: {why}{output}")]
    NoSamples {
        engine: String,
        why: String,
        /// What it printed, where it printed anything.
        output: String,
    },
}

/// The NVIDIA nodes (not the unified-memory ones, which NVML does not
/// open) the run's backends get, and those backends' groups: what NVML
/// needs to read the GPUs the run uses.
pub fn nvml_access(passthroughs: &BTreeMap<Backend, Passthrough>) -> (Vec<String>, Vec<String>) {
    let is_nvml_node = |d: &str| {
        d == "/dev/nvidiactl"
            || d.strip_prefix("/dev/nvidia")
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    };
    let (mut devices, mut groups) = (Vec::new(), Vec::new());
    for p in passthroughs.values() {
        let nodes: Vec<&String> = p.devices.iter().filter(|d| is_nvml_node(d)).collect();
        if nodes.is_empty() {
            continue;
        }
        devices.extend(nodes.into_iter().cloned());
        groups.extend(p.group_add.iter().cloned());
    }
    for v in [&mut devices, &mut groups] {
        v.sort();
        v.dedup();
    }
    (devices, groups)
}

/// Starts the telemetry container on `engine`'s host (`engine_name` names it)
/// for the run `run_id`, the host folder `root` at /host (`/`; a fixture tree
/// in tests), sampling every `interval`, and keeps its stream once the first
/// sample has come.
pub async fn start<E: Engine>(
    engine: &E,
    engine_name: &str,
    binary: &Path,
    root: &Path,
    nvml: (Vec<String>, Vec<String>),
    run_id: &str,
    interval: Duration,
) -> Result<Remote, TelemetryError> {
    let image = host_probe::ensure_image(engine).await?;
    let root = root.to_string_lossy();
    let interval_ms = interval.as_millis().to_string();
    let args = [
        "telemetry-stream",
        "--root",
        PROBE_ROOT,
        "--interval-ms",
        &interval_ms,
    ];
    let (devices, group_add) = nvml;
    let job = Job {
        binds: vec![host_probe::host_bind(&root, PROBE_ROOT, true)],
        devices,
        group_add,
        labels: BTreeMap::from([(LABEL_RUN.to_string(), run_id.to_string())]),
        ..Job::new(ROLE, &args)
    };
    let container = host_probe::start_there(engine, &image, binary, job).await?;
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    let mut chunks = engine.follow_stdout(&container);
    tokio::spawn(async move {
        while let Some(c) = chunks.recv().await {
            if tx.send(c.map_err(|e| e.to_string())).await.is_err() {
                return;
            }
        }
    });
    match Sampler::streamed(rx, interval, FIRST_SAMPLE).await {
        Ok(sampler) => Ok(Remote { sampler, container }),
        Err(why) => {
            let logs = engine.logs(&container).await.unwrap_or_default();
            let _ = engine.remove(&container).await;
            let text = String::from_utf8_lossy(&logs).trim().to_string();
            Err(TelemetryError::NoSamples {
                engine: engine_name.to_string(),
                why,
                output: match text.is_empty() {
                    true => String::new(),
                    false => format!(" (it printed: {})", tail(&text, 1000)),
                },
            })
        }
    }
}

impl Remote {
    /// Removes the container (its stream ends with it).
    pub async fn stop<E: Engine>(self, engine: &E) {
        drop(self.sampler);
        if let Err(e) = engine.remove(&self.container).await {
            log::warn!(
                "the telemetry container {} was not removed: {e}",
                self.container
            );
        }
    }
}

/// The last `n` characters of `s`.
fn tail(s: &str, n: usize) -> &str {
    let start = (s.char_indices().rev().nth(n.saturating_sub(1))).map_or(0, |(i, _)| i);
    &s[start..]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::engine::FakeEngine;

    fn passthrough(devices: &[&str], groups: &[&str]) -> Passthrough {
        Passthrough {
            devices: devices.iter().map(|d| d.to_string()).collect(),
            group_add: groups.iter().map(|g| g.to_string()).collect(),
            ..Passthrough::default()
        }
    }

    #[test]
    fn nvml_gets_the_gpu_and_control_nodes_of_the_backends_that_have_them() {
        let p = BTreeMap::from([
            (
                Backend::Cuda,
                passthrough(
                    &[
                        "/dev/nvidia1",
                        "/dev/nvidia-uvm",
                        "/dev/nvidia-uvm-tools",
                        "/dev/nvidiactl",
                    ],
                    &["44"],
                ),
            ),
            (
                Backend::Vulkan,
                passthrough(&["/dev/nvidia1", "/dev/nvidiactl"], &["44", "993"]),
            ),
            // An AMD backend's nodes and groups are not NVML's.
            (
                Backend::Rocm6,
                passthrough(&["/dev/kfd", "/dev/dri/renderD128"], &["105"]),
            ),
        ]);
        let (devices, groups) = nvml_access(&p);
        assert_eq!(devices, ["/dev/nvidia1", "/dev/nvidiactl"]);
        assert_eq!(groups, ["44", "993"]);
        assert_eq!(nvml_access(&BTreeMap::new()), (vec![], vec![]));
    }

    #[tokio::test]
    async fn a_container_that_prints_no_samples_is_an_error_naming_the_host_and_is_removed() {
        let engine = FakeEngine::default();
        engine.add_image(host_probe::PROBE_IMAGE);
        let bin = tempfile::NamedTempFile::new().unwrap();
        let nvml = (vec!["/dev/nvidia0".to_string()], vec!["44".to_string()]);
        let err = start(
            &engine,
            "ssh://gpu/podman.sock",
            bin.path(),
            Path::new("/"),
            nvml,
            "r1",
            Duration::from_millis(100),
        )
        .await
        .err()
        .unwrap()
        .to_string();
        // The fake's containers print a server's line: not the stream, said
        // with what it printed.
        assert_eq!(
            err,
            "the telemetry container on ssh://gpu/podman.sock gave no samples: expected value at line 1 column 1: \"main: server is listening\" (it printed: main: server is listening)"
        );
        let spec = (engine.specs.lock().unwrap().iter())
            .find(|s| s.labels.get(crate::engine::LABEL_ROLE).map(String::as_str) == Some(ROLE))
            .unwrap()
            .clone();
        assert_eq!(
            spec.cmd,
            [
                "telemetry-stream",
                "--root",
                "/host",
                "--interval-ms",
                "100"
            ]
        );
        assert_eq!(spec.devices, ["/dev/nvidia0"]);
        assert_eq!(spec.group_add, ["44"]);
        assert_eq!(spec.labels.get(LABEL_RUN).map(String::as_str), Some("r1"));
        assert_eq!(
            spec.labels
                .get(crate::engine::LABEL_ROLE)
                .map(String::as_str),
            Some(ROLE)
        );
        let root = spec
            .binds
            .iter()
            .find(|b| b.container == PROBE_ROOT)
            .unwrap();
        assert!(root.read_only && root.recursive && !root.relabel);
        assert_eq!(engine.live_containers(), 0);
    }

    #[test]
    fn tail_keeps_the_end() {
        assert_eq!(tail("abcdef", 3), "def");
        assert_eq!(tail("ab", 3), "ab");
        assert_eq!(tail("é€x", 2), "€x");
    }
}
