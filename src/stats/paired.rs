//! Paired comparison of two arms measured round by round (an interleaved A/B):
//! per round one log-ratio, their mean, a fixed-n interval and an interval
//! valid at every round at once, and a verdict against a noise band. Pure
//! functions of numbers.
//!
//! - Round i gives d_i = ln(mean_B,i / mean_A,i); the estimate is the
//!   geometric mean ratio exp(d̄).
//! - Fixed-n interval (valid only for a number of rounds fixed in advance):
//!   d̄ ± t(1 − α/2, n − 1) · s / √n, s the sample sd of the d_i.
//! - Confidence sequence (valid at every n simultaneously, so whatever rule
//!   decides when to stop, "until decided" included): Lai's t-confidence
//!   sequence (T. L. Lai, "On confidence sequences", Ann. Statist. 4 (1976)
//!   265–280), the scale-invariant normal mixture, i.e. the Bayes factor of the
//!   one-sample t-test with the right-Haar prior dσ/σ on the scale and
//!   δ ~ N(0, σ²/ρ) on the mean (Pérez-Ortiz, Lardy, de Heide and Grünwald,
//!   "E-statistics, group invariance and anytime-valid testing", Ann. Statist.
//!   52 (2024); Howard, Ramdas, McAuliffe and Sekhon, "Time-uniform,
//!   nonparametric, nonasymptotic confidence sequences", Ann. Statist. 49
//!   (2021), on Lai's sequence). With S = Σ(d_i − μ), V = Σ(d_i − μ)²,
//!
//!   M_n(μ) = √(ρ / (ρ + n)) · (V / (V − S² / (n + ρ)))^(n/2),
//!
//!   which is 1 at n = 1 and a nonnegative martingale under mean μ for i.i.d.
//!   normal d_i, so by Ville's inequality P(∃ n: M_n(μ) ≥ 1/α) ≤ α. The set
//!   {μ : M_n(μ) < 1/α} solves in closed form (SS = Σ(d_i − d̄)²):
//!
//!   d̄ ± √((c − 1) · SS / (n · (1 − c ρ / (n + ρ)))), c = ((1/α) √((n + ρ)/ρ))^(2/n),
//!
//!   the whole line while 1 − c ρ / (n + ρ) ≤ 0 (too few rounds to say
//!   anything). ρ = 1 here: narrowest near 10–30 rounds (there about 1.6× the
//!   fixed-n t interval's width, the price of looking after every round).
//! - Verdict of B against A, band ±b, on the interval given: `same` when it
//!   lies inside [1 − b, 1 + b] (an equivalence test: TOST read off the
//!   interval); `faster`/`slower` when it excludes 1 and the estimate lies
//!   beyond the band's edge (for a metric where lower is better, a ratio below
//!   1 is `faster`); `inconclusive` otherwise.
//! - Several intervals decided together (cells × metrics) each get α/m
//!   (Bonferroni), so that all of them hold at once with probability 1 − α.

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, StudentsT};

use super::compare::Verdict;

/// The mixture parameter ρ of the confidence sequence.
pub const RHO: f64 = 1.0;

/// An interval of the ratio B/A.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
}

impl Interval {
    /// high / low, the interval's width on the log scale as a factor
    /// (infinite for an unbounded one).
    pub fn width_log(&self) -> f64 {
        (self.high / self.low).ln()
    }

    /// The narrowest band ±b that the interval lies inside, the band at which
    /// it would say `same`: max(high − 1, 1 − low).
    pub fn same_within(&self) -> f64 {
        (self.high - 1.0).max(1.0 - self.low)
    }

    fn of_log(mean: f64, half: f64) -> Interval {
        Interval {
            low: (mean - half).exp(),
            high: (mean + half).exp(),
        }
    }
}

/// The paired rounds' log-ratios summarised.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogRatios {
    pub n: usize,
    pub mean: f64,
    /// Σ(d_i − d̄)².
    pub ss: f64,
}

impl LogRatios {
    /// From the per-round log-ratios; `None` when there are none or one is
    /// not finite.
    pub fn of(d: &[f64]) -> Option<Self> {
        if d.is_empty() || d.iter().any(|x| !x.is_finite()) {
            return None;
        }
        let n = d.len();
        let mean = d.iter().sum::<f64>() / n as f64;
        let ss = d.iter().map(|x| (x - mean).powi(2)).sum();
        Some(LogRatios { n, mean, ss })
    }

    /// The geometric mean ratio exp(d̄).
    pub fn ratio(&self) -> f64 {
        self.mean.exp()
    }

    /// The fixed-n 1 − α interval of the ratio (Student t on n − 1 degrees of
    /// freedom); `None` below two rounds.
    pub fn t_interval(&self, alpha: f64) -> Option<Interval> {
        if self.n < 2 {
            return None;
        }
        let df = (self.n - 1) as f64;
        let q = StudentsT::new(0.0, 1.0, df)
            .ok()?
            .inverse_cdf(1.0 - alpha / 2.0);
        let se = (self.ss / df / self.n as f64).sqrt();
        Some(Interval::of_log(self.mean, q * se))
    }

    /// The 1 − α confidence sequence's interval at this n (see the module
    /// header); `None` while it is the whole line.
    pub fn sequence_interval(&self, alpha: f64) -> Option<Interval> {
        let n = self.n as f64;
        let c = ((1.0 / alpha) * ((n + RHO) / RHO).sqrt()).powf(2.0 / n);
        let a = n * (1.0 - c * RHO / (n + RHO));
        if self.n < 2 || a <= 0.0 {
            return None;
        }
        Some(Interval::of_log(
            self.mean,
            ((c - 1.0) * self.ss / a).sqrt(),
        ))
    }
}

/// Most rounds `LogRatios::rounds_to_decide` looks at.
const MAX_ROUNDS_TO_DECIDE: usize = 10_000;

impl LogRatios {
    /// A planning figure for an open verdict: the fewest rounds at which the
    /// sequence's interval, at the measured mean and spread, would decide:
    /// lie inside the band when the estimate is inside it (`same`), or on one
    /// side of 1 when the estimate is beyond the band (`faster`/`slower`).
    /// `None`: fewer than two rounds, or more than 10 000 rounds (an estimate
    /// just inside the band's edge).
    pub fn rounds_to_decide(&self, alpha: f64, band: f64) -> Option<usize> {
        if self.n < 2 {
            return None;
        }
        let var = self.ss / (self.n - 1) as f64;
        let (lo, hi) = ((1.0 - band).ln(), (1.0 + band).ln());
        let need = if self.mean > lo && self.mean < hi {
            (self.mean - lo).min(hi - self.mean)
        } else {
            self.mean.abs()
        };
        if need <= 0.0 {
            return None;
        }
        (self.n..=MAX_ROUNDS_TO_DECIDE).find(|&n| {
            let at = LogRatios {
                n,
                mean: self.mean,
                ss: var * (n - 1) as f64,
            };
            at.sequence_interval(alpha)
                .is_some_and(|i| i.width_log() / 2.0 <= need)
        })
    }
}

/// The mixture martingale M_n(μ) of `d` at mean `mu` (the module header's
/// formula), for checking the closed form.
pub fn mixture(d: &[f64], mu: f64) -> f64 {
    let n = d.len() as f64;
    let s: f64 = d.iter().map(|x| x - mu).sum();
    let v: f64 = d.iter().map(|x| (x - mu).powi(2)).sum();
    (RHO / (RHO + n)).sqrt() * (v / (v - s * s / (n + RHO))).powf(n / 2.0)
}

/// B's verdict against A from the interval of B/A, the estimate and the band.
pub fn verdict(i: Option<Interval>, ratio: f64, band: f64, higher_is_better: bool) -> Verdict {
    let Some(i) = i else {
        return Verdict::Inconclusive;
    };
    let (lo, hi) = (1.0 - band, 1.0 + band);
    if i.low >= lo && i.high <= hi {
        return Verdict::Same;
    }
    let (better, worse) = if higher_is_better {
        (Verdict::Faster, Verdict::Slower)
    } else {
        (Verdict::Slower, Verdict::Faster)
    };
    if i.low > 1.0 && ratio >= hi {
        better
    } else if i.high < 1.0 && ratio <= lo {
        worse
    } else {
        Verdict::Inconclusive
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn fixed_n_interval_by_hand() {
        // d = 0.01, 0.03, 0.02: mean 0.02, ss = 0.0002, s = 0.01,
        // se = 0.01/√3 = 0.005774, t(0.975, 2) = 4.302653:
        // 0.02 ± 0.024841 → exp(−0.004841) = 0.995171, exp(0.044841) = 1.045862.
        let l = LogRatios::of(&[0.01, 0.03, 0.02]).unwrap();
        assert!(close(l.mean, 0.02, 1e-15));
        assert!(close(l.ss, 0.0002, 1e-15));
        let i = l.t_interval(0.05).unwrap();
        assert!(close(i.low, 0.995171, 1e-6), "{i:?}");
        assert!(close(i.high, 1.045862, 1e-6), "{i:?}");
        assert!(close(l.ratio(), 0.02f64.exp(), 1e-15));
        assert!(LogRatios::of(&[0.1]).unwrap().t_interval(0.05).is_none());
        assert!(LogRatios::of(&[]).is_none());
        assert!(LogRatios::of(&[0.1, f64::NAN]).is_none());
    }

    #[test]
    fn sequence_interval_by_hand() {
        // n = 5, ρ = 1, α = 0.05: c = (20 · √6)^(2/5) = 48.98979^0.4 = 4.74288
        // (ln 48.98979 = 3.89161, · 0.4 = 1.55664); a = 5 (1 − 4.74288/6) =
        // 1.04760; d = 0, ±0.01, ±0.02: ss = 0.001;
        // half = √(3.74288 · 0.001 / 1.04760) = 0.059773.
        let d = [0.0, 0.01, -0.01, 0.02, -0.02];
        let l = LogRatios::of(&d).unwrap();
        let c: f64 = (20.0 * 6f64.sqrt()).powf(0.4);
        assert!(close(c, 4.74288, 1e-5), "{c}");
        let i = l.sequence_interval(0.05).unwrap();
        assert!(close(i.high.ln(), 0.059773, 1e-6), "{}", i.high.ln());
        assert!(close(i.low.ln(), -0.059773, 1e-6));
        // Its edges are where the martingale reaches 1/α = 20.
        assert!(close(mixture(&d, i.high.ln()), 20.0, 1e-6));
        assert!(close(mixture(&d, i.low.ln()), 20.0, 1e-6));
        assert!(mixture(&d, 0.0) < 20.0);
        // Wider than the fixed-n interval on the same data.
        let t = l.t_interval(0.05).unwrap();
        assert!(i.width_log() > t.width_log());
        // At n = 4 with ρ = 1: c = (20 √5)^(1/2) = 6.687, 1 − c/5 < 0: no
        // interval yet.
        assert!(
            LogRatios::of(&d[..4])
                .unwrap()
                .sequence_interval(0.05)
                .is_none()
        );
    }

    #[test]
    fn sequence_edges_hold_the_martingale_at_one_over_alpha_for_many_n() {
        // The first n with an interval: 5 at α = 0.05, 6 at 0.025 and 0.01.
        for n in 6..40 {
            let d: Vec<f64> = (0..n).map(|i| 0.01 * ((i * 7 % 5) as f64 - 2.0)).collect();
            let l = LogRatios::of(&d).unwrap();
            for alpha in [0.05, 0.025, 0.01] {
                let i = l.sequence_interval(alpha).unwrap();
                let m = mixture(&d, i.high.ln());
                assert!(close(m, 1.0 / alpha, 1e-6 / alpha), "n {n} α {alpha}: {m}");
            }
        }
    }

    #[test]
    fn rounds_to_decide_at_the_measured_spread() {
        // sd 0.07, estimate 1: inside ±2 % once the half-width is at most
        // ln 1.02 = 0.019803, at n = 163 (half 0.019748; at 162, 0.019807);
        // inside ±5 % (0.048790) at 28 (0.048250; at 27, 0.049255).
        let at = |mean: f64, sd: f64| LogRatios {
            n: 10,
            mean,
            ss: sd * sd * 9.0,
        };
        assert_eq!(at(0.0, 0.07).rounds_to_decide(0.025, 0.02), Some(163));
        assert_eq!(at(0.0, 0.07).rounds_to_decide(0.025, 0.05), Some(28));
        // Estimate e^−0.05, beyond the band: the interval must clear 1, a
        // half-width below 0.05, at n = 16 (0.048532; at 15, 0.050731).
        assert_eq!(at(-0.05, 0.05).rounds_to_decide(0.025, 0.02), Some(16));
        // Just inside the band's edge: a half-width of 0.0001 would be needed,
        // more than 10 000 rounds; with one round nothing is known.
        let edge = 0.98f64.ln() + 1e-4;
        assert_eq!(at(edge, 0.05).rounds_to_decide(0.025, 0.02), None);
        let one = LogRatios {
            n: 1,
            mean: 0.0,
            ss: 0.0,
        };
        assert_eq!(one.rounds_to_decide(0.025, 0.02), None);
    }

    #[test]
    fn same_within_is_the_farther_edge_from_one() {
        let iv = |low, high| Interval { low, high };
        // 1.07 − 1 = 0.07 beats 1 − 0.99 = 0.01.
        assert!(close(iv(0.99, 1.07).same_within(), 0.07, 1e-12));
        // 1 − 0.95 = 0.05 beats 1.03 − 1 = 0.03.
        assert!(close(iv(0.95, 1.03).same_within(), 0.05, 1e-12));
        // Wholly above 1: the upper edge, 0.05.
        assert!(close(iv(1.02, 1.05).same_within(), 0.05, 1e-12));
        // The band it gives says same (inside, edges included).
        let i = iv(0.95, 1.03);
        assert_eq!(verdict(Some(i), 0.99, i.same_within(), true), Verdict::Same);
    }

    #[test]
    fn verdicts_against_the_band() {
        let iv = |low, high| Some(Interval { low, high });
        // Inside ±2 %: same, whichever side the estimate is on.
        assert_eq!(verdict(iv(0.985, 1.01), 0.998, 0.02, true), Verdict::Same);
        // Below 1 and the estimate past the band's lower edge: slower.
        assert_eq!(verdict(iv(0.95, 0.99), 0.97, 0.02, true), Verdict::Slower);
        // Below 1 but the estimate within the band: not decided.
        assert_eq!(
            verdict(iv(0.97, 0.995), 0.985, 0.02, true),
            Verdict::Inconclusive
        );
        // Straddling 1 and wider than the band.
        assert_eq!(
            verdict(iv(0.95, 1.05), 1.0, 0.02, true),
            Verdict::Inconclusive
        );
        // Lower is better (TTFT): a ratio above the band is slower.
        assert_eq!(verdict(iv(1.03, 1.08), 1.05, 0.02, false), Verdict::Slower);
        assert_eq!(verdict(iv(1.03, 1.08), 1.05, 0.02, true), Verdict::Faster);
        assert_eq!(verdict(None, 1.0, 0.02, true), Verdict::Inconclusive);
    }
}
