//! Test doubles for what rigbench drives (compiled for tests only: the unit
//! tests, and the integration tests through the `fakes` feature): a fake
//! llama-server speaking the same HTTP as the real one, and a fake engine whose
//! "containers" are such servers. The real path is tested against real Podman and
//! the real llama-server too; these make the orchestration's edge cases fast.

#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod engine;
pub mod llama_server;
