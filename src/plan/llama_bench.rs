//! The plan's `[llama_bench]` section, resolved, and one llama-bench run of a
//! matrix (`Run`): what `crate::llama_bench` turns into a command line.

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
/// of the plan's models (indices, with their names and the model's file) and
/// its GPU layers resolved for the backend (`crate::llama_bench::args` makes
/// its command line: `planned_argv` as a current llama-bench takes it, the
/// runner for the flags the image's own llama-bench accepts); `name` as its
/// container and log are named.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub name: String,
    pub backend: crate::backend::Backend,
    pub source: usize,
    pub source_name: String,
    pub model: usize,
    pub model_name: String,
    pub model_file: String,
    pub gpu_layers: u32,
}
