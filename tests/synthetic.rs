//! Synthetic models through real Podman, the CPU image and the real Gemma 3
//! 270M: a plan with two synthetic models (one made by the image's
//! llama-quantize with the real model's tokenizer, one written by rigbench
//! with its own) runs end to end and says so in its report; made again from
//! their recipes they are the same bytes; and the synthetic gemma3-270m shape
//! has the real model's structure (tensor names, shapes, types and sizes,
//! hyperparameters) in the same quantization, each of the real file and the
//! synthetic one made by llama-quantize, or written by rigbench where it
//! writes the type itself.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{MODEL_SHA256, repo, run_plan_at};
use rigbench::cache::Cache;
use rigbench::gguf::header::{self, Header};
use rigbench::gguf::value::Value;
use rigbench::manifest::Manifest;
use rigbench::status::CellStatus;
use rigbench::synth::quantize::{self, Job};
use rigbench::synth::{Quant, Recipe, VocabFile, VocabSource, make, shape, values, vocab};

/// Where the cache keeps a model of the run.
fn cached_file(m: &Manifest, name: &str) -> PathBuf {
    let r = m.models.iter().find(|r| r.name == name).unwrap();
    let p = r.synthetic.as_ref().expect("synthetic");
    Cache::locate(None)
        .synthetic()
        .join(&p.key[..16])
        .join(&r.file)
}

/// The cache directories of the plan's recipes (their vocabulary is the real
/// Gemma's or the built-in one), from their keys as the run computes them.
/// Removed before the first run: a file left by an earlier run (one cut off,
/// or by an image since rebuilt) would be taken from the cache, and this test
/// is about making them.
fn recipe_dirs(plan: &Path) -> Vec<(String, PathBuf)> {
    let p = rigbench::plan::load(plan, 2).unwrap();
    let quantizer = p.sources[0].commit.clone();
    p.models
        .iter()
        .filter_map(|m| m.recipe().map(|r| (m, r)))
        .map(|(m, r)| {
            let recipe = Recipe {
                shape: r.check().unwrap(),
                quant: r.quant,
                seed: r.seed,
                vocab: match &r.vocab {
                    VocabFile::Builtin => VocabSource::Builtin,
                    VocabFile::Model { model } => VocabSource::Model {
                        name: model.clone(),
                        sha256: MODEL_SHA256.into(),
                    },
                },
                generator: values::GENERATOR,
            };
            let key = recipe.key((!r.quant.written_directly()).then_some(quantizer.as_str()));
            let dir = Cache::locate(None).synthetic().join(&key[..16]);
            (m.name.clone(), dir)
        })
        .collect()
}

/// (type, dimensions, bytes) of every tensor, by name.
fn structure(h: &Header) -> BTreeMap<String, (String, Vec<u64>, Option<u64>)> {
    h.tensors
        .iter()
        .map(|t| (t.name.clone(), (t.ty.name(), t.dims.clone(), t.bytes())))
        .collect()
}

/// The architecture's own keys (`gemma3.*`).
fn hparams(h: &Header) -> BTreeMap<String, Value> {
    h.kv.iter()
        .filter(|(k, _)| k.starts_with("gemma3."))
        .cloned()
        .collect()
}

fn same_structure(real: &Path, synthetic: &Path, what: &str) {
    let (r, s) = (
        header::read(real).unwrap(),
        header::read(synthetic).unwrap(),
    );
    let (rs, ss) = (structure(&r), structure(&s));
    assert_eq!(rs.len(), 236, "{what}: the real file's tensors");
    for (name, real) in &rs {
        assert_eq!(ss.get(name), Some(real), "{what}: tensor {name}");
    }
    assert_eq!(rs, ss, "{what}");
    assert_eq!(hparams(&r), hparams(&s), "{what}: hyperparameters");
    let data = |h: &Header| h.tensors.iter().map(|t| t.bytes().unwrap()).sum::<u64>();
    assert_eq!(data(&r), data(&s), "{what}: tensor bytes");
    eprintln!(
        "{what}: {} tensors, {} bytes of tensors, the same names, shapes, types and sizes",
        rs.len(),
        data(&r)
    );
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "needs Podman and the model: scripts/test.sh runs it"]
async fn synthetic_models_are_made_measured_reported_and_faithful() {
    let work = tempfile::tempdir().unwrap();
    let plan = repo().join("tests/plans/synthetic.toml");
    let dirs = recipe_dirs(&plan);
    assert_eq!(dirs.len(), 2);
    for (_, dir) in &dirs {
        if dir.exists() {
            std::fs::remove_dir_all(dir).unwrap();
        }
    }
    let first = run_plan_at(&plan, &work.path().join("first"), work.path());
    for (name, dir) in &dirs {
        let p = first
            .models
            .iter()
            .find(|r| &r.name == name)
            .and_then(|r| r.synthetic.as_ref())
            .unwrap();
        assert!(p.made_now, "{name}: made by this run");
        assert_eq!(
            dir.file_name().unwrap().to_str().unwrap(),
            &p.key[..16],
            "{name}: the key this test removed"
        );
    }

    // --- The run: every cell ok, each measured run streamed its 16 tokens.
    assert!(
        first.cells.iter().all(|c| c.status == CellStatus::Ok),
        "{:?}",
        first
            .cells
            .iter()
            .map(|c| (&c.id, c.status))
            .collect::<Vec<_>>()
    );
    let q4 = first
        .models
        .iter()
        .find(|r| r.name == "synthetic-gemma3-270m")
        .unwrap();
    let small = first
        .models
        .iter()
        .find(|r| r.name == "synthetic-small")
        .unwrap();
    let p4 = q4.synthetic.as_ref().unwrap();
    assert_eq!(p4.recipe.quant, Quant::Q4KM);
    assert_eq!(
        p4.recipe.vocab,
        VocabSource::Model {
            name: "gemma-3-270m-q4_k_m".into(),
            sha256: MODEL_SHA256.into()
        }
    );
    let qr = p4.quantize.as_ref().expect("made by llama-quantize");
    assert_eq!(qr.image_id, first.images[0].image_id);
    assert!(
        qr.command.contains(&"Q4_K_M".to_string()),
        "{:?}",
        qr.command
    );
    assert_eq!(q4.gguf.file_type_name.as_deref(), Some("Q4_K_M"));
    assert_eq!(q4.gguf.parameter_count, 268_098_176);
    let ps = small.synthetic.as_ref().unwrap();
    assert!(ps.quantize.is_none());
    assert_eq!(small.gguf.block_count, Some(4));
    assert_eq!(small.gguf.file_type_name.as_deref(), Some("Q8_0"));
    assert!(
        first
            .models
            .iter()
            .find(|r| r.name == "gemma-3-270m-q4_k_m")
            .unwrap()
            .synthetic
            .is_none()
    );
    for c in first
        .cells
        .iter()
        .filter(|c| c.model.starts_with("synthetic"))
    {
        for r in &c.runs {
            assert!(r.checks.all(), "{} run {}", c.id, r.index);
            // Random weights repeat themselves; the collapse check is not applied.
            assert_eq!(r.degenerate, None, "{}", c.id);
            if r.warmup {
                assert_eq!(
                    r.logits_finite,
                    Some(true),
                    "{}: logits of the warm-up",
                    c.id
                );
            } else {
                assert_eq!(r.token_ids.len(), 16, "{}", c.id);
                assert_eq!(
                    r.logits_finite, None,
                    "{}: never asked when measuring",
                    c.id
                );
            }
        }
        assert!(c.agreement.is_none());
    }
    let report = std::fs::read_to_string(work.path().join("first/report.md")).unwrap();
    for expected in [
        "### synthetic-gemma3-270m (synthetic: gemma3-270m Q4_K_M, seed 0)",
        "### synthetic-small (synthetic: gemma3-270m-custom Q8_0, seed 0)",
        "## Synthetic models",
        "Not applied to their cells, because they need real weights: greedy output agreement",
        "Logits finite: every generated token's log-probability was a number in all 2 warm-ups",
        "then llama-quantize in",
    ] {
        assert!(
            report.contains(expected),
            "report.md lacks {expected:?}:\n{report}"
        );
    }

    // --- Made again from their recipes: the same bytes.
    let (q4_file, small_file) = (
        cached_file(&first, "synthetic-gemma3-270m"),
        cached_file(&first, "synthetic-small"),
    );
    assert!(q4_file.is_file() && small_file.is_file());
    for f in [&q4_file, &small_file] {
        std::fs::remove_dir_all(f.parent().unwrap()).unwrap();
    }
    let second = run_plan_at(&plan, &work.path().join("second"), work.path());
    for name in ["synthetic-gemma3-270m", "synthetic-small"] {
        let (a, b) = (
            first.models.iter().find(|r| r.name == name).unwrap(),
            second.models.iter().find(|r| r.name == name).unwrap(),
        );
        assert!(b.synthetic.as_ref().unwrap().made_now, "{name} made again");
        assert_eq!(a.sha256, b.sha256, "{name}: remade, the same bytes");
    }

    // --- `model prepare` takes the same step as the run: after it, each of
    // the plan's models (the real one, both synthetic) is in the cache.
    let out = common::rigbench_ok(
        &["model", "prepare", "--plan", plan.to_str().unwrap()],
        work.path(),
    );
    let text = String::from_utf8_lossy(&out.stdout);
    for r in &second.models {
        assert!(
            text.contains(&format!("{}: ", r.name)) && text.contains(&r.sha256),
            "{}: {text}",
            r.name
        );
    }
    assert!(!text.contains("made by the run"), "{text}");

    // --- Faithful structure: the real model requantized by the same
    // llama-quantize, against the synthetic shape in the same type.
    let img = &first.images[0];
    let q = img.quantizer();
    let engine = common::engine().await;
    let real = Cache::locate(None)
        .models()
        .join(MODEL_SHA256)
        .join("gemma-3-270m-q4_k_m.gguf");
    let dir = tempfile::tempdir().unwrap();
    let requantized = |quant: Quant| {
        let file = format!("real-{}.gguf", quant.name());
        let job_dir = dir.path().to_path_buf();
        let (engine, q, real) = (&engine, &q, &real);
        async move {
            let job = Job {
                input: real,
                input_sha256: MODEL_SHA256,
                out_dir: &job_dir,
                file: &file,
                quant,
                threads: 2,
            };
            quantize::run(&engine.client, q, &job).await.unwrap().0
        }
    };
    // Q4_K_M: both made by llama-quantize (the synthetic one from the run).
    same_structure(&requantized(Quant::Q4KM).await, &q4_file, "Q4_K_M");
    // Q8_0 and Q4_0: the synthetic ones written by rigbench, whose choice of
    // each tensor's type must be llama-quantize's.
    let gemma = header::read(&real).unwrap();
    for quant in [Quant::Q8_0, Quant::Q4_0] {
        let recipe = Recipe {
            shape: shape::builtin("gemma3-270m").unwrap(),
            quant,
            seed: 0,
            vocab: VocabSource::Model {
                name: "gemma-3-270m-q4_k_m".into(),
                sha256: MODEL_SHA256.into(),
            },
            generator: values::GENERATOR,
        };
        let v = vocab::from_header(&gemma, "real", 262_144).unwrap();
        let out = dir.path().join(format!("synthetic-{}.gguf", quant.name()));
        make::content(&recipe, quant, &v)
            .unwrap()
            .write(&out, 2, &|_| {})
            .unwrap();
        same_structure(&requantized(quant).await, &out, quant.name());
    }

    // The recipes' files are not kept: the cache does not grow run to run.
    for f in [&q4_file, &small_file] {
        std::fs::remove_dir_all(f.parent().unwrap()).unwrap();
    }
}

/// `model prepare` into an empty cache: the model rigbench writes is made
/// there, under the key a run looks for, with the hash it prints; the one
/// llama-quantize makes is left to the run, and its Q8_0 is not left behind.
#[test]
fn prepare_makes_what_rigbench_writes_and_leaves_the_rest_to_the_run() {
    let work = tempfile::tempdir().unwrap();
    let cache = work.path().join("cache");
    let plan = work.path().join("plan.toml");
    let text = std::fs::read_to_string(repo().join("tests/plans/synthetic.toml")).unwrap();
    // The plan without its real model, the twin's vocabulary the built-in one.
    let (head, rest) = text.split_once("[[models]]").unwrap();
    let models = rest
        .split_once("[[models]]\nname = \"synthetic-gemma3-270m\"")
        .unwrap()
        .1;
    // And a model the plan's rules leave out of every cell: not made.
    let plan_text = format!(
        "{head}[[models]]\nname = \"synthetic-gemma3-270m\"{}{}",
        models.replace(", vocab = { model = \"gemma-3-270m-q4_k_m\" }", ""),
        "\n[[models]]\nname = \"synthetic-unused\"\n\
         synthetic = { shape = { base = \"gemma3-270m\", block_count = 2 }, quant = \"q8_0\" }\n\
         \n[[exclude]]\nmodel = \"synthetic-unused\"\n"
    );
    std::fs::write(&plan, plan_text).unwrap();
    let cache_arg = cache.to_str().unwrap();
    let out = common::rigbench_ok(
        &[
            "--cache-dir",
            cache_arg,
            "model",
            "prepare",
            "--plan",
            plan.to_str().unwrap(),
        ],
        work.path(),
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert_eq!(
        lines[2],
        "synthetic-unused: not needed (no cell of the plan uses it)"
    );
    let made: Vec<_> = walk(&cache.join("synthetic"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "gguf"))
        .collect();
    assert_eq!(made.len(), 1, "only synthetic-small was made: {made:?}");
    assert_eq!(
        lines[0],
        "synthetic-gemma3-270m: made by the run (llama-quantize runs in its image)"
    );
    let (name, rest) = lines[1].split_once(": ").unwrap();
    assert_eq!(name, "synthetic-small");
    let (path, sha) = rest.split_once(" (sha256 ").unwrap();
    let path = Path::new(path);
    assert!(
        path.starts_with(cache.join("synthetic")),
        "{}",
        path.display()
    );
    assert_eq!(
        rigbench::hash::sha256_file(path).unwrap(),
        sha.trim_end_matches(')')
    );
    let p = rigbench::plan::load(&plan, 2).unwrap();
    let small = p
        .models
        .iter()
        .find(|m| m.name == "synthetic-small")
        .unwrap();
    let r = small.recipe().unwrap();
    let recipe = Recipe {
        shape: r.check().unwrap(),
        quant: r.quant,
        seed: r.seed,
        vocab: VocabSource::Builtin,
        generator: values::GENERATOR,
    };
    assert_eq!(
        path.parent()
            .unwrap()
            .file_name()
            .unwrap()
            .to_str()
            .unwrap(),
        &recipe.key(None)[..16],
        "the folder a run of the plan looks in"
    );
    let leftovers: Vec<_> = walk(&cache.join("tmp"));
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// Every file under `dir` (none where it does not exist).
fn walk(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .flat_map(|e| {
            let p = e.path();
            if p.is_dir() { walk(&p) } else { vec![p] }
        })
        .collect()
}
