//! What an interleaved A/B run did beyond its plan: the rounds `until_decided`
//! added, why it stopped, and how long it measured. Recorded in the manifest
//! (`Manifest::ab`); the bench the runner follows is the plan's with those
//! rounds added (`Manifest::bench`).

use serde::{Deserialize, Serialize};

/// Why an A/B stopped adding rounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AbStop {
    /// Every target cell's verdict was decided.
    Decided,
    /// `max_minutes` would have passed during the next round.
    Budget,
    /// `max_rounds` rounds had run.
    MaxRounds,
    /// Every open verdict needed far more rounds than the budget and
    /// `max_rounds` allowed (`runner::ab::out_of_reach`).
    OutOfReach,
    /// The cells still undecided had failed: nothing was left to measure.
    Failed,
    /// Rounds were not added (`until_decided` off): the planned rounds ran.
    Planned,
}

impl AbStop {
    pub fn text(self) -> &'static str {
        match self {
            AbStop::Decided => "every target cell decided",
            AbStop::Budget => "the time budget would have ended in the next round",
            AbStop::MaxRounds => "the most rounds had run",
            AbStop::OutOfReach => {
                "out of reach: every open verdict needed more than 4 times the rounds the budget and max_rounds allow (see the rounds to decide)"
            }
            AbStop::Failed => "the undecided cells had failed",
            AbStop::Planned => {
                "the planned rounds ran (rounds are not added without until_decided)"
            }
        }
    }
}

/// An A/B run's record.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AbRecord {
    /// Rounds added after the plan's `bench.rounds`.
    pub rounds_added: u32,
    /// Why it stopped; `None` while it runs.
    pub stopped: Option<AbStop>,
    /// Seconds from the first round's start to the last round's end (summed
    /// over resumes).
    pub measuring_s: f64,
}
