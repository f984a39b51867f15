//! The report's failure section, in the published study's style: one row per
//! configuration and outcome (backend, model, server settings, failure mode, the
//! telling line of evidence, how many of that configuration's cells failed so),
//! then every failed cell with its message, then the cells the plan left out.
//! A pure function of the manifest.

use std::fmt::Write as _;

use crate::manifest::{Cell, Failure, Manifest};
use crate::render::{Table, markdown};
use crate::status::CellStatus;

/// The configuration a cell ran in, as the study names it.
pub fn configuration(c: &Cell) -> String {
    let v = &c.variant;
    let mut s = format!(
        "{} · {} · {} (ctx {}, K {}, V {})",
        c.backend, c.model, v.name, v.ctx_size, v.cache_type_k, v.cache_type_v
    );
    if !v.env.is_empty() {
        let env: Vec<String> = v.env.iter().map(|(k, x)| format!("{k}={x}")).collect();
        let _ = write!(s, " env {}", env.join(" "));
    }
    if let Some(f) = &v.fault {
        let _ = write!(
            s,
            " · injected SIG{} after {} tokens",
            f.signal, f.after_tokens
        );
    }
    s
}

/// The line of evidence that says most: a log signature or token ids (neither
/// the container state, the injection note nor the log tail), else the message.
pub fn telling(f: &Failure) -> String {
    f.evidence
        .iter()
        .find(|e| {
            !e.starts_with("container ") && !e.starts_with("log: ") && !e.starts_with("injected ")
        })
        .cloned()
        .unwrap_or_else(|| f.message.clone())
}

pub fn section(out: &mut String, m: &Manifest) {
    let t = tables(m);
    if t.is_empty() {
        return;
    }
    let _ = writeln!(out, "## Failures and exclusions\n");
    for t in t {
        out.push_str(&markdown::table(&t));
        out.push('\n');
    }
}

/// The study-style table, the per-cell table and the exclusions (those present).
pub fn tables(m: &Manifest) -> Vec<Table> {
    let mut out = Vec::new();
    let failed: Vec<(&Cell, &Failure)> = m
        .cells
        .iter()
        .filter(|c| c.status == CellStatus::Failed)
        .filter_map(|c| Some((c, c.failure.as_ref()?)))
        .collect();
    if !failed.is_empty() {
        // (configuration, mode, evidence) -> failed cells, in order of first appearance.
        let mut groups: Vec<((String, String, String), u32)> = Vec::new();
        for (c, f) in &failed {
            let key = (configuration(c), f.mode.to_string(), telling(f));
            match groups.iter_mut().find(|(k, _)| *k == key) {
                Some((_, n)) => *n += 1,
                None => groups.push((key, 1)),
            }
        }
        let rows = groups.into_iter().map(|((config, mode, evidence), n)| {
            let of = m
                .cells
                .iter()
                .filter(|c| configuration(c) == config)
                .count();
            [config, mode, evidence, format!("{n}/{of} cells")]
        });
        out.push(Table::new(["configuration", "outcome", "evidence", "count"]).with_rows(rows));
        let rows = failed
            .iter()
            .map(|(c, f)| [c.id.clone(), f.mode.to_string(), f.message.clone()]);
        out.push(Table::new(["cell", "mode", "what happened"]).with_rows(rows));
    }
    if !m.excluded.is_empty() {
        let rows = m.excluded.iter().map(|e| [e.id.clone(), e.reason.clone()]);
        out.push(Table::new(["excluded cell", "reason"]).with_rows(rows));
    }
    out
}
