//! `rigbench doctor`'s host section: the OS, kernel and its command line, the
//! CPU, memory and module parameters as key/value columns, then each GPU (AMD
//! cards through sysfs, NVIDIA's through NVML or /proc) and NVIDIA's CDI spec.
//! A pure function of the host's facts.

use std::fmt::Write as _;

use crate::host::HostFacts;
use crate::render::{Table, terminal};

const GIB: f64 = (1u64 << 30) as f64;

pub(super) fn gib(b: Option<u64>) -> String {
    b.map_or("?".to_string(), |b| format!("{:.1} GiB", b as f64 / GIB))
}

/// The host section as `doctor` prints it.
pub(super) fn text(h: &HostFacts) -> String {
    let mut out = String::from("host\n");
    let or_unknown = |s: Option<&String>| s.map_or("?".to_string(), String::clone);
    let mut facts = Table::default();
    facts.push(["os:".to_string(), or_unknown(h.os.as_ref())]);
    facts.push(["kernel:".to_string(), or_unknown(h.kernel.release.as_ref())]);
    facts.push([
        "cmdline:".to_string(),
        or_unknown(h.kernel.cmdline.as_ref()),
    ]);
    facts.push([
        "cpu:".to_string(),
        format!(
            "{} ({} logical; {})",
            or_unknown(h.cpu.model.as_ref()),
            h.cpu.logical_cpus,
            h.cpu.flags.join(" ")
        ),
    ]);
    facts.push(["memory:".to_string(), gib(h.memory_bytes)]);
    out.push_str(&terminal::columns(&facts, 2));
    let mut params = Table::default();
    for (k, v) in &h.module_params {
        params.push([k.clone(), format!("= {v}")]);
    }
    out.push_str(&terminal::columns(&params, 2));
    gpus(&mut out, h);
    out
}

/// Each GPU, one line a card with its firmware below; NVIDIA's driver, its
/// GPUs and its CDI spec.
fn gpus(out: &mut String, h: &HostFacts) {
    for g in &h.gpus {
        let _ = writeln!(
            out,
            "gpu {}: {} {} driver {} render {} VRAM {} GTT {}",
            g.card,
            g.pci_id.as_deref().unwrap_or("?"),
            g.gfx_target.as_deref().unwrap_or("(no KFD target)"),
            g.driver.as_deref().unwrap_or("?"),
            g.render_node.as_deref().unwrap_or("none"),
            gib(g.vram_total_bytes),
            gib(g.gtt_total_bytes)
        );
        if let Some(v) = &g.vbios_version {
            let _ = writeln!(out, "  vbios {v}");
        }
        if !g.firmware.is_empty() {
            let fw: Vec<String> = g.firmware.iter().map(|(k, v)| format!("{k} {v}")).collect();
            let _ = writeln!(out, "  firmware {}", fw.join(", "));
        }
    }
    if let Some(n) = &h.nvidia {
        let _ = writeln!(
            out,
            "nvidia driver {} (CUDA {}), device nodes: {}",
            n.driver_version.as_deref().unwrap_or("?"),
            n.cuda_version.as_deref().unwrap_or("? (NVML not read)"),
            if n.device_nodes.is_empty() {
                "none".to_string()
            } else {
                n.device_nodes.join(" ")
            }
        );
        for g in &n.gpus {
            let _ = writeln!(
                out,
                "gpu nvidia{}: {} compute capability {} memory {} bus {} ({})",
                g.index,
                g.name,
                g.compute_capability.as_deref().unwrap_or("?"),
                gib(g.memory_total_bytes),
                g.pci_bus_id.as_deref().unwrap_or("?"),
                g.source
            );
        }
        match &n.cdi_spec {
            Some(f) => {
                let _ = writeln!(out, "  CDI spec for nvidia.com/gpu: {f}");
            }
            None => {
                let _ = writeln!(
                    out,
                    "  no CDI spec for nvidia.com/gpu (/etc/cdi, /var/run/cdi): rigbench passes the device nodes and the driver's libraries itself; to make one: nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_strix_halo_fixture_host_as_key_value_columns() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/hosts/strix-halo");
        let t = text(&crate::host::probe(&root));
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0], "host");
        assert_eq!(lines[1], "  os:       Fedora Linux 43 (Server Edition)");
        assert_eq!(lines[2], "  kernel:   6.18.4-200.fc43.x86_64");
        assert!(
            lines[4]
                .starts_with("  cpu:      AMD RYZEN AI MAX+ 395 w/ Radeon 8060S (32 logical; avx ")
        );
        assert_eq!(lines[5], "  memory:   125.0 GiB");
        // The module parameters in columns of their own.
        assert_eq!(lines[6], "  amdgpu.cwsr_enable  = 1");
        assert_eq!(lines[9], "  ttm.pages_limit     = 25165824");
        assert!(lines[10].starts_with("gpu card"), "{t}");
    }

    #[test]
    fn unknown_facts_and_sizes_read_as_a_question_mark() {
        assert_eq!(gib(None), "?");
        assert_eq!(gib(Some(3 << 29)), "1.5 GiB");
    }
}
