//! A run against a published reference, as Markdown: the setup facts side by
//! side, a table per headline metric with each published cell's figure, the
//! run's, their ratio and the verdict, then the published failures. A pure
//! function of `compare::RefComparison`.

use std::fmt::Write as _;

use super::compare::{CellStanding, RefComparison};
use crate::comparison::render::short;
use crate::metric::Metric;
use crate::report::markdown::{escape_cell, mean_sd, table};

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
    let rows = c
        .setup
        .iter()
        .map(|f| {
            vec![
                escape_cell(&f.fact),
                escape_cell(&f.published),
                f.yours
                    .as_ref()
                    .map_or_else(|| "not recorded".to_string(), |y| short(Some(y))),
                match f.differs {
                    Some(true) => "**differs**".to_string(),
                    Some(false) => "same".to_string(),
                    None => "—".to_string(),
                },
            ]
        })
        .collect();
    out.push_str(&table(
        vec!["fact".into(), "published".into(), "yours".into(), "".into()],
        rows,
    ));
    out.push('\n');
    for metric in [Metric::GenTps, Metric::PpTps] {
        let _ = writeln!(out, "## {}\n", metric.title());
        let rows = c
            .cells
            .iter()
            .filter_map(|cell| {
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
                Some(vec![
                    cell.cell.clone(),
                    x.published.clone(),
                    yours,
                    x.ratio.map_or("—".to_string(), |r| {
                        format!("{:.3} ({:.3}–{:.3})", r.ratio, r.ci95_low, r.ci95_high)
                    }),
                    x.p_adjusted.map_or("—".to_string(), |p| format!("{p:.3}")),
                    verdict,
                ])
            })
            .collect();
        out.push_str(&table(
            vec![
                "cell".into(),
                "published".into(),
                "yours".into(),
                "yours ÷ published (95 % CI)".into(),
                "p adj.".into(),
                "verdict".into(),
            ],
            rows,
        ));
        out.push('\n');
    }
    if !c.failures.is_empty() {
        let _ = writeln!(out, "## Published failures\n");
        let rows = c
            .failures
            .iter()
            .map(|f| {
                vec![
                    f.configuration.clone(),
                    escape_cell(&f.published),
                    escape_cell(&if f.yours.is_empty() {
                        "—".to_string()
                    } else {
                        f.yours.join("; ")
                    }),
                    f.status.to_string(),
                ]
            })
            .collect();
        out.push_str(&table(
            vec![
                "configuration".into(),
                "published".into(),
                "yours".into(),
                "".into(),
            ],
            rows,
        ));
        out.push('\n');
    }
    out
}
