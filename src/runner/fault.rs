//! Faults a plan injects (`variant.fault`): the signal goes to the llama-server
//! process inside its container once the planned number of tokens has streamed,
//! and what happened is verified. A fault that had no effect is a failure of its
//! own (`fault_no_effect`): the plan asked for a failure and did not get one, so
//! the cell can never end as ok.

use crate::bench::measure::RawRun;
use crate::bench::{BenchError, CompletionParams};
use crate::engine::{ContainerState, Engine};
use crate::manifest::Failure;
use crate::plan::Fault;

use super::server::Server;
use crate::status::FailureMode;

/// The process a fault is sent to (its `/proc/PID/comm`).
pub const SERVER_PROCESS: &str = "llama-server";

/// What became of a planned fault during one run.
#[derive(Debug, Clone, PartialEq)]
pub struct Injected {
    /// For the evidence: what was sent when, and what the sending said.
    pub note: String,
    /// Whether the signal reached the process.
    pub delivered: bool,
}

/// One completion; with a planned fault, `fault.signal` goes to the server
/// process once `fault.after_tokens` tokens have streamed. Returns the result
/// and, when the fault was due, what became of it.
pub async fn complete_with_fault<E: Engine>(
    engine: &E,
    srv: &Server,
    params: &CompletionParams,
    fault: Option<&Fault>,
    mut progress: tokio::sync::watch::Receiver<usize>,
) -> (Result<RawRun, BenchError>, Option<Injected>) {
    let run = srv.client.complete(params);
    let Some(f) = fault else {
        return (run.await, None);
    };
    // Written before the signal is sent: the stream may break (and win the race
    // below) before the engine has answered.
    let fired: std::sync::Mutex<Option<Injected>> = std::sync::Mutex::new(None);
    // Set once the signal is being sent: the sending is then seen through even
    // when the stream breaks first, so the evidence has what the sending said.
    let sending = std::sync::atomic::AtomicBool::new(false);
    let fire = async {
        if progress
            .wait_for(|n| *n >= f.after_tokens as usize)
            .await
            .is_err()
        {
            return;
        }
        let what = format!(
            "injected by the plan: SIG{} sent to {SERVER_PROCESS} after {} streamed tokens",
            f.signal, f.after_tokens
        );
        log::info!("  {what}");
        let set = |i: Injected| {
            if let Ok(mut g) = fired.lock() {
                *g = Some(i);
            }
        };
        set(Injected {
            note: what.clone(),
            delivered: true,
        });
        sending.store(true, std::sync::atomic::Ordering::SeqCst);
        match engine
            .signal_process(&srv.id, SERVER_PROCESS, &f.signal)
            .await
        {
            Ok(said) => set(Injected {
                note: format!("{what} ({said})"),
                delivered: true,
            }),
            Err(e) => set(Injected {
                note: format!("{what}: sending failed: {e}"),
                delivered: false,
            }),
        }
    };
    tokio::pin!(run);
    tokio::pin!(fire);
    let mut fire_done = false;
    let result = tokio::select! {
        biased;
        r = &mut run => r,
        () = &mut fire => {
            fire_done = true;
            run.await
        }
    };
    if !fire_done && sending.load(std::sync::atomic::Ordering::SeqCst) {
        fire.await;
    }
    let injected = fired.lock().ok().and_then(|mut g| g.take());
    (result, injected)
}

/// The failure of a run that completed although a fault was planned for it: the
/// signal was never due (the stream ended first), could not be sent, or was
/// sent and the server went on. `state` is the container's state a moment after
/// the run ended; a server that died in that moment is classified by
/// `failure::run` instead, so this is only called for a live one.
pub fn no_effect(
    fault: &Fault,
    injected: Option<&Injected>,
    tokens: usize,
    state: Option<&ContainerState>,
    settle_s: f64,
) -> Failure {
    let alive = state.is_some_and(|s| s.running);
    let mut evidence = Vec::new();
    let message = match injected {
        None => format!(
            "the planned SIG{} after {} tokens was never sent: the stream ended after {tokens} tokens",
            fault.signal, fault.after_tokens
        ),
        Some(i) if !i.delivered => {
            evidence.push(i.note.clone());
            format!(
                "the planned SIG{} could not be sent to {SERVER_PROCESS}",
                fault.signal
            )
        }
        Some(i) => {
            evidence.push(i.note.clone());
            format!(
                "SIG{} had no effect: the run completed all {tokens} tokens and the server was {} {settle_s:.0} s later",
                fault.signal,
                if alive {
                    "still running"
                } else {
                    "in an unknown state"
                }
            )
        }
    };
    if let Some(s) = state {
        evidence.push(format!("container {}", s.status));
    }
    Failure {
        mode: FailureMode::FaultNoEffect,
        message,
        evidence,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fault(sig: &str) -> Fault {
        Fault {
            signal: sig.to_string(),
            after_tokens: 5,
        }
    }

    fn running() -> ContainerState {
        ContainerState {
            running: true,
            status: "running".to_string(),
            exit_code: None,
            oom_killed: false,
        }
    }

    #[test]
    fn a_delivered_signal_that_changed_nothing_says_so_with_what_was_sent() {
        let i = Injected {
            note: "injected by the plan: SIGSEGV sent to llama-server after 5 streamed tokens"
                .to_string(),
            delivered: true,
        };
        let f = no_effect(&fault("SEGV"), Some(&i), 32, Some(&running()), 3.0);
        assert_eq!(f.mode, FailureMode::FaultNoEffect);
        assert_eq!(
            f.message,
            "SIGSEGV had no effect: the run completed all 32 tokens and the server was still running 3 s later"
        );
        assert_eq!(f.evidence, [i.note.as_str(), "container running"]);
    }

    #[test]
    fn a_fault_never_due_or_never_sent_is_no_effect_too() {
        let f = no_effect(&fault("TERM"), None, 4, Some(&running()), 3.0);
        assert_eq!(f.mode, FailureMode::FaultNoEffect);
        assert!(
            f.message
                .contains("was never sent: the stream ended after 4 tokens"),
            "{}",
            f.message
        );
        let i = Injected {
            note: "…: sending failed: no process named llama-server".to_string(),
            delivered: false,
        };
        let f = no_effect(&fault("ABRT"), Some(&i), 32, None, 3.0);
        assert_eq!(
            f.message,
            "the planned SIGABRT could not be sent to llama-server"
        );
        assert_eq!(f.evidence, [i.note.as_str()]);
    }
}
