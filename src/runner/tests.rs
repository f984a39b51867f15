//! The runner against the fake engine and fake llama-server: the whole loop, and
//! failures that must not stop the matrix.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use super::schedule::{most_runs, run_label, schedule};
use super::*;
use crate::fake::engine::FakeEngine;
use crate::host::probe;
use crate::manifest::store::RunDir;
use crate::plan::matrix::expand;
use crate::status::{CellStatus, FailureMode};

/// tests/plans/fake.toml: the fake engine never reads its source or model.
const PLAN: &str = include_str!("../../tests/plans/fake.toml");

struct Setup {
    engine: FakeEngine,
    dir: tempfile::TempDir,
    run_dir: RunDir,
    manifest: Manifest,
    matrix: Matrix,
}

fn setup(variants: &str) -> Setup {
    setup_plan(&format!("{PLAN}{variants}"))
}

fn setup_plan(text: &str) -> Setup {
    let plan = crate::plan::parse(text, "test", 2).unwrap();
    let matrix = expand(&plan);
    let dir = tempfile::tempdir().unwrap();
    let run_dir = RunDir::create(&dir.path().join("run")).unwrap();
    let mut manifest = Manifest::new(
        "t1",
        plan.clone(),
        probe(std::path::Path::new("/nonexistent")),
        None,
    );
    manifest.cells = pending_cells(&plan, &matrix);
    Setup {
        engine: FakeEngine::default(),
        dir,
        run_dir,
        manifest,
        matrix,
    }
}

async fn run(s: &mut Setup) {
    try_run(s).await.unwrap();
}

async fn try_run(s: &mut Setup) -> Result<(), RunError> {
    // Telemetry from the Strix Halo fixture: its files do not change, so every run
    // sees the same readings (45 °C, below the 60 °C cool-down threshold).
    let fixture =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hosts/strix-halo");
    let sampler = crate::telemetry::sampler::Sampler::start(
        crate::telemetry::Probe::discover(&fixture),
        std::time::Duration::from_millis(20),
    );
    let prepared = Prepared {
        image_id: "sha256:fake".to_string(),
        passthrough: Passthrough::default(),
    };
    let runner = Runner {
        engine: &s.engine,
        dir: &s.run_dir,
        run_id: "t1",
        backends: BTreeMap::from([
            ((Backend::Cpu, 0), prepared.clone()),
            ((Backend::Vulkan, 0), prepared),
        ]),
        model_files: vec![crate::fetch::ModelFiles::one(
            s.dir.path().join("m.gguf"),
            "m.gguf",
        )],
        sampler: Some(&sampler),
        rates: crate::plan::estimate::Rates::assumed(),
    };
    let mut rec = crate::manifest::recorder::Recorder::new(&s.run_dir, &mut s.manifest);
    runner.run(&mut rec, &s.matrix).await
}

#[tokio::test]
async fn a_lost_engine_stops_the_run_at_the_cell_in_flight_and_names_what_is_left() {
    let mut s = setup("");
    // The fake server is healthy at once, so the state is first asked after
    // each run: the second call comes after the first cell's first measured run.
    s.engine.lose_at_state_call.store(2, Ordering::SeqCst);
    let err = try_run(&mut s).await.unwrap_err();
    let RunError::EngineLost { error, left, .. } = &err else {
        panic!("{err}");
    };
    assert!(error.contains("unix:///fake/podman.sock"), "{error}");
    let name = s.engine.created.lock().unwrap()[0].clone();
    assert_eq!(left, &vec![name.clone()]);
    assert!(
        err.to_string()
            .contains(&format!("podman rm -f --ignore {name}")),
        "{err}"
    );
    // The container really is still there: the engine could not remove it.
    assert_eq!(s.engine.live_containers(), 1);
    let on_disk = s.run_dir.load().unwrap();
    let first = &on_disk.cells[0];
    assert_eq!(first.status, CellStatus::Failed);
    let f = first.failure.as_ref().unwrap();
    assert_eq!(f.mode, FailureMode::EngineLost);
    assert!(f.evidence[0].contains("unix:///fake/podman.sock"), "{f:?}");
    // Its runs so far are kept: the warm-up and one measured run.
    assert_eq!(first.runs.len(), 2);
    // The cell not reached is not failed: it is pending.
    assert_eq!(on_disk.cells[1].status, CellStatus::Pending);
    assert!(on_disk.cells[1].runs.is_empty());
}

#[tokio::test]
async fn every_cell_measured_and_saved_and_no_container_left() {
    let mut s = setup("");
    run(&mut s).await;
    assert_eq!(s.engine.live_containers(), 0);
    let on_disk = s.run_dir.load().unwrap();
    assert_eq!(on_disk.cells.len(), 2);
    for c in &on_disk.cells {
        assert_eq!(c.status, CellStatus::Ok, "{}", c.id);
        assert_eq!(c.runs.len(), 3);
        assert!(c.runs[0].warmup && !c.runs[1].warmup);
        assert_eq!(c.stats[&crate::metric::Metric::GenTps].n, 2);
        assert_eq!(c.runs[1].prompt_n, u64::from(c.prompt_tokens));
        assert!(c.server.as_ref().unwrap().baseline.is_some());
        // Every run has telemetry; measured runs had a cool-down (45 °C < 60 °C).
        for r in &c.runs {
            let t = r.telemetry.as_ref().unwrap();
            assert!(t.available && t.samples >= 1);
            assert_eq!(t.max_edge_c, Some(45.0));
            assert_eq!(t.peak_delta_bytes, Some(0));
            assert_eq!(r.cooldown.is_some(), !r.warmup);
        }
        assert!(c.runs[1].cooldown.as_ref().unwrap().reached);
    }
    // One server start served both prompt lengths.
    assert_eq!(s.engine.created.lock().unwrap().len(), 1);
    assert!(s.run_dir.root().join("logs/cpu.m.default.log").exists());
}

#[tokio::test]
async fn a_server_that_fails_to_load_fails_its_cells_and_the_next_group_still_runs() {
    let mut s = setup(
        r#"
[[variants]]
name = "broken"
env = { FAKE_EXIT_ON_START = "1" }
[[variants]]
name = "fine"
"#,
    );
    run(&mut s).await;
    let m = s.run_dir.load().unwrap();
    let broken: Vec<_> = m
        .cells
        .iter()
        .filter(|c| c.variant.name == "broken")
        .collect();
    let fine: Vec<_> = m
        .cells
        .iter()
        .filter(|c| c.variant.name == "fine")
        .collect();
    assert_eq!(broken.len(), 2);
    for c in broken {
        assert_eq!(c.status, CellStatus::Failed);
        let f = c.failure.as_ref().unwrap();
        assert_eq!(f.mode, FailureMode::LoadFailed);
        assert!(
            f.evidence.iter().any(|e| e.contains("error loading model")),
            "{:?}",
            f.evidence
        );
        assert!(
            f.evidence.iter().any(|e| e.contains("exit code 1")),
            "{:?}",
            f.evidence
        );
    }
    assert!(fine.iter().all(|c| c.status == CellStatus::Ok));
    assert_eq!(s.engine.live_containers(), 0);
}

#[tokio::test]
async fn a_stalled_run_is_a_hang_and_the_server_is_restarted_for_the_next_cell() {
    // Every run stalls after 3 tokens: each cell fails as a hang, and the server is
    // restarted for the second cell, so there are two starts.
    let mut s = setup(
        r#"
[[variants]]
name = "stalls"
env = { FAKE_STALL_AFTER = "3" }
"#,
    );
    run(&mut s).await;
    let m = s.run_dir.load().unwrap();
    for c in &m.cells {
        assert_eq!(c.status, CellStatus::Failed);
        assert_eq!(
            c.failure.as_ref().unwrap().mode,
            FailureMode::Hang,
            "{:?}",
            c.failure
        );
    }
    assert_eq!(s.engine.created.lock().unwrap().len(), 2);
    assert_eq!(s.engine.live_containers(), 0);
}

#[tokio::test]
async fn cleanup_removes_only_this_runs_containers() {
    let s = setup("");
    let runner = Runner {
        engine: &s.engine,
        dir: &s.run_dir,
        run_id: "t1",
        backends: BTreeMap::new(),
        model_files: vec![],
        sampler: None,
        rates: crate::plan::estimate::Rates::assumed(),
    };
    let mine = crate::engine::ContainerSpec {
        name: "mine".into(),
        labels: BTreeMap::from([
            (LABEL_MANAGED.to_string(), "true".to_string()),
            (LABEL_RUN.to_string(), "t1".to_string()),
        ]),
        ..Default::default()
    };
    let other = crate::engine::ContainerSpec {
        name: "other".into(),
        labels: BTreeMap::from([
            (LABEL_MANAGED.to_string(), "true".to_string()),
            (LABEL_RUN.to_string(), "t2".to_string()),
        ]),
        ..Default::default()
    };
    s.engine.create(&mine).await.unwrap();
    s.engine.create(&other).await.unwrap();
    assert_eq!(runner.cleanup().await.removed, 1);
    assert_eq!(s.engine.live_containers(), 1);
}

#[tokio::test]
async fn a_gpu_backend_that_finds_no_device_fails_instead_of_measuring_the_cpu() {
    let plan = crate::plan::parse(
        &PLAN.replace("name = \"cpu\"", "name = \"vulkan\""),
        "test",
        2,
    )
    .unwrap();
    let mut s = setup(
        r#"
[[variants]]
name = "nogpu"
env = { FAKE_NO_GPU = "1" }
"#,
    );
    s.manifest.plan.backends = plan.backends.clone();
    let mut vplan = s.manifest.plan.clone();
    vplan.backends = plan.backends;
    s.matrix = expand(&vplan);
    s.manifest.cells = pending_cells(&vplan, &s.matrix);
    run(&mut s).await;
    let m = s.run_dir.load().unwrap();
    assert_eq!(m.cells.len(), 2);
    for c in &m.cells {
        assert_eq!(c.backend, crate::backend::Backend::Vulkan);
        assert_eq!(c.status, CellStatus::Failed);
        let f = c.failure.as_ref().unwrap();
        assert_eq!(f.mode, FailureMode::NoDevice);
        assert!(
            f.evidence.iter().any(|e| e.contains("no usable GPU found")),
            "{:?}",
            f.evidence
        );
    }
    assert_eq!(s.engine.live_containers(), 0);
}

#[tokio::test]
async fn collapsed_output_fails_its_cell_keeps_the_run_and_the_next_cell_runs() {
    let text = format!(
        "{}\n[[variants]]\nname = \"loops\"\nenv = {{ FAKE_LOOP = \"1\" }}\n",
        PLAN.replace("n_predict = 8", "n_predict = 32")
    );
    let mut s = setup_plan(&text);
    run(&mut s).await;
    let m = s.run_dir.load().unwrap();
    assert_eq!(m.cells.len(), 2);
    for c in &m.cells {
        assert_eq!(c.status, CellStatus::Failed, "{}", c.id);
        let f = c.failure.as_ref().unwrap();
        assert_eq!(f.mode, FailureMode::DegenerateOutput);
        assert!(f.message.contains("repeat [236855, 715]"), "{}", f.message);
        // The first run showed it; it is kept, the rest were skipped.
        assert_eq!(c.runs.len(), 1);
        assert_eq!(c.runs[0].degenerate.as_ref().unwrap().unit, [236855, 715]);
    }
    // Both cells ran on one server start: a collapse is not a crash.
    assert_eq!(s.engine.created.lock().unwrap().len(), 1);
}

fn done_run(warmup: bool) -> crate::manifest::Run {
    let raw = crate::bench::measure::RawRun {
        arrivals: vec![],
        final_event: serde_json::json!({}),
        wall: std::time::Duration::ZERO,
        logprobs_finite: None,
    };
    crate::bench::measure::to_run(&raw, 0, warmup, "t".into(), 1, 2)
}

#[test]
fn a_new_cell_gets_all_its_runs_a_cut_one_a_warm_up_and_what_is_missing() {
    use super::schedule::Iteration::{Measured as M, WarmUp as W};
    assert_eq!(schedule(&[], 1, 3), [W, M, M, M]);
    assert_eq!(schedule(&[], 0, 2), [M, M]);
    // Warm-up and one measured run done before the kill: re-warm, two more.
    let done = [done_run(true), done_run(false)];
    assert_eq!(schedule(&done, 1, 3), [W, M, M]);
    // Only the warm-up done: re-warm on the new server, then all measured runs.
    assert_eq!(schedule(&[done_run(true)], 1, 2), [W, M, M]);
    // Everything measured: nothing to do.
    let all = [done_run(true), done_run(false), done_run(false)];
    assert!(schedule(&all, 1, 2).is_empty());
    // A plan without warm-ups does not gain one on resume.
    assert_eq!(schedule(&[done_run(false)], 0, 2), [M]);
}

#[tokio::test]
async fn finished_cells_are_not_run_again_and_a_cut_cell_is_completed() {
    let mut s = setup("");
    // As left by a killed run: the first cell finished, the second has its
    // warm-up and one measured run.
    s.manifest.cells[0].status = CellStatus::Ok;
    s.manifest.cells[0].runs = vec![done_run(true), done_run(false), done_run(false)];
    s.manifest.cells[1].runs = vec![done_run(true), done_run(false)];
    run(&mut s).await;
    let m = s.run_dir.load().unwrap();
    assert_eq!(m.cells[0].runs.len(), 3, "the finished cell is untouched");
    assert_eq!(m.cells[0].runs[1].started_at, "t");
    let c = &m.cells[1];
    assert_eq!(c.status, CellStatus::Ok);
    // 2 kept + 1 warm-up on the new server + 1 missing measured run.
    assert_eq!(c.runs.len(), 4);
    assert_eq!(c.runs[2].index, 2);
    assert!(c.runs[2].warmup && !c.runs[3].warmup);
    assert_eq!(c.runs.iter().filter(|r| !r.warmup).count(), 2);
}

#[tokio::test]
async fn an_injected_kill_is_classified_as_a_crash_from_what_the_server_left() {
    let mut s = setup(
        r#"
[[variants]]
name = "killed"
ctx_size = 1024
fault = { signal = "KILL", after_tokens = 3 }
"#,
    );
    run(&mut s).await;
    let m = s.run_dir.load().unwrap();
    // Both cells: the first run of each loses its server after 3 tokens; the
    // server is restarted for the second cell, which meets the same fault.
    for c in &m.cells {
        let f = c.failure.as_ref().unwrap();
        assert_eq!(f.mode, FailureMode::Crash, "{}: {f:?}", c.id);
        assert!(f.evidence[0].starts_with("injected by the plan: SIGKILL"));
        assert!(
            f.evidence.contains(
                &"container exited, exit code 137 (killed by SIGKILL, signal 9)".to_string()
            ),
            "{:?}",
            f.evidence
        );
        assert_eq!(c.variant.fault.as_ref().unwrap().after_tokens, 3);
    }
    let signals = s.engine.signals.lock().unwrap().clone();
    assert_eq!(signals.len(), 2);
    assert!(signals.iter().all(|(_, sig)| sig == "KILL"));
    assert_eq!(s.engine.created.lock().unwrap().len(), 2);
    assert_eq!(s.engine.live_containers(), 0);
}

#[tokio::test]
async fn a_request_field_reaches_the_server_a_forced_loop_is_degenerate() {
    let text = format!(
        "{}\n[[variants]]\nname = \"biased\"\nrequest = {{ logit_bias = [[4242, 100.0]] }}\n",
        PLAN.replace("n_predict = 8", "n_predict = 32")
    );
    let mut s = setup_plan(&text);
    run(&mut s).await;
    let m = s.run_dir.load().unwrap();
    for c in &m.cells {
        let f = c.failure.as_ref().unwrap();
        assert_eq!(f.mode, FailureMode::DegenerateOutput, "{}", c.id);
        assert_eq!(f.evidence, ["repeating token ids [4242]"]);
        assert_eq!(c.runs[0].token_ids, vec![4242; 32]);
    }
    // Degenerate output does not kill the server: one start served both cells.
    assert_eq!(s.engine.created.lock().unwrap().len(), 1);
}

fn with_bench(extra: &str) -> String {
    PLAN.replace("\nruns = 2\n", &format!("\nruns = 2\n{extra}"))
}

#[tokio::test]
async fn a_met_precision_target_adds_no_run() {
    // The fake server reports the same prompt time every run: pp_tps has no
    // spread, so the target is met after the plan's 2 runs.
    let mut s = setup_plan(&with_bench(
        "max_runs = 5\ntarget_ci_pct = 1.0\ntarget_metrics = [\"pp_tps\"]\n",
    ));
    run(&mut s).await;
    let m = s.run_dir.load().unwrap();
    for c in &m.cells {
        assert_eq!(c.status, CellStatus::Ok);
        assert_eq!(c.runs.len(), 3, "{}: 1 warm-up + 2 measured", c.id);
        assert_eq!(c.stats[&crate::metric::Metric::PpTps].n, 2);
    }
}

#[tokio::test]
async fn an_unmet_precision_target_runs_to_max_runs_and_no_further() {
    // TTFT is timed by the client and never repeats to the nanosecond: a
    // 1e-6 % target cannot be met, so every cell gets max_runs measured runs.
    let mut s = setup_plan(&with_bench(
        "max_runs = 5\ntarget_ci_pct = 0.000001\ntarget_metrics = [\"ttft_ms\"]\n",
    ));
    run(&mut s).await;
    let m = s.run_dir.load().unwrap();
    for c in &m.cells {
        assert_eq!(c.status, CellStatus::Ok);
        assert_eq!(c.runs.len(), 6, "{}: 1 warm-up + 5 measured", c.id);
        assert_eq!(c.stats[&crate::metric::Metric::TtftMs].n, 5);
        let idx: Vec<u32> = c.runs.iter().map(|r| r.index).collect();
        assert_eq!(idx, [0, 1, 2, 3, 4, 5]);
        assert!(
            !c.imprecise(m.plan.bench.precision.as_ref().unwrap())
                .is_empty()
        );
    }
}

#[tokio::test]
async fn a_resumed_cell_past_its_fixed_runs_is_warmed_up_then_extended() {
    let mut s = setup_plan(&with_bench(
        "max_runs = 4\ntarget_ci_pct = 0.000001\ntarget_metrics = [\"ttft_ms\"]\n",
    ));
    // Killed after the cell's 2 fixed runs, while adding runs: identical kept
    // runs, then the new server's runs differ, so it goes on to 4 measured.
    s.manifest.cells[0].status = CellStatus::Ok;
    s.manifest.cells[0].runs = vec![done_run(true), done_run(false), done_run(false)];
    s.manifest.cells[1].runs = vec![done_run(true), done_run(false), done_run(false)];
    run(&mut s).await;
    let m = s.run_dir.load().unwrap();
    assert_eq!(m.cells[0].runs.len(), 3, "the finished cell is untouched");
    let c = &m.cells[1];
    assert_eq!(c.status, CellStatus::Ok);
    let kinds: Vec<bool> = c.runs.iter().map(|r| r.warmup).collect();
    assert_eq!(kinds, [true, false, false, true, false, false]);
    assert_eq!(c.measured_runs(), 4);
}

#[test]
fn most_runs_counts_done_fixed_and_the_runs_a_target_may_add() {
    let plan =
        crate::plan::parse(&with_bench("max_runs = 6\ntarget_ci_pct = 1.0\n"), "t", 2).unwrap();
    let b = &plan.bench;
    // New cell: 1 warm-up + 2 fixed + 4 more.
    assert_eq!(most_runs(&[], 3, b), 7);
    // Resumed after its fixed runs: 3 done + a warm-up + 4 more.
    let done = [done_run(true), done_run(false), done_run(false)];
    assert_eq!(most_runs(&done, 0, b), 8);
    // Without a target: what is done and fixed.
    let fixed = crate::plan::parse(PLAN, "t", 2).unwrap();
    assert_eq!(most_runs(&[], 3, &fixed.bench), 3);
}

#[tokio::test]
async fn rounds_share_the_runs_over_new_server_starts() {
    let mut s = setup_plan(&with_bench("rounds = 2\n"));
    run(&mut s).await;
    let m = s.run_dir.load().unwrap();
    for c in &m.cells {
        assert_eq!(c.status, CellStatus::Ok);
        // Each round: a warm-up on the new server, then one measured run.
        let got: Vec<(bool, u32)> = c.runs.iter().map(|r| (r.warmup, r.round)).collect();
        assert_eq!(
            got,
            [(true, 0), (false, 0), (true, 1), (false, 1)],
            "{}",
            c.id
        );
        assert_eq!(c.stats[&crate::metric::Metric::GenTps].n, 2);
    }
    // One group, two rounds: two server starts, named by round.
    let created = s.engine.created.lock().unwrap().clone();
    assert_eq!(created.len(), 2);
    assert!(
        created[0].contains("-r0-") && created[1].contains("-r1-"),
        "{created:?}"
    );
    assert_eq!(s.engine.live_containers(), 0);
}

#[tokio::test]
async fn with_rounds_an_unmet_target_adds_a_round_per_run() {
    let mut s = setup_plan(&with_bench(
        "rounds = 2\nmax_runs = 4\ntarget_ci_pct = 0.000001\ntarget_metrics = [\"ttft_ms\"]\n",
    ));
    run(&mut s).await;
    let m = s.run_dir.load().unwrap();
    for c in &m.cells {
        assert_eq!(c.status, CellStatus::Ok);
        let measured: Vec<u32> = c
            .runs
            .iter()
            .filter(|r| !r.warmup)
            .map(|r| r.round)
            .collect();
        assert_eq!(measured, [0, 1, 2, 3], "{}", c.id);
        assert_eq!(c.runs.iter().filter(|r| r.warmup).count(), 4);
    }
    assert_eq!(s.engine.created.lock().unwrap().len(), 4);
}

#[tokio::test]
async fn a_resumed_run_with_rounds_goes_on_from_each_cells_quota() {
    let mut s = setup_plan(&with_bench("rounds = 2\n"));
    // Killed in round 0 after the first cell's share: it waits for round 1;
    // the second cell gets round 0's share first.
    s.manifest.cells[0].runs = vec![done_run(true), done_run(false)];
    run(&mut s).await;
    let m = s.run_dir.load().unwrap();
    let rounds = |i: usize| -> Vec<(bool, u32)> {
        m.cells[i]
            .runs
            .iter()
            .map(|r| (r.warmup, r.round))
            .collect()
    };
    assert_eq!(rounds(0), [(true, 0), (false, 0), (true, 1), (false, 1)]);
    assert_eq!(rounds(1), [(true, 0), (false, 0), (true, 1), (false, 1)]);
    assert!(m.cells.iter().all(|c| c.status == CellStatus::Ok));
    // Round 0 started a server for the second cell only, round 1 for both.
    assert_eq!(s.engine.created.lock().unwrap().len(), 2);
}

/// One cell (31 tokens) with `variant`, run on the fake; its manifest cell.
async fn one_cell(variant: &str) -> (Setup, Cell) {
    one_cell_at(31, variant).await
}

/// One cell of `prompt` tokens with `variant` (and whatever else the text adds).
async fn one_cell_at(prompt: u32, variant: &str) -> (Setup, Cell) {
    let mut s = setup_plan(&format!(
        "{}{variant}",
        PLAN.replace(
            "prompt_tokens = [31, 200]",
            &format!("prompt_tokens = [{prompt}]")
        )
    ));
    run(&mut s).await;
    let m = s.run_dir.load().unwrap();
    let c = m.cells[0].clone();
    (s, c)
}

#[tokio::test]
async fn every_fault_signal_lands_in_its_class_with_the_exit_status_never_ok() {
    for (sig, mode, exit) in [
        (
            "SEGV",
            "crash",
            Some("exit code 139 (killed by SIGSEGV, signal 11)"),
        ),
        (
            "ABRT",
            "crash",
            Some("exit code 134 (killed by SIGABRT, signal 6)"),
        ),
        (
            "KILL",
            "crash",
            Some("exit code 137 (killed by SIGKILL, signal 9)"),
        ),
        (
            "TERM",
            "stopped",
            Some("exit code 143 (killed by SIGTERM, signal 15)"),
        ),
        ("STOP", "hang", None),
    ] {
        let (s, c) = one_cell(&format!(
            "[[variants]]\nname = \"f\"\nfault = {{ signal = \"{sig}\", after_tokens = 3 }}\n"
        ))
        .await;
        assert_eq!(c.status, CellStatus::Failed, "{sig}");
        let f = c.failure.as_ref().unwrap();
        assert_eq!(f.mode.name(), mode, "{sig}: {f:?}");
        assert!(
            f.evidence[0].starts_with(&format!(
                "injected by the plan: SIG{sig} sent to llama-server after 3 streamed tokens"
            )),
            "{sig}: {:?}",
            f.evidence
        );
        if let Some(exit) = exit {
            assert!(
                f.evidence.iter().any(|e| e.ends_with(exit)),
                "{sig}: {:?}",
                f.evidence
            );
        }
        assert_eq!(s.engine.signals.lock().unwrap().len(), 1, "{sig}");
        assert_eq!(s.engine.live_containers(), 0);
    }
}

#[tokio::test]
async fn a_fault_that_changed_nothing_fails_the_cell_as_fault_no_effect() {
    let (_s, c) = one_cell(
        r#"
[[variants]]
name = "deaf"
env = { FAKE_SIGNALS_NO_EFFECT = "1" }
fault = { signal = "SEGV", after_tokens = 3 }
"#,
    )
    .await;
    assert_eq!(c.status, CellStatus::Failed);
    let f = c.failure.as_ref().unwrap();
    assert_eq!(f.mode, FailureMode::FaultNoEffect, "{f:?}");
    assert_eq!(
        f.message,
        "SIGSEGV had no effect: the run completed all 8 tokens and the server was still running 3 s later"
    );
    assert!(f.evidence[0].starts_with("injected by the plan: SIGSEGV"));
    // The run itself is kept.
    assert_eq!(c.runs.len(), 1);
    assert_eq!(c.runs[0].token_ids.len(), 8);
}

#[tokio::test]
async fn a_cell_whose_every_measured_run_fails_its_checks_is_not_ok() {
    // The server stops after 5 of 8 tokens every time: the count check fails in
    // every run; 31 + 5 is far from the context, so it is not the context.
    let (_s, c) = one_cell(
        r#"
[[variants]]
name = "short"
env = { FAKE_MAX_PREDICTED = "5" }
"#,
    )
    .await;
    assert_eq!(c.status, CellStatus::Failed);
    let f = c.failure.as_ref().unwrap();
    assert_eq!(f.mode, FailureMode::ChecksFailed);
    assert_eq!(
        f.message,
        "all 2 measured runs generated 5 of 8 tokens (stop: limit)"
    );
    assert_eq!(c.runs.len(), 3, "warm-up and both measured runs kept");
    assert!(c.stats.is_empty() || c.stats[&crate::metric::Metric::GenTps].n == 0);
}

#[tokio::test]
async fn a_context_that_fills_during_generation_fails_the_cell_with_the_sum() {
    // 59 prompt tokens + 5 generated = 64 = ctx_size; 59 + 8 planned does not
    // fit, so the context check leaves the cell out unless included.
    let (_s, c) = one_cell_at(
        59,
        r#"
[[variants]]
name = "ctx64"
ctx_size = 64
env = { FAKE_MAX_PREDICTED = "5" }
[[include]]
variant = "ctx64"
prompt_tokens = [59]
"#,
    )
    .await;
    let f = c.failure.as_ref().unwrap();
    assert_eq!(f.mode, FailureMode::ContextExceeded, "{f:?}");
    assert_eq!(
        f.message,
        "all 2 measured runs stopped at 5 of 8 generated tokens: the context filled (59 prompt + 5 generated = 64 of 64)"
    );
}

#[test]
fn progress_lines_count_against_the_whole_plan_not_this_start() {
    use super::schedule::Iteration::{Measured as M, WarmUp as W};
    // The built-in plan: 1 warm-up per start, 4 measured runs in 4 rounds.
    let b = crate::plan::builtin(2).unwrap().bench;
    assert_eq!(run_label(W, 1, 0, &b, 0), "warm-up (round 1/4)");
    // Round 1's measured run is the first of 4, not "2/2".
    assert_eq!(run_label(M, 0, 1, &b, 0), "run 1/4 (round 1/4)");
    assert_eq!(run_label(M, 0, 3, &b, 2), "run 3/4 (round 3/4)");
    // One round, two warm-ups, a precision target up to 12 runs.
    let mut one = b.clone();
    one.rounds = 1;
    one.warmup_runs = 2;
    one.precision = Some(crate::plan::Precision {
        metrics: vec![crate::metric::Metric::GenTps],
        target_ci_pct: 2.0,
        max_runs: 12,
    });
    assert_eq!(run_label(W, 2, 0, &one, 0), "warm-up 2/2");
    assert_eq!(run_label(M, 0, 5, &one, 0), "run 5/≤12");
}

/// The fake plan as an A/B of variants a and b (b's server `b_env`), with
/// short warm-ups and `ab` added to its `[ab]`.
fn ab_plan(b_env: &str, ab: &str) -> String {
    let plan = PLAN.replace(
        "\nruns = 2\n",
        "\nruns = 2\nrounds = 2\nwarmup = \"short\"\n",
    );
    format!(
        "{plan}[[variants]]\nname = \"a\"\nenv = {{ FAKE_TOKEN_DELAY_MS = \"10\" }}\n\
         [[variants]]\nname = \"b\"\nenv = {{ {b_env} }}\n\
         [ab]\narms = [{{ variant = \"a\" }}, {{ variant = \"b\" }}]\n{ab}"
    )
}

#[tokio::test]
async fn an_ab_until_decided_alternates_the_arms_and_stops_once_decided() {
    // B's tokens take twice as long: half the generation speed.
    let mut s = setup_plan(&ab_plan(
        "FAKE_TOKEN_DELAY_MS = \"20\"",
        "until_decided = true\nmax_rounds = 12\n",
    ));
    run(&mut s).await;
    let m = s.run_dir.load().unwrap();
    let rec = m.ab.clone().unwrap();
    // Two cells × gen_tps: each sequence at α/2 = 0.025, the first interval
    // at 6 rounds (stats::paired), so 4 rounds were added to the planned 2.
    assert_eq!(rec.stopped, Some(crate::manifest::ab::AbStop::Decided));
    assert_eq!(rec.rounds_added, 4);
    assert!(rec.measuring_s > 0.0);
    let p = crate::comparison::paired::paired(&m, m.plan.ab.as_ref().unwrap());
    assert_eq!(p.cells.len(), 2);
    for c in &p.cells {
        assert_eq!(c.rounds, 6);
        assert_eq!(c.verdict, crate::stats::compare::Verdict::Slower, "{c:?}");
        let r = c.ratio.unwrap();
        assert!((0.4..0.6).contains(&r), "{r}");
    }
    for c in &m.cells {
        assert_eq!(c.status, CellStatus::Ok, "{}", c.id);
        assert_eq!(c.measured_runs(), 6, "{}", c.id);
        // One short warm-up per start, taken by the start's first cell.
        let warm = c.runs.iter().filter(|r| r.warmup).count();
        assert_eq!(warm, if c.prompt_tokens == 31 { 6 } else { 0 }, "{}", c.id);
        for w in c.runs.iter().filter(|r| r.warmup) {
            assert_eq!(w.predicted_n, u64::from(crate::plan::SHORT_WARMUP_PREDICT));
        }
    }
    // The arms' order reverses every other round: a b, b a, a b, …
    let created = s.engine.created.lock().unwrap().clone();
    let order: Vec<&str> = created
        .iter()
        .map(|n| if n.contains("-g0-") { "a" } else { "b" })
        .collect();
    assert_eq!(
        order,
        ["a", "b", "b", "a", "a", "b", "b", "a", "a", "b", "b", "a"]
    );
    assert!(created[2].contains("-r1-g1-"), "{created:?}");
    // The report says what was decided and how.
    let report = crate::report::markdown::render(&m);
    assert!(report.contains("## A/B, paired by round"), "{report}");
    assert!(
        report.contains("Rounds: 2 planned, 4 added; stopped: every target cell decided"),
        "{report}"
    );
    let rows = report
        .lines()
        .filter(|l| l.starts_with("| cpu.m.a.") && l.trim_end().ends_with("| slower  |"));
    assert_eq!(rows.count(), 2, "{report}");
}

#[tokio::test]
async fn an_ab_stops_at_its_time_budget_and_without_until_decided_at_the_plan() {
    // A budget of 0.06 s: the planned rounds run, no round is added.
    let mut s = setup_plan(&ab_plan(
        "FAKE_TOKEN_DELAY_MS = \"10\"",
        "until_decided = true\nmax_minutes = 0.001\n",
    ));
    run(&mut s).await;
    let m = s.run_dir.load().unwrap();
    let rec = m.ab.clone().unwrap();
    assert_eq!(rec.stopped, Some(crate::manifest::ab::AbStop::Budget));
    assert_eq!(rec.rounds_added, 0);
    assert!(m.cells.iter().all(|c| c.measured_runs() == 2));
    let mut s = setup_plan(&ab_plan("FAKE_TOKEN_DELAY_MS = \"10\"", ""));
    run(&mut s).await;
    let m = s.run_dir.load().unwrap();
    assert_eq!(
        m.ab.unwrap().stopped,
        Some(crate::manifest::ab::AbStop::Planned)
    );
}

#[tokio::test]
async fn an_ab_whose_verdicts_are_out_of_reach_stops_after_ten_rounds() {
    // B's starts take turns at 7, 13 and 10 ms a token against A's 10: per
    // round B/A is about 1.43, 0.77 or 1, a spread (sd ≈ 0.3 on the log scale)
    // that would take thousands of rounds to decide, beyond 4 × the 40 that
    // max_rounds allows.
    let b = "FAKE_TOKEN_DELAY_MS = \"7,13,10\"";
    let mut s = setup_plan(&ab_plan(b, "until_decided = true\nmax_rounds = 40\n"));
    run(&mut s).await;
    let m = s.run_dir.load().unwrap();
    let rec = m.ab.clone().unwrap();
    assert_eq!(rec.stopped, Some(crate::manifest::ab::AbStop::OutOfReach));
    assert_eq!(rec.rounds_added, 8);
    let p = crate::comparison::paired::paired(&m, m.plan.ab.as_ref().unwrap());
    for c in &p.cells {
        assert_eq!(c.rounds, 10);
        assert_eq!(c.verdict, crate::stats::compare::Verdict::Inconclusive);
        assert!(c.rounds_to_decide.is_none_or(|n| n > 160), "{c:?}");
    }
    let report = crate::report::markdown::render(&m);
    assert!(report.contains("stopped: out of reach"), "{report}");
}

#[tokio::test]
async fn a_variants_cpu_limits_reach_the_container_spec_and_the_manifest() {
    let mut s = setup("[[variants]]\nname = \"pinned\"\ncpus = 1.94\ncpuset_cpus = \"0,1\"\n");
    run(&mut s).await;
    let specs = s.engine.specs.lock().unwrap().clone();
    assert!(!specs.is_empty());
    for spec in &specs {
        assert_eq!(spec.nano_cpus, Some(1_940_000_000));
        assert_eq!(spec.cpuset_cpus.as_deref(), Some("0,1"));
    }
    let m = s.run_dir.load().unwrap();
    assert!(
        m.cells.iter().all(
            |c| c.variant.cpus == Some(1.94) && c.variant.cpuset_cpus.as_deref() == Some("0,1")
        )
    );
}

#[tokio::test]
async fn a_resumed_ab_keeps_the_rounds_it_added_and_finishes_the_round_cut_short() {
    let mut s = setup_plan(&ab_plan(
        "FAKE_TOKEN_DELAY_MS = \"20\"",
        "until_decided = true\nmax_rounds = 8\n",
    ));
    // Killed in the fourth added round (round 5, 0-based), after arm b's
    // cells (b goes first in odd rounds): a's cells wait for theirs.
    s.manifest.ab = Some(crate::manifest::ab::AbRecord {
        rounds_added: 4,
        stopped: None,
        measuring_s: 1.0,
    });
    let full = |round_runs: u32| -> Vec<crate::manifest::Run> {
        let mut runs = Vec::new();
        for r in 0..round_runs {
            let mut m = done_run(false);
            m.round = r;
            runs.push(m);
        }
        runs
    };
    for c in &mut s.manifest.cells {
        let rounds = if c.variant.name == "b" { 6 } else { 5 };
        c.runs = full(rounds);
    }
    run(&mut s).await;
    let m = s.run_dir.load().unwrap();
    let rec = m.ab.clone().unwrap();
    // The runs made up here fail their checks (they count no value), so no
    // pair can be decided on them: rounds go on to max_rounds.
    assert_eq!(rec.rounds_added, 6, "{rec:?}");
    assert_eq!(rec.stopped, Some(crate::manifest::ab::AbStop::MaxRounds));
    assert!(
        m.cells.iter().all(|c| c.measured_runs() == 8),
        "{:?}",
        m.cells
    );
    // First a's group finishes round 5; then rounds 6 (a b) and 7 (b a).
    let created = s.engine.created.lock().unwrap().clone();
    let starts: Vec<&str> = created
        .iter()
        .map(|n| n.split('-').skip(2).take(2).collect::<Vec<_>>())
        .map(|p| match p.as_slice() {
            ["r5", "g0"] => "r5a",
            ["r6", "g0"] => "r6a",
            ["r6", "g1"] => "r6b",
            ["r7", "g0"] => "r7a",
            ["r7", "g1"] => "r7b",
            _ => "other",
        })
        .collect();
    assert_eq!(starts, ["r5a", "r6a", "r6b", "r7b", "r7a"], "{created:?}");
}

#[test]
fn llama_bench_runs_only_where_the_matrix_has_cells() {
    // The study's plan: the CPU is the real small model's baseline only, so
    // llama-bench must not load the 27B and 30B models on it (each would spend
    // its 900 s timeout); cuda and vulkan bench all four models.
    let text = include_str!("../../plans/h200-study.toml");
    let plan = crate::plan::parse(text, "plans/h200-study.toml", 16).unwrap();
    let matrix = expand(&plan);
    let cells = pending_cells(&plan, &matrix);
    let named: Vec<(String, String)> = matrix
        .llama_bench
        .iter()
        .map(|t| {
            assert_eq!((t.source, t.source_name.as_str()), (0, "default"));
            assert_eq!(t.model_file, plan.models[t.model].file);
            assert_eq!(t.name, format!("{}.{}", t.backend.name(), t.model_name));
            // All layers on the GPU backends, none on the CPU.
            let ngl = if t.backend == Backend::Cpu {
                "0"
            } else {
                "999"
            };
            let argv = crate::llama_bench::planned_argv(plan.llama_bench.as_ref().unwrap(), t);
            let at = argv.iter().position(|a| a == "-ngl").unwrap();
            assert_eq!(argv[at + 1], ngl, "{argv:?}");
            assert_eq!(argv[1], format!("/models/{}", t.model_file));
            (t.backend.name().to_string(), t.model_name.clone())
        })
        .collect();
    let models = [
        "gemma-3-270m-q4_k_m",
        "synthetic-gemma3-270m",
        "synthetic-gemma3-27b-q8_0",
        "synthetic-qwen3moe-30b-a3b-q4_0",
    ];
    let mut want = vec![("cpu".to_string(), models[0].to_string())];
    for b in ["cuda", "vulkan"] {
        want.extend(models.iter().map(|m| (b.to_string(), m.to_string())));
    }
    assert_eq!(named, want);
    // Every benched pair has cells; the CPU's left-out models have none.
    assert!(
        !cells
            .iter()
            .any(|c| c.backend == Backend::Cpu && c.model != models[0])
    );
}
