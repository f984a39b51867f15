//! The quantization a recipe names, and each tensor's type in it. rigbench
//! writes F32, F16, BF16, Q8_0 and Q4_0 files itself; the other llama.cpp
//! file types (Q4_K_M, Q5_K_M, …) are made by the pinned image's
//! `llama-quantize` from a Q8_0 file rigbench wrote. For the types it writes,
//! `tensor_type` chooses what llama-quantize would (llama.cpp 0c1e57098,
//! `src/llama-quant.cpp`), so that a synthetic Q4_0 model has the tensor
//! types of a real one; the structural test holds the two side by side.

use serde::{Deserialize, Serialize};

use crate::gguf::types::GgmlType;

/// A llama.cpp file type a recipe can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum Quant {
    F32,
    F16,
    BF16,
    Q8_0,
    Q4_0,
    Q4_1,
    Q5_0,
    Q5_1,
    Q2K,
    Q3KS,
    Q3KM,
    Q3KL,
    Q4KS,
    Q4KM,
    Q5KS,
    Q5KM,
    Q6K,
    IQ4NL,
    IQ4XS,
}

const ALL: [Quant; 19] = [
    Quant::F32,
    Quant::F16,
    Quant::BF16,
    Quant::Q8_0,
    Quant::Q4_0,
    Quant::Q4_1,
    Quant::Q5_0,
    Quant::Q5_1,
    Quant::Q2K,
    Quant::Q3KS,
    Quant::Q3KM,
    Quant::Q3KL,
    Quant::Q4KS,
    Quant::Q4KM,
    Quant::Q5KS,
    Quant::Q5KM,
    Quant::Q6K,
    Quant::IQ4NL,
    Quant::IQ4XS,
];

/// File types llama-quantize makes only with an importance matrix, which
/// random weights have no data for (`tools/quantize/quantize.cpp` refuses them
/// without one).
const NEED_IMATRIX: [&str; 8] = [
    "IQ1_S", "IQ1_M", "IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ2_M", "IQ3_XXS", "Q2_K_S",
];

impl Quant {
    /// The name llama-quantize takes and `general.file_type` is shown as.
    pub fn name(self) -> &'static str {
        match self {
            Quant::F32 => "F32",
            Quant::F16 => "F16",
            Quant::BF16 => "BF16",
            Quant::Q8_0 => "Q8_0",
            Quant::Q4_0 => "Q4_0",
            Quant::Q4_1 => "Q4_1",
            Quant::Q5_0 => "Q5_0",
            Quant::Q5_1 => "Q5_1",
            Quant::Q2K => "Q2_K",
            Quant::Q3KS => "Q3_K_S",
            Quant::Q3KM => "Q3_K_M",
            Quant::Q3KL => "Q3_K_L",
            Quant::Q4KS => "Q4_K_S",
            Quant::Q4KM => "Q4_K_M",
            Quant::Q5KS => "Q5_K_S",
            Quant::Q5KM => "Q5_K_M",
            Quant::Q6K => "Q6_K",
            Quant::IQ4NL => "IQ4_NL",
            Quant::IQ4XS => "IQ4_XS",
        }
    }

    /// `general.file_type` (`enum llama_ftype`).
    pub fn ftype(self) -> u32 {
        match self {
            Quant::F32 => 0,
            Quant::F16 => 1,
            Quant::Q4_0 => 2,
            Quant::Q4_1 => 3,
            Quant::Q8_0 => 7,
            Quant::Q5_0 => 8,
            Quant::Q5_1 => 9,
            Quant::Q2K => 10,
            Quant::Q3KS => 11,
            Quant::Q3KM => 12,
            Quant::Q3KL => 13,
            Quant::Q4KS => 14,
            Quant::Q4KM => 15,
            Quant::Q5KS => 16,
            Quant::Q5KM => 17,
            Quant::Q6K => 18,
            Quant::IQ4NL => 25,
            Quant::IQ4XS => 30,
            Quant::BF16 => 32,
        }
    }

    /// Whether rigbench writes it itself (else llama-quantize makes it).
    pub fn written_directly(self) -> bool {
        matches!(
            self,
            Quant::F32 | Quant::F16 | Quant::BF16 | Quant::Q8_0 | Quant::Q4_0
        )
    }

    /// The file rigbench writes for llama-quantize to start from.
    pub fn intermediate(self) -> Quant {
        if self.written_directly() {
            self
        } else {
            Quant::Q8_0
        }
    }

    /// The row length every quantized tensor's rows must be a multiple of:
    /// the 32-element block of Q8_0 and Q4_0 (and of what llama-quantize
    /// falls back to where a K-quant's 256 do not divide a row).
    pub fn row_multiple(self) -> u64 {
        match self {
            Quant::F32 | Quant::F16 | Quant::BF16 => 1,
            _ => 32,
        }
    }

    /// Parses a name in any case: `q4_k_m`, `Q8_0`, `bf16`.
    pub fn parse(s: &str) -> Result<Quant, String> {
        let up = s.trim().to_ascii_uppercase();
        if let Some(q) = ALL.into_iter().find(|q| q.name() == up) {
            return Ok(q);
        }
        if NEED_IMATRIX.contains(&up.as_str()) {
            return Err(format!(
                "\"{s}\": llama-quantize makes {up} only with an importance matrix, which \
                 random weights have no data for; choose another (for example Q4_K_M)"
            ));
        }
        Err(format!(
            "\"{s}\" is not a quantization rigbench can make; written directly: F32, F16, \
             BF16, Q8_0, Q4_0; by llama-quantize: {}",
            ALL.iter()
                .filter(|q| !q.written_directly())
                .map(|q| q.name())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }
}

impl From<Quant> for String {
    fn from(q: Quant) -> String {
        q.name().to_string()
    }
}

impl TryFrom<String> for Quant {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Quant::parse(&s)
    }
}

impl std::fmt::Display for Quant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl schemars::JsonSchema for Quant {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Quant".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let names: Vec<&str> = ALL.iter().map(|q| q.name()).collect();
        schemars::json_schema!({ "type": "string", "enum": names })
    }
}

/// What a tensor is, as far as its type and its values go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    TokenEmbd,
    Output,
    /// A norm's weights (a vector, kept F32, values near 1).
    Norm,
    /// An MoE router (`ffn_gate_inp`): llama-quantize never quantizes it.
    Router,
    AttnK,
    AttnV,
    /// Any other weight matrix.
    Weight,
}

/// The type of a tensor in a file of type `q` that rigbench writes itself,
/// as llama-quantize would choose it. `ne0` is its row length.
pub fn tensor_type(q: Quant, role: Role, ne0: u64, tied: bool, n_expert: u64) -> GgmlType {
    if matches!(role, Role::Norm | Role::Router) {
        return GgmlType::F32;
    }
    match q {
        Quant::F32 => GgmlType::F32,
        Quant::F16 => GgmlType::F16,
        Quant::BF16 => GgmlType::BF16,
        Quant::Q8_0 => GgmlType::Q8_0,
        _ => {
            let output = role == Role::Output || (tied && role == Role::TokenEmbd);
            if output {
                // llama_tensor_get_type_impl: the output (or the embedding it
                // shares) gets Q6_K; tensor_type_fallback: Q8_0 where 256 does
                // not divide its rows.
                if ne0 % 256 == 0 {
                    GgmlType::Q6K
                } else {
                    GgmlType::Q8_0
                }
            } else if n_expert == 8 && matches!(role, Role::AttnK | Role::AttnV) {
                // "for the 8-expert model, bumping this to Q8_0 trades just ~128MB"
                GgmlType::Q8_0
            } else {
                GgmlType::Q4_0
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_in_any_case_and_refuse_what_cannot_be_made() {
        assert_eq!(Quant::parse("q4_k_m"), Ok(Quant::Q4KM));
        assert_eq!(Quant::parse("BF16"), Ok(Quant::BF16));
        for q in ALL {
            assert_eq!(Quant::parse(q.name()), Ok(q));
        }
        let e = Quant::parse("iq2_xxs").unwrap_err();
        assert!(e.contains("importance matrix"), "{e}");
        let e = Quant::parse("q7").unwrap_err();
        assert!(
            e.contains("\"q7\" is not a quantization") && e.contains("Q4_K_M"),
            "{e}"
        );
        assert_eq!(Quant::Q4KM.ftype(), 15);
        assert_eq!(Quant::Q4KM.intermediate(), Quant::Q8_0);
        assert_eq!(Quant::Q4_0.intermediate(), Quant::Q4_0);
    }

    #[test]
    fn types_follow_llama_quantize() {
        use GgmlType as T;
        use Role::*;
        // Gemma 3 270M (tied, rows of 640): the embedding is the output and
        // 256 does not divide 640, so Q8_0; everything else Q4_0.
        assert_eq!(tensor_type(Quant::Q4_0, TokenEmbd, 640, true, 0), T::Q8_0);
        assert_eq!(tensor_type(Quant::Q4_0, Weight, 640, true, 0), T::Q4_0);
        // Gemma 3 27B (tied, 5376 = 21 × 256): Q6_K.
        assert_eq!(tensor_type(Quant::Q4_0, TokenEmbd, 5376, true, 0), T::Q6K);
        // Untied: the embedding stays Q4_0, the output gets Q6_K.
        assert_eq!(
            tensor_type(Quant::Q4_0, TokenEmbd, 2048, false, 128),
            T::Q4_0
        );
        assert_eq!(tensor_type(Quant::Q4_0, Output, 2048, false, 128), T::Q6K);
        // Eight experts: K and V in Q8_0.
        assert_eq!(tensor_type(Quant::Q4_0, AttnV, 2048, false, 8), T::Q8_0);
        assert_eq!(tensor_type(Quant::Q4_0, AttnV, 2048, false, 128), T::Q4_0);
        // Q8_0 everywhere in a Q8_0 file; norms and routers F32 in all.
        assert_eq!(tensor_type(Quant::Q8_0, Output, 5376, false, 0), T::Q8_0);
        assert_eq!(tensor_type(Quant::Q8_0, Router, 2048, false, 128), T::F32);
        assert_eq!(tensor_type(Quant::BF16, Norm, 2048, false, 0), T::F32);
        assert_eq!(tensor_type(Quant::BF16, Weight, 2048, false, 0), T::BF16);
    }
}
