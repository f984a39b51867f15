//! rigbench's exit codes, as a type: what each means, the code a shell sees, and
//! the one rule that picks a run's code from its manifest. `main` turns an error
//! into `Error`; clap exits with `Usage` itself. docs/exit-codes.md and
//! `rigbench --help` list the same table (`TABLE`).

use std::process::ExitCode;

use crate::manifest::Manifest;
use crate::status::{CellStatus, RunStatus};

/// How a command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Done: every cell (and llama-bench test) measured, or the command did
    /// what it was asked.
    Ok,
    /// rigbench could not do what was asked (bad input, no engine, a build
    /// failed, a run stopped by an error); the message says why.
    Error,
    /// The command line was wrong (clap's own code).
    Usage,
    /// The run is complete but some cells or llama-bench tests failed: the
    /// failures are results, recorded in the manifest.
    CellsFailed,
    /// `compare --fail-on` found what it names.
    Gate,
    /// Stopped by Ctrl-C or SIGTERM; `run --resume DIR` goes on.
    Interrupted,
}

impl Exit {
    pub fn code(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::Error => 1,
            Exit::Usage => 2,
            Exit::CellsFailed => 3,
            Exit::Gate => 4,
            Exit::Interrupted => 130,
        }
    }

    /// The exit code of a run that ended as `m` records (after `run`,
    /// `run --resume` or `rerun`).
    pub fn of_run(m: &Manifest) -> Exit {
        match m.status {
            RunStatus::Interrupted => Exit::Interrupted,
            RunStatus::Failed | RunStatus::Running => Exit::Error,
            RunStatus::Complete => {
                let cells = m.cells.iter().any(|c| c.status != CellStatus::Ok);
                let tests = m.llama_bench.iter().any(|r| r.status != CellStatus::Ok);
                if cells || tests {
                    Exit::CellsFailed
                } else {
                    Exit::Ok
                }
            }
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e.code())
    }
}

/// The table `rigbench --help` and docs/exit-codes.md show.
pub const TABLE: &str = "\
Exit codes:
  0    done: every cell measured (run), nothing --fail-on names (compare)
  1    error: rigbench could not do what was asked; the message says why
  2    the command line was wrong
  3    run complete, but some cells or llama-bench tests failed (recorded as results)
  4    compare --fail-on found what it names (listed on stderr)
  130  interrupted (Ctrl-C, SIGTERM); rigbench run --resume DIR goes on";

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Exit; 6] = [
        Exit::Ok,
        Exit::Error,
        Exit::Usage,
        Exit::CellsFailed,
        Exit::Gate,
        Exit::Interrupted,
    ];

    #[test]
    fn every_code_is_distinct_and_in_the_table() {
        let mut codes: Vec<u8> = ALL.iter().map(|e| e.code()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes, [0, 1, 2, 3, 4, 130]);
        for c in codes {
            assert!(
                TABLE.contains(&format!("\n  {c:<4} ")),
                "{c} not in the table"
            );
        }
    }

    fn manifest(status: RunStatus, failed: bool) -> Manifest {
        use crate::manifest::fixtures::{cell, run};
        let plan = crate::plan::builtin(2).unwrap();
        let host = crate::host::probe(std::path::Path::new("/nonexistent"));
        let mut m = Manifest::new("r1", plan, host, None);
        m.status = status;
        m.cells.push(cell(
            31,
            "default",
            vec![run(70.0, 800.0, 40.0, false)],
            None,
        ));
        if failed {
            let mut c = cell(461, "default", vec![], None);
            c.status = CellStatus::Failed;
            m.cells.push(c);
        }
        m
    }

    #[test]
    fn a_run_exits_by_its_status_and_its_cells() {
        assert_eq!(
            Exit::of_run(&manifest(RunStatus::Complete, false)),
            Exit::Ok
        );
        assert_eq!(
            Exit::of_run(&manifest(RunStatus::Complete, true)),
            Exit::CellsFailed
        );
        assert_eq!(
            Exit::of_run(&manifest(RunStatus::Interrupted, false)),
            Exit::Interrupted
        );
        assert_eq!(
            Exit::of_run(&manifest(RunStatus::Failed, true)),
            Exit::Error
        );
        // A failed llama-bench test counts as a failed cell.
        let mut m = manifest(RunStatus::Complete, false);
        m.llama_bench.push(crate::manifest::LlamaBenchRecord {
            backend: crate::backend::Backend::Cpu,
            source: "default".into(),
            model: "m".into(),
            argv: vec![],
            notes: vec![],
            status: CellStatus::Failed,
            failure: None,
            results: vec![],
            seconds: 1.0,
            log: "logs/lb.log".into(),
        });
        assert_eq!(Exit::of_run(&m), Exit::CellsFailed);
    }
}
