//! The report's A/B section (`plan.ab`), for report.md and report.html: how
//! the arms were interleaved and when the run stopped, then per paired cell
//! and metric the geometric mean ratio, the confidence sequence's interval
//! that gives the verdict, the fixed-n and Welch intervals beside it, the
//! narrowest band it says "same" at, and the verdict. Pure.

use std::fmt::Write as _;

use crate::comparison::paired::{PairedCell, paired};
use crate::manifest::Manifest;
use crate::plan::ab::arm_name;
use crate::render::forest::ForestRow;
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

/// A duration in the largest unit that keeps it readable: "40 s", "12 min",
/// "4.0 h".
fn duration(s: f64) -> String {
    if s < 120.0 {
        format!("{s:.0} s")
    } else if s < 7200.0 {
        format!("{:.0} min", s / 60.0)
    } else {
        format!("{:.1} h", s / 3600.0)
    }
}

/// The seconds one round took in this run: measuring time over the rounds
/// run (planned and added); `None` before any.
pub fn round_seconds(m: &Manifest) -> Option<f64> {
    let rec = m.ab.as_ref()?;
    let rounds = m.bench().rounds;
    (rounds > 0 && rec.measuring_s > 0.0).then(|| rec.measuring_s / f64::from(rounds))
}

/// The verdict, with the rounds that would decide an open one and how long
/// they would take at this run's pace.
fn verdict_text(c: &PairedCell, round_s: Option<f64>) -> String {
    match (c.rounds_to_decide, round_s) {
        (Some(n), Some(s)) => format!(
            "{} (≈{n} rounds to decide, ≈{} at {s:.0} s a round)",
            c.verdict.as_str(),
            duration(s * n as f64)
        ),
        (Some(n), None) => format!("{} (≈{n} rounds to decide)", c.verdict.as_str()),
        // Open with a spread measured, yet no count of rounds decides it: an
        // estimate on the band's edge, or over 10 000 rounds.
        (None, _) if !c.decided() && c.rounds >= 2 => format!(
            "{} (no number of rounds decides it at this estimate and spread)",
            c.verdict.as_str()
        ),
        (None, _) => c.verdict.as_str().to_string(),
    }
}

/// The narrowest band at which the sequence's interval says `same`.
fn same_within(c: &PairedCell) -> String {
    c.sequence.map_or("—".into(), |i| {
        format!("±{:.1} %", i.same_within() * 100.0)
    })
}

/// The section's content, shared by report.md and report.html: its
/// paragraphs, the table, a forest row per paired cell (B/A with the
/// sequence's interval, coloured by verdict) and the band.
pub struct Parts {
    pub paragraphs: Vec<String>,
    pub table: Table,
    /// After the table: the cells that found no partner.
    pub unpaired: Option<String>,
    pub forest: Vec<ForestRow>,
    pub band: f64,
    /// The level of each interval, percent (the forest's caption).
    pub level_pct: f64,
}

/// The section's content; `None` without `[ab]`.
pub fn parts(m: &Manifest) -> Option<Parts> {
    let ab = m.plan.ab.as_ref()?;
    let p = paired(m, ab);
    let round_s = round_seconds(m);
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
    let rec = m.ab.clone().unwrap_or_default();
    let paragraphs = vec![
        format!("Arms: {}. {}.", arms.join("; "), ab.text()),
        format!(
            "Rounds: {} planned, {} added; stopped: {}; measuring took {:.0} s.",
            m.plan.bench.rounds,
            rec.rounds_added,
            rec.stopped
                .map_or("not yet (the run did not finish)", |s| s.text()),
            rec.measuring_s
        ),
        format!(
            "Per round, the ratio of B's mean to A's; B/A is their geometric mean. The verdict comes from Lai's t-confidence sequence (1976), each interval at {:.2} % ({} intervals, Bonferroni), which holds at every round at once: with probability at least {:.0} % every interval below covers its true ratio however the run chose to stop, so a \"same\" (interval inside ±{} %) or a direction (\"faster\"/\"slower\": interval beyond 1, estimate beyond the band) is wrong with probability at most {:.0} %. It assumes the rounds' log-ratios independent and normal. An open verdict says how many rounds would decide it if the estimate and the spread stayed as measured, and how long they would take at this run's pace (a planning figure); \"same within\" is the narrowest band at which the interval would say \"same\" now. The fixed-n 95 % interval holds only for a number of rounds fixed in advance; Welch's is the unpaired interval on the same runs.",
            (1.0 - p.alpha_each) * 100.0,
            p.cells.len(),
            (1.0 - ab.alpha) * 100.0,
            ab.band * 100.0,
            ab.alpha * 100.0
        ),
    ];
    let mut table = Table::new([
        "A",
        "B",
        "metric",
        "rounds",
        "B/A",
        "sequence",
        "fixed-n 95 %",
        "Welch 95 %",
        "paired ÷ Welch width",
        "same within",
        "verdict",
    ]);
    let mut forest = Vec::new();
    for c in &p.cells {
        table.push([
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
            same_within(c),
            verdict_text(c, round_s),
        ]);
        forest.push(ForestRow {
            label: format!("{} {}", c.b, c.metric.name()),
            interval: c.ratio.zip(c.sequence).map(|(r, i)| (r, i.low, i.high)),
            verdict: Some(c.verdict),
            note: match c.sequence {
                Some(_) => c.verdict.as_str().to_string(),
                None => format!("{} rounds: too few", c.rounds),
            },
        });
    }
    let unpaired = (!p.unpaired.is_empty()).then(|| {
        format!(
            "No partner in the other arm (not compared): {}.",
            p.unpaired.join(", ")
        )
    });
    Some(Parts {
        paragraphs,
        table,
        unpaired,
        forest,
        band: ab.band,
        level_pct: (1.0 - p.alpha_each) * 100.0,
    })
}

/// The whole section in Markdown; nothing without `[ab]`.
pub fn section(out: &mut String, m: &Manifest) {
    let Some(p) = parts(m) else {
        return;
    };
    let _ = writeln!(out, "## A/B, paired by round\n");
    for par in &p.paragraphs {
        let _ = writeln!(out, "{par}\n");
    }
    out.push_str(&markdown::table(&p.table));
    out.push('\n');
    if let Some(u) = &p.unpaired {
        let _ = writeln!(out, "{u}\n");
    }
}

/// One line per paired cell, for the end of a run.
pub fn lines(m: &Manifest) -> Vec<String> {
    let Some(ab) = &m.plan.ab else {
        return Vec::new();
    };
    let round_s = round_seconds(m);
    paired(m, ab)
        .cells
        .iter()
        .map(|c| {
            format!(
                "A/B {} vs {} {}: {} after {} rounds, B/A {} (sequence {}, same within {})",
                c.b,
                c.a,
                c.metric.name(),
                verdict_text(c, round_s),
                c.rounds,
                c.ratio.map_or("—".into(), |r| format!("{r:.4}")),
                interval(c.sequence),
                same_within(c)
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::ab::{AbRecord, AbStop};
    use crate::manifest::fixtures::{ab_of_variants, cell as run_cell, manifest, run};
    use crate::metric::Metric;
    use crate::stats::compare::Verdict;

    /// An A/A of one pair at 31 prompt tokens over six rounds: B = A · e^e_i,
    /// e = .001, −.001, .002, −.002, 0, 0 (mean 0, Σe² = .00001).
    fn aa() -> Manifest {
        let a = [50.0, 52.0, 48.0, 51.0, 49.0, 50.0];
        let e = [0.001, -0.001, 0.002, -0.002, 0.0, 0.0];
        let cell = |variant: &str, speeds: Vec<f64>| {
            let runs = speeds
                .iter()
                .enumerate()
                .map(|(i, g)| {
                    let mut r = run(*g, 500.0, 50.0, false);
                    r.round = i as u32;
                    r
                })
                .collect();
            run_cell(31, variant, runs, None)
        };
        let mut m = manifest();
        m.cells = vec![
            cell("a", a.to_vec()),
            cell("b", a.iter().zip(e).map(|(x, e)| x * f64::exp(e)).collect()),
        ];
        m.plan.ab = Some(ab_of_variants(&["a", "b"]));
        m
    }

    #[test]
    fn the_section_in_markdown_and_html() {
        let m = aa();
        // One interval, at α = .05, n = 6: c = (20 √7)^(1/3) = 3.754540,
        // a = 6 (1 − c/7) = 2.781823, half = √(2.754540 · .00001 / a) = .003147:
        // 0.99686–1.00315, inside ±0.3 % and so inside the ±2 % band.
        let mut md = String::new();
        section(&mut md, &m);
        assert!(md.starts_with("## A/B, paired by round"), "{md}");
        assert!(md.contains("| 0.9969–1.0032 "), "{md}");
        assert!(md.contains("| ±0.3 %      | same "), "{md}");
        assert!(!md.contains("No partner"), "{md}");
        let html = crate::report::html::render_html(&m);
        assert!(html.contains("<h2>A/B, paired by round</h2>"), "{html}");
        // The forest: one row for B, in the verdict's colour, at the
        // sequence's level.
        assert!(
            html.contains("B/A with its 95.00 % sequence interval"),
            "{html}"
        );
        assert!(html.contains(">cpu.m.b.p31 gen_tps</text>"), "{html}");
        assert!(html.contains("<td>±0.3 %</td><td>same</td>"), "{html}");
        // Without [ab], neither has the section.
        let mut plain = m.clone();
        plain.plan.ab = None;
        let mut md = String::new();
        section(&mut md, &plain);
        assert!(md.is_empty());
        assert!(!crate::report::html::render_html(&plain).contains("A/B"));
    }

    fn cell(verdict: Verdict, rounds_to_decide: Option<usize>) -> PairedCell {
        PairedCell {
            a: "cpu.m.a.p31".into(),
            b: "cpu.m.b.p31".into(),
            arm: 1,
            metric: Metric::GenTps,
            rounds: 28,
            ratio: Some(0.9942),
            fixed: None,
            sequence: Some(Interval {
                low: 0.9277,
                high: 1.0656,
            }),
            welch: None,
            verdict,
            rounds_to_decide,
        }
    }

    #[test]
    fn durations_in_readable_units() {
        assert_eq!(duration(40.0), "40 s");
        assert_eq!(duration(120.0), "2 min");
        assert_eq!(duration(7140.0), "119 min");
        assert_eq!(duration(7200.0), "2.0 h");
    }

    #[test]
    fn a_round_takes_the_measuring_time_over_all_rounds_run() {
        let mut m = manifest();
        assert_eq!(round_seconds(&m), None);
        m.plan.bench.rounds = 5;
        m.ab = Some(AbRecord {
            rounds_added: 23,
            stopped: Some(AbStop::Budget),
            measuring_s: 592.0,
        });
        // 592 s over 5 + 23 rounds.
        let s = round_seconds(&m).unwrap();
        assert!((s - 592.0 / 28.0).abs() < 1e-9, "{s}");
    }

    #[test]
    fn an_open_verdict_says_the_rounds_and_the_time_to_decide_it() {
        let c = cell(Verdict::Inconclusive, Some(683));
        // 683 rounds · 21.14 s = 14 439 s = 4.01 h.
        assert_eq!(
            verdict_text(&c, Some(21.14)),
            "inconclusive (≈683 rounds to decide, ≈4.0 h at 21 s a round)"
        );
        assert_eq!(
            verdict_text(&c, None),
            "inconclusive (≈683 rounds to decide)"
        );
        assert_eq!(verdict_text(&cell(Verdict::Same, None), Some(21.0)), "same");
        // Open, 28 rounds in, and no count of rounds would decide it.
        assert_eq!(
            verdict_text(&cell(Verdict::Inconclusive, None), Some(21.0)),
            "inconclusive (no number of rounds decides it at this estimate and spread)"
        );
        // 1 − 0.9277 = 7.23 % is farther from 1 than 1.0656 − 1 = 6.56 %.
        assert_eq!(same_within(&c), "±7.2 %");
    }
}
