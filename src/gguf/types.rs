//! ggml's tensor types as GGUF stores them: the number in a tensor's info
//! record, the name ggml prints, and the block layout (elements per block,
//! bytes per block) that gives a tensor's size. Numbers, names and sizes are
//! those of `ggml/include/ggml.h` and `ggml/src/ggml-common.h` at llama.cpp
//! 0c1e57098; types that ggml has dropped or rigbench does not size are
//! `Other(n)`.

use serde::{Deserialize, Serialize};

/// A tensor's element type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum GgmlType {
    F32,
    F16,
    Q4_0,
    Q4_1,
    Q5_0,
    Q5_1,
    Q8_0,
    Q8_1,
    Q2K,
    Q3K,
    Q4K,
    Q5K,
    Q6K,
    Q8K,
    IQ2XXS,
    IQ2XS,
    IQ3XXS,
    IQ1S,
    IQ4NL,
    IQ3S,
    IQ2S,
    IQ4XS,
    I8,
    I16,
    I32,
    I64,
    F64,
    IQ1M,
    BF16,
    TQ1_0,
    TQ2_0,
    MXFP4,
    /// A number this table does not size.
    Other(u32),
}

/// Every sized type, in ggml's order (for parsing names).
const KNOWN: [GgmlType; 32] = [
    GgmlType::F32,
    GgmlType::F16,
    GgmlType::Q4_0,
    GgmlType::Q4_1,
    GgmlType::Q5_0,
    GgmlType::Q5_1,
    GgmlType::Q8_0,
    GgmlType::Q8_1,
    GgmlType::Q2K,
    GgmlType::Q3K,
    GgmlType::Q4K,
    GgmlType::Q5K,
    GgmlType::Q6K,
    GgmlType::Q8K,
    GgmlType::IQ2XXS,
    GgmlType::IQ2XS,
    GgmlType::IQ3XXS,
    GgmlType::IQ1S,
    GgmlType::IQ4NL,
    GgmlType::IQ3S,
    GgmlType::IQ2S,
    GgmlType::IQ4XS,
    GgmlType::I8,
    GgmlType::I16,
    GgmlType::I32,
    GgmlType::I64,
    GgmlType::F64,
    GgmlType::IQ1M,
    GgmlType::BF16,
    GgmlType::TQ1_0,
    GgmlType::TQ2_0,
    GgmlType::MXFP4,
];

impl GgmlType {
    /// The number GGUF stores (`enum ggml_type`).
    pub fn id(self) -> u32 {
        use GgmlType::*;
        match self {
            F32 => 0,
            F16 => 1,
            Q4_0 => 2,
            Q4_1 => 3,
            Q5_0 => 6,
            Q5_1 => 7,
            Q8_0 => 8,
            Q8_1 => 9,
            Q2K => 10,
            Q3K => 11,
            Q4K => 12,
            Q5K => 13,
            Q6K => 14,
            Q8K => 15,
            IQ2XXS => 16,
            IQ2XS => 17,
            IQ3XXS => 18,
            IQ1S => 19,
            IQ4NL => 20,
            IQ3S => 21,
            IQ2S => 22,
            IQ4XS => 23,
            I8 => 24,
            I16 => 25,
            I32 => 26,
            I64 => 27,
            F64 => 28,
            IQ1M => 29,
            BF16 => 30,
            TQ1_0 => 34,
            TQ2_0 => 35,
            MXFP4 => 39,
            Other(n) => n,
        }
    }

    /// The type GGUF's number `id` stands for.
    pub fn from_id(id: u32) -> GgmlType {
        KNOWN
            .into_iter()
            .find(|t| t.id() == id)
            .unwrap_or(GgmlType::Other(id))
    }

    /// The name ggml gives the type (`ggml_type_name`), upper case as
    /// llama.cpp's tools print it: `Q4_K`, `BF16`.
    pub fn name(self) -> String {
        use GgmlType::*;
        let s = match self {
            F32 => "F32",
            F16 => "F16",
            Q4_0 => "Q4_0",
            Q4_1 => "Q4_1",
            Q5_0 => "Q5_0",
            Q5_1 => "Q5_1",
            Q8_0 => "Q8_0",
            Q8_1 => "Q8_1",
            Q2K => "Q2_K",
            Q3K => "Q3_K",
            Q4K => "Q4_K",
            Q5K => "Q5_K",
            Q6K => "Q6_K",
            Q8K => "Q8_K",
            IQ2XXS => "IQ2_XXS",
            IQ2XS => "IQ2_XS",
            IQ3XXS => "IQ3_XXS",
            IQ1S => "IQ1_S",
            IQ4NL => "IQ4_NL",
            IQ3S => "IQ3_S",
            IQ2S => "IQ2_S",
            IQ4XS => "IQ4_XS",
            I8 => "I8",
            I16 => "I16",
            I32 => "I32",
            I64 => "I64",
            F64 => "F64",
            IQ1M => "IQ1_M",
            BF16 => "BF16",
            TQ1_0 => "TQ1_0",
            TQ2_0 => "TQ2_0",
            MXFP4 => "MXFP4",
            Other(n) => return format!("type{n}"),
        };
        s.to_string()
    }

    /// (elements per block, bytes per block); `None` for `Other`.
    pub fn layout(self) -> Option<(u64, u64)> {
        use GgmlType::*;
        Some(match self {
            F32 | I32 => (1, 4),
            F16 | BF16 | I16 => (1, 2),
            I8 => (1, 1),
            I64 | F64 => (1, 8),
            Q4_0 | IQ4NL => (32, 18),
            Q4_1 => (32, 20),
            Q5_0 => (32, 22),
            Q5_1 => (32, 24),
            Q8_0 => (32, 34),
            Q8_1 => (32, 36),
            MXFP4 => (32, 17),
            Q2K => (256, 84),
            Q3K | IQ3S => (256, 110),
            Q4K => (256, 144),
            Q5K => (256, 176),
            Q6K => (256, 210),
            Q8K => (256, 292),
            IQ2XXS | TQ2_0 => (256, 66),
            IQ2XS => (256, 74),
            IQ3XXS => (256, 98),
            IQ1S => (256, 50),
            IQ2S => (256, 82),
            IQ4XS => (256, 136),
            IQ1M => (256, 56),
            TQ1_0 => (256, 54),
            Other(_) => return None,
        })
    }

    /// Elements per block (1 for the plain types).
    pub fn block_elements(self) -> Option<u64> {
        self.layout().map(|(n, _)| n)
    }

    /// Bytes of a tensor of this type with `dims` (innermost first); `None`
    /// when the type is not sized or the first dimension does not divide into
    /// blocks.
    pub fn bytes(self, dims: &[u64]) -> Option<u64> {
        let (per, size) = self.layout()?;
        let first = *dims.first()?;
        if first % per != 0 {
            return None;
        }
        let rows: u64 = dims[1..].iter().try_fold(1u64, |a, d| a.checked_mul(*d))?;
        (first / per).checked_mul(size)?.checked_mul(rows)
    }

    /// Whether it is a block-quantized type (not a plain float or integer).
    pub fn is_quantized(self) -> bool {
        self.block_elements().is_some_and(|n| n > 1)
    }
}

impl From<GgmlType> for String {
    fn from(t: GgmlType) -> String {
        t.name()
    }
}

impl TryFrom<String> for GgmlType {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        if let Some(n) = s.strip_prefix("type").and_then(|n| n.parse().ok()) {
            return Ok(GgmlType::Other(n));
        }
        KNOWN
            .into_iter()
            .find(|t| t.name().eq_ignore_ascii_case(&s))
            .ok_or_else(|| format!("\"{s}\" is not a ggml tensor type"))
    }
}

impl std::fmt::Display for GgmlType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_round_trip_and_unknown_ones_are_kept() {
        for t in KNOWN {
            assert_eq!(GgmlType::from_id(t.id()), t);
            assert_eq!(GgmlType::try_from(t.name()), Ok(t));
        }
        assert_eq!(GgmlType::from_id(4), GgmlType::Other(4));
        assert_eq!(GgmlType::from_id(40).name(), "type40");
        assert_eq!(
            GgmlType::try_from("type40".to_string()),
            Ok(GgmlType::Other(40))
        );
    }

    #[test]
    fn sizes_are_those_of_the_real_gemma_file() {
        // From the real Gemma 3 270M Q4_K_M file: token_embd [640, 262144] Q8_0
        // is 178 257 920 bytes, blk.0.ffn_down [2048, 640] Q6_K 1 075 200,
        // blk.0.attn_k [640, 256] Q5_0 112 640, output_norm [640] F32 2 560.
        assert_eq!(GgmlType::Q8_0.bytes(&[640, 262_144]), Some(178_257_920));
        assert_eq!(GgmlType::Q6K.bytes(&[2048, 640]), Some(1_075_200));
        assert_eq!(GgmlType::Q5_0.bytes(&[640, 256]), Some(112_640));
        assert_eq!(GgmlType::F32.bytes(&[640]), Some(2_560));
        // 640 does not divide into Q4_K's 256-element blocks.
        assert_eq!(GgmlType::Q4K.bytes(&[640, 256]), None);
        assert!(GgmlType::Q4_0.is_quantized() && !GgmlType::BF16.is_quantized());
    }
}
