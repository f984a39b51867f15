//! Hand-made manifest parts for unit tests: a run with given numbers, a CPU
//! cell of the default model around such runs, and an A/B of variants.

use std::collections::BTreeMap;

use super::{Cell, CellVariant, Failure, Run, RunChecks};
use crate::status::CellStatus;

/// A run whose checks all pass.
pub fn run(gen_tps: f64, pp_tps: f64, ttft_ms: f64, warmup: bool) -> Run {
    Run {
        index: 0,
        warmup,
        round: 0,
        started_at: "2026-11-26T00:00:00.000Z".into(),
        ttft_ms,
        gen_tps,
        gen_tps_server: gen_tps * 1.001,
        pp_tps,
        wall_ms: 1000.0,
        prompt_n: 31,
        predicted_n: 4,
        cache_n: 0,
        timings: serde_json::Value::Null,
        token_ids: vec![],
        token_times_ms: vec![],
        stop_type: Some("limit".into()),
        checks: RunChecks {
            cache_n_zero: true,
            prompt_n_matches: true,
            predicted_n_matches: true,
        },
        telemetry: None,
        cooldown: None,
        degenerate: None,
        logits_finite: None,
    }
}

/// Measured runs with these generation speeds, prompt processing 500 t/s and
/// TTFT 50 ms.
pub fn gen_runs(gen_tps: &[f64]) -> Vec<Run> {
    gen_tps
        .iter()
        .map(|g| run(*g, 500.0, 50.0, false))
        .collect()
}

pub fn cell(prompt: u32, variant: &str, runs: Vec<Run>, failure: Option<Failure>) -> Cell {
    let mut c = Cell {
        id: format!("cpu.m.{variant}.p{prompt}"),
        backend: crate::backend::Backend::Cpu,
        source: "default".into(),
        model: "gemma-3-270m-q4_k_m".into(),
        prompt_tokens: prompt,
        n_predict: 4,
        variant: CellVariant {
            name: variant.into(),
            ctx_size: 4096,
            threads: 2,
            n_gpu_layers: 0,
            batch_size: 2048,
            ubatch_size: 512,
            flash_attn: crate::plan::FlashAttn::On,
            cache_type_k: "f16".into(),
            cache_type_v: "f16".into(),
            env: BTreeMap::new(),
            extra_server_args: vec![],
            server_argv: vec![],
            request: BTreeMap::new(),
            fault: None,
            cpus: None,
            cpuset_cpus: None,
            warmup: crate::plan::WarmUp::Full,
        },
        status: if failure.is_some() {
            CellStatus::Failed
        } else {
            CellStatus::Ok
        },
        failure,
        server: None,
        runs,
        stats: BTreeMap::new(),
        agreement: None,
    };
    c.summarize();
    c
}

/// An empty manifest of the built-in default plan on a host with nothing.
pub fn manifest() -> super::Manifest {
    let plan = crate::plan::builtin(2).expect("the built-in plan parses");
    super::Manifest::new(
        "r1",
        plan,
        crate::host::probe(std::path::Path::new("/nonexistent")),
        None,
    )
}

/// An A/B of the variants named, the first the baseline: generation tokens/s
/// against ±2 %, no rounds added.
pub fn ab_of_variants(variants: &[&str]) -> crate::plan::ab::Ab {
    crate::plan::ab::Ab {
        arms: variants
            .iter()
            .map(|v| crate::plan::CellSelector {
                variant: Some((*v).into()),
                ..crate::plan::CellSelector::default()
            })
            .collect(),
        metrics: vec![crate::metric::Metric::GenTps],
        band: 0.02,
        alpha: crate::plan::ab::ALPHA,
        until_decided: false,
        max_minutes: None,
        max_rounds: 100,
        stop_out_of_reach: true,
    }
}

/// The record of a synthetic model named `name`: gemma3-270m in Q8_0, seed 0,
/// made now in 1.5 s on 2 threads, 128 tokens muted.
pub fn synthetic_record(name: &str) -> super::ModelRecord {
    let recipe = crate::synth::Recipe {
        shape: crate::synth::shape::builtin("gemma3-270m").expect("a built-in shape"),
        quant: crate::synth::Quant::Q8_0,
        seed: 0,
        vocab: crate::synth::VocabSource::Builtin,
        generator: crate::synth::values::GENERATOR,
    };
    let key = recipe.key(None);
    super::ModelRecord {
        name: name.into(),
        file: recipe.file_name(),
        size_bytes: 292_784_128,
        sha256: "cd".repeat(32),
        sha256_pinned: false,
        source: crate::plan::ModelSourceFile::Synthetic {
            recipe: crate::synth::RecipeFile {
                shape: crate::synth::ShapeFile::Named("gemma3-270m".into()),
                quant: crate::synth::Quant::Q8_0,
                seed: 0,
                vocab: crate::synth::VocabFile::Builtin,
                generator: None,
            },
        },
        hash_seconds: 0.0,
        hash_origin: crate::hash::HashOrigin::Computed,
        gguf: crate::gguf::parse(
            &mut &b"GGUF\x03\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"[..],
            "x",
        )
        .expect("an empty header parses"),
        shards: vec![],
        synthetic: Some(crate::synth::Provenance {
            recipe,
            key,
            made_by: "0.1.0 (commit test)".into(),
            made_now: true,
            write_seconds: 1.5,
            threads: 2,
            muted_tokens: 128,
            padded_tokens: 261_789,
            quantize: None,
        }),
    }
}
