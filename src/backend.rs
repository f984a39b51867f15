//! Backends: what differs between the CPU, Vulkan and ROCm images (Containerfile,
//! devices, groups, server defaults). Each difference is a method with its reason,
//! so no other module branches on the backend.

use serde::{Deserialize, Serialize};

/// A llama.cpp backend with an image of its own.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Backend {
    Cpu,
}

impl Backend {
    pub const ALL: &'static [Backend] = &[Backend::Cpu];

    pub fn name(self) -> &'static str {
        match self {
            Backend::Cpu => "cpu",
        }
    }

    pub fn names() -> Vec<&'static str> {
        Self::ALL.iter().map(|b| b.name()).collect()
    }

    pub fn parse(s: &str) -> Option<Backend> {
        Self::ALL.iter().copied().find(|b| b.name() == s)
    }

    /// The Containerfile at the repository's top level that builds this backend.
    pub fn containerfile(self) -> &'static str {
        match self {
            Backend::Cpu => "Containerfile.cpu",
        }
    }

    /// The Containerfile's text, embedded so rigbench builds from any directory.
    pub fn containerfile_text(self) -> &'static str {
        match self {
            Backend::Cpu => include_str!("../Containerfile.cpu"),
        }
    }

    /// Layers offloaded when a variant says `auto`: none on the CPU (there is
    /// nowhere to offload to); GPU backends will offload all.
    pub fn default_gpu_layers(self) -> u32 {
        match self {
            Backend::Cpu => 0,
        }
    }

    /// Host device nodes the container needs: none for the CPU.
    pub fn devices(self) -> &'static [&'static str] {
        match self {
            Backend::Cpu => &[],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for b in Backend::ALL {
            assert_eq!(Backend::parse(b.name()), Some(*b));
        }
        assert_eq!(Backend::parse("cuda"), None);
    }
}
