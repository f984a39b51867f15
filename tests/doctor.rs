//! `rigbench doctor` on the fixture trees of other machines: each gets its own
//! diagnosis, and the backends the default plan would run there. Doctor also
//! checks the engine and pip, and fails without them: those tests are ignored
//! in a plain `cargo test` and run by scripts/test.sh.

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
#[ignore = "needs Podman and pip, which doctor checks: scripts/test.sh runs it"]
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
#[ignore = "needs Podman and pip, which doctor checks: scripts/test.sh runs it"]
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
#[ignore = "needs Podman and pip, which doctor checks: scripts/test.sh runs it"]
fn a_discrete_gpu_is_recognised() {
    let out = doctor("discrete-rx7900xtx");
    assert!(out.contains("gpu card0: 1002:744c gfx1100"), "{out}");
    assert!(
        out.contains("the default plan here runs: cpu, vulkan, rocm6, rocm7"),
        "{out}"
    );
}

#[test]
#[ignore = "needs Podman and pip, which doctor checks: scripts/test.sh runs it"]
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
        out.contains("note: Vulkan runs on Mesa's software driver (llvmpipe), so these are CPU numbers: no DRM render node and no NVIDIA Vulkan driver"),
        "{out}"
    );
    assert!(out.contains("the default plan here runs: cpu\n"), "{out}");
}

#[test]
#[ignore = "needs Podman and pip, which doctor checks: scripts/test.sh runs it"]
fn an_nvidia_host_without_cdi_gets_its_nodes_and_read_only_driver_libraries() {
    let out = doctor("nvidia-h200");
    assert!(
        out.contains("nvidia driver 580.159.04 (CUDA ? (NVML not read)), device nodes: /dev/nvidia0 /dev/nvidia-uvm /dev/nvidia-uvm-tools /dev/nvidiactl"),
        "{out}"
    );
    assert!(
        out.contains("gpu nvidia0: NVIDIA H200 compute capability 9.0"),
        "{out}"
    );
    assert!(out.contains("no CDI spec for nvidia.com/gpu"), "{out}");
    assert!(
        out.contains(
            "cuda    ok: /dev/nvidia0 /dev/nvidia-uvm /dev/nvidia-uvm-tools /dev/nvidiactl"
        ),
        "{out}"
    );
    assert!(
        out.contains("/usr/local/nvidia/lib64/libcuda.so.1 (from /usr/local/nvidia/lib64/libcuda.so.580.159.04)"),
        "{out}"
    );
    assert!(
        out.contains("image built for CUDA architectures 90 (this host's GPUs)"),
        "{out}"
    );
    // NVIDIA's Vulkan driver: the GPU nodes, not CUDA's unified memory ones;
    // its ICD file and the libraries libGLX_nvidia loads, and its EGL part
    // (without which it makes no instance here), read-only.
    assert!(
        out.contains("NVIDIA's Vulkan driver: usable: /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json names libGLX_nvidia.so.0 (Vulkan 1.4.312); EGL part /usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json; 8 libraries"),
        "{out}"
    );
    assert!(
        out.contains("/etc/rigbench/vulkan/10_nvidia.json (from /usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json)"),
        "{out}"
    );
    assert!(
        out.contains("/usr/local/nvidia/lib64/libEGL_nvidia.so.0 (from /usr/local/nvidia/lib64/libEGL_nvidia.so.580.159.04)"),
        "{out}"
    );
    assert!(
        out.contains("vulkan  ok: /dev/nvidia0 /dev/nvidiactl\n"),
        "{out}"
    );
    assert!(
        out.contains("/etc/rigbench/vulkan/nvidia_icd.json (from /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json)"),
        "{out}"
    );
    assert!(
        out.contains("the default plan here runs: cpu, vulkan, cuda\n"),
        "{out}"
    );
    // The same driver without its Vulkan part: what is missing, and vulkan
    // left out of the default plan.
    let out = doctor("nvidia-no-vulkan");
    assert!(
        out.contains("NVIDIA's Vulkan driver: not usable: no ICD file of NVIDIA's Vulkan driver (nvidia_icd.json) in /etc/vulkan/icd.d"),
        "{out}"
    );
    assert!(
        out.contains("the default plan here runs: cpu, cuda\n"),
        "{out}"
    );
}

#[test]
#[ignore = "needs Podman and pip, which doctor checks: scripts/test.sh runs it"]
fn an_nvidia_host_with_a_cdi_spec_takes_its_devices_and_libraries_from_it() {
    let out = doctor("nvidia-cdi");
    assert!(
        out.contains("CDI spec for nvidia.com/gpu: /etc/cdi/nvidia.yaml"),
        "{out}"
    );
    assert!(
        out.contains("gpu nvidia0: NVIDIA GeForce RTX 4090 compute capability 8.9"),
        "{out}"
    );
    assert!(
        out.contains("note: devices and driver libraries from the CDI spec /etc/cdi/nvidia.yaml"),
        "{out}"
    );
    assert!(
        out.contains("image built for CUDA architectures 89"),
        "{out}"
    );
    assert!(
        !out.contains("nvidia-smi"),
        "only libraries are mounted: {out}"
    );
}

#[test]
#[ignore = "needs Podman and pip, which doctor checks: scripts/test.sh runs it"]
fn a_driver_without_device_nodes_leaves_cuda_out() {
    let out = doctor("nvidia-no-nodes");
    assert!(
        out.contains(
            "cuda    unavailable: cuda needs an NVIDIA GPU (/dev/nvidia0 and /dev/nvidiactl)"
        ),
        "{out}"
    );
    assert!(out.contains("the default plan here runs: cpu\n"), "{out}");
}

#[test]
fn dry_run_on_an_nvidia_host_lists_cuda_cells_and_here_excludes_them() {
    let root = repo().join("tests/fixtures/hosts/nvidia-h200");
    let plan = repo().join("plans/h200-cuda.toml");
    let out = rigbench(
        &[
            "run",
            "--dry-run",
            "--plan",
            plan.to_str().unwrap(),
            "--host-root",
            root.to_str().unwrap(),
        ],
        &repo(),
    );
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("matrix: 16 cells, 16 runnable here, 0 excluded"),
        "{text}"
    );
    assert!(
        text.contains("cuda.gemma-3-270m-q4_k_m.nographs.p11205"),
        "{text}"
    );
    // A host without an NVIDIA GPU: the cuda cells are excluded with the reason.
    let root = repo().join("tests/fixtures/hosts/no-gpu");
    let out = rigbench(
        &[
            "run",
            "--dry-run",
            "--plan",
            plan.to_str().unwrap(),
            "--host-root",
            root.to_str().unwrap(),
        ],
        &repo(),
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("12 cell(s): cuda needs an NVIDIA GPU (/dev/nvidia0 and /dev/nvidiactl)"),
        "{text}"
    );
}

#[test]
#[ignore = "needs Podman and pip, which doctor checks: scripts/test.sh runs it"]
fn doctor_json_holds_what_the_text_says() {
    let root = repo().join("tests/fixtures/hosts/strix-halo");
    let out = rigbench(
        &["doctor", "--host-root", root.to_str().unwrap(), "--json"],
        &repo(),
    );
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ready"], true);
    assert_eq!(
        v["default_plan_backends"],
        serde_json::json!(["cpu", "vulkan", "rocm6", "rocm7"])
    );
    let rocm6 = v["backends"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["backend"] == "rocm6")
        .unwrap();
    assert_eq!(
        rocm6["passthrough"]["devices"],
        serde_json::json!(["/dev/kfd", "/dev/dri/renderD128"])
    );
    let cuda = v["backends"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["backend"] == "cuda")
        .unwrap();
    assert!(cuda["passthrough"].is_null());
    assert!(cuda["unavailable"].as_str().unwrap().contains("NVIDIA GPU"));
    assert!(v["diagnosis"].as_array().unwrap().iter().any(
        |d| d["level"] == "info" && d["message"].as_str().unwrap().contains("small carve-out")
    ));
    assert_eq!(v["host"]["gpus"][0]["gfx_target"], "gfx1151");
    assert!(
        v["engine"]["info"]["version"].is_string(),
        "{}",
        v["engine"]
    );
}
