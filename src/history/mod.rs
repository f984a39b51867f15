//! Past runs: one row per run directory for `rigbench list` (status, plan,
//! backends, cells ok/failed/pending, when, whether its integrity holds) and the
//! summary `rigbench show` prints. Pure: `commands::history` finds and reads the
//! manifests, these functions turn them into rows and text.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::manifest::Manifest;
use crate::metric::Metric;
use crate::status::CellStatus;

/// One run directory as `list` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// The run directory.
    pub dir: String,
    /// `complete`, `failed`, …, or `unreadable`.
    pub status: String,
    pub run_id: Option<String>,
    pub plan: Option<String>,
    pub backends: Vec<String>,
    pub cells_ok: usize,
    pub cells_failed: usize,
    pub cells_pending: usize,
    /// RFC 3339, when the run started.
    pub created_at: Option<String>,
    /// Whether the manifest's integrity hash matches its content.
    pub integrity_ok: bool,
    /// Why the manifest could not be read, or what its integrity check said.
    pub problem: Option<String>,
}

/// The row of a run whose manifest was read; `integrity` is the check's result.
pub fn row(dir: &str, m: &Manifest, integrity: Result<(), String>) -> Row {
    let count = |s: CellStatus| m.cells.iter().filter(|c| c.status == s).count();
    let backends: BTreeSet<&str> = m.cells.iter().map(|c| c.backend.name()).collect();
    Row {
        dir: dir.to_string(),
        status: m.status.name().to_string(),
        run_id: Some(m.run_id.clone()),
        plan: Some(m.plan.name.clone()),
        backends: backends.into_iter().map(str::to_string).collect(),
        cells_ok: count(CellStatus::Ok),
        cells_failed: count(CellStatus::Failed),
        cells_pending: count(CellStatus::Pending),
        created_at: Some(m.created_at.clone()),
        integrity_ok: integrity.is_ok(),
        problem: integrity.err(),
    }
}

/// The row of a directory whose manifest.json could not be read.
pub fn unreadable(dir: &str, why: &str) -> Row {
    Row {
        dir: dir.to_string(),
        status: "unreadable".to_string(),
        run_id: None,
        plan: None,
        backends: vec![],
        cells_ok: 0,
        cells_failed: 0,
        cells_pending: 0,
        created_at: None,
        integrity_ok: false,
        problem: Some(why.to_string()),
    }
}

/// Oldest first; unreadable ones (no time) last, by directory.
pub fn sort(rows: &mut [Row]) {
    rows.sort_by(|a, b| match (&a.created_at, &b.created_at) {
        (Some(x), Some(y)) => x.cmp(y).then(a.dir.cmp(&b.dir)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.dir.cmp(&b.dir),
    });
}

/// The table `list` prints.
pub fn table(rows: &[Row]) -> String {
    let mut t = crate::render::Table::new([
        "run",
        "status",
        "plan",
        "backends",
        "ok",
        "failed",
        "pending",
        "started",
        "integrity",
    ]);
    for r in rows {
        let integrity = match (&r.problem, r.integrity_ok) {
            (_, true) => "ok".to_string(),
            (Some(p), false) => format!("BAD: {p}"),
            (None, false) => "BAD".to_string(),
        };
        t.push([
            r.dir.clone(),
            r.status.clone(),
            r.plan.clone().unwrap_or_default(),
            r.backends.join(","),
            r.cells_ok.to_string(),
            r.cells_failed.to_string(),
            r.cells_pending.to_string(),
            r.created_at.clone().unwrap_or_default(),
            integrity,
        ]);
    }
    format!("{}\n", crate::render::terminal::table(&t))
}

/// The cell table: id, outcome, and the headline metrics' mean ± sd.
pub fn cells_table(m: &Manifest) -> String {
    let mut header = vec!["cell", "status"];
    header.extend(Metric::HEADLINE.map(Metric::short));
    let mut t = crate::render::Table::new(header);
    let show = |c: &crate::manifest::Cell, m: Metric| {
        c.stats
            .get(&m)
            .map(|s| crate::render::mean_sd(s, m.decimals()))
            .unwrap_or_else(|| "—".to_string())
    };
    for c in &m.cells {
        let status = crate::manifest::outcome(c.status, c.failure.as_ref());
        let mut row = vec![c.id.clone(), status];
        row.extend(Metric::HEADLINE.map(|m| show(c, m)));
        t.push(row);
    }
    format!("{}\n", crate::render::terminal::table(&t))
}

/// What `show` prints: what ran where, how it ended, and the cells.
pub fn summary(dir: &str, m: &Manifest, integrity: &Result<(), String>) -> String {
    let mut out = String::new();
    let engine = m.engine.as_ref().map_or("unknown".to_string(), |e| {
        format!("{}, runtime {}", e.named(), e.runtime_named())
    });
    let gpus: Vec<String> = m
        .host
        .nvidia
        .iter()
        .flat_map(|n| n.gpus.iter().map(|g| g.name.clone()))
        .collect();
    let lines = [
        format!("run {} ({dir})", m.run_id),
        format!(
            "status {}{}",
            m.status,
            m.error
                .as_ref()
                .map(|e| format!(": {e}"))
                .unwrap_or_default()
        ),
        format!("plan {} ({})", m.plan.name, m.plan.origin),
        format!("started {}, last written {}", m.created_at, m.updated_at),
        format!("rigbench {}", crate::report::markdown::tool_text(&m.tool)),
        format!(
            "host {} · {} · {}",
            m.host.hostname.as_deref().unwrap_or("?"),
            m.host.cpu.model.as_deref().unwrap_or("?"),
            if gpus.is_empty() {
                "no NVIDIA GPU".to_string()
            } else {
                gpus.join(", ")
            }
        ),
        format!("engine {engine}"),
        format!("resumed {} time(s)", m.resumes.len()),
        format!(
            "integrity {}",
            match integrity {
                Ok(()) => format!("ok (sha256 {})", m.integrity.sha256),
                Err(e) => format!("BAD: {e}"),
            }
        ),
    ];
    for l in lines {
        out.push_str(&l);
        out.push('\n');
    }
    out.push_str(&cells_table(m));
    for c in m.cells.iter().filter(|c| c.failure.is_some()) {
        if let Some(f) = &c.failure {
            out.push_str(&format!("{}: {}: {}\n", c.id, f.mode, f.message));
        }
    }
    out
}

#[cfg(test)]
mod tests;
