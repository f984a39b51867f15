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

/// What llama-bench runs on, in the plan's order: each backend, source and
/// model (as indices) for which `has_cell` says the matrix has a cell. A pair
/// the plan leaves out (the CPU on a 27B model) is not benched: it would spend
/// the timeout.
pub fn targets(
    plan: &super::Plan,
    has_cell: impl Fn(crate::backend::Backend, usize, usize) -> bool,
) -> Vec<(crate::backend::Backend, usize, usize)> {
    let mut out = Vec::new();
    for bp in &plan.backends {
        for si in 0..plan.sources.len() {
            for mi in 0..plan.models.len() {
                if has_cell(bp.backend, si, mi) {
                    out.push((bp.backend, si, mi));
                }
            }
        }
    }
    out
}
