//! What an NVIDIA host offers the cuda backend, read under an injectable root: the
//! device nodes (`/dev/nvidia0`, `nvidiactl`, `nvidia-uvm`, `nvidia-uvm-tools`),
//! the driver's user-space libraries (`libcuda.so.1` and its companions, which
//! a container cannot carry: they must match the host's kernel module), a CDI
//! spec for `nvidia.com/gpu` where the NVIDIA Container Toolkit wrote one, and the
//! GPUs and driver version from `/proc/driver/nvidia` (NVML, where it loads, adds
//! memory and compute capability: see `crate::nvml`).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::gpu::names;

use crate::nvml::NvidiaGpu;

pub use crate::nvml::LIB_DIRS;

/// The directory inside the container where the driver's libraries are mounted
/// (on the image's `LD_LIBRARY_PATH`, as in NVIDIA's own images).
pub const CONTAINER_LIB_DIR: &str = "/usr/local/nvidia/lib64";

/// The driver libraries CUDA programs load, with the soname each is loaded by
/// (`None`: by its full versioned name, as libcuda loads libnvidia-gpucomp).
const DRIVER_LIBS: &[(&str, Option<&str>)] = &[
    ("libcuda.so", Some("libcuda.so.1")),
    ("libnvidia-ml.so", Some("libnvidia-ml.so.1")),
    (
        "libnvidia-ptxjitcompiler.so",
        Some("libnvidia-ptxjitcompiler.so.1"),
    ),
    ("libnvidia-nvvm.so", Some("libnvidia-nvvm.so.4")),
    ("libnvidia-gpucomp.so", None),
];

/// A file of the host mounted read-only into the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ReadOnlyMount {
    /// Path on the host (as the host sees it, not under a fixture root).
    pub host: String,
    pub container: String,
}

/// The CDI spec that names NVIDIA GPUs, and what it gives a container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CdiSpec {
    /// The spec file, as the host sees it.
    pub file: String,
    /// `nvidia.com/gpu`.
    pub kind: String,
    /// The device names it defines (`0`, `all`, a UUID…).
    pub devices: Vec<String>,
    /// Device nodes of the spec's common edits and of its `all` device.
    pub device_nodes: Vec<String>,
    /// Host paths it mounts that are driver libraries.
    pub libraries: Vec<String>,
    /// Vulkan ICD files it mounts (`…/vulkan/icd.d/nvidia_icd.json`), as host paths.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub icd_files: Vec<String>,
    /// glvnd EGL vendor files it mounts (`…/glvnd/egl_vendor.d/10_nvidia.json`),
    /// as host paths: NVIDIA's Vulkan driver needs its EGL part (`host::vulkan`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub egl_vendor_files: Vec<String>,
    /// Every shared library it mounts, as host paths (the Vulkan driver's too).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub all_libraries: Vec<String>,
}

/// Everything the host has for the cuda backend.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NvidiaHost {
    pub device_nodes: Vec<String>,
    /// Driver libraries as host paths (real files, versioned names).
    pub libraries: Vec<String>,
    pub cdi: Option<CdiSpec>,
    /// `580.159.04`, from /proc/driver/nvidia/version.
    pub driver_version: Option<String>,
    pub gpus: Vec<NvidiaGpu>,
}

impl NvidiaHost {
    /// Whether the cuda backend can run here: a GPU node and the control node.
    pub fn usable(&self) -> bool {
        self.device_nodes.iter().any(|d| is_gpu_node(d))
            && self.device_nodes.iter().any(|d| d == "/dev/nvidiactl")
    }
}

fn is_gpu_node(d: &str) -> bool {
    d.strip_prefix("/dev/nvidia")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// The host path of `p` under `root` (`root`/x → /x).
fn host_path(root: &Path, p: &Path) -> String {
    p.strip_prefix(root)
        .map(|r| format!("/{}", r.display()))
        .unwrap_or_else(|_| p.display().to_string())
}

/// Reads the NVIDIA side of the host under `root`.
pub fn probe(root: &Path) -> NvidiaHost {
    let dev = root.join("dev");
    let mut device_nodes: Vec<String> = names(&dev)
        .into_iter()
        .filter(|n| {
            is_gpu_node(&format!("/dev/{n}"))
                || matches!(n.as_str(), "nvidiactl" | "nvidia-uvm" | "nvidia-uvm-tools")
        })
        .map(|n| format!("/dev/{n}"))
        .collect();
    // GPUs first, by number, then the shared nodes.
    device_nodes.sort_by_key(|d| {
        (
            !is_gpu_node(d),
            d.trim_start_matches("/dev/nvidia")
                .parse::<u32>()
                .unwrap_or(u32::MAX),
            d.clone(),
        )
    });
    NvidiaHost {
        device_nodes,
        libraries: driver_libraries(root),
        cdi: cdi_spec(root),
        driver_version: std::fs::read_to_string(root.join("proc/driver/nvidia/version"))
            .ok()
            .and_then(|t| driver_version(&t)),
        gpus: procfs_gpus(root),
    }
}

/// The version in /proc/driver/nvidia/version's first line: "NVRM version:
/// NVIDIA UNIX x86_64 Kernel Module  580.159.04  Tue …" → `580.159.04`.
pub fn driver_version(text: &str) -> Option<String> {
    text.lines().next()?.split_whitespace().find_map(|w| {
        let parts: Vec<&str> = w.split('.').collect();
        (parts.len() >= 2
            && parts
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())))
        .then(|| w.to_string())
    })
}

/// GPUs from /proc/driver/nvidia/gpus/BUS/information ("Model: NVIDIA H200").
fn procfs_gpus(root: &Path) -> Vec<NvidiaGpu> {
    let dir = root.join("proc/driver/nvidia/gpus");
    names(&dir)
        .into_iter()
        .enumerate()
        .filter_map(|(i, bus)| {
            let text = std::fs::read_to_string(dir.join(&bus).join("information")).ok()?;
            let field = |k: &str| {
                text.lines().find_map(|l| {
                    let (key, v) = l.split_once(':')?;
                    (key.trim() == k).then(|| v.trim().to_string())
                })
            };
            let name = field("Model")?;
            Some(NvidiaGpu {
                index: field("Device Minor")
                    .and_then(|m| m.parse().ok())
                    .unwrap_or(i as u32),
                compute_capability: known_compute_capability(&name).map(str::to_string),
                uuid: field("GPU UUID"),
                pci_bus_id: Some(bus),
                memory_total_bytes: None,
                name,
                source: "procfs".to_string(),
            })
        })
        .collect()
}

/// Compute capability of known parts by name, for hosts where NVML is not read
/// (NVIDIA's CUDA GPUs table, developer.nvidia.com/cuda-gpus).
pub fn known_compute_capability(name: &str) -> Option<&'static str> {
    const TABLE: &[(&str, &str)] = &[
        ("GB10", "12.1"),
        ("RTX 5090", "12.0"),
        ("RTX 5080", "12.0"),
        ("RTX PRO 6000", "12.0"),
        ("B200", "10.0"),
        ("H200", "9.0"),
        ("H100", "9.0"),
        ("GH200", "9.0"),
        ("L40S", "8.9"),
        ("L4", "8.9"),
        ("RTX 4090", "8.9"),
        ("RTX 4080", "8.9"),
        ("RTX 6000 Ada", "8.9"),
        ("A100", "8.0"),
        ("A10", "8.6"),
        ("RTX 3090", "8.6"),
        ("RTX 3080", "8.6"),
        ("T4", "7.5"),
    ];
    TABLE
        .iter()
        .find(|(k, _)| name.contains(k))
        .map(|(_, v)| *v)
}

/// The driver's libraries in the first directory that has `libcuda.so.1`: every
/// name of the driver's own libraries there (versioned files and their soname
/// links), as host paths. Links are kept as links here; `library_mounts` resolves them.
fn driver_libraries(root: &Path) -> Vec<String> {
    for dir in LIB_DIRS {
        let d = root.join(dir);
        if std::fs::symlink_metadata(d.join("libcuda.so.1")).is_err() {
            continue;
        }
        // Every library of the driver's own (libcuda*, libnvidia-*): which of
        // them libcuda loads changes between driver series (580 added gpucomp).
        return names(&d)
            .into_iter()
            .filter(|name| {
                (name.starts_with("libcuda") || name.starts_with("libnvidia-"))
                    && name.contains(".so")
            })
            .map(|name| host_path(root, &d.join(name)))
            .collect();
    }
    Vec::new()
}

/// Read-only mounts for driver libraries under `root` (`/` on a real host):
/// each name in `CONTAINER_LIB_DIR`, from the real file behind it (a bind mount
/// of a link would mount its target anyway; resolving it records what is
/// mounted), plus the soname the loader asks for where only a versioned file is
/// given (a CDI spec lists those).
pub fn library_mounts(root: &Path, libraries: &[String]) -> Vec<ReadOnlyMount> {
    let mut out: Vec<ReadOnlyMount> = Vec::new();
    let mut add = |host: &str, name: &str| {
        let container = format!("{CONTAINER_LIB_DIR}/{name}");
        if !out.iter().any(|m| m.container == container) {
            out.push(ReadOnlyMount {
                host: host.to_string(),
                container,
            });
        }
    };
    for lib in libraries {
        let under = root.join(lib.trim_start_matches('/'));
        let real = std::fs::canonicalize(&under)
            .map(|p| {
                host_path(
                    &std::fs::canonicalize(root).unwrap_or(root.to_path_buf()),
                    &p,
                )
            })
            .unwrap_or_else(|_| lib.clone());
        let name = Path::new(lib)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        add(&real, &name);
        if let Some((_, Some(soname))) = DRIVER_LIBS
            .iter()
            .find(|(stem, _)| name.starts_with(&format!("{stem}.")))
        {
            add(&real, soname);
        }
    }
    out
}

#[derive(Deserialize)]
struct CdiFile {
    kind: String,
    #[serde(default)]
    devices: Vec<CdiDevice>,
    #[serde(default, rename = "containerEdits")]
    container_edits: CdiEdits,
}

#[derive(Deserialize)]
struct CdiDevice {
    name: String,
    #[serde(default, rename = "containerEdits")]
    container_edits: CdiEdits,
}

#[derive(Deserialize, Default)]
struct CdiEdits {
    #[serde(default, rename = "deviceNodes")]
    device_nodes: Vec<CdiNode>,
    #[serde(default)]
    mounts: Vec<CdiMount>,
}

#[derive(Deserialize)]
struct CdiNode {
    path: String,
}

#[derive(Deserialize)]
struct CdiMount {
    #[serde(rename = "hostPath")]
    host_path: String,
}

/// The first CDI spec (under /etc/cdi, then /var/run/cdi; YAML or JSON) whose kind
/// is `nvidia.com/gpu`.
pub fn cdi_spec(root: &Path) -> Option<CdiSpec> {
    for dir in ["etc/cdi", "var/run/cdi"] {
        let d = root.join(dir);
        for name in names(&d) {
            if ![".yaml", ".yml", ".json"].iter().any(|e| name.ends_with(e)) {
                continue;
            }
            let path: PathBuf = d.join(&name);
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let Ok(spec) = serde_yaml_ng::from_str::<CdiFile>(&text) else {
                continue;
            };
            if spec.kind != "nvidia.com/gpu" {
                continue;
            }
            return Some(from_cdi(host_path(root, &path), spec));
        }
    }
    None
}

fn from_cdi(file: String, spec: CdiFile) -> CdiSpec {
    let all = spec.devices.iter().find(|d| d.name == "all");
    // The `all` device where there is one, else every device.
    let chosen: Vec<&CdiDevice> = match all {
        Some(a) => vec![a],
        None => spec.devices.iter().collect(),
    };
    let edits =
        std::iter::once(&spec.container_edits).chain(chosen.iter().map(|d| &d.container_edits));
    let mut device_nodes = Vec::new();
    let mut libraries = Vec::new();
    let (mut icd_files, mut egl_vendor_files, mut all_libraries) =
        (Vec::new(), Vec::new(), Vec::new());
    for e in edits {
        for n in &e.device_nodes {
            if !device_nodes.contains(&n.path) {
                device_nodes.push(n.path.clone());
            }
        }
        for m in &e.mounts {
            let base = Path::new(&m.host_path)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let is_lib = DRIVER_LIBS
                .iter()
                .any(|(stem, _)| base.starts_with(&format!("{stem}.")));
            if is_lib && !libraries.contains(&m.host_path) {
                libraries.push(m.host_path.clone());
            }
            let json = m.host_path.ends_with(".json");
            let list = if json && m.host_path.contains("vulkan/icd.d/") {
                &mut icd_files
            } else if json && m.host_path.contains("glvnd/egl_vendor.d/") {
                &mut egl_vendor_files
            } else if base.contains(".so") {
                &mut all_libraries
            } else {
                continue;
            };
            if !list.contains(&m.host_path) {
                list.push(m.host_path.clone());
            }
        }
    }
    CdiSpec {
        file,
        kind: spec.kind,
        devices: spec.devices.iter().map(|d| d.name.clone()).collect(),
        device_nodes,
        libraries,
        icd_files,
        egl_vendor_files,
        all_libraries,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/hosts")
            .join(name)
    }

    #[test]
    fn the_driver_version_is_read_from_procs_first_line() {
        let t = "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580.159.04  Release Build  (dvs-builder@U22-I3-AF03-09-1)  Thu Nov 20 2025\nGCC version:  gcc version 13.3.0\n";
        assert_eq!(driver_version(t).as_deref(), Some("580.159.04"));
        assert_eq!(driver_version("nothing here\n"), None);
    }

    #[test]
    fn an_nvidia_host_without_cdi_offers_its_nodes_and_driver_libraries() {
        let h = probe(&fixture("nvidia-h200"));
        assert_eq!(
            h.device_nodes,
            [
                "/dev/nvidia0",
                "/dev/nvidia-uvm",
                "/dev/nvidia-uvm-tools",
                "/dev/nvidiactl"
            ]
        );
        assert!(h.usable());
        assert!(h.cdi.is_none());
        assert_eq!(h.driver_version.as_deref(), Some("580.159.04"));
        assert_eq!(h.gpus.len(), 1);
        assert_eq!(h.gpus[0].name, "NVIDIA H200");
        assert_eq!(h.gpus[0].compute_capability.as_deref(), Some("9.0"));
        assert_eq!(
            h.libraries,
            [
                "/usr/local/nvidia/lib64/libcuda.so",
                "/usr/local/nvidia/lib64/libcuda.so.1",
                "/usr/local/nvidia/lib64/libcuda.so.580.159.04",
                "/usr/local/nvidia/lib64/libnvidia-cfg.so.1",
                "/usr/local/nvidia/lib64/libnvidia-cfg.so.580.159.04",
                // The Vulkan driver's libraries are there too (the cuda
                // backend mounts every libnvidia-* beside libcuda).
                "/usr/local/nvidia/lib64/libnvidia-eglcore.so.580.159.04",
                "/usr/local/nvidia/lib64/libnvidia-glcore.so.580.159.04",
                "/usr/local/nvidia/lib64/libnvidia-glsi.so.580.159.04",
                "/usr/local/nvidia/lib64/libnvidia-glvkspirv.so.580.159.04",
                "/usr/local/nvidia/lib64/libnvidia-gpucomp.so.580.159.04",
                "/usr/local/nvidia/lib64/libnvidia-ml.so.1",
                "/usr/local/nvidia/lib64/libnvidia-ml.so.580.159.04",
                "/usr/local/nvidia/lib64/libnvidia-nvvm.so.4",
                "/usr/local/nvidia/lib64/libnvidia-nvvm.so.580.159.04",
                "/usr/local/nvidia/lib64/libnvidia-ptxjitcompiler.so.1",
                "/usr/local/nvidia/lib64/libnvidia-ptxjitcompiler.so.580.159.04",
                "/usr/local/nvidia/lib64/libnvidia-rtcore.so.580.159.04",
                "/usr/local/nvidia/lib64/libnvidia-tls.so.580.159.04",
            ]
        );
        let mounts = library_mounts(&fixture("nvidia-h200"), &h.libraries);
        let pairs: Vec<(&str, &str)> = mounts
            .iter()
            .map(|m| (m.host.as_str(), m.container.as_str()))
            .collect();
        assert!(pairs.contains(&(
            "/usr/local/nvidia/lib64/libcuda.so.580.159.04",
            "/usr/local/nvidia/lib64/libcuda.so.1"
        )));
        assert!(pairs.contains(&(
            "/usr/local/nvidia/lib64/libnvidia-nvvm.so.580.159.04",
            "/usr/local/nvidia/lib64/libnvidia-nvvm.so.4"
        )));
        // gpucomp is loaded by its versioned name only.
        assert_eq!(
            pairs.iter().filter(|(h, _)| h.contains("gpucomp")).count(),
            1
        );
        // Every name, each from the real file behind it; libcuda.so (the
        // development link) too, harmless.
        assert_eq!(mounts.len(), 18);
        assert!(
            mounts.iter().all(|m| m.host.matches('.').count() >= 4),
            "{mounts:?}"
        );
    }

    #[test]
    fn a_cdi_spec_gives_its_nodes_and_libraries() {
        let h = probe(&fixture("nvidia-cdi"));
        let cdi = h.cdi.unwrap();
        assert_eq!(cdi.file, "/etc/cdi/nvidia.yaml");
        assert_eq!(cdi.devices, ["0", "all"]);
        assert_eq!(
            cdi.device_nodes,
            [
                "/dev/nvidia-uvm",
                "/dev/nvidia-uvm-tools",
                "/dev/nvidiactl",
                "/dev/nvidia0"
            ]
        );
        assert_eq!(
            cdi.libraries,
            [
                "/usr/lib/x86_64-linux-gnu/libcuda.so.570.133.20",
                "/usr/lib/x86_64-linux-gnu/libnvidia-ml.so.570.133.20",
                "/usr/lib/x86_64-linux-gnu/libnvidia-ptxjitcompiler.so.570.133.20",
                "/usr/lib/x86_64-linux-gnu/libnvidia-gpucomp.so.570.133.20",
            ]
        );
        assert_eq!(cdi.icd_files, ["/usr/share/vulkan/icd.d/nvidia_icd.json"]);
        assert_eq!(
            cdi.egl_vendor_files,
            ["/usr/share/glvnd/egl_vendor.d/10_nvidia.json"]
        );
        assert_eq!(cdi.all_libraries.len(), 11, "{:?}", cdi.all_libraries);
    }

    #[test]
    fn a_host_without_nvidia_has_nothing() {
        let h = probe(&fixture("no-gpu"));
        assert!(!h.usable());
        assert!(h.libraries.is_empty() && h.cdi.is_none() && h.gpus.is_empty());
        // The driver without its device nodes (a container, a broken install).
        let h = probe(&fixture("nvidia-no-nodes"));
        assert!(!h.usable());
        assert_eq!(h.driver_version.as_deref(), Some("580.159.04"));
    }

    #[test]
    fn known_parts_have_their_compute_capability() {
        assert_eq!(known_compute_capability("NVIDIA H200"), Some("9.0"));
        assert_eq!(
            known_compute_capability("NVIDIA H100 80GB HBM3"),
            Some("9.0")
        );
        assert_eq!(
            known_compute_capability("NVIDIA GeForce RTX 4090"),
            Some("8.9")
        );
        assert_eq!(known_compute_capability("NVIDIA GB10"), Some("12.1"));
        assert_eq!(known_compute_capability("Some GPU"), None);
    }
}
