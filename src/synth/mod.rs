//! Synthetic models: a GGUF made from a short recipe (shape, quantization,
//! seed, vocabulary), the same bytes on every machine, so that two people
//! benchmark the same model without downloading or sharing anything. For
//! speed the values of the weights do not matter, their shapes and types do
//! (vLLM's `--load-format dummy` and llama.cpp's `tests/test-llama-archs.cpp`
//! rest on this); what the random values cannot stand for is said wherever
//! their figures appear (output checks, an MoE's routing).
//!
//! Here: the recipe and its identity (`Recipe::key`), the file name, and the
//! writer (`make`). `shape` owns the shapes, `quant` the file types and each
//! tensor's type, `layout` the tensors and keys, `values` the bytes, `vocab`
//! the vocabulary, `cached` where the cache keeps a made file. The types
//! rigbench does not write are made by the pinned image's `llama-quantize`
//! (`quantize` says how).

pub mod cached;
pub mod layout;
pub mod make;
pub mod quant;
pub mod quantize;
pub mod shape;
pub mod there;
pub mod values;
pub mod vocab;

use serde::{Deserialize, Serialize};

pub use quant::Quant;
pub use shape::{Shape, ShapeFile};

/// A recipe as a plan or the command line gives it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecipeFile {
    /// A built-in shape's name, or a shape written out (or a base and changes).
    pub shape: ShapeFile,
    /// A llama.cpp file type: F32, F16, BF16, Q8_0, Q4_0 (written directly),
    /// or Q4_K_M, Q5_K_M, … (made by llama-quantize).
    pub quant: Quant,
    #[serde(default)]
    pub seed: u64,
    /// `builtin` (the default), or `{ model = "NAME" }`: the tokenizer of
    /// another model of the plan.
    #[serde(default, skip_serializing_if = "VocabFile::is_builtin")]
    pub vocab: VocabFile,
    /// The generator version the model must be made by (a rerun pins the one
    /// recorded); absent: this rigbench's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generator: Option<u32>,
}

/// Where a recipe's vocabulary comes from, as written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawVocab", into = "RawVocab")]
pub enum VocabFile {
    /// The word `builtin`: rigbench's own.
    #[default]
    Builtin,
    /// `{ model = "NAME" }`: the `tokenizer.*` keys of another model of the plan.
    Model { model: String },
}

impl VocabFile {
    fn is_builtin(&self) -> bool {
        *self == VocabFile::Builtin
    }
}

/// `VocabFile` as TOML and JSON write it.
#[derive(Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
enum RawVocab {
    Word(String),
    Model { model: String },
}

impl TryFrom<RawVocab> for VocabFile {
    type Error = String;
    fn try_from(r: RawVocab) -> Result<Self, String> {
        match r {
            RawVocab::Word(w) if w == "builtin" => Ok(VocabFile::Builtin),
            RawVocab::Word(w) => Err(format!(
                "vocab \"{w}\": write \"builtin\" or {{ model = \"NAME\" }} (another model of the plan)"
            )),
            RawVocab::Model { model } => Ok(VocabFile::Model { model }),
        }
    }
}

impl From<VocabFile> for RawVocab {
    fn from(v: VocabFile) -> RawVocab {
        match v {
            VocabFile::Builtin => RawVocab::Word("builtin".into()),
            VocabFile::Model { model } => RawVocab::Model { model },
        }
    }
}

impl schemars::JsonSchema for VocabFile {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "VocabFile".into()
    }
    fn json_schema(g: &mut schemars::SchemaGenerator) -> schemars::Schema {
        RawVocab::json_schema(g)
    }
}

/// Where a made model's vocabulary came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum VocabSource {
    /// rigbench's own (see `vocab::builtin`).
    Builtin,
    /// The tokenizer of a real GGUF, by its SHA-256 (and the model's name).
    Model { name: String, sha256: String },
}

/// A recipe with everything resolved: the identity of a synthetic model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Recipe {
    pub shape: Shape,
    pub quant: Quant,
    pub seed: u64,
    pub vocab: VocabSource,
    /// The generator's version (`values::GENERATOR`).
    pub generator: u32,
}

impl Recipe {
    /// A recipe's identity: SHA-256 of its canonical JSON (RFC 8785), with
    /// the llama.cpp commit whose llama-quantize makes it where one does.
    pub fn key(&self, quantizer: Option<&str>) -> String {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if let (Some(q), Some(obj)) = (quantizer, v.as_object_mut()) {
            obj.insert("quantizer".into(), serde_json::Value::String(q.to_string()));
        }
        let canonical = serde_json_canonicalizer::to_string(&v).unwrap_or_default();
        crate::hash::sha256_hex(canonical.as_bytes())
    }

    /// The file's default name: `gemma3-27b-q8_0-s0.gguf`.
    pub fn file_name(&self) -> String {
        file_name(&self.shape.name, self.quant, self.seed)
    }

    /// One line for people: `gemma3-27b Q8_0, seed 0, built-in vocabulary`.
    pub fn describe(&self) -> String {
        format!(
            "{} {}, seed {}, {}",
            self.shape.name,
            self.quant,
            self.seed,
            match &self.vocab {
                VocabSource::Builtin => "built-in vocabulary".to_string(),
                VocabSource::Model { name, .. } => format!("{name}'s vocabulary"),
            }
        )
    }
}

/// How a synthetic model file came to be: recorded in the manifest (and in
/// the cache beside the file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Provenance {
    /// The model's identity: everything its bytes are made from.
    pub recipe: Recipe,
    /// `Recipe::key` of it (with the quantizer's commit where one made it):
    /// the cache's name for it.
    pub key: String,
    /// The rigbench that wrote the file (`version (commit …)`).
    pub made_by: String,
    /// Whether this run made it (false: it was in the cache).
    pub made_now: bool,
    /// Seconds rigbench spent writing it, on how many threads.
    pub write_seconds: f64,
    pub threads: usize,
    /// Tokens whose output row is zero (`vocab`'s comment says why).
    pub muted_tokens: usize,
    /// Padding tokens added to reach the shape's vocabulary size.
    pub padded_tokens: u64,
    /// Where llama-quantize made it (types rigbench does not write).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantize: Option<quantize::QuantizeRecord>,
}

/// A synthetic model's default file name: `gemma3-27b-q8_0-s0.gguf`.
pub fn file_name(shape: &str, quant: Quant, seed: u64) -> String {
    format!("{shape}-{}-s{seed}.gguf", quant.name().to_ascii_lowercase())
}

/// What a recipe cannot be made from, naming the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct RecipeError {
    /// Under the recipe: `shape.embedding_length`, `quant`, `vocab`.
    pub field: String,
    pub message: String,
}

impl RecipeFile {
    /// One line for people: `gemma3-27b Q8_0, seed 0`.
    pub fn describe(&self) -> String {
        let shape = match &self.shape {
            ShapeFile::Named(n) => n.clone(),
            ShapeFile::Written(w) => match (&w.name, &w.base) {
                (Some(n), _) => n.clone(),
                (None, Some(b)) => format!("{b} (changed)"),
                (None, None) => "a shape of the plan's".to_string(),
            },
        };
        format!("{shape} {}, seed {}", self.quant, self.seed)
    }

    /// The shape resolved and the whole recipe checked against the
    /// quantization: every quantized tensor's rows must divide into its
    /// blocks. The vocabulary's source is resolved later (it may be another
    /// model still to fetch).
    pub fn check(&self) -> Result<Shape, RecipeError> {
        let shape = self.shape.resolve().map_err(|(f, message)| RecipeError {
            field: if f.is_empty() {
                "shape".to_string()
            } else {
                format!("shape.{f}")
            },
            message,
        })?;
        check_blocks(&shape, self.quant)?;
        if self.vocab == VocabFile::Builtin && shape.vocab_size < vocab::BUILTIN_MIN {
            return Err(RecipeError {
                field: "shape.vocab_size".into(),
                message: format!(
                    "{}: rigbench's built-in vocabulary needs at least {}",
                    shape.vocab_size,
                    vocab::BUILTIN_MIN
                ),
            });
        }
        Ok(shape)
    }
}

/// The file's size, about: exact for the types rigbench writes (less the
/// vocabulary's few MB), from llama.cpp's typical bits per weight for the
/// others; `None` for a recipe that does not check.
pub fn estimated_size(r: &RecipeFile) -> Option<u64> {
    let shape = r.check().ok()?;
    let written = r.quant.intermediate();
    let bytes: u64 = layout::tensors(&shape)
        .iter()
        .map(|t| {
            let ty = quant::tensor_type(
                written,
                t.role,
                t.dims[0],
                shape.tied_embeddings,
                shape.expert_count.unwrap_or(0),
            );
            ty.bytes(&t.dims).unwrap_or(0)
        })
        .sum();
    if r.quant.written_directly() {
        return Some(bytes);
    }
    // llama-quantize's own table of sizes for Llama-3-8B, in GB (about bits
    // per weight, its 8.03 B weights make the two near), over Q8_0's 8.5.
    let bpw = match r.quant {
        Quant::Q4_1 => 5.0,
        Quant::Q5_0 => 5.5,
        Quant::Q5_1 => 6.0,
        Quant::Q2K => 2.96,
        Quant::Q3KS => 3.41,
        Quant::Q3KM => 3.74,
        Quant::Q3KL => 4.03,
        Quant::Q4KS => 4.37,
        Quant::Q4KM => 4.58,
        Quant::Q5KS => 5.21,
        Quant::Q5KM => 5.33,
        Quant::Q6K => 6.14,
        Quant::IQ4NL => 4.50,
        Quant::IQ4XS => 4.25,
        _ => 8.5,
    };
    Some((bytes as f64 * bpw / 8.5) as u64)
}

/// Every tensor llama.cpp would quantize has rows that divide into the
/// quantization's blocks; an error names the dimension that does not.
pub fn check_blocks(shape: &Shape, q: Quant) -> Result<(), RecipeError> {
    let m = q.row_multiple();
    let rows = [
        ("embedding_length", shape.embedding_length),
        ("feed_forward_length", shape.feed_forward_length),
        ("head_dim × head_count", shape.head_dim * shape.head_count),
        (
            "expert_feed_forward_length",
            shape.expert_feed_forward_length.unwrap_or(m),
        ),
    ];
    for (field, n) in rows {
        if n % m != 0 {
            return Err(RecipeError {
                field: format!("shape.{}", field.split(' ').next().unwrap_or(field)),
                message: format!(
                    "{field} = {n} is not a multiple of {m}, the block of {q}'s quantized rows; \
                     llama.cpp cannot store such rows in {q} (choose a multiple of {m}, or F16)"
                ),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn recipe(toml: &str) -> Result<RecipeFile, String> {
        toml::from_str(toml).map_err(|e| e.to_string())
    }

    #[test]
    fn recipes_parse_as_plans_write_them() {
        let r = recipe("shape = \"gemma3-27b\"\nquant = \"q8_0\"").unwrap();
        assert_eq!(r.quant, Quant::Q8_0);
        assert_eq!(r.seed, 0);
        assert_eq!(r.vocab, VocabFile::Builtin);
        let r = recipe(
            "shape = { base = \"gemma3-270m\", block_count = 4 }\nquant = \"Q4_0\"\nseed = 3\nvocab = { model = \"gemma\" }",
        )
        .unwrap();
        assert_eq!(
            r.vocab,
            VocabFile::Model {
                model: "gemma".into()
            }
        );
        assert_eq!(r.check().unwrap().block_count, 4);
        let e = recipe("shape = \"gemma3-27b\"\nquant = \"q7\"").unwrap_err();
        assert!(e.contains("\"q7\" is not a quantization"), "{e}");
        let e = recipe("shape = \"gemma3-27b\"\nquant = \"q8_0\"\nvocab = \"gpt2\"").unwrap_err();
        assert!(!e.is_empty());
    }

    #[test]
    fn rows_that_do_not_divide_into_blocks_are_named() {
        let r = recipe(
            "shape = { base = \"llama3-8b\", feed_forward_length = 14000 }\nquant = \"q4_0\"",
        )
        .unwrap();
        let e = r.check().unwrap_err();
        assert_eq!(e.field, "shape.feed_forward_length");
        assert!(
            e.message
                .contains("14000 is not a multiple of 32, the block of Q4_0"),
            "{}",
            e.message
        );
        // F16 stores any row.
        let r = recipe(
            "shape = { base = \"llama3-8b\", feed_forward_length = 14000 }\nquant = \"f16\"",
        )
        .unwrap();
        assert!(r.check().is_ok());
        let r = recipe("shape = \"nope\"\nquant = \"f16\"").unwrap();
        assert_eq!(r.check().unwrap_err().field, "shape");
    }

    #[test]
    fn the_key_changes_with_any_field_and_the_quantizer() {
        let shape = shape::builtin("gemma3-270m").unwrap();
        let r = Recipe {
            shape,
            quant: Quant::Q8_0,
            seed: 0,
            vocab: VocabSource::Builtin,
            generator: values::GENERATOR,
        };
        let k = r.key(None);
        assert_eq!(k.len(), 64);
        assert_eq!(k, r.clone().key(None));
        assert_ne!(
            k,
            Recipe {
                seed: 1,
                ..r.clone()
            }
            .key(None)
        );
        assert_ne!(k, r.key(Some("0c1e57098bba43ac29e6e3b677cdceebdd22334f")));
        assert_eq!(r.file_name(), "gemma3-270m-q8_0-s0.gguf");
        assert_eq!(
            r.describe(),
            "gemma3-270m Q8_0, seed 0, built-in vocabulary"
        );
    }
}
