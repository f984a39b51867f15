//! GGUF's key/value types, whole: read (bounded, so a hostile file gives an
//! error, not a huge allocation) and written, byte for byte as GGUF lays
//! them out. The facts reader in `mod.rs` skips arrays; this is what copies a
//! tokenizer from one file into another and what the writer writes.

use std::io::{self, Read, Write};

/// GGUF value type numbers (`enum gguf_type`).
pub mod tag {
    pub const U8: u32 = 0;
    pub const I8: u32 = 1;
    pub const U16: u32 = 2;
    pub const I16: u32 = 3;
    pub const U32: u32 = 4;
    pub const I32: u32 = 5;
    pub const F32: u32 = 6;
    pub const BOOL: u32 = 7;
    pub const STR: u32 = 8;
    pub const ARRAY: u32 = 9;
    pub const U64: u32 = 10;
    pub const I64: u32 = 11;
    pub const F64: u32 = 12;
}

/// One value. Strings are bytes: GGUF does not promise UTF-8, and a copied
/// vocabulary must keep its bytes.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    F32(f32),
    Bool(bool),
    Str(Vec<u8>),
    /// Items of one scalar type (its tag) or strings; nested arrays are
    /// refused on reading.
    Array(u32, Vec<Value>),
    U64(u64),
    I64(i64),
    F64(f64),
}

impl Value {
    /// A string value.
    pub fn str(s: &str) -> Value {
        Value::Str(s.as_bytes().to_vec())
    }

    /// The value's type number.
    pub fn tag(&self) -> u32 {
        match self {
            Value::U8(_) => tag::U8,
            Value::I8(_) => tag::I8,
            Value::U16(_) => tag::U16,
            Value::I16(_) => tag::I16,
            Value::U32(_) => tag::U32,
            Value::I32(_) => tag::I32,
            Value::F32(_) => tag::F32,
            Value::Bool(_) => tag::BOOL,
            Value::Str(_) => tag::STR,
            Value::Array(..) => tag::ARRAY,
            Value::U64(_) => tag::U64,
            Value::I64(_) => tag::I64,
            Value::F64(_) => tag::F64,
        }
    }

    /// An unsigned integer value of any width.
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::U8(v) => Some(v.into()),
            Value::U16(v) => Some(v.into()),
            Value::U32(v) => Some(v.into()),
            Value::U64(v) => Some(v),
            Value::I8(v) => u64::try_from(v).ok(),
            Value::I16(v) => u64::try_from(v).ok(),
            Value::I32(v) => u64::try_from(v).ok(),
            Value::I64(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }

    /// A signed integer value of any width.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Value::I8(v) => Some(v.into()),
            Value::I16(v) => Some(v.into()),
            Value::I32(v) => Some(v.into()),
            Value::I64(v) => Some(v),
            _ => self.as_u64().and_then(|v| i64::try_from(v).ok()),
        }
    }

    /// Writes the value (its payload, without the type number).
    pub fn write_payload(&self, w: &mut impl Write) -> io::Result<()> {
        match self {
            Value::U8(v) => w.write_all(&[*v]),
            Value::I8(v) => w.write_all(&v.to_le_bytes()),
            Value::U16(v) => w.write_all(&v.to_le_bytes()),
            Value::I16(v) => w.write_all(&v.to_le_bytes()),
            Value::U32(v) => w.write_all(&v.to_le_bytes()),
            Value::I32(v) => w.write_all(&v.to_le_bytes()),
            Value::F32(v) => w.write_all(&v.to_le_bytes()),
            Value::Bool(v) => w.write_all(&[u8::from(*v)]),
            Value::Str(s) => write_str(w, s),
            Value::Array(item, items) => {
                w.write_all(&item.to_le_bytes())?;
                w.write_all(&(items.len() as u64).to_le_bytes())?;
                items.iter().try_for_each(|v| v.write_payload(w))
            }
            Value::U64(v) => w.write_all(&v.to_le_bytes()),
            Value::I64(v) => w.write_all(&v.to_le_bytes()),
            Value::F64(v) => w.write_all(&v.to_le_bytes()),
        }
    }
}

/// A GGUF string: its length (u64) and bytes.
pub fn write_str(w: &mut impl Write, s: &[u8]) -> io::Result<()> {
    w.write_all(&(s.len() as u64).to_le_bytes())?;
    w.write_all(s)
}

/// Bounds on what a read may claim.
pub struct Limits {
    pub max_string: u64,
    pub max_array: u64,
}

/// Reads values of type `ty` from `r`; `what` describes a corrupt value.
pub fn read_value(r: &mut impl Read, ty: u32, limits: &Limits) -> Result<Value, String> {
    Ok(match ty {
        tag::U8 => Value::U8(bytes::<1>(r)?[0]),
        tag::I8 => Value::I8(i8::from_le_bytes(bytes(r)?)),
        tag::U16 => Value::U16(u16::from_le_bytes(bytes(r)?)),
        tag::I16 => Value::I16(i16::from_le_bytes(bytes(r)?)),
        tag::U32 => Value::U32(u32::from_le_bytes(bytes(r)?)),
        tag::I32 => Value::I32(i32::from_le_bytes(bytes(r)?)),
        tag::F32 => Value::F32(f32::from_le_bytes(bytes(r)?)),
        tag::BOOL => Value::Bool(bytes::<1>(r)?[0] != 0),
        tag::STR => Value::Str(read_str(r, limits)?),
        tag::ARRAY => {
            let item = u32::from_le_bytes(bytes(r)?);
            let len = u64::from_le_bytes(bytes(r)?);
            if len > limits.max_array {
                return Err(format!("array of {len} elements"));
            }
            if item == tag::ARRAY {
                return Err("an array of arrays".to_string());
            }
            // Grown as read, not reserved from the claimed length.
            let mut items = Vec::new();
            for _ in 0..len {
                items.push(read_value(r, item, limits)?);
            }
            Value::Array(item, items)
        }
        tag::U64 => Value::U64(u64::from_le_bytes(bytes(r)?)),
        tag::I64 => Value::I64(i64::from_le_bytes(bytes(r)?)),
        tag::F64 => Value::F64(f64::from_le_bytes(bytes(r)?)),
        other => return Err(format!("unknown value type {other}")),
    })
}

/// Reads a GGUF string's bytes.
pub fn read_str(r: &mut impl Read, limits: &Limits) -> Result<Vec<u8>, String> {
    let len = u64::from_le_bytes(bytes(r)?);
    if len > limits.max_string {
        return Err(format!("string of {len} bytes"));
    }
    let mut buf = Vec::new();
    let got = r
        .by_ref()
        .take(len)
        .read_to_end(&mut buf)
        .map_err(|e| e.to_string())?;
    if got as u64 != len {
        return Err("the file ends inside the header (truncated?)".to_string());
    }
    Ok(buf)
}

/// Reads `N` bytes.
pub fn bytes<const N: usize>(r: &mut impl Read) -> Result<[u8; N], String> {
    let mut b = [0u8; N];
    r.read_exact(&mut b).map_err(|e| {
        if e.kind() == io::ErrorKind::UnexpectedEof {
            "the file ends inside the header (truncated?)".to_string()
        } else {
            e.to_string()
        }
    })?;
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: Limits = Limits {
        max_string: 1 << 20,
        max_array: 1 << 20,
    };

    #[test]
    fn every_type_round_trips() {
        let values = [
            Value::U8(7),
            Value::I8(-7),
            Value::U16(700),
            Value::I16(-700),
            Value::U32(70_000),
            Value::I32(-70_000),
            Value::F32(1e-6),
            Value::Bool(true),
            Value::str("gemma3"),
            Value::Array(
                tag::STR,
                vec![Value::str("<pad>"), Value::Str(vec![0xE2, 0x96])],
            ),
            Value::Array(tag::I32, vec![Value::I32(1), Value::I32(6)]),
            Value::U64(1 << 40),
            Value::I64(-(1 << 40)),
            Value::F64(0.5),
        ];
        for v in values {
            let mut out = Vec::new();
            v.write_payload(&mut out).unwrap();
            let back = read_value(&mut out.as_slice(), v.tag(), &L).unwrap();
            assert_eq!(back, v);
        }
    }

    #[test]
    fn layout_is_gguf_s() {
        // A string: u64 length then bytes; an array: item type, u64 count, items.
        let mut out = Vec::new();
        Value::Array(tag::U32, vec![Value::U32(1), Value::U32(2)])
            .write_payload(&mut out)
            .unwrap();
        assert_eq!(
            out,
            [4, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0]
        );
        let mut s = Vec::new();
        Value::str("ab").write_payload(&mut s).unwrap();
        assert_eq!(s, [2, 0, 0, 0, 0, 0, 0, 0, b'a', b'b']);
    }

    #[test]
    fn claimed_lengths_beyond_the_limits_or_the_file_are_errors() {
        let mut big = Vec::new();
        big.extend(tag::U8.to_le_bytes());
        big.extend(u64::MAX.to_le_bytes());
        let err = read_value(&mut big.as_slice(), tag::ARRAY, &L).unwrap_err();
        assert!(err.contains("array of"), "{err}");
        let mut short = Vec::new();
        short.extend(5u64.to_le_bytes());
        short.extend(b"ab");
        let err = read_value(&mut short.as_slice(), tag::STR, &L).unwrap_err();
        assert!(err.contains("truncated"), "{err}");
    }
}
