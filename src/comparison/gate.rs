//! `compare --fail-on`: what in a comparison (of two runs, or of a run with a
//! reference) a CI job can fail on. Pure: each finding is a line naming the cell,
//! the metric and what was found; `compare` prints them and exits with
//! `Exit::Gate` when there is one.
//!
//! - `slower`: a metric B is worse in ("slower" is the verdict for worse,
//!   whichever way the metric points: a longer time to first token is slower),
//!   or a cell that ran in A (or was published as running) and failed in B.
//! - `changed`: that, a metric B is better in, and a cell whose outcome
//!   changed either way (ok → failed, failed → ok, another failure mode), or a
//!   cell in only one of the two runs.
//! - `any`: that, and every metric not shown to be the same (inconclusive).

use crate::reference::compare::{CellStanding, FailureStanding, RefComparison};
use crate::stats::compare::Verdict;

use super::Comparison;

/// What `--fail-on` fails on, from the narrowest to the widest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum FailOn {
    Slower,
    Changed,
    Any,
}

impl FailOn {
    /// As `--fail-on` takes it.
    pub fn name(self) -> &'static str {
        match self {
            FailOn::Slower => "slower",
            FailOn::Changed => "changed",
            FailOn::Any => "any",
        }
    }

    /// Whether a verdict counts.
    fn counts(self, v: Verdict) -> bool {
        match v {
            Verdict::Slower => true,
            Verdict::Faster => self >= FailOn::Changed,
            Verdict::Inconclusive => self >= FailOn::Any,
            Verdict::Same => false,
        }
    }
}

/// The findings of a comparison of two runs.
pub fn findings(c: &Comparison, on: FailOn) -> Vec<String> {
    let mut out = Vec::new();
    for cell in &c.cells {
        let id = cell.key.label();
        let regressed = cell.a.ok() && !cell.b.ok();
        let changed = cell.a.status != cell.b.status || cell.a.mode != cell.b.mode;
        if regressed || (on >= FailOn::Changed && changed) {
            out.push(format!(
                "{id}: {} in A, {} in B",
                cell.a.text(),
                cell.b.text()
            ));
        }
        for m in &cell.metrics {
            if let Some(v) = m.verdict.filter(|v| on.counts(*v)) {
                out.push(metric_finding(&id, m.metric, v, m.ratio));
            }
        }
    }
    if on >= FailOn::Changed {
        for id in &c.only_in_a {
            out.push(format!("{id}: in A only"));
        }
        for id in &c.only_in_b {
            out.push(format!("{id}: in B only"));
        }
    }
    out
}

/// The findings of a run against a reference (B is the run, A the published).
pub fn reference_findings(c: &RefComparison, on: FailOn) -> Vec<String> {
    let mut out = Vec::new();
    for cell in &c.cells {
        if let CellStanding::FailedWherePublishedRan(_) = cell.status {
            out.push(format!("{}: {}", cell.cell, cell.status));
        }
        for m in &cell.metrics {
            if let Some(v) = m.verdict.filter(|v| on.counts(*v)) {
                out.push(metric_finding(&cell.cell, m.metric, v, m.ratio));
            }
        }
    }
    for t in &c.llama_bench {
        if let Some(v) = t.verdict.filter(|v| on.counts(*v)) {
            out.push(format!(
                "llama-bench {}: {}{}",
                t.test,
                v.as_str(),
                ratio_text(t.ratio.map(|r| r.ratio))
            ));
        }
    }
    if on >= FailOn::Changed {
        for f in &c.failures {
            let changed = match f.status {
                FailureStanding::NotRun | FailureStanding::FailedAsPublished => false,
                FailureStanding::RanWherePublishedFailed { .. }
                | FailureStanding::FailedAnotherWay => true,
            };
            if changed {
                out.push(format!("{}: {}", f.configuration, f.status));
            }
        }
    }
    out
}

/// "CELL: gen t/s slower (0.700×)".
fn metric_finding(
    cell: &str,
    metric: crate::metric::Metric,
    v: Verdict,
    ratio: Option<crate::stats::compare::Ratio>,
) -> String {
    format!(
        "{cell}: {} {}{}",
        metric.short(),
        v.as_str(),
        ratio_text(ratio.map(|r| r.ratio))
    )
}

fn ratio_text(r: Option<f64>) -> String {
    r.map(|r| format!(" ({r:.3}×)")).unwrap_or_default()
}

#[cfg(test)]
mod tests;
