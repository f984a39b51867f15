//! rigbench: reproducible local-LLM inference benchmarks.
//!
//! One Podman image per backend built from the same pinned llama.cpp source, the
//! identical benchmark run inside each, and everything needed to rebuild and rerun
//! recorded in one manifest. `main.rs` is the table of contents; this crate root only
//! lists the modules, each of which says what it owns.

pub mod agreement;
pub mod backend;
pub mod bench;
pub mod bundle;
pub mod cache;
pub mod cli;
pub mod commands;
pub mod comparison;
pub mod degenerate;
pub mod engine;
pub mod exit;
pub mod export;
pub mod fetch;
pub mod gguf;
pub mod hash;
pub mod history;
pub mod host;
pub mod image;
pub mod llama_bench;
pub mod manifest;
pub mod metric;
pub mod nvml;
pub mod plan;
pub mod progress;
pub mod reference;
pub mod render;
pub mod report;
pub mod runner;
pub mod session;
pub mod stats;
pub mod status;
pub mod synth;
pub mod telemetry;
pub mod version;

#[cfg(any(test, feature = "fakes"))]
pub mod fake;
