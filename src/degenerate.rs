//! Degenerate output: a stream that collapsed onto one or two tokens, or onto a
//! very short n-gram, as ROCm's Gemma output did in the published study
//! (`\n`, ` {//`, then `K //` repeated; `\n\n`, ` {`, then sixteen slashes repeated).
//! Judged on token ids, a pure function.
//!
//! A small model decoding greedily often repeats whole sentences (periods of ten
//! tokens and more); that is normal output and is not flagged. Only collapse onto
//! at most `MAX_PERIOD` tokens is.

use serde::{Deserialize, Serialize};

/// Fewer generated tokens than this are not judged.
pub const MIN_TOKENS: usize = 16;
/// The longest repeating unit counted as a collapse.
const MAX_PERIOD: usize = 4;
/// The repetition must cover at least this share of the stream.
const MIN_COVER: f64 = 0.75;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Degeneracy {
    /// Where the repetition starts (0-based token index).
    pub start: usize,
    /// The repeating unit's token ids.
    pub unit: Vec<u32>,
    /// Tokens from `start` to the end, all repeating `unit`.
    pub covered: usize,
    /// What happened, for people.
    pub summary: String,
}

/// The collapse in `tokens`, if any.
pub fn detect(tokens: &[u32]) -> Option<Degeneracy> {
    let n = tokens.len();
    if n < MIN_TOKENS {
        return None;
    }
    for period in 1..=MAX_PERIOD {
        // The earliest start from which every token equals the one `period` later.
        let mut start = n - period;
        while start > 0 && tokens[start - 1] == tokens[start - 1 + period] {
            start -= 1;
        }
        let covered = n - start;
        if covered as f64 >= MIN_COVER * n as f64 && covered >= 2 * period {
            let unit = tokens[start..start + period].to_vec();
            return Some(Degeneracy {
                start,
                summary: format!("from token {start} on, {covered} of {n} tokens repeat {unit:?}"),
                unit,
                covered,
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repeat(prefix: &[u32], unit: &[u32], n: usize) -> Vec<u32> {
        let mut v = prefix.to_vec();
        while v.len() < n {
            v.extend(unit);
        }
        v.truncate(n);
        v
    }

    #[test]
    fn the_studys_two_token_loop_is_flagged() {
        // master, default, ctx 4096: 107 (`\n`), 34130 (` {//`), then 236855 `K`, 715 `//`.
        let t = repeat(&[107, 34130], &[236855, 715], 64);
        let d = detect(&t).unwrap();
        assert_eq!(d.start, 2);
        assert_eq!(d.unit, [236855, 715]);
        assert_eq!(d.covered, 62);
        assert_eq!(
            d.summary,
            "from token 2 on, 62 of 64 tokens repeat [236855, 715]"
        );
    }

    #[test]
    fn the_studys_one_token_loop_is_flagged() {
        // GGML_CUDA_DISABLE_GRAPHS=1: 108 (`\n\n`), 642 (` {`), then 10767 repeated.
        let t = repeat(&[108, 642], &[10767], 32);
        let d = detect(&t).unwrap();
        assert_eq!((d.start, d.unit.clone(), d.covered), (2, vec![10767], 30));
    }

    #[test]
    fn a_four_token_loop_is_flagged_a_five_token_one_is_not() {
        assert_eq!(
            detect(&repeat(&[1], &[5, 6, 7, 8], 40)).unwrap().unit,
            [5, 6, 7, 8]
        );
        assert_eq!(detect(&repeat(&[1], &[5, 6, 7, 8, 9], 40)), None);
    }

    #[test]
    fn the_real_models_sentence_loops_are_normal_output() {
        // Gemma 3 270M, greedy, on this machine (rigbench run, 31 and 11205 prompt
        // tokens): whole sentences repeat with periods of 12 and 11 tokens.
        let p31 = repeat(
            &[
                532, 506, 7764, 236761, 108, 902, 506, 6534, 3803, 4464, 506, 80958,
            ],
            &[
                532, 506, 7764, 236761, 108, 902, 506, 6534, 3803, 4464, 506, 20808,
            ],
            128,
        );
        assert_eq!(detect(&p31), None);
        let p11205 = repeat(
            &[8709, 31273, 1041, 8705, 236764],
            &[532, 564, 795, 711, 2583, 1116, 531, 1041, 8705, 236787, 573],
            128,
        );
        assert_eq!(detect(&p11205), None);
        let p461 = [
            2214, 3324, 506, 7764, 236787, 532, 901, 964, 1800, 506, 1638, 236761, 1452, 3803,
            2760, 506, 1171, 2214, 506, 1719, 236764, 532, 506, 1855, 2214, 506, 3446, 236787, 532,
            3803, 11310, 506,
        ];
        assert_eq!(detect(&p461), None);
    }

    #[test]
    fn a_loop_that_starts_late_covers_too_little() {
        // 20 varied tokens, then 12 of a one-token loop: 12/32 < 75 %.
        let mut t: Vec<u32> = (100..120).collect();
        t.extend([7; 12]);
        assert_eq!(detect(&t), None);
    }

    #[test]
    fn short_streams_are_not_judged() {
        assert_eq!(detect(&[9; 15]), None);
        assert!(detect(&[9; 16]).is_some());
    }
}
