//! What a shape's GGUF holds: its hyperparameter keys and its tensors (names,
//! dimensions, roles), as llama.cpp 0c1e57098 loads each architecture
//! (`src/models/gemma3.cpp`, `qwen3moe.cpp`, `llama.cpp`: `load_arch_hparams`
//! and `load_arch_tensors`), in the order of a converted file: the output
//! norm and embedding first, then each layer's tensors by name.

use super::quant::Role;
use super::shape::{Arch, Shape};
use crate::gguf::value::Value;

/// One tensor of the shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tensor {
    pub name: String,
    /// Innermost first (ggml's `ne`).
    pub dims: Vec<u64>,
    pub role: Role,
}

fn t(name: String, dims: &[u64], role: Role) -> Tensor {
    Tensor {
        name,
        dims: dims.to_vec(),
        role,
    }
}

/// Every tensor of the shape, in file order.
pub fn tensors(s: &Shape) -> Vec<Tensor> {
    let (e, v, f, hd) = (
        s.embedding_length,
        s.vocab_size,
        s.feed_forward_length,
        s.head_dim,
    );
    let (q, kv) = (hd * s.head_count, hd * s.head_count_kv);
    let mut out = vec![
        t("output_norm.weight".into(), &[e], Role::Norm),
        t("token_embd.weight".into(), &[e, v], Role::TokenEmbd),
    ];
    if !s.tied_embeddings {
        out.push(t("output.weight".into(), &[e, v], Role::Output));
    }
    for l in 0..s.block_count {
        let n = |x: &str| format!("blk.{l}.{x}.weight");
        let mut layer = vec![
            t(n("attn_norm"), &[e], Role::Norm),
            t(n("attn_q"), &[e, q], Role::Weight),
            t(n("attn_k"), &[e, kv], Role::AttnK),
            t(n("attn_v"), &[e, kv], Role::AttnV),
            t(n("attn_output"), &[q, e], Role::Weight),
            t(n("ffn_norm"), &[e], Role::Norm),
        ];
        match s.arch {
            Arch::Gemma3 => layer.extend([
                t(n("attn_q_norm"), &[hd], Role::Norm),
                t(n("attn_k_norm"), &[hd], Role::Norm),
                t(n("post_attention_norm"), &[e], Role::Norm),
                t(n("ffn_gate"), &[e, f], Role::Weight),
                t(n("ffn_up"), &[e, f], Role::Weight),
                t(n("ffn_down"), &[f, e], Role::Weight),
                t(n("post_ffw_norm"), &[e], Role::Norm),
            ]),
            Arch::Qwen3moe => {
                let x = s.expert_count.unwrap_or(0);
                let fe = s.expert_feed_forward_length.unwrap_or(0);
                layer.extend([
                    t(n("attn_q_norm"), &[hd], Role::Norm),
                    t(n("attn_k_norm"), &[hd], Role::Norm),
                    t(n("ffn_gate_inp"), &[e, x], Role::Router),
                    t(n("ffn_gate_exps"), &[e, fe, x], Role::Weight),
                    t(n("ffn_up_exps"), &[e, fe, x], Role::Weight),
                    t(n("ffn_down_exps"), &[fe, e, x], Role::Weight),
                ]);
            }
            Arch::Llama => layer.extend([
                t(n("ffn_gate"), &[e, f], Role::Weight),
                t(n("ffn_up"), &[e, f], Role::Weight),
                t(n("ffn_down"), &[f, e], Role::Weight),
            ]),
        }
        layer.sort_by(|a, b| a.name.cmp(&b.name));
        out.extend(layer);
    }
    out
}

/// The architecture's hyperparameter keys (`<arch>.*`).
pub fn hparams(s: &Shape) -> Vec<(String, Value)> {
    let a = s.arch.name();
    let k = |x: &str| format!("{a}.{x}");
    // Dimensions are checked to be at most 2^24, so they fit u32.
    let u = |v: u64| Value::U32(u32::try_from(v).unwrap_or(u32::MAX));
    let mut kv = vec![
        (k("context_length"), u(s.context_length)),
        (k("embedding_length"), u(s.embedding_length)),
        (k("block_count"), u(s.block_count)),
        (k("feed_forward_length"), u(s.feed_forward_length)),
        (k("attention.head_count"), u(s.head_count)),
        (k("attention.head_count_kv"), u(s.head_count_kv)),
        (k("attention.key_length"), u(s.head_dim)),
        (k("attention.value_length"), u(s.head_dim)),
        (
            k("attention.layer_norm_rms_epsilon"),
            Value::F32(s.rms_norm_eps as f32),
        ),
        (k("rope.freq_base"), Value::F32(s.rope_freq_base as f32)),
    ];
    if let Some(w) = s.sliding_window {
        kv.push((k("attention.sliding_window"), u(w)));
    }
    if let Some(f) = s.rope_scaling_factor {
        kv.push((k("rope.scaling.type"), Value::str("linear")));
        kv.push((k("rope.scaling.factor"), Value::F32(f as f32)));
    }
    if let (Some(n), Some(used), Some(fe)) = (
        s.expert_count,
        s.expert_used_count,
        s.expert_feed_forward_length,
    ) {
        kv.push((k("expert_count"), u(n)));
        kv.push((k("expert_used_count"), u(used)));
        kv.push((k("expert_feed_forward_length"), u(fe)));
    }
    if s.arch == Arch::Llama {
        kv.push((k("vocab_size"), u(s.vocab_size)));
        kv.push((k("rope.dimension_count"), u(s.head_dim)));
    }
    kv
}

/// Elements of all tensors.
pub fn parameters(s: &Shape) -> u64 {
    tensors(s)
        .iter()
        .map(|t| t.dims.iter().product::<u64>())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::shape::builtin;

    #[test]
    fn gemma3_270m_has_the_real_files_tensors_in_its_order() {
        let s = builtin("gemma3-270m").unwrap();
        let ts = tensors(&s);
        // 2 + 13 per layer × 18 = 236, as the real file.
        assert_eq!(ts.len(), 236);
        let names: Vec<&str> = ts.iter().take(15).map(|t| t.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "output_norm.weight",
                "token_embd.weight",
                "blk.0.attn_k.weight",
                "blk.0.attn_k_norm.weight",
                "blk.0.attn_norm.weight",
                "blk.0.attn_output.weight",
                "blk.0.attn_q.weight",
                "blk.0.attn_q_norm.weight",
                "blk.0.attn_v.weight",
                "blk.0.ffn_down.weight",
                "blk.0.ffn_gate.weight",
                "blk.0.ffn_norm.weight",
                "blk.0.ffn_up.weight",
                "blk.0.post_attention_norm.weight",
                "blk.0.post_ffw_norm.weight",
            ]
        );
        assert_eq!(ts[1].dims, [640, 262_144]);
        assert_eq!(ts[2].dims, [640, 256]);
        assert_eq!(ts[5].dims, [1024, 640]);
        assert_eq!(ts[9].dims, [2048, 640]);
        // 268 098 176 parameters: what the real file's header sums to.
        assert_eq!(parameters(&s), 268_098_176);
    }

    #[test]
    fn the_big_shapes_have_the_published_parameter_counts() {
        // Gemma 3 27B: 27.0 B without its vision tower; Qwen3-30B-A3B: 30.5 B;
        // Llama 3 8B: 8.03 B.
        let p = |n: &str| parameters(&builtin(n).unwrap()) as f64 / 1e9;
        assert!(
            (p("gemma3-27b") - 27.01).abs() < 0.01,
            "{}",
            p("gemma3-27b")
        );
        assert!(
            (p("qwen3moe-30b-a3b") - 30.53).abs() < 0.01,
            "{}",
            p("qwen3moe-30b-a3b")
        );
        assert!((p("llama3-8b") - 8.03).abs() < 0.01, "{}", p("llama3-8b"));
        let q = tensors(&builtin("qwen3moe-30b-a3b").unwrap());
        let exps = q
            .iter()
            .find(|t| t.name == "blk.0.ffn_down_exps.weight")
            .unwrap();
        assert_eq!(exps.dims, [768, 2048, 128]);
        assert!(q.iter().any(|t| t.name == "output.weight"));
    }

    #[test]
    fn hparams_carry_what_each_architecture_reads() {
        let g = hparams(&builtin("gemma3-27b").unwrap());
        let get = |kv: &[(String, Value)], k: &str| {
            kv.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
        };
        assert_eq!(
            get(&g, "gemma3.attention.sliding_window"),
            Some(Value::U32(1024))
        );
        assert_eq!(get(&g, "gemma3.rope.scaling.factor"), Some(Value::F32(8.0)));
        let q = hparams(&builtin("qwen3moe-30b-a3b").unwrap());
        assert_eq!(
            get(&q, "qwen3moe.expert_feed_forward_length"),
            Some(Value::U32(768))
        );
        assert_eq!(get(&q, "qwen3moe.attention.sliding_window"), None);
        let l = hparams(&builtin("llama3-8b").unwrap());
        assert_eq!(get(&l, "llama.rope.dimension_count"), Some(Value::U32(128)));
    }
}
