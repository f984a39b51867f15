//! A server group's settings resolved once from the plan: `CellVariant` (the
//! variant with "auto" made a number for its backend and the whole llama-server
//! argument list), which `matrix::expand` puts in each group, the dry run
//! prints, the runner starts and the manifest records with each cell.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{AutoOr, Variant};
use crate::backend::Backend;

/// The port llama-server listens on inside the container.
pub const CONTAINER_PORT: u16 = 8080;
/// The server settings of a cell, with everything resolved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CellVariant {
    pub name: String,
    pub ctx_size: u32,
    pub threads: u32,
    pub n_gpu_layers: u32,
    pub batch_size: u32,
    pub ubatch_size: u32,
    pub flash_attn: super::FlashAttn,
    pub cache_type_k: String,
    pub cache_type_v: String,
    pub env: BTreeMap<String, String>,
    pub extra_server_args: Vec<String>,
    /// The whole llama-server argument list as run.
    pub server_argv: Vec<String>,
    /// Fields added to every completion request.
    #[serde(default)]
    pub request: BTreeMap<String, serde_json::Value>,
    /// A fault injected on purpose into every run of the cell.
    #[serde(default)]
    pub fault: Option<super::Fault>,
    /// The server container's CPU quota, when the variant set one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpus: Option<f64>,
    /// The CPUs the server container was pinned to, when the variant set them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpuset_cpus: Option<String>,
    /// What warmed the cell's server starts up (absent: full).
    #[serde(default, skip_serializing_if = "super::WarmUp::is_full")]
    pub warmup: super::WarmUp,
}

/// The resolved server settings of a group.
/// `warmup` is the bench's, which the variant may override.
pub fn cell_variant(
    backend: Backend,
    model_file: &str,
    v: &Variant,
    warmup: super::WarmUp,
) -> CellVariant {
    let mut cv = CellVariant {
        name: v.name.clone(),
        ctx_size: v.ctx_size,
        threads: v.threads,
        n_gpu_layers: gpu_layers(backend, v.n_gpu_layers),
        batch_size: v.batch_size,
        ubatch_size: v.ubatch_size,
        flash_attn: v.flash_attn,
        cache_type_k: v.cache_type_k.clone(),
        cache_type_v: v.cache_type_v.clone(),
        env: v.env.clone(),
        extra_server_args: v.server_args.clone(),
        server_argv: Vec::new(),
        request: v.request.clone(),
        fault: v.fault.clone(),
        cpus: v.cpus,
        cpuset_cpus: v.cpuset_cpus.clone(),
        warmup: v.warmup.unwrap_or(warmup),
    };
    cv.server_argv = server_argv(model_file, &cv);
    cv
}

/// `n_gpu_layers` for `backend`: "auto" is the backend's default (all layers
/// on a GPU backend, none on cpu); llama-server's and llama-bench's alike.
pub fn gpu_layers(backend: Backend, n: AutoOr) -> u32 {
    match n {
        AutoOr::Auto => backend.default_gpu_layers(),
        AutoOr::Value(n) => n,
    }
}

/// The llama-server arguments for a variant: every setting explicit.
pub fn server_argv(model_file: &str, v: &CellVariant) -> Vec<String> {
    let mut a: Vec<String> = vec![
        "--model".into(),
        format!("/models/{model_file}"),
        "--host".into(),
        "0.0.0.0".into(),
        "--port".into(),
        CONTAINER_PORT.to_string(),
        "--ctx-size".into(),
        v.ctx_size.to_string(),
        "--threads".into(),
        v.threads.to_string(),
        "--threads-batch".into(),
        v.threads.to_string(),
        "--n-gpu-layers".into(),
        v.n_gpu_layers.to_string(),
        "--batch-size".into(),
        v.batch_size.to_string(),
        "--ubatch-size".into(),
        v.ubatch_size.to_string(),
        "--flash-attn".into(),
        v.flash_attn.name().into(),
        "--cache-type-k".into(),
        v.cache_type_k.clone(),
        "--cache-type-v".into(),
        v.cache_type_v.clone(),
        "--parallel".into(),
        "1".into(),
        // No automatic fitting: what runs is what the plan says.
        "--fit".into(),
        "off".into(),
        // No host-memory prompt cache: each request stands alone, as its
        // `cache_prompt: false` asks. With llama-server's default (8192 MiB)
        // a request's TTFT pays for saving the previous prompt's state: 52 ms
        // at 31 tokens on an H100, which the server's own prompt time leaves
        // out (results/h100-cacheram-tax-2026-12). Every llama-server that
        // takes `--fit` (llama.cpp PR 16653, late 2025) takes this too (PR
        // 16391, October 2025). A variant's `server_args` come later and win.
        "--cache-ram".into(),
        "0".into(),
    ];
    a.extend(v.extra_server_args.iter().cloned());
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_setting_is_explicit_and_extra_args_come_last() {
        let v = CellVariant {
            cache_type_k: "q8_0".into(),
            extra_server_args: vec!["--no-warmup".into()],
            ..crate::manifest::fixtures::cell(31, "q8", vec![], None).variant
        };
        let a = server_argv("m.gguf", &v);
        let joined = a.join(" ");
        for expect in [
            "--model /models/m.gguf",
            "--ctx-size 4096",
            "--threads 2",
            "--threads-batch 2",
            "--n-gpu-layers 0",
            "--flash-attn on",
            "--cache-type-k q8_0",
            "--cache-type-v f16",
            "--parallel 1",
            "--fit off",
            "--cache-ram 0",
        ] {
            assert!(joined.contains(expect), "{expect} missing from {joined}");
        }
        assert_eq!(a.last().map(String::as_str), Some("--no-warmup"));
    }
}
