//! The rounds of a run, and an A/B's on top: the planned rounds, each over
//! every group; in an A/B (`plan.ab`) the groups' order reversed every other
//! round (A B, B A, A B, …: a linear drift then weighs on both arms alike);
//! with `until_decided`, rounds added while a target cell is undecided
//! (`comparison::paired`), the budget allows and `max_rounds` is not reached.
//! The rounds added are recorded (`manifest::ab`) before each runs, so that a
//! resumed run knows them.

use std::time::Instant;

use super::{RunError, Runner};
use crate::comparison::paired::paired;
use crate::engine::Engine;
use crate::manifest::Manifest;
use crate::manifest::ab::{AbRecord, AbStop};
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

impl<E: Engine> Runner<'_, E> {
    /// Every round of the matrix (see `run`), and an A/B's added rounds.
    pub(super) async fn rounds(&self, m: &mut Manifest, matrix: &Matrix) -> Result<(), RunError> {
        let ab = m.plan.ab.clone();
        if ab.is_some() && m.ab.is_none() {
            m.ab = Some(AbRecord::default());
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
                let open = p.undecided_cells();
                let mut reopened = 0;
                for c in m.cells.iter_mut().filter(|c| open.contains(&c.id)) {
                    if c.status == CellStatus::Ok {
                        c.status = CellStatus::Pending;
                        reopened += 1;
                    }
                }
                if reopened == 0 {
                    break AbStop::Failed;
                }
                if let Some(a) = m.ab.as_mut() {
                    a.rounds_added += 1;
                }
                self.dir.save(m)?;
                crate::progress::note(format!(
                    "A/B: {} of {} verdicts open after {round} rounds; round {} added",
                    p.cells.iter().filter(|c| !c.decided()).count(),
                    p.cells.len(),
                    round + 1
                ));
                last = Instant::now();
                self.one_round(m, matrix, round).await?;
                last_round_s = last.elapsed().as_secs_f64();
                self.note_measuring(m, measured_before + t0.elapsed().as_secs_f64())?;
            }
        };
        if let Some(a) = m.ab.as_mut() {
            a.stopped = Some(stop);
        }
        crate::progress::note(format!("A/B stopped: {}", stop.text()));
        Ok(self.dir.save(m)?)
    }

    /// One round over every group, in the round's order; `false` when no
    /// group had a cell to run.
    async fn one_round(
        &self,
        m: &mut Manifest,
        matrix: &Matrix,
        round: u32,
    ) -> Result<bool, RunError> {
        let mut ran = false;
        for gi in group_order(matrix.groups.len(), round, m.plan.ab.is_some()) {
            ran |= self.run_group(m, gi, &matrix.groups[gi], round).await?;
        }
        Ok(ran)
    }

    fn note_measuring(&self, m: &mut Manifest, seconds: f64) -> Result<(), RunError> {
        if let Some(a) = m.ab.as_mut() {
            a.measuring_s = seconds;
            self.dir.save(m)?;
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
