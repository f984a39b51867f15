//! Shared by the tests that drive real Podman: the binary under test, run as a user
//! would run it.

#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;

pub const MODEL_SHA256: &str = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818";
pub const COMMIT: &str = "0c1e57098bba43ac29e6e3b677cdceebdd22334f";

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the rigbench binary with `args`, echoing its output into the test log.
pub fn rigbench(args: &[&str], cwd: &Path) -> Output {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rigbench"))
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

/// Runs `rigbench run --plan plan --out out`, checks that it succeeded and that
/// the manifest's integrity holds; returns the manifest.
pub fn run_plan_at(plan: &Path, out: &Path, cwd: &Path) -> serde_json::Value {
    rigbench_ok(
        &[
            "run",
            "--plan",
            plan.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        cwd,
    );
    let text = std::fs::read_to_string(out.join("manifest.json")).unwrap();
    let m: serde_json::Value = serde_json::from_str(&text).unwrap();
    rigbench::manifest::integrity::verify(&m).unwrap();
    m
}

/// Runs a plan under tests/plans into a fresh directory (see `run_plan_at`);
/// returns the directory (kept alive by the TempDir), the run directory and the
/// manifest.
pub fn run_plan(plan: &str) -> (tempfile::TempDir, PathBuf, serde_json::Value) {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("run");
    let m = run_plan_at(&repo().join("tests/plans").join(plan), &out, work.path());
    (work, out, m)
}
