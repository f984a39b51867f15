//! The plan's `[llama_bench]` section, resolved: what `crate::llama_bench`
//! turns into a command line for each image.

use serde::{Deserialize, Serialize};

/// The plan's `[llama_bench]` section, resolved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Settings {
    /// Prompt sizes (`-p`), tokens.
    pub n_prompt: Vec<u32>,
    /// Generation sizes (`-n`), tokens.
    pub n_gen: Vec<u32>,
    /// Context depths (`-d`), tokens already in the KV cache.
    pub n_depth: Vec<u32>,
    /// Repetitions per test (`-r`).
    pub repetitions: u32,
    /// `-fa`.
    pub flash_attn: super::FlashAttn,
    /// `auto` (the backend's default) or a number (`-ngl`).
    pub n_gpu_layers: super::AutoOr,
    /// Threads (`-t`), resolved from `auto`.
    pub threads: u32,
    /// `--load-mode`, or `-mmp` before it.
    pub load_mode: super::LoadMode,
    /// Longest a whole llama-bench run may take, seconds.
    pub timeout_s: u64,
}

/// One llama-bench run the matrix holds: a backend's image of a source on one
/// of the plan's models (indices, with their names and the model's file), its
/// GPU layers resolved for the backend and its arguments as a current
/// llama-bench takes them (the runner maps them to the flags the image's own
/// llama-bench accepts, `crate::llama_bench::args`); `name` as its container
/// and log are named.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Run {
    pub name: String,
    pub backend: crate::backend::Backend,
    #[serde(skip)]
    pub source: usize,
    #[serde(rename = "source")]
    pub source_name: String,
    #[serde(skip)]
    pub model: usize,
    #[serde(rename = "model")]
    pub model_name: String,
    pub model_file: String,
    pub gpu_layers: u32,
    pub argv: Vec<String>,
}

/// The llama-bench runs of a plan whose matrix has `groups`, in the plan's
/// order: each backend, source and model that has a server group. A pair the
/// plan leaves out (the CPU on a 27B model) is not benched: it would spend
/// the timeout. None when the plan has no `[llama_bench]`.
pub fn runs(plan: &super::Plan, groups: &[super::matrix::Group]) -> Vec<Run> {
    let Some(settings) = &plan.llama_bench else {
        return Vec::new();
    };
    let several = plan.sources.len() > 1;
    let mut out = Vec::new();
    for bp in &plan.backends {
        for si in 0..plan.sources.len() {
            for mi in 0..plan.models.len() {
                let Some(g) = groups
                    .iter()
                    .find(|g| g.backend == bp.backend && g.source == si && g.model == mi)
                else {
                    continue;
                };
                let name = if several {
                    format!("{}@{}.{}", bp.backend.name(), g.source_name, g.model_name)
                } else {
                    format!("{}.{}", bp.backend.name(), g.model_name)
                };
                let gpu_layers = super::settings::gpu_layers(bp.backend, settings.n_gpu_layers);
                let (argv, _) = crate::llama_bench::args(
                    settings,
                    crate::llama_bench::Flags::CURRENT,
                    &format!("/models/{}", g.model_file),
                    gpu_layers,
                );
                out.push(Run {
                    name,
                    backend: bp.backend,
                    source: si,
                    source_name: g.source_name.clone(),
                    model: mi,
                    model_name: g.model_name.clone(),
                    model_file: g.model_file.clone(),
                    gpu_layers,
                    argv,
                });
            }
        }
    }
    out
}
