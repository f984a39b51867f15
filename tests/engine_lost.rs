//! The Podman API service killed in the middle of a real run, rigbench's private
//! one and a user's own: the cell in flight is recorded as `engine_lost` with the
//! engine's socket in its evidence, the cells not reached stay pending, the
//! container the engine could not remove is named with the command that removes
//! it (and really is still there), and once an engine answers, `run --resume`
//! removes it and completes the run with no container of the run left.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use common::{manifest_json, read_manifest, repo, rigbench, rigbench_ok, runs_of};
use rigbench::status::{CellStatus, FailureMode, RunStatus};

/// One test's runs at a time: each llama-server takes every core (threads
/// "auto"), and two on the same cores at once took 204 s in CI against 31 s
/// each alone (2 vCPUs, 2026-12-06).
static CORES: Mutex<()> = Mutex::new(());

fn the_cores() -> MutexGuard<'static, ()> {
    CORES
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[test]
#[ignore = "needs Podman and the model: scripts/test.sh runs it"]
fn the_private_service_killed_mid_run() {
    let _cores = the_cores();
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("run");
    let (child, m) = start_and_wait_for_a_run(&out, &[]);
    let pid = m.engine.as_ref().and_then(|e| e.service_pid).unwrap();
    kill(pid);
    let socket = m.engine.as_ref().unwrap().socket.clone();
    let left = stopped_by_the_lost_engine(child, &out, &socket);
    // The private service is gone with its process; the next rigbench starts
    // another, which removes what is left and goes on.
    resume_completes(&out, &[], &left);
}

#[test]
#[ignore = "needs Podman and the model: scripts/test.sh runs it"]
fn the_users_own_service_killed_mid_run_and_started_again() {
    let _cores = the_cores();
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("run");
    let address = format!("unix://{}", work.path().join("podman.sock").display());
    let mut service = start_service(&address);
    let (child, m) = start_and_wait_for_a_run(&out, &["--socket", &address]);
    assert_eq!(
        m.engine.as_ref().and_then(|e| e.service_pid),
        None,
        "rigbench took the user's service for its own"
    );
    kill(service.id());
    service.wait().unwrap();
    let left = stopped_by_the_lost_engine(child, &out, &address);
    // Resuming before the engine is back is refused with the engine named, and
    // records nothing.
    let before = std::fs::read(out.join("manifest.json")).unwrap();
    let early = rigbench(
        &[
            "run",
            "--resume",
            out.to_str().unwrap(),
            "--socket",
            &address,
        ],
        work.path(),
    );
    assert!(!early.status.success());
    let said = String::from_utf8_lossy(&early.stderr);
    assert!(said.contains(&address), "{said}");
    assert_eq!(std::fs::read(out.join("manifest.json")).unwrap(), before);
    let mut service = start_service(&address);
    resume_completes(&out, &["--socket", &address], &left);
    let _ = service.kill();
    let _ = service.wait();
}

/// Builds the e2e plan's image, starts the run and waits until its manifest
/// holds a run (the first cell's warm-up), so the engine is lost mid-cell.
fn start_and_wait_for_a_run(out: &Path, extra: &[&str]) -> (Child, rigbench::manifest::Manifest) {
    let plan = repo().join("tests/plans/e2e.toml");
    let cwd = out.parent().unwrap();
    let plan_arg = plan.to_str().unwrap();
    let mut build = vec!["build", "--plan", plan_arg];
    build.extend_from_slice(extra);
    rigbench_ok(&build, cwd);
    let mut args = vec!["run", "--plan", plan_arg, "--out", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    let stderr = std::fs::File::create(cwd.join("run.stderr")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_rigbench"))
        .args(&args)
        .current_dir(cwd)
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(300);
    while Instant::now() < deadline {
        if let Some(m) = read_manifest(&out.join("manifest.json"))
            && !runs_of(&m).is_empty()
        {
            return (child, m);
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "rigbench ended ({status}) before a run: {}",
                std::fs::read_to_string(cwd.join("run.stderr")).unwrap()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("no run recorded in 300 s");
}

fn kill(pid: u32) {
    let pid = rustix::process::Pid::from_raw(i32::try_from(pid).unwrap()).unwrap();
    rustix::process::kill_process(pid, rustix::process::Signal::KILL).unwrap();
}

/// The run stopped by the lost engine: what it said and recorded. Returns the
/// names of the containers it said it left.
fn stopped_by_the_lost_engine(mut child: Child, out: &Path, socket: &str) -> Vec<String> {
    let status = child.wait().unwrap();
    let said = std::fs::read_to_string(out.parent().unwrap().join("run.stderr")).unwrap();
    eprintln!("--- the run that lost its engine ({status}):\n{said}");
    assert!(!status.success(), "{said}");
    assert!(
        said.contains(&format!("the engine at {socket} does not answer")),
        "{said}"
    );
    // The manifest on disk is whole and says what happened.
    rigbench::manifest::integrity::verify(&manifest_json(out)).unwrap();
    let m = read_manifest(&out.join("manifest.json")).unwrap();
    assert_eq!(m.status, RunStatus::Failed);
    assert!(
        m.error.as_deref().unwrap().contains(socket),
        "{:?}",
        m.error
    );
    let first = &m.cells[0];
    assert_eq!(first.status, CellStatus::Failed, "{}", first.id);
    let f = first.failure.as_ref().unwrap();
    assert_eq!(f.mode, FailureMode::EngineLost, "{f:?}");
    assert!(f.evidence[0].contains(socket), "{f:?}");
    assert!(!first.runs.is_empty());
    assert_eq!(m.cells[1].status, CellStatus::Pending);
    assert!(m.cells[1].runs.is_empty());
    // The container it names is there, still running: the command it gives
    // is what removes it.
    let line = said
        .lines()
        .find_map(|l| l.trim().strip_prefix("podman rm -f --ignore "))
        .unwrap_or_else(|| panic!("no podman rm command in {said}"));
    let left: Vec<String> = line.split(' ').map(String::from).collect();
    let name = first.server.as_ref().unwrap().container_name.clone();
    assert_eq!(left, vec![name.clone()]);
    assert_eq!(
        containers_of_run(&m.run_id),
        vec![(name, "running".to_string())]
    );
    left
}

/// `run --resume` once an engine answers: it removes what was left and runs the
/// cell in flight again and the one not reached, and no container of the run
/// is left.
fn resume_completes(out: &Path, extra: &[&str], left: &[String]) {
    let mut args = vec!["run", "--resume", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    let r = rigbench(&args, out.parent().unwrap());
    let said = String::from_utf8_lossy(&r.stderr);
    eprintln!("--- run --resume:\n{said}");
    assert!(r.status.success(), "{said}");
    assert!(
        said.contains(&format!(
            "resumed: {} leftover container(s) removed",
            left.len()
        )),
        "{said}"
    );
    assert!(
        said.contains("1 cell(s) the lost engine stopped run again"),
        "{said}"
    );
    let m = read_manifest(&out.join("manifest.json")).unwrap();
    assert_eq!(m.status, RunStatus::Complete);
    for c in &m.cells {
        assert_eq!(c.status, CellStatus::Ok, "{}: {:?}", c.id, c.failure);
    }
    assert!(containers_of_run(&m.run_id).is_empty());
}

/// The run's containers and their states, from Podman's command line (which
/// needs no API service).
fn containers_of_run(run_id: &str) -> Vec<(String, String)> {
    let podman = |args: &[&str]| {
        let o = Command::new("podman").args(args).output().unwrap();
        assert!(o.status.success(), "podman {args:?}");
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    let label = format!("label=io.rigbench.run={run_id}");
    let names = podman(&["ps", "-a", "--filter", &label, "--format", "{{.Names}}"]);
    names
        .lines()
        .map(|n| {
            let state = podman(&["inspect", "--format", "{{.State.Status}}", n]);
            (n.to_string(), state)
        })
        .collect()
}

/// A user's own API service on `address`, answering before it is returned.
fn start_service(address: &str) -> Child {
    let path = address.strip_prefix("unix://").unwrap();
    let _ = std::fs::remove_file(path);
    let mut child = Command::new("podman")
        .args(["system", "service", "--time=0", address])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if Path::new(path).exists()
            && Command::new("podman")
                .args(["--url", address, "version"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        {
            return child;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the service on {address} did not answer in 30 s");
}
