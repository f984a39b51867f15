//! The report's memory and heat section: per cell, over its measured runs, the
//! GPU memory the run took (peak VRAM+GTT minus the pre-server baseline), the
//! MemAvailable drop beside it, accounting anomalies, temperatures, power and the
//! cool-down waited. A pure function of the manifest.

use std::fmt::Write as _;

use crate::manifest::{Cell, Manifest, Run};
use crate::render::{Table, markdown};
use crate::telemetry::RunTelemetry;

const GIB: f64 = (1u64 << 30) as f64;

fn max(v: impl Iterator<Item = f64>) -> Option<f64> {
    v.reduce(f64::max)
}

/// A cell's measured runs that carry telemetry.
fn measured(c: &Cell) -> Vec<(&Run, &RunTelemetry)> {
    c.runs
        .iter()
        .filter(|r| !r.warmup)
        .filter_map(|r| r.telemetry.as_ref().map(|t| (r, t)))
        .collect()
}

pub fn section(out: &mut String, m: &Manifest) {
    if m.cells.iter().all(|c| measured(c).is_empty()) {
        return;
    }
    let gpu = m
        .cells
        .iter()
        .any(|c| measured(c).iter().any(|(_, t)| t.available));
    let _ = writeln!(out, "## Memory and heat (measured runs)\n");
    if !gpu {
        let _ = writeln!(
            out,
            "No amdgpu card on this host: GPU memory, temperature and power are unavailable; MemAvailable is recorded.\n"
        );
    }
    let fmt = |v: Option<f64>, unit: &str, d: usize| {
        v.map_or("—".to_string(), |x| format!("{x:.d$} {unit}"))
    };
    let rows = m.cells.iter().filter(|c| !measured(c).is_empty()).map(|c| {
        let runs = measured(c);
        let delta = max(runs
            .iter()
            .filter_map(|(_, t)| t.peak_delta_bytes)
            .map(|b| b as f64 / GIB));
        let drop = max(runs
            .iter()
            .filter_map(|(_, t)| t.mem_available_drop_bytes)
            .map(|b| b as f64 / GIB));
        let anomalies = runs.iter().filter(|(_, t)| t.accounting_anomaly).count();
        let edge = max(runs.iter().filter_map(|(_, t)| t.max_edge_c));
        let power = max(runs.iter().filter_map(|(_, t)| t.max_power_w));
        let scope = runs
            .iter()
            .find_map(|(_, t)| t.power_sources.first().map(|p| p.scope.clone()))
            .unwrap_or_default();
        let waited: f64 = runs
            .iter()
            .filter_map(|(r, _)| r.cooldown.as_ref().map(|c| c.waited_s))
            .sum();
        vec![
            c.id.clone(),
            fmt(delta, "GiB", 2),
            fmt(drop, "GiB", 2),
            if anomalies > 0 {
                format!("{anomalies} of {}", runs.len())
            } else {
                "none".to_string()
            },
            fmt(edge, "°C", 0),
            power.map_or("—".to_string(), |p| format!("{p:.0} W ({scope})")),
            format!("{waited:.1} s"),
        ]
    });
    let t = Table::new([
        "cell",
        "GPU memory (peak − baseline)",
        "MemAvailable drop",
        "accounting anomaly",
        "max edge",
        "max power",
        "cool-down waited",
    ])
    .with_rows(rows);
    out.push_str(&markdown::table(&t));
    out.push('\n');
}
