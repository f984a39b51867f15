//! The rounds of a run, and an A/B's on top: the planned rounds, each over
//! every group; in an A/B (`plan.ab`) the groups' order reversed every other
//! round (A B, B A, A B, …: a linear drift then weighs on both arms alike);
//! with `until_decided`, rounds added while a target cell is undecided
//! (`comparison::paired`), the budget allows, `max_rounds` is not reached and
//! some open verdict is within reach (`out_of_reach`).
//! The rounds added are recorded (`manifest::ab`) before each runs, so that a
//! resumed run knows them.

use std::time::Instant;

use super::{RunError, Runner};
use crate::comparison::paired::{Paired, paired};
use crate::engine::Engine;
use crate::manifest::ab::{AbRecord, AbStop};
use crate::manifest::recorder::Recorder;
use crate::plan::matrix::Matrix;
use crate::status::CellStatus;

/// The groups' order in `round`: reversed every other round in an A/B.
pub fn group_order(groups: usize, round: u32, ab: bool) -> Vec<usize> {
    let mut order: Vec<usize> = (0..groups).collect();
    if ab && round % 2 == 1 {
        order.reverse();
    }
    order
}

/// The fewest rounds before `out_of_reach` may stop an A/B: the spread is
/// too rough a guess before.
pub const OUT_OF_REACH_MIN_ROUNDS: u32 = 10;
/// How many times the reachable rounds an open verdict's rounds to decide
/// must exceed, for each open verdict, before `out_of_reach` stops: a margin
/// for that projection's own noise (the spread's estimate after 10 rounds is
/// off by a third at times, the rounds it projects by twice that).
pub const OUT_OF_REACH_FACTOR: f64 = 4.0;

/// The rounds a run can still reach: `max_rounds`, and with a budget the
/// rounds run plus as many more of this run's mean round length as fit in
/// what is left of it.
pub fn reachable_rounds(
    rounds_run: u32,
    max_rounds: u32,
    elapsed_s: f64,
    budget_s: Option<f64>,
) -> u32 {
    let Some(b) = budget_s.filter(|_| rounds_run > 0 && elapsed_s > 0.0) else {
        return max_rounds;
    };
    let per_round = elapsed_s / f64::from(rounds_run);
    let more = ((b - elapsed_s).max(0.0) / per_round).floor();
    max_rounds.min(rounds_run.saturating_add(more.min(f64::from(u32::MAX)) as u32))
}

/// Whether an A/B should stop because no open verdict can be reached: after
/// `OUT_OF_REACH_MIN_ROUNDS` rounds, every open verdict's rounds to decide
/// (at the measured estimate and spread; `None`: beyond 10 000, or an
/// estimate on the band's edge) exceeds `OUT_OF_REACH_FACTOR` times the
/// reachable rounds. A stop for futility: it spends none of the error rate,
/// the sequence holds whenever a run stops.
pub fn out_of_reach(open: &[Option<usize>], rounds_run: u32, reachable: u32) -> bool {
    let limit = OUT_OF_REACH_FACTOR * f64::from(reachable);
    rounds_run >= OUT_OF_REACH_MIN_ROUNDS
        && !open.is_empty()
        && open.iter().all(|n| n.is_none_or(|n| n as f64 > limit))
}

/// Whether another round fits: under the most rounds, and, with a budget,
/// when the round just measured (as long as the next is expected to take)
/// would still end within it.
pub fn next_round(
    rounds_run: u32,
    max_rounds: u32,
    elapsed_s: f64,
    last_round_s: f64,
    budget_s: Option<f64>,
) -> Result<(), AbStop> {
    if rounds_run >= max_rounds {
        return Err(AbStop::MaxRounds);
    }
    match budget_s {
        Some(b) if elapsed_s + last_round_s > b => Err(AbStop::Budget),
        _ => Ok(()),
    }
}

/// Reopens the A/B's undecided cells for one more round (pending again, the
/// record's added rounds counted); `false` when none could be reopened.
fn reopen(m: &mut Recorder<'_>, p: &Paired, round: u32) -> Result<bool, RunError> {
    let open = p.undecided_cells();
    let reopened = m
        .cells
        .iter()
        .filter(|c| open.contains(&c.id) && c.status == CellStatus::Ok)
        .count();
    if reopened == 0 {
        return Ok(false);
    }
    m.change(|m| {
        for c in m.cells.iter_mut().filter(|c| open.contains(&c.id)) {
            if c.status == CellStatus::Ok {
                c.status = CellStatus::Pending;
            }
        }
        if let Some(a) = m.ab.as_mut() {
            a.rounds_added += 1;
        }
    })?;
    log::info!(
        "A/B: {} of {} verdicts open after {round} rounds; round {} added",
        p.cells.iter().filter(|c| !c.decided()).count(),
        p.cells.len(),
        round + 1
    );
    Ok(true)
}

impl<E: Engine> Runner<'_, E> {
    /// Every round of the matrix (see `run`), and an A/B's added rounds.
    pub(super) async fn rounds(
        &self,
        m: &mut Recorder<'_>,
        matrix: &Matrix,
    ) -> Result<(), RunError> {
        let ab = m.plan.ab.clone();
        if ab.is_some() && m.ab.is_none() {
            m.change(|m| m.ab = Some(AbRecord::default()))?;
        }
        let t0 = Instant::now();
        let measured_before = m.ab.as_ref().map_or(0.0, |a| a.measuring_s);
        let bench = m.bench();
        let mut last = Instant::now();
        let mut last_round_s = 0.0;
        for round in 0..bench.most_rounds() {
            let ran = self.one_round(m, matrix, round).await?;
            last_round_s = last.elapsed().as_secs_f64();
            last = Instant::now();
            self.note_measuring(m, measured_before + t0.elapsed().as_secs_f64())?;
            if round + 1 >= bench.rounds && !ran {
                break;
            }
        }
        let Some(ab) = ab else {
            return Ok(());
        };
        let stop = if !ab.until_decided {
            AbStop::Planned
        } else {
            let budget = ab.max_minutes.map(|m| m * 60.0);
            loop {
                let p = paired(m, &ab);
                if p.all_decided() {
                    break AbStop::Decided;
                }
                let elapsed = measured_before + t0.elapsed().as_secs_f64();
                let round = m.bench().rounds;
                if let Err(stop) = next_round(round, ab.max_rounds, elapsed, last_round_s, budget) {
                    break stop;
                }
                let needs: Vec<Option<usize>> = p
                    .cells
                    .iter()
                    .filter(|c| !c.decided())
                    .map(|c| c.rounds_to_decide)
                    .collect();
                let reach = reachable_rounds(round, ab.max_rounds, elapsed, budget);
                if ab.stop_out_of_reach && out_of_reach(&needs, round, reach) {
                    break AbStop::OutOfReach;
                }
                if !reopen(m, &p, round)? {
                    break AbStop::Failed;
                }
                last = Instant::now();
                self.one_round(m, matrix, round).await?;
                last_round_s = last.elapsed().as_secs_f64();
                self.note_measuring(m, measured_before + t0.elapsed().as_secs_f64())?;
            }
        };
        log::info!("A/B stopped: {}", stop.text());
        Ok(m.change(|m| {
            if let Some(a) = m.ab.as_mut() {
                a.stopped = Some(stop);
            }
        })?)
    }

    /// One round over every group, in the round's order; `false` when no
    /// group had a cell to run.
    async fn one_round(
        &self,
        m: &mut Recorder<'_>,
        matrix: &Matrix,
        round: u32,
    ) -> Result<bool, RunError> {
        let mut ran = false;
        for gi in group_order(matrix.groups.len(), round, m.plan.ab.is_some()) {
            ran |= self.run_group(m, gi, &matrix.groups[gi], round).await?;
        }
        Ok(ran)
    }

    fn note_measuring(&self, m: &mut Recorder<'_>, seconds: f64) -> Result<(), RunError> {
        if m.ab.is_some() {
            m.change(|m| {
                if let Some(a) = m.ab.as_mut() {
                    a.measuring_s = seconds;
                }
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_reverses_every_other_round_in_an_ab_only() {
        assert_eq!(group_order(2, 0, true), [0, 1]);
        assert_eq!(group_order(2, 1, true), [1, 0]);
        assert_eq!(group_order(2, 2, true), [0, 1]);
        assert_eq!(group_order(3, 1, true), [2, 1, 0]);
        assert_eq!(group_order(2, 1, false), [0, 1]);
    }

    #[test]
    fn the_reachable_rounds_at_this_runs_pace() {
        // No budget: max_rounds.
        assert_eq!(reachable_rounds(10, 100, 210.0, None), 100);
        // 10 rounds in 210 s (21 s each), 390 s left: 18 more, 28 in all.
        assert_eq!(reachable_rounds(10, 100, 210.0, Some(600.0)), 28);
        // max_rounds lower still.
        assert_eq!(reachable_rounds(10, 20, 210.0, Some(600.0)), 20);
        // Over the budget already: none more.
        assert_eq!(reachable_rounds(10, 100, 700.0, Some(600.0)), 10);
    }

    #[test]
    fn out_of_reach_when_every_open_verdict_needs_four_times_the_reachable_rounds() {
        // 28 reachable: the limit is 112 rounds.
        assert!(out_of_reach(&[Some(683), Some(1442)], 10, 28));
        assert!(out_of_reach(&[Some(113), None], 10, 28));
        // One open verdict within 112 rounds keeps the run going.
        assert!(!out_of_reach(&[Some(683), Some(112)], 10, 28));
        assert!(!out_of_reach(&[Some(82), Some(125)], 10, 28));
        // Not before 10 rounds, and not with nothing open.
        assert!(!out_of_reach(&[Some(683)], 9, 28));
        assert!(!out_of_reach(&[], 10, 28));
    }

    #[test]
    fn another_round_while_under_the_most_rounds_and_within_the_budget() {
        assert_eq!(next_round(5, 100, 100.0, 30.0, Some(600.0)), Ok(()));
        // 580 s gone, the last round took 30: the next would end at 610.
        assert_eq!(
            next_round(5, 100, 580.0, 30.0, Some(600.0)),
            Err(AbStop::Budget)
        );
        assert_eq!(next_round(100, 100, 0.0, 1.0, None), Err(AbStop::MaxRounds));
        assert_eq!(next_round(99, 100, 1e9, 1.0, None), Ok(()));
    }
}
