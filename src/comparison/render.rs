//! A comparison as Markdown: the two runs, what differs in their setups, a table
//! per metric (cell, A, B, B/A with its interval, p, adjusted p, verdict; a failed
//! side shown as its outcome), warnings and unmatched cells. A pure function.

use std::fmt::Write as _;

use super::{Comparison, METRICS};
use crate::report::markdown::{escape_cell, mean_sd, table};
use crate::report::system::Rows;

/// Shortens a setup value for a table cell (and escapes `|`).
pub fn short(v: Option<&String>) -> String {
    let s = match v {
        None => return "—".to_string(),
        Some(s) if s.chars().count() > 90 => {
            let head: String = s.chars().take(87).collect();
            format!("{head}…")
        }
        Some(s) => s.clone(),
    };
    escape_cell(&s)
}

fn p_text(p: f64) -> String {
    if p < 0.001 {
        "<0.001".to_string()
    } else {
        format!("{p:.3}")
    }
}

/// The verdict rule in words.
pub fn rule(band: f64) -> String {
    format!(
        "Verdicts say how B does against A, with a noise band of ±{:.0} %: **same** when the 95 % interval of B/A lies inside the band; **faster** or **slower** when it lies wholly outside and Welch's p, Holm-adjusted across the cells, is below 0.05; **inconclusive** otherwise, with the runs per side that would decide it if the means and spreads stayed as measured (a planning figure).",
        band * 100.0
    )
}

/// What differs in the setup, as table rows; `None` when nothing does.
pub fn setup_rows(c: &Comparison) -> Option<Rows> {
    if c.setup.is_empty() {
        return None;
    }
    let rows = c
        .setup
        .iter()
        .map(|d| vec![d.field.clone(), short(d.a.as_ref()), short(d.b.as_ref())])
        .collect();
    Some((vec!["field".into(), "A".into(), "B".into()], rows))
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
pub fn metric_rows(c: &Comparison, mi: usize) -> Rows {
    let decimals = if mi == 0 { 1 } else { 0 };
    let rows = c
        .cells
        .iter()
        .map(|cell| {
            let m = &cell.metrics[mi];
            let side = |s: &Option<crate::stats::Summary>, o: &super::Outcome| {
                if !o.ok() {
                    return o.text();
                }
                s.as_ref()
                    .map(|s| format!("{} (n={})", mean_sd(s, decimals), s.n))
                    .unwrap_or_else(|| o.text())
            };
            vec![
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
        })
        .collect();
    (
        vec![
            "cell".into(),
            "A".into(),
            "B".into(),
            "B/A (95 % CI)".into(),
            "p".into(),
            "p adj.".into(),
            "verdict".into(),
        ],
        rows,
    )
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
    let _ = writeln!(out, "{}\n", rule(c.band));
    let _ = writeln!(out, "## What differs in the setup\n");
    match setup_rows(c) {
        None => {
            let _ = writeln!(out, "Nothing the manifests record differs.\n");
        }
        Some((header, rows)) => {
            out.push_str(&table(header, rows));
            out.push('\n');
        }
    }
    for (mi, metric) in METRICS.into_iter().enumerate() {
        let title = metric.title();
        let _ = writeln!(out, "## {title}\n");
        let (header, rows) = metric_rows(c, mi);
        out.push_str(&table(header, rows));
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
