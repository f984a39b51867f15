//! An interleaved A/B's paired comparison (`plan::ab`): each arm's cells
//! matched with the baseline arm's on everything no arm names (and the prompt
//! length); per round the ratio of the two cells' means; then the geometric
//! mean ratio with its fixed-n interval, its confidence sequence (valid
//! whenever the run stopped) and the verdict from the sequence
//! (`stats::paired`), with Welch's ratio interval on the same runs beside it
//! for comparison. Pure functions of a manifest.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::manifest::{Cell, Manifest};
use crate::metric::Metric;
use crate::plan::CellSelector;
use crate::plan::ab::Ab;
use crate::stats::compare::{Ratio, Verdict, ratio};
use crate::stats::paired::{Interval, LogRatios, verdict};

/// One arm's cell against the baseline's, on one metric.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairedCell {
    /// The baseline arm's cell and this arm's.
    pub a: String,
    pub b: String,
    /// Index of B's arm in `ab.arms`.
    pub arm: usize,
    pub metric: Metric,
    /// Rounds in which both cells have a counted run.
    pub rounds: usize,
    /// The geometric mean of the per-round ratios B/A.
    pub ratio: Option<f64>,
    /// 95 % interval for this many rounds fixed in advance.
    pub fixed: Option<Interval>,
    /// The confidence sequence's interval at level 1 − `alpha_each`.
    pub sequence: Option<Interval>,
    /// Welch's 95 % ratio interval on the same runs, unpaired.
    pub welch: Option<Ratio>,
    /// From the sequence's interval.
    pub verdict: Verdict,
    /// For an open verdict: the rounds that would decide it at the measured
    /// mean and spread (a planning figure, `LogRatios::rounds_to_decide`).
    pub rounds_to_decide: Option<usize>,
}

impl PairedCell {
    pub fn decided(&self) -> bool {
        self.verdict != Verdict::Inconclusive
    }
}

/// The whole A/B.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Paired {
    pub cells: Vec<PairedCell>,
    /// The level each sequence is at: α over the number of intervals decided
    /// together (Bonferroni).
    pub alpha_each: f64,
    /// Cells of an arm with no partner in the baseline arm (or the other way).
    pub unpaired: Vec<String>,
}

impl Paired {
    /// Every interval decided (and at least one to decide).
    pub fn all_decided(&self) -> bool {
        !self.cells.is_empty() && self.cells.iter().all(PairedCell::decided)
    }

    /// The cells whose verdict is still open, by id (both sides).
    pub fn undecided_cells(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .cells
            .iter()
            .filter(|c| !c.decided())
            .flat_map(|c| [c.a.clone(), c.b.clone()])
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }
}

/// Whether `sel` picks cell `c` (as the matrix's rules pick cells).
pub fn picks(sel: &CellSelector, c: &Cell) -> bool {
    crate::plan::matrix::picks(sel, c.backend, &c.source, &c.model, &c.variant.name)
}

/// What pairs a cell with its partner: the fields no arm names, and the
/// prompt length.
fn pair_key(ab: &Ab, c: &Cell) -> Vec<String> {
    let named = |f: fn(&CellSelector) -> bool| ab.arms.iter().any(f);
    let mut k = Vec::new();
    if !named(|a| a.backend.is_some()) {
        k.push(c.backend.name().to_string());
    }
    if !named(|a| a.source.is_some()) {
        k.push(c.source.clone());
    }
    if !named(|a| a.model.is_some()) {
        k.push(c.model.clone());
    }
    if !named(|a| a.variant.is_some()) {
        k.push(c.variant.name.clone());
    }
    k.push(format!("p{}", c.prompt_tokens));
    k
}

/// A cell's mean of `metric` per round, over its counted measured runs.
pub fn round_means(c: &Cell, metric: Metric) -> BTreeMap<u32, f64> {
    let mut sums: BTreeMap<u32, (f64, u32)> = BTreeMap::new();
    for r in c.runs.iter().filter(|r| !r.warmup && r.checks.all()) {
        let e = sums.entry(r.round).or_insert((0.0, 0));
        e.0 += r.value(metric);
        e.1 += 1;
    }
    sums.into_iter()
        .map(|(round, (s, n))| (round, s / f64::from(n)))
        .collect()
}

/// The per-round log-ratios ln(B/A) of two cells, over the rounds both have.
pub fn log_ratios(a: &Cell, b: &Cell, metric: Metric) -> Vec<f64> {
    let ma = round_means(a, metric);
    let mb = round_means(b, metric);
    ma.iter()
        .filter_map(|(round, va)| {
            let vb = mb.get(round)?;
            (*va > 0.0 && *vb > 0.0).then(|| (vb / va).ln())
        })
        .collect()
}

/// The A/B of run `m` under `ab`.
pub fn paired(m: &Manifest, ab: &Ab) -> Paired {
    let arm_of = |c: &Cell| ab.arms.iter().position(|s| picks(s, c));
    let baseline: Vec<&Cell> = m.cells.iter().filter(|c| arm_of(c) == Some(0)).collect();
    let mut pairs: Vec<(usize, &Cell, &Cell)> = Vec::new();
    let mut unpaired = Vec::new();
    let mut partnered = vec![false; baseline.len()];
    for c in &m.cells {
        let Some(arm) = arm_of(c).filter(|&a| a > 0) else {
            continue;
        };
        let key = pair_key(ab, c);
        match baseline.iter().position(|a| pair_key(ab, a) == key) {
            Some(i) => {
                partnered[i] = true;
                pairs.push((arm, baseline[i], c));
            }
            None => unpaired.push(c.id.clone()),
        }
    }
    for (a, p) in baseline.iter().zip(&partnered) {
        if !p {
            unpaired.push(a.id.clone());
        }
    }
    let tests = (pairs.len() * ab.metrics.len()).max(1);
    let alpha_each = ab.alpha / tests as f64;
    let mut cells = Vec::new();
    for (arm, a, b) in pairs {
        for &metric in &ab.metrics {
            let l = LogRatios::of(&log_ratios(a, b, metric));
            let r = l.as_ref().map(LogRatios::ratio);
            let sequence = l.as_ref().and_then(|l| l.sequence_interval(alpha_each));
            let verdict = r.map_or(Verdict::Inconclusive, |r| {
                verdict(sequence, r, ab.band, metric.higher_is_better())
            });
            let rounds_to_decide = l
                .as_ref()
                .filter(|_| verdict == Verdict::Inconclusive)
                .and_then(|l| l.rounds_to_decide(alpha_each, ab.band));
            cells.push(PairedCell {
                a: a.id.clone(),
                b: b.id.clone(),
                arm,
                metric,
                rounds: l.as_ref().map_or(0, |l| l.n),
                ratio: r,
                fixed: l.as_ref().and_then(|l| l.t_interval(0.05)),
                sequence,
                welch: ratio(&a.values(metric), &b.values(metric)),
                verdict,
                rounds_to_decide,
            });
        }
    }
    Paired {
        cells,
        alpha_each,
        unpaired,
    }
}

#[cfg(test)]
mod tests;
