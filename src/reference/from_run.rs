//! A reference made from a run (`rigbench reference from-run`): every ok cell's
//! mean and sd per metric, every failed configuration with its mode and message,
//! and the setup facts another run can be checked against. A pure function of
//! the manifest; the command writes it as TOML that `reference::parse` reads.

use std::collections::BTreeMap;

use super::{RefCell, RefFailure, Reference, SetupFact};
use crate::backend::Backend;
use crate::manifest::Manifest;
use crate::metric::Metric;
use crate::status::{CellStatus, FailureMode};

/// The mean and sd of a cell's metric, when it has both.
fn figure(c: &crate::manifest::Cell, metric: Metric) -> Option<[f64; 2]> {
    let s = c.stats.get(&metric)?;
    Some([round(s.mean), round(s.sd?)])
}

/// Four significant figures are more than any run here resolves.
fn round(v: f64) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    let digits = 4 - v.abs().log10().ceil() as i32;
    let f = 10f64.powi(digits.max(0));
    (v * f).round() / f
}

/// The setup facts of a run, each with the check `compare::run_fact` knows it by.
fn setup(m: &Manifest) -> Vec<SetupFact> {
    let mut facts = Vec::new();
    let mut push = |fact: &str, value: Option<String>, check: Option<&str>| {
        if let Some(value) = value.filter(|v| !v.is_empty()) {
            facts.push(SetupFact {
                fact: fact.to_string(),
                value,
                check: check.map(str::to_string),
            });
        }
    };
    push("CPU", m.host.cpu.model.clone(), Some("cpu_model"));
    push("OS", m.host.os.clone(), Some("host_os"));
    push("kernel", m.host.kernel.release.clone(), Some("kernel"));
    if let Some(g) = m.host.gpus.iter().find_map(|g| g.gfx_target.clone()) {
        push("GPU", Some(g), Some("gpu_target"));
    }
    if let Some(n) = &m.host.nvidia {
        push(
            "NVIDIA GPU",
            n.gpus.first().map(|g| g.name.clone()),
            Some("nvidia_gpu"),
        );
        push(
            "NVIDIA driver",
            n.driver_version.clone(),
            Some("nvidia_driver"),
        );
    }
    for s in &m.plan.sources {
        push(
            &format!("llama.cpp ({})", s.name),
            Some(s.commit.clone()),
            Some(&format!("commit:{}", s.name)),
        );
    }
    for i in &m.images {
        for (key, check) in [
            ("cuda_runtime", "cuda_runtime"),
            ("cublas", "cublas"),
            ("rocm", "rocm"),
            ("mesa", "mesa"),
        ] {
            if let Some(v) = i.toolchain.get(key) {
                push(
                    &format!("{} {key}", i.backend),
                    Some(v.clone()),
                    Some(check),
                );
            }
        }
        if let Some(v) = i.toolchain.get("compiler") {
            push(
                &format!("{} compiler", i.backend),
                Some(v.clone()),
                Some(&format!("compiler:{}", i.backend)),
            );
        }
    }
    facts
}

/// Failed cells are grouped by source, backend, model and failure mode.
type GroupKey = (String, Backend, String, FailureMode);

/// The reference `name` (titled `title`) made from run `m`.
pub fn from_manifest(m: &Manifest, name: &str, title: &str) -> Reference {
    let cells = m
        .cells
        .iter()
        .filter(|c| c.status == CellStatus::Ok)
        .filter_map(|c| {
            let gen_tps = figure(c, Metric::GenTps);
            let pp_tps = figure(c, Metric::PpTps);
            let ttft_ms = figure(c, Metric::TtftMs);
            (gen_tps.is_some() || pp_tps.is_some() || ttft_ms.is_some()).then(|| RefCell {
                source: c.source.clone(),
                backend: c.backend,
                model: m.model_identity(&c.model),
                variant: c.variant.name.clone(),
                prompt_tokens: c.prompt_tokens,
                gen_tps,
                pp_tps,
                ttft_ms,
                gen_tps_range: None,
            })
        })
        .collect();
    // Failures grouped by configuration and outcome, as the study tabulated them.
    let mut groups: BTreeMap<GroupKey, (Vec<String>, String, usize)> = BTreeMap::new();
    for c in m.cells.iter().filter(|c| c.status == CellStatus::Failed) {
        let Some(f) = &c.failure else { continue };
        let e = groups
            .entry((
                c.source.clone(),
                c.backend,
                m.model_identity(&c.model),
                f.mode,
            ))
            .or_insert_with(|| (Vec::new(), f.message.clone(), 0));
        if !e.0.contains(&c.variant.name) {
            e.0.push(c.variant.name.clone());
        }
        e.2 += 1;
    }
    let failures = groups
        .into_iter()
        .map(
            |((source, backend, model, mode), (variants, evidence, n))| RefFailure {
                source,
                backend,
                model,
                variants,
                mode,
                evidence,
                runs: format!("{n} cell(s)"),
            },
        )
        .collect();
    Reference {
        name: name.to_string(),
        title: title.to_string(),
        // As the repository names it, where it came from one (`plans/…`).
        plan: Some(
            m.plan
                .origin
                .find("plans/")
                .map_or(m.plan.origin.clone(), |i| m.plan.origin[i..].to_string()),
        ),
        runs: m.plan.bench.runs,
        setup: setup(m),
        cells,
        failures,
        // The run's llama-bench tests with two repetitions or more.
        llama_bench: m
            .llama_bench
            .iter()
            .filter(|r| r.status == CellStatus::Ok)
            .flat_map(|r| {
                r.results.iter().filter_map(|t| {
                    super::from_llama_bench::entry(t, Some(r.backend), "")
                        .ok()
                        .filter(|e| e.repetitions >= 2)
                })
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::fixtures::{cell, gen_runs};

    #[test]
    fn ok_cells_become_figures_failed_ones_failures_and_it_parses_back() {
        let mut m = crate::manifest::fixtures::manifest();
        let ok = cell(31, "default", gen_runs(&[100.0, 102.0, 98.0, 100.0]), None);
        let failed = cell(
            461,
            "q8k",
            vec![],
            Some(crate::manifest::Failure {
                mode: FailureMode::Crash,
                message: "CUDA error: an illegal memory access was encountered".into(),
                evidence: vec![],
            }),
        );
        m.cells = vec![ok, failed];
        let r = from_manifest(&m, "mine", "My run");
        assert_eq!(r.cells.len(), 1);
        let c = &r.cells[0];
        assert_eq!((c.backend, c.prompt_tokens), (Backend::Cpu, 31));
        // Mean 100, sample sd of 100, 102, 98, 100: sqrt(8 / 3) = 1.633.
        assert_eq!(c.gen_tps, Some([100.0, 1.633]));
        assert_eq!(c.pp_tps, Some([500.0, 0.0]));
        assert_eq!(r.failures.len(), 1);
        assert_eq!(r.failures[0].mode, FailureMode::Crash);
        assert_eq!(r.failures[0].variants, ["q8k"]);
        assert_eq!(r.failures[0].runs, "1 cell(s)");
        let text = toml::to_string_pretty(&r).unwrap();
        let back = crate::reference::parse(&text, "mine.toml").unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn four_significant_figures() {
        assert_eq!(round(597.123), 597.1);
        assert_eq!(round(42123.4), 42123.0);
        assert_eq!(round(1.63299), 1.633);
        assert_eq!(round(0.0), 0.0);
    }
}
