//! `report.html`: one self-contained file (inline CSS and SVG, no script, no
//! network) with, per model, charts of generation tokens/s, TTFT and memory
//! against prompt length (one series per backend/variant, 95 % interval bars),
//! the metric tables (generation with its share of the bandwidth ceiling), an
//! A/B's paired verdicts (a forest plot and the table), the failures and the
//! system tables. A pure function of the manifest.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::markdown::{column, metric_table};
use crate::manifest::{Cell, Manifest};
use crate::metric::Metric;
use crate::render::html::{esc, table as html_table};
use crate::render::svg::{Chart, Point, Series, render};

/// One series per backend/variant column: a value per prompt length.
fn series(m: &Manifest, cells: &[&Cell], value: impl Fn(&Cell) -> Option<Point>) -> Vec<Series> {
    let mut by: BTreeMap<usize, Series> = BTreeMap::new();
    let cols = super::markdown::columns(m, cells);
    for c in cells {
        let Some(i) = cols.iter().position(|x| *x == column(m, c)) else {
            continue;
        };
        let s = by.entry(i).or_insert_with(|| Series {
            name: cols[i].clone(),
            points: Vec::new(),
        });
        if let Some(p) = value(c) {
            s.points.push(p);
        }
    }
    let mut out: Vec<Series> = by.into_values().collect();
    for s in &mut out {
        s.points.sort_by(|a, b| a.x.total_cmp(&b.x));
    }
    out
}

fn stat_point(c: &Cell, metric: Metric, scale: f64) -> Option<Point> {
    let s = c.stats.get(&metric)?;
    Some(Point {
        x: f64::from(c.prompt_tokens),
        y: s.mean * scale,
        low: s.ci95_low.map(|v| v * scale),
        high: s.ci95_high.map(|v| v * scale),
    })
}

/// The most memory a cell's measured runs took, GiB: GPU memory (VRAM+GTT over
/// the baseline) where sampled, else the drop in MemAvailable.
fn memory_point(c: &Cell) -> Option<Point> {
    let t: Vec<_> = c
        .runs
        .iter()
        .filter(|r| !r.warmup)
        .filter_map(|r| r.telemetry.as_ref())
        .collect();
    let gpu = t.iter().filter_map(|t| t.peak_delta_bytes).max();
    let host = t.iter().filter_map(|t| t.mem_available_drop_bytes).max();
    // MemAvailable can rise during a run (page cache released): none taken.
    let bytes = gpu.or(host)?.max(0);
    Some(Point {
        x: f64::from(c.prompt_tokens),
        y: bytes as f64 / f64::from(1u32 << 30),
        low: None,
        high: None,
    })
}

/// Renders the whole report.
pub fn render_html(m: &Manifest) -> String {
    let mut out = crate::render::html::page_start(&format!("rigbench: {}", m.plan.name));
    let _ = writeln!(out, "<h1>rigbench: {}</h1>", esc(&m.plan.name));
    if let Some(d) = &m.plan.description {
        let _ = writeln!(out, "<p>{}</p>", esc(d));
    }
    let _ = writeln!(
        out,
        "<p class=\"note\">Status <b>{}</b>. Started {}, last written {}. rigbench {}. Integrity sha256 <code>{}</code>. Each cell: {}; each run generates {} tokens, greedy; points are means, bars 95 % confidence intervals of the mean.</p>",
        esc(m.status.name()),
        esc(&m.created_at),
        esc(&m.updated_at),
        esc(&super::markdown::tool_text(&m.tool)),
        esc(&m.integrity.sha256),
        esc(&m.plan.bench.runs_text()),
        m.plan.bench.n_predict
    );
    if let Some(p) = super::precision::sentence(m) {
        let _ = writeln!(out, "<p class=\"note\">{}</p>", esc(&p));
    }
    if let Some((paragraphs, t)) = super::synthetic::parts(m) {
        out.push_str("<h2>Synthetic models</h2>\n");
        for p in paragraphs {
            let _ = writeln!(out, "<p class=\"note\">{}</p>", esc(&p));
        }
        html_table(&mut out, &t);
    }
    let bandwidth = super::roofline::bandwidth(m);
    for model in &m.plan.models {
        let cells: Vec<&Cell> = m.cells.iter().filter(|c| c.model == model.name).collect();
        if cells.is_empty() {
            continue;
        }
        let _ = writeln!(
            out,
            "<h2>{}</h2>\n<div class=\"charts\">",
            esc(&m.model_label(&model.name))
        );
        let gen_series = series(m, &cells, |c| stat_point(c, Metric::GenTps, 1.0));
        out.push_str(&render(&Chart {
            title: Metric::GenTps.title(),
            x_label: "prompt tokens",
            y_label: "tokens/s",
            log_y: false,
            series: &gen_series,
        }));
        let ttft = series(m, &cells, |c| stat_point(c, Metric::TtftMs, 1.0 / 1000.0));
        out.push_str(&render(&Chart {
            title: "Time to first token, s",
            x_label: "prompt tokens",
            y_label: "seconds (log)",
            log_y: true,
            series: &ttft,
        }));
        let mem = series(m, &cells, memory_point);
        out.push_str(&render(&Chart {
            title: "Peak memory taken, GiB",
            x_label: "prompt tokens",
            y_label: "GiB (GPU, else MemAvailable drop)",
            log_y: false,
            series: &mem,
        }));
        out.push_str("</div>\n");
        for metric in Metric::HEADLINE {
            if let Some(t) = metric_table(m, &model.name, metric) {
                let _ = writeln!(out, "<h3>{} (mean ± sd)</h3>", metric.title());
                if metric == Metric::GenTps {
                    match &bandwidth {
                        Some((gbs, from)) => {
                            let _ = writeln!(
                                out,
                                "<p class=\"note\">In brackets: share of the bandwidth ceiling, {gbs:.0} GB/s ({}) ÷ bytes read per generated token{}.</p>",
                                esc(from),
                                super::roofline::ceiling(m, cells[0])
                                    .map(|c| format!(", {c:.1} tokens/s for this model"))
                                    .unwrap_or_default()
                            );
                        }
                        None => {
                            let _ = writeln!(
                                out,
                                "<p class=\"note\">No bandwidth ceiling: this host is not in the known-platform table and the plan sets no <code>bench.memory_bandwidth_gbs</code>.</p>"
                            );
                        }
                    }
                }
                html_table(&mut out, &t);
            }
        }
    }
    if let Some(ab) = super::ab::parts(m) {
        out.push_str("<h2>A/B, paired by round</h2>\n");
        for par in &ab.paragraphs {
            let _ = writeln!(out, "<p class=\"note\">{}</p>", esc(par));
        }
        out.push_str(&crate::render::forest::render_at(
            "A/B: B/A per paired cell",
            &format!("{:.2} % sequence", ab.level_pct),
            &ab.forest,
            ab.band,
        ));
        out.push('\n');
        html_table(&mut out, &ab.table);
        if let Some(u) = &ab.unpaired {
            let _ = writeln!(out, "<p class=\"note\">{}</p>", esc(u));
        }
    }
    let failures = super::failures::tables(m);
    if !failures.is_empty() {
        out.push_str("<h2>Failures and exclusions</h2>\n");
        for t in &failures {
            html_table(&mut out, t);
        }
    }
    out.push_str("<h2>System</h2>\n");
    for t in &super::system::tables(m) {
        html_table(&mut out, t);
    }
    let _ = writeln!(
        out,
        "<p class=\"note\">{}</p>\n</body></html>",
        esc(&super::system::wall_time(m))
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_contained_with_a_chart_per_metric_and_the_tables() {
        let plan = crate::plan::builtin(2).unwrap();
        let host = crate::host::probe(std::path::Path::new("/nonexistent"));
        let mut m = Manifest::new("r", plan, host, None);
        let run = crate::manifest::fixtures::run;
        m.cells.push(crate::manifest::fixtures::cell(
            31,
            "default",
            vec![run(80.0, 700.0, 45.0, false), run(82.0, 720.0, 47.0, false)],
            None,
        ));
        m.cells[0].model = "gemma-3-270m-q4_k_m".into();
        m.plan.bench.memory_bandwidth_gbs = Some(60.0);
        let html = render_html(&m);
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.ends_with("</body></html>\n"));
        assert_eq!(html.matches("<svg ").count(), 3);
        // Nothing loaded from elsewhere.
        assert!(
            !html.contains("http://")
                || html.matches("http://").count()
                    == html.matches("xmlns=\"http://www.w3.org/2000/svg\"").count()
        );
        assert!(!html.contains("<script"));
        assert!(html.contains("<td>81.0 ± 1.4</td>"), "{html}");
        assert!(
            html.contains("No bandwidth ceiling")
                || html.contains("share of the bandwidth ceiling")
        );
        // No model facts recorded here, so no ceiling share in the table even with
        // a bandwidth: the bytes per token are unknown.
        assert!(html.contains("60 GB/s (the plan"));
    }
}
