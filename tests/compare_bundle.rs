//! Two real runs of the e2e plan and one with a single thread, compared with
//! `rigbench compare`; one of them bundled twice (same bytes), verified and
//! imported, its report regenerated from the import.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{repo, rigbench, rigbench_ok, run_plan, run_plan_at, shared_run};
use serde_json::Value;

fn compare_json(a: &std::path::Path, b: &std::path::Path, cwd: &std::path::Path) -> Value {
    let out = rigbench(
        &[
            "compare",
            a.to_str().unwrap(),
            b.to_str().unwrap(),
            "--json",
        ],
        cwd,
    );
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
#[ignore = "needs Podman and the model: scripts/test.sh runs it"]
fn runs_compare_and_a_run_bundles_verifies_and_imports() {
    let (wa, a, _) = shared_run("e2e.toml");
    let (_wb, b, _) = run_plan("e2e.toml");

    // The same plan twice: nothing in the setup differs, every cell matched,
    // every metric has a ratio and a verdict.
    let same = compare_json(&a, &b, wa.path());
    assert_eq!(same["setup"], serde_json::json!([]), "{}", same["setup"]);
    let cells = same["cells"].as_array().unwrap();
    assert_eq!(cells.len(), 2);
    for c in cells {
        for m in c["metrics"].as_array().unwrap() {
            assert!(m["ratio"]["ratio"].as_f64().unwrap() > 0.0, "{m}");
            assert!(m["verdict"].is_string(), "{m}");
        }
    }

    // The runs side by side (`summary`, for one plan on several hosts): a row
    // per run with its host, a column per cell, every entry measured.
    let html = wa.path().join("summary.html");
    let out = rigbench_ok(
        &[
            "summary",
            a.to_str().unwrap(),
            b.to_str().unwrap(),
            "--json",
            "--html",
            html.to_str().unwrap(),
        ],
        wa.path(),
    );
    let summaries: Value = serde_json::from_slice(&out.stdout).unwrap();
    let summaries = summaries.as_array().unwrap();
    assert_eq!(summaries.len(), 3, "gen, pp, ttft");
    for s in summaries {
        assert_eq!(s["columns"].as_array().unwrap().len(), 2, "{s}");
        let rows = s["rows"].as_array().unwrap();
        assert_eq!(rows.len(), 2, "{s}");
        for r in rows {
            assert!(r["host"].as_str().unwrap().contains("Podman"), "{r}");
            for e in r["entries"].as_array().unwrap() {
                assert_eq!(e["kind"], "measured", "{e}");
                assert!(e["summary"]["mean"].as_f64().unwrap() > 0.0, "{e}");
            }
        }
    }
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<h2>Time to first token, ms</h2>"));

    // One thread instead of two: the setup difference is named, and the run
    // measured what it says: llama-server was started with one thread and said
    // so in its log. (Not a speed ratio: on a shared machine one thread against
    // two is not reliably slower within two runs.)
    let plan = std::fs::read_to_string(repo().join("tests/plans/e2e.toml")).unwrap();
    let one = wa.path().join("one-thread.toml");
    std::fs::write(
        &one,
        plan.replace("ctx_size = 2048", "ctx_size = 2048\nthreads = 1"),
    )
    .unwrap();
    let c_dir = wa.path().join("one-thread");
    run_plan_at(&one, &c_dir, wa.path());
    let diff = compare_json(&a, &c_dir, wa.path());
    let fields = common::setup_fields(&diff);
    assert!(
        fields.contains(&"plan.variant[small].threads"),
        "{fields:?}"
    );
    // And the argument the servers were started with, as the manifest
    // recorded it (also --threads-batch: rigbench sets both).
    for flag in ["--threads", "--threads-batch"] {
        assert!(
            fields
                .iter()
                .any(|f| f.starts_with("cell[") && f.ends_with(&format!("].server_argv.{flag}"))),
            "{fields:?}"
        );
    }
    let single = rigbench::manifest::store::RunDir::open(&c_dir)
        .load()
        .unwrap();
    for cell in &single.cells {
        assert_eq!(cell.variant.threads, 1, "{}", cell.id);
        let argv = &cell.variant.server_argv;
        let at = argv.iter().position(|a| a == "--threads").unwrap();
        assert_eq!(argv[at + 1], "1", "{argv:?}");
        let log = &cell.server.as_ref().unwrap().log;
        let text = std::fs::read_to_string(c_dir.join(log)).unwrap();
        // llama.cpp: "init: llama threadpool init, n_threads = 1".
        assert!(
            text.lines()
                .any(|l| l.contains("threadpool init") && l.trim_end().ends_with("n_threads = 1")),
            "{text}"
        );
    }
    let md = rigbench(
        &["compare", a.to_str().unwrap(), c_dir.to_str().unwrap()],
        wa.path(),
    );
    let md = String::from_utf8_lossy(&md.stdout);
    let row = |field: &str| {
        md.lines().any(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            cells == ["", field, "2", "1", ""]
        })
    };
    assert!(row("plan.variant[small].threads"), "{md}");
    assert!(
        row("cell[cpu@default/gemma-3-270m-q4_k_m/small].server_argv.--threads"),
        "{md}"
    );

    // Bundles: the same run gives the same bytes; verify passes; import makes
    // a run directory whose report regenerates.
    let x = wa.path().join("x.tar.gz");
    let y = wa.path().join("y.tar.gz");
    for f in [&x, &y] {
        rigbench_ok(
            &["bundle", a.to_str().unwrap(), "-o", f.to_str().unwrap()],
            wa.path(),
        );
    }
    assert_eq!(std::fs::read(&x).unwrap(), std::fs::read(&y).unwrap());
    // A bundle compares as its run does.
    let from_bundle = compare_json(&x, &b, wa.path());
    assert_eq!(from_bundle["cells"], same["cells"]);
    let v = rigbench(&["verify", x.to_str().unwrap()], wa.path());
    assert!(v.status.success());
    assert!(String::from_utf8_lossy(&v.stdout).contains(": ok: "));
    let into = wa.path().join("imported");
    rigbench_ok(
        &[
            "import",
            x.to_str().unwrap(),
            "--into",
            into.to_str().unwrap(),
        ],
        wa.path(),
    );
    assert_eq!(
        std::fs::read(into.join("manifest.json")).unwrap(),
        std::fs::read(a.join("manifest.json")).unwrap()
    );
    rigbench_ok(&["report", into.to_str().unwrap()], wa.path());
    // Checked without rigbench: the user guide's lines, as they are.
    third_party_check(&x, wa.path());
    // A flipped byte in the bundle: verify fails.
    let mut bytes = std::fs::read(&x).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    let bad = wa.path().join("bad.tar.gz");
    std::fs::write(&bad, bytes).unwrap();
    assert!(
        !rigbench(&["verify", bad.to_str().unwrap()], wa.path())
            .status
            .success()
    );
}

/// The shell block docs/bundles-and-rerun.md gives for checking a bundle
/// without rigbench ("Checking a run without rigbench").
fn guide_check_lines() -> String {
    let page = std::fs::read_to_string(repo().join("docs/bundles-and-rerun.md")).unwrap();
    let marker = "<!-- tests/compare_bundle.rs runs the lines of the next block, as they are -->";
    let after = &page[page.find(marker).expect("the guide's marker") + marker.len()..];
    let body = after
        .trim_start()
        .strip_prefix("```sh\n")
        .expect("a sh block after it");
    body[..body.find("```").unwrap()].to_string()
}

/// Runs the guide's lines on a copy of `bundle` named run.tar.gz, in a fresh
/// venv (its python3 first on PATH): they pass. Then on a copy whose
/// manifest.json had one digit changed and SHA256SUMS made to match it: the
/// Python line (RFC 8785 over the manifest) catches what sha256sum cannot.
fn third_party_check(bundle: &std::path::Path, work: &std::path::Path) {
    use std::process::Command;
    let lines = guide_check_lines();
    let dir = work.join("third-party");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(bundle, dir.join("run.tar.gz")).unwrap();
    let venv = dir.join("venv");
    let made = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .unwrap();
    assert!(made.success());
    let path = format!(
        "{}:{}",
        venv.join("bin").display(),
        std::env::var("PATH").unwrap()
    );
    let run = |d: &std::path::Path, script: &str| {
        let out = Command::new("bash")
            .args(["-euo", "pipefail", "-c", script])
            .current_dir(d)
            .env("PATH", &path)
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!("--- the guide's check in {}\n{text}", d.display());
        (out.status.success(), text)
    };
    let (ok, text) = run(&dir, &lines);
    assert!(ok, "the guide's check failed on a good bundle: {text}");
    assert!(text.contains("manifest ok: "), "{text}");

    // A forged manifest with a matching SHA256SUMS line.
    let forged = work.join("forged");
    std::fs::create_dir_all(&forged).unwrap();
    let unpack = Command::new("tar")
        .args(["-xzf"])
        .arg(bundle)
        .current_dir(&forged)
        .status()
        .unwrap();
    assert!(unpack.success());
    let top = std::fs::read_dir(&forged)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let manifest = std::fs::read_to_string(top.join("manifest.json")).unwrap();
    let at = manifest.find("\"gen_tps\": ").unwrap() + "\"gen_tps\": ".len();
    let digit = manifest.as_bytes()[at];
    let other = if digit == b'9' {
        '1'
    } else {
        (digit + 1) as char
    };
    let changed = format!("{}{other}{}", &manifest[..at], &manifest[at + 1..]);
    std::fs::write(top.join("manifest.json"), &changed).unwrap();
    let sums = std::fs::read_to_string(top.join("SHA256SUMS")).unwrap();
    let new_sum = rigbench::hash::sha256_hex(changed.as_bytes());
    let sums: String = sums
        .lines()
        .map(|l| {
            if l.ends_with("  manifest.json") {
                format!("{new_sum}  manifest.json\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    std::fs::write(top.join("SHA256SUMS"), sums).unwrap();
    let repack = Command::new("tar")
        .args(["-czf", "run.tar.gz"])
        .arg(top.file_name().unwrap())
        .current_dir(&forged)
        .status()
        .unwrap();
    assert!(repack.success());
    std::fs::remove_dir_all(&top).unwrap();
    let (ok, text) = run(&forged, &lines);
    assert!(!ok, "the guide's check passed a forged manifest: {text}");
    assert!(text.contains("manifest changed"), "{text}");
}
