//! `rigbench doctor` on the fixture trees of other machines: each gets its own
//! diagnosis, and the backends the default plan would run there.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{repo, rigbench};

fn doctor(fixture: &str) -> String {
    let root = repo().join("tests/fixtures/hosts").join(fixture);
    let out = rigbench(&["doctor", "--host-root", root.to_str().unwrap()], &repo());
    assert!(out.status.success(), "doctor failed on {fixture}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn strix_halo_is_ready_for_every_backend_without_warnings() {
    let out = doctor("strix-halo");
    assert!(out.contains("gpu card1: 1002:1586 gfx1151 driver amdgpu render /dev/dri/renderD128 VRAM 0.5 GiB GTT 96.0 GiB"), "{out}");
    assert!(
        out.contains("rocm6   ok: /dev/kfd /dev/dri/renderD128"),
        "{out}"
    );
    assert!(
        out.contains("the default plan here runs: cpu, vulkan, rocm6, rocm7"),
        "{out}"
    );
    assert!(
        out.contains("info: card1: a small carve-out (0.5 GiB) with large GTT"),
        "{out}"
    );
    assert!(!out.contains("warn:"), "{out}");
}

#[test]
fn the_studys_strix_halo_setup_gets_its_warnings() {
    let out = doctor("strix-halo-96g");
    assert!(
        out.contains("warn: amdgpu.gttsize is deprecated: set ttm.pages_limit"),
        "{out}"
    );
    assert!(
        out.contains("warn: kernel 6.17.7 is older than 6.18.4"),
        "{out}"
    );
    assert!(out.contains("info: amd_iommu=off is not set"), "{out}");
    assert!(out.contains("ready (2 warning(s) above)"), "{out}");
}

#[test]
fn a_discrete_gpu_is_recognised() {
    let out = doctor("discrete-rx7900xtx");
    assert!(out.contains("gpu card0: 1002:744c gfx1100"), "{out}");
    assert!(
        out.contains("the default plan here runs: cpu, vulkan, rocm6, rocm7"),
        "{out}"
    );
}

#[test]
fn a_machine_without_gpu_runs_the_cpu_backend_only() {
    let out = doctor("no-gpu");
    assert!(
        out.contains("info: no AMD GPU (amdgpu driver) found"),
        "{out}"
    );
    assert!(
        out.contains("rocm6   unavailable: rocm6 needs /dev/kfd"),
        "{out}"
    );
    assert!(out.contains("vulkan  ok: no devices"), "{out}");
    assert!(
        out.contains("note: no DRM render node: Vulkan runs on Mesa's software driver"),
        "{out}"
    );
    assert!(out.contains("the default plan here runs: cpu\n"), "{out}");
}
