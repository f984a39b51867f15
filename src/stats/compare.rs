//! Comparing two sets of measured runs: Welch's t-test, the ratio of the two
//! means with its 95 % interval, Holm's adjustment across the cells of a
//! comparison, a verdict against a noise band, and a first-run outlier check.
//! Pure functions of numbers.
//!
//! - Welch: t = (m_A − m_B) / √(v_A/n_A + v_B/n_B), Welch–Satterthwaite degrees
//!   of freedom, two-sided p from Student's t (`statrs`).
//! - Ratio m_B / m_A: the delta method on the log scale, se² = v_A/(n_A m_A²) +
//!   v_B/(n_B m_B²), interval ratio · exp(± t(0.975, df) · se) with the
//!   Welch–Satterthwaite df of those two terms.
//! - Holm: the i-th smallest of m p-values times (m − i + 1), made monotone, at
//!   most 1.
//! - Verdict of B against A at significance 0.05 and band ±b: `same` when the
//!   ratio's interval lies inside [1 − b, 1 + b]; `faster`/`slower` when it lies
//!   wholly outside the band and the adjusted p < 0.05 (for a metric where lower
//!   is better, such as TTFT, a ratio below the band is `faster`);
//!   `inconclusive` otherwise.
//! - Outlier: the modified z-score 0.6745 (x − median) / MAD (Iglewicz and
//!   Hoaglin); |z| > 3.5 is an outlier.

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, StudentsT};

/// Default noise band: ±2 %.
pub const DEFAULT_BAND: f64 = 0.02;
/// Significance level of a verdict.
pub const ALPHA: f64 = 0.05;
/// Modified z-score above which a value is an outlier.
pub const OUTLIER_Z: f64 = 3.5;

/// Welch–Satterthwaite degrees of freedom of two variance terms.
fn satterthwaite(a: f64, na: f64, b: f64, nb: f64) -> f64 {
    let denom = a * a / (na - 1.0) + b * b / (nb - 1.0);
    if denom > 0.0 {
        (a + b).powi(2) / denom
    } else {
        na + nb - 2.0
    }
}

fn students_t(df: f64) -> Option<StudentsT> {
    StudentsT::new(0.0, 1.0, df).ok()
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Welch {
    pub t: f64,
    pub df: f64,
    /// Two-sided.
    pub p: f64,
}

/// A side of a comparison given by its summary: count, mean, sample variance
/// (a published "mean ± sd, n = 4" is `Moments { n: 4.0, mean, var: sd² }`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Moments {
    pub n: f64,
    pub mean: f64,
    pub var: f64,
}

impl Moments {
    /// From measured values (at least two, all finite): `stats::summarize`'s
    /// mean and sample sd.
    pub fn of(values: &[f64]) -> Option<Self> {
        Self::of_summary(&super::summarize(values)?)
    }

    /// From a summary of at least two values.
    pub fn of_summary(s: &super::Summary) -> Option<Self> {
        let sd = s.sd?;
        Some(Moments {
            n: s.n as f64,
            mean: s.mean,
            var: sd * sd,
        })
    }

    /// From a published mean, sd and n (n ≥ 2).
    pub fn published(mean: f64, sd: f64, n: u32) -> Option<Self> {
        (n >= 2 && mean.is_finite() && sd.is_finite()).then_some(Moments {
            n: f64::from(n),
            mean,
            var: sd * sd,
        })
    }
}

/// Welch's t-test of A against B; `None` with fewer than two values on a side.
/// Both sides without spread: p = 1 when the means are equal, else 0.
pub fn welch(a: &[f64], b: &[f64]) -> Option<Welch> {
    welch_of(Moments::of(a)?, Moments::of(b)?)
}

/// Welch's t-test from the two sides' summaries.
pub fn welch_of(a: Moments, b: Moments) -> Option<Welch> {
    let (na, ma, va, nb, mb, vb) = (a.n, a.mean, a.var, b.n, b.mean, b.var);
    let (ca, cb) = (va / na, vb / nb);
    let se = (ca + cb).sqrt();
    let df = satterthwaite(ca, na, cb, nb);
    if se == 0.0 {
        let equal = ma == mb;
        return Some(Welch {
            t: if equal {
                0.0
            } else {
                f64::INFINITY.copysign(ma - mb)
            },
            df,
            p: if equal { 1.0 } else { 0.0 },
        });
    }
    let t = (ma - mb) / se;
    let p = 2.0 * (1.0 - students_t(df)?.cdf(t.abs()));
    Some(Welch {
        t,
        df,
        p: p.clamp(0.0, 1.0),
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Ratio {
    /// mean(B) / mean(A).
    pub ratio: f64,
    pub ci95_low: f64,
    pub ci95_high: f64,
}

/// The ratio mean(B) / mean(A) with its 95 % interval; `None` with fewer than
/// two values on a side or a mean that is not positive.
pub fn ratio(a: &[f64], b: &[f64]) -> Option<Ratio> {
    ratio_of(Moments::of(a)?, Moments::of(b)?)
}

/// The ratio B/A from the two sides' summaries.
pub fn ratio_of(a: Moments, b: Moments) -> Option<Ratio> {
    let (na, ma, va, nb, mb, vb) = (a.n, a.mean, a.var, b.n, b.mean, b.var);
    if ma <= 0.0 || mb <= 0.0 {
        return None;
    }
    let r = mb / ma;
    let (ca, cb) = (va / (na * ma * ma), vb / (nb * mb * mb));
    let se = (ca + cb).sqrt();
    if se == 0.0 {
        return Some(Ratio {
            ratio: r,
            ci95_low: r,
            ci95_high: r,
        });
    }
    let q = students_t(satterthwaite(ca, na, cb, nb))?.inverse_cdf(0.975);
    Some(Ratio {
        ratio: r,
        ci95_low: r * (-q * se).exp(),
        ci95_high: r * (q * se).exp(),
    })
}

/// Holm's step-down adjustment of `p`, in the given order.
pub fn holm(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&i, &j| p[i].total_cmp(&p[j]));
    let mut out = vec![0.0; m];
    let mut running: f64 = 0.0;
    for (rank, &i) in order.iter().enumerate() {
        let adj = (p[i] * (m - rank) as f64).min(1.0);
        running = running.max(adj);
        out[i] = running;
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Faster,
    Slower,
    Same,
    Inconclusive,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Faster => "faster",
            Verdict::Slower => "slower",
            Verdict::Same => "same",
            Verdict::Inconclusive => "inconclusive",
        }
    }
}

/// B's verdict against A from the ratio B/A, the adjusted p and the band.
pub fn verdict(r: &Ratio, p_adjusted: f64, band: f64, higher_is_better: bool) -> Verdict {
    let (lo, hi) = (1.0 - band, 1.0 + band);
    if r.ci95_low >= lo && r.ci95_high <= hi {
        return Verdict::Same;
    }
    if p_adjusted < ALPHA {
        if r.ci95_low > hi {
            return if higher_is_better {
                Verdict::Faster
            } else {
                Verdict::Slower
            };
        }
        if r.ci95_high < lo {
            return if higher_is_better {
                Verdict::Slower
            } else {
                Verdict::Faster
            };
        }
    }
    Verdict::Inconclusive
}

/// One metric's test of one matched cell, as `decide` sees it: its Welch p (or
/// none, when the cell cannot be tested), its ratio, and where the adjusted p
/// and the verdict go.
pub trait Tested {
    fn p(&self) -> Option<f64>;
    fn ratio(&self) -> Option<Ratio>;
    fn decided(&mut self, p_adjusted: f64, verdict: Option<Verdict>);
}

/// Holm-adjusts one metric's p-values across the tests given (the matched cells
/// of a comparison) and gives each tested one its verdict against the band; a
/// test without a p is left as it is and does not count in the adjustment.
pub fn decide<'a, T: Tested + 'a>(
    tests: impl IntoIterator<Item = &'a mut T>,
    band: f64,
    higher_is_better: bool,
) {
    let mut tested: Vec<&mut T> = tests.into_iter().filter(|t| t.p().is_some()).collect();
    let p: Vec<f64> = tested.iter().filter_map(|t| t.p()).collect();
    for (t, adj) in tested.iter_mut().zip(holm(&p)) {
        let v = t.ratio().map(|r| verdict(&r, adj, band, higher_is_better));
        t.decided(adj, v);
    }
}

/// Most runs per side `runs_to_decide` looks at.
const MAX_RUNS_TO_DECIDE: u32 = 10_000;

/// A planning figure for an inconclusive cell: the fewest runs per side at
/// which the ratio's 95 % interval, at the measured means and relative spreads,
/// would be narrow enough to decide, lying inside the band (`same`) when the
/// ratio is inside it, outside it when the ratio is outside. On the log scale
/// the interval is ln r ± t(0.975, df) · √((cv_A² + cv_B²) / n), and it must
/// fit in the distance from ln r to the nearer edge, ln(1 − b) or ln(1 + b).
/// `None`: a ratio on an edge, a mean not positive, or more than 10 000 runs.
pub fn runs_to_decide(a: Moments, b: Moments, band: f64) -> Option<u32> {
    if a.mean <= 0.0 || b.mean <= 0.0 {
        return None;
    }
    let lr = (b.mean / a.mean).ln();
    let d = (lr - (1.0 - band).ln())
        .abs()
        .min(((1.0 + band).ln() - lr).abs());
    if d <= 0.0 {
        return None;
    }
    let (ca, cb) = (a.var / (a.mean * a.mean), b.var / (b.mean * b.mean));
    (2..=MAX_RUNS_TO_DECIDE).find(|&n| {
        let nf = f64::from(n);
        let q = students_t(satterthwaite(ca / nf, nf, cb / nf, nf))
            .map_or(f64::INFINITY, |t| t.inverse_cdf(0.975));
        q * ((ca + cb) / nf).sqrt() <= d
    })
}

/// The modified z-score of `x` among `values` (which include it); `None` for
/// fewer than three values. With a MAD of 0, any value off the median is
/// infinitely far.
pub fn modified_z(x: f64, values: &[f64]) -> Option<f64> {
    if values.len() < 3 || values.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let med = super::median(values);
    let dev: Vec<f64> = values.iter().map(|v| (v - med).abs()).collect();
    let mad = super::median(&dev);
    if mad == 0.0 {
        return Some(if x == med {
            0.0
        } else {
            f64::INFINITY.copysign(x - med)
        });
    }
    Some(0.6745 * (x - med) / mad)
}

#[cfg(test)]
mod tests;
