//! A comparison as one self-contained HTML page (inline CSS and SVG, no script,
//! no network): the two runs, the verdict rule, what differs in the setup, and
//! per metric a forest plot of B/A with the noise band above the same table as
//! the Markdown. A pure function.

use std::fmt::Write as _;

use super::render::{metric_rows, rule, setup_rows, verdict_text, warnings};
use super::{Comparison, METRICS};
use crate::render::forest::{ForestRow, render};
use crate::render::html::{esc, table as html_table, text};

pub fn html(c: &Comparison) -> String {
    let mut out = crate::render::html::page_start("rigbench compare");
    let _ = write!(
        out,
        "<h1>rigbench compare</h1>\n<p>A: {}<br>B: {}</p>\n<p class=\"note\">{}</p>\n<h2>What differs in the setup</h2>\n",
        esc(&c.a),
        esc(&c.b),
        text(&rule(c.band))
    );
    match setup_rows(c) {
        None => out.push_str("<p>Nothing the manifests record differs.</p>\n"),
        Some(rows) => html_table(&mut out, &rows),
    }
    for (mi, metric) in METRICS.into_iter().enumerate() {
        let title = metric.title();
        let _ = writeln!(out, "<h2>{}</h2>", esc(title));
        let rows: Vec<ForestRow> = c
            .cells
            .iter()
            .map(|cell| {
                let m = &cell.metrics[mi];
                ForestRow {
                    label: cell.key.label(),
                    interval: m.ratio.map(|r| (r.ratio, r.ci95_low, r.ci95_high)),
                    verdict: m.verdict,
                    // The verdict word only; the table has the rest.
                    note: match (m.verdict, cell.both_ok()) {
                        (Some(v), true) => v.as_str().to_string(),
                        _ => verdict_text(cell, m),
                    },
                }
            })
            .collect();
        out.push_str(&render(title, &rows, c.band));
        out.push('\n');
        html_table(&mut out, &metric_rows(c, mi));
    }
    let warnings = warnings(c);
    if !warnings.is_empty() {
        out.push_str("<h2>Warnings</h2>\n<ul>");
        for w in warnings {
            let _ = write!(out, "<li>{}</li>", esc(&w));
        }
        out.push_str("</ul>\n");
    }
    for (title, ids) in [("Only in A", &c.only_in_a), ("Only in B", &c.only_in_b)] {
        if !ids.is_empty() {
            let _ = write!(out, "<h2>{title}</h2>\n<p>");
            let list: Vec<String> = ids.iter().map(|i| esc(i)).collect();
            out.push_str(&list.join("<br>"));
            out.push_str("</p>\n");
        }
    }
    out.push_str("</body></html>\n");
    out
}
