//! The gate over hand-made comparisons: one cell per kind of finding, and which
//! of `slower`, `changed` and `any` fails on it.

use super::*;
use crate::manifest::fixtures::{cell, run};
use crate::manifest::{Cell, Failure, Manifest};
use crate::status::FailureMode;

fn manifest(cells: Vec<Cell>) -> Manifest {
    let plan = crate::plan::builtin(2).unwrap();
    let host = crate::host::probe(std::path::Path::new("/nonexistent"));
    let mut m = Manifest::new("r", plan, host, None);
    m.cells = cells;
    m
}

/// A cell of `prompt` tokens whose measured runs generate at `generation` t/s
/// (prompt processing 800, TTFT 40: the same on both sides).
fn at(prompt: u32, generation: &[f64]) -> Cell {
    let runs = generation
        .iter()
        .map(|g| run(*g, 800.0, 40.0, false))
        .collect();
    cell(prompt, "default", runs, None)
}

fn crashed(prompt: u32) -> Cell {
    let f = Failure {
        mode: FailureMode::Crash,
        message: "signal 11".into(),
        evidence: vec![],
    };
    cell(prompt, "default", vec![], Some(f))
}

fn comparison() -> Comparison {
    let steady = [80.0, 80.4, 79.8, 80.2];
    let a = manifest(vec![
        at(31, &steady),
        at(461, &[55.6, 55.5, 55.7, 55.6]),
        at(1000, &[60.0, 60.1, 59.9, 60.0]),
        at(2000, &[50.0, 60.0, 55.0, 52.0]),
        at(3799, &[60.0, 60.1, 60.2, 60.0]),
        crashed(5000),
        at(11205, &steady),
    ]);
    let b = manifest(vec![
        // Unchanged: same.
        at(31, &steady),
        // 55.6 → 42: slower.
        at(461, &[42.0, 42.1, 41.9, 42.0]),
        // 60 → 70: faster.
        at(1000, &[70.0, 70.1, 69.9, 70.0]),
        // Noisy on both sides: inconclusive.
        at(2000, &[53.0, 58.0, 51.0, 57.0]),
        // Ran in A, crashed in B.
        crashed(3799),
        // Crashed in A, ran in B.
        at(5000, &steady),
    ]);
    crate::comparison::compare("A", &a, "B", &b, 0.02)
}

fn about(found: &[String], prompt: u32) -> Vec<&String> {
    let tag = format!(" p{prompt}:");
    found.iter().filter(|f| f.contains(&tag)).collect()
}

#[test]
fn slower_fails_on_worse_metrics_and_new_failures_only() {
    let found = findings(&comparison(), FailOn::Slower);
    let p461 = about(&found, 461);
    assert!(
        p461.iter().any(|f| f.contains("gen t/s slower (0.755×)")),
        "{found:#?}"
    );
    assert_eq!(
        about(&found, 3799),
        [&"cpu gemma-3-270m-q4_k_m default p3799: ok 4/4 in A, crash 0/4 in B".to_string()]
    );
    for p in [31, 1000, 2000, 5000, 11205] {
        assert!(about(&found, p).is_empty(), "p{p}: {found:#?}");
    }
}

#[test]
fn changed_adds_better_metrics_recoveries_and_unmatched_cells() {
    let found = findings(&comparison(), FailOn::Changed);
    assert!(!about(&found, 461).is_empty() && !about(&found, 3799).is_empty());
    assert!(
        about(&found, 1000)
            .iter()
            .any(|f| f.contains("gen t/s faster")),
        "{found:#?}"
    );
    assert!(
        about(&found, 5000)
            .iter()
            .any(|f| f.contains("crash 0/4 in A, ok 4/4 in B")),
        "{found:#?}"
    );
    assert!(found.contains(&"cpu.m.default.p11205: in A only".to_string()));
    assert!(about(&found, 31).is_empty() && about(&found, 2000).is_empty());
}

#[test]
fn any_adds_what_is_not_shown_the_same() {
    let c = comparison();
    let found = findings(&c, FailOn::Any);
    assert!(
        about(&found, 2000)
            .iter()
            .any(|f| f.contains("gen t/s inconclusive")),
        "{found:#?}"
    );
    // The unchanged cell is shown the same in generation, so nothing is found.
    let p31 = c.cells.iter().find(|x| x.key.prompt_tokens == 31).unwrap();
    assert_eq!(p31.metrics[0].verdict, Some(Verdict::Same));
    assert!(about(&found, 31).is_empty(), "{found:#?}");
}

#[test]
fn a_comparison_of_a_run_with_itself_passes_every_gate() {
    let steady = [80.0, 80.4, 79.8, 80.2];
    let a = manifest(vec![at(31, &steady), at(461, &[55.6, 55.5, 55.7, 55.6])]);
    let c = crate::comparison::compare("A", &a, "A", &a, 0.02);
    for on in [FailOn::Slower, FailOn::Changed, FailOn::Any] {
        assert_eq!(findings(&c, on), Vec::<String>::new(), "{on:?}");
    }
}
