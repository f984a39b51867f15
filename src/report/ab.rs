//! The report's A/B section (`plan.ab`): how the arms were interleaved and
//! when the run stopped, then per paired cell and metric the geometric mean
//! ratio, the confidence sequence's interval that gives the verdict, the
//! fixed-n and Welch intervals beside it, and the verdict. Pure.

use std::fmt::Write as _;

use crate::comparison::paired::{PairedCell, paired};
use crate::manifest::Manifest;
use crate::plan::ab::arm_name;
use crate::render::{Table, markdown};
use crate::stats::paired::Interval;

fn interval(i: Option<Interval>) -> String {
    i.map_or("—".to_string(), |i| format!("{:.4}–{:.4}", i.low, i.high))
}

/// The paired interval's width over Welch's on the same runs.
pub fn width_ratio(c: &PairedCell) -> Option<f64> {
    let f = c.fixed?;
    let w = c.welch?;
    let welch = (w.ci95_high / w.ci95_low).ln();
    (welch > 0.0).then(|| f.width_log() / welch)
}

/// The verdict, with the rounds that would decide an open one.
fn verdict_text(c: &PairedCell) -> String {
    match c.rounds_to_decide {
        Some(n) => format!("{} (≈{n} rounds to decide)", c.verdict.as_str()),
        None => c.verdict.as_str().to_string(),
    }
}

/// The whole section; nothing without `[ab]`.
pub fn section(out: &mut String, m: &Manifest) {
    let Some(ab) = &m.plan.ab else {
        return;
    };
    let p = paired(m, ab);
    let _ = writeln!(out, "## A/B, paired by round\n");
    let arms: Vec<String> = ab
        .arms
        .iter()
        .enumerate()
        .map(|(i, a)| {
            format!(
                "{} {}",
                if i == 0 { "A (baseline)" } else { "B" },
                arm_name(a)
            )
        })
        .collect();
    let _ = writeln!(out, "Arms: {}. {}.\n", arms.join("; "), ab.text());
    let rec = m.ab.clone().unwrap_or_default();
    let _ = writeln!(
        out,
        "Rounds: {} planned, {} added; stopped: {}; measuring took {:.0} s.\n",
        m.plan.bench.rounds,
        rec.rounds_added,
        rec.stopped
            .map_or("not yet (the run did not finish)", |s| s.text()),
        rec.measuring_s
    );
    let _ = writeln!(
        out,
        "Per round, the ratio of B's mean to A's; B/A is their geometric mean. The verdict comes from Lai's t-confidence sequence (1976), each interval at {:.2} % ({} intervals, Bonferroni), which holds at every round at once: with probability at least {:.0} % every interval below covers its true ratio however the run chose to stop, so a \"same\" (interval inside ±{} %) or a direction (\"faster\"/\"slower\": interval beyond 1, estimate beyond the band) is wrong with probability at most {:.0} %. It assumes the rounds' log-ratios independent and normal. An open verdict says how many rounds would decide it if the estimate and the spread stayed as measured (a planning figure). The fixed-n 95 % interval holds only for a number of rounds fixed in advance; Welch's is the unpaired interval on the same runs.\n",
        (1.0 - p.alpha_each) * 100.0,
        p.cells.len(),
        (1.0 - ab.alpha) * 100.0,
        ab.band * 100.0,
        ab.alpha * 100.0
    );
    let mut t = Table::new([
        "A",
        "B",
        "metric",
        "rounds",
        "B/A",
        "sequence",
        "fixed-n 95 %",
        "Welch 95 %",
        "paired ÷ Welch width",
        "verdict",
    ]);
    for c in &p.cells {
        t.push([
            c.a.clone(),
            c.b.clone(),
            c.metric.name().to_string(),
            c.rounds.to_string(),
            c.ratio.map_or("—".into(), |r| format!("{r:.4}")),
            interval(c.sequence),
            interval(c.fixed),
            c.welch.map_or("—".into(), |w| {
                format!("{:.4}–{:.4}", w.ci95_low, w.ci95_high)
            }),
            width_ratio(c).map_or("—".into(), |w| format!("{w:.2}")),
            verdict_text(c),
        ]);
    }
    out.push_str(&markdown::table(&t));
    out.push('\n');
    if !p.unpaired.is_empty() {
        let _ = writeln!(
            out,
            "No partner in the other arm (not compared): {}.\n",
            p.unpaired.join(", ")
        );
    }
}

/// One line per paired cell, for the end of a run.
pub fn lines(m: &Manifest) -> Vec<String> {
    let Some(ab) = &m.plan.ab else {
        return Vec::new();
    };
    paired(m, ab)
        .cells
        .iter()
        .map(|c| {
            format!(
                "A/B {} vs {} {}: {} after {} rounds, B/A {} (sequence {})",
                c.b,
                c.a,
                c.metric.name(),
                verdict_text(c),
                c.rounds,
                c.ratio.map_or("—".into(), |r| format!("{r:.4}")),
                interval(c.sequence)
            )
        })
        .collect()
}
