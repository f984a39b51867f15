//! The metrics rigbench measures per run and summarises per cell, as a type: each
//! with its manifest key (the snake_case name the JSON has always used), its
//! title and short column heading, its unit, the decimals it is shown with, and
//! which direction is better. A new metric is added here and read in
//! `manifest::Run::value`; the compiler then shows every `match` that must say
//! what it means, and the lists below carry it into summaries, reports,
//! comparisons and precision targets.

use serde::{Deserialize, Serialize};

/// One metric of a measured run.
///
/// Declared in the order of its names, so that a map keyed by it (a cell's
/// `stats`) writes its keys in the order the manifest always had.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Generation tokens per second as the client saw them arrive.
    GenTps,
    /// Generation tokens per second as llama-server timed them.
    GenTpsServer,
    /// Prompt processing tokens per second.
    PpTps,
    /// Time to first token, milliseconds.
    TtftMs,
}

impl Metric {
    /// Every metric, summarised per cell.
    pub const ALL: [Metric; 4] = [
        Metric::GenTps,
        Metric::GenTpsServer,
        Metric::PpTps,
        Metric::TtftMs,
    ];

    /// The metrics a report's tables show, comparisons test and references
    /// carry, and a precision target aims at unless the plan names others. The
    /// server's own generation figure is a cross-check of the client's, not a
    /// result of its own.
    pub const HEADLINE: [Metric; 3] = [Metric::GenTps, Metric::PpTps, Metric::TtftMs];

    /// The manifest's key for it.
    pub fn name(self) -> &'static str {
        match self {
            Metric::GenTps => "gen_tps",
            Metric::GenTpsServer => "gen_tps_server",
            Metric::PpTps => "pp_tps",
            Metric::TtftMs => "ttft_ms",
        }
    }

    /// The metric named `name` (its manifest key), if there is one.
    pub fn parse(name: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.name() == name)
    }

    /// The metrics `names` names, in order; the error says which name is none
    /// and what may be written.
    pub fn parse_list(names: &[String]) -> Result<Vec<Metric>, String> {
        names
            .iter()
            .map(|name| {
                Metric::parse(name)
                    .ok_or_else(|| format!("\"{name}\" is not a metric; use {}", Metric::names()))
            })
            .collect()
    }

    /// Every metric's name, for an error that says what may be written.
    pub fn names() -> String {
        Metric::ALL.map(Metric::name).join(", ")
    }

    /// A table's or chart's title.
    pub fn title(self) -> &'static str {
        match self {
            Metric::GenTps => "Generation, tokens/s",
            Metric::GenTpsServer => "Generation (server's timing), tokens/s",
            Metric::PpTps => "Prompt processing, tokens/s",
            Metric::TtftMs => "Time to first token, ms",
        }
    }

    /// A narrow column's heading.
    pub fn short(self) -> &'static str {
        match self {
            Metric::GenTps => "gen t/s",
            Metric::GenTpsServer => "gen t/s (server)",
            Metric::PpTps => "pp t/s",
            Metric::TtftMs => "TTFT ms",
        }
    }

    /// Its unit.
    pub fn unit(self) -> &'static str {
        match self {
            Metric::GenTps | Metric::GenTpsServer | Metric::PpTps => "tokens/s",
            Metric::TtftMs => "ms",
        }
    }

    /// The decimals a figure of it is shown with: generation speeds are tens of
    /// tokens/s on small machines, where one decimal matters; prompt speeds and
    /// times are hundreds and more.
    pub fn decimals(self) -> usize {
        match self {
            Metric::GenTps | Metric::GenTpsServer => 1,
            Metric::PpTps | Metric::TtftMs => 0,
        }
    }

    /// Whether a larger value is the better one.
    pub fn higher_is_better(self) -> bool {
        match self {
            Metric::GenTps | Metric::GenTpsServer | Metric::PpTps => true,
            Metric::TtftMs => false,
        }
    }
}

impl std::fmt::Display for Metric {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names are the manifest's keys, as serde writes them, and parse back.
    #[test]
    fn names_are_the_manifests_keys() {
        for m in Metric::ALL {
            let json = serde_json::to_string(&m).unwrap();
            assert_eq!(json, format!("\"{}\"", m.name()));
            assert_eq!(Metric::parse(m.name()), Some(m));
        }
        assert_eq!(Metric::parse("tps"), None);
        assert_eq!(Metric::names(), "gen_tps, gen_tps_server, pp_tps, ttft_ms");
    }

    /// Declaration order is name order, so maps keyed by the enum write their
    /// keys as maps keyed by the names did.
    #[test]
    fn order_is_name_order() {
        let mut by_name = Metric::ALL;
        by_name.sort_by_key(|m| m.name());
        assert_eq!(by_name, Metric::ALL);
        let mut sorted = Metric::ALL;
        sorted.sort();
        assert_eq!(sorted, Metric::ALL);
    }

    #[test]
    fn only_time_is_better_lower() {
        let lower: Vec<Metric> = Metric::ALL
            .into_iter()
            .filter(|m| !m.higher_is_better())
            .collect();
        assert_eq!(lower, [Metric::TtftMs]);
        assert_eq!(Metric::TtftMs.unit(), "ms");
        assert_eq!(Metric::GenTps.decimals(), 1);
        assert_eq!(Metric::PpTps.decimals(), 0);
    }
}
