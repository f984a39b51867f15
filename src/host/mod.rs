//! Host facts for the manifest and `doctor`: kernel release and full command line,
//! OS, CPU, memory, GPUs (`gpu`), the amdgpu/ttm module parameters; the device
//! passthrough a backend gets (`devices`), the known traps (`diagnose`), and the
//! values of the build arguments that depend on the host (`HostFacts::build_arg`).
//! Everything is read from files under an injectable root (`/` on a real host), so
//! tests present fixture trees of other machines.

pub mod devices;
pub mod diagnose;
pub mod gpu;
pub mod nvidia;
pub mod rootless;
pub mod view;
pub mod vulkan;

use std::collections::BTreeMap;

use std::fs;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::backend::{CUDA_ARCHITECTURES_FALLBACK, HostBuildArg, Resolved, cuda_architectures};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct HostFacts {
    pub hostname: Option<String>,
    pub kernel: Kernel,
    /// `PRETTY_NAME` from os-release.
    pub os: Option<String>,
    pub cpu: Cpu,
    /// `MemTotal` from /proc/meminfo, in bytes.
    pub memory_bytes: Option<u64>,
    pub gpus: Vec<gpu::Gpu>,
    /// Parameters of the amdgpu and ttm modules, as `module.parameter` → value
    /// (/sys/module/*/parameters), where those modules are loaded.
    pub module_params: BTreeMap<String, String>,
    /// The NVIDIA driver and its GPUs, where there is one. Absent in manifests
    /// written before rigbench knew NVIDIA.
    #[serde(default)]
    pub nvidia: Option<NvidiaFacts>,
}

/// The NVIDIA driver and GPUs of a host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NvidiaFacts {
    /// `580.159.04`: NVML's, else /proc/driver/nvidia/version's.
    pub driver_version: Option<String>,
    /// The newest CUDA the driver supports (NVML), `13.0`.
    pub cuda_version: Option<String>,
    /// From NVML where it loads (name, memory, compute capability), else from
    /// /proc/driver/nvidia/gpus with the compute capability of known parts.
    pub gpus: Vec<crate::nvml::NvidiaGpu>,
    pub device_nodes: Vec<String>,
    /// The CDI spec for `nvidia.com/gpu`, if the NVIDIA Container Toolkit wrote one.
    pub cdi_spec: Option<String>,
}

impl HostFacts {
    /// A host build argument's value on this host: `CUDA_ARCHITECTURES` from
    /// the compute capability of its NVIDIA GPUs, else the documented fallback
    /// (`backend::CUDA_ARCHITECTURES_FALLBACK`).
    pub fn build_arg(&self, arg: HostBuildArg) -> Resolved {
        match arg {
            HostBuildArg::CudaArchitectures => {
                let caps: Vec<String> = self
                    .nvidia
                    .iter()
                    .flat_map(|n| n.gpus.iter().filter_map(|g| g.compute_capability.clone()))
                    .collect();
                match cuda_architectures(&caps) {
                    Some(value) => Resolved {
                        value,
                        from_host: true,
                    },
                    None => Resolved {
                        value: CUDA_ARCHITECTURES_FALLBACK.to_string(),
                        from_host: false,
                    },
                }
            }
        }
    }
}

impl NvidiaFacts {
    /// What the host's driver files say, with NVML's answers (when given) in
    /// place of /proc's.
    pub fn from(host: &nvidia::NvidiaHost, nvml: Option<&dyn crate::nvml::Nvidia>) -> NvidiaFacts {
        let (gpus, driver) = match nvml {
            Some(n) => (n.gpus(), n.driver()),
            None => (Vec::new(), crate::nvml::NvidiaDriver::default()),
        };
        NvidiaFacts {
            driver_version: driver.version.or_else(|| host.driver_version.clone()),
            cuda_version: driver.cuda_version,
            gpus: if gpus.is_empty() {
                host.gpus.clone()
            } else {
                gpus
            },
            device_nodes: host.device_nodes.clone(),
            cdi_spec: host.cdi.as_ref().map(|c| c.file.clone()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Kernel {
    /// /proc/sys/kernel/osrelease
    pub release: Option<String>,
    /// The whole of /proc/cmdline.
    pub cmdline: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Cpu {
    /// `model name` of the first processor in /proc/cpuinfo.
    pub model: Option<String>,
    /// Logical CPUs listed in /proc/cpuinfo.
    pub logical_cpus: u32,
    /// CPU feature flags that matter to llama.cpp's CPU kernels, where present.
    pub flags: Vec<String>,
}

/// Flags worth recording: the SIMD extensions llama.cpp's CPU backend selects on.
const CPU_FLAGS: &[&str] = &[
    "avx",
    "avx2",
    "fma",
    "f16c",
    "avx512f",
    "avx512bw",
    "avx512vl",
    "avx512_vnni",
    "avx512_bf16",
    "avx_vnni",
    "amx_tile",
    "sha_ni",
];

fn read(root: &Path, rel: &str) -> Option<String> {
    fs::read_to_string(root.join(rel))
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// Reads the host facts under `root`.
pub fn probe(root: &Path) -> HostFacts {
    let cpuinfo = read(root, "proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string());
    let logical_cpus = cpuinfo
        .lines()
        .filter(|l| l.starts_with("processor"))
        .count() as u32;
    let present: Vec<&str> = cpuinfo
        .lines()
        .find(|l| l.starts_with("flags"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.split_whitespace().collect())
        .unwrap_or_default();
    let flags = CPU_FLAGS
        .iter()
        .filter(|f| present.contains(f))
        .map(|f| f.to_string())
        .collect();
    let memory_bytes = read(root, "proc/meminfo").and_then(|m| {
        m.lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .map(|kb| kb * 1024)
    });
    let os = read(root, "etc/os-release").and_then(|t| {
        t.lines()
            .find_map(|l| l.strip_prefix("PRETTY_NAME="))
            .map(|v| v.trim_matches('"').to_string())
    });
    HostFacts {
        hostname: read(root, "proc/sys/kernel/hostname"),
        kernel: Kernel {
            release: read(root, "proc/sys/kernel/osrelease"),
            cmdline: read(root, "proc/cmdline"),
        },
        os,
        cpu: Cpu {
            model,
            logical_cpus,
            flags,
        },
        memory_bytes,
        gpus: gpu::probe(root),
        module_params: module_params(root),
        nvidia: nvidia_facts(root),
    }
}

/// The NVIDIA side: NVML only on the real root (a fixture tree has its /proc).
fn nvidia_facts(root: &Path) -> Option<NvidiaFacts> {
    let host = nvidia::probe(root);
    if host.driver_version.is_none() && host.device_nodes.is_empty() && host.cdi.is_none() {
        return None;
    }
    let nvml = (root == Path::new("/"))
        .then(crate::nvml::Nvml::load)
        .flatten();
    Some(NvidiaFacts::from(
        &host,
        nvml.as_ref().map(|n| n as &dyn crate::nvml::Nvidia),
    ))
}

/// The amdgpu and ttm module parameters that change how much memory a GPU gets.
const MODULE_PARAMS: &[(&str, &str)] = &[
    ("amdgpu", "gttsize"),
    ("amdgpu", "vramlimit"),
    ("amdgpu", "lockup_timeout"),
    ("amdgpu", "cwsr_enable"),
    ("ttm", "pages_limit"),
    ("ttm", "page_pool_size"),
];

fn module_params(root: &Path) -> BTreeMap<String, String> {
    MODULE_PARAMS
        .iter()
        .filter_map(|(m, p)| {
            read(root, &format!("sys/module/{m}/parameters/{p}")).map(|v| (format!("{m}.{p}"), v))
        })
        .collect()
}

#[cfg(test)]
mod tests;
