//! Plans: what to build and measure. A plan file (TOML, see `file`) or the built-in
//! default is parsed, checked and resolved here into `Plan`, in which every default
//! is explicit; nothing below this module sees the raw file or the command line.
//! `matrix` expands a plan into the cells that are run and resolves it for a
//! host (`images`, `models`); `origins` says where its files come from.

pub mod ab;
pub mod estimate;
pub mod file;
pub mod images;
pub mod llama_bench;
pub mod matrix;
pub mod models;
mod origins;
pub mod overrides;
pub mod settings;
mod validate;
pub mod words;

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::backend::Backend;
use crate::metric::Metric;
use file::PlanFile;
pub use file::{ArchiveFile, AutoOr, CellSelector, Fault, ModelSourceFile, WarmUp};
pub use words::{FlashAttn, LoadMode};

/// The built-in default plan (also shipped as `plans/default.toml`).
pub const DEFAULT_PLAN_TOML: &str = include_str!("../../plans/default.toml");
/// How the built-in plan is named where a file path would stand.
pub const BUILTIN_ORIGIN: &str = "built-in default (plans/default.toml)";

pub mod builtin;

/// Server flags rigbench sets itself from the plan; `server_args` may not repeat them.
const MANAGED_FLAGS: &[(&str, &str)] = &[
    ("-m", "the model"),
    ("--model", "the model"),
    ("--host", "the listen address"),
    ("--port", "the port"),
    ("-c", "ctx_size"),
    ("--ctx-size", "ctx_size"),
    ("-t", "threads"),
    ("--threads", "threads"),
    ("-tb", "threads"),
    ("--threads-batch", "threads"),
    ("-ngl", "n_gpu_layers"),
    ("--gpu-layers", "n_gpu_layers"),
    ("--n-gpu-layers", "n_gpu_layers"),
    ("-b", "batch_size"),
    ("--batch-size", "batch_size"),
    ("-ub", "ubatch_size"),
    ("--ubatch-size", "ubatch_size"),
    ("-fa", "flash_attn"),
    ("--flash-attn", "flash_attn"),
    ("-ctk", "cache_type_k"),
    ("--cache-type-k", "cache_type_k"),
    ("-ctv", "cache_type_v"),
    ("--cache-type-v", "cache_type_v"),
    ("-np", "one slot per server"),
    ("--parallel", "one slot per server"),
];

/// Completion request fields rigbench sets itself; `request` may not repeat them.
const MANAGED_REQUEST_FIELDS: &[&str] = &[
    "prompt",
    "n_predict",
    "stream",
    "cache_prompt",
    "return_tokens",
    "ignore_eos",
    "temperature",
    "top_k",
    "seed",
];

/// Signals a fault may send.
const FAULT_SIGNALS: &[&str] = &["KILL", "STOP", "TERM", "ABRT", "SEGV"];

/// K/V cache types llama-server accepts.
const CACHE_TYPES: &[&str] = &[
    "f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "iq4_nl", "q5_0", "q5_1",
];

/// A plan with every default made explicit; recorded whole in the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Plan {
    pub name: String,
    pub description: Option<String>,
    /// The plan file's path, or the built-in default.
    pub origin: String,
    pub bench: Bench,
    /// The llama.cpp sources; every backend's image is built from each.
    pub sources: Vec<Source>,
    pub models: Vec<Model>,
    pub backends: Vec<BackendPlan>,
    pub variants: Vec<Variant>,
    /// llama-bench runs per backend and model, when the plan asks for them.
    pub llama_bench: Option<llama_bench::Settings>,
    /// Cells left out of the matrix.
    pub exclude: Vec<CellSelector>,
    /// Cells added even where a rule or the context size would leave them out.
    pub include: Vec<CellSelector>,
    /// The `rigbench run` flags that changed the plan file, as given
    /// (`--model …`, `--runs 2`); the fields above already hold their values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub overrides: Vec<String>,
    /// An interleaved A/B of the matrix's arms, when the plan has `[ab]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ab: Option<ab::Ab>,
}

/// How each cell is measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Bench {
    /// Measured runs per cell.
    pub runs: u32,
    /// Runs before the measured ones, excluded from statistics.
    pub warmup_runs: u32,
    /// Tokens generated per run (EOS ignored).
    pub n_predict: u32,
    /// Sampling seed (decoding is greedy, so it only pins the server's RNG).
    pub seed: u64,
    /// Prompt lengths in tokens, each exactly this many.
    pub prompt_tokens: Vec<u32>,
    /// Seconds from server start until `/health` must answer 200.
    pub health_timeout_s: u64,
    /// Longest wait in seconds for the next streamed token.
    pub stall_timeout_s: u64,
    /// Longest wait in seconds for one whole run.
    pub request_timeout_s: u64,
    /// How often GPU and memory telemetry is sampled, ms.
    pub telemetry_interval_ms: u64,
    /// Before each measured run, wait until the GPU edge temperature is below
    /// this, °C (no wait without a sensor).
    pub cooldown_max_edge_c: f64,
    /// Longest cool-down wait, seconds.
    pub cooldown_timeout_s: u64,
    /// The machine's memory bandwidth, GB/s, for the generation ceiling in the
    /// report; `None`: from the known-platform table, if the host is in it.
    #[serde(default)]
    pub memory_bandwidth_gbs: Option<f64>,
    /// The matrix is run this many times over, each time with new server
    /// starts, and each cell's measured runs are shared out among the rounds:
    /// runs then sample server starts and time, not one start at one moment.
    #[serde(default = "one")]
    pub rounds: u32,
    /// Measured runs added after `runs` until the intervals are narrow enough;
    /// `None`: exactly `runs`.
    #[serde(default)]
    pub precision: Option<Precision>,
    /// What warms each server start up (a variant may say otherwise).
    #[serde(default, skip_serializing_if = "WarmUp::is_full")]
    pub warmup: WarmUp,
    /// A short warm-up's prompt length and tokens generated.
    #[serde(default = "short_prompt", skip_serializing_if = "is_short_prompt")]
    pub warmup_prompt_tokens: u32,
    #[serde(default = "short_predict", skip_serializing_if = "is_short_predict")]
    pub warmup_n_predict: u32,
}

fn one() -> u32 {
    1
}

/// Default prompt length of a short warm-up.
pub const SHORT_WARMUP_PROMPT: u32 = 32;
/// Default tokens a short warm-up generates.
pub const SHORT_WARMUP_PREDICT: u32 = 16;

fn short_prompt() -> u32 {
    SHORT_WARMUP_PROMPT
}

fn short_predict() -> u32 {
    SHORT_WARMUP_PREDICT
}

fn is_short_prompt(n: &u32) -> bool {
    *n == SHORT_WARMUP_PROMPT
}

fn is_short_predict(n: &u32) -> bool {
    *n == SHORT_WARMUP_PREDICT
}

/// A precision target: after `runs` measured runs, a cell gets more, up to
/// `max_runs`, while any of `metrics` has a 95 % interval of its mean wider
/// than ± `target_ci_pct` % of the mean.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Precision {
    pub max_runs: u32,
    pub target_ci_pct: f64,
    pub metrics: Vec<Metric>,
}

impl Precision {
    /// The target metrics' names: "gen_tps, pp_tps".
    pub fn metric_names(&self) -> String {
        let names: Vec<&str> = self.metrics.iter().map(|m| m.name()).collect();
        names.join(", ")
    }
}

impl Bench {
    /// A cell's runs in words: "1 warm-up + 4 measured runs", with the rounds
    /// and the precision target when the plan sets them.
    pub fn runs_text(&self) -> String {
        let mut s = match self.warmup {
            WarmUp::Full => format!("{} warm-up + {}", self.warmup_runs, self.runs),
            WarmUp::Short => format!(
                "{} short warm-up per server start ({}-token prompt, {} tokens) + {}",
                self.warmup_runs, self.warmup_prompt_tokens, self.warmup_n_predict, self.runs
            ),
        };
        if let Some(p) = &self.precision {
            s.push_str(&format!(" to {}", p.max_runs));
        }
        s.push_str(" measured runs");
        if self.rounds > 1 {
            s.push_str(&format!(
                " in {} rounds over the whole matrix, each round a new server start with its own warm-up",
                self.rounds
            ));
            if self.precision.is_some() {
                s.push_str(", a run added per round");
            }
        }
        if let Some(p) = &self.precision {
            s.push_str(&format!(
                " (more while the 95 % interval of {} is wider than ±{} % of its mean)",
                p.metric_names(),
                p.target_ci_pct
            ));
        }
        s
    }

    /// The measured runs a cell should have by the end of round `r` of the
    /// planned rounds: `runs` shared out, the first rounds taking the rest.
    pub fn quota(&self, r: u32) -> u32 {
        let (each, rest) = (self.runs / self.rounds, self.runs % self.rounds);
        let r = r.min(self.rounds - 1) + 1;
        each * r + rest.min(r)
    }

    /// Whether the runs a precision target adds come on the cell's server
    /// start (one round) or one per added round (several).
    pub fn adds_in_round(&self) -> bool {
        self.rounds == 1
    }

    /// The most rounds a run can take: the planned ones, plus one per run a
    /// precision target may add when there are several.
    pub fn most_rounds(&self) -> u32 {
        if self.adds_in_round() {
            1
        } else {
            self.rounds + (self.max_runs() - self.runs)
        }
    }

    /// The most measured runs a cell can get.
    pub fn max_runs(&self) -> u32 {
        self.precision.as_ref().map_or(self.runs, |p| p.max_runs)
    }
}

/// The llama.cpp source every image is built from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Source {
    /// `default` for a plan's single `[source]`, else the `[[sources]]` name.
    pub name: String,
    /// Full commit id the archives hold.
    pub commit: String,
    /// llama.cpp's build number (bNNNN), when known.
    pub build_number: Option<u32>,
    /// Ways to obtain the archive, tried in order.
    pub archives: Vec<ArchiveFile>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Model {
    pub name: String,
    pub file: String,
    /// Pinned SHA-256; `None` means it is recorded at first download.
    pub sha256: Option<String>,
    pub size_bytes: Option<u64>,
    pub sources: Vec<ModelSourceFile>,
}

impl Model {
    /// The recipe of a model whose one source is synthetic.
    pub fn recipe(&self) -> Option<&crate::synth::RecipeFile> {
        match self.sources.as_slice() {
            [ModelSourceFile::Synthetic { recipe }] => Some(recipe),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BackendPlan {
    pub backend: Backend,
    /// `auto` (the pinned base, else the local one) or an image reference.
    pub base_image: AutoOr<String>,
    /// Extra build arguments for the Containerfile.
    pub build_args: BTreeMap<String, String>,
    /// vulkan: the driver its cells must run on; `None` (`auto`): the host's
    /// (`host::devices::VulkanDriver`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vulkan_driver: Option<crate::host::devices::VulkanDriver>,
}

/// Server settings; one server start serves all prompt lengths of a variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Variant {
    pub name: String,
    pub ctx_size: u32,
    /// Threads for generation and batch processing (resolved from `auto`).
    pub threads: u32,
    /// Layers offloaded; `auto` means the backend's default (0 on CPU).
    pub n_gpu_layers: AutoOr,
    pub batch_size: u32,
    pub ubatch_size: u32,
    pub flash_attn: FlashAttn,
    pub cache_type_k: String,
    pub cache_type_v: String,
    /// Environment of the server process.
    pub env: BTreeMap<String, String>,
    /// Further llama-server arguments, passed after rigbench's own.
    pub server_args: Vec<String>,
    /// Fields added to every completion request.
    pub request: BTreeMap<String, serde_json::Value>,
    /// A fault injected into every run (see `Fault`).
    pub fault: Option<Fault>,
    /// CPUs the server container may use (a CFS quota); `None`: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<f64>,
    /// The CPUs the server container is pinned to; `None`: any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpuset_cpus: Option<String>,
    /// This variant's warm-up; `None`: the bench's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warmup: Option<WarmUp>,
}

/// A plan that could not be read or is not valid; names the file and the field.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("cannot read plan {file}: {source}")]
    Read {
        file: String,
        source: std::io::Error,
    },
    #[error("plan {file}, line {line}, column {column}: {message}")]
    Syntax {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("plan {file}: {field}: {message}")]
    Invalid {
        file: String,
        field: String,
        message: String,
    },
}

/// Reads, checks and resolves the plan at `path`; `cpus` resolves `threads = "auto"`.
pub fn load(path: &Path, cpus: u32) -> Result<Plan, PlanError> {
    Ok(load_with(Some(path), cpus, &[], &overrides::Overrides::default())?.0)
}

/// The built-in default plan, resolved for a host with `cpus` CPUs: the CPU
/// backend only (see `builtin_for` for the GPU backends a host has).
pub fn builtin(cpus: u32) -> Result<Plan, PlanError> {
    parse(DEFAULT_PLAN_TOML, BUILTIN_ORIGIN, cpus)
}

/// The built-in default plan with the GPU backends `found` on this host added,
/// each with its defaults (CPU is always there).
pub fn builtin_for(cpus: u32, found: &[Backend]) -> Result<Plan, PlanError> {
    Ok(load_with(None, cpus, found, &overrides::Overrides::default())?.0)
}

/// The plan file at `path` (else the built-in default, with the GPU backends
/// `found` on this host added) with the command line's `o` applied: the
/// resolved plan, and the plan file that resolves to it (`--print-plan`).
pub fn load_with(
    path: Option<&Path>,
    cpus: u32,
    found: &[Backend],
    o: &overrides::Overrides,
) -> Result<(Plan, PlanFile), PlanError> {
    // A name (`--plan strix-halo-2026-05`) is a built-in plan unless a file
    // of that name is here; `default` is what no --plan gives.
    let named = path
        .filter(|p| !p.exists())
        .and_then(|p| p.to_str())
        .filter(|a| builtin::is_name(a));
    let path = path.filter(|p| named.is_none() && p.to_str() != Some("default"));
    let (text, origin) = match (path, named) {
        (Some(p), _) => {
            let file = p.display().to_string();
            let text = std::fs::read_to_string(p).map_err(|source| PlanError::Read {
                file: file.clone(),
                source,
            })?;
            (text, file)
        }
        (None, Some(name)) => {
            let (text, origin) = builtin::find(name).ok_or_else(|| PlanError::Invalid {
                file: name.to_string(),
                field: "--plan".to_string(),
                message: format!(
                    "no such file, and not a built-in plan (built-in: {}); give a plan file's path",
                    builtin::names()
                ),
            })?;
            (text.to_string(), origin)
        }
        (None, None) => (DEFAULT_PLAN_TOML.to_string(), BUILTIN_ORIGIN.to_string()),
    };
    let mut raw = parse_file(&text, &origin)?;
    if origin == BUILTIN_ORIGIN {
        for b in found {
            if raw.backends.iter().all(|x| x.name != b.name()) {
                raw.backends.push(file::BackendFile {
                    name: b.name().to_string(),
                    base_image: None,
                    build_args: BTreeMap::new(),
                    driver: None,
                });
            }
        }
    }
    o.apply(&mut raw, &origin)?;
    let mut plan = validate::validate(raw.clone(), &origin, cpus)?;
    plan.overrides = o.words();
    Ok((plan, raw))
}

/// A plan file as TOML that `parse` reads back to the same plan; `note` is
/// put at its top as comments.
pub fn to_toml(raw: &PlanFile, note: &str) -> Result<String, PlanError> {
    let body = toml::to_string(raw).map_err(|e| PlanError::Invalid {
        file: "the printed plan".to_string(),
        field: String::new(),
        message: e.to_string(),
    })?;
    let header: String = note.lines().map(|l| format!("# {l}\n")).collect();
    Ok(format!("{header}{body}"))
}

fn parse_file(text: &str, origin: &str) -> Result<PlanFile, PlanError> {
    toml::from_str(text).map_err(|e| {
        let (line, column) = e.span().map(|s| line_col(text, s.start)).unwrap_or((0, 0));
        PlanError::Syntax {
            file: origin.to_string(),
            line,
            column,
            message: e.message().to_string(),
        }
    })
}

/// Parses plan text; `origin` names it in errors and in the resolved plan.
pub fn parse(text: &str, origin: &str, cpus: u32) -> Result<Plan, PlanError> {
    validate::validate(parse_file(text, origin)?, origin, cpus)
}

/// 1-based line and column of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests;
