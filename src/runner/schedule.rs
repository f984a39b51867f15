//! Which runs a cell gets, and when: the warm-ups and measured runs of one
//! server start, each cell's quota per round (`bench.rounds`), and the runs a
//! precision target may add. Pure functions of the cell and the plan's bench.

use crate::manifest::{Cell, Run, measured};

/// One request of a cell: a warm-up (run, recorded, never summarised) or a
/// measured run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Iteration {
    WarmUp,
    Measured,
}

impl Iteration {
    pub fn is_warmup(self) -> bool {
        self == Iteration::WarmUp
    }

    /// As the progress lines name it.
    pub fn word(self) -> &'static str {
        match self {
            Iteration::WarmUp => "warm-up",
            Iteration::Measured => "run",
        }
    }
}

/// How a run's progress line names it: "warm-up", "warm-up 2/2", "run 3/8",
/// "run 3/≤12", with "(round 2/4)" when the plan has several rounds
/// (and "(round 5)" for a round a precision target added). `warm_no` is the
/// warm-up's number on this start, `measured_no` the measured run's in the
/// cell; the denominators are the plan's, over all rounds.
pub fn run_label(
    it: Iteration,
    warm_no: u32,
    measured_no: u32,
    b: &crate::plan::Bench,
    round: u32,
) -> String {
    let what = match it {
        Iteration::WarmUp if b.warmup_runs > 1 => format!("warm-up {warm_no}/{}", b.warmup_runs),
        Iteration::WarmUp => "warm-up".to_string(),
        Iteration::Measured => format!(
            "run {measured_no}/{}{}",
            if b.precision.is_some() { "≤" } else { "" },
            b.max_runs()
        ),
    };
    if b.most_rounds() <= 1 {
        what
    } else if round < b.rounds {
        format!("{what} (round {}/{})", round + 1, b.rounds)
    } else {
        format!("{what} (round {})", round + 1)
    }
}

/// The runs a cell needs on this server start, in order,
/// given the runs it already has and the measured runs it should have after
/// them (`quota`): nothing when it has them, else the warm-ups, then the
/// measured runs still missing (a new cell, a new round, a resumed cell).
pub fn schedule(done: &[Run], warmups: u32, quota: u32) -> Vec<Iteration> {
    let missing = quota.saturating_sub(measured(done));
    if missing == 0 {
        return Vec::new();
    }
    (0..warmups)
        .map(|_| Iteration::WarmUp)
        .chain((0..missing).map(|_| Iteration::Measured))
        .collect()
}

/// Whether a cell gets runs in `round`: with one round, while it wants more
/// (the runs a precision target adds come on the same server); with several,
/// while it is short of its quota.
pub fn needs_runs(c: &Cell, b: &crate::plan::Bench, round: u32) -> bool {
    if b.adds_in_round() {
        c.wants_more(b)
    } else {
        quota(c, b, round) > c.measured_runs()
    }
}

/// The measured runs a cell should have by the end of `round`: the planned
/// share while the planned rounds last; after them (several rounds with a
/// precision target) one more while it wants more.
pub fn quota(c: &Cell, b: &crate::plan::Bench, round: u32) -> u32 {
    if round < b.rounds {
        b.quota(round)
    } else if !b.adds_in_round() && c.wants_more(b) {
        c.measured_runs() + 1
    } else {
        c.measured_runs()
    }
}

/// The most runs a cell can end with: those done, the fixed ones still to run,
/// and, with a precision target, the measured runs it may add (plus a warm-up
/// when a resumed cell has none planned).
pub fn most_runs(done: &[Run], fixed: u32, b: &crate::plan::Bench) -> u32 {
    let extra = if b.adds_in_round() {
        b.max_runs().saturating_sub(b.runs.max(measured(done)))
    } else {
        0
    };
    let warm = u32::from(extra > 0 && fixed == 0 && !done.is_empty() && b.warmup_runs > 0);
    done.len() as u32 + fixed + extra + warm
}
