//! The CPU and Vulkan images side by side through real Podman on the real model:
//! both built (Vulkan from the same source, on Mesa's llvmpipe here), both measured,
//! their greedy outputs compared token by token, and llama-bench run in both.
//! At 31 prompt tokens the two backends generate the same tokens (at 461 they part
//! after a few: the CPU's choice there leads the runner-up by less than one nat
//! and llvmpipe's numerics flip it; that prompt is no longer run, see the plan).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{COMMIT, run_plan};
use rigbench::backend::Backend;
use rigbench::manifest::{Cell, Manifest};
use rigbench::metric::Metric;
use rigbench::status::{CellStatus, RunStatus};
use serde_json::{Value, json};

fn cell(m: &Manifest, backend: Backend, prompt: u32) -> &Cell {
    m.cells
        .iter()
        .find(|c| c.backend == backend && c.prompt_tokens == prompt)
        .unwrap_or_else(|| panic!("no {backend} cell for {prompt} tokens"))
}

#[test]
#[ignore = "needs Podman and the model: scripts/test.sh runs it"]
fn cpu_and_vulkan_images_measure_the_same_model_and_agree() {
    let (_work, out, m) = run_plan("e2e-vulkan.toml");
    assert_eq!(m.status, RunStatus::Complete);

    assert_eq!(m.images.len(), 2);
    let vulkan = m
        .images
        .iter()
        .find(|i| i.backend == Backend::Vulkan)
        .unwrap();
    assert_eq!(vulkan.containerfile, "Containerfile.vulkan");
    assert!(
        vulkan.build_info["cmake_flags"]
            .as_array()
            .unwrap()
            .contains(&Value::from("-DGGML_VULKAN=ON"))
    );
    assert!(vulkan.llama_cpp.version_output.contains(COMMIT));
    // The Vulkan device and driver, and the Mesa version read inside the image.
    let device = &vulkan.devices[0];
    assert!(
        device.get("deviceName").is_some_and(|d| !d.is_empty()),
        "{device:?}"
    );
    assert!(device["driverInfo"].contains("Mesa"), "{device:?}");
    assert!(vulkan.toolchain.get("mesa").is_some_and(|v| !v.is_empty()));
    // llama.cpp itself sees the Vulkan device with the environment rigbench sets.
    let llama_devices = &vulkan.llama_devices;
    assert!(
        llama_devices.iter().any(|d| d.starts_with("Vulkan0:")),
        "{llama_devices:?}"
    );

    let c = cell(&m, Backend::Cpu, 31);
    let v = cell(&m, Backend::Vulkan, 31);
    assert_eq!(c.status, CellStatus::Ok);
    assert_eq!(v.status, CellStatus::Ok);
    // Mesa's shader cache, shared by the run's Vulkan containers and kept
    // between runs: the pipelines llvmpipe compiled are in it (without it the
    // llama-bench container compiled them all again: 180 s against 11 s here).
    let (v_server, c_server) = (v.server.as_ref().unwrap(), c.server.as_ref().unwrap());
    let shader_cache = v_server
        .passthrough
        .shader_cache
        .as_deref()
        .unwrap_or_else(|| panic!("no shader cache: {:?}", v_server.passthrough));
    assert!(c_server.passthrough.shader_cache.is_none());
    let cached = walk_files(std::path::Path::new(shader_cache));
    assert!(cached > 0, "nothing in the shader cache {shader_cache}");
    // Meant for the software driver (no GPU here), and said so.
    assert_eq!(
        v_server.passthrough.vulkan_driver,
        Some(rigbench::host::devices::VulkanDriver::Software)
    );
    assert!(
        v_server.passthrough.notes[0].contains("Vulkan runs on Mesa's software driver (llvmpipe)"),
        "{:?}",
        v_server.passthrough.notes
    );
    // The server ran on the Vulkan device, not on a CPU fallback.
    let seen = &v_server.devices_seen;
    assert!(
        !seen.iter().any(|l| l.contains("no usable GPU")),
        "the Vulkan server fell back to the CPU: {seen:?}"
    );
    assert!(v.stats[&Metric::GenTps].mean > 0.0);
    // Greedy decoding, compared with the CPU cell by rigbench itself: at the
    // short prompt, the same 16 tokens on both backends.
    let a = v.agreement.as_ref().unwrap();
    assert_eq!(a.reference, c.id);
    let (ct, vt) = (&c.runs[1].token_ids, &v.runs[1].token_ids);
    let prefix = ct.iter().zip(vt).take_while(|(x, y)| x == y).count();
    assert_eq!(a.compared, 16);
    assert_eq!(a.matching_prefix, prefix);
    assert_eq!(ct, vt, "CPU and Vulkan disagree at 31 prompt tokens");
    assert!(a.first_divergence.is_none());
    assert!(
        c.agreement.is_none(),
        "the reference cell has no agreement of its own"
    );

    assert_eq!(m.llama_bench.len(), 2);
    for r in &m.llama_bench {
        assert_eq!(r.status, CellStatus::Ok, "{r:?}");
        assert_eq!(r.results.len(), 2, "pp16 and tg4: {:?}", r.results);
        assert!(
            r.results
                .iter()
                .all(|x| x["avg_ts"].as_f64().unwrap() > 0.0)
        );
        assert!(r.argv.iter().any(|a| a == "--load-mode"));
    }
    // Both runs were planned (the dry run's command lines), and a current
    // llama-bench took the planned arguments as they were.
    assert_eq!(m.llama_bench_planned.len(), 2);
    for p in &m.llama_bench_planned {
        let r = m.llama_bench.iter().find(|r| p.is(r)).unwrap();
        assert_eq!(p.argv, r.argv, "{p:?}");
    }

    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(report.contains("| prompt tokens | cpu/small"), "{report}");
    assert!(report.contains("vulkan/small"), "{report}");
    assert!(report.contains("## llama-bench"), "{report}");
    assert!(!report.contains("Not reached"), "{report}");
    assert!(report.contains("| pp16 "), "{report}");
    assert!(
        report.contains("llvmpipe (software: CPU numbers)"),
        "the report says what the vulkan cells were meant for: {report}"
    );
    assert!(
        report.contains("Vulkan0 (llvmpipe"),
        "and where llama.cpp put the model: {report}"
    );

    // The two backends of this one run compared with each other: every cell
    // matched, llvmpipe's generation far below the CPU's, and the two images
    // named in the setup differences.
    let cmp = common::rigbench_ok(
        &[
            "compare",
            out.to_str().unwrap(),
            "--within",
            "backend",
            "cpu",
            "vulkan",
            "--json",
        ],
        out.parent().unwrap(),
    );
    let c: Value = serde_json::from_slice(&cmp.stdout).unwrap();
    let cells = c["cells"].as_array().unwrap();
    assert_eq!(cells.len(), m.cells.len() / 2);
    for cell in cells {
        assert_eq!(cell["key"]["backend"], "cpu→vulkan");
        let ratio = cell["metrics"][0]["ratio"]["ratio"].as_f64().unwrap();
        assert!(ratio < 0.5, "vulkan/cpu generation {ratio}");
    }
    // Each image's fields beside the other's, under the label.
    let fields = common::setup_fields(&c);
    assert!(
        fields
            .iter()
            .all(|f| !f.starts_with("image[cpu@") && !f.starts_with("image[vulkan@")),
        "{fields:?}"
    );
    let backend = c["setup"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["field"] == "image[cpu→vulkan@default].backend")
        .unwrap_or_else(|| panic!("{fields:?}"));
    assert_eq!(
        (&backend["a"], &backend["b"]),
        (&json!("cpu"), &json!("vulkan"))
    );
}

/// The number of files under `dir`, recursively.
fn walk_files(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| {
                    let p = e.path();
                    if p.is_dir() { walk_files(&p) } else { 1 }
                })
                .sum()
        })
        .unwrap_or(0)
}
