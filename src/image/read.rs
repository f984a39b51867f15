//! Reading back what a built image holds, each in a short-lived container: its
//! build and runtime info (JSON files the Containerfiles write), what
//! `llama-server --version` prints, the devices the backend's own tool lists
//! and those llama.cpp sees (both with the backend's passthrough), and the
//! toolchain versions and binary hashes taken from the info files.

use std::collections::BTreeMap;

use super::{ImageError, probe};
use crate::backend::Backend;
use crate::engine::{ContainerSpec, Engine, LABEL_MANAGED, LABEL_ROLE, run_to_completion};
use crate::host::devices::Passthrough;

/// What an image holds, as the manifest records it.
#[derive(Debug, Clone)]
pub struct Held {
    pub build_info: serde_json::Value,
    pub runtime_info: serde_json::Value,
    pub version_output: String,
    /// Devices the backend's tool lists, and its output (or why it failed).
    pub devices: Vec<BTreeMap<String, String>>,
    pub device_probe: Option<String>,
    /// Devices `llama-server --list-devices` names.
    pub llama_devices: Vec<String>,
}

/// A probe container of image `image_id`.
fn probe_spec(
    backend: Backend,
    image_id: &str,
    cmd: Vec<String>,
    entrypoint: Option<Vec<String>>,
) -> ContainerSpec {
    ContainerSpec {
        name: format!(
            "rigbench-probe-{}-{}",
            backend.name(),
            crate::engine::unique_suffix()
        ),
        image: image_id.to_string(),
        entrypoint,
        cmd,
        labels: BTreeMap::from([
            (LABEL_MANAGED.to_string(), "true".to_string()),
            (LABEL_ROLE.to_string(), "probe".to_string()),
        ]),
        ..ContainerSpec::default()
    }
}

/// Reads everything `Held` records from image `image_id` (tagged `tag`).
pub async fn held<E: Engine>(
    engine: &E,
    backend: Backend,
    image_id: &str,
    tag: &str,
    passthrough: &Passthrough,
) -> Result<Held, ImageError> {
    let other = |message: String| ImageError::Other { backend, message };
    let probe = |cmd, entrypoint| probe_spec(backend, image_id, cmd, entrypoint);
    let read_json = |file: &'static str| {
        let spec = probe(vec![file.into()], Some(vec!["cat".into()]));
        async move {
            let done = run_to_completion(engine, &spec).await?;
            if done.status.code != 0 {
                return Err(other(format!(
                    "reading {file} exited with {}",
                    done.status.code
                )));
            }
            serde_json::from_slice::<serde_json::Value>(&done.output)
                .map_err(|e| other(format!("{file} is not JSON: {e}")))
        }
    };
    let build_info = read_json("/opt/llama/build-info.json").await?;
    let runtime_info = read_json("/opt/llama/runtime-info.json").await?;
    // The binary may need the GPU driver's libraries just to start (CUDA's
    // llama-server links libcuda.so.1), so it gets the backend's passthrough.
    let version_spec = passthrough.onto(probe(vec!["--version".into()], None));
    let version = run_to_completion(engine, &version_spec).await?;
    let version_output = String::from_utf8_lossy(&version.output).trim().to_string();
    if version.status.code != 0 {
        return Err(other(format!(
            "llama-server --version exited with {}: {version_output}",
            version.status.code
        )));
    }
    let (devices, device_probe) = tool_devices(engine, backend, image_id, passthrough).await;
    let listed = if backend.is_gpu() {
        let spec = passthrough.onto(probe(vec!["--list-devices".into()], None));
        let done = run_to_completion(engine, &spec).await?;
        probe::DeviceList::parse(&String::from_utf8_lossy(&done.output))
    } else {
        probe::DeviceList::default()
    };
    if backend.is_gpu() && listed.devices.is_empty() {
        log::info!(
            "warning: llama.cpp sees no {} device in {tag}; its cells will fail as no_device{}",
            backend.name(),
            listed
                .loader
                .iter()
                .map(|l| format!("\n  {l}"))
                .collect::<String>()
        );
    }
    Ok(Held {
        build_info,
        runtime_info,
        version_output,
        devices,
        device_probe,
        llama_devices: listed.devices,
    })
}

/// The devices the backend's own tool lists (`vulkaninfo`, `rocminfo`) and
/// its output, or why it could not run; nothing for a backend without one.
async fn tool_devices<E: Engine>(
    engine: &E,
    backend: Backend,
    image_id: &str,
    passthrough: &Passthrough,
) -> (Vec<BTreeMap<String, String>>, Option<String>) {
    let Some(tool) = backend.device_tool() else {
        return (Vec::new(), None);
    };
    let (entrypoint, cmd) = probe::command(tool);
    let spec = passthrough.onto(probe_spec(backend, image_id, cmd, Some(entrypoint.clone())));
    match run_to_completion(engine, &spec).await {
        Ok(done) => {
            let text = String::from_utf8_lossy(&done.output).into_owned();
            let found = probe::parse(tool, &text);
            let note = if done.status.code == 0 {
                text
            } else {
                format!(
                    "{} exited with {}:\n{text}",
                    entrypoint[0], done.status.code
                )
            };
            (found, Some(note))
        }
        Err(e) => (
            Vec::new(),
            Some(format!("{} could not run: {e}", entrypoint[0])),
        ),
    }
}

impl Held {
    /// Toolchain versions from the info files: compiler, cmake, OS, Mesa,
    /// ROCm (and HIP, rocBLAS, hipBLAS, rocWMMA), CUDA, as each image has them.
    pub fn toolchain(&self) -> BTreeMap<String, String> {
        let text = |v: &serde_json::Value, k: &str| {
            v.get(k)
                .and_then(|x| x.as_str())
                .filter(|x| !x.is_empty())
                .map(str::to_string)
        };
        let (b, r) = (&self.build_info, &self.runtime_info);
        let mut toolchain = BTreeMap::new();
        for (key, from, field) in [
            ("compiler", b, "compiler"),
            ("hip_compiler", b, "hip_compiler"),
            ("cmake", b, "cmake"),
            ("os", r, "os"),
            ("mesa", r, "mesa_vulkan_drivers"),
            ("vulkan_loader", r, "vulkan_loader"),
            ("rocm", r, "rocm"),
            ("nvcc", b, "nvcc"),
            ("cuda_architectures", b, "cuda_architectures"),
            ("offload_targets", b, "offload_targets"),
            ("hip", b, "hip"),
            ("rocblas", b, "rocblas"),
            ("hipblas", b, "hipblas"),
            ("rocwmma", b, "rocwmma"),
            ("cuda_runtime", r, "cuda_runtime"),
            ("cublas", r, "cublas"),
        ] {
            if let Some(v) = text(from, field) {
                toolchain.insert(key.to_string(), v);
            }
        }
        toolchain
    }

    /// What the build decided about its CMake options (images/cmake-options.sh):
    /// an option the source lacks, set off and left out; `auto` turned on or
    /// off, and why. Empty for images built before the build recorded them.
    pub fn build_notes(&self) -> Vec<String> {
        crate::manifest::build_notes(&self.build_info)
    }

    /// The SHA-256 of each built binary, as the build recorded them.
    pub fn binaries_sha256(&self) -> BTreeMap<String, String> {
        self.build_info
            .get("binaries")
            .and_then(|b| b.as_object())
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                    .collect()
            })
            .unwrap_or_default()
    }
}
