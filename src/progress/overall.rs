//! A run's overall progress, from its manifest: cells finished of those to
//! run, measured runs done of those planned, requests made of those planned,
//! and the time left. Pure.
//!
//! The time left comes from the dry-run estimate's model of each request
//! (`plan::estimate::Rates::request_seconds`: long prompts cost more) and of each
//! server start (`START_S` plus the model's load), over what is still to do,
//! scaled by how long the work done by this process took against its own
//! estimate (this machine's speed, the estimate's errors). Before any work it
//! is the bare estimate; with a model of unknown size, none.

use std::collections::BTreeMap;

use crate::manifest::{Cell, Manifest};
use crate::status::CellStatus;

/// A server start's fixed cost in the estimate (container start and stop,
/// the health wait), seconds, measured about so on this kind of machine.
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
    /// Estimated seconds of the work done and of the work left (requests and
    /// server starts); `None` when a model's size is unknown.
    pub est_done_s: Option<f64>,
    pub est_left_s: Option<f64>,
}

/// A server group: backend, source, model, variant.
type GroupKey = (String, String, String, String);
/// A group's rounds started, whether it has more to do, one start's estimate.
type GroupStarts = (u32, bool, f64);

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

/// `m`'s progress; `model_bytes(name)` is a model's size where known.
pub fn overall(m: &Manifest, model_bytes: &dyn Fn(&str) -> Option<u64>) -> Overall {
    let b = &m.bench();
    let mut o = Overall {
        cells_done: 0,
        cells_total: m.cells.len(),
        runs_done: 0,
        runs_planned: 0,
        at_most: b.precision.is_some(),
        requests_done: 0,
        requests_planned: 0,
        est_done_s: None,
        est_left_s: None,
    };
    let (mut est_done, mut est_left, mut known) = (0.0, 0.0, true);
    // Server starts per group (cells sharing backend, source, model and
    // variant): the rounds it has started, and whether it has more to do.
    let mut groups: BTreeMap<GroupKey, GroupStarts> = BTreeMap::new();
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
        // Only the requests' weights against each other matter here: the
        // pace measured so far scales them.
        let one = crate::plan::estimate::Rates::assumed().request_seconds(
            c.backend,
            bytes,
            c.prompt_tokens,
            c.n_predict,
        );
        est_done += one * f64::from(done);
        est_left += one * f64::from(planned - done);
        let mut rounds: Vec<u32> = c.runs.iter().map(|r| r.round).collect();
        rounds.sort_unstable();
        rounds.dedup();
        let key = (
            c.backend.name().to_string(),
            c.source.clone(),
            c.model.clone(),
            c.variant.name.clone(),
        );
        let start = START_S + bytes as f64 / LOAD_BYTES_PER_S;
        let g = groups.entry(key).or_insert((0, false, start));
        g.0 = g.0.max(rounds.len() as u32);
        g.1 |= pending;
    }
    for (started, more, start) in groups.values() {
        est_done += f64::from(*started) * start;
        if *more {
            est_left += f64::from(b.most_rounds().saturating_sub(*started).max(1)) * start;
        }
    }
    if known {
        o.est_done_s = Some(est_done);
        o.est_left_s = Some(est_left);
    }
    o
}

impl Overall {
    /// Seconds left: the estimate of what is left, scaled by `spent_s` (what
    /// this process has spent since it began measuring) over the estimate of
    /// the work done since (`est_done_s` then was `baseline_s`).
    pub fn left_s(&self, baseline_s: f64, spent_s: f64) -> Option<f64> {
        let left = self.est_left_s?;
        let done_here = self.est_done_s? - baseline_s;
        let scale = if done_here > 0.0 && spent_s > 0.0 {
            spent_s / done_here
        } else {
            1.0
        };
        Some(left * scale)
    }

    /// "cells 3/16, runs 10/64, about 12 min left".
    pub fn text(&self, left_s: Option<f64>) -> String {
        let left = match left_s {
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
        let o = overall(&manifest(), &|_| None);
        assert_eq!((o.cells_done, o.cells_total), (1, 2));
        // p31: 4 of 4; p461: 1 of 4.
        assert_eq!((o.runs_done, o.runs_planned), (5, 8));
        // p31: 8 made, 8 planned; p461: 3 made of 4 × 1 + 4 = 8.
        assert_eq!((o.requests_done, o.requests_planned), (11, 16));
        assert_eq!(o.left_s(0.0, 0.0), None, "no model size: no time");
        assert_eq!(o.text(None), "cells 1/2, runs 5/8");
    }

    #[test]
    fn the_time_left_is_the_estimate_scaled_by_what_the_work_done_took() {
        let m = manifest();
        // 1 GB on the CPU: tg = 0.6 × 60e9 / 1e9 = 36 t/s, pp = 360 t/s;
        // n_predict 4 (the fixture's cells). p31: 31/360 + 4/36 = 0.19722 s;
        // p461: 461/360 + 4/36 = 1.39167 s. A start: 3 + 1e9/2e9 = 3.5 s.
        let gb = |_: &str| Some(1_000_000_000u64);
        let o = overall(&m, &gb);
        let p31 = 31.0 / 360.0 + 4.0 / 36.0;
        let p461 = 461.0 / 360.0 + 4.0 / 36.0;
        // Done: 8 p31 and 3 p461 requests, 4 starts (the group's rounds seen).
        let done = 8.0 * p31 + 3.0 * p461 + 4.0 * 3.5;
        assert!((o.est_done_s.unwrap() - done).abs() < 1e-9);
        // Left: 5 p461 requests, and the group has had its 4 rounds but a
        // cell is still pending: one more start.
        let left = 5.0 * p461 + 3.5;
        assert!((o.est_left_s.unwrap() - left).abs() < 1e-9);
        // Nothing done by this process yet: the bare estimate.
        assert!((o.left_s(done, 0.0).unwrap() - left).abs() < 1e-9);
        // The work since the baseline (the p461 requests, 3 × 1.39167 s)
        // took twice its estimate: so will the rest.
        let baseline = done - 3.0 * p461;
        let twice = o.left_s(baseline, 2.0 * 3.0 * p461).unwrap();
        assert!((twice - 2.0 * left).abs() < 1e-9, "{twice}");
        assert_eq!(o.text(Some(twice)), "cells 1/2, runs 5/8, about 21 s left");
    }
}
