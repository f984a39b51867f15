//! A synthetic model's shape: its architecture and dimensions, everything the
//! GGUF's hyperparameter keys and tensor shapes are made from. The built-in
//! shapes come from public configurations (each cites where); a plan may
//! write a shape out in full, or name a built-in one as its `base` and change
//! some dimensions. Every shape is checked before any work, with an error
//! naming the field.

use serde::{Deserialize, Serialize};

/// The llama.cpp architectures a shape can take (`general.architecture`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    /// Gemma 3: q/k norms, post-attention and post-FFN norms, GELU FFN,
    /// sliding-window layers with a global one every sixth, tied embeddings.
    Gemma3,
    /// Qwen 3 MoE: q/k norms, a router and routed experts in every layer.
    Qwen3moe,
    /// Llama: the plain dense transformer.
    Llama,
}

impl Arch {
    /// The name GGUF and llama.cpp use.
    pub fn name(self) -> &'static str {
        match self {
            Arch::Gemma3 => "gemma3",
            Arch::Qwen3moe => "qwen3moe",
            Arch::Llama => "llama",
        }
    }
}

/// A shape, every dimension resolved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Shape {
    /// A built-in shape's name, or the plan's name for its own.
    pub name: String,
    pub arch: Arch,
    /// Tokens in the vocabulary (rows of the embedding and output matrices).
    pub vocab_size: u64,
    /// `<arch>.context_length`: the context the shape was trained for.
    pub context_length: u64,
    /// Width of the residual stream (`n_embd`).
    pub embedding_length: u64,
    /// Layers.
    pub block_count: u64,
    /// Width of a dense FFN (an MoE shape records it; its experts use
    /// `expert_feed_forward_length`).
    pub feed_forward_length: u64,
    pub head_count: u64,
    pub head_count_kv: u64,
    /// Width of one attention head (keys and values alike).
    pub head_dim: u64,
    pub rope_freq_base: f64,
    pub rms_norm_eps: f64,
    /// Whether the output matrix is the token embedding (no `output.weight`).
    pub tied_embeddings: bool,
    /// Gemma 3: tokens a sliding-window layer sees.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sliding_window: Option<u64>,
    /// Linear RoPE scaling factor of the global layers (Gemma 3 27B: 8).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rope_scaling_factor: Option<f64>,
    /// MoE: routed experts per layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expert_count: Option<u64>,
    /// MoE: experts each token uses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expert_used_count: Option<u64>,
    /// MoE: width of one expert's FFN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expert_feed_forward_length: Option<u64>,
}

/// A built-in shape and where its numbers come from.
pub struct Builtin {
    pub shape: Shape,
    pub source: &'static str,
}

/// The built-in shapes.
pub fn builtins() -> Vec<Builtin> {
    vec![
        Builtin {
            shape: Shape {
                name: "gemma3-270m".into(),
                arch: Arch::Gemma3,
                vocab_size: 262_144,
                context_length: 32_768,
                embedding_length: 640,
                block_count: 18,
                feed_forward_length: 2048,
                head_count: 4,
                head_count_kv: 1,
                head_dim: 256,
                rope_freq_base: 1_000_000.0,
                rms_norm_eps: 1e-6,
                tied_embeddings: true,
                sliding_window: Some(512),
                rope_scaling_factor: None,
                expert_count: None,
                expert_used_count: None,
                expert_feed_forward_length: None,
            },
            source: "the GGUF keys and tensor shapes of rigbench's default model, \
                     gemma-3-270m-q4_k_m.gguf (sha256 a5fd3b62…6818), converted from \
                     huggingface.co/google/gemma-3-270m config.json",
        },
        Builtin {
            shape: Shape {
                name: "gemma3-27b".into(),
                arch: Arch::Gemma3,
                vocab_size: 262_144,
                context_length: 131_072,
                embedding_length: 5376,
                block_count: 62,
                feed_forward_length: 21_504,
                head_count: 32,
                head_count_kv: 16,
                head_dim: 128,
                rope_freq_base: 1_000_000.0,
                rms_norm_eps: 1e-6,
                tied_embeddings: true,
                sliding_window: Some(1024),
                rope_scaling_factor: Some(8.0),
                expert_count: None,
                expert_used_count: None,
                expert_feed_forward_length: None,
            },
            source: "huggingface.co/google/gemma-3-27b-it config.json, text_config \
                     (hidden_size 5376, intermediate_size 21504, 62 layers, 32 heads, \
                     16 KV heads, head_dim 128, sliding_window 1024, rope_theta 1e6, \
                     linear rope_scaling 8, max_position_embeddings 131072); \
                     vocab_size 262208 there, of which llama.cpp's converter keeps the \
                     tokenizer's 262144 rows",
        },
        Builtin {
            shape: Shape {
                name: "qwen3moe-30b-a3b".into(),
                arch: Arch::Qwen3moe,
                vocab_size: 151_936,
                context_length: 40_960,
                embedding_length: 2048,
                block_count: 48,
                feed_forward_length: 6144,
                head_count: 32,
                head_count_kv: 4,
                head_dim: 128,
                rope_freq_base: 1_000_000.0,
                rms_norm_eps: 1e-6,
                tied_embeddings: false,
                sliding_window: None,
                rope_scaling_factor: None,
                expert_count: Some(128),
                expert_used_count: Some(8),
                expert_feed_forward_length: Some(768),
            },
            source: "huggingface.co/Qwen/Qwen3-30B-A3B config.json (hidden_size 2048, \
                     48 layers, 32 heads, 4 KV heads, head_dim 128, 128 experts, 8 per \
                     token, moe_intermediate_size 768, vocab_size 151936, \
                     max_position_embeddings 40960, rope_theta 1e6, untied)",
        },
        Builtin {
            shape: Shape {
                name: "llama3-8b".into(),
                arch: Arch::Llama,
                vocab_size: 128_256,
                context_length: 8192,
                embedding_length: 4096,
                block_count: 32,
                feed_forward_length: 14_336,
                head_count: 32,
                head_count_kv: 8,
                head_dim: 128,
                rope_freq_base: 500_000.0,
                rms_norm_eps: 1e-5,
                tied_embeddings: false,
                sliding_window: None,
                rope_scaling_factor: None,
                expert_count: None,
                expert_used_count: None,
                expert_feed_forward_length: None,
            },
            source: "huggingface.co/meta-llama/Meta-Llama-3-8B config.json \
                     (hidden_size 4096, intermediate_size 14336, 32 layers, 32 heads, \
                     8 KV heads, vocab_size 128256, rope_theta 500000, rms_norm_eps \
                     1e-5, max_position_embeddings 8192, untied)",
        },
    ]
}

/// The built-in shape called `name`.
pub fn builtin(name: &str) -> Option<Shape> {
    builtins()
        .into_iter()
        .find(|b| b.shape.name == name)
        .map(|b| b.shape)
}

/// The names of the built-in shapes, for messages.
pub fn builtin_names() -> String {
    builtins()
        .iter()
        .map(|b| b.shape.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A shape as a plan writes it: a built-in one's name, or fields (all of them,
/// or a `base` and the ones that differ).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum ShapeFile {
    Named(String),
    Written(Box<WrittenShape>),
}

/// A shape written out in a plan: every field of `Shape`, each optional when
/// `base` names a built-in shape to start from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WrittenShape {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<Arch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vocab_size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_length: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub embedding_length: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feed_forward_length: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_count_kv: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head_dim: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rope_freq_base: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rms_norm_eps: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tied_embeddings: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sliding_window: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rope_scaling_factor: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expert_count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expert_used_count: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expert_feed_forward_length: Option<u64>,
}

/// A field that is wrong, and why: `(field under the shape, message)`.
pub type FieldError = (String, String);

impl ShapeFile {
    /// The shape this stands for, checked.
    pub fn resolve(&self) -> Result<Shape, FieldError> {
        let shape = match self {
            ShapeFile::Named(name) => builtin(name).ok_or_else(|| unknown(name, ""))?,
            ShapeFile::Written(w) => w.resolve()?,
        };
        check(&shape)?;
        Ok(shape)
    }
}

fn unknown(name: &str, at: &str) -> FieldError {
    (
        at.to_string(),
        format!(
            "\"{name}\" is not a built-in shape (built in: {}); or write the shape out \
             (arch, vocab_size, embedding_length, …) or name a base and change fields",
            builtin_names()
        ),
    )
}

impl WrittenShape {
    fn resolve(&self) -> Result<Shape, FieldError> {
        let base = match &self.base {
            Some(b) => Some(builtin(b).ok_or_else(|| unknown(b, "base"))?),
            None => None,
        };
        let need = |field: &str| {
            (
                field.to_string(),
                "missing: write it, or name a built-in shape as base".to_string(),
            )
        };
        macro_rules! pick {
            ($f:ident) => {
                match (self.$f, base.as_ref()) {
                    (Some(v), _) => v,
                    (None, Some(b)) => b.$f,
                    (None, None) => return Err(need(stringify!($f))),
                }
            };
        }
        macro_rules! optional {
            ($f:ident) => {
                self.$f.or_else(|| base.as_ref().and_then(|b| b.$f))
            };
        }
        let arch = pick!(arch);
        let name = match (&self.name, &self.base) {
            (Some(n), _) => n.clone(),
            (None, Some(b)) => format!("{b}-custom"),
            (None, None) => format!("{}-custom", arch.name()),
        };
        Ok(Shape {
            name,
            arch,
            vocab_size: pick!(vocab_size),
            context_length: pick!(context_length),
            embedding_length: pick!(embedding_length),
            block_count: pick!(block_count),
            feed_forward_length: pick!(feed_forward_length),
            head_count: pick!(head_count),
            head_count_kv: pick!(head_count_kv),
            head_dim: pick!(head_dim),
            rope_freq_base: pick!(rope_freq_base),
            rms_norm_eps: pick!(rms_norm_eps),
            tied_embeddings: pick!(tied_embeddings),
            sliding_window: optional!(sliding_window),
            rope_scaling_factor: optional!(rope_scaling_factor),
            expert_count: optional!(expert_count),
            expert_used_count: optional!(expert_used_count),
            expert_feed_forward_length: optional!(expert_feed_forward_length),
        })
    }
}

/// Largest dimension accepted: far beyond any real model, small enough that
/// sizes computed from it cannot overflow.
const MAX_DIM: u64 = 1 << 24;

/// Checks a resolved shape: dimensions positive and within bounds, heads that
/// group, the fields its architecture needs and none it cannot use.
pub fn check(s: &Shape) -> Result<(), FieldError> {
    let bad = |f: &str, m: String| Err((f.to_string(), m));
    if s.name.trim().is_empty() || s.name.contains(['/', '\\']) {
        return bad("name", format!("\"{}\": a name without slashes", s.name));
    }
    let dims = [
        ("vocab_size", s.vocab_size),
        ("context_length", s.context_length),
        ("embedding_length", s.embedding_length),
        ("block_count", s.block_count),
        ("feed_forward_length", s.feed_forward_length),
        ("head_count", s.head_count),
        ("head_count_kv", s.head_count_kv),
        ("head_dim", s.head_dim),
    ];
    for (f, v) in dims {
        if v == 0 || v > MAX_DIM {
            return bad(f, format!("{v}: must be between 1 and {MAX_DIM}"));
        }
    }
    // llama.cpp's LLAMA_MAX_LAYERS.
    if s.block_count > 512 {
        return bad(
            "block_count",
            format!("{}: llama.cpp loads at most 512 layers", s.block_count),
        );
    }
    if s.head_count % s.head_count_kv != 0 {
        return bad(
            "head_count_kv",
            format!(
                "{}: must divide head_count ({}) so that query heads share KV heads evenly",
                s.head_count_kv, s.head_count
            ),
        );
    }
    for (f, v) in [
        ("rope_freq_base", s.rope_freq_base),
        ("rms_norm_eps", s.rms_norm_eps),
    ] {
        if !(v.is_finite() && v > 0.0) {
            return bad(f, format!("{v}: must be a positive number"));
        }
    }
    if let Some(v) = s.rope_scaling_factor {
        if !(v.is_finite() && v >= 1.0) {
            return bad("rope_scaling_factor", format!("{v}: must be 1 or more"));
        }
    }
    let moe = [
        ("expert_count", s.expert_count),
        ("expert_used_count", s.expert_used_count),
        ("expert_feed_forward_length", s.expert_feed_forward_length),
    ];
    match s.arch {
        Arch::Qwen3moe => {
            for (f, v) in moe {
                match v {
                    None => return bad(f, "missing: a qwen3moe shape needs it".into()),
                    Some(0) => return bad(f, "0: must be at least 1".into()),
                    Some(v) if v > MAX_DIM => return bad(f, format!("{v}: too large")),
                    Some(_) => {}
                }
            }
            let (n, k) = (
                s.expert_count.unwrap_or(0),
                s.expert_used_count.unwrap_or(0),
            );
            // llama.cpp's LLAMA_MAX_EXPERTS.
            if n > 512 {
                return bad("expert_count", format!("{n}: llama.cpp allows at most 512"));
            }
            if k > n {
                return bad(
                    "expert_used_count",
                    format!("{k}: more than expert_count ({n})"),
                );
            }
        }
        Arch::Gemma3 | Arch::Llama => {
            if let Some((f, _)) = moe.iter().find(|(_, v)| v.is_some()) {
                return bad(
                    f,
                    format!("a {} shape has no experts: leave it out", s.arch.name()),
                );
            }
        }
    }
    match s.arch {
        Arch::Gemma3 => {
            if s.sliding_window == Some(0) {
                return bad(
                    "sliding_window",
                    "0: must be at least 1 (or left out)".into(),
                );
            }
        }
        Arch::Qwen3moe | Arch::Llama => {
            if s.sliding_window.is_some() {
                return bad(
                    "sliding_window",
                    format!(
                        "llama.cpp's {} has no sliding window: leave it out",
                        s.arch.name()
                    ),
                );
            }
        }
    }
    if s.arch == Arch::Llama && s.head_dim * s.head_count != s.embedding_length {
        return bad(
            "head_dim",
            format!(
                "{}: a llama shape's head_dim × head_count must be embedding_length ({}); \
                 llama.cpp checks its RoPE width against it",
                s.head_dim, s.embedding_length
            ),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_passes_its_own_check_and_has_a_source() {
        for b in builtins() {
            assert_eq!(check(&b.shape), Ok(()), "{}", b.shape.name);
            assert!(b.source.contains("huggingface.co") || b.source.contains("sha256"));
        }
        assert_eq!(
            builtin_names(),
            "gemma3-270m, gemma3-27b, qwen3moe-30b-a3b, llama3-8b"
        );
    }

    #[test]
    fn a_base_with_changes_keeps_the_rest() {
        let w = WrittenShape {
            base: Some("gemma3-27b".into()),
            block_count: Some(4),
            ..Default::default()
        };
        let s = ShapeFile::Written(Box::new(w)).resolve().unwrap();
        assert_eq!(s.name, "gemma3-27b-custom");
        assert_eq!(s.block_count, 4);
        assert_eq!(s.embedding_length, 5376);
        assert_eq!(s.rope_scaling_factor, Some(8.0));
    }

    #[test]
    fn bad_shapes_name_their_field() {
        let err = |w: WrittenShape| ShapeFile::Written(Box::new(w)).resolve().unwrap_err();
        let (f, m) = ShapeFile::Named("gemma3-31b".into()).resolve().unwrap_err();
        assert_eq!(f, "");
        assert!(m.contains("\"gemma3-31b\" is not a built-in shape") && m.contains("gemma3-27b"));
        let (f, _) = err(WrittenShape {
            arch: Some(Arch::Llama),
            ..Default::default()
        });
        assert_eq!(f, "vocab_size");
        let base = |b: &str| WrittenShape {
            base: Some(b.into()),
            ..Default::default()
        };
        let (f, m) = err(WrittenShape {
            head_count_kv: Some(3),
            ..base("llama3-8b")
        });
        assert_eq!(f, "head_count_kv");
        assert!(m.contains("must divide head_count (32)"), "{m}");
        let (f, m) = err(WrittenShape {
            expert_used_count: Some(200),
            ..base("qwen3moe-30b-a3b")
        });
        assert_eq!(
            (f.as_str(), m.as_str()),
            ("expert_used_count", "200: more than expert_count (128)")
        );
        let (f, _) = err(WrittenShape {
            expert_count: Some(8),
            ..base("gemma3-270m")
        });
        assert_eq!(f, "expert_count");
        let (f, _) = err(WrittenShape {
            embedding_length: Some(0),
            ..base("gemma3-270m")
        });
        assert_eq!(f, "embedding_length");
        let (f, _) = err(WrittenShape {
            head_dim: Some(64),
            ..base("llama3-8b")
        });
        assert_eq!(f, "head_dim");
        let (f, _) = err(base("gemma3-31b"));
        assert_eq!(f, "base");
    }
}
