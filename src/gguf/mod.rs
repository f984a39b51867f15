//! GGUF header reader: the model facts the manifest records (architecture, file
//! type, parameter count, context length, expert counts), read from the key/value
//! section and the tensor-info table without touching the tensor data.
//!
//! Format: magic `GGUF`, version (u32, 2 or 3), tensor count (u64), key/value count
//! (u64), then the key/values, then one info record per tensor (name, dimensions,
//! type, offset). All little-endian. Lengths read from the file are bounded so that a
//! corrupt or hostile file gives an error instead of a huge allocation.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

use serde::{Deserialize, Serialize};

pub mod header;
pub mod split;
pub mod types;
pub mod value;
pub mod write;

/// Longest string accepted (keys, values, tensor names): 16 MiB.
const MAX_STRING: u64 = 16 << 20;
/// Most array elements accepted (a tokenizer vocabulary has a few hundred thousand).
const MAX_ARRAY: u64 = 64 << 20;
/// Most dimensions of one tensor.
const MAX_DIMS: u32 = 8;

/// What the manifest records of a model file's header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GgufFacts {
    /// GGUF format version.
    pub version: u32,
    /// `general.architecture`, for example `gemma3`.
    pub architecture: Option<String>,
    /// `general.name` as the converter wrote it.
    pub name: Option<String>,
    /// `general.file_type` (llama.cpp's `llama_ftype` number).
    pub file_type: Option<u32>,
    /// The file type's name, for example `Q4_K_M`.
    pub file_type_name: Option<String>,
    /// Sum of the element counts of all tensors.
    pub parameter_count: u64,
    /// Number of tensors.
    pub tensor_count: u64,
    /// `<arch>.context_length`: the context the model was trained for.
    pub context_length: Option<u64>,
    /// `<arch>.block_count`: number of layers.
    pub block_count: Option<u64>,
    /// `<arch>.embedding_length`.
    pub embedding_length: Option<u64>,
    /// `<arch>.expert_count` (MoE models only).
    pub expert_count: Option<u64>,
    /// `<arch>.expert_used_count` (MoE models only).
    pub expert_used_count: Option<u64>,
    /// Bytes of tensor data (the file after the aligned header), when the file's
    /// size is known.
    #[serde(default)]
    pub data_bytes: Option<u64>,
    /// Bytes of the routed-expert tensors (`*_exps`), from the tensors' offsets.
    #[serde(default)]
    pub expert_bytes: Option<u64>,
    /// `split.count`: the files a split model is in (llama-gguf-split); the
    /// counts and bytes above are then summed over them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split_count: Option<u32>,
    /// `split.no` of this file (0 for the first), while one shard is read.
    #[serde(skip)]
    #[schemars(skip)]
    pub split_no: Option<u32>,
}

impl GgufFacts {
    /// Bytes read per generated token, for a bandwidth ceiling: every weight of a
    /// dense model; for an MoE model everything but the routed experts, plus the
    /// share of those a token uses (`expert_used_count / expert_count`).
    pub fn bytes_per_token(&self) -> Option<f64> {
        let data = self.data_bytes? as f64;
        match (self.expert_bytes, self.expert_count, self.expert_used_count) {
            (Some(e), Some(n), Some(k)) if n > 0 && e > 0 => {
                let e = e as f64;
                Some(data - e + e * k as f64 / n as f64)
            }
            _ => Some(data),
        }
    }
}

/// Errors reading a GGUF header; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum GgufError {
    #[error("{path}: cannot read the GGUF header: {source}")]
    Io { path: String, source: io::Error },
    #[error("{path}: not a GGUF file (magic bytes {magic:?}, expected \"GGUF\")")]
    Magic { path: String, magic: [u8; 4] },
    #[error("{path}: GGUF version {version} is not supported (2 and 3 are)")]
    Version { path: String, version: u32 },
    #[error("{path}: corrupt GGUF header: {what}")]
    Corrupt { path: String, what: String },
}

/// A scalar key/value the facts are drawn from; arrays are skipped.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Uint(u64),
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(String),
    Array,
}

/// Reads the header of the GGUF file at `path`.
pub fn read_facts(path: &Path) -> Result<GgufFacts, GgufError> {
    let shown = path.display().to_string();
    let file = File::open(path).map_err(|source| GgufError::Io {
        path: shown.clone(),
        source,
    })?;
    let size = file.metadata().ok().map(|m| m.len());
    parse_sized(&mut BufReader::with_capacity(1 << 20, file), &shown, size)
}

/// Parses a GGUF header from `r`; `shown` names the file in errors.
pub fn parse(r: &mut impl Read, shown: &str) -> Result<GgufFacts, GgufError> {
    parse_sized(r, shown, None)
}

/// As `parse`, with the file's size (for the tensor data's size).
pub fn parse_sized(
    r: &mut impl Read,
    shown: &str,
    file_size: Option<u64>,
) -> Result<GgufFacts, GgufError> {
    let mut p = Reader { r, shown, pos: 0 };
    let mut magic = [0u8; 4];
    p.bytes(&mut magic)?;
    if &magic != b"GGUF" {
        return Err(GgufError::Magic {
            path: shown.to_string(),
            magic,
        });
    }
    let version = p.u32()?;
    if !(2..=3).contains(&version) {
        return Err(GgufError::Version {
            path: shown.to_string(),
            version,
        });
    }
    let tensor_count = p.u64()?;
    let kv_count = p.u64()?;
    let mut kv = BTreeMap::new();
    for _ in 0..kv_count {
        let key = p.string()?;
        let ty = p.u32()?;
        let value = p.value(ty)?;
        kv.insert(key, value);
    }
    let mut parameter_count: u64 = 0;
    // (offset in the data section, routed expert?)
    let mut offsets: Vec<(u64, bool)> = Vec::new();
    for _ in 0..tensor_count {
        let name = p.string()?;
        let n_dims = p.u32()?;
        if n_dims > MAX_DIMS {
            return Err(p.corrupt(format!("tensor with {n_dims} dimensions")));
        }
        let mut elements: u64 = 1;
        for _ in 0..n_dims {
            elements = elements.saturating_mul(p.u64()?);
        }
        let _ty = p.u32()?;
        let offset = p.u64()?;
        parameter_count = parameter_count.saturating_add(elements);
        offsets.push((offset, name.contains("_exps.")));
    }
    let mut f = facts(version, tensor_count, parameter_count, &kv);
    let align = match kv.get("general.alignment") {
        Some(Value::Uint(a)) if *a > 0 => *a,
        _ => 32,
    };
    let data_start = p.pos.div_ceil(align) * align;
    if let Some(size) = file_size.filter(|s| *s >= data_start) {
        let data = size - data_start;
        f.data_bytes = Some(data);
        // A tensor's bytes: up to the next tensor's offset, the last to the end.
        offsets.sort_unstable();
        let mut experts = 0u64;
        for (i, (off, exp)) in offsets.iter().enumerate() {
            let end = offsets.get(i + 1).map_or(data, |n| n.0);
            if *exp {
                experts = experts.saturating_add(end.saturating_sub(*off));
            }
        }
        f.expert_bytes = Some(experts);
    }
    Ok(f)
}

fn facts(
    version: u32,
    tensor_count: u64,
    parameter_count: u64,
    kv: &BTreeMap<String, Value>,
) -> GgufFacts {
    let text = |k: &str| match kv.get(k) {
        Some(Value::Str(s)) => Some(s.clone()),
        _ => None,
    };
    let number = |k: &str| match kv.get(k) {
        Some(Value::Uint(v)) => Some(*v),
        Some(Value::Int(v)) => u64::try_from(*v).ok(),
        _ => None,
    };
    let architecture = text("general.architecture");
    let arch_number = |suffix: &str| {
        architecture
            .as_ref()
            .and_then(|a| number(&format!("{a}.{suffix}")))
    };
    let file_type = number("general.file_type").and_then(|v| u32::try_from(v).ok());
    GgufFacts {
        version,
        name: text("general.name"),
        file_type,
        file_type_name: file_type.and_then(file_type_name).map(str::to_string),
        parameter_count,
        tensor_count,
        context_length: arch_number("context_length"),
        block_count: arch_number("block_count"),
        embedding_length: arch_number("embedding_length"),
        expert_count: arch_number("expert_count"),
        expert_used_count: arch_number("expert_used_count"),
        architecture,
        data_bytes: None,
        expert_bytes: None,
        split_count: number("split.count").and_then(|v| u32::try_from(v).ok()),
        split_no: number("split.no").and_then(|v| u32::try_from(v).ok()),
    }
}

/// Name of a `llama_ftype` value (llama.h), `None` for numbers it does not define.
pub fn file_type_name(ftype: u32) -> Option<&'static str> {
    Some(match ftype {
        0 => "F32",
        1 => "F16",
        2 => "Q4_0",
        3 => "Q4_1",
        7 => "Q8_0",
        8 => "Q5_0",
        9 => "Q5_1",
        10 => "Q2_K",
        11 => "Q3_K_S",
        12 => "Q3_K_M",
        13 => "Q3_K_L",
        14 => "Q4_K_S",
        15 => "Q4_K_M",
        16 => "Q5_K_S",
        17 => "Q5_K_M",
        18 => "Q6_K",
        19 => "IQ2_XXS",
        20 => "IQ2_XS",
        21 => "Q2_K_S",
        22 => "IQ3_XS",
        23 => "IQ3_XXS",
        24 => "IQ1_S",
        25 => "IQ4_NL",
        26 => "IQ3_S",
        27 => "IQ3_M",
        28 => "IQ2_S",
        29 => "IQ2_M",
        30 => "IQ4_XS",
        31 => "IQ1_M",
        32 => "BF16",
        36 => "TQ1_0",
        37 => "TQ2_0",
        38 => "MXFP4_MOE",
        _ => return None,
    })
}

struct Reader<'a, R> {
    r: &'a mut R,
    shown: &'a str,
    /// Bytes consumed so far.
    pos: u64,
}

impl<R: Read> Reader<'_, R> {
    fn corrupt(&self, what: String) -> GgufError {
        GgufError::Corrupt {
            path: self.shown.to_string(),
            what,
        }
    }

    fn bytes(&mut self, buf: &mut [u8]) -> Result<(), GgufError> {
        self.pos += buf.len() as u64;
        self.r.read_exact(buf).map_err(|source| {
            if source.kind() == io::ErrorKind::UnexpectedEof {
                self.corrupt("the file ends inside the header (truncated?)".to_string())
            } else {
                GgufError::Io {
                    path: self.shown.to_string(),
                    source,
                }
            }
        })
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], GgufError> {
        let mut b = [0u8; N];
        self.bytes(&mut b)?;
        Ok(b)
    }

    fn u32(&mut self) -> Result<u32, GgufError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, GgufError> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    fn string(&mut self) -> Result<String, GgufError> {
        let len = self.u64()?;
        if len > MAX_STRING {
            return Err(self.corrupt(format!("string of {len} bytes")));
        }
        // Read, not reserved ahead: a forged length in a small file must not
        // allocate what the file does not hold.
        let mut buf = Vec::new();
        let got = self
            .r
            .by_ref()
            .take(len)
            .read_to_end(&mut buf)
            .map_err(|source| GgufError::Io {
                path: self.shown.to_string(),
                source,
            })?;
        if got as u64 != len {
            return Err(self.corrupt("the file ends inside the header (truncated?)".to_string()));
        }
        self.pos += len;
        Ok(String::from_utf8_lossy(&buf).into_owned())
    }

    fn skip(&mut self, n: u64) -> Result<(), GgufError> {
        let copied = io::copy(&mut self.r.by_ref().take(n), &mut io::sink()).map_err(|source| {
            GgufError::Io {
                path: self.shown.to_string(),
                source,
            }
        })?;
        if copied != n {
            return Err(self.corrupt("the file ends inside an array".to_string()));
        }
        self.pos += n;
        Ok(())
    }

    fn value(&mut self, ty: u32) -> Result<Value, GgufError> {
        Ok(match ty {
            0 => Value::Uint(u64::from(self.array::<1>()?[0])),
            1 => Value::Int(i64::from(i8::from_le_bytes(self.array()?))),
            2 => Value::Uint(u64::from(u16::from_le_bytes(self.array()?))),
            3 => Value::Int(i64::from(i16::from_le_bytes(self.array()?))),
            4 => Value::Uint(u64::from(self.u32()?)),
            5 => Value::Int(i64::from(i32::from_le_bytes(self.array()?))),
            6 => Value::Float(f64::from(f32::from_le_bytes(self.array()?))),
            7 => Value::Bool(self.array::<1>()?[0] != 0),
            8 => Value::Str(self.string()?),
            9 => {
                let item = self.u32()?;
                let len = self.u64()?;
                if len > MAX_ARRAY {
                    return Err(self.corrupt(format!("array of {len} elements")));
                }
                match fixed_size(item) {
                    Some(size) => self.skip(len * size)?,
                    None if item == 8 => {
                        for _ in 0..len {
                            let n = self.u64()?;
                            if n > MAX_STRING {
                                return Err(self.corrupt(format!("string of {n} bytes")));
                            }
                            self.skip(n)?;
                        }
                    }
                    None => return Err(self.corrupt(format!("array of value type {item}"))),
                }
                Value::Array
            }
            10 => Value::Uint(self.u64()?),
            11 => Value::Int(i64::from_le_bytes(self.array()?)),
            12 => Value::Float(f64::from_le_bytes(self.array()?)),
            other => return Err(self.corrupt(format!("unknown value type {other}"))),
        })
    }
}

/// Byte size of a fixed-size GGUF value type.
fn fixed_size(ty: u32) -> Option<u64> {
    match ty {
        0 | 1 | 7 => Some(1),
        2 | 3 => Some(2),
        4..=6 => Some(4),
        10..=12 => Some(8),
        _ => None,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Builds a small GGUF header in memory.
    pub(crate) struct Builder {
        kv: Vec<u8>,
        n_kv: u64,
        tensors: Vec<u8>,
        n_tensors: u64,
    }

    impl Builder {
        pub(crate) fn new() -> Self {
            Builder {
                kv: Vec::new(),
                n_kv: 0,
                tensors: Vec::new(),
                n_tensors: 0,
            }
        }
        fn key(&mut self, k: &str, ty: u32) {
            self.kv.extend((k.len() as u64).to_le_bytes());
            self.kv.extend(k.as_bytes());
            self.kv.extend(ty.to_le_bytes());
            self.n_kv += 1;
        }
        pub(crate) fn str(mut self, k: &str, v: &str) -> Self {
            self.key(k, 8);
            self.kv.extend((v.len() as u64).to_le_bytes());
            self.kv.extend(v.as_bytes());
            self
        }
        pub(crate) fn u32(mut self, k: &str, v: u32) -> Self {
            self.key(k, 4);
            self.kv.extend(v.to_le_bytes());
            self
        }
        pub(crate) fn str_array(mut self, k: &str, items: &[&str]) -> Self {
            self.key(k, 9);
            self.kv.extend(8u32.to_le_bytes());
            self.kv.extend((items.len() as u64).to_le_bytes());
            for s in items {
                self.kv.extend((s.len() as u64).to_le_bytes());
                self.kv.extend(s.as_bytes());
            }
            self
        }
        pub(crate) fn f32_array(mut self, k: &str, items: &[f32]) -> Self {
            self.key(k, 9);
            self.kv.extend(6u32.to_le_bytes());
            self.kv.extend((items.len() as u64).to_le_bytes());
            for v in items {
                self.kv.extend(v.to_le_bytes());
            }
            self
        }
        pub(crate) fn tensor(self, name: &str, dims: &[u64]) -> Self {
            self.tensor_at(name, dims, 0)
        }
        pub(crate) fn tensor_at(mut self, name: &str, dims: &[u64], offset: u64) -> Self {
            self.tensors.extend((name.len() as u64).to_le_bytes());
            self.tensors.extend(name.as_bytes());
            self.tensors.extend((dims.len() as u32).to_le_bytes());
            for d in dims {
                self.tensors.extend(d.to_le_bytes());
            }
            self.tensors.extend(12u32.to_le_bytes());
            self.tensors.extend(offset.to_le_bytes());
            self.n_tensors += 1;
            self
        }
        pub(crate) fn bytes(&self) -> Vec<u8> {
            let mut out = b"GGUF".to_vec();
            out.extend(3u32.to_le_bytes());
            out.extend(self.n_tensors.to_le_bytes());
            out.extend(self.n_kv.to_le_bytes());
            out.extend(&self.kv);
            out.extend(&self.tensors);
            out
        }
    }

    fn moe() -> Builder {
        Builder::new()
            .str("general.architecture", "qwen3moe")
            .str("general.name", "Tiny MoE")
            .u32("general.file_type", 15)
            .str_array("tokenizer.ggml.tokens", &["<s>", "a", "bb"])
            .f32_array("tokenizer.ggml.scores", &[0.0, 1.0, 2.0])
            .u32("qwen3moe.context_length", 40960)
            .u32("qwen3moe.block_count", 2)
            .u32("qwen3moe.expert_count", 128)
            .u32("qwen3moe.expert_used_count", 8)
            .tensor("token_embd.weight", &[16, 3])
            .tensor("blk.0.ffn_gate_exps.weight", &[16, 4, 128])
    }

    #[test]
    fn reads_moe_facts_and_counts_parameters() {
        let f = parse(&mut moe().bytes().as_slice(), "tiny.gguf").unwrap();
        assert_eq!(f.version, 3);
        assert_eq!(f.architecture.as_deref(), Some("qwen3moe"));
        assert_eq!(f.name.as_deref(), Some("Tiny MoE"));
        assert_eq!(f.file_type, Some(15));
        assert_eq!(f.file_type_name.as_deref(), Some("Q4_K_M"));
        // 16*3 + 16*4*128 = 48 + 8192
        assert_eq!(f.parameter_count, 8240);
        assert_eq!(f.tensor_count, 2);
        assert_eq!(f.context_length, Some(40960));
        assert_eq!(f.block_count, Some(2));
        assert_eq!(f.expert_count, Some(128));
        assert_eq!(f.expert_used_count, Some(8));
        assert_eq!(f.embedding_length, None);
    }

    #[test]
    fn bytes_per_token_counts_only_the_experts_a_token_uses() {
        // Embedding at data offset 0 (96 bytes), experts at 96 (1024 bytes, to
        // the end of a file whose data section is 1120 bytes).
        let bytes = Builder::new()
            .str("general.architecture", "qwen3moe")
            .u32("qwen3moe.expert_count", 128)
            .u32("qwen3moe.expert_used_count", 8)
            .tensor_at("blk.0.ffn_gate_exps.weight", &[16, 4, 128], 96)
            .tensor_at("token_embd.weight", &[16, 3], 0)
            .bytes();
        let start = (bytes.len() as u64).div_ceil(32) * 32;
        let f = parse_sized(&mut bytes.as_slice(), "moe.gguf", Some(start + 1120)).unwrap();
        assert_eq!(f.data_bytes, Some(1120));
        assert_eq!(f.expert_bytes, Some(1024));
        // 1120 - 1024 + 1024 * 8 / 128 = 96 + 64.
        assert_eq!(f.bytes_per_token(), Some(160.0));
        // A dense model reads everything; without the size, nothing is known.
        let dense = Builder::new()
            .str("general.architecture", "gemma3")
            .tensor("token_embd.weight", &[16, 3])
            .bytes();
        let start = (dense.len() as u64).div_ceil(32) * 32;
        let f = parse_sized(&mut dense.as_slice(), "d.gguf", Some(start + 500)).unwrap();
        assert_eq!(f.bytes_per_token(), Some(500.0));
        assert_eq!(
            parse(&mut dense.as_slice(), "d.gguf")
                .unwrap()
                .bytes_per_token(),
            None
        );
    }

    #[test]
    fn rejects_wrong_magic_naming_the_file() {
        let err = parse(&mut b"GGML\x03\0\0\0".as_slice(), "x.bin").unwrap_err();
        assert!(
            err.to_string().starts_with("x.bin: not a GGUF file"),
            "{err}"
        );
    }

    #[test]
    fn truncated_header_is_an_error_not_a_panic() {
        let bytes = moe().bytes();
        for cut in [3, 10, 30, bytes.len() - 5] {
            let err = parse(&mut &bytes[..cut], "cut.gguf").unwrap_err();
            assert!(err.to_string().contains("cut.gguf"), "{err}");
        }
    }

    #[test]
    fn absurd_string_length_is_refused_without_allocating() {
        let mut bytes = b"GGUF".to_vec();
        bytes.extend(3u32.to_le_bytes());
        bytes.extend(0u64.to_le_bytes());
        bytes.extend(1u64.to_le_bytes());
        bytes.extend(u64::MAX.to_le_bytes());
        let err = parse(&mut bytes.as_slice(), "evil.gguf").unwrap_err();
        assert!(err.to_string().contains("string of"), "{err}");
    }
}
