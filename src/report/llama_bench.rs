//! The report's llama-bench section: its own numbers beside the server-based ones,
//! in the form community tables use (test, tokens/s mean ± sd), per model, one
//! column per backend. A pure function of the manifest.

use std::fmt::Write as _;

use crate::llama_bench::rows;
use crate::manifest::Manifest;
use crate::render::{Table, markdown};

pub fn section(out: &mut String, m: &Manifest) {
    let missing: Vec<String> = m
        .llama_bench_planned
        .iter()
        .filter(|p| !m.llama_bench.iter().any(|r| p.is(r)))
        .map(|p| format!("{}@{} on {}", p.backend, p.source, p.model))
        .collect();
    if m.llama_bench.is_empty() && missing.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "## llama-bench, tokens/s (mean ± sd over its repetitions)\n"
    );
    if !missing.is_empty() {
        let _ = writeln!(
            out,
            "Not reached ({} of the {} planned; the run did not get to them): {}.\n",
            missing.len(),
            m.llama_bench_planned.len(),
            missing.join(", ")
        );
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::Backend;
    use crate::manifest::{LlamaBenchRecord, PlannedLlamaBench};
    use crate::status::CellStatus;

    fn planned(backend: Backend, model: &str) -> PlannedLlamaBench {
        PlannedLlamaBench {
            backend,
            source: "default".into(),
            model: model.into(),
            argv: vec!["-m".into(), format!("/models/{model}.gguf")],
        }
    }

    #[test]
    fn planned_runs_the_run_did_not_reach_are_named() {
        let plan = crate::plan::builtin(2).unwrap();
        let host = crate::host::probe(std::path::Path::new("/nonexistent"));
        let mut m = Manifest::new("r", plan, host, None);
        let model = m.plan.models[0].name.clone();
        m.llama_bench_planned = vec![
            planned(Backend::Cuda, &model),
            planned(Backend::Vulkan, &model),
        ];
        m.llama_bench = vec![LlamaBenchRecord {
            backend: Backend::Cuda,
            source: "default".into(),
            model: model.clone(),
            argv: vec![],
            notes: vec![],
            status: CellStatus::Ok,
            failure: None,
            results: vec![serde_json::json!({
                "n_prompt": 512, "n_gen": 0, "n_depth": 0,
                "avg_ts": 100.0, "stddev_ts": 1.0
            })],
            seconds: 1.0,
            log: "logs/x.log".into(),
        }];
        let mut out = String::new();
        section(&mut out, &m);
        assert!(
            out.contains(&format!(
                "Not reached (1 of the 2 planned; the run did not get to them): vulkan@default on {model}.\n"
            )),
            "{out}"
        );
        assert!(out.contains("100.0 ± 1.0"), "{out}");
        // Every planned run recorded: no such line.
        m.llama_bench_planned.pop();
        let mut out = String::new();
        section(&mut out, &m);
        assert!(!out.contains("Not reached"), "{out}");
        // Nothing planned nor run: no section.
        m.llama_bench.clear();
        m.llama_bench_planned.clear();
        let mut out = String::new();
        section(&mut out, &m);
        assert!(out.is_empty());
    }
}
