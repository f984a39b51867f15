//! Plan parsing, defaults and every kind of bad input.

use super::*;

#[test]
fn builtin_plan_resolves_every_default() {
    let p = builtin(8).unwrap();
    assert_eq!(p.name, "default");
    assert_eq!(p.origin, BUILTIN_ORIGIN);
    assert_eq!(p.bench.runs, 4);
    assert_eq!(p.bench.warmup_runs, 1);
    assert_eq!(p.bench.prompt_tokens, [31, 461, 3799, 11205]);
    assert_eq!(
        p.sources[0].commit,
        "0c1e57098bba43ac29e6e3b677cdceebdd22334f"
    );
    assert_eq!(p.sources[0].build_number, None);
    assert_eq!(
        p.models[0].sha256.as_deref(),
        Some("a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818")
    );
    assert_eq!(p.backends[0].backend, Backend::Cpu);
    assert_eq!(
        p.variants[0].threads, 8,
        "threads = auto takes the CPU count"
    );
    assert_eq!(p.variants[0].n_gpu_layers, AutoOr::Auto);
    assert_eq!(p.variants[0].ctx_size, 16384);
}

#[test]
fn the_shipped_default_file_is_the_builtin() {
    let on_disk = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("plans/default.toml"),
    )
    .unwrap();
    assert_eq!(
        parse(&on_disk, BUILTIN_ORIGIN, 2).unwrap(),
        builtin(2).unwrap()
    );
}

fn minimal(extra: &str) -> String {
    format!(
        r#"name = "t"
[source]
commit = "0c1e570"
[[source.archives]]
kind = "path"
path = "/x.tar.gz"
dir = "llama.cpp"
[[models]]
name = "m"
file = "m.gguf"
[[models.sources]]
kind = "path"
path = "/m.gguf"
[[backends]]
name = "cpu"
{extra}"#
    )
}

#[test]
fn minimal_plan_gets_one_default_variant() {
    let p = parse(&minimal(""), "t.toml", 2).unwrap();
    assert_eq!(p.variants.len(), 1);
    assert_eq!(p.variants[0].name, "default");
    assert_eq!(p.variants[0].flash_attn, FlashAttn::On);
    assert_eq!(p.backends[0].base_image, AutoOr::Auto);
}

#[test]
fn unknown_field_names_file_line_and_column() {
    let text = minimal("speed = 3\n");
    let err = parse(&text, "plans/x.toml", 2).unwrap_err().to_string();
    assert!(
        err.starts_with("plan plans/x.toml, line 16, column 1:"),
        "{err}"
    );
    assert!(err.contains("unknown field `speed`"), "{err}");
}

#[test]
fn syntax_error_names_line_and_column() {
    let err = parse("name = \"t\"\n[bench\n", "p.toml", 2)
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("plan p.toml, line 2, column"), "{err}");
}

#[test]
fn unknown_field_inside_a_source_is_refused() {
    let text = minimal("").replace("dir = \"llama.cpp\"", "dir = \"llama.cpp\"\nshasum = \"x\"");
    let err = parse(&text, "p.toml", 2).unwrap_err().to_string();
    assert!(err.contains("shasum"), "{err}");
}

fn invalid(extra: &str) -> String {
    parse(&minimal(extra), "p.toml", 2).unwrap_err().to_string()
}

#[test]
fn bad_values_name_the_field_and_value() {
    let cases = [
        ("[bench]\nruns = 0\n", "bench.runs"),
        ("[bench]\nn_predict = 1\n", "bench.n_predict"),
        (
            "[bench]\nprompt_tokens = [31, 31]\n",
            "a length appears twice",
        ),
        ("[bench]\nprompt_tokens = []\n", "bench.prompt_tokens"),
        (
            "[[variants]]\nname = \"v\"\nflash_attn = \"yes\"\n",
            "variants[0].flash_attn: \"yes\"",
        ),
        (
            "[[variants]]\nname = \"v\"\ncache_type_k = \"q9\"\n",
            "\"q9\" is not one of",
        ),
        (
            "[[variants]]\nname = \"v\"\nserver_args = [\"--ctx-size=8\"]\n",
            "set by rigbench from ctx_size",
        ),
        (
            "[[variants]]\nname = \"v\"\nthreads = \"many\"\n",
            "expected \"auto\" or a whole number",
        ),
        ("[[variants]]\nname = \"a b\"\n", "variants[0].name"),
        (
            "[[variants]]\nname = \"v\"\n[[variants]]\nname = \"v\"\n",
            "\"v\" appears twice",
        ),
        (
            "[[variants]]\nname = \"v\"\nbatch_size = 128\nubatch_size = 512\n",
            "batch_size must be at least ubatch_size",
        ),
        (
            "[bench]\nruns = 3\nrounds = 4\n",
            "bench.rounds: 4: from 1 to bench.runs (3)",
        ),
        ("[bench]\nrounds = 0\n", "bench.rounds: 0"),
        ("[bench]\nmax_runs = 12\n", "bench.target_ci_pct: missing"),
        ("[bench]\ntarget_ci_pct = 1.0\n", "bench.max_runs: missing"),
        (
            "[bench]\nruns = 4\nmax_runs = 3\ntarget_ci_pct = 1.0\n",
            "bench.max_runs: 3 is below bench.runs (4)",
        ),
        (
            "[bench]\nmax_runs = 8\ntarget_ci_pct = 0.0\n",
            "bench.target_ci_pct: 0: a percentage above 0",
        ),
        (
            "[bench]\nmax_runs = 8\ntarget_ci_pct = 1.0\ntarget_metrics = [\"tps\"]\n",
            "bench.target_metrics: \"tps\" is not a metric; use gen_tps, gen_tps_server, pp_tps, ttft_ms",
        ),
        (
            "[bench]\ntarget_metrics = [\"gen_tps\"]\n",
            "bench.target_metrics: has no effect",
        ),
    ];
    for (extra, expect) in cases {
        let err = invalid(extra);
        assert!(err.contains(expect), "for {extra:?}: {err}");
        assert!(err.starts_with("plan p.toml"), "{err}");
    }
}

#[test]
fn a_precision_target_defaults_its_metrics_and_is_off_by_default() {
    let p = parse(&minimal(""), "p.toml", 2).unwrap();
    assert_eq!(p.bench.precision, None);
    assert_eq!(p.bench.max_runs(), 4);
    assert_eq!(p.bench.runs_text(), "1 warm-up + 4 measured runs");
    let p = parse(
        &minimal("[bench]\nruns = 3\nmax_runs = 10\ntarget_ci_pct = 1.5\n"),
        "p.toml",
        2,
    )
    .unwrap();
    let pr = p.bench.precision.as_ref().unwrap();
    assert_eq!((pr.max_runs, pr.target_ci_pct), (10, 1.5));
    assert_eq!(pr.metrics, crate::metric::Metric::HEADLINE);
    assert_eq!(p.bench.max_runs(), 10);
    assert_eq!(
        p.bench.runs_text(),
        "1 warm-up + 3 to 10 measured runs (more while the 95 % interval of gen_tps, pp_tps, ttft_ms is wider than ±1.5 % of its mean)"
    );
}

#[test]
fn rounds_share_out_the_runs_first_rounds_first() {
    let p = parse(&minimal("[bench]\nruns = 5\nrounds = 3\n"), "p.toml", 2).unwrap();
    // 5 runs in 3 rounds: 2, 2, 1 (5 = 3 · 1 + 2; the first two take one more).
    let q: Vec<u32> = (0..5).map(|r| p.bench.quota(r)).collect();
    assert_eq!(q, [2, 4, 5, 5, 5]);
    assert_eq!(
        p.bench.runs_text(),
        "1 warm-up + 5 measured runs in 3 rounds over the whole matrix, each round a new server start with its own warm-up"
    );
    let one = parse(&minimal(""), "p.toml", 2).unwrap();
    assert_eq!((one.bench.rounds, one.bench.quota(0)), (1, 4));
}

#[test]
fn bad_backend_sha_and_commit() {
    let err = parse(
        &minimal("").replace("name = \"cpu\"", "name = \"metal\""),
        "p.toml",
        2,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains(
            "backends[0].name: unknown backend \"metal\" (known: cpu, vulkan, rocm6, rocm7, cuda)"
        ),
        "{err}"
    );

    let err = parse(
        &minimal("").replace("file = \"m.gguf\"", "file = \"m.gguf\"\nsha256 = \"abc\""),
        "p.toml",
        2,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("models[0].sha256: \"abc\" is not a SHA-256"),
        "{err}"
    );

    let err = parse(&minimal("").replace("0c1e570", "main"), "p.toml", 2)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("source.commit: \"main\" is not a git commit id"),
        "{err}"
    );

    let err = parse(
        &minimal("").replace("dir = \"llama.cpp\"", "dir = \"../etc\""),
        "p.toml",
        2,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("source.archives[0].dir"), "{err}");
}

#[test]
fn build_args_may_not_override_what_rigbench_sets() {
    let text = minimal("").replace(
        "name = \"cpu\"",
        "name = \"cpu\"\nbuild_args = { LLAMA_COMMIT = \"abc\" }",
    );
    let err = parse(&text, "p.toml", 2).unwrap_err().to_string();
    assert!(
        err.contains("backends[0].build_args.LLAMA_COMMIT: is set by rigbench"),
        "{err}"
    );
}

#[test]
fn unreadable_plan_names_the_file() {
    let err = load(std::path::Path::new("/nonexistent/plan.toml"), 2)
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("cannot read plan /nonexistent/plan.toml"),
        "{err}"
    );
}

#[test]
fn build_args_are_the_containerfiles_with_defaults_made_explicit() {
    let text = minimal("").replace(
        "name = \"cpu\"",
        "name = \"rocm7\"\nbuild_args = { ROCWMMA_FATTN = \"OFF\" }",
    );
    let p = parse(&text, "p.toml", 2).unwrap();
    let args = &p.backends[0].build_args;
    assert_eq!(args["ROCWMMA_FATTN"], "OFF");
    assert_eq!(args["GPU_TARGETS"], "gfx1151");
    assert_eq!(args["HIP_NO_VMM"], "ON");

    let text = minimal("").replace(
        "name = \"cpu\"",
        "name = \"cpu\"\nbuild_args = { FOO = \"1\" }",
    );
    let err = parse(&text, "p.toml", 2).unwrap_err().to_string();
    assert!(
        err.contains("backends[0].build_args.FOO: Containerfile.cpu takes no such build argument (it takes: GGML_NATIVE)"),
        "{err}"
    );
}

#[test]
fn faults_requests_and_selectors_are_checked_by_name() {
    let cases = [
        (
            "[[variants]]\nname = \"v\"\nfault = { signal = \"HUP\", after_tokens = 4 }\n",
            "p.toml: variants[0].fault.signal: \"HUP\" is not one of KILL, STOP, TERM, ABRT, SEGV",
        ),
        (
            "[[variants]]\nname = \"v\"\nfault = { signal = \"KILL\", after_tokens = 128 }\n",
            "p.toml: variants[0].fault.after_tokens: 128 would never fire: runs generate 128 tokens (bench.n_predict)",
        ),
        (
            "[[variants]]\nname = \"v\"\nrequest = { n_predict = 4 }\n",
            "p.toml: variants[0].request.n_predict: is set by rigbench for every measured request; remove it",
        ),
        (
            "[[exclude]]\nbackend = \"vulkan\"\n",
            "p.toml: exclude[0].backend: \"vulkan\" is not one of the plan's [[backends]]",
        ),
        (
            "[[include]]\nvariant = \"tiny\"\n",
            "p.toml: include[0].variant: \"tiny\" is not one of the plan's [[variants]]",
        ),
        (
            "[[include]]\nprompt_tokens = []\n",
            "p.toml: include[0].prompt_tokens: one or more lengths, each at least 1",
        ),
    ];
    for (extra, expect) in cases {
        let err = parse(&minimal(extra), "p.toml", 2).unwrap_err().to_string();
        assert!(err.ends_with(expect), "{extra}: {err}");
    }
    let ok = parse(
        &minimal(
            "[[variants]]\nname = \"v\"\nrequest = { logit_bias = [[1, 100.0]] }\nfault = { signal = \"STOP\", after_tokens = 8 }\n[[include]]\nvariant = \"v\"\nprompt_tokens = [5000]\n",
        ),
        "p.toml",
        2,
    )
    .unwrap();
    assert_eq!(
        ok.variants[0].request["logit_bias"],
        serde_json::json!([[1, 100.0]])
    );
    assert_eq!(ok.variants[0].fault.as_ref().unwrap().signal, "STOP");
    assert_eq!(ok.include[0].prompt_tokens, Some(vec![5000]));
}

const TWO_SOURCES: &str = r#"name = "t"
[[sources]]
name = "b9016"
commit = "846262d78"
build_number = 9016
[[sources.archives]]
kind = "github"
repo = "ggml-org/llama.cpp"
dir = "llama.cpp-846262d78"
[[sources]]
name = "master"
commit = "dbe7901ca"
[[sources.archives]]
kind = "github"
repo = "ggml-org/llama.cpp"
dir = "llama.cpp-dbe7901ca"
[[models]]
name = "m"
file = "m.gguf"
[[models.sources]]
kind = "path"
path = "/m.gguf"
[[backends]]
name = "cpu"
"#;

#[test]
fn several_sources_are_named_and_cells_carry_the_name() {
    let p = parse(TWO_SOURCES, "p.toml", 2).unwrap();
    let names: Vec<_> = p.sources.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["b9016", "master"]);
    assert_eq!(p.sources[0].build_number, Some(9016));
    let m = crate::plan::matrix::expand(&p);
    assert_eq!(m.groups.len(), 2);
    assert_eq!(m.groups[1].source, 1);
    assert_eq!(m.groups[1].cells[0].id, "cpu@master.m.default.p31");

    // Only master's 31-token cell: exclude master, include it back for 31.
    let text = format!(
        "{TWO_SOURCES}[[exclude]]\nsource = \"master\"\n[[include]]\nsource = \"master\"\nprompt_tokens = [31]\n"
    );
    let m = crate::plan::matrix::expand(&parse(&text, "p.toml", 2).unwrap());
    let master: Vec<_> = m
        .groups
        .iter()
        .filter(|g| g.source == 1)
        .flat_map(|g| g.cells.iter().map(|c| c.id.clone()))
        .collect();
    assert_eq!(master, ["cpu@master.m.default.p31"]);
    assert_eq!(m.left_out, [3]);
    assert!(m.excluded.is_empty());

    for (text, expect) in [
        (
            TWO_SOURCES.replacen("name = \"master\"\n", "name = \"b9016\"\n", 1),
            "p.toml: sources[1].name: \"b9016\" appears twice",
        ),
        (
            TWO_SOURCES.replacen("name = \"master\"\n", "", 1),
            "p.toml: sources[1].name: each of several sources needs a name (such as b9016)",
        ),
        (
            format!("{TWO_SOURCES}[[exclude]]\nsource = \"b1\"\n"),
            "p.toml: exclude[0].source: \"b1\" is not one of the plan's [[sources]]",
        ),
        (
            TWO_SOURCES.replacen(
                "name = \"t\"\n",
                "name = \"t\"\n[source]\ncommit = \"0c1e570\"\narchives = []\n",
                1,
            ),
            "p.toml: sources: name the llama.cpp source once: [source], or several [[sources]], not both",
        ),
    ] {
        let err = parse(&text, "p.toml", 2).unwrap_err().to_string();
        assert!(err.ends_with(expect), "{err}");
    }
}

#[test]
fn command_line_overrides_apply_are_recorded_and_the_printed_plan_round_trips() {
    use super::overrides::{ModelArg, Overrides};
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("Qwen3-0.6B-Q8_0-00001-of-00002.gguf");
    std::fs::write(&model, b"GGUF").unwrap();
    let o = Overrides {
        model: Some(ModelArg::Path(model.clone())),
        backends: vec![Backend::Vulkan],
        prompt_tokens: vec![31, 512],
        runs: Some(3),
        rounds: Some(1),
        n_predict: Some(16),
        ctx_size: Some(4096),
        warmup: Some(super::WarmUp::Short),
        until_decided: false,
        max_minutes: None,
    };
    let (plan, raw) = super::load_with(None, 8, &[Backend::Vulkan], &o).unwrap();
    assert_eq!(plan.bench.warmup, super::WarmUp::Short);
    assert_eq!(
        plan.name, "Qwen3-0.6B-Q8_0",
        "the split suffix is not part of the name"
    );
    assert_eq!(plan.models.len(), 1);
    assert_eq!(plan.models[0].file, "Qwen3-0.6B-Q8_0-00001-of-00002.gguf");
    assert_eq!(plan.models[0].sha256, None, "recorded at first use");
    assert_eq!(
        plan.models[0].sources,
        [ModelSourceFile::Path {
            path: model.display().to_string()
        }]
    );
    assert_eq!(
        plan.backends.iter().map(|b| b.backend).collect::<Vec<_>>(),
        [Backend::Vulkan]
    );
    assert_eq!(plan.bench.prompt_tokens, [31, 512]);
    assert_eq!(
        (plan.bench.runs, plan.bench.rounds, plan.bench.n_predict),
        (3, 1, 16)
    );
    assert!(plan.variants.iter().all(|v| v.ctx_size == 4096));
    assert_eq!(
        plan.overrides,
        [
            format!("--model {}", model.display()),
            "--backend vulkan".to_string(),
            "--prompt-tokens 31,512".to_string(),
            "--runs 3".to_string(),
            "--rounds 1".to_string(),
            "--n-predict 16".to_string(),
            "--ctx-size 4096".to_string(),
            "--warmup short".to_string(),
        ]
    );
    // The printed plan resolves to the same plan (but for where it came from).
    let text = super::to_toml(&raw, "printed").unwrap();
    assert!(text.starts_with("# printed\n"));
    let mut again = parse(&text, "printed.toml", 8).unwrap();
    assert_eq!(again.origin, "printed.toml");
    assert!(again.overrides.is_empty());
    again.origin = plan.origin.clone();
    again.overrides = plan.overrides.clone();
    assert_eq!(again, plan);
    // So does the built-in plan printed with no flag at all.
    let (plain, raw) = super::load_with(None, 8, &[], &Overrides::default()).unwrap();
    let mut back = parse(&super::to_toml(&raw, "").unwrap(), BUILTIN_ORIGIN, 8).unwrap();
    back.overrides = plain.overrides.clone();
    assert_eq!(back, plain);
    assert_eq!(plain, builtin(8).unwrap());
}

#[test]
fn a_bad_model_argument_says_what_is_wrong_and_how_to_fix_it() {
    use super::overrides::{ModelArg, Overrides};
    let e = ModelArg::parse("hf://owner/repo").unwrap_err();
    assert!(e.contains("hf://OWNER/REPO/FILE.gguf"), "{e}");
    assert_eq!(
        ModelArg::parse("hf://ggml-org/gemma-3-270m-GGUF/sub/g.gguf@abc123").unwrap(),
        ModelArg::HuggingFace {
            repo: "ggml-org/gemma-3-270m-GGUF".into(),
            file: "sub/g.gguf".into(),
            revision: "abc123".into()
        }
    );
    let o = Overrides {
        model: Some(ModelArg::Path("/nonexistent/m.gguf".into())),
        ..Default::default()
    };
    let e = super::load_with(None, 2, &[], &o).unwrap_err().to_string();
    assert!(
        e.contains("--model: /nonexistent/m.gguf: no such file"),
        "{e}"
    );
}

#[test]
fn an_ab_section_resolves_and_its_bad_values_name_the_field() {
    let two = "[[variants]]\nname = \"a\"\n[[variants]]\nname = \"b\"\ncpus = 1.5\ncpuset_cpus = \"0-1\"\n";
    let bench = "[bench]\nruns = 6\nrounds = 3\nwarmup = \"short\"\n";
    let ab = "[ab]\narms = [{ variant = \"a\" }, { variant = \"b\" }]\n";
    let p = parse(&minimal(&format!("{bench}{two}{ab}")), "p.toml", 2).unwrap();
    let a = p.ab.unwrap();
    assert_eq!(a.metrics, [Metric::GenTps]);
    assert_eq!(a.band, 0.02);
    assert!(!a.until_decided);
    // Out of reach stops are on unless switched off.
    assert!(a.stop_out_of_reach);
    let off = format!("{ab}stop_out_of_reach = false\n");
    let q = parse(&minimal(&format!("{bench}{two}{off}")), "p.toml", 2).unwrap();
    assert!(!q.ab.unwrap().stop_out_of_reach);
    assert_eq!(p.bench.warmup, WarmUp::Short);
    assert_eq!(p.variants[1].cpus, Some(1.5));
    assert_eq!(p.variants[1].cpuset_cpus.as_deref(), Some("0-1"));
    let bad = |b: &str, a: &str| invalid(&format!("{b}{two}{a}"));
    let cases = [
        (
            bad(bench, "[ab]\narms = [{ variant = \"a\" }]\n"),
            "ab.arms: name at least two arms",
        ),
        (
            bad(
                bench,
                "[ab]\narms = [{ variant = \"a\" }, { variant = \"c\" }]\n",
            ),
            "ab.arms[1].variant: \"c\" is not one of the plan's [[variants]]",
        ),
        (
            bad(bench, "[ab]\narms = [{ variant = \"a\" }, {}]\n"),
            "ab.arms[1]: picks every cell",
        ),
        (
            bad(
                bench,
                "[ab]\narms = [{ variant = \"a\" }, { variant = \"a\" }]\n",
            ),
            "ab.arms[1]: the same as an earlier arm",
        ),
        (
            bad(bench, &format!("{ab}band_pct = 0\n")),
            "ab.band_pct: 0: a percentage above 0",
        ),
        (
            bad(bench, &format!("{ab}metrics = [\"speed\"]\n")),
            "ab.metrics: \"speed\" is not a metric",
        ),
        (
            bad("[bench]\nruns = 5\nrounds = 2\n", ab),
            "bench.runs: 5 is not a multiple of bench.rounds (2)",
        ),
        (bad("[bench]\nruns = 4\n", ab), "plan at least 2 rounds"),
        (
            invalid("[[variants]]\nname = \"v\"\ncpus = 3.0\n"),
            "variants[0].cpus: 3: from 0.01 to this host's 2 CPUs",
        ),
        (
            invalid("[[variants]]\nname = \"v\"\ncpuset_cpus = \"0-x\"\n"),
            "variants[0].cpuset_cpus: \"0-x\": CPU numbers and ranges",
        ),
        (
            invalid("[bench]\nwarmup = \"tiny\"\n"),
            "unknown variant `tiny`, expected `full` or `short`",
        ),
    ];
    for (err, want) in cases {
        assert!(err.contains(want), "{err}\n  should say: {want}");
    }
}

#[test]
fn until_decided_on_the_command_line_needs_an_ab_section() {
    use super::overrides::Overrides;
    let o = Overrides {
        until_decided: true,
        max_minutes: Some(7),
        ..Overrides::default()
    };
    let err = super::load_with(None, 2, &[], &o).unwrap_err().to_string();
    assert!(
        err.contains("--until-decided: the plan has no [ab] section"),
        "{err}"
    );
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("plans/ab-same.toml");
    let (plan, _) = super::load_with(Some(&shipped), 2, &[], &o).unwrap();
    let ab = plan.ab.unwrap();
    assert!(ab.until_decided);
    assert_eq!(ab.max_minutes, Some(7.0));
    assert_eq!(plan.overrides, ["--until-decided", "--max-minutes 7"]);
}

#[test]
fn every_shipped_plan_loads() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("plans");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let path = e.unwrap().path();
        if path.extension().is_some_and(|x| x == "toml") {
            let loaded = super::load_with(
                Some(&path),
                2,
                &[],
                &crate::plan::overrides::Overrides::default(),
            );
            assert!(loaded.is_ok(), "{}: {:?}", path.display(), loaded.err());
            n += 1;
        }
    }
    // default, the study's, the H200's and the A/B plans at least.
    assert!(n >= 6, "{n} plans");
}

/// `minimal` with a synthetic model after the real one.
fn with_synthetic(recipe: &str) -> Result<Plan, String> {
    parse(
        &minimal(&format!("[[models]]\nname = \"s\"\n{recipe}\n")),
        "p.toml",
        2,
    )
    .map_err(|e| e.to_string())
}

#[test]
fn a_synthetic_model_takes_its_file_name_from_the_recipe() {
    let p = with_synthetic(
        "synthetic = { shape = \"gemma3-27b\", quant = \"q8_0\", seed = 2, vocab = { model = \"m\" } }",
    )
    .unwrap();
    let s = &p.models[1];
    assert_eq!(s.file, "gemma3-27b-q8_0-s2.gguf");
    match s.sources.as_slice() {
        [ModelSourceFile::Synthetic { recipe }] => {
            assert_eq!(recipe.quant, crate::synth::Quant::Q8_0);
            assert_eq!(recipe.seed, 2);
        }
        other => panic!("{other:?}"),
    }
    // A written shape with a base, and a file name of the plan's own.
    let p = with_synthetic(
        "file = \"tiny.gguf\"\nsynthetic = { shape = { base = \"gemma3-270m\", block_count = 2 }, quant = \"Q4_K_M\" }",
    )
    .unwrap();
    assert_eq!(p.models[1].file, "tiny.gguf");
}

#[test]
fn bad_recipes_fail_before_any_work_naming_the_field() {
    let cases = [
        (
            "synthetic = { shape = \"gemma3-31b\", quant = \"q8_0\" }",
            "models[1].synthetic.shape: \"gemma3-31b\" is not a built-in shape",
        ),
        (
            "synthetic = { shape = { base = \"gemma3-270m\", embedding_length = 650 }, quant = \"q4_0\" }",
            "models[1].synthetic.shape.embedding_length: embedding_length = 650 is not a multiple of 32, the block of Q4_0",
        ),
        (
            "synthetic = { shape = \"gemma3-27b\", quant = \"iq2_xxs\" }",
            "importance matrix",
        ),
        (
            "synthetic = { shape = \"gemma3-27b\", quant = \"q8_0\", vocab = { model = \"nope\" } }",
            "models[1].synthetic.vocab.model: \"nope\" is not one of the plan's [[models]]",
        ),
        (
            "synthetic = { shape = \"gemma3-27b\", quant = \"q8_0\", vocab = { model = \"s\" } }",
            "models[1].synthetic.vocab.model: \"s\" is synthetic",
        ),
        (
            "synthetic = { shape = \"gemma3-27b\", quant = \"q8_0\" }\nsources = [{ kind = \"path\", path = \"/x.gguf\" }]",
            "models[1].sources: a synthetic model is made from its recipe",
        ),
        (
            "synthetic = { shape = \"gemma3-27b\", quant = \"q8_0\", generator = 99 }",
            "models[1].synthetic.generator: 99: this rigbench",
        ),
        (
            "synthetic = { shape = { base = \"gemma3-270m\", vocab_size = 300 }, quant = \"q8_0\" }",
            "models[1].synthetic.shape.vocab_size: 300: rigbench's built-in vocabulary needs at least 355",
        ),
        (
            "synthetic = { shape = \"gemma3-27b\", quant = \"q8_0\" }\nfile = \"m-00001-of-00002.gguf\"",
            "models[1].file: a synthetic model is made in one file",
        ),
    ];
    for (recipe, expected) in cases {
        let err = with_synthetic(recipe).unwrap_err();
        assert!(err.contains(expected), "{recipe}\n  gave: {err}");
        assert!(err.contains("p.toml"), "{err}");
    }
}

#[test]
fn a_vulkan_driver_is_named_for_vulkan_only_and_from_the_list() {
    use crate::host::devices::VulkanDriver;
    let with = |name: &str, driver: &str| {
        parse(
            &minimal("").replace(
                "name = \"cpu\"",
                &format!("name = \"{name}\"\ndriver = \"{driver}\""),
            ),
            "p.toml",
            2,
        )
    };
    let plan = with("vulkan", "nvidia").unwrap();
    assert_eq!(plan.backends[0].vulkan_driver, Some(VulkanDriver::Nvidia));
    assert_eq!(
        with("vulkan", "auto").unwrap().backends[0].vulkan_driver,
        None
    );
    let err = with("vulkan", "radv").unwrap_err().to_string();
    assert!(
        err.contains(
            "backends[0].driver: \"radv\" is not a Vulkan driver: auto, nvidia, mesa or software"
        ),
        "{err}"
    );
    let err = with("cuda", "nvidia").unwrap_err().to_string();
    assert!(
        err.contains("backends[0].driver: only the vulkan backend has a choice of driver"),
        "{err}"
    );
}
