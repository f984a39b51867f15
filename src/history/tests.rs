//! Rows and the summary of hand-made manifests, checked by hand.

use super::*;
use crate::manifest::Failure;
use crate::manifest::fixtures::{cell, run};
use crate::status::{FailureMode, RunStatus};

fn manifest(created: &str) -> Manifest {
    let plan = crate::plan::builtin(2).unwrap();
    let host = crate::host::probe(std::path::Path::new("/nonexistent"));
    let mut m = Manifest::new("r1", plan, host, None);
    m.created_at = created.into();
    m.status = RunStatus::Complete;
    m.cells.push(cell(
        31,
        "default",
        vec![run(70.0, 800.0, 40.0, false)],
        None,
    ));
    let f = Failure {
        mode: FailureMode::Oom,
        message: "killed by the OOM killer".into(),
        evidence: vec![],
    };
    m.cells.push(cell(461, "default", vec![], Some(f)));
    let mut pending = cell(3799, "default", vec![], None);
    pending.status = CellStatus::Pending;
    m.cells.push(pending);
    m
}

#[test]
fn a_row_counts_the_cells_by_status_and_names_the_backends() {
    let r = row("runs/a", &manifest("2026-12-01T10:00:00Z"), Ok(()));
    assert_eq!(r.status, "complete");
    assert_eq!(r.plan.as_deref(), Some("default"));
    assert_eq!(r.backends, ["cpu"]);
    assert_eq!((r.cells_ok, r.cells_failed, r.cells_pending), (1, 1, 1));
    assert!(r.integrity_ok && r.problem.is_none());
    let bad = row("runs/a", &manifest("x"), Err("integrity mismatch".into()));
    assert!(!bad.integrity_ok);
    assert_eq!(bad.problem.as_deref(), Some("integrity mismatch"));
}

#[test]
fn rows_sort_oldest_first_with_unreadable_ones_last() {
    let mut rows = vec![
        unreadable("runs/z", "not valid JSON"),
        row("runs/b", &manifest("2026-12-02T00:00:00Z"), Ok(())),
        row("runs/a", &manifest("2026-12-01T00:00:00Z"), Ok(())),
    ];
    sort(&mut rows);
    let dirs: Vec<&str> = rows.iter().map(|r| r.dir.as_str()).collect();
    assert_eq!(dirs, ["runs/a", "runs/b", "runs/z"]);
    let t = table(&rows);
    assert!(t.contains("BAD: not valid JSON"), "{t}");
    assert!(t.contains("unreadable"), "{t}");
}

#[test]
fn the_summary_says_how_the_run_ended_and_lists_failures() {
    let mut m = manifest("2026-12-01T10:00:00Z");
    m.tool.commit = Some("0123456789abcdef0123456789abcdef01234567".into());
    let s = summary("runs/a", &m, &Ok(()));
    assert!(
        s.starts_with("run r1 (runs/a)\nstatus complete\nplan default"),
        "{s}"
    );
    assert!(s.contains("rigbench 0.1.0 (commit 0123456789ab)"), "{s}");
    assert!(s.contains("engine unknown"), "{s}");
    assert!(
        s.contains("cpu.m.default.p461: oom: killed by the OOM killer"),
        "{s}"
    );
    assert!(s.contains("| cpu.m.default.p3799 | pending"), "{s}");
    let bad = summary("runs/a", &m, &Err("sha256 differs".into()));
    assert!(bad.contains("integrity BAD: sha256 differs"), "{bad}");
}
