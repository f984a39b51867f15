//! The run manifest: one self-contained JSON document holding everything needed
//! to rebuild and rerun a run and every raw measurement. The types here define its
//! schema (`schema/manifest.schema.json` is its published form); `store` writes it
//! atomically after every change, `integrity` seals it.

pub mod ab;
mod agreement;
#[cfg(test)]
pub mod fixtures;
pub mod integrity;
pub mod recorder;
pub mod schema;
pub mod store;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::backend::Backend;
use crate::engine::EngineInfo;
use crate::gguf::GgufFacts;
use crate::host::HostFacts;
use crate::metric::Metric;
use crate::plan::matrix::Excluded;
/// The resolved server settings a cell ran with (made by `plan::settings`).
pub use crate::plan::settings::CellVariant;
use crate::plan::{ArchiveFile, ModelSourceFile, Plan};
use crate::stats::Summary;
pub use crate::status::{CellStatus, FailureMode, RunStatus};
pub use agreement::{Agreement, Divergence};

pub const SCHEMA_VERSION: &str = "rigbench.manifest/2";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Manifest {
    pub schema_version: String,
    pub tool: Tool,
    /// The id on this run's containers (label `io.rigbench.run`).
    pub run_id: String,
    /// RFC 3339, UTC: when the run started.
    pub created_at: String,
    /// RFC 3339, UTC: when the manifest was last written.
    pub updated_at: String,
    /// `running`, `complete`, `interrupted` or `failed` (with `error`).
    pub status: RunStatus,
    pub error: Option<String>,
    pub host: HostFacts,
    /// How `host` was read where the engine is another host's: `read on
    /// ssh://… by a probe container of IMAGE`. Absent for this machine's
    /// engine (read by rigbench itself), as in manifests written before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_read: Option<String>,
    pub engine: Option<EngineInfo>,
    pub images: Vec<ImageRecord>,
    pub models: Vec<ModelRecord>,
    /// The plan as resolved: every default explicit.
    pub plan: Plan,
    /// Cells the plan names that cannot run as planned, with the reason.
    pub excluded: Vec<Excluded>,
    pub cells: Vec<Cell>,
    /// llama-bench runs, when the plan asks for them.
    pub llama_bench: Vec<LlamaBenchRecord>,
    /// The llama-bench runs the matrix holds, recorded when measuring
    /// begins: those without a record in `llama_bench` were not reached
    /// (absent in manifests before 2026-12-07).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub llama_bench_planned: Vec<PlannedLlamaBench>,
    /// Each `--resume` of this run, in order.
    pub resumes: Vec<Resume>,
    /// When this run is a `rigbench rerun` of another: which, and whether the
    /// rebuilt binaries are bit-identical to the original's.
    #[serde(default)]
    pub rerun_of: Option<RerunOf>,
    /// An A/B run's added rounds and stop (`plan.ab`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ab: Option<ab::AbRecord>,
    pub timing: Timing,
    pub integrity: Integrity,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Tool {
    pub name: String,
    pub version: String,
    /// The git commit rigbench was built from (`-dirty` with local changes,
    /// `unknown` outside git); absent in manifests before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
}

/// The run a rerun reproduces, and the binary check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RerunOf {
    pub run_id: String,
    /// The original manifest's integrity hash.
    pub integrity: String,
    pub created_at: String,
    /// Inputs this machine could not provide as recorded, accepted with
    /// `--allow-substitutes`.
    pub substitutes: Vec<String>,
    pub binaries: Vec<BinaryCheck>,
}

/// One binary of one image: the original's sha256 against the rebuilt one's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BinaryCheck {
    /// `backend@source`.
    pub image: String,
    pub binary: String,
    pub original: String,
    pub rebuilt: Option<String>,
    pub identical: bool,
    /// Where they differ: the build inputs and the versions read inside that
    /// changed (empty when identical).
    pub differing_inputs: Vec<String>,
}

/// A `rigbench run --resume` of this run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Resume {
    /// RFC 3339, UTC.
    pub at: String,
    /// The status the manifest had (`running` after a kill).
    pub previous_status: RunStatus,
    /// What the resume cleaned up.
    pub note: String,
}

/// Wall-clock seconds of the run, split by phase (client clock), summed over the
/// run and its resumes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Timing {
    pub total_s: f64,
    /// Fetching and verifying the source and models.
    pub fetch_s: f64,
    /// Resolving, building (or reusing) images and reading their facts.
    pub build_s: f64,
    /// Server start until `/health` answered 200, summed over server starts.
    pub model_load_s: f64,
    /// Warm-up requests, first byte sent to last byte received.
    pub warmup_requests_s: f64,
    /// Measured requests, first byte sent to last byte received.
    pub measured_requests_s: f64,
    /// Waiting for the GPU to cool down before measured runs.
    pub cooldown_s: f64,
    /// Everything else: tokenizing prompts, stopping servers, writing files.
    pub other_s: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Integrity {
    /// SHA-256 of the canonical JSON (sorted keys, no spaces) of the manifest
    /// without this `integrity` member.
    pub sha256: String,
}

/// An image a cell ran in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ImageRecord {
    pub backend: Backend,
    /// The plan's name for the llama.cpp source it was built from.
    #[serde(default = "default_source")]
    pub source: String,
    pub tag: String,
    /// `sha256:…` as the engine reports it.
    pub image_id: String,
    pub containerfile: String,
    pub containerfile_sha256: String,
    /// Every build argument passed to the engine.
    pub build_args: BTreeMap<String, String>,
    pub base_image: BaseImage,
    pub llama_cpp: LlamaCpp,
    /// Versions read inside the image (compiler, cmake, OS).
    pub toolchain: BTreeMap<String, String>,
    /// SHA-256 of the built binaries, read inside the image.
    pub binaries_sha256: BTreeMap<String, String>,
    /// SHA-256 over every build input; the image's `io.rigbench.inputs` label.
    pub inputs_sha256: String,
    /// True when built by this run, false when an image with the same inputs was reused.
    pub built_now: bool,
    pub build_seconds: f64,
    /// The build-info JSON the image carries (/opt/llama/build-info.json).
    pub build_info: serde_json::Value,
    /// The runtime-info JSON (/opt/llama/runtime-info.json): OS, Mesa, ROCm.
    pub runtime_info: serde_json::Value,
    /// The GPU devices the image's own tool lists with the backend's devices
    /// passed (`vulkaninfo --summary`, `rocminfo`); empty for the CPU.
    pub devices: Vec<BTreeMap<String, String>>,
    /// That tool's whole output, or why it failed.
    pub device_probe: Option<String>,
    /// The devices llama.cpp itself sees in the image with the backend's devices
    /// and environment (`llama-server --list-devices`); empty for the CPU.
    pub llama_devices: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BaseImage {
    /// The reference passed as `BASE_IMAGE`.
    pub reference: String,
    pub image_id: String,
    /// Registry digest where the engine knows one (`name@sha256:…`).
    pub digest: Option<String>,
    pub origin: crate::backend::BaseOrigin,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LlamaCpp {
    pub commit: String,
    /// As passed to cmake; `None` when the plan did not know it (cmake got 0).
    pub build_number: Option<u32>,
    pub source_sha256: String,
    /// Whether the plan pinned the archive's hash (false: recorded at first download).
    pub source_pinned: bool,
    pub source_archive: ArchiveFile,
    pub source_dir: String,
    /// What `llama-server --version` printed in the image.
    pub version_output: String,
}

impl LlamaCpp {
    /// The first line of `--version` (the version, build and commit).
    pub fn version_line(&self) -> &str {
        self.version_output.lines().next().unwrap_or_default()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ModelRecord {
    pub name: String,
    pub file: String,
    pub size_bytes: u64,
    pub sha256: String,
    /// Whether the plan pinned the hash (false: recorded at first download).
    pub sha256_pinned: bool,
    pub source: ModelSourceFile,
    /// Seconds spent hashing the file in this run (0 when the hash cache answered).
    pub hash_seconds: f64,
    /// `computed` or `cached`.
    pub hash_origin: crate::hash::HashOrigin,
    /// The whole model's header facts (a split model's summed over its shards).
    pub gguf: GgufFacts,
    /// A split model's shards after the first (the first is `file` above),
    /// each with its own hash, recorded at first use.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shards: Vec<ShardRecord>,
    /// A synthetic model's recipe and how the file was made; absent for a
    /// real model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synthetic: Option<crate::synth::Provenance>,
}

impl ModelRecord {
    /// Whether its weights are random (made from a recipe), not a real model's.
    pub fn is_synthetic(&self) -> bool {
        self.synthetic.is_some()
    }
}

/// One shard of a split model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ShardRecord {
    pub file: String,
    pub size_bytes: u64,
    pub sha256: String,
    pub source: ModelSourceFile,
}

/// One cell of the matrix: a prompt length on one backend, model and variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Cell {
    /// Made from the fields below by `plan::matrix::cell_id`; never read back.
    pub id: String,
    pub backend: Backend,
    /// The llama.cpp source's name (`default` when the plan has one).
    #[serde(default = "default_source")]
    pub source: String,
    pub model: String,
    pub prompt_tokens: u32,
    pub n_predict: u32,
    pub variant: CellVariant,
    /// `pending`, `ok` or `failed`.
    pub status: CellStatus,
    pub failure: Option<Failure>,
    pub server: Option<ServerStart>,
    pub runs: Vec<Run>,
    /// Per metric over the measured (non-warm-up, valid) runs.
    pub stats: BTreeMap<Metric, Summary>,
    /// Greedy output compared with the same cell on the reference backend.
    pub agreement: Option<Agreement>,
}

fn default_source() -> String {
    "default".to_string()
}

/// The server start that served a cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ServerStart {
    pub container_name: String,
    /// Its published port on the engine's host's loopback.
    pub host_port: u16,
    /// For another host's engine: the port of the machine rigbench ran on
    /// that an SSH forward took to `host_port` there (each request's time
    /// then includes the way over SSH; llama-server's own timings do not).
    /// Absent for an engine on the same host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forwarded_from: Option<u16>,
    /// Seconds from container start until `/health` answered 200.
    pub load_seconds: f64,
    /// The container log, relative to the run directory.
    pub log: String,
    /// What the server's /props said (n_ctx, build info, …).
    pub props: Option<serde_json::Value>,
    /// The devices, groups and host variables the container got.
    pub passthrough: crate::host::devices::Passthrough,
    /// The server log's lines naming the devices and CPU features it uses.
    pub devices_seen: Vec<String>,
    /// Telemetry taken just before the server started: the runs' baseline.
    pub baseline: Option<crate::telemetry::Sample>,
    /// Whether llama-server ran under the engine's init as PID 1 (Podman's
    /// catatonit, Docker's tini), so that signals reached it as on a host.
    /// Absent (false) in manifests written before rigbench did so.
    #[serde(default)]
    pub init: bool,
}

/// A cell's or llama-bench run's outcome in words: `ok`, `pending`, or
/// `failed: <mode>`.
pub fn outcome(status: CellStatus, failure: Option<&Failure>) -> String {
    match failure {
        Some(f) => format!("failed: {}", f.mode),
        None => status.to_string(),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Failure {
    /// How it failed (`FailureMode` says what each mode means).
    pub mode: FailureMode,
    pub message: String,
    /// Log lines, exit code, whatever shows the failure.
    pub evidence: Vec<String>,
}

/// A llama-bench run the matrix holds, before it runs: its arguments as a
/// current llama-bench takes them (its record has those the image's took).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PlannedLlamaBench {
    pub backend: Backend,
    /// The llama.cpp source's name.
    pub source: String,
    pub model: String,
    pub argv: Vec<String>,
}

impl PlannedLlamaBench {
    /// Whether `r` is this run's record.
    pub fn is(&self, r: &LlamaBenchRecord) -> bool {
        r.is_of(self.backend, &self.source, &self.model)
    }
}

/// One llama-bench run: a backend's image on a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LlamaBenchRecord {
    pub backend: Backend,
    /// The llama.cpp source's name.
    #[serde(default = "default_source")]
    pub source: String,
    pub model: String,
    /// The llama-bench arguments, mapped to the flags that image accepts.
    pub argv: Vec<String>,
    /// Settings the image's llama-bench could not take.
    pub notes: Vec<String>,
    /// `ok` or `failed`.
    pub status: CellStatus,
    pub failure: Option<Failure>,
    /// llama-bench's own JSON output, one object per test, as printed.
    pub results: Vec<serde_json::Value>,
    /// Wall-clock seconds of the run.
    pub seconds: f64,
    /// The container log, relative to the run directory.
    pub log: String,
}

impl LlamaBenchRecord {
    /// Whether this is the record of `backend`'s image of `source` on `model`.
    pub fn is_of(&self, backend: Backend, source: &str, model: &str) -> bool {
        self.backend == backend && self.source == source && self.model == model
    }
}

/// One request: a warm-up or a measured run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Run {
    /// 0-based, warm-ups first.
    pub index: u32,
    pub warmup: bool,
    /// The round it ran in (0-based; `bench.rounds`): each round is a new
    /// server start.
    #[serde(default)]
    pub round: u32,
    pub started_at: String,
    /// ms from just before the request was sent to the first streamed chunk that
    /// carried a token (client clock, `Instant`).
    pub ttft_ms: f64,
    /// Generation tokens/s on client timestamps: (N − 1) / (t_N − t_1).
    pub gen_tps: f64,
    /// The server's `timings.predicted_per_second`.
    pub gen_tps_server: f64,
    /// Prompt tokens/s: the server's `prompt_n / prompt_ms` (× 1000).
    pub pp_tps: f64,
    /// ms from sending the request to the end of the stream.
    pub wall_ms: f64,
    pub prompt_n: u64,
    pub predicted_n: u64,
    pub cache_n: u64,
    /// The server's `timings` object as sent.
    pub timings: serde_json::Value,
    /// Generated token ids, in order.
    pub token_ids: Vec<u32>,
    /// Arrival of each token, ms after sending (client clock).
    pub token_times_ms: Vec<f64>,
    /// The server's `stop_type` (`limit` when n_predict was reached).
    pub stop_type: Option<String>,
    pub checks: RunChecks,
    /// GPU memory, temperature, power and MemAvailable over the run.
    pub telemetry: Option<crate::telemetry::RunTelemetry>,
    /// The cool-down before the run (measured runs only).
    pub cooldown: Option<crate::telemetry::sampler::CoolDown>,
    /// The generated tokens collapsed onto a short loop (see `degenerate`).
    pub degenerate: Option<crate::degenerate::Degeneracy>,
    /// Whether every generated token's log-probability was a finite number
    /// (no NaN or infinity in the logits): asked for (`n_probs`) in the
    /// warm-ups of a synthetic model's cells only; absent when not asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logits_finite: Option<bool>,
}

/// Conditions a run must meet to count; a run failing one is kept but not summarised.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RunChecks {
    /// `cache_n == 0`: nothing came from the prompt cache.
    pub cache_n_zero: bool,
    /// The server processed exactly the planned prompt tokens.
    pub prompt_n_matches: bool,
    /// The server generated exactly `n_predict` tokens and the client saw them all.
    pub predicted_n_matches: bool,
}

impl RunChecks {
    pub fn all(&self) -> bool {
        self.cache_n_zero && self.prompt_n_matches && self.predicted_n_matches
    }
}

impl Run {
    /// One metric of this run.
    pub fn value(&self, m: Metric) -> f64 {
        match m {
            Metric::GenTps => self.gen_tps,
            Metric::GenTpsServer => self.gen_tps_server,
            Metric::PpTps => self.pp_tps,
            Metric::TtftMs => self.ttft_ms,
        }
    }
}

/// How many of `runs` are measured runs (not warm-ups).
pub fn measured(runs: &[Run]) -> u32 {
    runs.iter().filter(|r| !r.warmup).count() as u32
}

impl Cell {
    /// A metric's values over the measured runs that passed their checks (the
    /// runs statistics are drawn from).
    pub fn values(&self, metric: Metric) -> Vec<f64> {
        self.runs
            .iter()
            .filter(|r| !r.warmup && r.checks.all())
            .map(|r| r.value(metric))
            .collect()
    }

    /// Measured runs, counted or not (a run that failed its checks still took
    /// its turn).
    pub fn measured_runs(&self) -> u32 {
        measured(&self.runs)
    }

    /// The target metrics whose 95 % interval is still wider than the target,
    /// each with its half-width in percent of the mean (`None`: fewer than two
    /// counted values).
    pub fn imprecise(&self, p: &crate::plan::Precision) -> Vec<(Metric, Option<f64>)> {
        p.metrics
            .iter()
            .filter_map(|&m| {
                let w = crate::stats::rel_half_width(&self.values(m)).map(|w| w * 100.0);
                match w {
                    Some(w) if w <= p.target_ci_pct => None,
                    _ => Some((m, w)),
                }
            })
            .collect()
    }

    /// Whether the cell needs another measured run: fewer than the plan's
    /// runs, or, with a precision target, fewer than its most runs while a
    /// target metric's interval is too wide.
    pub fn wants_more(&self, b: &crate::plan::Bench) -> bool {
        let n = self.measured_runs();
        if n < b.runs {
            return true;
        }
        match &b.precision {
            Some(p) => n < p.max_runs && !self.imprecise(p).is_empty(),
            None => false,
        }
    }

    /// Recomputes `stats` from the measured, valid runs.
    pub fn summarize(&mut self) {
        self.stats = Metric::ALL
            .into_iter()
            .filter_map(|m| crate::stats::summarize(&self.values(m)).map(|s| (m, s)))
            .collect();
    }
}

/// Now, RFC 3339 UTC with millisecond precision.
pub fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc();
    let fmt = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    now.format(&fmt)
        .unwrap_or_else(|_| now.unix_timestamp().to_string())
}

impl Manifest {
    /// The cell with id `id`.
    pub fn cell(&self, id: &str) -> Option<&Cell> {
        self.cells.iter().find(|c| c.id == id)
    }

    /// A cell's source name when the run's plan has several (its id then reads
    /// `backend@source.…`), else `None`.
    /// The bench the runner follows: the plan's, with the rounds an A/B
    /// added (each with the plan's runs per round).
    pub fn bench(&self) -> crate::plan::Bench {
        let mut b = self.plan.bench.clone();
        if let Some(added) = self.ab.as_ref().map(|a| a.rounds_added).filter(|&n| n > 0) {
            b.runs += crate::plan::ab::Ab::runs_per_round(&b) * added;
            b.rounds += added;
        }
        b
    }

    /// How a synthetic model of this run was made; `None` for a real one.
    pub fn synthetic_of(&self, name: &str) -> Option<&crate::synth::Provenance> {
        self.models
            .iter()
            .find(|r| r.name == name)
            .and_then(|r| r.synthetic.as_ref())
    }

    /// A model as comparisons match it: its name, and for a synthetic one the
    /// recipe's identity (`gemma (synthetic #e0e1a7b6)`), so that a synthetic
    /// cell never meets a real model's cell, nor one of another recipe, as if
    /// they were one model.
    pub fn model_identity(&self, name: &str) -> String {
        match self.synthetic_of(name) {
            Some(p) => format!("{name} (synthetic #{})", &p.key[..p.key.len().min(8)]),
            None => name.to_string(),
        }
    }

    /// A model's name as reports show it: a synthetic one says so and what it
    /// was made from (`gemma (synthetic: gemma3-27b Q8_0, seed 0)`).
    pub fn model_label(&self, name: &str) -> String {
        match self.synthetic_of(name) {
            Some(p) => format!(
                "{name} (synthetic: {} {}, seed {})",
                p.recipe.shape.name, p.recipe.quant, p.recipe.seed
            ),
            None => name.to_string(),
        }
    }

    pub fn source_label<'a>(&self, c: &'a Cell) -> Option<&'a str> {
        (self.plan.sources.len() > 1).then_some(c.source.as_str())
    }

    /// A new manifest for `plan`: status `running`, nothing measured yet.
    pub fn new(run_id: &str, plan: Plan, host: HostFacts, engine: Option<EngineInfo>) -> Self {
        let now = now_rfc3339();
        Manifest {
            schema_version: SCHEMA_VERSION.to_string(),
            tool: Tool {
                name: "rigbench".to_string(),
                version: crate::version::VERSION.to_string(),
                commit: Some(crate::version::COMMIT.to_string()),
            },
            run_id: run_id.to_string(),
            created_at: now.clone(),
            updated_at: now,
            status: RunStatus::Running,
            error: None,
            host,
            host_read: None,
            engine,
            images: Vec::new(),
            models: Vec::new(),
            plan,
            excluded: Vec::new(),
            cells: Vec::new(),
            llama_bench: Vec::new(),
            llama_bench_planned: Vec::new(),
            resumes: Vec::new(),
            rerun_of: None,
            ab: None,
            timing: Timing::default(),
            integrity: Integrity::default(),
        }
    }
}

/// The `build_notes` of an image's build-info JSON: what its build decided about
/// its CMake options (images/cmake-options.sh). Empty where none were recorded.
pub fn build_notes(build_info: &serde_json::Value) -> Vec<String> {
    build_info
        .get("build_notes")
        .and_then(|n| n.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

impl ImageRecord {
    /// See [`build_notes`].
    pub fn build_notes(&self) -> Vec<String> {
        build_notes(&self.build_info)
    }

    /// This image (of a run, or of `rigbench build`) as the one llama-quantize
    /// runs in, its container labelled as rigbench's with the role `quantize`.
    pub fn quantizer(&self) -> crate::synth::quantize::Quantizer<'_> {
        crate::synth::quantize::Quantizer {
            image: &self.tag,
            image_id: &self.image_id,
            commit: &self.llama_cpp.commit,
            labels: [
                (crate::engine::LABEL_MANAGED.to_string(), "true".to_string()),
                (
                    crate::engine::LABEL_ROLE.to_string(),
                    "quantize".to_string(),
                ),
            ]
            .into(),
            passthrough: None,
        }
    }
}

#[cfg(test)]
mod build_notes_tests {
    use super::*;

    #[test]
    fn build_notes_are_read_from_the_build_info_and_absent_ones_are_none() {
        let info = serde_json::json!({"build_notes": [
            "GGML_HIP_ROCWMMA_FATTN=auto: off, llama.cpp 0c1e57098 has no such option", 3]});
        assert_eq!(
            build_notes(&info),
            ["GGML_HIP_ROCWMMA_FATTN=auto: off, llama.cpp 0c1e57098 has no such option"]
        );
        assert!(build_notes(&serde_json::json!({"backend": "cpu"})).is_empty());
    }
}
