//! A synthetic model's vocabulary: rigbench's own (SentencePiece-style, byte
//! fallback, padded to the shape's size: no file needed) or the `tokenizer.*`
//! keys of a real GGUF, padded the same way.
//!
//! Which tokens are muted, and why: llama-server holds back a generated
//! token whose text ends inside a UTF-8 character (a lone byte ≥ 0x80, a
//! piece of a multi-byte character) and streams no event for it, while
//! rigbench counts the tokens it is streamed. A real model rarely emits such a
//! token; random weights would, about once per thousand tokens of a 262k
//! vocabulary. The maker gives these tokens an output row of zeros, so their
//! logit is exactly 0 while the argmax of the others is far above it, and
//! greedy decoding never picks one.

use super::super::gguf::header::Header;
use super::super::gguf::value::{Value, tag};

/// llama.cpp's token types (`llama_token_type`).
mod ty {
    pub const NORMAL: i32 = 1;
    pub const UNKNOWN: i32 = 2;
    pub const CONTROL: i32 = 3;
    pub const BYTE: i32 = 6;
}

/// A vocabulary ready to be written.
#[derive(Debug, Clone, PartialEq)]
pub struct Vocab {
    /// The `tokenizer.*` keys, in order.
    pub kv: Vec<(String, Value)>,
    /// Token ids whose output row is made zero (see the module's comment),
    /// ascending.
    pub muted: Vec<u64>,
    /// Padding tokens added to reach the shape's vocabulary size.
    pub padded: u64,
}

/// Tokens the built-in vocabulary needs before its padding.
pub const BUILTIN_MIN: u64 = 4 + 256 + 1 + 94;

/// rigbench's own vocabulary of `size` tokens: `<pad> <eos> <bos> <unk>`, the
/// 256 byte tokens `<0x00>`…`<0xFF>`, `▁` (SentencePiece's space) and the 94
/// printable ASCII characters, then `<unused0>`… up to `size` (control
/// tokens, as Gemma's own unused ones). Text tokenizes to about one token a
/// character; anything else falls back to bytes.
pub fn builtin(size: u64) -> Result<Vocab, String> {
    if size < BUILTIN_MIN {
        return Err(format!(
            "{size}: rigbench's built-in vocabulary needs at least {BUILTIN_MIN} tokens"
        ));
    }
    let mut named: Vec<(String, i32)> = ["<pad>", "<eos>", "<bos>"]
        .into_iter()
        .map(|t| (t.to_string(), ty::CONTROL))
        .collect();
    named.push(("<unk>".to_string(), ty::UNKNOWN));
    named.extend((0..=255u8).map(|b| (format!("<0x{b:02X}>"), ty::BYTE)));
    named.push(("\u{2581}".to_string(), ty::NORMAL));
    named.extend((0x21u8..=0x7E).map(|c| (char::from(c).to_string(), ty::NORMAL)));
    let n_named = named.len() as u64;
    named.extend((0..size - n_named).map(|i| (format!("<unused{i}>"), ty::CONTROL)));
    let n = named.len();
    let (tokens, types): (Vec<Value>, Vec<i32>) = named
        .into_iter()
        .map(|(t, k)| (Value::Str(t.into_bytes()), k))
        .unzip();
    let kv = vec![
        ("tokenizer.ggml.model".to_string(), Value::str("llama")),
        ("tokenizer.ggml.pre".to_string(), Value::str("default")),
        (
            "tokenizer.ggml.tokens".to_string(),
            Value::Array(tag::STR, tokens),
        ),
        (
            "tokenizer.ggml.scores".to_string(),
            Value::Array(tag::F32, vec![Value::F32(0.0); n]),
        ),
        (
            "tokenizer.ggml.token_type".to_string(),
            Value::Array(tag::I32, types.into_iter().map(Value::I32).collect()),
        ),
        ("tokenizer.ggml.bos_token_id".to_string(), Value::U32(2)),
        ("tokenizer.ggml.eos_token_id".to_string(), Value::U32(1)),
        ("tokenizer.ggml.unknown_token_id".to_string(), Value::U32(3)),
        ("tokenizer.ggml.padding_token_id".to_string(), Value::U32(0)),
        (
            "tokenizer.ggml.add_bos_token".to_string(),
            Value::Bool(true),
        ),
        (
            "tokenizer.ggml.add_eos_token".to_string(),
            Value::Bool(false),
        ),
        (
            "tokenizer.ggml.add_space_prefix".to_string(),
            Value::Bool(false),
        ),
    ];
    Ok(Vocab {
        kv,
        // The byte tokens <0x80>…<0xFF>.
        muted: (4 + 0x80..4 + 0x100).collect(),
        padded: size - n_named,
    })
}

/// The vocabulary of a real GGUF (`shown` names it in errors), padded to
/// `size` tokens with `<unused_synthetic{i}>` control tokens.
pub fn from_header(h: &Header, shown: &str, size: u64) -> Result<Vocab, String> {
    let model = match h.get("tokenizer.ggml.model") {
        Some(Value::Str(s)) => String::from_utf8_lossy(s).into_owned(),
        _ => {
            return Err(format!(
                "{shown} has no tokenizer.ggml.model: no vocabulary to copy"
            ));
        }
    };
    let decode: fn(&[u8]) -> Vec<u8> = match model.as_str() {
        "llama" => |t| t.to_vec(),
        "gpt2" => gpt2_bytes,
        other => {
            return Err(format!(
                "{shown}: its tokenizer is \"{other}\"; rigbench copies SentencePiece \
                 (\"llama\") and byte-level BPE (\"gpt2\") vocabularies"
            ));
        }
    };
    let mut kv: Vec<(String, Value)> =
        h.kv.iter()
            .filter(|(k, _)| k.starts_with("tokenizer."))
            .cloned()
            .collect();
    let n = match h.get("tokenizer.ggml.tokens") {
        Some(Value::Array(tag::STR, items)) => items.len() as u64,
        _ => return Err(format!("{shown} has no tokenizer.ggml.tokens array")),
    };
    if n > size {
        return Err(format!(
            "{shown} has {n} tokens, more than the shape's vocab_size ({size}): set \
             vocab_size to at least {n}"
        ));
    }
    let mut muted = Vec::new();
    for (k, v) in &mut kv {
        let Value::Array(item, items) = v else {
            continue;
        };
        let pad = match (k.as_str(), *item) {
            ("tokenizer.ggml.tokens", _) => {
                for (i, t) in items.iter().enumerate() {
                    if let Value::Str(text) = t {
                        if partial_character(&decode(text), text) {
                            muted.push(i as u64);
                        }
                    }
                }
                None
            }
            ("tokenizer.ggml.scores", tag::F32) => Some(Value::F32(0.0)),
            ("tokenizer.ggml.token_type", tag::I32) => Some(Value::I32(ty::CONTROL)),
            _ => continue,
        };
        let had = items.len() as u64;
        for i in had..size {
            items.push(match &pad {
                Some(p) => p.clone(),
                None => Value::Str(format!("<unused_synthetic{}>", i - had).into_bytes()),
            });
        }
    }
    Ok(Vocab {
        kv,
        muted,
        padded: size - n,
    })
}

/// Whether a token's text ends inside a UTF-8 character: a SentencePiece byte
/// token `<0xXX>` of a byte ≥ 0x80, or text that is not whole UTF-8.
fn partial_character(bytes: &[u8], raw: &[u8]) -> bool {
    if let Some(hex) = raw
        .strip_prefix(b"<0x")
        .and_then(|r| r.strip_suffix(b">"))
        .filter(|h| h.len() == 2)
    {
        if let Ok(b) = u8::from_str_radix(&String::from_utf8_lossy(hex), 16) {
            return b >= 0x80;
        }
    }
    std::str::from_utf8(bytes).is_err()
}

/// A byte-level BPE token's bytes: GPT-2's `bytes_to_unicode` undone (each
/// printable byte stands for itself, the others for U+0100 upwards in order).
fn gpt2_bytes(text: &[u8]) -> Vec<u8> {
    let printable = |b: u32| {
        (0x21..=0x7E).contains(&b) || (0xA1..=0xAC).contains(&b) || (0xAE..=0xFF).contains(&b)
    };
    // The inverse of the map: U+0100 + n stands for the n-th byte that is
    // not printable.
    let mut map = [0u8; 256 + 68];
    let mut next = 256usize;
    for b in 0u8..=255 {
        if !printable(u32::from(b)) {
            map[next] = b;
            next += 1;
        }
    }
    String::from_utf8_lossy(text)
        .chars()
        .map(|c| {
            let c = c as u32;
            if printable(c) {
                c as u8
            } else {
                map.get(c as usize).copied().unwrap_or(b'?')
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(v: &Vocab, key: &str) -> Vec<String> {
        match v.kv.iter().find(|(k, _)| k == key) {
            Some((_, Value::Array(_, items))) => items
                .iter()
                .map(|t| match t {
                    Value::Str(s) => String::from_utf8_lossy(s).into_owned(),
                    other => format!("{other:?}"),
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    #[test]
    fn the_builtin_vocabulary_is_padded_and_mutes_the_high_bytes() {
        let v = builtin(400).unwrap();
        let t = strings(&v, "tokenizer.ggml.tokens");
        assert_eq!(t.len(), 400);
        assert_eq!(&t[..5], ["<pad>", "<eos>", "<bos>", "<unk>", "<0x00>"]);
        assert_eq!(t[4 + 0x80], "<0x80>");
        assert_eq!(t[260], "\u{2581}");
        assert_eq!(t[261], "!");
        assert_eq!(t[354], "~");
        assert_eq!(t[355], "<unused0>");
        assert_eq!(t[399], "<unused44>");
        assert_eq!(v.padded, 45);
        assert_eq!(v.muted.len(), 128);
        assert_eq!(v.muted.first(), Some(&132));
        assert_eq!(v.muted.last(), Some(&259));
        let e = builtin(300).unwrap_err();
        assert!(e.contains("at least 355"), "{e}");
    }

    #[test]
    fn a_copied_vocabulary_mutes_partial_characters_and_pads() {
        let h = Header {
            version: 3,
            kv: vec![
                ("general.architecture".into(), Value::str("gemma3")),
                ("tokenizer.ggml.model".into(), Value::str("llama")),
                (
                    "tokenizer.ggml.tokens".into(),
                    Value::Array(
                        tag::STR,
                        vec![
                            Value::str("<pad>"),
                            Value::str("<0x41>"),
                            Value::str("<0xC3>"),
                            Value::str("\u{2581}the"),
                            Value::Str(vec![0xE2, 0x96]),
                        ],
                    ),
                ),
                (
                    "tokenizer.ggml.token_type".into(),
                    Value::Array(tag::I32, vec![Value::I32(3); 5]),
                ),
                ("tokenizer.ggml.bos_token_id".into(), Value::U32(2)),
            ],
            tensors: Vec::new(),
            data_start: 0,
        };
        let v = from_header(&h, "real.gguf", 7).unwrap();
        assert_eq!(v.muted, vec![2, 4]);
        assert_eq!(v.padded, 2);
        let t = strings(&v, "tokenizer.ggml.tokens");
        assert_eq!(&t[5..], ["<unused_synthetic0>", "<unused_synthetic1>"]);
        assert_eq!(v.kv.len(), 4, "only the tokenizer keys are copied");
        let e = from_header(&h, "real.gguf", 4).unwrap_err();
        assert!(e.contains("real.gguf has 5 tokens, more than the shape's vocab_size (4)"));
    }

    #[test]
    fn gpt2_tokens_are_read_through_the_byte_map() {
        // "Ġ" (U+0120) is the space; "Ã" alone (U+00C3) is the lead byte 0xC3
        // of a two-byte character; "Ã©" is "é" whole.
        assert_eq!(gpt2_bytes("Ġthe".as_bytes()), b" the");
        assert!(partial_character(
            &gpt2_bytes("Ã".as_bytes()),
            "Ã".as_bytes()
        ));
        assert!(!partial_character(
            &gpt2_bytes("Ã©".as_bytes()),
            "Ã©".as_bytes()
        ));
        // U+010A is byte 0x0A, the newline.
        assert_eq!(gpt2_bytes("\u{010A}".as_bytes()), b"\n");
    }
}
