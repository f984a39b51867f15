//! GPUs from /sys/class/drm/cardN/device (PCI id, driver, VRAM and GTT totals,
//! VBIOS and firmware versions where readable) joined with the KFD topology
//! (/sys/class/kfd/kfd/topology/nodes/N/properties) by DRM render minor, which
//! gives the gfx target (gfx1151 on Strix Halo).

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// A DRM device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Gpu {
    pub card: String,
    /// `vendor:device`, for example `1002:1586`.
    pub pci_id: Option<String>,
    pub pci_slot: Option<String>,
    pub driver: Option<String>,
    /// The render node, for example `/dev/dri/renderD128`.
    pub render_node: Option<String>,
    /// mem_info_vram_total, bytes (on an APU: the BIOS carve-out).
    pub vram_total_bytes: Option<u64>,
    /// mem_info_gtt_total, bytes (system memory the GPU may map).
    pub gtt_total_bytes: Option<u64>,
    pub vbios_version: Option<String>,
    /// fw_version/*: firmware name → version, where readable.
    pub firmware: BTreeMap<String, String>,
    /// From the KFD topology node with the same render minor: `gfx1151`.
    pub gfx_target: Option<String>,
}

fn read(path: &Path) -> Option<String> {
    fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// The entries of `dir`, sorted by name (none where it cannot be read).
pub(crate) fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// `gfx_target_version` (major·10000 + minor·100 + stepping) as a gfx name:
/// 110501 → gfx1151, 90010 → gfx90a, 110000 → gfx1100.
pub fn gfx_name(version: u32) -> Option<String> {
    if version == 0 {
        return None;
    }
    let (major, minor, stepping) = (version / 10000, (version / 100) % 100, version % 100);
    Some(format!("gfx{major}{minor}{stepping:x}"))
}

/// KFD topology: render minor → gfx target, for the GPU nodes.
fn kfd_targets(root: &Path) -> BTreeMap<u32, String> {
    let nodes = root.join("sys/class/kfd/kfd/topology/nodes");
    let mut out = BTreeMap::new();
    for n in names(&nodes) {
        let Some(props) = read(&nodes.join(&n).join("properties")) else {
            continue;
        };
        let get = |k: &str| {
            props.lines().find_map(|l| {
                let (key, v) = l.split_once(' ')?;
                (key == k).then(|| v.trim().parse::<u32>().ok()).flatten()
            })
        };
        if let (Some(minor), Some(Some(gfx))) = (
            get("drm_render_minor"),
            get("gfx_target_version").map(gfx_name),
        ) {
            out.insert(minor, gfx);
        }
    }
    out
}

/// The DRM cards (`cardN`, not connectors such as `card0-DP-1`), by number.
pub fn probe(root: &Path) -> Vec<Gpu> {
    let drm = root.join("sys/class/drm");
    let mut cards: Vec<String> = names(&drm)
        .into_iter()
        .filter(|n| {
            n.strip_prefix("card")
                .is_some_and(|d| !d.is_empty() && d.chars().all(|c| c.is_ascii_digit()))
        })
        .collect();
    cards.sort_by_key(|c| c[4..].parse::<u32>().unwrap_or(u32::MAX));
    let kfd = kfd_targets(root);
    cards
        .into_iter()
        .map(|card| {
            let dev = drm.join(&card).join("device");
            let uevent = read(&dev.join("uevent")).unwrap_or_default();
            let field = |k: &str| {
                uevent
                    .lines()
                    .find_map(|l| l.strip_prefix(k))
                    .map(str::to_string)
            };
            let hex = |f: &str| read(&dev.join(f)).map(|v| v.trim_start_matches("0x").to_string());
            let render = names(&dev.join("drm"))
                .into_iter()
                .find(|n| n.starts_with("renderD"));
            let minor = render
                .as_deref()
                .and_then(|r| r.strip_prefix("renderD"))
                .and_then(|m| m.parse::<u32>().ok());
            let firmware = names(&dev.join("fw_version"))
                .into_iter()
                .filter_map(|f| {
                    let v = read(&dev.join("fw_version").join(&f))?;
                    Some((f.trim_end_matches("_fw_version").to_string(), v))
                })
                .collect();
            Gpu {
                pci_id: match (hex("vendor"), hex("device")) {
                    (Some(v), Some(d)) => Some(format!("{v}:{d}")),
                    _ => None,
                },
                pci_slot: field("PCI_SLOT_NAME="),
                driver: field("DRIVER="),
                render_node: render.map(|r| format!("/dev/dri/{r}")),
                vram_total_bytes: read(&dev.join("mem_info_vram_total"))
                    .and_then(|v| v.parse().ok()),
                gtt_total_bytes: read(&dev.join("mem_info_gtt_total")).and_then(|v| v.parse().ok()),
                vbios_version: read(&dev.join("vbios_version")),
                firmware,
                gfx_target: minor.and_then(|m| kfd.get(&m).cloned()),
                card,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gfx_names_from_target_versions() {
        assert_eq!(gfx_name(110501).as_deref(), Some("gfx1151"));
        assert_eq!(gfx_name(110000).as_deref(), Some("gfx1100"));
        assert_eq!(gfx_name(90010).as_deref(), Some("gfx90a"));
        assert_eq!(gfx_name(120001).as_deref(), Some("gfx1201"));
        assert_eq!(gfx_name(0), None);
    }
}
