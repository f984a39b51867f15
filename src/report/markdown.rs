//! `report.md`: a pure function of the manifest. Tables in the published study's
//! style (rows prompt lengths, columns backend/variant, cells "mean ± sd"), then the
//! failures, the measurement checks and the system the numbers came from.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use crate::manifest::{Cell, Manifest};
use crate::metric::Metric;
use crate::render::{Table, Text, markdown, mean_sd};
use crate::status::CellStatus;

/// backend/variant, with `@source` when the plan has several sources (the cell
/// id then carries it).
pub fn column(m: &Manifest, c: &Cell) -> String {
    match m.source_label(c) {
        Some(src) => format!("{}@{src}/{}", c.backend, c.variant.name),
        None => format!("{}/{}", c.backend, c.variant.name),
    }
}

fn cell_text(c: Option<&Cell>, metric: Metric) -> String {
    match c {
        None => "—".to_string(),
        Some(c) if c.status == CellStatus::Failed => format!(
            "failed: {}",
            c.failure.as_ref().map_or("?", |f| f.mode.name())
        ),
        Some(c) => c.stats.get(&metric).map_or_else(
            || format!("{} (no runs)", c.status),
            |s| mean_sd(s, metric.decimals()),
        ),
    }
}

/// The columns (backend/variant, in order of appearance) of a model's cells.
pub fn columns(m: &Manifest, cells: &[&Cell]) -> Vec<String> {
    let mut seen = Vec::new();
    for c in cells {
        let col = column(m, c);
        if !seen.contains(&col) {
            seen.push(col);
        }
    }
    seen
}

/// One metric's table for one model: rows prompt lengths, columns
/// backend/variant; generation carries its share of the ceiling when known.
pub fn metric_table(m: &Manifest, model: &str, metric: Metric) -> Option<Table> {
    let cells: Vec<&Cell> = m.cells.iter().filter(|c| c.model == model).collect();
    if cells.is_empty() {
        return None;
    }
    let columns = columns(m, &cells);
    let prompts: BTreeSet<u32> = cells.iter().map(|c| c.prompt_tokens).collect();
    let mut header = vec!["prompt tokens".to_string()];
    header.extend(columns.iter().cloned());
    let mut t = Table::new(header);
    for p in &prompts {
        let mut row = vec![p.to_string()];
        for col in &columns {
            let c = cells
                .iter()
                .find(|c| c.prompt_tokens == *p && column(m, c) == *col)
                .copied();
            let mut text = cell_text(c, metric);
            if metric == Metric::GenTps {
                if let Some(share) = c.and_then(|c| super::roofline::share(m, c)) {
                    let _ = write!(text, " ({:.0} %)", share * 100.0);
                }
            }
            row.push(text);
        }
        t.push(row);
    }
    Some(t)
}

/// Renders the whole report.
pub fn render(m: &Manifest) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# rigbench: {}\n", m.plan.name);
    if let Some(d) = &m.plan.description {
        let _ = writeln!(out, "{d}\n");
    }
    let _ = writeln!(
        out,
        "Status **{}**{}. Started {}, last written {}. rigbench {}. Plan: {}. Integrity sha256 `{}`.\n",
        m.status,
        m.error
            .as_ref()
            .map(|e| format!(" ({e})"))
            .unwrap_or_default(),
        m.created_at,
        m.updated_at,
        tool_text(&m.tool),
        m.plan.origin,
        m.integrity.sha256
    );
    let _ = writeln!(
        out,
        "Each cell: {}; each run generates {} tokens, greedy, seed {}, prompt cache off; statistics over the measured runs that passed their checks (mean ± sample sd).\n",
        m.bench().runs_text(),
        m.plan.bench.n_predict,
        m.plan.bench.seed
    );
    if let Some(p) = super::precision::sentence(m) {
        let _ = writeln!(out, "{}\n", markdown::text(&Text::plain(p)));
    }
    super::synthetic::section(&mut out, m);

    let models: Vec<&str> = m.plan.models.iter().map(|x| x.name.as_str()).collect();
    for metric in Metric::HEADLINE {
        let _ = writeln!(out, "## {} (mean ± sd)\n", metric.title());
        if metric == Metric::GenTps {
            if let Some((gbs, from)) = super::roofline::bandwidth(m) {
                let _ = writeln!(
                    out,
                    "In brackets: the share of the bandwidth ceiling, {gbs:.0} GB/s ({from}) ÷ the bytes a generated token reads (all weights of a dense model; an MoE model's shared weights plus its active experts).\n"
                );
            }
        }
        for model in &models {
            if let Some(t) = metric_table(m, model, metric) {
                let _ = writeln!(out, "### {}\n", m.model_label(model));
                out.push_str(&markdown::table(&t));
                out.push('\n');
            }
        }
    }

    super::ab::section(&mut out, m);
    super::llama_bench::section(&mut out, m);
    super::failures::section(&mut out, m);
    checks(&mut out, m);
    super::telemetry::section(&mut out, m);
    super::system::section(&mut out, m);
    out
}

fn checks(out: &mut String, m: &Manifest) {
    let rows: Vec<Vec<String>> = m
        .cells
        .iter()
        .filter(|c| !c.runs.is_empty())
        .map(|c| {
            let measured: Vec<_> = c.runs.iter().filter(|r| !r.warmup).collect();
            let failed_checks = measured.iter().filter(|r| !r.checks.all()).count();
            let ratio = match (
                c.stats.get(&Metric::GenTps),
                c.stats.get(&Metric::GenTpsServer),
            ) {
                (Some(a), Some(b)) if b.median > 0.0 => format!("{:.4}", a.median / b.median),
                _ => "—".to_string(),
            };
            let agreement = c.agreement.as_ref().map_or("—".to_string(), |a| {
                let reference = a.reference.split('.').next().unwrap_or_default();
                match &a.first_divergence {
                    None => format!("{}/{} with {reference}", a.matching_prefix, a.compared),
                    Some(d) => format!(
                        "{}/{} with {reference}: token {} is {} there, {} here",
                        a.matching_prefix, a.compared, d.index, d.reference_token, d.token
                    ),
                }
            });
            vec![
                c.id.clone(),
                measured.len().to_string(),
                failed_checks.to_string(),
                c.stats.get(&Metric::GenTpsServer).map_or("—".into(), |s| {
                    mean_sd(s, Metric::GenTpsServer.decimals())
                }),
                ratio,
                agreement,
            ]
        })
        .collect();
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(out, "## Measurement checks\n");
    let _ = writeln!(
        out,
        "Runs failing a check (prompt cache hit, prompt or generated token count off) are kept in the manifest but not summarised. \"client ÷ server\" is client generation tokens/s over the server's `predicted_per_second` (medians); the last column compares the first measured run's generated tokens with the same cell on the reference backend (CPU when present).\n"
    );
    let t = Table::new([
        "cell",
        "measured runs",
        "failing checks",
        "server gen t/s",
        "client ÷ server",
        "greedy output agrees",
    ])
    .with_rows(rows);
    out.push_str(&markdown::table(&t));
    out.push('\n');
}

#[cfg(test)]
mod tests;

/// "0.1.0 (commit 0123456789ab)", or the version alone for a manifest from
/// before the commit was recorded.
pub fn tool_text(t: &crate::manifest::Tool) -> String {
    match &t.commit {
        Some(c) => {
            let (hash, dirty) = c
                .strip_suffix("-dirty")
                .map_or((c.as_str(), ""), |h| (h, "-dirty"));
            let short = hash.get(..12).unwrap_or(hash);
            format!("{} (commit {short}{dirty})", t.version)
        }
        None => t.version.clone(),
    }
}
