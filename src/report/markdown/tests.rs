//! The Markdown report of a hand-made manifest, checked by eye once and pinned as a
//! snapshot; the numbers in it are worked out below.

use super::*;
use crate::manifest::fixtures::{cell, run};
use crate::manifest::{Failure, Timing};
use crate::status::{CellStatus, FailureMode, RunStatus};

fn manifest() -> Manifest {
    let plan = crate::plan::builtin(2).unwrap();
    let host = crate::host::probe(std::path::Path::new("/nonexistent"));
    let mut m = Manifest::new("r1", plan, host, None);
    m.created_at = "2026-11-26T00:00:00.000Z".into();
    m.updated_at = "2026-11-26T00:05:00.000Z".into();
    m.status = RunStatus::Complete;
    m.tool.version = "0.1.0".into();
    m.tool.commit = Some("0123456789abcdef0123456789abcdef01234567".into());
    m.integrity.sha256 = "ab".repeat(32);
    // gen 70, 72 (warm-up 10 excluded): mean 71, sd sqrt(2) = 1.414 -> "71.0 ± 1.4".
    // pp 800, 810: mean 805, sd 7.07 -> "805 ± 7". ttft 40, 44: "42 ± 3".
    m.cells.push(cell(
        31,
        "default",
        vec![
            run(10.0, 100.0, 900.0, true),
            run(70.0, 800.0, 40.0, false),
            run(72.0, 810.0, 44.0, false),
        ],
        None,
    ));
    // Telemetry of the first cell's measured runs: 24.5 and 25 GiB taken, 26 GiB
    // gone from MemAvailable, 58 and 59 °C, 95.5 W of SoC power (shown 96), 3 s of
    // cool-down in all; the section shows the maxima.
    for (i, r) in m.cells[0].runs.iter_mut().enumerate().skip(1) {
        r.telemetry = Some(crate::telemetry::RunTelemetry {
            available: true,
            samples: 4,
            peak_delta_bytes: Some((24 << 30) + (i as i64 - 1) * (1 << 29)),
            mem_available_drop_bytes: Some(26 << 30),
            max_edge_c: Some(57.0 + i as f64),
            max_power_w: Some(95.5),
            power_sources: vec![crate::telemetry::PowerSource {
                file: "/sys/class/drm/card1/device/hwmon/hwmon5/power1_input".into(),
                scope: "SoC".into(),
            }],
            ..Default::default()
        });
        r.cooldown = Some(crate::telemetry::sampler::CoolDown {
            edge_c_at_start: Some(55.0),
            waited_s: 1.5,
            reached: true,
            note: None,
        });
    }
    // One measured run: the mean alone, no sd.
    m.cells.push(cell(
        461,
        "default",
        vec![run(65.0, 1200.0, 390.0, false)],
        None,
    ));
    // Compared with a reference run: the third token differs.
    m.cells[1].agreement = Some(crate::agreement::compare(
        "cpu.m.ref.p461",
        &[1, 2, 3, 4],
        &[1, 2, 9, 4],
    ));
    m.cells.push(cell(
        31,
        "q8",
        vec![],
        Some(Failure {
            mode: FailureMode::Hang,
            message: "run 1 of 5: no token for 120 s after 3 tokens (stall timeout)".into(),
            evidence: vec!["container running".into()],
        }),
    ));
    // The same hang on the q8 variant's second cell: one row "2/2 cells" in the
    // study-style table. A crash with a log signature on a third variant: its
    // signature line is the evidence shown, not the container state.
    m.cells.push(cell(
        461,
        "q8",
        vec![],
        Some(Failure {
            mode: FailureMode::Hang,
            message: "run 1 of 5: no token for 120 s after 3 tokens (stall timeout)".into(),
            evidence: vec!["container running".into()],
        }),
    ));
    m.cells.push(cell(
        31,
        "graphs",
        vec![],
        Some(Failure {
            mode: FailureMode::Oom,
            message: "run 1 of 5: the stream ended".into(),
            evidence: vec![
                "container exited, exit code 134".into(),
                "ggml_cuda_compute_forward: ROCm error: out of memory".into(),
                "log: in function hipGraphInstantiate".into(),
            ],
        }),
    ));
    m.cells[4]
        .variant
        .env
        .insert("GGML_CUDA_DISABLE_GRAPHS".into(), "1".into());
    // llama-bench: one backend measured, one failed.
    let lb = |backend: &str, results: serde_json::Value, failure: Option<Failure>| {
        crate::manifest::LlamaBenchRecord {
            backend: crate::backend::Backend::parse(backend).unwrap(),
            source: "default".into(),
            model: "gemma-3-270m-q4_k_m".into(),
            argv: vec![],
            notes: if failure.is_none() {
                vec![]
            } else {
                vec!["no -d".into()]
            },
            status: if failure.is_none() {
                CellStatus::Ok
            } else {
                CellStatus::Failed
            },
            failure,
            results: results.as_array().cloned().unwrap_or_default(),
            seconds: 1.0,
            log: "logs/x.log".into(),
        }
    };
    m.llama_bench.push(lb(
        "cpu",
        serde_json::json!([
            {"n_prompt": 512, "n_gen": 0, "n_depth": 0, "avg_ts": 812.46, "stddev_ts": 3.21},
            {"n_prompt": 0, "n_gen": 128, "n_depth": 0, "avg_ts": 70.04, "stddev_ts": 0.55}
        ]),
        None,
    ));
    m.llama_bench.push(lb(
        "vulkan",
        serde_json::json!([]),
        Some(Failure {
            mode: FailureMode::Crash,
            message: "llama-bench exited with 1".into(),
            evidence: vec![],
        }),
    ));
    m.timing = Timing {
        total_s: 100.0,
        fetch_s: 1.0,
        build_s: 2.0,
        model_load_s: 3.0,
        warmup_requests_s: 4.0,
        measured_requests_s: 88.0,
        cooldown_s: 0.0,
        other_s: 2.0,
    };
    m
}

#[test]
fn mean_and_sd_by_hand() {
    let m = manifest();
    let s = &m.cells[0].stats[&crate::metric::Metric::GenTps];
    assert_eq!(mean_sd(s, 1), "71.0 ± 1.4");
    assert_eq!(
        mean_sd(&m.cells[0].stats[&crate::metric::Metric::PpTps], 0),
        "805 ± 7"
    );
    assert_eq!(
        mean_sd(&m.cells[1].stats[&crate::metric::Metric::GenTps], 1),
        "65.0"
    );
}

#[test]
fn report_snapshot() {
    insta::assert_snapshot!(render(&manifest()));
}
