//! Published references: figures from a public benchmark, one TOML file each in
//! `references/` (compiled in) or any path. Parsed and checked here; `compare`
//! sets a run against one. Format: docs/references.md.

pub mod compare;
pub mod from_llama_bench;
pub mod from_run;
pub mod render;

use std::path::Path;

use crate::backend::Backend;
use crate::metric::Metric;
use crate::status::FailureMode;
use serde::{Deserialize, Serialize};

/// The references shipped with rigbench: (name, TOML text).
pub const BUILTIN: &[(&str, &str)] = &[
    (
        "strix-halo-2026-05",
        include_str!("../../references/strix-halo-2026-05.toml"),
    ),
    (
        "h200-gemma3-270m",
        include_str!("../../references/h200-gemma3-270m.toml"),
    ),
    (
        "h100-study",
        include_str!("../../references/h100-study.toml"),
    ),
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reference {
    pub name: String,
    pub title: String,
    /// The plan that reruns it, when there is one.
    #[serde(default)]
    pub plan: Option<String>,
    /// Measured runs behind each published mean and sd.
    pub runs: u32,
    #[serde(default)]
    pub setup: Vec<SetupFact>,
    #[serde(default)]
    pub cells: Vec<RefCell>,
    #[serde(default)]
    pub failures: Vec<RefFailure>,
    /// Published llama-bench tests (`rigbench reference from-llama-bench`),
    /// compared with a run's llama-bench tests.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub llama_bench: Vec<RefLlamaBench>,
}

/// A published llama-bench test: its throughput over its repetitions, and
/// what identifies it (llama-bench's own field names and values).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefLlamaBench {
    pub backend: Backend,
    /// llama-bench's `model_type`, for example `gemma3 270M Q4_K - Medium`.
    pub model_type: String,
    pub n_prompt: u32,
    pub n_gen: u32,
    #[serde(default)]
    pub n_depth: u32,
    /// `avg_ts` and `stddev_ts`, tokens per second.
    pub ts: [f64; 2],
    /// Repetitions behind them (the number of samples).
    pub repetitions: u32,
    /// Where it came from, for the reader: the file, commit, CPU and GPU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_filename: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_commit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_info: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu_info: Option<String>,
}

impl RefLlamaBench {
    /// The test as llama-bench's table names it (`pp512`, `tg128 @ d4096`).
    pub fn test(&self) -> String {
        crate::llama_bench::test_name(self.n_prompt, self.n_gen, self.n_depth)
    }
}

/// A published fact about the setup; `check` names the fact of a run it is
/// compared with (see `compare::run_fact`), if rigbench records one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetupFact {
    pub fact: String,
    pub value: String,
    #[serde(default)]
    pub check: Option<String>,
}

/// A published cell: mean and sd per metric, or a range where only that was given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefCell {
    pub source: String,
    pub backend: Backend,
    pub model: String,
    pub variant: String,
    pub prompt_tokens: u32,
    #[serde(default)]
    pub gen_tps: Option<[f64; 2]>,
    #[serde(default)]
    pub pp_tps: Option<[f64; 2]>,
    #[serde(default)]
    pub ttft_ms: Option<[f64; 2]>,
    #[serde(default)]
    pub gen_tps_range: Option<[f64; 2]>,
}

impl RefCell {
    /// The published mean and sd of `metric`, where the reference has it (a
    /// reference carries no figure of the server's own timing).
    pub fn figure(&self, metric: Metric) -> Option<[f64; 2]> {
        match metric {
            Metric::GenTps => self.gen_tps,
            Metric::PpTps => self.pp_tps,
            Metric::TtftMs => self.ttft_ms,
            Metric::GenTpsServer => None,
        }
    }
}

/// A configuration that failed as published.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefFailure {
    pub source: String,
    pub backend: Backend,
    pub model: String,
    pub variants: Vec<String>,
    /// The failure mode, as rigbench names it (`crash`, `degenerate_output` …).
    pub mode: FailureMode,
    pub evidence: String,
    /// As published: "40/40", "smoke test".
    pub runs: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ReferenceError {
    #[error("reference {file}: {message}")]
    Invalid { file: String, message: String },
    #[error(
        "no reference named \"{0}\" (built in: {list}); pass a file's path to use your own",
        list = BUILTIN.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
    )]
    Unknown(String),
}

/// Parses and checks a reference; `file` names it in errors.
pub fn parse(text: &str, file: &str) -> Result<Reference, ReferenceError> {
    let bad = |message: String| ReferenceError::Invalid {
        file: file.to_string(),
        message,
    };
    let r: Reference = toml::from_str(text).map_err(|e| bad(e.to_string()))?;
    if r.runs < 2 {
        return Err(bad(format!(
            "runs: {}: at least 2 runs stand behind a mean and sd",
            r.runs
        )));
    }
    for (i, c) in r.cells.iter().enumerate() {
        if c.gen_tps.is_none()
            && c.pp_tps.is_none()
            && c.ttft_ms.is_none()
            && c.gen_tps_range.is_none()
        {
            return Err(bad(format!(
                "cells[{i}] ({} {} {} p{}): no figure ({} or gen_tps_range)",
                c.backend,
                c.model,
                c.variant,
                c.prompt_tokens,
                Metric::HEADLINE.map(Metric::name).join(", ")
            )));
        }
        for metric in Metric::HEADLINE {
            if let Some([mean, sd]) = c.figure(metric) {
                let field = metric.name();
                if !(mean > 0.0 && sd >= 0.0) {
                    return Err(bad(format!(
                        "cells[{i}].{field}: [{mean}, {sd}]: a positive mean and an sd of 0 or more"
                    )));
                }
            }
        }
    }
    for (i, t) in r.llama_bench.iter().enumerate() {
        let [mean, sd] = t.ts;
        if !(mean > 0.0 && sd >= 0.0) {
            return Err(bad(format!(
                "llama_bench[{i}].ts: [{mean}, {sd}]: a positive mean and an sd of 0 or more"
            )));
        }
        if t.repetitions < 2 {
            return Err(bad(format!(
                "llama_bench[{i}] ({} {}): repetitions {}: at least 2 stand behind a mean and sd (llama-bench -r 2 or more)",
                t.backend,
                t.test(),
                t.repetitions
            )));
        }
    }
    Ok(r)
}

/// A built-in reference by name, or a reference file by path.
pub fn load(name_or_path: &str) -> Result<Reference, ReferenceError> {
    if let Some((name, text)) = BUILTIN.iter().find(|(n, _)| *n == name_or_path) {
        return parse(text, &format!("references/{name}.toml"));
    }
    let p = Path::new(name_or_path);
    if p.is_file() {
        let text = std::fs::read_to_string(p).map_err(|e| ReferenceError::Invalid {
            file: p.display().to_string(),
            message: e.to_string(),
        })?;
        return parse(&text, &p.display().to_string());
    }
    Err(ReferenceError::Unknown(name_or_path.to_string()))
}

#[cfg(test)]
mod tests;
