//! Plans: what to build and measure. A plan file (TOML, see `file`) or the built-in
//! default is parsed, checked and resolved here into `Plan`, in which every default
//! is explicit; nothing below this module sees the raw file or the command line.
//! `matrix` expands a plan into the cells that are run.

pub mod estimate;
pub mod file;
pub mod llama_bench;
pub mod matrix;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::backend::Backend;
use crate::metric::Metric;
pub use file::{ArchiveFile, AutoOr, CellSelector, Fault, ModelSourceFile};
use file::{PlanFile, VariantFile};

/// The built-in default plan (also shipped as `plans/default.toml`).
pub const DEFAULT_PLAN_TOML: &str = include_str!("../../plans/default.toml");
/// How the built-in plan is named where a file path would stand.
pub const BUILTIN_ORIGIN: &str = "built-in default (plans/default.toml)";

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
}

fn one() -> u32 {
    1
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
        let mut s = format!("{} warm-up + {}", self.warmup_runs, self.runs);
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BackendPlan {
    pub backend: Backend,
    /// `auto` (the pinned base, else the local one) or an image reference.
    pub base_image: String,
    /// Extra build arguments for the Containerfile.
    pub build_args: BTreeMap<String, String>,
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
    /// `on`, `off` or `auto`.
    pub flash_attn: String,
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
}

impl Serialize for AutoOr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            AutoOr::Auto => s.serialize_str("auto"),
            AutoOr::Value(v) => s.serialize_u32(*v),
        }
    }
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
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| PlanError::Read {
        file: file.clone(),
        source,
    })?;
    parse(&text, &file, cpus)
}

/// The built-in default plan, resolved for a host with `cpus` CPUs: the CPU
/// backend only (see `builtin_for` for the GPU backends a host has).
pub fn builtin(cpus: u32) -> Result<Plan, PlanError> {
    parse(DEFAULT_PLAN_TOML, BUILTIN_ORIGIN, cpus)
}

/// The built-in default plan with the GPU backends `found` on this host added,
/// each with its defaults (CPU is always there).
pub fn builtin_for(cpus: u32, found: &[Backend]) -> Result<Plan, PlanError> {
    let mut plan = builtin(cpus)?;
    for b in found {
        if plan.backends.iter().all(|x| x.backend != *b) {
            plan.backends.push(BackendPlan {
                backend: *b,
                base_image: "auto".to_string(),
                build_args: b
                    .build_arg_defaults()
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            });
        }
    }
    Ok(plan)
}

/// Parses plan text; `origin` names it in errors and in the resolved plan.
pub fn parse(text: &str, origin: &str, cpus: u32) -> Result<Plan, PlanError> {
    let raw: PlanFile = toml::from_str(text).map_err(|e| {
        let (line, column) = e.span().map(|s| line_col(text, s.start)).unwrap_or((0, 0));
        PlanError::Syntax {
            file: origin.to_string(),
            line,
            column,
            message: e.message().to_string(),
        }
    })?;
    validate(raw, origin, cpus)
}

/// 1-based line and column of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

struct Checker<'a> {
    file: &'a str,
}

impl Checker<'_> {
    fn fail<T>(
        &self,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Result<T, PlanError> {
        Err(PlanError::Invalid {
            file: self.file.to_string(),
            field: field.into(),
            message: message.into(),
        })
    }

    fn sha256(&self, field: &str, v: &Option<String>) -> Result<(), PlanError> {
        match v {
            Some(s) if s.len() != 64 || !s.bytes().all(|b| b.is_ascii_hexdigit()) => self.fail(
                field,
                format!("\"{s}\" is not a SHA-256 (64 hexadecimal digits)"),
            ),
            _ => Ok(()),
        }
    }
}

fn validate(raw: PlanFile, origin: &str, cpus: u32) -> Result<Plan, PlanError> {
    let c = Checker { file: origin };
    if raw.name.trim().is_empty() {
        return c.fail("name", "must not be empty");
    }
    let bench = validate_bench(&c, raw.bench)?;
    let sources = match (raw.source, raw.sources.is_empty()) {
        (Some(_), false) => {
            return c.fail(
                "sources",
                "name the llama.cpp source once: [source], or several [[sources]], not both",
            );
        }
        (None, true) => {
            return c.fail(
                "source",
                "name the llama.cpp source ([source], or [[sources]] with a name each)",
            );
        }
        (Some(one), true) => vec![validate_source(&c, "source", one, "default")?],
        (None, false) => {
            let mut out: Vec<Source> = Vec::new();
            for (i, sf) in raw.sources.into_iter().enumerate() {
                let at = format!("sources[{i}]");
                let Some(name) = sf.name.clone() else {
                    return c.fail(
                        format!("{at}.name"),
                        "each of several sources needs a name (such as b9016)",
                    );
                };
                if name.is_empty()
                    || !name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
                {
                    return c.fail(
                        format!("{at}.name"),
                        format!("\"{name}\" must be letters, digits, '-' or '_'"),
                    );
                }
                if out.iter().any(|x| x.name == name) {
                    return c.fail(format!("{at}.name"), format!("\"{name}\" appears twice"));
                }
                out.push(validate_source(&c, &at, sf, &name)?);
            }
            out
        }
    };

    if raw.models.is_empty() {
        return c.fail("models", "name at least one model ([[models]])");
    }
    let mut models = Vec::new();
    let mut names = BTreeSet::new();
    for (i, m) in raw.models.into_iter().enumerate() {
        let at = format!("models[{i}]");
        if !names.insert(m.name.clone()) {
            return c.fail(
                format!("{at}.name"),
                format!("\"{}\" appears twice", m.name),
            );
        }
        if m.file.is_empty() || m.file.contains('/') {
            return c.fail(format!("{at}.file"), "a bare file name, such as model.gguf");
        }
        c.sha256(&format!("{at}.sha256"), &m.sha256)?;
        if m.sources.is_empty() {
            return c.fail(format!("{at}.sources"), "name at least one source");
        }
        models.push(Model {
            name: m.name,
            file: m.file,
            sha256: m.sha256.map(|s| s.to_ascii_lowercase()),
            size_bytes: m.size_bytes,
            sources: m.sources,
        });
    }

    if raw.backends.is_empty() {
        return c.fail("backends", "name at least one backend ([[backends]])");
    }
    let mut backends = Vec::new();
    for (i, b) in raw.backends.into_iter().enumerate() {
        let at = format!("backends[{i}]");
        let Some(backend) = Backend::parse(&b.name) else {
            return c.fail(
                format!("{at}.name"),
                format!(
                    "unknown backend \"{}\" (known: {})",
                    b.name,
                    Backend::names().join(", ")
                ),
            );
        };
        let defaults = backend.build_arg_defaults();
        let mut build_args: BTreeMap<String, String> = defaults
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        for (k, v) in b.build_args {
            if crate::backend::MANAGED_BUILD_ARGS.contains(&k.as_str()) {
                return c.fail(
                    format!("{at}.build_args.{k}"),
                    "is set by rigbench (from base_image and [source]); remove it",
                );
            }
            if !defaults.iter().any(|(d, _)| *d == k) {
                return c.fail(
                    format!("{at}.build_args.{k}"),
                    format!(
                        "{} takes no such build argument (it takes: {})",
                        backend.containerfile(),
                        defaults
                            .iter()
                            .map(|(d, _)| *d)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
            }
            build_args.insert(k, v);
        }
        if backends.iter().any(|x: &BackendPlan| x.backend == backend) {
            return c.fail(
                format!("{at}.name"),
                format!("\"{}\" appears twice", b.name),
            );
        }
        backends.push(BackendPlan {
            backend,
            base_image: b.base_image.unwrap_or_else(|| "auto".to_string()),
            build_args,
        });
    }

    let raw_variants = if raw.variants.is_empty() {
        vec![VariantFile {
            name: "default".to_string(),
            ..VariantFile::default()
        }]
    } else {
        raw.variants
    };
    let mut variants = Vec::new();
    for (i, v) in raw_variants.into_iter().enumerate() {
        let variant = validate_variant(&c, &format!("variants[{i}]"), v, cpus)?;
        if let Some(f) = &variant.fault {
            if f.after_tokens >= bench.n_predict {
                return c.fail(
                    format!("variants[{i}].fault.after_tokens"),
                    format!(
                        "{} would never fire: runs generate {} tokens (bench.n_predict)",
                        f.after_tokens, bench.n_predict
                    ),
                );
            }
        }
        if variants.iter().any(|x: &Variant| x.name == variant.name) {
            return c.fail(
                format!("variants[{i}].name"),
                format!("\"{}\" appears twice", variant.name),
            );
        }
        variants.push(variant);
    }

    let llama_bench = match raw.llama_bench {
        None => None,
        Some(lb) => Some(validate_llama_bench(&c, lb, cpus)?),
    };

    for (field, list) in [("exclude", &raw.exclude), ("include", &raw.include)] {
        for (i, sel) in list.iter().enumerate() {
            let at = format!("{field}[{i}]");
            check_selector(&c, &at, sel, &models, &backends, &variants)?;
            if let Some(src) = &sel.source {
                if !sources.iter().any(|x| &x.name == src) {
                    return c.fail(
                        format!("{at}.source"),
                        format!("\"{src}\" is not one of the plan's [[sources]]"),
                    );
                }
            }
        }
    }

    Ok(Plan {
        name: raw.name,
        description: raw.description,
        origin: origin.to_string(),
        bench,
        sources,
        models,
        backends,
        variants,
        llama_bench,
        exclude: raw.exclude,
        include: raw.include,
    })
}

/// A selector must name things the plan has.
fn check_selector(
    c: &Checker,
    at: &str,
    sel: &CellSelector,
    models: &[Model],
    backends: &[BackendPlan],
    variants: &[Variant],
) -> Result<(), PlanError> {
    if let Some(b) = &sel.backend {
        if !backends.iter().any(|x| x.backend.name() == b) {
            return c.fail(
                format!("{at}.backend"),
                format!("\"{b}\" is not one of the plan's [[backends]]"),
            );
        }
    }
    if let Some(m) = &sel.model {
        if !models.iter().any(|x| &x.name == m) {
            return c.fail(
                format!("{at}.model"),
                format!("\"{m}\" is not one of the plan's [[models]]"),
            );
        }
    }
    if let Some(v) = &sel.variant {
        if !variants.iter().any(|x| &x.name == v) {
            return c.fail(
                format!("{at}.variant"),
                format!("\"{v}\" is not one of the plan's [[variants]]"),
            );
        }
    }
    if sel
        .prompt_tokens
        .as_ref()
        .is_some_and(|p| p.is_empty() || p.contains(&0))
    {
        return c.fail(
            format!("{at}.prompt_tokens"),
            "one or more lengths, each at least 1",
        );
    }
    Ok(())
}

fn validate_llama_bench(
    c: &Checker,
    lb: file::LlamaBenchFile,
    cpus: u32,
) -> Result<llama_bench::Settings, PlanError> {
    let s = llama_bench::Settings {
        n_prompt: lb.n_prompt.unwrap_or_else(|| vec![512]),
        n_gen: lb.n_gen.unwrap_or_else(|| vec![128]),
        n_depth: lb.n_depth.unwrap_or_else(|| vec![0]),
        repetitions: lb.repetitions.unwrap_or(5),
        flash_attn: lb.flash_attn.unwrap_or_else(|| "on".to_string()),
        n_gpu_layers: lb.n_gpu_layers.unwrap_or(AutoOr::Auto),
        threads: match lb.threads.unwrap_or(AutoOr::Auto) {
            AutoOr::Auto => cpus.max(1),
            AutoOr::Value(n) => n,
        },
        load_mode: lb.load_mode.unwrap_or_else(|| "mmap".to_string()),
        timeout_s: lb.timeout_s.unwrap_or(1800),
    };
    if s.n_prompt.is_empty() && s.n_gen.is_empty() {
        return c.fail("llama_bench", "name n_prompt or n_gen sizes");
    }
    if s.repetitions == 0 || s.threads == 0 {
        return c.fail("llama_bench", "repetitions and threads must be at least 1");
    }
    if !["on", "off", "auto"].contains(&s.flash_attn.as_str()) {
        return c.fail(
            "llama_bench.flash_attn",
            format!("\"{}\": use \"on\", \"off\" or \"auto\"", s.flash_attn),
        );
    }
    if !["auto", "none", "mmap", "mlock", "mmap+mlock", "dio"].contains(&s.load_mode.as_str()) {
        return c.fail(
            "llama_bench.load_mode",
            format!(
                "\"{}\": use auto, none, mmap, mlock, mmap+mlock or dio",
                s.load_mode
            ),
        );
    }
    Ok(s)
}

fn validate_bench(c: &Checker, b: file::BenchFile) -> Result<Bench, PlanError> {
    let bench = Bench {
        runs: b.runs.unwrap_or(4),
        warmup_runs: b.warmup_runs.unwrap_or(1),
        n_predict: b.n_predict.unwrap_or(128),
        seed: b.seed.unwrap_or(42),
        prompt_tokens: b
            .prompt_tokens
            .unwrap_or_else(|| vec![31, 461, 3799, 11205]),
        health_timeout_s: b.health_timeout_s.unwrap_or(300),
        stall_timeout_s: b.stall_timeout_s.unwrap_or(120),
        request_timeout_s: b.request_timeout_s.unwrap_or(900),
        telemetry_interval_ms: b.telemetry_interval_ms.unwrap_or(500),
        cooldown_max_edge_c: b.cooldown_max_edge_c.unwrap_or(60.0),
        cooldown_timeout_s: b.cooldown_timeout_s.unwrap_or(300),
        memory_bandwidth_gbs: b.memory_bandwidth_gbs,
        rounds: b.rounds.unwrap_or(1),
        precision: None,
    };
    if bench
        .memory_bandwidth_gbs
        .is_some_and(|v| !(v.is_finite() && v > 0.0))
    {
        return c.fail(
            "bench.memory_bandwidth_gbs",
            "a bandwidth in GB/s above 0, such as 256",
        );
    }
    if bench.telemetry_interval_ms < 50 {
        return c.fail("bench.telemetry_interval_ms", "at least 50 ms");
    }
    if !(0.0..=120.0).contains(&bench.cooldown_max_edge_c) {
        return c.fail(
            "bench.cooldown_max_edge_c",
            "a temperature between 0 and 120 °C",
        );
    }
    if bench.runs == 0 {
        return c.fail("bench.runs", "at least 1 measured run");
    }
    if bench.rounds == 0 || bench.rounds > bench.runs {
        return c.fail(
            "bench.rounds",
            format!(
                "{}: from 1 to bench.runs ({}), so that every round has a measured run",
                bench.rounds, bench.runs
            ),
        );
    }
    let precision = validate_precision(c, &bench, b.max_runs, b.target_ci_pct, b.target_metrics)?;
    let bench = Bench { precision, ..bench };
    if bench.n_predict < 2 {
        return c.fail(
            "bench.n_predict",
            "at least 2 tokens (generation speed needs two token times)",
        );
    }
    if bench.prompt_tokens.is_empty() || bench.prompt_tokens.contains(&0) {
        return c.fail(
            "bench.prompt_tokens",
            "one or more lengths, each at least 1",
        );
    }
    let distinct: BTreeSet<_> = bench.prompt_tokens.iter().collect();
    if distinct.len() != bench.prompt_tokens.len() {
        return c.fail("bench.prompt_tokens", "a length appears twice");
    }
    for (field, v) in [
        ("bench.health_timeout_s", bench.health_timeout_s),
        ("bench.stall_timeout_s", bench.stall_timeout_s),
        ("bench.request_timeout_s", bench.request_timeout_s),
    ] {
        if v == 0 {
            return c.fail(field, "must be at least 1 second");
        }
    }
    Ok(bench)
}

/// `max_runs`, `target_ci_pct` and `target_metrics` of `[bench]`: the first
/// two together or neither.
fn validate_precision(
    c: &Checker,
    bench: &Bench,
    max_runs: Option<u32>,
    target_ci_pct: Option<f64>,
    metrics: Option<Vec<String>>,
) -> Result<Option<Precision>, PlanError> {
    let (max_runs, target) = match (max_runs, target_ci_pct) {
        (None, None) => {
            if metrics.is_some() {
                return c.fail(
                    "bench.target_metrics",
                    "has no effect without bench.max_runs and bench.target_ci_pct",
                );
            }
            return Ok(None);
        }
        (Some(_), None) => {
            return c.fail(
                "bench.target_ci_pct",
                "missing: bench.max_runs adds runs until the 95 % intervals are within ± this percentage of the mean, such as 1.0",
            )
        }
        (None, Some(_)) => {
            return c.fail(
                "bench.max_runs",
                "missing: bench.target_ci_pct needs the most measured runs a cell may get, such as 12",
            )
        }
        (Some(m), Some(t)) => (m, t),
    };
    if max_runs < bench.runs {
        return c.fail(
            "bench.max_runs",
            format!(
                "{max_runs} is below bench.runs ({}): the most runs must be at least the fewest",
                bench.runs
            ),
        );
    }
    if !(target.is_finite() && target > 0.0 && target < 100.0) {
        return c.fail(
            "bench.target_ci_pct",
            format!("{target}: a percentage above 0 and below 100, such as 1.0"),
        );
    }
    let metrics = match metrics {
        None => Metric::HEADLINE.to_vec(),
        Some(names) => {
            let mut metrics = Vec::new();
            for name in &names {
                match Metric::parse(name) {
                    Some(m) => metrics.push(m),
                    None => {
                        return c.fail(
                            "bench.target_metrics",
                            format!("\"{name}\" is not a metric; use {}", Metric::names()),
                        );
                    }
                }
            }
            metrics
        }
    };
    if metrics.is_empty() {
        return c.fail("bench.target_metrics", "name at least one metric");
    }
    Ok(Some(Precision {
        max_runs,
        target_ci_pct: target,
        metrics,
    }))
}

fn validate_source(
    c: &Checker,
    field: &str,
    s: file::SourceFile,
    name: &str,
) -> Result<Source, PlanError> {
    if s.commit.len() < 7 || !s.commit.bytes().all(|b| b.is_ascii_hexdigit()) {
        return c.fail(
            format!("{field}.commit"),
            format!(
                "\"{}\" is not a git commit id (7 to 40 hex digits)",
                s.commit
            ),
        );
    }
    if s.archives.is_empty() {
        return c.fail(format!("{field}.archives"), "name at least one archive");
    }
    for (i, a) in s.archives.iter().enumerate() {
        let at = format!("{field}.archives[{i}]");
        let (sha, dir) = match a {
            ArchiveFile::Url { sha256, dir, .. }
            | ArchiveFile::Path { sha256, dir, .. }
            | ArchiveFile::Github { sha256, dir, .. }
            | ArchiveFile::PypiSdist { sha256, dir, .. } => (sha256, dir),
        };
        c.sha256(&format!("{at}.sha256"), sha)?;
        if dir.is_empty() || dir.starts_with('/') || dir.split('/').any(|p| p == "..") {
            return c.fail(
                format!("{at}.dir"),
                format!("\"{dir}\" must be a relative path inside the archive"),
            );
        }
    }
    Ok(Source {
        name: name.to_string(),
        commit: s.commit.to_ascii_lowercase(),
        build_number: s.build_number,
        archives: s.archives,
    })
}

fn validate_variant(
    c: &Checker,
    at: &str,
    v: VariantFile,
    cpus: u32,
) -> Result<Variant, PlanError> {
    if v.name.is_empty()
        || !v
            .name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        return c.fail(
            format!("{at}.name"),
            format!("\"{}\" must be letters, digits, '-', '_' or '.'", v.name),
        );
    }
    let variant = Variant {
        name: v.name,
        ctx_size: v.ctx_size.unwrap_or(16384),
        threads: match v.threads.unwrap_or(AutoOr::Auto) {
            AutoOr::Auto => cpus.max(1),
            AutoOr::Value(n) => n,
        },
        n_gpu_layers: v.n_gpu_layers.unwrap_or(AutoOr::Auto),
        batch_size: v.batch_size.unwrap_or(2048),
        ubatch_size: v.ubatch_size.unwrap_or(512),
        flash_attn: v.flash_attn.unwrap_or_else(|| "on".to_string()),
        cache_type_k: v.cache_type_k.unwrap_or_else(|| "f16".to_string()),
        cache_type_v: v.cache_type_v.unwrap_or_else(|| "f16".to_string()),
        env: v.env,
        server_args: v.server_args,
        request: v.request,
        fault: v.fault,
    };
    if variant.ctx_size < 64 {
        return c.fail(format!("{at}.ctx_size"), "at least 64 tokens");
    }
    if variant.threads == 0 {
        return c.fail(format!("{at}.threads"), "at least 1, or \"auto\"");
    }
    if variant.ubatch_size == 0 || variant.batch_size < variant.ubatch_size {
        return c.fail(
            format!("{at}.batch_size"),
            "batch_size must be at least ubatch_size, both above 0",
        );
    }
    if !["on", "off", "auto"].contains(&variant.flash_attn.as_str()) {
        return c.fail(
            format!("{at}.flash_attn"),
            format!(
                "\"{}\": use \"on\", \"off\" or \"auto\"",
                variant.flash_attn
            ),
        );
    }
    for (field, t) in [
        ("cache_type_k", &variant.cache_type_k),
        ("cache_type_v", &variant.cache_type_v),
    ] {
        if !CACHE_TYPES.contains(&t.as_str()) {
            return c.fail(
                format!("{at}.{field}"),
                format!("\"{t}\" is not one of {}", CACHE_TYPES.join(", ")),
            );
        }
    }
    for k in variant.env.keys() {
        if k.is_empty() || k.contains('=') || k.contains('\0') {
            return c.fail(
                format!("{at}.env"),
                format!("\"{k}\" is not a variable name"),
            );
        }
    }
    for k in variant.request.keys() {
        if MANAGED_REQUEST_FIELDS.contains(&k.as_str()) {
            return c.fail(
                format!("{at}.request.{k}"),
                "is set by rigbench for every measured request; remove it",
            );
        }
    }
    if let Some(f) = &variant.fault {
        if !FAULT_SIGNALS.contains(&f.signal.as_str()) {
            return c.fail(
                format!("{at}.fault.signal"),
                format!(
                    "\"{}\" is not one of {}",
                    f.signal,
                    FAULT_SIGNALS.join(", ")
                ),
            );
        }
        if f.after_tokens == 0 {
            return c.fail(format!("{at}.fault.after_tokens"), "at least 1 token");
        }
    }
    for arg in &variant.server_args {
        let flag = arg.split('=').next().unwrap_or(arg);
        if let Some((_, instead)) = MANAGED_FLAGS.iter().find(|(f, _)| *f == flag) {
            return c.fail(
                format!("{at}.server_args"),
                format!("\"{arg}\" is set by rigbench from {instead}; set that instead"),
            );
        }
    }
    Ok(variant)
}

#[cfg(test)]
mod tests;
