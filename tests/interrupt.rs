//! Ctrl-C in the middle of a real run: the run stops, its containers are removed,
//! and every run finished before the signal is on disk in a verifiable manifest.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::process::CommandExt;
use std::time::{Duration, Instant};

use common::{repo, rigbench};
use rigbench::engine::{Engine, LABEL_RUN, connect};
use serde_json::Value;

fn finished_runs(manifest: &Value) -> usize {
    manifest["cells"].as_array().map_or(0, |cells| {
        cells
            .iter()
            .map(|c| c["runs"].as_array().map_or(0, Vec::len))
            .sum()
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_keeps_finished_runs_and_removes_the_containers() {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("run");
    let plan = repo().join("tests/plans/e2e.toml");
    // Make sure the image and model are ready, so the signal lands mid-matrix.
    assert!(
        rigbench(&["build", "--plan", plan.to_str().unwrap()], work.path())
            .status
            .success()
    );

    // Its own process group, signalled as a whole: what a terminal's Ctrl-C does.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_rigbench"))
        .args([
            "run",
            "--plan",
            plan.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .process_group(0)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let pgid = rustix::process::Pid::from_child(&child);
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut before = 0;
    while Instant::now() < deadline {
        if let Ok(text) = std::fs::read_to_string(out.join("manifest.json")) {
            if let Ok(v) = serde_json::from_str::<Value>(&text) {
                before = finished_runs(&v);
                if before >= 2 {
                    break;
                }
            }
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "rigbench ended before the signal"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(before >= 2, "no runs finished within the deadline");
    rustix::process::kill_process_group(pgid, rustix::process::Signal::INT).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{status}");

    let m: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    rigbench::manifest::integrity::verify(&m).unwrap();
    assert_eq!(m["status"], "interrupted");
    assert!(
        finished_runs(&m) >= before,
        "runs lost: {} < {before}",
        finished_runs(&m)
    );
    assert!(out.join("report.md").exists());

    let run_id = m["run_id"].as_str().unwrap();
    let connected = connect(None).await.unwrap();
    let left = connected
        .client
        .list_labelled(&[format!("{LABEL_RUN}={run_id}")])
        .await
        .unwrap();
    assert!(
        left.is_empty(),
        "containers of the interrupted run left: {left:?}"
    );
}
