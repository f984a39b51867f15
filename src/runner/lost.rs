//! The engine lost mid-run (its API service died or was stopped): the run stops
//! there instead of failing every cell left. The cell in flight is recorded as
//! `engine_lost` (its runs so far kept), the cells not reached stay pending, and
//! the containers the engine could not remove are named with the command that
//! removes them; `run --resume` removes them too and runs the rest.

use crate::engine::EngineError;
use crate::manifest::Failure;
use crate::manifest::store::StoreError;
use crate::status::FailureMode;

/// Why the runner stopped before the matrix was done.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{}", lost_message(error, left, remote.as_deref()))]
    EngineLost {
        /// The engine's error, naming its socket.
        error: String,
        /// Names of this run's containers the engine could not remove.
        left: Vec<String>,
        /// The `ssh://` address of a remote engine (where they are left).
        remote: Option<String>,
    },
}

/// What the user reads: the engine, what the run did about it, and what is
/// left on the machine with the command that removes it.
pub fn lost_message(error: &str, left: &[String], remote: Option<&str>) -> String {
    let mut s = format!(
        "{error}: the run stopped (the cell in flight is recorded as engine_lost and runs again \
         on `rigbench run --resume`, the cells not reached are pending)"
    );
    if !left.is_empty() {
        s.push_str(&format!(
            "\ncontainers of this run the engine could not remove (they may still run): {}\n\
             once the engine answers, remove them with\n{}\n\
             (`rigbench run --resume` removes them before it goes on)",
            left.join(", "),
            remove_command(left, remote)
        ));
    }
    s
}

/// The command that removes the named containers, indented on its own line:
/// on another host's engine (`remote`, its `ssh://` address) through
/// Podman's remote client.
pub fn remove_command(names: &[String], remote: Option<&str>) -> String {
    let url = remote.map(|u| format!("--url {u} ")).unwrap_or_default();
    format!("  podman {url}rm -f --ignore {}", names.join(" "))
}

/// The run stops: `error` lost the engine, `left` could not be removed.
pub fn stop(error: &EngineError, left: Vec<String>) -> RunError {
    let error = error.to_string();
    RunError::EngineLost {
        remote: remote_in(&error),
        error,
        left,
    }
}

/// The `ssh://` address a lost engine's error names, if it was another
/// host's (`EngineError::Lost` says "the engine at ADDRESS does not answer").
pub fn remote_in(error: &str) -> Option<String> {
    error
        .split_whitespace()
        .find(|w| w.starts_with("ssh://"))
        .map(|w| w.trim_end_matches([',', ':', ';', ')']).to_string())
}

/// The failure recorded for the cell in flight.
pub fn cell_failure(error: &EngineError) -> Failure {
    Failure {
        mode: FailureMode::EngineLost,
        message: format!("the container engine stopped answering during this cell: {error}"),
        evidence: vec![error.to_string()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lost() -> EngineError {
        EngineError::Lost {
            socket: "unix:///tmp/rigbench-podman-x/podman.sock".into(),
            op: "inspect",
            container: "rigbench-abc-r0-g0-s0".into(),
            message: "error trying to connect: Connection refused (os error 111)".into(),
        }
    }

    #[test]
    fn the_message_names_the_engine_and_the_containers_with_the_command() {
        let text = lost_message(&lost().to_string(), &["rigbench-abc-r0-g0-s0".into()], None);
        assert!(
            text.starts_with(
                "the engine at unix:///tmp/rigbench-podman-x/podman.sock does not answer \
                 (inspect rigbench-abc-r0-g0-s0: error trying to connect: Connection refused"
            ),
            "{text}"
        );
        assert!(
            text.contains("\n  podman rm -f --ignore rigbench-abc-r0-g0-s0\n"),
            "{text}"
        );
        let none = lost_message(&lost().to_string(), &[], None);
        assert!(!none.contains("podman rm"), "{none}");
        assert_eq!(remote_in(&lost().to_string()), None);
        let f = cell_failure(&lost());
        assert_eq!(f.mode, FailureMode::EngineLost);
        assert!(f.evidence[0].contains("unix:///tmp/rigbench-podman-x/podman.sock"));
    }

    #[test]
    fn another_hosts_leftovers_are_removed_there_through_podmans_remote_client() {
        let uri = "ssh://core@gpu1:22/run/user/1000/podman/podman.sock";
        let e = EngineError::Lost {
            socket: uri.into(),
            op: "inspect",
            container: "c1".into(),
            message: "client error (SendRequest)".into(),
        };
        let RunError::EngineLost { remote, .. } = stop(&e, vec!["c1".into()]) else {
            panic!("not engine_lost");
        };
        assert_eq!(remote.as_deref(), Some(uri));
        let text = lost_message(&e.to_string(), &["c1".into()], remote.as_deref());
        assert!(
            text.contains(&format!("\n  podman --url {uri} rm -f --ignore c1\n")),
            "{text}"
        );
    }
}
