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
    /// `on`, `off` or `auto` (`-fa`).
    pub flash_attn: String,
    /// `auto` (the backend's default) or a number (`-ngl`).
    pub n_gpu_layers: super::AutoOr,
    /// Threads (`-t`), resolved from `auto`.
    pub threads: u32,
    /// `mmap`, `none`, `mlock`, `auto` (`--load-mode`, or `-mmp` before it).
    pub load_mode: String,
    /// Longest a whole llama-bench run may take, seconds.
    pub timeout_s: u64,
}
