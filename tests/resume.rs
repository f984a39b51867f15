//! `kill -9` of rigbench in the middle of a real run, then `rigbench run --resume`:
//! the leftover container and API service are removed, every run finished before
//! the kill is kept as it was, and only the missing runs are measured.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{manifest_json, read_manifest, repo, rigbench, runs_of, start_run_until};
use rigbench::engine::{Engine, LABEL_RUN};
use rigbench::metric::Metric;
use rigbench::status::{CellStatus, RunStatus};

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Podman and the model: scripts/test.sh runs it"]
async fn kill_9_then_resume_runs_only_what_is_missing() {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("run");
    let plan = repo().join("tests/plans/e2e.toml");
    // The first cell's warm-up and first measured run: the kill cuts that cell
    // short, so the resume must complete a half-done cell.
    let (mut child, _) = start_run_until(&plan, &out, 2, false);
    // SIGKILL to rigbench alone: its server container (and the API service, if
    // it started one) are left behind, as after a crash or an OOM kill.
    child.kill().unwrap();
    child.wait().unwrap();

    rigbench::manifest::integrity::verify(&manifest_json(&out)).unwrap();
    let killed = read_manifest(&out.join("manifest.json")).unwrap();
    assert_eq!(killed.status, RunStatus::Running);
    let before = runs_of(&killed);
    let run_id = killed.run_id.clone();
    let stale_service = killed.engine.as_ref().and_then(|e| e.service_pid);

    let connected = common::engine().await;
    let label = [format!("{LABEL_RUN}={run_id}")];
    let left = connected.client.list_labelled(&label).await.unwrap();
    eprintln!("left by the killed run: {left:?}, service pid {stale_service:?}");

    let resumed = rigbench(&["run", "--resume", out.to_str().unwrap()], work.path());
    assert!(resumed.status.success(), "the resume failed");
    let stderr = String::from_utf8_lossy(&resumed.stderr);
    assert!(
        stderr.contains(&format!("{} leftover container(s) removed", left.len())),
        "the resume did not report the {} leftover(s): {stderr}",
        left.len()
    );

    rigbench::manifest::integrity::verify(&manifest_json(&out)).unwrap();
    let m = read_manifest(&out.join("manifest.json")).unwrap();
    assert_eq!(m.status, RunStatus::Complete);
    assert_eq!(m.run_id, run_id);
    assert_eq!(m.resumes.len(), 1);
    assert_eq!(m.resumes[0].previous_status, RunStatus::Running);

    // Nothing finished is lost or repeated: every run recorded before the kill
    // is still there, unchanged (same start time, same token ids).
    let after = runs_of(&m);
    for r in &before {
        assert!(
            after
                .iter()
                .any(|a| a.started_at == r.started_at && a.token_ids == r.token_ids),
            "run started at {} lost by the resume",
            r.started_at
        );
    }
    // Every cell has exactly the planned measured runs, and is measured.
    for c in &m.cells {
        assert_eq!(c.status, CellStatus::Ok, "cell {}", c.id);
        let measured = c.measured_runs();
        assert_eq!(measured, 2, "cell {}: {measured} measured runs", c.id);
        assert!(c.stats[&Metric::GenTps].mean > 0.0);
    }
    // Exactly the missing runs were added: a cell untouched by the kill gets its
    // warm-up and 2 measured runs; a cell cut short one warm-up on the new server
    // and the measured runs it lacked; a finished cell nothing.
    for c in &killed.cells {
        let had = &c.runs;
        let measured = c.measured_runs() as usize;
        let expected = match (had.len(), measured) {
            (0, _) => 3,
            (n, 2) => n,
            (n, k) => n + 1 + (2 - k),
        };
        let now = m.cells.iter().find(|x| x.id == c.id).unwrap().runs.len();
        assert_eq!(now, expected, "cell {}: had {} runs", c.id, had.len());
    }
    let left = connected.client.list_labelled(&label).await.unwrap();
    assert!(left.is_empty(), "containers of the run left: {left:?}");
    if let Some(pid) = stale_service {
        // The stale service got SIGTERM; give it a moment to go.
        let gone = (0..50).any(|_| {
            let alive = std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains("system"))
                .unwrap_or(false);
            if alive {
                std::thread::sleep(Duration::from_millis(100));
            }
            !alive
        });
        assert!(gone, "the killed run's API service {pid} still runs");
    }
}
