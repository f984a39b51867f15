//! A plan's `[ab]` section: an interleaved A/B of two (or more) arms of one
//! matrix (backends, sources, models or variants), compared round by round
//! with paired statistics (`comparison::paired`), optionally with rounds added
//! until every target cell is decided. The section as resolved (`Ab`) from
//! the section as written (`plan::file::AbFile`), and the checks between them.

use serde::{Deserialize, Serialize};

use super::file::{AbFile, CellSelector};
use super::{Bench, PlanError};
use crate::metric::Metric;

/// Default noise band of an A/B: ±2 %.
pub const DEFAULT_BAND_PCT: f64 = 2.0;
/// Default most rounds an `until_decided` run may take.
pub const DEFAULT_MAX_ROUNDS: u32 = 100;
/// Significance level of every A/B verdict.
pub const ALPHA: f64 = 0.05;

/// An interleaved A/B, resolved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Ab {
    /// The arms; the first is the baseline every other is compared with.
    pub arms: Vec<CellSelector>,
    /// The metrics whose verdicts decide (default: generation tokens/s).
    pub metrics: Vec<Metric>,
    /// The noise band as a fraction: ±`band` around a ratio of 1.
    pub band: f64,
    /// The significance level of every verdict (all target cells and metrics
    /// together).
    pub alpha: f64,
    /// Rounds are added after `bench.rounds` until every target cell is
    /// decided, `max_minutes` have passed, or `max_rounds` rounds have run.
    pub until_decided: bool,
    pub max_minutes: Option<f64>,
    pub max_rounds: u32,
    /// With `until_decided`: stop adding rounds once every open verdict would
    /// need far more rounds than the budget and `max_rounds` allow
    /// (`runner::ab::out_of_reach`). Default on.
    #[serde(default = "on")]
    pub stop_out_of_reach: bool,
}

fn on() -> bool {
    true
}

/// Checks `[ab]` against the bench; the arms' names are checked with the
/// plan's other selectors. `fail(field, message)` makes the plan's error.
pub(super) fn validate(
    raw: AbFile,
    bench: &Bench,
    fail: &dyn Fn(String, String) -> PlanError,
) -> Result<Ab, PlanError> {
    check_arms(&raw.arms, fail)?;
    let metrics = match raw.metrics {
        None => vec![Metric::GenTps],
        Some(names) if names.is_empty() => {
            return Err(fail("ab.metrics".into(), "name at least one metric".into()));
        }
        Some(names) => Metric::parse_list(&names).map_err(|e| fail("ab.metrics".into(), e))?,
    };
    let band_pct = raw.band_pct.unwrap_or(DEFAULT_BAND_PCT);
    if !(band_pct.is_finite() && band_pct > 0.0 && band_pct < 50.0) {
        return Err(fail(
            "ab.band_pct".into(),
            format!("{band_pct}: a percentage above 0 and below 50, such as 2"),
        ));
    }
    if let Some(m) = raw.max_minutes {
        if !(m.is_finite() && m > 0.0) {
            return Err(fail(
                "ab.max_minutes".into(),
                format!("{m}: minutes above 0, such as 10"),
            ));
        }
    }
    let max_rounds = raw.max_rounds.unwrap_or(DEFAULT_MAX_ROUNDS);
    check_bench(bench, max_rounds, fail)?;
    Ok(Ab {
        arms: raw.arms,
        metrics,
        band: band_pct / 100.0,
        alpha: ALPHA,
        until_decided: raw.until_decided.unwrap_or(false),
        max_minutes: raw.max_minutes,
        max_rounds,
        stop_out_of_reach: raw.stop_out_of_reach.unwrap_or(true),
    })
}

/// The arms: at least two, each picking cells by backend, source, model or
/// variant (not by prompt length), none the same as another.
fn check_arms(
    arms: &[CellSelector],
    fail: &dyn Fn(String, String) -> PlanError,
) -> Result<(), PlanError> {
    if arms.len() < 2 {
        return Err(fail(
            "ab.arms".into(),
            "name at least two arms, such as arms = [{ variant = \"a\" }, { variant = \"b\" }]"
                .into(),
        ));
    }
    for (i, arm) in arms.iter().enumerate() {
        if arm.prompt_tokens.is_some() {
            return Err(fail(
                format!("ab.arms[{i}].prompt_tokens"),
                "an arm has every prompt length of its cells; pick it by backend, source, model or variant".into(),
            ));
        }
        if arm == &CellSelector::default() {
            return Err(fail(
                format!("ab.arms[{i}]"),
                "picks every cell; name a backend, source, model or variant".into(),
            ));
        }
        if arms[..i].contains(arm) {
            return Err(fail(
                format!("ab.arms[{i}]"),
                "the same as an earlier arm".into(),
            ));
        }
    }
    Ok(())
}

/// The bench an A/B needs: rounds to pair (at least 2, and no more than
/// `max_rounds`), the same runs in each, no precision target.
fn check_bench(
    bench: &Bench,
    max_rounds: u32,
    fail: &dyn Fn(String, String) -> PlanError,
) -> Result<(), PlanError> {
    if max_rounds < bench.rounds {
        return Err(fail(
            "ab.max_rounds".into(),
            format!(
                "{max_rounds} is below bench.rounds ({}): the most rounds must be at least the planned ones",
                bench.rounds
            ),
        ));
    }
    if bench.rounds < 2 {
        return Err(fail(
            "bench.rounds".into(),
            format!(
                "{}: an A/B pairs the arms round by round; plan at least 2 rounds (5 or more before a verdict can be reached)",
                bench.rounds
            ),
        ));
    }
    if bench.runs % bench.rounds != 0 {
        return Err(fail(
            "bench.runs".into(),
            format!(
                "{} is not a multiple of bench.rounds ({}): an A/B gives every arm the same runs in every round",
                bench.runs, bench.rounds
            ),
        ));
    }
    if bench.precision.is_some() {
        return Err(fail(
            "bench.max_runs".into(),
            "a precision target adds runs cell by cell, which unpairs an A/B's rounds; use [ab] until_decided instead".into(),
        ));
    }
    Ok(())
}

impl Ab {
    /// The measured runs every cell gets per round.
    pub fn runs_per_round(bench: &Bench) -> u32 {
        bench.runs / bench.rounds.max(1)
    }

    /// The A/B in words, for the report and the dry run.
    pub fn text(&self) -> String {
        let metrics: Vec<&str> = self.metrics.iter().map(|m| m.name()).collect();
        let mut s = format!(
            "interleaved A/B of {} arms (order reversed every other round), paired by round; {} against ±{} %",
            self.arms.len(),
            metrics.join(", "),
            self.band * 100.0
        );
        if self.until_decided {
            s.push_str(&format!(
                "; rounds added until decided, at most {} rounds",
                self.max_rounds
            ));
            if let Some(m) = self.max_minutes {
                s.push_str(&format!(" or {m} minutes"));
            }
            if self.stop_out_of_reach {
                s.push_str(", or until the rounds to decide are out of reach");
            }
        }
        s
    }
}

/// How a cell selector names what it picks: "variant b", "backend cuda, source b9016".
pub fn arm_name(a: &CellSelector) -> String {
    let parts: Vec<String> = [
        ("backend", &a.backend),
        ("source", &a.source),
        ("model", &a.model),
        ("variant", &a.variant),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k} {v}")))
    .collect();
    parts.join(", ")
}
