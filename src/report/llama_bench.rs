//! The report's llama-bench section: its own numbers beside the server-based ones,
//! in the form community tables use (test, tokens/s mean ± sd), per model, one
//! column per backend. A pure function of the manifest.

use std::fmt::Write as _;

use crate::llama_bench::rows;
use crate::manifest::Manifest;
use crate::render::{Table, markdown};

pub fn section(out: &mut String, m: &Manifest) {
    if m.llama_bench.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "## llama-bench, tokens/s (mean ± sd over its repetitions)\n"
    );
    for model in &m.plan.models {
        let runs: Vec<_> = m
            .llama_bench
            .iter()
            .filter(|r| r.model == model.name)
            .collect();
        if runs.is_empty() {
            continue;
        }
        let mut tests: Vec<String> = Vec::new();
        for r in &runs {
            for row in rows(&r.results) {
                if !tests.contains(&row.test) {
                    tests.push(row.test);
                }
            }
        }
        let mut header = vec!["test".to_string()];
        header.extend(runs.iter().map(|r| r.backend.to_string()));
        let body = tests
            .iter()
            .map(|t| {
                let mut row = vec![t.clone()];
                for r in &runs {
                    let cell = match &r.failure {
                        Some(f) => format!("failed: {}", f.mode),
                        None => rows(&r.results)
                            .into_iter()
                            .find(|x| x.test == *t)
                            .map_or("—".to_string(), |x| {
                                format!("{:.1} ± {:.1}", x.avg_ts, x.stddev_ts)
                            }),
                    };
                    row.push(cell);
                }
                row
            })
            .collect::<Vec<Vec<String>>>();
        let _ = writeln!(out, "### {}\n", model.name);
        out.push_str(&markdown::table(&Table::new(header).with_rows(body)));
        out.push('\n');
        let mut noted = false;
        for r in &runs {
            for n in &r.notes {
                let _ = writeln!(out, "- {}: {n}", r.backend);
                noted = true;
            }
        }
        if noted {
            out.push('\n');
        }
    }
}
