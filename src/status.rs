//! The vocabulary of outcomes, as types: a run's status, a cell's (or a
//! llama-bench record's) status, and the failure modes a cell can end in. The
//! manifest stores each as its snake_case name, as it always has, so the JSON on
//! disk is unchanged and the schema lists the names; a new mode is added here,
//! and the compiler shows every `match` that must say what it means.

use serde::{Deserialize, Serialize};

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Cells are being run (or the process died while they were).
    Running,
    /// Every cell was run (each `ok` or `failed`).
    Complete,
    /// Stopped by Ctrl-C or SIGTERM; `run --resume` goes on.
    Interrupted,
    /// Stopped by an error before every cell ran (the manifest's `error`).
    Failed,
}

/// Where a cell stands; llama-bench records use `Ok` and `Failed` only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CellStatus {
    /// Not yet measured as the plan asks.
    Pending,
    /// Measured: its stats are over valid measured runs.
    Ok,
    /// Ended in a failure (the cell's `failure`): a result, not a gap.
    Failed,
}

/// How a cell (or a llama-bench run) failed.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum FailureMode {
    /// The server never became healthy: the model did not load.
    LoadFailed,
    /// The server died: a signal, a GPU error, an assertion.
    Crash,
    /// Out of memory: the kernel's OOM killer, or the runtime said so.
    Oom,
    /// The server stopped sending tokens and did not exit.
    Hang,
    /// A request ran past its time limit while tokens still came.
    Timeout,
    /// A request failed otherwise (an HTTP error, a broken stream).
    RequestFailed,
    /// The server shut down mid-run: exit 0, or SIGTERM/SIGINT.
    Stopped,
    /// The context filled before the planned tokens were generated.
    ContextExceeded,
    /// The generated tokens collapsed onto a short loop.
    DegenerateOutput,
    /// A GPU backend's server found no device and would run on the CPU.
    NoDevice,
    /// A fault the plan injected changed nothing.
    FaultNoEffect,
    /// Every measured run failed a check (token counts, prompt cache).
    ChecksFailed,
    /// The container engine stopped answering while the cell ran: a failure of
    /// the machine, not of the backend; `run --resume` runs the cell again.
    EngineLost,
}

impl FailureMode {
    /// The name the manifest stores.
    pub fn name(self) -> &'static str {
        match self {
            FailureMode::LoadFailed => "load_failed",
            FailureMode::Crash => "crash",
            FailureMode::Oom => "oom",
            FailureMode::Hang => "hang",
            FailureMode::Timeout => "timeout",
            FailureMode::RequestFailed => "request_failed",
            FailureMode::Stopped => "stopped",
            FailureMode::ContextExceeded => "context_exceeded",
            FailureMode::DegenerateOutput => "degenerate_output",
            FailureMode::NoDevice => "no_device",
            FailureMode::FaultNoEffect => "fault_no_effect",
            FailureMode::ChecksFailed => "checks_failed",
            FailureMode::EngineLost => "engine_lost",
        }
    }
}

impl RunStatus {
    pub fn name(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Complete => "complete",
            RunStatus::Interrupted => "interrupted",
            RunStatus::Failed => "failed",
        }
    }
}

impl CellStatus {
    pub fn name(self) -> &'static str {
        match self {
            CellStatus::Pending => "pending",
            CellStatus::Ok => "ok",
            CellStatus::Failed => "failed",
        }
    }
}

macro_rules! display_by_name {
    ($($t:ty),*) => {$(
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }
    )*};
}
display_by_name!(RunStatus, CellStatus, FailureMode);

#[cfg(test)]
mod tests {
    use super::*;

    /// Every mode (`name`'s match is what makes the compiler list them).
    const ALL: [FailureMode; 13] = [
        FailureMode::LoadFailed,
        FailureMode::Crash,
        FailureMode::Oom,
        FailureMode::Hang,
        FailureMode::Timeout,
        FailureMode::RequestFailed,
        FailureMode::Stopped,
        FailureMode::ContextExceeded,
        FailureMode::DegenerateOutput,
        FailureMode::NoDevice,
        FailureMode::FaultNoEffect,
        FailureMode::ChecksFailed,
        FailureMode::EngineLost,
    ];

    #[test]
    fn the_names_are_what_the_manifest_has_always_stored() {
        // serde's snake_case and `name` agree for every mode: the JSON on disk
        // reads as before, and Display prints the same word.
        for m in ALL {
            assert_eq!(serde_json::to_value(m).unwrap(), m.name());
            assert_eq!(m.to_string(), m.name());
            let back: FailureMode = serde_json::from_value(m.name().into()).unwrap();
            assert_eq!(back, m);
        }
        assert_eq!(FailureMode::LoadFailed.name(), "load_failed");
        assert_eq!(FailureMode::FaultNoEffect.name(), "fault_no_effect");
        for s in [
            RunStatus::Running,
            RunStatus::Complete,
            RunStatus::Interrupted,
            RunStatus::Failed,
        ] {
            assert_eq!(serde_json::to_value(s).unwrap(), s.name());
        }
        for s in [CellStatus::Pending, CellStatus::Ok, CellStatus::Failed] {
            assert_eq!(serde_json::to_value(s).unwrap(), s.name());
        }
        // A word that is no status is refused, not carried along.
        assert!(serde_json::from_value::<CellStatus>("done".into()).is_err());
        assert!(serde_json::from_value::<FailureMode>("exploded".into()).is_err());
    }
}
