//! The shipped reference parses to every published figure; a run of the study's
//! plan (hand-made) is compared with it; bad reference files name the field.

use super::compare::{compare, differs};
use super::render::markdown;
use super::*;
use crate::manifest::fixtures::{cell, run};
use crate::manifest::{Failure, Manifest};
use crate::stats::compare::Verdict;
use crate::status::FailureMode;

#[test]
fn the_study_reference_holds_every_published_figure() {
    let r = load("strix-halo-2026-05").unwrap();
    assert_eq!(r.runs, 4);
    // 12 Qwen cells (Vulkan, ROCm f16, ROCm q8_0 × 4 lengths) + 4 Gemma Vulkan.
    assert_eq!(r.cells.len(), 16);
    let generation: Vec<f64> = r
        .cells
        .iter()
        .filter_map(|c| c.gen_tps.map(|g| g[0]))
        .collect();
    assert_eq!(
        generation,
        [
            55.6, 55.5, 54.1, 52.0, 42.1, 43.7, 42.9, 40.6, 43.1, 42.2, 35.6, 28.2
        ]
    );
    let pp: Vec<f64> = r
        .cells
        .iter()
        .filter_map(|c| c.pp_tps.map(|g| g[0]))
        .collect();
    assert_eq!(
        pp,
        [
            239.0, 870.0, 993.0, 955.0, 247.0, 694.0, 921.0, 901.0, 254.0, 757.0, 587.0, 351.0
        ]
    );
    assert_eq!(r.cells[5].pp_tps, Some([694.0, 187.0]));
    assert_eq!(r.cells[12].gen_tps_range, Some([6.0, 6.4]));
    let runs: Vec<&str> = r.failures.iter().map(|f| f.runs.as_str()).collect();
    assert_eq!(
        runs,
        ["40/40", "8/8", "smoke test", "smoke test", "smoke test"]
    );
    // Every published cell names a cell of the plan that reruns the study.
    let plan = crate::plan::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("plans/strix-halo-2026-05.toml"),
        2,
    )
    .unwrap();
    let m = crate::plan::matrix::expand(&plan);
    let ids: Vec<&str> = m
        .groups
        .iter()
        .flat_map(|g| g.cells.iter().map(|c| c.id.as_str()))
        .collect();
    for c in &r.cells {
        let id = format!(
            "{}@{}.{}.{}.p{}",
            c.backend, c.source, c.model, c.variant, c.prompt_tokens
        );
        assert!(ids.contains(&id.as_str()), "{id}");
    }
}

#[test]
fn facts_differ_by_commit_prefix_and_version_components() {
    assert_eq!(
        differs("commit:b9016", "846262d78", "846262d78abcdef"),
        Some(false)
    );
    assert_eq!(
        differs("commit:b9016", "846262d78", "0c1e57098bb"),
        Some(true)
    );
    // Debian's ROCm 6.4.43484 is not Fedora's 6.4.4.
    assert_eq!(differs("rocm", "6.4.4", "6.4.43484"), Some(true));
    assert_eq!(differs("rocm", "6.4.4", "6.4.4-1.fc43"), Some(false));
    assert_eq!(differs("vram_gb", "96", "103.1"), Some(true));
    assert_eq!(
        differs("mesa", "Mesa RADV from Fedora 43", "25.1.4"),
        Some(true)
    );
    assert_eq!(differs("kernel_cmdline", "not published", "quiet"), None);
    assert_eq!(differs("x", "OFF", "off"), Some(false));
}

fn runs4(v: [f64; 4]) -> Vec<crate::manifest::Run> {
    let mut r = vec![run(1.0, 1.0, 1.0, true)];
    r.extend(v.iter().map(|g| run(*g, 240.0, 100.0, false)));
    r
}

#[test]
fn a_run_of_the_study_plan_against_the_published_figures() {
    let r = load("strix-halo-2026-05").unwrap();
    let plan = crate::plan::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("plans/strix-halo-2026-05.toml"),
        2,
    )
    .unwrap();
    let host = crate::host::probe(std::path::Path::new("/nonexistent"));
    let mut m = Manifest::new("r", plan, host, None);
    let mk = |id: &str,
              backend: &str,
              source: &str,
              model: &str,
              variant: &str,
              p: u32,
              runs,
              failure| {
        let mut c = cell(p, variant, runs, failure);
        c.id = id.to_string();
        c.backend = crate::backend::Backend::parse(backend).unwrap();
        c.source = source.into();
        c.model = model.into();
        c
    };
    let qwen = "qwen3.6-35b-a3b-ud-q5_k_xl";
    let gemma = "gemma-4-31b-it-q8_0";
    m.cells = vec![
        // Reproduces 55.6 ± 0.1.
        mk(
            "vulkan@b9016.q.f16.p31",
            "vulkan",
            "b9016",
            qwen,
            "f16",
            31,
            runs4([55.5, 55.6, 55.7, 55.6]),
            None,
        ),
        // Far below 55.5 ± 0.0.
        mk(
            "vulkan@b9016.q.f16.p461",
            "vulkan",
            "b9016",
            qwen,
            "f16",
            461,
            runs4([50.0, 50.1, 49.9, 50.0]),
            None,
        ),
        // Failed where the study ran.
        mk(
            "rocm6@b9016.q.f16.p31",
            "rocm6",
            "b9016",
            qwen,
            "f16",
            31,
            vec![],
            Some(Failure {
                mode: FailureMode::Hang,
                message: "x".into(),
                evidence: vec![],
            }),
        ),
        // Gemma on Vulkan inside the published range.
        mk(
            "vulkan@b9016.g.f16.p31",
            "vulkan",
            "b9016",
            gemma,
            "f16",
            31,
            runs4([6.1, 6.2, 6.2, 6.3]),
            None,
        ),
        // Gemma on ROCm at b9016: crashed as published (both K variants).
        mk(
            "rocm6@b9016.g.f16.p31",
            "rocm6",
            "b9016",
            gemma,
            "f16",
            31,
            vec![],
            Some(Failure {
                mode: FailureMode::Crash,
                message: "x".into(),
                evidence: vec![],
            }),
        ),
        // Gemma on ROCm at master: it ran, where the study crashed.
        mk(
            "rocm6@master.g.f16.p31",
            "rocm6",
            "master",
            gemma,
            "f16",
            31,
            runs4([6.0, 6.0, 6.1, 6.0]),
            None,
        ),
    ];
    let c = compare(&r, "run", &m, 0.02);
    assert_eq!(c.cells.len(), 16, "every published cell is listed");
    let generation = |i: usize| {
        c.cells[i]
            .metrics
            .iter()
            .find(|x| x.metric == crate::metric::Metric::GenTps)
            .unwrap()
    };
    assert_eq!(c.cells[0].status.to_string(), "compared");
    assert_eq!(generation(0).verdict, Some(Verdict::Same));
    assert_eq!(generation(1).verdict, Some(Verdict::Slower));
    assert_eq!(c.cells[2].status.to_string(), "not run");
    assert_eq!(
        c.cells[4].status.to_string(),
        "failed where published ran (hang)"
    );
    assert_eq!(generation(12).in_range, Some(true));
    assert_eq!(c.failures[0].status.to_string(), "failed as published");
    assert_eq!(
        c.failures[1].status.to_string(),
        "ran where published failed (1 of 1 cells)"
    );
    assert_eq!(c.failures[2].status.to_string(), "not run");
    // Setup: no GPU, no images here: recorded facts are missing, the published
    // context size is the plan's.
    let ctx = c
        .setup
        .iter()
        .find(|f| f.fact == "server context size")
        .unwrap();
    assert_eq!(
        (ctx.yours.as_deref(), ctx.differs),
        (Some("65536"), Some(false))
    );
    let md = markdown(&c);
    let row = md
        .lines()
        .find(|l| l.starts_with("| vulkan@b9016 gemma-4-31b-it-q8_0 f16 p31 "))
        .unwrap();
    assert!(
        row.contains("| 6.0–6.4 (range) ") && row.contains("| in the published range"),
        "{row}"
    );
    assert!(md.contains("| 55.6 ± 0.1 (n=4) "), "{md}");
    assert!(md.contains("| 52.0 ± 0.0 (n=4) "), "{md}");
    assert!(md.contains("ran where published failed"), "{md}");
}

#[test]
fn a_bad_reference_names_the_field() {
    let err = parse("name = \"x\"\ntitle = \"t\"\nruns = 1\n", "r.toml")
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "reference r.toml: runs: 1: at least 2 runs stand behind a mean and sd"
    );
    let text = "name = \"x\"\ntitle = \"t\"\nruns = 4\n[[cells]]\nsource = \"s\"\nbackend = \"cpu\"\nmodel = \"m\"\nvariant = \"v\"\nprompt_tokens = 31\ngen_tps = [-1.0, 0.1]\n";
    let err = parse(text, "r.toml").unwrap_err().to_string();
    assert!(
        err.contains("cells[0].gen_tps: [-1, 0.1]: a positive mean"),
        "{err}"
    );
    let err = load("nope").unwrap_err().to_string();
    assert!(
        err.contains(
            "no reference named \"nope\" (built in: strix-halo-2026-05, h200-gemma3-270m, h100-study)"
        ),
        "{err}"
    );
}

#[test]
fn llama_bench_tests_are_set_against_the_runs_by_model_type_and_shape() {
    let jsonl = r#"{"backends": "CPU", "model_type": "gemma3 270M Q4_K - Medium", "cpu_info": "EPYC", "n_prompt": 16, "n_gen": 0, "n_depth": 0, "avg_ts": 500.0, "stddev_ts": 1.0, "samples_ts": [499.0, 500.0, 501.0]}
{"backends": "CPU", "model_type": "gemma3 270M Q4_K - Medium", "cpu_info": "EPYC", "n_prompt": 0, "n_gen": 4, "n_depth": 0, "avg_ts": 60.0, "stddev_ts": 0.5, "samples_ts": [59.5, 60.0, 60.5]}
{"backends": "CPU", "model_type": "gemma3 270M Q4_K - Medium", "cpu_info": "EPYC", "n_prompt": 0, "n_gen": 128, "n_depth": 0, "avg_ts": 55.0, "stddev_ts": 0.5, "samples_ts": [54.5, 55.0, 55.5]}
"#;
    let r = from_llama_bench::from_files(&[("lb.jsonl".into(), jsonl.into())], "lb", "t", None)
        .unwrap();
    let mut m = crate::manifest::fixtures::manifest();
    // The run's pp16 is the same, its tg4 30 % slower, and it has no tg128.
    let results = vec![
        serde_json::json!({"model_type": "gemma3 270M Q4_K - Medium", "n_prompt": 16, "n_gen": 0, "n_depth": 0, "samples_ts": [499.5, 500.0, 500.5]}),
        serde_json::json!({"model_type": "gemma3 270M Q4_K - Medium", "n_prompt": 0, "n_gen": 4, "n_depth": 0, "samples_ts": [42.0, 42.2, 41.8]}),
    ];
    m.llama_bench = vec![crate::manifest::LlamaBenchRecord {
        backend: Backend::Cpu,
        source: "default".into(),
        model: "gemma-3-270m-q4_k_m".into(),
        argv: vec![],
        notes: vec![],
        status: crate::status::CellStatus::Ok,
        failure: None,
        results,
        seconds: 1.0,
        log: String::new(),
    }];
    let c = compare(&r, "run", &m, 0.02);
    assert_eq!(c.llama_bench.len(), 3);
    let [pp, tg4, tg128] = [&c.llama_bench[0], &c.llama_bench[1], &c.llama_bench[2]];
    assert_eq!(pp.test, "cpu gemma3 270M Q4_K - Medium pp16");
    assert_eq!(pp.verdict, Some(Verdict::Same), "{pp:?}");
    assert_eq!(tg4.verdict, Some(Verdict::Slower), "{tg4:?}");
    assert!((tg4.ratio.unwrap().ratio - 0.7).abs() < 1e-9);
    assert!(tg128.yours.is_none() && tg128.verdict.is_none());
    let md = markdown(&c);
    assert!(md.contains("## llama-bench (tokens/s)"), "{md}");
    assert!(md.contains("| not run "), "{md}");
    // A reference of llama-bench tests only has no server-cell tables.
    assert!(!md.contains("## Generation"), "{md}");
}

#[test]
fn a_reference_from_a_run_sets_its_kernel_and_compilers_against_the_run() {
    // Run b of the H100 study (two backends, each image's compiler recorded).
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("results/h100-study-2026-12/b");
    let m = crate::manifest::store::RunDir::open(&dir).load().unwrap();
    let r = from_run::from_manifest(&m, "b", "run b");
    let c = compare(&r, "b", &m, 0.02);
    let fact = |name: &str| c.setup.iter().find(|f| f.fact == name).unwrap().clone();
    let kernel = fact("kernel");
    assert_eq!(kernel.yours.as_deref(), Some("6.18.44-fc-v1272-gpu"));
    assert_eq!(kernel.differs, Some(false));
    for compiler in ["cuda compiler", "vulkan compiler"] {
        let f = fact(compiler);
        assert_eq!(
            f.yours.as_deref(),
            Some("c++ (Ubuntu 13.3.0-6ubuntu2~24.04.1) 13.3.0")
        );
        assert_eq!(f.differs, Some(false));
    }
    // Another run's compiler differs.
    let mut other = m.clone();
    other.images[0]
        .toolchain
        .insert("compiler".into(), "c++ (Debian 14.2.0-19) 14.2.0".into());
    let c = compare(&r, "other", &other, 0.02);
    let name = format!("{} compiler", other.images[0].backend);
    let f = c.setup.iter().find(|f| f.fact == name).unwrap();
    assert_eq!(f.differs, Some(true));
}
