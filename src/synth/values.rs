//! The bytes of a synthetic tensor, block by block, from a counter-based
//! generator: word `n` of a tensor is `mix(key + (n + 1)·γ)`, SplitMix64's
//! output function at the n-th step of its Weyl sequence (Steele, Lea and
//! Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014),
//! with `key` from SHA-256 of (generator version, seed, tensor name). A block's
//! bytes depend on nothing but (seed, tensor name, block index), so blocks can
//! be made in any order, on any number of threads, on any machine, and come
//! out the same: integer arithmetic, IEEE float arithmetic (+ − × ÷, exactly
//! rounded) and round-to-nearest-even conversions only, no library maths.
//!
//! Values: weights uniform in ±a with a = 0.02·√3 (a standard deviation of
//! 0.02, the `initializer_range` of the configurations the shapes come from),
//! norms uniform in 1 ± 0.1 (llama.cpp's converters store Gemma's norms with
//! the 1 added). Quantized blocks are made on their grid directly: random
//! quants under a fixed scale. Small enough that no activation overflows
//! (checked on a short generation in the tests); a muted row is all zero
//! bytes, which every type reads as 0.

use sha2::{Digest, Sha256};

use super::quant::Role;
use crate::gguf::types::GgmlType;

/// Bumped whenever the bytes made from a recipe would change: part of every
/// recipe's identity, so an old manifest's model is never silently remade
/// differently.
pub const GENERATOR: u32 = 1;

const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// SplitMix64's output function (the finaliser of MurmurHash3's variant 13).
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A tensor's stream of random words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stream {
    key: u64,
}

impl Stream {
    /// The stream of tensor `name` under `seed`.
    pub fn new(seed: u64, name: &str) -> Stream {
        let mut h = Sha256::new();
        h.update(b"rigbench synthetic weights\0");
        h.update(GENERATOR.to_le_bytes());
        h.update(seed.to_le_bytes());
        h.update(name.as_bytes());
        let d = h.finalize();
        let mut k = [0u8; 8];
        k.copy_from_slice(&d[..8]);
        Stream {
            key: u64::from_le_bytes(k),
        }
    }

    /// Word `n`.
    pub fn word(self, n: u64) -> u64 {
        mix(self.key.wrapping_add(n.wrapping_add(1).wrapping_mul(GAMMA)))
    }
}

/// Half-width of the weights' uniform distribution: 0.02·√3.
const A: f32 = 0.034_641_016;

/// A value in [−1, 1) from a word's top 24 bits.
fn unit(w: u64) -> f32 {
    ((w >> 40) as f32) * (2.0 / 16_777_216.0) - 1.0
}

/// How one tensor's blocks are made.
#[derive(Debug, Clone)]
pub struct Filler {
    pub ty: GgmlType,
    pub role: Role,
    pub stream: Stream,
    /// Blocks per row (elements per row / elements per block).
    pub row_blocks: u64,
    /// Rows made all zero (sorted token ids of the output matrix).
    pub muted: std::sync::Arc<Vec<u64>>,
}

/// The block layouts rigbench writes.
pub fn writable(ty: GgmlType) -> bool {
    matches!(
        ty,
        GgmlType::F32
            | GgmlType::F16
            | GgmlType::BF16
            | GgmlType::Q8_0
            | GgmlType::Q4_0
            | GgmlType::Q6K
    )
}

/// u64 words a block draws.
fn words(ty: GgmlType) -> u64 {
    match ty {
        GgmlType::Q8_0 => 4,
        GgmlType::Q4_0 => 2,
        GgmlType::Q6K => 26,
        _ => 1,
    }
}

fn half(x: f32) -> [u8; 2] {
    half::f16::from_f32(x).to_le_bytes()
}

impl Filler {
    /// Writes blocks `first..first + out.len() / block_bytes` into `out`.
    pub fn fill(&self, first: u64, out: &mut [u8]) {
        let size = self.ty.layout().map_or(4, |(_, s)| s) as usize;
        for (i, block) in out.chunks_exact_mut(size).enumerate() {
            let b = first + i as u64;
            if !self.muted.is_empty() && self.muted.binary_search(&(b / self.row_blocks)).is_ok() {
                block.fill(0);
                continue;
            }
            self.block(b, block);
        }
    }

    fn block(&self, b: u64, out: &mut [u8]) {
        let base = b * words(self.ty);
        let w = |i: u64| self.stream.word(base + i);
        let value = |x: u64| match self.role {
            Role::Norm => 1.0 + 0.1 * unit(x),
            _ => A * unit(x),
        };
        match self.ty {
            GgmlType::F32 => out.copy_from_slice(&value(w(0)).to_le_bytes()),
            GgmlType::F16 => out.copy_from_slice(&half(value(w(0)))),
            GgmlType::BF16 => out.copy_from_slice(&half::bf16::from_f32(value(w(0))).to_le_bytes()),
            GgmlType::Q8_0 => {
                // d, then 32 int8 quants: values d·q in about ±a.
                out[..2].copy_from_slice(&half(A / 127.0));
                for i in 0..4 {
                    out[2 + 8 * i as usize..10 + 8 * i as usize]
                        .copy_from_slice(&w(i).to_le_bytes());
                }
            }
            GgmlType::Q4_0 => {
                // d, then 32 4-bit quants q: values d·(q − 8) in ±a.
                out[..2].copy_from_slice(&half(A / 8.0));
                out[2..10].copy_from_slice(&w(0).to_le_bytes());
                out[10..18].copy_from_slice(&w(1).to_le_bytes());
            }
            GgmlType::Q6K => {
                // ql[128], qh[64], 16 int8 scales in 64..=127, d: values
                // d·scale·(q − 32) in about ±a.
                for i in 0..24u64 {
                    let at = 8 * i as usize;
                    out[at..at + 8].copy_from_slice(&w(i).to_le_bytes());
                }
                for i in 0..2u64 {
                    for (j, byte) in w(24 + i).to_le_bytes().into_iter().enumerate() {
                        out[192 + 8 * i as usize + j] = 64 + (byte & 63);
                    }
                }
                out[208..210].copy_from_slice(&half(A / (32.0 * 96.0)));
            }
            // `writable` keeps every other type away.
            _ => out.fill(0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn the_mix_is_splitmix64s() {
        // SplitMix64 seeded with 0: its first outputs are mix(γ), mix(2γ), …
        // (the reference sequence of Vigna's splitmix64.c from seed 0).
        assert_eq!(mix(GAMMA), 0xE220_A839_7B1D_CDAF);
        assert_eq!(mix(GAMMA.wrapping_mul(2)), 0x6E78_9E6A_A1B9_65F4);
        let s = Stream { key: 0 };
        assert_eq!(s.word(0), 0xE220_A839_7B1D_CDAF);
    }

    #[test]
    fn streams_differ_by_seed_and_name_and_are_stable() {
        let a = Stream::new(0, "blk.0.attn_q.weight");
        assert_eq!(a, Stream::new(0, "blk.0.attn_q.weight"));
        assert_ne!(a, Stream::new(1, "blk.0.attn_q.weight"));
        assert_ne!(a, Stream::new(0, "blk.1.attn_q.weight"));
    }

    fn filler(ty: GgmlType, role: Role, muted: Vec<u64>) -> Filler {
        Filler {
            ty,
            role,
            stream: Stream::new(7, "t"),
            row_blocks: 2,
            muted: Arc::new(muted),
        }
    }

    #[test]
    fn blocks_are_the_same_made_in_any_split() {
        for ty in [GgmlType::F16, GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q6K] {
            let f = filler(ty, Role::Weight, vec![]);
            let size = ty.layout().unwrap().1 as usize;
            let mut whole = vec![0u8; 6 * size];
            f.fill(0, &mut whole);
            let mut parts = vec![0u8; 6 * size];
            f.fill(4, &mut parts[4 * size..]);
            f.fill(0, &mut parts[..4 * size]);
            assert_eq!(whole, parts, "{ty}");
        }
    }

    #[test]
    fn values_are_small_and_finite_and_muted_rows_zero() {
        // Q8_0: d = f16(0.034641016 / 127) ≈ 2.7278e-4.
        let f = filler(GgmlType::Q8_0, Role::Weight, vec![1]);
        let mut out = vec![0u8; 4 * 34];
        f.fill(0, &mut out);
        let d = half::f16::from_le_bytes([out[0], out[1]]).to_f32();
        assert!((d - 2.7278e-4).abs() < 1e-7, "{d}");
        // Row 1 (blocks 2 and 3) is muted.
        assert!(out[68..].iter().all(|b| *b == 0));
        assert!(out[2..34].iter().any(|b| *b != 0));
        // Norms in 1 ± 0.1, weights in ±a.
        let n = filler(GgmlType::F32, Role::Norm, vec![]);
        let w = filler(GgmlType::F32, Role::Weight, vec![]);
        let mut nb = vec![0u8; 4 * 1000];
        let mut wb = vec![0u8; 4 * 1000];
        n.fill(0, &mut nb);
        w.fill(0, &mut wb);
        let floats = |b: &[u8]| -> Vec<f32> {
            b.chunks(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        };
        assert!(floats(&nb).iter().all(|x| (0.9..1.1).contains(x)));
        let ws = floats(&wb);
        assert!(ws.iter().all(|x| x.abs() <= A));
        let sd = (ws.iter().map(|x| x * x).sum::<f32>() / 1000.0).sqrt();
        assert!((sd - 0.02).abs() < 0.002, "sd {sd}");
        // Q6_K scales are 64..=127 and d is finite and positive.
        let q = filler(GgmlType::Q6K, Role::Weight, vec![]);
        let mut qb = vec![0u8; 210];
        q.fill(0, &mut qb);
        assert!(qb[192..208].iter().all(|s| (64..=127).contains(s)));
        let d = half::f16::from_le_bytes([qb[208], qb[209]]).to_f32();
        assert!(d > 0.0 && d.is_finite());
    }
}
