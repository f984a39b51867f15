//! The known traps of running llama.cpp on AMD GPUs, found in the host facts: a pure
//! function, so each fixture (Strix Halo, discrete GPU, no GPU) has its diagnosis
//! checked in tests. The advice comes from what Strix Halo owners report
//! (shared/reference/toolchains.md).

use super::HostFacts;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Info,
    Warn,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnosis {
    pub level: Level,
    pub message: String,
}

/// What the diagnosis needs beyond the host facts.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub has_kfd: bool,
    pub render_nodes: Vec<String>,
    /// (device path, owning gid, group name if known)
    pub device_groups: Vec<(String, u32, Option<String>)>,
    /// The groups of the user running rigbench; root needs none.
    pub user_groups: Vec<u32>,
    pub is_root: bool,
    /// Models the plan will load: (name, bytes).
    pub models: Vec<(String, u64)>,
}

/// Kernel release "6.18.4-200.fc43.x86_64" → (6, 18, 4).
pub fn kernel_version(release: &str) -> Option<(u32, u32, u32)> {
    let mut parts = release
        .split(|c: char| !c.is_ascii_digit())
        .filter(|p| !p.is_empty())
        .map(|p| p.parse::<u32>().ok());
    Some((
        parts.next()??,
        parts.next()??,
        parts.next().flatten().unwrap_or(0),
    ))
}

const GIB: f64 = (1u64 << 30) as f64;

pub fn diagnose(h: &HostFacts, cx: &Context) -> Vec<Diagnosis> {
    let mut out = Vec::new();
    let mut say = |level, message: String| out.push(Diagnosis { level, message });
    let cmdline = h.kernel.cmdline.clone().unwrap_or_default();
    let has_param = |p: &str| cmdline.split_whitespace().any(|w| w.starts_with(p));
    let amd: Vec<_> = h
        .gpus
        .iter()
        .filter(|g| g.driver.as_deref() == Some("amdgpu"))
        .collect();
    if amd.is_empty() {
        // On an NVIDIA host Vulkan runs on NVIDIA's driver where it is usable:
        // the backend lines say which, so nothing here claims a fallback.
        let message = if h.nvidia.is_some() {
            "no AMD GPU (amdgpu driver) found: the NVIDIA GPU serves cuda, and vulkan where NVIDIA's Vulkan driver is usable (see the backend lines)"
        } else {
            "no AMD GPU (amdgpu driver) found: the CPU backend runs; Vulkan falls back to software"
        };
        say(Level::Info, message.to_string());
    }
    for g in &amd {
        let vram = g.vram_total_bytes.unwrap_or(0) as f64;
        let gtt = g.gtt_total_bytes.unwrap_or(0) as f64;
        say(
            Level::Info,
            format!(
                "{}: {} {}, VRAM {:.1} GiB, GTT {:.1} GiB",
                g.card,
                g.pci_id.as_deref().unwrap_or("?"),
                g.gfx_target
                    .as_deref()
                    .unwrap_or("gfx target unknown (no KFD topology)"),
                vram / GIB,
                gtt / GIB
            ),
        );
        if vram > 0.0 && vram <= 2.0 * GIB && gtt > 4.0 * vram {
            say(
                Level::Info,
                format!(
                    "{}: a small carve-out ({:.1} GiB) with large GTT: model memory lands in GTT, so peak use is the rise of VRAM + GTT used",
                    g.card,
                    vram / GIB
                ),
            );
        }
        for (name, bytes) in &cx.models {
            if vram + gtt > 0.0 && *bytes as f64 > vram + gtt {
                say(
                    Level::Warn,
                    format!(
                        "model {name} ({:.1} GiB) is larger than {}'s VRAM + GTT ({:.1} GiB): raise ttm.pages_limit (pages of 4 KiB) on the kernel command line",
                        *bytes as f64 / GIB,
                        g.card,
                        (vram + gtt) / GIB
                    ),
                );
            }
        }
        if g.gfx_target.as_deref() == Some("gfx1151") {
            if let Some(v) = h.kernel.release.as_deref().and_then(kernel_version) {
                if v < (6, 18, 4) {
                    say(
                        Level::Warn,
                        format!(
                            "kernel {}.{}.{} is older than 6.18.4, recommended for ROCm on gfx1151",
                            v.0, v.1, v.2
                        ),
                    );
                }
            }
        }
    }
    if !amd.is_empty() {
        if !cx.has_kfd {
            say(
                Level::Warn,
                "no /dev/kfd: the ROCm backends cannot run (amdgpu without KFD compute support?)"
                    .to_string(),
            );
        }
        if cx.render_nodes.is_empty() {
            say(
                Level::Warn,
                "no render node under /dev/dri: neither Vulkan nor ROCm can use the GPU"
                    .to_string(),
            );
        }
        if has_param("amdgpu.gttsize=") {
            say(
                Level::Warn,
                if has_param("ttm.pages_limit=") {
                    "both amdgpu.gttsize and ttm.pages_limit are set: amdgpu.gttsize is deprecated and the two disagree; keep ttm.pages_limit only"
                } else {
                    "amdgpu.gttsize is deprecated: set ttm.pages_limit (and ttm.page_pool_size) instead"
                }
                .to_string(),
            );
        }
        if !has_param("amd_iommu=off") {
            say(
                Level::Info,
                "amd_iommu=off is not set: owners report it 5-12 % faster than iommu=pt for generation".to_string(),
            );
        }
    }
    if !cx.is_root {
        for (dev, gid, name) in &cx.device_groups {
            if !cx.user_groups.contains(gid) {
                say(
                    Level::Warn,
                    format!(
                        "you are not in group {} (gid {gid}) that owns {dev}: sudo usermod -aG {} $USER, then log in again",
                        name.as_deref().unwrap_or("?"),
                        name.as_deref().unwrap_or("<group>")
                    ),
                );
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_versions() {
        assert_eq!(kernel_version("6.18.4-200.fc43.x86_64"), Some((6, 18, 4)));
        assert_eq!(kernel_version("6.17"), Some((6, 17, 0)));
        assert_eq!(kernel_version("6.18.44-fc-v669"), Some((6, 18, 44)));
        assert_eq!(kernel_version("weird"), None);
    }
}
