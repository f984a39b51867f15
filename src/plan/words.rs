//! The plan's settings that take one of a few words (flash attention,
//! llama-bench's load mode): enums with their words as serde names, so that the
//! plan, the manifest's JSON and llama.cpp's flags read as before while the
//! compiler finds every place that has to handle a new one. The plan file keeps
//! the text (`plan::file`) and `plan::validate` turns it into these, naming the
//! field of a word that is none of them.

use serde::{Deserialize, Serialize};

/// llama.cpp's `--flash-attn` (`-fa` to llama-bench).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum FlashAttn {
    #[default]
    On,
    Off,
    Auto,
}

impl FlashAttn {
    pub const ALL: [FlashAttn; 3] = [FlashAttn::On, FlashAttn::Off, FlashAttn::Auto];

    pub fn name(self) -> &'static str {
        match self {
            FlashAttn::On => "on",
            FlashAttn::Off => "off",
            FlashAttn::Auto => "auto",
        }
    }

    pub fn parse(s: &str) -> Option<FlashAttn> {
        Self::ALL.into_iter().find(|f| f.name() == s)
    }
}

/// llama-bench's `--load-mode` (`-mmp 0|1` before it).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub enum LoadMode {
    #[serde(rename = "auto")]
    Auto,
    #[serde(rename = "none")]
    None,
    #[default]
    #[serde(rename = "mmap")]
    Mmap,
    #[serde(rename = "mlock")]
    Mlock,
    #[serde(rename = "mmap+mlock")]
    MmapMlock,
    #[serde(rename = "dio")]
    Dio,
}

impl LoadMode {
    pub const ALL: [LoadMode; 6] = [
        LoadMode::Auto,
        LoadMode::None,
        LoadMode::Mmap,
        LoadMode::Mlock,
        LoadMode::MmapMlock,
        LoadMode::Dio,
    ];

    pub fn name(self) -> &'static str {
        match self {
            LoadMode::Auto => "auto",
            LoadMode::None => "none",
            LoadMode::Mmap => "mmap",
            LoadMode::Mlock => "mlock",
            LoadMode::MmapMlock => "mmap+mlock",
            LoadMode::Dio => "dio",
        }
    }

    pub fn parse(s: &str) -> Option<LoadMode> {
        Self::ALL.into_iter().find(|m| m.name() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_their_serde_names_and_read_back() {
        for f in FlashAttn::ALL {
            assert_eq!(serde_json::to_value(f).unwrap(), f.name());
            assert_eq!(FlashAttn::parse(f.name()), Some(f));
        }
        for m in LoadMode::ALL {
            assert_eq!(serde_json::to_value(m).unwrap(), m.name());
            assert_eq!(LoadMode::parse(m.name()), Some(m));
        }
        assert_eq!(FlashAttn::parse("yes"), None);
        assert_eq!(LoadMode::parse("mmap-mlock"), None);
        assert_eq!(
            serde_json::from_str::<LoadMode>("\"mmap+mlock\"").unwrap(),
            LoadMode::MmapMlock
        );
    }
}
