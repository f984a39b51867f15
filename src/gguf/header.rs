//! A GGUF file's whole header: every key/value (arrays included) and every
//! tensor's info record (name, dimensions, type, offset), with where the data
//! begins. What copies a vocabulary from a real model, what the structural
//! comparison of a synthetic model with a real one reads, and what the writer
//! lays out.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use super::GgufError;
use super::types::GgmlType;
use super::value::{self, Limits, Value};

/// The default alignment of tensor data (`GGUF_DEFAULT_ALIGNMENT`).
pub const DEFAULT_ALIGNMENT: u64 = 32;

/// One tensor's info record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorInfo {
    pub name: String,
    /// Innermost first, as GGUF stores them (ggml's `ne`).
    pub dims: Vec<u64>,
    pub ty: GgmlType,
    /// Offset of its data from the start of the data section.
    pub offset: u64,
}

impl TensorInfo {
    /// Bytes of its data; `None` for a type rigbench does not size.
    pub fn bytes(&self) -> Option<u64> {
        self.ty.bytes(&self.dims)
    }
}

/// A whole header.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    pub version: u32,
    pub kv: Vec<(String, Value)>,
    pub tensors: Vec<TensorInfo>,
    /// Where the data section begins (the header's end, aligned).
    pub data_start: u64,
}

impl Header {
    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.kv.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// `general.alignment`, or the default.
    pub fn alignment(&self) -> u64 {
        alignment_of(&self.kv)
    }
}

/// `general.alignment` of these keys, or the default.
pub fn alignment_of(kv: &[(String, Value)]) -> u64 {
    kv.iter()
        .find(|(k, _)| k == "general.alignment")
        .and_then(|(_, v)| v.as_u64())
        .filter(|a| *a > 0)
        .unwrap_or(DEFAULT_ALIGNMENT)
}

const LIMITS: Limits = Limits {
    max_string: 16 << 20,
    max_array: 64 << 20,
};

/// Reads the whole header of the GGUF file at `path`.
pub fn read(path: &Path) -> Result<Header, GgufError> {
    let shown = path.display().to_string();
    let file = File::open(path).map_err(|source| GgufError::Io {
        path: shown.clone(),
        source,
    })?;
    parse(&mut BufReader::with_capacity(1 << 20, file), &shown)
}

/// Parses a whole header from `r`; `shown` names the file in errors.
pub fn parse(r: &mut impl Read, shown: &str) -> Result<Header, GgufError> {
    let mut counted = Counted { r, n: 0 };
    let corrupt = |what: String| GgufError::Corrupt {
        path: shown.to_string(),
        what,
    };
    let magic: [u8; 4] = value::bytes(&mut counted).map_err(corrupt)?;
    if &magic != b"GGUF" {
        return Err(GgufError::Magic {
            path: shown.to_string(),
            magic,
        });
    }
    let version = u32::from_le_bytes(value::bytes(&mut counted).map_err(corrupt)?);
    if !(2..=3).contains(&version) {
        return Err(GgufError::Version {
            path: shown.to_string(),
            version,
        });
    }
    let n_tensors = u64::from_le_bytes(value::bytes(&mut counted).map_err(corrupt)?);
    let n_kv = u64::from_le_bytes(value::bytes(&mut counted).map_err(corrupt)?);
    let mut kv = Vec::new();
    for _ in 0..n_kv {
        let key = value::read_str(&mut counted, &LIMITS).map_err(corrupt)?;
        let ty = u32::from_le_bytes(value::bytes(&mut counted).map_err(corrupt)?);
        let v = value::read_value(&mut counted, ty, &LIMITS).map_err(corrupt)?;
        kv.push((String::from_utf8_lossy(&key).into_owned(), v));
    }
    let mut tensors = Vec::new();
    for _ in 0..n_tensors {
        let name = value::read_str(&mut counted, &LIMITS).map_err(corrupt)?;
        let n_dims = u32::from_le_bytes(value::bytes(&mut counted).map_err(corrupt)?);
        if n_dims > 8 {
            return Err(corrupt(format!("tensor with {n_dims} dimensions")));
        }
        let mut dims = Vec::new();
        for _ in 0..n_dims {
            dims.push(u64::from_le_bytes(
                value::bytes(&mut counted).map_err(corrupt)?,
            ));
        }
        let ty = GgmlType::from_id(u32::from_le_bytes(
            value::bytes(&mut counted).map_err(corrupt)?,
        ));
        let offset = u64::from_le_bytes(value::bytes(&mut counted).map_err(corrupt)?);
        tensors.push(TensorInfo {
            name: String::from_utf8_lossy(&name).into_owned(),
            dims,
            ty,
            offset,
        });
    }
    let align = alignment_of(&kv);
    Ok(Header {
        version,
        kv,
        tensors,
        data_start: counted.n.div_ceil(align) * align,
    })
}

/// A reader that counts the bytes read through it.
struct Counted<'a, R> {
    r: &'a mut R,
    n: u64,
}

impl<R: Read> Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.r.read(buf)?;
        self.n += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gguf::tests::Builder;

    #[test]
    fn reads_keys_arrays_and_tensor_types() {
        let bytes = Builder::new()
            .str("general.architecture", "gemma3")
            .str_array("tokenizer.ggml.tokens", &["<pad>", "<eos>"])
            .u32("gemma3.block_count", 18)
            .tensor_at("token_embd.weight", &[640, 2], 64)
            .bytes();
        let h = parse(&mut bytes.as_slice(), "t.gguf").unwrap();
        assert_eq!(h.version, 3);
        assert_eq!(h.get("general.architecture"), Some(&Value::str("gemma3")));
        assert_eq!(
            h.get("tokenizer.ggml.tokens"),
            Some(&Value::Array(
                value::tag::STR,
                vec![Value::str("<pad>"), Value::str("<eos>")]
            ))
        );
        assert_eq!(
            h.get("gemma3.block_count").and_then(Value::as_u64),
            Some(18)
        );
        // The builder writes every tensor as type 12 (Q4_K).
        assert_eq!(
            h.tensors,
            vec![TensorInfo {
                name: "token_embd.weight".into(),
                dims: vec![640, 2],
                ty: GgmlType::Q4K,
                offset: 64
            }]
        );
        assert_eq!(h.data_start, (bytes.len() as u64).div_ceil(32) * 32);
    }

    #[test]
    fn a_truncated_header_names_the_file() {
        let bytes = Builder::new().str("general.architecture", "x").bytes();
        let err = parse(&mut &bytes[..bytes.len() - 2], "cut.gguf").unwrap_err();
        assert!(err.to_string().starts_with("cut.gguf: corrupt"), "{err}");
    }
}
