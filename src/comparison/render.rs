//! A comparison as Markdown: the two runs, what differs in their setups, a table
//! per metric (cell, A, B, B/A with its interval, p, adjusted p, verdict; a failed
//! side shown as its outcome), warnings and unmatched cells. A pure function.

use std::fmt::Write as _;

use super::{Comparison, METRICS};
use crate::render::{Table, Text, markdown, mean_sd, short};

fn p_text(p: f64) -> String {
    if p < 0.001 {
        "<0.001".to_string()
    } else {
        format!("{p:.3}")
    }
}

/// The verdict rule in words.
pub fn rule(band: f64) -> Text {
    Text::plain(format!(
        "Verdicts say how B does against A, with a noise band of ±{:.0} %: ",
        band * 100.0
    ))
    .then_strong("same")
    .then(" when the 95 % interval of B/A lies inside the band; ")
    .then_strong("faster")
    .then(" or ")
    .then_strong("slower")
    .then(" when it lies wholly outside and Welch's p, Holm-adjusted across the cells, is below 0.05; ")
    .then_strong("inconclusive")
    .then(" otherwise, with the runs per side that would decide it if the means and spreads stayed as measured (a planning figure).")
}

/// What differs in the setup, as a table; `None` when nothing does.
pub fn setup_rows(c: &Comparison) -> Option<Table> {
    if c.setup.is_empty() {
        return None;
    }
    let rows = c
        .setup
        .iter()
        .map(|d| [d.field.clone(), short(d.a.as_ref()), short(d.b.as_ref())]);
    Some(Table::new(["field", "A", "B"]).with_rows(rows))
}

/// A cell's verdict column: a failure against a success as both outcomes, an
/// inconclusive verdict with the runs that would decide it.
pub fn verdict_text(cell: &super::CellComparison, m: &super::MetricComparison) -> String {
    if !cell.both_ok() {
        return format!("A: {}, B: {}", cell.a.text(), cell.b.text());
    }
    match (m.verdict, m.runs_to_decide) {
        (Some(v), Some(n)) => format!("{} (≈{n} runs a side)", v.as_str()),
        (Some(v), None) => v.as_str().to_string(),
        (None, _) => "—".to_string(),
    }
}

/// Metric `mi`'s table: cell, A, B, B/A with its interval, p, adjusted p,
/// verdict.
pub fn metric_rows(c: &Comparison, mi: usize) -> Table {
    let decimals = METRICS[mi].decimals();
    let rows = c.cells.iter().map(|cell| {
        let m = &cell.metrics[mi];
        let side = |s: &Option<crate::stats::Summary>, o: &super::Outcome| {
            if !o.ok() {
                return o.text();
            }
            s.as_ref()
                .map(|s| format!("{} (n={})", mean_sd(s, decimals), s.n))
                .unwrap_or_else(|| o.text())
        };
        [
            cell.key.label(),
            side(&m.a, &cell.a),
            side(&m.b, &cell.b),
            m.ratio.map_or("—".to_string(), |r| {
                format!("{:.3} ({:.3}–{:.3})", r.ratio, r.ci95_low, r.ci95_high)
            }),
            m.welch.map_or("—".to_string(), |w| p_text(w.p)),
            m.p_adjusted.map_or("—".to_string(), p_text),
            verdict_text(cell, m),
        ]
    });
    Table::new(["cell", "A", "B", "B/A (95 % CI)", "p", "p adj.", "verdict"]).with_rows(rows)
}

/// Each cell's warnings, labelled.
pub fn warnings(c: &Comparison) -> Vec<String> {
    c.cells
        .iter()
        .flat_map(|cell| {
            cell.warnings
                .iter()
                .map(|w| format!("{}: {w}", cell.key.label()))
        })
        .collect()
}

pub fn markdown(c: &Comparison) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# rigbench compare\n\nA: {}\nB: {}\n", c.a, c.b);
    let _ = writeln!(out, "{}\n", markdown::text(&rule(c.band)));
    let _ = writeln!(out, "## What differs in the setup\n");
    match setup_rows(c) {
        None => {
            let _ = writeln!(out, "Nothing the manifests record differs.\n");
        }
        Some(t) => {
            out.push_str(&markdown::table(&t));
            out.push('\n');
        }
    }
    for (mi, metric) in METRICS.into_iter().enumerate() {
        let title = metric.title();
        let _ = writeln!(out, "## {title}\n");
        out.push_str(&markdown::table(&metric_rows(c, mi)));
        out.push('\n');
    }
    let warnings = warnings(c);
    if !warnings.is_empty() {
        let list: Vec<String> = warnings.iter().map(|w| format!("- {w}")).collect();
        let _ = writeln!(out, "## Warnings\n\n{}\n", list.join("\n"));
    }
    for (title, ids) in [("Only in A", &c.only_in_a), ("Only in B", &c.only_in_b)] {
        if !ids.is_empty() {
            let _ = writeln!(out, "## {title}\n\n{}\n", ids.join("\n"));
        }
    }
    out
}
