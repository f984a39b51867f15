//! Ctrl-C (SIGINT to the process group) or `kill` (SIGTERM to rigbench alone) in
//! the middle of a real run: the run stops, its containers are removed, and every
//! run finished before the signal is on disk in a verifiable manifest.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{manifest_json, read_manifest, repo, runs_of, start_run_until};
use rigbench::engine::{Engine, LABEL_RUN};
use rigbench::status::RunStatus;

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Podman and the model: scripts/test.sh runs it"]
async fn ctrl_c_keeps_finished_runs_and_removes_the_containers() {
    // Own process group, signalled as a whole: what a terminal's Ctrl-C does.
    interrupt(rustix::process::Signal::INT, true).await;
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Podman and the model: scripts/test.sh runs it"]
async fn sigterm_to_rigbench_alone_does_the_same() {
    // `kill PID`: only rigbench hears it; its private Podman service does not.
    interrupt(rustix::process::Signal::TERM, false).await;
}

async fn interrupt(signal: rustix::process::Signal, group: bool) {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("run");
    let plan = repo().join("tests/plans/e2e.toml");
    // The image built first, so the signal lands mid-matrix.
    let (mut child, runs) = start_run_until(&plan, &out, 2, true);
    let before = runs.len();
    let pid = rustix::process::Pid::from_child(&child);
    if group {
        rustix::process::kill_process_group(pid, signal).unwrap();
    } else {
        rustix::process::kill_process(pid, signal).unwrap();
    }
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130), "{status}");

    rigbench::manifest::integrity::verify(&manifest_json(&out)).unwrap();
    let m = read_manifest(&out.join("manifest.json")).unwrap();
    assert_eq!(m.status, RunStatus::Interrupted);
    assert!(
        runs_of(&m).len() >= before,
        "runs lost: {} < {before}",
        runs_of(&m).len()
    );
    assert!(out.join("report.md").exists());

    let run_id = &m.run_id;
    let connected = common::engine().await;
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
