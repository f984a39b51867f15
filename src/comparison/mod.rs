//! `rigbench compare A B`: cells of two runs matched by (backend, source when the
//! plan has several, model, variant, prompt tokens); per metric the two summaries,
//! Welch's test, the ratio B/A with its interval, Holm-adjusted p across the
//! matched cells, and a verdict against the noise band; failures against
//! successes shown as such; what differs in the setup above it all. Pure
//! functions of two manifests; `render` turns the result into Markdown.

pub mod gate;
pub mod hosts;
pub mod html;
pub mod key_backend;
pub mod paired;
pub mod render;
pub mod setup;
pub mod within;

use serde::{Deserialize, Serialize};

pub use key_backend::KeyBackend;

use crate::manifest::{Cell, Manifest};
use crate::metric::Metric;
use crate::stats::compare::{
    Moments, Ratio, Tested, Verdict, Welch, decide, modified_z, ratio, runs_to_decide, welch,
};
use crate::stats::{Summary, summarize};
use crate::status::{CellStatus, FailureMode};

/// The metrics compared, in the order of `CellComparison::metrics`.
pub const METRICS: [Metric; 3] = Metric::HEADLINE;

/// How cells are matched across runs: what a cell is, as text (a within-run
/// comparison writes its compared field as "a→b").
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CellKey {
    pub backend: KeyBackend,
    /// The source's name when the run's plan has several; empty otherwise.
    pub source: String,
    pub model: String,
    pub variant: String,
    pub prompt_tokens: u32,
}

impl CellKey {
    /// The key of cell `c` of run `m`.
    pub fn of(m: &Manifest, c: &Cell) -> Self {
        CellKey {
            backend: KeyBackend::One(c.backend),
            source: m.source_label(c).unwrap_or_default().to_string(),
            model: m.model_identity(&c.model),
            variant: c.variant.name.clone(),
            prompt_tokens: c.prompt_tokens,
        }
    }

    /// The key with the field the within-run comparison `s` splits on read
    /// as its pair ("a→b").
    pub fn within(m: &Manifest, c: &Cell, s: &within::Split) -> Self {
        let mut k = CellKey::of(m, c);
        match s.field {
            // Backends' names, as split found them in the run: always a pair.
            within::Field::Backend => {
                if let Some(pair) = KeyBackend::parse(&s.label) {
                    k.backend = pair;
                }
            }
            within::Field::Source => k.source = s.label.clone(),
            within::Field::Model => k.model = s.label.clone(),
            within::Field::Variant => k.variant = s.label.clone(),
        }
        k
    }

    pub fn label(&self) -> String {
        let src = if self.source.is_empty() {
            String::new()
        } else {
            format!("@{}", self.source)
        };
        format!(
            "{}{src} {} {} p{}",
            self.backend, self.model, self.variant, self.prompt_tokens
        )
    }
}

/// One metric of one matched cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricComparison {
    pub metric: Metric,
    pub a: Option<Summary>,
    pub b: Option<Summary>,
    pub welch: Option<Welch>,
    pub ratio: Option<Ratio>,
    /// Holm-adjusted across the matched cells, for this metric.
    pub p_adjusted: Option<f64>,
    pub verdict: Option<Verdict>,
    /// For an inconclusive verdict: runs per side that would decide it at the
    /// measured means and spreads (`stats::compare::runs_to_decide`).
    pub runs_to_decide: Option<u32>,
}

impl Tested for MetricComparison {
    fn p(&self) -> Option<f64> {
        self.welch.map(|w| w.p)
    }
    fn ratio(&self) -> Option<Ratio> {
        self.ratio
    }
    fn decided(&mut self, p_adjusted: f64, verdict: Option<Verdict>) {
        self.p_adjusted = Some(p_adjusted);
        self.verdict = verdict;
    }
}

/// A cell's outcome in one run: "ok 4/4", "crash 0/4", "pending".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    pub status: CellStatus,
    /// The failure mode, when the cell failed.
    pub mode: Option<FailureMode>,
    /// Measured runs that passed their checks / planned measured runs (or the
    /// runs a precision target added).
    pub valid_runs: usize,
    pub planned_runs: u32,
}

impl Outcome {
    fn of(c: &Cell, planned_runs: u32) -> Self {
        Outcome {
            status: c.status,
            mode: c.failure.as_ref().map(|f| f.mode),
            valid_runs: c.values(Metric::GenTps).len(),
            planned_runs,
        }
    }

    pub fn text(&self) -> String {
        let what = self.mode.map_or(self.status.name(), |m| m.name());
        format!("{what} {}/{}", self.valid_runs, self.planned_runs)
    }

    pub fn ok(&self) -> bool {
        self.status == CellStatus::Ok
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellComparison {
    pub key: CellKey,
    pub a: Outcome,
    pub b: Outcome,
    pub metrics: Vec<MetricComparison>,
    /// First-run outliers and the like.
    pub warnings: Vec<String>,
}

impl CellComparison {
    /// Whether the cell ran in both runs (else there is nothing to compare).
    pub fn both_ok(&self) -> bool {
        self.a.ok() && self.b.ok()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub a: String,
    pub b: String,
    pub band: f64,
    pub setup: Vec<setup::Difference>,
    pub cells: Vec<CellComparison>,
    pub only_in_a: Vec<String>,
    pub only_in_b: Vec<String>,
}

/// The first measured run's value, when it is an outlier among the measured runs.
fn first_run_outlier(c: &Cell, metric: Metric) -> Option<(f64, f64)> {
    let v = c.values(metric);
    let first = *v.first()?;
    let z = modified_z(first, &v)?;
    (z.abs() > crate::stats::compare::OUTLIER_Z).then_some((first, z))
}

/// Compares run B against run A.
pub fn compare(a_name: &str, a: &Manifest, b_name: &str, b: &Manifest, band: f64) -> Comparison {
    compare_by(a_name, a, b_name, b, band, &CellKey::of)
}

/// Compares the two sides of one run split by `within::split`.
pub fn compare_within(a_name: &str, b_name: &str, s: &within::Split, band: f64) -> Comparison {
    let key = |m: &Manifest, c: &Cell| CellKey::within(m, c, s);
    Comparison {
        setup: setup::differences_within(s),
        ..compare_by(a_name, &s.a, b_name, &s.b, band, &key)
    }
}

/// Compares B against A, matching cells on `key`.
fn compare_by(
    a_name: &str,
    a: &Manifest,
    b_name: &str,
    b: &Manifest,
    band: f64,
    key_of: &dyn Fn(&Manifest, &Cell) -> CellKey,
) -> Comparison {
    let mut cells = Vec::new();
    let mut only_in_a = Vec::new();
    for ca in &a.cells {
        let key = key_of(a, ca);
        let Some(cb) = b.cells.iter().find(|x| key_of(b, x) == key) else {
            only_in_a.push(ca.id.clone());
            continue;
        };
        let oa = Outcome::of(ca, a.plan.bench.runs.max(ca.measured_runs()));
        let ob = Outcome::of(cb, b.plan.bench.runs.max(cb.measured_runs()));
        let mut metrics = Vec::new();
        for metric in METRICS {
            let (va, vb) = (ca.values(metric), cb.values(metric));
            let both = oa.ok() && ob.ok();
            metrics.push(MetricComparison {
                metric,
                a: summarize(&va),
                b: summarize(&vb),
                welch: if both { welch(&va, &vb) } else { None },
                ratio: if both { ratio(&va, &vb) } else { None },
                p_adjusted: None,
                verdict: None,
                runs_to_decide: None,
            });
        }
        let mut warnings = Vec::new();
        for (side, c) in [("A", ca), ("B", cb)] {
            if let Some((x, z)) = first_run_outlier(c, Metric::GenTps) {
                warnings.push(format!(
                    "{side}: the first measured run's generation ({x:.1} t/s) is an outlier (modified z {z:.1}); a longer warm-up may be needed"
                ));
            }
        }
        cells.push(CellComparison {
            key,
            a: oa,
            b: ob,
            metrics,
            warnings,
        });
    }
    let only_in_b = b
        .cells
        .iter()
        .filter(|cb| !a.cells.iter().any(|ca| key_of(a, ca) == key_of(b, cb)))
        .map(|c| c.id.clone())
        .collect();
    // Holm across the matched cells, metric by metric.
    for (mi, metric) in METRICS.into_iter().enumerate() {
        decide(
            cells.iter_mut().map(|c| &mut c.metrics[mi]),
            band,
            metric.higher_is_better(),
        );
    }
    for m in cells.iter_mut().flat_map(|c| c.metrics.iter_mut()) {
        if m.verdict == Some(Verdict::Inconclusive) {
            let moments = |s: &Option<Summary>| s.as_ref().and_then(Moments::of_summary);
            if let (Some(ma), Some(mb)) = (moments(&m.a), moments(&m.b)) {
                m.runs_to_decide = runs_to_decide(ma, mb, band);
            }
        }
    }
    Comparison {
        a: a_name.to_string(),
        b: b_name.to_string(),
        band,
        setup: setup::differences(a, b),
        cells,
        only_in_a,
        only_in_b,
    }
}

#[cfg(test)]
mod tests;
