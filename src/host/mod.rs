//! Host facts for the manifest and `doctor`: kernel release and full command line,
//! OS, CPU, memory, GPUs. Everything is read from files under an injectable root
//! (`/` on a real host), so tests present fixture trees of other machines.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct HostFacts {
    pub hostname: Option<String>,
    pub kernel: Kernel,
    /// `PRETTY_NAME` from os-release.
    pub os: Option<String>,
    pub cpu: Cpu,
    /// `MemTotal` from /proc/meminfo, in bytes.
    pub memory_bytes: Option<u64>,
    pub gpus: Vec<Gpu>,
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

/// A DRM device, from /sys/class/drm/cardN/device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Gpu {
    pub card: String,
    /// `vendor:device`, for example `1002:1586`.
    pub pci_id: Option<String>,
    pub pci_slot: Option<String>,
    pub driver: Option<String>,
    /// mem_info_vram_total, bytes.
    pub vram_total_bytes: Option<u64>,
    /// mem_info_gtt_total, bytes.
    pub gtt_total_bytes: Option<u64>,
    pub vbios_version: Option<String>,
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
        gpus: gpus(root),
    }
}

/// The DRM cards (`cardN`, not connectors such as `card0-DP-1`), sorted.
fn gpus(root: &Path) -> Vec<Gpu> {
    let drm = root.join("sys/class/drm");
    let mut cards: Vec<String> = fs::read_dir(&drm)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| {
                    n.strip_prefix("card")
                        .is_some_and(|d| d.chars().all(|c| c.is_ascii_digit()) && !d.is_empty())
                })
                .collect()
        })
        .unwrap_or_default();
    cards.sort_by_key(|c| c[4..].parse::<u32>().unwrap_or(u32::MAX));
    cards
        .into_iter()
        .map(|card| {
            let dev: PathBuf = drm.join(&card).join("device");
            let rel = |f: &str| dev.join(f);
            let get = |f: &str| {
                fs::read_to_string(rel(f))
                    .ok()
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
            };
            let uevent = get("uevent").unwrap_or_default();
            let field = |k: &str| {
                uevent
                    .lines()
                    .find_map(|l| l.strip_prefix(k))
                    .map(str::to_string)
            };
            let hex = |f: &str| get(f).map(|v| v.trim_start_matches("0x").to_string());
            Gpu {
                pci_id: match (hex("vendor"), hex("device")) {
                    (Some(v), Some(d)) => Some(format!("{v}:{d}")),
                    _ => None,
                },
                pci_slot: field("PCI_SLOT_NAME="),
                driver: field("DRIVER="),
                vram_total_bytes: get("mem_info_vram_total").and_then(|v| v.parse().ok()),
                gtt_total_bytes: get("mem_info_gtt_total").and_then(|v| v.parse().ok()),
                vbios_version: get("vbios_version"),
                card,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests;
