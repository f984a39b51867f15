//! Shared by the tests that drive real Podman: the binary under test, run as a user
//! would run it.

#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use rigbench::manifest::{Manifest, Run};

pub const MODEL_SHA256: &str = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818";
pub const COMMIT: &str = "0c1e57098bba43ac29e6e3b677cdceebdd22334f";

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the rigbench binary with `args`, echoing its output into the test log.
pub fn rigbench(args: &[&str], cwd: &Path) -> Output {
    run_binary(Path::new(env!("CARGO_BIN_EXE_rigbench")), args, cwd)
}

/// Runs `bin` (a copy of rigbench) with `args` the same way.
pub fn run_binary(bin: &Path, args: &[&str], cwd: &Path) -> Output {
    let out = std::process::Command::new(bin)
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("the rigbench binary runs");
    eprintln!(
        "$ rigbench {}\n--- stdout\n{}--- stderr\n{}--- {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        out.status
    );
    out
}

/// Runs the rigbench binary with `args` and checks that it succeeded.
pub fn rigbench_ok(args: &[&str], cwd: &Path) -> Output {
    let out = rigbench(args, cwd);
    assert!(out.status.success(), "rigbench {} failed", args.join(" "));
    out
}

/// Runs `rigbench run --plan plan --out out`, checks that it succeeded (every
/// cell ok: exit code 0) and that the manifest's integrity holds; returns the
/// manifest.
pub fn run_plan_at(plan: &Path, out: &Path, cwd: &Path) -> Manifest {
    run_plan_exiting(plan, out, cwd, 0)
}

/// The same, for a run that ends with exit code `code` (3: complete, some
/// cells failed).
pub fn run_plan_exiting(plan: &Path, out: &Path, cwd: &Path, code: i32) -> Manifest {
    let args = [
        "run",
        "--plan",
        plan.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    let done = rigbench(&args, cwd);
    assert_eq!(
        done.status.code(),
        Some(code),
        "rigbench {}",
        args.join(" ")
    );
    let m = manifest_json(out);
    rigbench::manifest::integrity::verify(&m).unwrap();
    read_manifest(&out.join("manifest.json")).expect("the manifest reads as a Manifest")
}

/// The run directory's manifest as raw JSON, for what only JSON can show: the
/// schema's verdict and the integrity hash over the bytes' values.
pub fn manifest_json(run_dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(run_dir.join("manifest.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Runs a plan under tests/plans into a fresh directory (see `run_plan_at`);
/// returns the directory (kept alive by the TempDir), the run directory and the
/// manifest.
pub fn run_plan(plan: &str) -> (tempfile::TempDir, PathBuf, Manifest) {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("run");
    let m = run_plan_at(&repo().join("tests/plans").join(plan), &out, work.path());
    (work, out, m)
}

/// `run_plan`'s run, made once per rigbench binary and plan and copied for
/// each test that reads it (e2e_cpu, compare_bundle's first run, rerun's
/// original): the same binary on the same plan, so the same run as one made
/// anew, minus a minute of the suite. Kept in Cargo's scratch folder for
/// integration tests, one per plan (a new binary's replaces it), made in a
/// folder of its own and renamed into place whole.
pub fn shared_run(plan: &str) -> (tempfile::TempDir, PathBuf, Manifest) {
    let bin = Path::new(env!("CARGO_BIN_EXE_rigbench"));
    let plan_path = repo().join("tests/plans").join(plan);
    let key = format!(
        "{}-{}",
        rigbench::hash::sha256_file(bin).unwrap(),
        rigbench::hash::sha256_file(&plan_path).unwrap()
    );
    let shared = Path::new(env!("CARGO_TARGET_TMPDIR")).join("rigbench-shared-runs");
    let slot = shared.join(plan.trim_end_matches(".toml"));
    let made = slot.join(&key);
    if !made.join("run/manifest.json").is_file() {
        std::fs::create_dir_all(&shared).unwrap();
        let fresh = tempfile::tempdir_in(&shared).unwrap();
        run_plan_at(&plan_path, &fresh.path().join("run"), fresh.path());
        // Another binary's run goes; this one takes its place.
        let _ = std::fs::remove_dir_all(&slot);
        std::fs::create_dir_all(&slot).unwrap();
        let kept = fresh.keep();
        if std::fs::rename(&kept, &made).is_err() {
            // Made meanwhile by another test: that one stays.
            let _ = std::fs::remove_dir_all(&kept);
        }
    }
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("run");
    let cp = std::process::Command::new("cp")
        .arg("-a")
        .arg(made.join("run"))
        .arg(&out)
        .status()
        .unwrap();
    assert!(cp.success(), "copying the shared run {}", made.display());
    let m = read_manifest(&out.join("manifest.json")).expect("the shared run's manifest");
    (work, out, m)
}

/// Every run recorded in a manifest, over all cells.
pub fn runs_of(manifest: &Manifest) -> Vec<Run> {
    manifest
        .cells
        .iter()
        .flat_map(|c| c.runs.iter().cloned())
        .collect()
}

/// The manifest at `path`, if it is there and reads as a `Manifest` (one being
/// written may not yet).
pub fn read_manifest(path: &Path) -> Option<Manifest> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

/// Builds the plan's images, then starts `rigbench run --plan plan --out out` in
/// the background (in its own process group when `own_group`, as a terminal
/// would) and waits until its manifest records at least `n` runs; returns the
/// running child and the runs recorded so far.
pub fn start_run_until(
    plan: &Path,
    out: &Path,
    n: usize,
    own_group: bool,
) -> (std::process::Child, Vec<Run>) {
    use std::os::unix::process::CommandExt;
    let cwd = out.parent().unwrap();
    rigbench_ok(&["build", "--plan", plan.to_str().unwrap()], cwd);
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_rigbench"));
    cmd.args([
        "run",
        "--plan",
        plan.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ])
    .current_dir(cwd)
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::null());
    if own_group {
        cmd.process_group(0);
    }
    let mut child = cmd.spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    let mut runs = Vec::new();
    let mut ended = None;
    while std::time::Instant::now() < deadline && ended.is_none() {
        if let Some(v) = read_manifest(&out.join("manifest.json")) {
            runs = runs_of(&v);
        }
        if runs.len() >= n {
            break;
        }
        ended = child.try_wait().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    if runs.len() < n {
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "only {} runs recorded ({})",
            runs.len(),
            ended.map_or("deadline passed".to_string(), |s| format!(
                "rigbench ended: {s}"
            ))
        );
    }
    (child, runs)
}

/// The setup fields that differ, from `rigbench compare --json` output.
pub fn setup_fields(comparison: &serde_json::Value) -> Vec<&str> {
    comparison["setup"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect()
}

/// rigbench's dangling images (`podman images -q`), as the engine's own
/// command line lists them: empty when a rebuild left nothing behind.
pub fn dangling_rigbench_images() -> String {
    let o = std::process::Command::new("podman")
        .args([
            "images",
            "-q",
            "--filter",
            "dangling=true",
            "--filter",
            "label=io.rigbench.managed=true",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "podman images failed");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The engine as rigbench finds it (or the Podman service it starts, with its
/// temporary directory in the default cache).
pub async fn engine() -> rigbench::engine::Connected {
    rigbench::engine::connect(
        &rigbench::engine::connect::Target::Found,
        &rigbench::cache::Cache::locate(None).engine_tmp(),
    )
    .await
    .unwrap()
}

/// `podman save IMAGE` here into `load` (a `podman load -q` as another user,
/// say): the same bytes in another store.
pub fn save_into(image: &str, load: &mut Command) {
    let mut load = load
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let save = Command::new("podman")
        .args(["save", image])
        .stdout(load.stdin.take().unwrap())
        .status()
        .unwrap();
    assert!(
        save.success() && load.wait().unwrap().success(),
        "copying {image}"
    );
}
