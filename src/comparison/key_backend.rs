//! A matched cell's backend: one, or the pair a within-run comparison of
//! backends sets side by side, written "a→b" wherever a key is shown or
//! saved (the JSON keeps that text). Ordered by that text, as keys were when
//! it was a string.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::backend::Backend;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyBackend {
    One(Backend),
    /// A within-run comparison's A and B.
    Pair(Backend, Backend),
}

impl fmt::Display for KeyBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyBackend::One(b) => f.write_str(b.name()),
            KeyBackend::Pair(a, b) => write!(f, "{}→{}", a.name(), b.name()),
        }
    }
}

impl KeyBackend {
    /// "cuda", or "cuda→vulkan"; `None` for a name no backend has.
    pub fn parse(s: &str) -> Option<Self> {
        match s.split_once('→') {
            Some((a, b)) => Some(KeyBackend::Pair(Backend::parse(a)?, Backend::parse(b)?)),
            None => Backend::parse(s).map(KeyBackend::One),
        }
    }
}

impl PartialOrd for KeyBackend {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for KeyBackend {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.to_string().cmp(&other.to_string())
    }
}

impl Serialize for KeyBackend {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for KeyBackend {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        KeyBackend::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "\"{s}\": a backend ({}) or two joined by →",
                Backend::names().join(", ")
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_and_read_as_the_text_it_was_and_ordered_by_it() {
        let pair = KeyBackend::Pair(Backend::Cuda, Backend::Vulkan);
        assert_eq!(pair.to_string(), "cuda→vulkan");
        assert_eq!(serde_json::to_string(&pair).unwrap(), "\"cuda→vulkan\"");
        assert_eq!(
            serde_json::from_str::<KeyBackend>("\"cuda→vulkan\"").unwrap(),
            pair
        );
        assert_eq!(
            KeyBackend::parse("rocm7"),
            Some(KeyBackend::One(Backend::Rocm7))
        );
        assert_eq!(KeyBackend::parse("cuda→nope"), None);
        let err = serde_json::from_str::<KeyBackend>("\"metal\"").unwrap_err();
        assert!(
            err.to_string().contains("\"metal\": a backend (cpu"),
            "{err}"
        );
        // As strings: "cpu" < "cuda" < "cuda→vulkan" < "vulkan".
        let mut v = [
            KeyBackend::One(Backend::Vulkan),
            pair,
            KeyBackend::One(Backend::Cuda),
            KeyBackend::One(Backend::Cpu),
        ];
        v.sort();
        let names: Vec<String> = v.iter().map(ToString::to_string).collect();
        assert_eq!(names, ["cpu", "cuda", "cuda→vulkan", "vulkan"]);
    }
}
