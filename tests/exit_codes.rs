//! The exit codes a script or CI job sees (`rigbench --help`,
//! docs/exit-codes.md): `compare --fail-on` over the committed H200 runs and a
//! copy of one with a planted slowdown, a usage error, an error, and
//! `--version`'s commit.
//! No Podman: these run in a plain `cargo test`. A run's own codes (3 when
//! cells failed, 130 interrupted) are checked where real runs are made
//! (tests/faults.rs, tests/interrupt.rs).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;

use common::{repo, rigbench};
use rigbench::manifest::store::RunDir;

fn h200(run: &str) -> String {
    repo()
        .join("results/h200-2026-12")
        .join(run)
        .to_string_lossy()
        .into_owned()
}

fn code_and_stderr(args: &[&str], cwd: &Path) -> (Option<i32>, String) {
    let out = rigbench(args, cwd);
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Run A with every CUDA run's generation rate scaled by `factor`, saved (and
/// sealed) as a new run directory under `work`.
fn scaled(work: &Path, factor: f64) -> String {
    let mut m = RunDir::open(Path::new(&h200("a"))).load().unwrap();
    for c in m.cells.iter_mut().filter(|c| c.backend.name() == "cuda") {
        for r in &mut c.runs {
            r.gen_tps *= factor;
            r.gen_tps_server *= factor;
        }
    }
    let dir = work.join("slowed");
    RunDir::create(&dir).unwrap().save(&mut m).unwrap();
    dir.to_string_lossy().into_owned()
}

#[test]
fn compare_fail_on_gates_on_what_it_names() {
    let work = tempfile::tempdir().unwrap();
    let (a, b) = (h200("a"), h200("b"));

    // Two runs of one plan: nothing slower, nothing changed, but nothing shown
    // the same either at ±2 % with these spreads.
    let (code, err) = code_and_stderr(&["compare", &a, &b, "--fail-on", "slower"], work.path());
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("--fail-on slower: nothing found"), "{err}");
    let (code, _) = code_and_stderr(&["compare", &a, &b, "--fail-on", "changed"], work.path());
    assert_eq!(code, Some(0));
    let (code, err) = code_and_stderr(&["compare", &a, &b, "--fail-on", "any"], work.path());
    assert_eq!(code, Some(4), "{err}");
    assert!(err.contains("inconclusive"), "{err}");
    // Without --fail-on, compare only reports.
    let (code, _) = code_and_stderr(&["compare", &a, &b], work.path());
    assert_eq!(code, Some(0));

    // CUDA generation 30 % slower in B: found as slower, and as changed.
    let slowed = scaled(work.path(), 0.7);
    let (code, err) = code_and_stderr(
        &["compare", &a, &slowed, "--fail-on", "slower"],
        work.path(),
    );
    assert_eq!(code, Some(4), "{err}");
    assert!(
        err.contains("cuda gemma-3-270m-q4_k_m default p31: gen t/s slower (0.700×)"),
        "{err}"
    );
    assert!(
        !err.contains("cpu gemma"),
        "CPU cells did not change: {err}"
    );
    // 30 % faster in B: not slower, but changed.
    let faster = scaled(&work.path().join("f"), 1.3);
    let (code, _) = code_and_stderr(
        &["compare", &a, &faster, "--fail-on", "slower"],
        work.path(),
    );
    assert_eq!(code, Some(0));
    let (code, err) = code_and_stderr(
        &["compare", &a, &faster, "--fail-on", "changed"],
        work.path(),
    );
    assert_eq!(code, Some(4), "{err}");
    assert!(err.contains("gen t/s faster (1.300×)"), "{err}");

    // Against the published reference the same run was made into: nothing
    // slower; a slowed copy is.
    let (code, err) = code_and_stderr(
        &[
            "compare",
            &b,
            "--reference",
            "h200-gemma3-270m",
            "--fail-on",
            "slower",
        ],
        work.path(),
    );
    assert_eq!(code, Some(0), "{err}");
    let (code, err) = code_and_stderr(
        &[
            "compare",
            &slowed,
            "--reference",
            "h200-gemma3-270m",
            "--fail-on",
            "slower",
        ],
        work.path(),
    );
    assert_eq!(code, Some(4), "{err}");
    assert!(err.contains("gen t/s slower"), "{err}");
}

#[test]
fn usage_errors_errors_and_the_version() {
    let work = tempfile::tempdir().unwrap();
    let (code, _) = code_and_stderr(&["no-such-command"], work.path());
    assert_eq!(code, Some(2));
    let (code, _) = code_and_stderr(&["compare", &h200("a"), "--fail-on", "never"], work.path());
    assert_eq!(code, Some(2));
    let (code, err) = code_and_stderr(&["compare", "/nonexistent/run", &h200("b")], work.path());
    assert_eq!(code, Some(1));
    assert!(err.contains("/nonexistent/run"), "{err}");

    let out = rigbench(&["--version"], work.path());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("rigbench 0.1.0 (commit "), "{text}");
    // Built from a git checkout (as the test command's clone is): its HEAD.
    let head = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(repo())
        .output()
        .unwrap();
    if head.status.success() {
        let head = String::from_utf8_lossy(&head.stdout).trim().to_string();
        assert!(
            text.contains(&format!("(commit {head}")),
            "{text} vs {head}"
        );
    }
    let help = rigbench(&["--help"], work.path());
    assert!(String::from_utf8_lossy(&help.stdout).contains("3    run complete, but some cells"));
}
