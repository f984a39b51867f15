//! Rounds and a precision target on real Podman with the real model: the runs
//! of each cell are spread over new server starts, each start warmed up, and a
//! target that cannot be met adds one round per run up to `max_runs`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::repo;
use rigbench::metric::Metric;
use rigbench::status::{CellStatus, RunStatus};

#[test]
#[ignore = "needs Podman and the model: scripts/test.sh runs it"]
fn rounds_spread_the_runs_over_server_starts_and_a_target_adds_rounds() {
    let work = tempfile::tempdir().unwrap();
    // The e2e plan, one short prompt, 16 tokens; 2 runs in 2 rounds, and a
    // TTFT target of 1e-6 % (never met: the client clock differs by more) so
    // max_runs = 3 adds a third round.
    let plan = std::fs::read_to_string(repo().join("tests/plans/e2e.toml"))
        .unwrap()
        .replace("prompt_tokens = [31, 461]", "prompt_tokens = [31]")
        .replace("n_predict = 32", "n_predict = 16")
        .replace(
            "runs = 2\n",
            "runs = 2\nrounds = 2\nmax_runs = 3\ntarget_ci_pct = 0.000001\ntarget_metrics = [\"ttft_ms\"]\n",
        );
    let plan_path = work.path().join("plan.toml");
    std::fs::write(&plan_path, plan).unwrap();
    let out = work.path().join("run");
    // Run as a CI job would see it (stderr to a pipe, not a terminal), with a
    // heartbeat every 0.1 s so that a 0.3 s request gets some.
    let done = std::process::Command::new(env!("CARGO_BIN_EXE_rigbench"))
        .args(["run", "--plan", plan_path.to_str().unwrap(), "--out"])
        .arg(&out)
        .env("RIGBENCH_PROGRESS_INTERVAL_S", "0.1")
        .current_dir(work.path())
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&done.stderr).into_owned();
    eprintln!("{log}");
    assert!(done.status.success());
    let m = common::read_manifest(&out.join("manifest.json")).unwrap();
    // Progress: each run against the whole plan's count and its round, the
    // overall count and time left, and heartbeats while a request goes on.
    let cell = "cpu.gemma-3-270m-q4_k_m.small.p31";
    assert!(
        log.contains("measuring: cells 0/1, runs 0/≤3, about "),
        "{log}"
    );
    for line in [
        format!("  {cell} warm-up (round 1/2): gen "),
        format!("  {cell} run 1/≤3 (round 1/2): gen "),
        format!("  {cell} run 2/≤3 (round 2/2): gen "),
        format!("  {cell} run 3/≤3 (round 3): gen "),
    ] {
        assert!(log.contains(&line), "no {line:?} in\n{log}");
    }
    assert!(log.contains(" · cells 0/1, runs 1/≤3, about "), "{log}");
    assert!(log.contains(" · cells 0/1, runs 3/≤3"), "{log}");
    assert!(
        log.contains(&format!(
            "  {cell} run 2/≤3 (round 2/2): waiting for the server: still going after"
        )),
        "{log}"
    );
    // --quiet: none of it, the results still on stdout.
    let quiet = std::process::Command::new(env!("CARGO_BIN_EXE_rigbench"))
        .args([
            "--quiet",
            "run",
            "--plan",
            plan_path.to_str().unwrap(),
            "--out",
        ])
        .arg(work.path().join("quiet"))
        .current_dir(work.path())
        .output()
        .unwrap();
    assert!(quiet.status.success());
    let err = String::from_utf8_lossy(&quiet.stderr);
    assert!(!err.contains("gen ") && !err.contains("cells "), "{err}");
    assert!(String::from_utf8_lossy(&quiet.stdout).contains(cell));
    assert_eq!(m.status, RunStatus::Complete);
    assert_eq!(m.plan.bench.rounds, 2);
    assert_eq!(m.cells.len(), 1);
    let c = &m.cells[0];
    assert_eq!(c.status, CellStatus::Ok);
    let runs: Vec<(bool, u32)> = c.runs.iter().map(|r| (r.warmup, r.round)).collect();
    assert_eq!(
        runs,
        [
            (true, 0),
            (false, 0),
            (true, 1),
            (false, 1),
            (true, 2),
            (false, 2)
        ]
    );
    assert_eq!(c.stats[&Metric::TtftMs].n, 3);
    // Three starts, each appended to the group's log: three model loads.
    let log = std::fs::read_to_string(out.join(&c.server.as_ref().unwrap().log)).unwrap();
    assert_eq!(
        log.matches("llama_server: listening on").count(),
        3,
        "one start per round"
    );
    // The report says the target was not met, after how many runs.
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(
        report.contains("met by 0 of 1 finished cells; still wider: cpu.gemma-3-270m-q4_k_m.small.p31 after 3 runs (ttft_ms ±"),
        "{report}"
    );
    assert!(report.contains("in 2 rounds over the whole matrix"));
}
