//! A run against a published reference, as Markdown: the setup facts side by
//! side, a table per headline metric with each published cell's figure, the
//! run's, their ratio and the verdict, then the published failures. A pure
//! function of `compare::RefComparison`.

use std::fmt::Write as _;

use super::compare::{CellStanding, RefComparison};
use crate::metric::Metric;
use crate::render::{Table, Text, markdown as md, mean_sd, short};

/// A table of published figures against the run's, its rows named `first`.
fn compared_table(first: &str) -> Table {
    Table::new([
        first,
        "published",
        "yours",
        "yours ÷ published (95 % CI)",
        "p adj.",
        "verdict",
    ])
}

fn ratio_text(r: Option<crate::stats::compare::Ratio>) -> String {
    r.map_or("—".to_string(), |r| {
        format!("{:.3} ({:.3}–{:.3})", r.ratio, r.ci95_low, r.ci95_high)
    })
}

fn p_text(p: Option<f64>) -> String {
    p.map_or("—".to_string(), |p| format!("{p:.3}"))
}

/// The comparison as Markdown.
pub fn markdown(c: &RefComparison) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# {} against the published \"{}\" ({})\n",
        c.run, c.title, c.reference
    );
    let _ = writeln!(
        out,
        "Ratios are yours ÷ published, with a 95 % interval from both sides' mean, sd and n; verdicts at a ±{:.0} % band (Holm-adjusted Welch p): **same** reproduces the published figure, **faster**/**slower** do not, **inconclusive** cannot tell.\n",
        c.band * 100.0
    );
    let _ = writeln!(out, "## Setup\n");
    let rows = c.setup.iter().map(|f| {
        [
            Text::plain(&f.fact),
            Text::plain(&f.published),
            Text::plain(
                f.yours
                    .as_ref()
                    .map_or_else(|| "not recorded".to_string(), |y| short(Some(y))),
            ),
            match f.differs {
                Some(true) => Text::strong("differs"),
                Some(false) => Text::plain("same"),
                None => Text::plain("—"),
            },
        ]
    });
    out.push_str(&md::table(
        &Table::new(["fact", "published", "yours", ""]).with_rows(rows),
    ));
    out.push('\n');
    let server_metrics: &[Metric] = if c.cells.is_empty() {
        &[]
    } else {
        &[Metric::GenTps, Metric::PpTps]
    };
    for &metric in server_metrics {
        let _ = writeln!(out, "## {}\n", metric.title());
        let rows = c.cells.iter().filter_map(|cell| {
            let x = cell.metrics.iter().find(|x| x.metric == metric)?;
            let yours = match (&x.yours, cell.status) {
                (Some(s), CellStanding::Compared) => {
                    format!("{} (n={})", mean_sd(s, metric.decimals()), s.n)
                }
                _ => cell.status.to_string(),
            };
            let verdict = match (x.verdict, x.in_range) {
                (Some(v), _) => v.as_str().to_string(),
                (None, Some(true)) => "in the published range".to_string(),
                (None, Some(false)) => "outside the published range".to_string(),
                (None, None) => cell.status.to_string(),
            };
            Some([
                cell.cell.clone(),
                x.published.clone(),
                yours,
                ratio_text(x.ratio),
                p_text(x.p_adjusted),
                verdict,
            ])
        });
        let t = compared_table("cell");
        out.push_str(&md::table(&t.with_rows(rows)));
        out.push('\n');
    }
    if !c.llama_bench.is_empty() {
        let _ = writeln!(out, "## llama-bench (tokens/s)\n");
        let rows = c.llama_bench.iter().map(|t| {
            [
                t.test.clone(),
                t.published.clone(),
                t.yours.as_ref().map_or("not run".to_string(), |s| {
                    format!("{} (n={})", mean_sd(s, 2), s.n)
                }),
                ratio_text(t.ratio),
                p_text(t.p_adjusted),
                t.verdict
                    .map_or(if t.yours.is_some() { "—" } else { "not run" }, |v| {
                        v.as_str()
                    })
                    .to_string(),
            ]
        });
        let t = compared_table("test");
        out.push_str(&md::table(&t.with_rows(rows)));
        out.push('\n');
    }
    if !c.failures.is_empty() {
        let _ = writeln!(out, "## Published failures\n");
        let rows = c.failures.iter().map(|f| {
            [
                f.configuration.clone(),
                f.published.clone(),
                if f.yours.is_empty() {
                    "—".to_string()
                } else {
                    f.yours.join("; ")
                },
                f.status.to_string(),
            ]
        });
        let t = Table::new(["configuration", "published", "yours", ""]);
        out.push_str(&md::table(&t.with_rows(rows)));
        out.push('\n');
    }
    out
}
