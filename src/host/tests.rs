//! Host probes and diagnoses against the fixture trees in tests/fixtures/hosts.

use std::path::{Path, PathBuf};

use super::diagnose::{Context, Level, diagnose};
use super::*;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/hosts")
        .join(name)
}

fn context(root: &Path, models: &[(&str, u64)]) -> Context {
    Context {
        has_kfd: devices::has_kfd(root),
        render_nodes: devices::render_nodes(root),
        device_groups: Vec::new(),
        user_groups: Vec::new(),
        is_root: true,
        models: models.iter().map(|(n, b)| (n.to_string(), *b)).collect(),
    }
}

fn messages(root: &Path, models: &[(&str, u64)]) -> Vec<(Level, String)> {
    diagnose(&probe(root), &context(root, models))
        .into_iter()
        .map(|d| (d.level, d.message))
        .collect()
}

#[test]
fn strix_halo_facts() {
    let h = probe(&fixture("strix-halo"));
    assert_eq!(h.kernel.release.as_deref(), Some("6.18.4-200.fc43.x86_64"));
    assert!(
        h.kernel
            .cmdline
            .as_deref()
            .unwrap()
            .contains("ttm.pages_limit=25165824")
    );
    assert_eq!(h.os.as_deref(), Some("Fedora Linux 43 (Server Edition)"));
    assert_eq!(
        h.cpu.model.as_deref(),
        Some("AMD RYZEN AI MAX+ 395 w/ Radeon 8060S")
    );
    assert_eq!(h.cpu.logical_cpus, 32);
    assert_eq!(h.memory_bytes, Some(131_072_000 * 1024));
    assert_eq!(h.gpus.len(), 1, "connectors are not cards");
    let g = &h.gpus[0];
    assert_eq!(g.card, "card1");
    assert_eq!(g.pci_id.as_deref(), Some("1002:1586"));
    assert_eq!(g.pci_slot.as_deref(), Some("0000:c5:00.0"));
    assert_eq!(g.driver.as_deref(), Some("amdgpu"));
    assert_eq!(g.render_node.as_deref(), Some("/dev/dri/renderD128"));
    assert_eq!(g.gfx_target.as_deref(), Some("gfx1151"));
    assert_eq!(g.vram_total_bytes, Some(536_870_912));
    assert_eq!(g.gtt_total_bytes, Some(103_079_215_104));
    assert_eq!(g.vbios_version.as_deref(), Some("113-STRXLGEN-001"));
    assert_eq!(
        g.firmware.get("mec").map(String::as_str),
        Some("0x00000024")
    );
    assert_eq!(
        h.module_params.get("ttm.pages_limit").map(String::as_str),
        Some("25165824")
    );
    assert_eq!(
        h.module_params.get("amdgpu.gttsize").map(String::as_str),
        Some("-1")
    );
}

#[test]
fn strix_halo_diagnosis_sees_the_carve_out_and_no_trap() {
    let root = fixture("strix-halo");
    let m = messages(&root, &[("qwen3.6-35b-a3b", 26_000_000_000)]);
    assert!(
        m.iter()
            .any(|(_, s)| s.starts_with("card1: 1002:1586 gfx1151, VRAM 0.5 GiB, GTT 96.0 GiB")),
        "{m:?}"
    );
    assert!(
        m.iter()
            .any(|(_, s)| s.contains("small carve-out (0.5 GiB)")),
        "{m:?}"
    );
    assert!(
        m.iter().all(|(l, _)| *l == Level::Info),
        "no warnings expected: {m:?}"
    );
}

#[test]
fn strix_halo_96g_diagnosis_finds_its_traps() {
    let root = fixture("strix-halo-96g");
    let m = messages(&root, &[("gemma-4-31b-q8_0", 40 * (1 << 30))]);
    let warn = |needle: &str| {
        m.iter()
            .any(|(l, s)| *l == Level::Warn && s.contains(needle))
    };
    assert!(
        warn("amdgpu.gttsize is deprecated: set ttm.pages_limit"),
        "{m:?}"
    );
    assert!(warn("kernel 6.17.7 is older than 6.18.4"), "{m:?}");
    assert!(
        m.iter()
            .any(|(_, s)| s.contains("amd_iommu=off is not set")),
        "{m:?}"
    );
    assert!(
        !m.iter().any(|(_, s)| s.contains("small carve-out")),
        "{m:?}"
    );
    // 40 GiB fits in 96 GiB VRAM + 15.6 GiB GTT.
    assert!(!warn("is larger than"), "{m:?}");
}

#[test]
fn a_model_larger_than_vram_and_gtt_is_flagged() {
    let root = fixture("discrete-rx7900xtx");
    let m = messages(&root, &[("huge", 80 * (1 << 30))]);
    assert!(
        m.iter().any(|(l, s)| *l == Level::Warn
            && s.contains("model huge (80.0 GiB) is larger than card0's VRAM + GTT (55.2 GiB)")),
        "{m:?}"
    );
}

#[test]
fn discrete_gpu_facts() {
    let h = probe(&fixture("discrete-rx7900xtx"));
    let g = &h.gpus[0];
    assert_eq!(g.gfx_target.as_deref(), Some("gfx1100"));
    assert_eq!(g.pci_id.as_deref(), Some("1002:744c"));
    assert_eq!(g.vram_total_bytes, Some(25_753_026_560));
}

#[test]
fn no_gpu_machine() {
    let root = fixture("no-gpu");
    let h = probe(&root);
    assert!(h.gpus.is_empty());
    assert!(h.module_params.is_empty());
    let m = messages(&root, &[]);
    assert_eq!(m.len(), 1, "{m:?}");
    assert!(m[0].1.starts_with("no AMD GPU"), "{m:?}");
}

#[test]
fn an_nvidia_host_is_not_told_that_vulkan_falls_back_to_software() {
    let root = fixture("nvidia-h200");
    let m = messages(&root, &[]);
    let first = &m
        .iter()
        .find(|(_, t)| t.starts_with("no AMD GPU"))
        .expect("the no-AMD line")
        .1;
    assert!(first.contains("the NVIDIA GPU serves cuda"), "{m:?}");
    assert!(!first.contains("falls back to software"), "{m:?}");
}

#[test]
fn a_user_outside_the_render_group_is_told_how_to_join() {
    let root = fixture("strix-halo");
    let mut cx = context(&root, &[]);
    cx.is_root = false;
    cx.user_groups = vec![1000];
    cx.device_groups = vec![("/dev/kfd".to_string(), 105, Some("render".to_string()))];
    let d = diagnose(&probe(&root), &cx);
    assert!(
        d.iter().any(|d| d.level == Level::Warn
            && d.message.contains(
                "not in group render (gid 105) that owns /dev/kfd: sudo usermod -aG render $USER"
            )),
        "{d:?}"
    );
}

#[test]
fn a_gpu_without_kfd_cannot_run_rocm() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = probe(&fixture("discrete-rx7900xtx"));
    h.gpus[0].gfx_target = None;
    let cx = context(dir.path(), &[]);
    let d = diagnose(&h, &cx);
    assert!(
        d.iter().any(|d| d.message.starts_with("no /dev/kfd")),
        "{d:?}"
    );
    assert!(
        d.iter().any(|d| d.message.starts_with("no render node")),
        "{d:?}"
    );
}

#[test]
fn missing_files_give_empty_facts_not_errors() {
    let dir = tempfile::tempdir().unwrap();
    let h = probe(dir.path());
    assert!(h.gpus.is_empty());
    assert_eq!(h.kernel.release, None);
    assert_eq!(h.cpu.logical_cpus, 0);
}

#[test]
fn this_machine_has_a_kernel_and_cpus() {
    let h = probe(Path::new("/"));
    assert!(h.kernel.release.is_some());
    assert!(h.kernel.cmdline.is_some());
    assert!(h.cpu.logical_cpus >= 1);
}

#[test]
fn cuda_architectures_resolve_from_the_host_else_the_fallback() {
    let arg = HostBuildArg::CudaArchitectures;
    // An H200 (compute capability 9.0) from /proc/driver/nvidia/gpus.
    assert_eq!(
        probe(&fixture("nvidia-h200")).build_arg(arg),
        Resolved {
            value: "90".into(),
            from_host: true
        }
    );
    let r = probe(&fixture("no-gpu")).build_arg(arg);
    assert_eq!(r.value, CUDA_ARCHITECTURES_FALLBACK);
    assert!(!r.from_host);
}
