//! Split GGUF models (llama.cpp's `llama-gguf-split`): a model in N files
//! named `<prefix>-00001-of-0000N.gguf` …, each with `split.no` and
//! `split.count` in its header; the first holds the model's metadata, every
//! one a share of the tensors. Here: the shard names, and the facts of the
//! whole model from its shards' headers (counts and bytes summed), with each
//! shard checked to be the one its name says.

use std::path::Path;

use super::{GgufError, GgufFacts, read_facts};

/// A shard's file name taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardName {
    pub prefix: String,
    /// 1-based, as in the name.
    pub no: u32,
    pub count: u32,
}

/// `model-00002-of-00003.gguf` → (model, 2, 3); `None` for any other name.
pub fn parse_shard_name(file: &str) -> Option<ShardName> {
    let stem = file.strip_suffix(".gguf")?;
    let (rest, count) = stem.rsplit_once("-of-")?;
    let (prefix, no) = rest.rsplit_once('-')?;
    let digits = |s: &str| s.len() == 5 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(no) || !digits(count) || prefix.is_empty() {
        return None;
    }
    let (no, count) = (no.parse().ok()?, count.parse().ok()?);
    (1..=count).contains(&no).then(|| ShardName {
        prefix: prefix.to_string(),
        no,
        count,
    })
}

/// The file name of shard `no` (1-based) of `count`.
pub fn shard_file(prefix: &str, no: u32, count: u32) -> String {
    format!("{prefix}-{no:05}-of-{count:05}.gguf")
}

/// The file names of every shard of the model whose first shard is `first`;
/// `None` when `first` is not a first shard's name of a model in two or more.
pub fn shard_files(first: &str) -> Option<Vec<String>> {
    let s = parse_shard_name(first)?;
    (s.no == 1 && s.count > 1).then(|| {
        (1..=s.count)
            .map(|i| shard_file(&s.prefix, i, s.count))
            .collect()
    })
}

/// The whole model's facts from its shards' headers, in order: the first
/// shard's metadata, tensor and parameter counts and bytes summed. A shard
/// whose header does not say it is shard i of N is an error naming it.
pub fn read_split_facts(shards: &[&Path]) -> Result<GgufFacts, GgufError> {
    let n = u32::try_from(shards.len()).unwrap_or(u32::MAX);
    let mut whole: Option<GgufFacts> = None;
    for (i, path) in shards.iter().enumerate() {
        let f = read_facts(path)?;
        let no = u32::try_from(i).unwrap_or(u32::MAX);
        if f.split_count != Some(n) || f.split_no.unwrap_or(0) != no {
            return Err(GgufError::Corrupt {
                path: path.display().to_string(),
                what: format!(
                    "shard {} of {n} by its place, but its header says split.no {} of split.count {} (a shard of another split, or renamed?)",
                    i + 1,
                    f.split_no.map_or("none".to_string(), |v| v.to_string()),
                    f.split_count.map_or("none".to_string(), |v| v.to_string()),
                ),
            });
        }
        whole = Some(match whole {
            None => f,
            Some(mut w) => {
                w.tensor_count += f.tensor_count;
                w.parameter_count += f.parameter_count;
                w.data_bytes = w.data_bytes.zip(f.data_bytes).map(|(a, b)| a + b);
                w.expert_bytes = w.expert_bytes.zip(f.expert_bytes).map(|(a, b)| a + b);
                w
            }
        });
    }
    let mut w = whole.ok_or_else(|| GgufError::Corrupt {
        path: String::new(),
        what: "no shard".to_string(),
    })?;
    w.split_no = None;
    Ok(w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_names_round_trip_and_other_names_are_none() {
        let s = parse_shard_name("gemma-3-270m-q4_k_m-00002-of-00003.gguf").unwrap();
        assert_eq!(s.prefix, "gemma-3-270m-q4_k_m");
        assert_eq!((s.no, s.count), (2, 3));
        assert_eq!(
            shard_file(&s.prefix, 2, 3),
            "gemma-3-270m-q4_k_m-00002-of-00003.gguf"
        );
        assert_eq!(
            shard_files("m-00001-of-00002.gguf").unwrap(),
            ["m-00001-of-00002.gguf", "m-00002-of-00002.gguf"]
        );
        assert_eq!(shard_files("m-00002-of-00002.gguf"), None, "not the first");
        assert_eq!(shard_files("m-00001-of-00001.gguf"), None, "not split");
        assert_eq!(parse_shard_name("m.gguf"), None);
        assert_eq!(parse_shard_name("m-1-of-2.gguf"), None);
        assert_eq!(parse_shard_name("m-00003-of-00002.gguf"), None);
    }

    /// A GGUF header with no tensors and the two split keys (u16).
    fn header(no: u16, count: u16) -> Vec<u8> {
        let mut b = b"GGUF".to_vec();
        b.extend(3u32.to_le_bytes());
        b.extend(0u64.to_le_bytes());
        b.extend(2u64.to_le_bytes());
        for (k, v) in [("split.no", no), ("split.count", count)] {
            b.extend((k.len() as u64).to_le_bytes());
            b.extend(k.as_bytes());
            b.extend(2u32.to_le_bytes());
            b.extend(v.to_le_bytes());
        }
        b
    }

    #[test]
    fn shards_are_summed_and_one_out_of_place_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = |n: &str| dir.path().join(n);
        std::fs::write(p("a"), header(0, 2)).unwrap();
        std::fs::write(p("b"), header(1, 2)).unwrap();
        std::fs::write(p("c"), header(0, 3)).unwrap();
        let whole = read_split_facts(&[&p("a"), &p("b")]).unwrap();
        assert_eq!(whole.split_count, Some(2));
        assert_eq!(whole.split_no, None);
        let e = read_split_facts(&[&p("a"), &p("c")])
            .unwrap_err()
            .to_string();
        assert!(e.contains(&p("c").display().to_string()), "{e}");
        assert!(
            e.contains(
                "shard 2 of 2 by its place, but its header says split.no 0 of split.count 3"
            ),
            "{e}"
        );
    }
}
