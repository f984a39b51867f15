//! A run's overall progress, from its manifest: cells finished of those to
//! run, measured runs done of those planned, requests made of those planned,
//! and the time left. Pure.
//!
//! The time left learns from what the run measured. A cell with measured runs
//! makes its other requests at their mean time; a cell not yet
//! measured takes the dry-run estimate's model of a request
//! (`plan::estimate::Rates::request_seconds`: long prompts cost more) scaled
//! by how its backend and model's measured cells compared with that model;
//! a server start that was timed costs its load time again (plus `START_S`),
//! others the estimate's. Only where nothing of a backend and model was
//! measured is the bare estimate left: one model's pace says little of
//! another's (a 270M model's requests, dominated by fixed costs, made an
//! H100 run's first figure 2 h 59 min for 17 min of work when they scaled a
//! 27B model's). With a model of unknown size, no time.

use std::collections::BTreeMap;

use crate::manifest::{Cell, Manifest};
use crate::status::CellStatus;

/// A server start's fixed cost (container start and stop, the health wait
/// beyond the load), seconds: about 2.6 s a start on an H100 host
/// (results/h100-study-2026-12: 987 s of run, 898 s of requests and loads,
/// 34 starts).
pub const START_S: f64 = 3.0;
/// Model load speed, bytes/s, as `plan::estimate` takes it.
const LOAD_BYTES_PER_S: f64 = 2e9;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Overall {
    pub cells_done: usize,
    pub cells_total: usize,
    pub runs_done: u32,
    /// The measured runs planned (at most, with a precision target).
    pub runs_planned: u32,
    /// Whether `runs_planned` is an upper bound (a precision target).
    pub at_most: bool,
    pub requests_done: u32,
    pub requests_planned: u32,
    /// Seconds of work left (requests and server starts), learned from what
    /// was measured; `None` when a model's size is unknown.
    pub left_s: Option<f64>,
}

/// A server group: backend, source, model, variant.
type GroupKey = (String, String, String, String);
/// A backend and model: what a measured pace carries over within.
type PaceKey = (String, String);

/// The requests a cell is planned to make in all (warm-ups of every round and
/// its measured runs) and has made.
fn requests(c: &Cell, b: &crate::plan::Bench) -> (u32, u32) {
    let done = c.runs.len() as u32;
    let planned = if c.status == CellStatus::Pending {
        (b.warmup_runs * b.most_rounds() + b.max_runs()).max(done)
    } else {
        done
    };
    (done, planned)
}

/// A server group's starts: the rounds it has started, whether it has more to
/// do, one start's estimate and, once timed, its measured load.
#[derive(Default)]
struct Starts {
    started: u32,
    more: bool,
    estimate_s: f64,
    measured_s: Option<f64>,
}

/// A cell's requests: estimated seconds of one, its measured runs and their
/// seconds, the requests left.
struct Requests {
    pace: PaceKey,
    one_s: f64,
    measured: u32,
    measured_s: f64,
    left: u32,
}

/// A cell's measured runs (not its warm-ups): how many, and their seconds.
/// A first round's warm-up may compile the GPU's shaders for a new length
/// (30 s against 0.35 s for a 270M model's 461-token prompt on Vulkan on an
/// H100), which later rounds' warm-ups do not repeat: warm-ups say little of
/// what the cell's next requests take.
fn measured_runs(c: &Cell) -> (u32, f64) {
    c.runs
        .iter()
        .filter(|r| !r.warmup)
        .fold((0, 0.0), |(n, s), r| (n + 1, s + r.wall_ms / 1000.0))
}

/// `m`'s progress; `model_bytes(name)` is a model's size where known, `rates`
/// the estimate's for the run's plan and host (`report::roofline::estimate_rates`).
pub fn overall(
    m: &Manifest,
    model_bytes: &dyn Fn(&str) -> Option<u64>,
    rates: &crate::plan::estimate::Rates,
) -> Overall {
    let b = &m.bench();
    let mut o = Overall {
        cells_done: 0,
        cells_total: m.cells.len(),
        runs_done: 0,
        runs_planned: 0,
        at_most: b.precision.is_some(),
        requests_done: 0,
        requests_planned: 0,
        left_s: None,
    };
    let mut known = true;
    let mut groups: BTreeMap<GroupKey, Starts> = BTreeMap::new();
    let mut cells = Vec::new();
    for c in &m.cells {
        let measured = c.measured_runs();
        o.runs_done += measured;
        let pending = c.status == CellStatus::Pending;
        if pending {
            o.runs_planned += b.max_runs().max(measured);
        } else {
            o.cells_done += 1;
            o.runs_planned += measured;
        }
        let (done, planned) = requests(c, b);
        o.requests_done += done;
        o.requests_planned += planned;
        let Some(bytes) = model_bytes(&c.model) else {
            known = false;
            continue;
        };
        let one_s = rates.request_seconds(c.backend, bytes, c.prompt_tokens, c.n_predict);
        let (n, seconds) = measured_runs(c);
        cells.push(Requests {
            pace: (c.backend.name().to_string(), c.model.clone()),
            one_s,
            measured: n,
            measured_s: seconds,
            left: planned - done,
        });
        let mut rounds: Vec<u32> = c.runs.iter().map(|r| r.round).collect();
        rounds.sort_unstable();
        rounds.dedup();
        let key = (
            c.backend.name().to_string(),
            c.source.clone(),
            c.model.clone(),
            c.variant.name.clone(),
        );
        let g = groups.entry(key).or_default();
        g.estimate_s = START_S + bytes as f64 / LOAD_BYTES_PER_S;
        g.started = g.started.max(rounds.len() as u32);
        g.more |= pending;
        if let Some(s) = c.server.as_ref().filter(|_| !c.runs.is_empty()) {
            g.measured_s = Some(START_S + s.load_seconds);
        }
    }
    if known {
        o.left_s = Some(requests_left(&cells) + starts_left(&groups, b.most_rounds()));
    }
    o
}

/// Seconds of the requests left: a measured cell's at its measured runs'
/// mean, others at the estimate scaled by their backend and model's measured
/// pace.
fn requests_left(cells: &[Requests]) -> f64 {
    let mut pace: BTreeMap<&PaceKey, (f64, f64)> = BTreeMap::new();
    for c in cells.iter().filter(|c| c.measured > 0) {
        let p = pace.entry(&c.pace).or_default();
        p.0 += c.measured_s;
        p.1 += c.one_s * f64::from(c.measured);
    }
    cells
        .iter()
        .map(|c| {
            let one = match c.measured {
                1.. => c.measured_s / f64::from(c.measured),
                0 => match pace.get(&c.pace) {
                    Some((measured, estimated)) if *estimated > 0.0 => {
                        c.one_s * measured / estimated
                    }
                    _ => c.one_s,
                },
            };
            one * f64::from(c.left)
        })
        .sum()
}

/// Seconds of the server starts left: each group with work left starts once
/// per round it has not started (at least once more), at its timed start.
fn starts_left(groups: &BTreeMap<GroupKey, Starts>, rounds: u32) -> f64 {
    groups
        .values()
        .filter(|g| g.more)
        .map(|g| {
            f64::from(rounds.saturating_sub(g.started).max(1))
                * g.measured_s.unwrap_or(g.estimate_s)
        })
        .sum()
}

impl Overall {
    /// "cells 3/16, runs 10/64, about 12 min left".
    pub fn text(&self) -> String {
        let left = match self.left_s {
            Some(s) if self.cells_done < self.cells_total => {
                format!(", about {} left", crate::plan::estimate::human(s))
            }
            _ => String::new(),
        };
        format!(
            "cells {}/{}, runs {}/{}{}{left}",
            self.cells_done,
            self.cells_total,
            self.runs_done,
            if self.at_most { "≤" } else { "" },
            self.runs_planned,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::fixtures::{cell, run};
    use crate::plan::estimate::Rates;

    /// The built-in plan (1 warm-up, 4 measured runs in 4 rounds) with two
    /// cells of one server group: p31 done (rounds 0-3: 4 warm-ups, 4 runs),
    /// p461 in round 1 (2 warm-ups, 1 run).
    fn manifest() -> Manifest {
        let plan = crate::plan::builtin(2).unwrap();
        let host = crate::host::probe(std::path::Path::new("/nonexistent"));
        let mut m = Manifest::new("r", plan, host, None);
        let mut runs = vec![];
        for round in 0..4 {
            for warm in [true, false] {
                let mut r = run(60.0, 500.0, 60.0, warm);
                r.round = round;
                runs.push(r);
            }
        }
        m.cells.push(cell(31, "default", runs, None));
        let mut late = vec![
            run(55.0, 600.0, 700.0, true),
            run(55.0, 600.0, 700.0, false),
            run(55.0, 600.0, 700.0, true),
        ];
        late[2].round = 1;
        let mut c = cell(461, "default", late, None);
        c.status = CellStatus::Pending;
        m.cells.push(c);
        m
    }

    #[test]
    fn counts_cells_runs_and_requests_with_the_plans_denominators() {
        let o = overall(&manifest(), &|_| None, &Rates::assumed());
        assert_eq!((o.cells_done, o.cells_total), (1, 2));
        // p31: 4 of 4; p461: 1 of 4.
        assert_eq!((o.runs_done, o.runs_planned), (5, 8));
        // p31: 8 made, 8 planned; p461: 3 made of 4 × 1 + 4 = 8.
        assert_eq!((o.requests_done, o.requests_planned), (11, 16));
        assert_eq!(o.left_s, None, "no model size: no time");
        assert_eq!(o.text(), "cells 1/2, runs 5/8");
    }

    /// 1 GB on the 2-core CPU: tg = min(0.6 × 60e9, 2 × 4.5e9) / 1e9 = 9
    /// t/s, pp = min(10 × 36e9, 2 × 3e10) / 1e9 = 60 t/s; n_predict 4 (the
    /// fixture's cells).
    fn one(prompt: f64) -> f64 {
        prompt / 60.0 + 4.0 / 9.0
    }

    #[test]
    fn the_time_left_is_what_each_cell_took_and_its_models_pace_for_the_rest() {
        let mut m = manifest();
        // p461's three requests took 2 s each (p31's 1 s).
        for r in &mut m.cells[1].runs {
            r.wall_ms = 2000.0;
        }
        let gb = |_: &str| Some(1_000_000_000u64);
        // p461 makes its 5 other requests at its measured run's 2 s; the group has had
        // its 4 rounds but a cell is pending: one more start, not timed,
        // 3 + 1e9/2e9 = 3.5 s.
        let o = overall(&m, &gb, &Rates::assumed());
        assert!((o.left_s.unwrap() - (5.0 * 2.0 + 3.5)).abs() < 1e-9);
        assert_eq!(o.text(), "cells 1/2, runs 5/8, about 14 s left");

        // A cell not yet measured (p3799, 8 requests) takes the estimate
        // scaled by its backend and model's pace over their measured runs
        // (warm-ups left out): p31's 4 × 1 s and p461's 1 × 2 s where
        // 4 × one(31) + 1 × one(461) was estimated.
        let mut c = cell(3799, "default", vec![], None);
        c.status = CellStatus::Pending;
        m.cells.push(c);
        let pace = 6.0 / (4.0 * one(31.0) + one(461.0));
        let o = overall(&m, &gb, &Rates::assumed());
        let want = 5.0 * 2.0 + 8.0 * one(3799.0) * pace + 3.5;
        assert!(
            (o.left_s.unwrap() - want).abs() < 1e-9,
            "{:?} {want}",
            o.left_s
        );

        // Another model's pace says nothing of it: the bare estimate.
        m.cells[2].model = "other".into();
        let o = overall(&m, &gb, &Rates::assumed());
        // Its own group now: not started, 4 rounds to go, 3.5 s each.
        let want = 5.0 * 2.0 + 8.0 * one(3799.0) + 3.5 + 4.0 * 3.5;
        assert!(
            (o.left_s.unwrap() - want).abs() < 1e-9,
            "{:?} {want}",
            o.left_s
        );
    }

    /// Seconds of the day of an RFC 3339 UTC time (the runs of one day).
    fn seconds(t: &str) -> f64 {
        let h: f64 = t[11..13].parse().unwrap();
        let m: f64 = t[14..16].parse().unwrap();
        let s: f64 = t[17..23].parse().unwrap();
        h * 3600.0 + m * 60.0 + s
    }

    /// A published run replayed: the manifest as it stood when each of its
    /// requests began (start time, round), the time left then against what
    /// was really left, as `|said / real - 1|` for each start in order.
    fn replay(run: &str, rates: &Rates) -> Vec<(f64, u32)> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(run);
        let full: Manifest = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        let sizes: BTreeMap<String, u64> = full
            .models
            .iter()
            .map(|r| (r.name.clone(), r.size_bytes))
            .collect();
        let size = |n: &str| sizes.get(n).copied();
        let mut starts: Vec<(f64, u32)> = full
            .cells
            .iter()
            .flat_map(|c| c.runs.iter().map(|r| (seconds(&r.started_at), r.round)))
            .collect();
        starts.sort_by(|a, b| a.0.total_cmp(&b.0));
        let end = full
            .cells
            .iter()
            .flat_map(|c| &c.runs)
            .map(|r| seconds(&r.started_at) + r.wall_ms / 1000.0)
            .fold(0.0, f64::max);
        let at = |t: f64| {
            let mut m = full.clone();
            for c in &mut m.cells {
                let all = c.runs.len();
                c.runs.retain(|r| seconds(&r.started_at) < t);
                if c.runs.len() < all {
                    c.status = CellStatus::Pending;
                }
                if c.runs.is_empty() {
                    c.server = None;
                }
            }
            overall(&m, &size, rates).left_s.unwrap() / (end - t)
        };
        starts
            .iter()
            .map(|(t, round)| ((at(*t) - 1.0).abs(), *round))
            .collect()
    }

    /// The largest error over `errors[from..to]`.
    fn worst(errors: &[(f64, u32)], from: usize, to: usize) -> f64 {
        errors[from..to].iter().map(|e| e.0).fold(0.0, f64::max)
    }

    /// The H100 study run (results/h100-study-2026-12/a: 68 cells, 2 rounds,
    /// 16.5 min) replayed (issue 30 asks for 25 % after the first round).
    #[test]
    fn on_the_h100_study_run_the_time_left_is_within_a_quarter_after_the_first_round() {
        // What report::roofline::estimate_rates gives this host (its test
        // checks it): an H100 SXM's 3.35 TB/s, discrete, 16 cores.
        let rates = Rates {
            gpu_gbs: 3350.0,
            discrete: true,
            cores: 16,
            ..Rates::assumed()
        };
        let errors = replay("results/h100-study-2026-12/a/manifest.json", &rates);
        let round_two = errors.iter().position(|s| s.1 == 1).unwrap();
        // The last 40 requests (the last 36 s) left out: there a second's
        // error is a large share of what is left.
        let last = errors.len() - 40;
        // At most 4 % off from the second round on.
        let second = worst(&errors, round_two, last);
        assert!(second < 0.10, "after the first round: {second:.2}");
        // Before any cell of a model was measured, the estimate at the host's
        // bandwidth (the old scaling by the first requests said 2 h 59 min
        // here, the estimate at the assumed bandwidth 5 h 17 min, for 16.5
        // min): 3 % off.
        let start = worst(&errors, 0, 10);
        assert!(start < 0.10, "at the start: {start:.2}");
        // In the first round, while models' first cells are measured: 13 %.
        let first = worst(&errors, 0, round_two);
        assert!(first < 0.2, "in the first round: {first:.2}");
    }

    /// The default plan on this 2-core VM (results/cpu-vm-2026-12/default:
    /// 4 cells, 4 rounds, 12 min), where issue 30 saw "about 2 min left" at
    /// the start (82 % short, replayed with the old estimate).
    #[test]
    fn on_the_default_cpu_run_the_time_left_is_within_a_quarter_after_the_first_round() {
        let errors = replay(
            "results/cpu-vm-2026-12/default/manifest.json",
            &Rates::assumed(),
        );
        let round_two = errors.iter().position(|s| s.1 == 1).unwrap();
        // Rates::assumed() is what report::roofline::estimate_rates gives
        // that VM (2 cores, no known platform). Measured: at most 9 % off
        // from the second round on (the issue asks 25 %; held to 15 %).
        let second = worst(&errors, round_two, errors.len());
        assert!(second < 0.15, "after the first round: {second:.2}");
        // At the start, the estimate with the cores' limits: 8 % off.
        let start = worst(&errors, 0, 2);
        assert!(start < 0.15, "at the start: {start:.2}");
    }
}
