//! One server start's cells, in named steps: `run_cells` cuts each cell's
//! prompt and hands it to `run_cell`, which runs the cell's warm-ups and
//! measured runs one request at a time (`run_once`) and sets its status once
//! it has them. A request's outcome says whether the cell goes on, fails with
//! the server alive (degenerate output), or fails and takes the server with
//! it (the next cell then gets a new start).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::RunError;
use super::schedule::{Iteration, most_runs, quota, run_label, schedule};
use super::server::Server;
use super::{Runner, SETTLE, failure, fault, prepare_text};
use crate::bench::measure::{build_prompt, to_run};
use crate::bench::{BenchError, CompletionParams};
use crate::engine::Engine;
use crate::manifest::recorder::Recorder;
use crate::manifest::{Failure, Manifest, ServerStart, now_rfc3339};
use crate::plan::matrix::CellPlan;
use crate::plan::{Fault, WarmUp};
use crate::status::FailureMode;
use crate::telemetry::sampler::Sampler;
use crate::telemetry::summarize;

/// What one request came to.
enum RunOutcome {
    /// Recorded; the cell goes on.
    Recorded,
    /// The output collapsed onto a loop: the cell fails, the server lives on
    /// for the next cell.
    Degenerate(Failure),
    /// The request failed, or a planned fault ran its course: the cell fails
    /// and the next cell gets a new server.
    ServerDone(Failure),
    /// Recorded, and then the engine did not answer: the run stops (`lost`).
    EngineLost(crate::engine::EngineError),
}

/// What a cell came to on this server.
enum CellOutcome {
    /// The next cell runs on the same server.
    Next,
    /// The server is done: the next cell needs a new start.
    ServerDone,
}

/// What every request of a cell on this start shares.
struct CellRequests<'c> {
    cell: &'c CellPlan,
    start: &'c ServerStart,
    prompt: Vec<u32>,
    request: serde_json::Map<String, serde_json::Value>,
    fault: Option<Fault>,
    /// The cell's runs in all, for progress lines ("≤8" with a precision target).
    total: String,
    round: u32,
    /// The warm-ups' prompt and tokens: the cell's own (a full warm-up) or
    /// the bench's short ones.
    warm: WarmShape,
}

/// What a warm-up request asks for.
#[derive(Debug, Clone)]
struct WarmShape {
    prompt: Vec<u32>,
    prompt_tokens: u32,
    n_predict: u32,
    /// A short warm-up carries no planned fault (it would not reach it).
    short: bool,
}

/// How the progress lines name the request about to be made: its number
/// against the whole plan's (`schedule::run_label`).
fn next_label(m: &Manifest, req: &CellRequests<'_>, it: Iteration) -> String {
    let (warm_no, measured_no) = m
        .cells
        .iter()
        .find(|c| c.id == req.cell.id)
        .map_or((1, 1), |c| {
            let warm = c.runs.iter().filter(|r| r.warmup && r.round == req.round);
            (warm.count() as u32 + 1, c.measured_runs() + 1)
        });
    run_label(it, warm_no, measured_no, &m.bench(), req.round)
}

impl<E: Engine> Runner<'_, E> {
    /// Runs cells on a healthy server until one takes the server down; returns
    /// how many were done (that one included), so the caller restarts the
    /// server for the rest.
    pub(super) async fn run_cells(
        &self,
        m: &mut Recorder<'_>,
        srv: &Server,
        start: &ServerStart,
        cells: &[CellPlan],
        round: u32,
    ) -> Result<usize, RunError> {
        let prepared = prepare_text(srv).await;
        let bench = m.bench();
        // With short warm-ups, the first cell on this start takes them.
        let mut warmed = false;
        for (i, c) in cells.iter().enumerate() {
            let (bos, text) = match &prepared {
                Ok(p) => p,
                Err(e) => {
                    let f = Failure {
                        mode: FailureMode::RequestFailed,
                        message: format!("tokenizing the prompt text failed: {e}"),
                        evidence: vec![e.to_string()],
                    };
                    self.fail_all(m, &cells[i..], f)?;
                    return Ok(cells.len());
                }
            };
            let prompt = match build_prompt(*bos, text, c.prompt_tokens as usize) {
                Ok(p) => p,
                Err(e) => {
                    let f = Failure {
                        mode: FailureMode::RequestFailed,
                        message: e.clone(),
                        evidence: vec![e],
                    };
                    self.fail_all(m, std::slice::from_ref(c), f)?;
                    continue;
                }
            };
            let short = m
                .cell(&c.id)
                .is_some_and(|x| x.variant.warmup == WarmUp::Short);
            let warm = if short {
                let n = bench.warmup_prompt_tokens;
                WarmShape {
                    prompt: build_prompt(*bos, text, n as usize).unwrap_or_else(|_| prompt.clone()),
                    prompt_tokens: n,
                    n_predict: bench.warmup_n_predict,
                    short: true,
                }
            } else {
                WarmShape {
                    prompt: prompt.clone(),
                    prompt_tokens: c.prompt_tokens,
                    n_predict: bench.n_predict,
                    short: false,
                }
            };
            let warmups = if short && warmed {
                0
            } else {
                bench.warmup_runs
            };
            warmed = true;
            match self
                .run_cell(m, srv, start, c, (prompt, warm, warmups), round)
                .await?
            {
                CellOutcome::Next => {}
                CellOutcome::ServerDone => return Ok(i + 1),
            }
        }
        Ok(cells.len())
    }

    /// Runs one cell's share of this start: its schedule, then, with a precision
    /// target on a single round, added runs while it wants more.
    async fn run_cell(
        &self,
        m: &mut Recorder<'_>,
        srv: &Server,
        start: &ServerStart,
        c: &CellPlan,
        (prompt, warm, warmups): (Vec<u32>, WarmShape, u32),
        round: u32,
    ) -> Result<CellOutcome, RunError> {
        let bench = m.bench();
        m.serve(&c.id, start)?;
        let Some(cell) = m.cell(&c.id) else {
            return Ok(CellOutcome::Next);
        };
        let want = quota(cell, &bench, round);
        let mut fixed: VecDeque<Iteration> = schedule(&cell.runs, warmups, want).into();
        let first = cell.runs.len() as u32;
        let most = most_runs(&cell.runs, fixed.len() as u32, &bench);
        let req = CellRequests {
            cell: c,
            start,
            prompt,
            request: cell.variant.request.clone().into_iter().collect(),
            fault: cell.variant.fault.clone(),
            total: if bench.precision.is_some() {
                format!("≤{most}")
            } else {
                most.to_string()
            },
            round,
            warm,
        };
        let resumed = first > 0;
        // With several rounds, added runs come one per round instead.
        let extend = bench.adds_in_round();
        let mut warmed_here = false;
        for k in first.. {
            let it = match fixed.pop_front() {
                Some(it) => it,
                None if extend && m.cell(&c.id).is_some_and(|x| x.wants_more(&bench)) => {
                    // A resumed cell past its fixed runs still warms the new
                    // server up once.
                    if resumed && !warmed_here && warmups > 0 {
                        Iteration::WarmUp
                    } else {
                        Iteration::Measured
                    }
                }
                None => break,
            };
            warmed_here |= it.is_warmup();
            match self.run_once(m, srv, &req, k, it).await? {
                RunOutcome::Recorded => {}
                RunOutcome::Degenerate(f) => {
                    self.fail_all(m, std::slice::from_ref(c), f)?;
                    return Ok(CellOutcome::Next);
                }
                RunOutcome::ServerDone(f) => {
                    self.fail_all(m, std::slice::from_ref(c), f)?;
                    return Ok(CellOutcome::ServerDone);
                }
                RunOutcome::EngineLost(e) => {
                    self.fail_all(m, std::slice::from_ref(c), super::lost::cell_failure(&e))?;
                    return Err(super::lost::stop(&e, Vec::new()));
                }
            }
        }
        self.finish_cell(m, c)?;
        Ok(CellOutcome::Next)
    }

    /// A cell with all its runs is ok, or failed when no measured run passed its
    /// checks (no number to show); one that wants more stays pending.
    fn finish_cell(&self, m: &mut Recorder<'_>, c: &CellPlan) -> Result<(), RunError> {
        let bench = m.bench();
        let Some(cell) = m.cell(&c.id).filter(|x| !x.wants_more(&bench)) else {
            return Ok(());
        };
        match failure::uncounted(cell) {
            Some(f) => self.fail_all(m, std::slice::from_ref(c), f),
            None => Ok(m.finish(&c.id)?),
        }
    }

    /// One request, k-th of the cell: the cool-down before a measured run, the
    /// completion (with the planned fault, if any), the telemetry of its window,
    /// and what it came to.
    async fn run_once(
        &self,
        m: &mut Recorder<'_>,
        srv: &Server,
        req: &CellRequests<'_>,
        k: u32,
        it: Iteration,
    ) -> Result<RunOutcome, RunError> {
        let bench = m.bench();
        let planned = req
            .fault
            .as_ref()
            .filter(|_| !(it.is_warmup() && req.warm.short));
        let (progress_tx, progress_rx) = tokio::sync::watch::channel(0usize);
        let progress = planned.is_some().then(|| std::sync::Arc::new(progress_tx));
        let (params, prompt_tokens) =
            request_params(&bench, req, it, synthetic_cell(m, &req.cell.id), progress);
        let n_predict = params.n_predict;
        let cooldown = match self.sampler {
            Some(s) if !it.is_warmup() => {
                let t = Instant::now();
                let timeout = Duration::from_secs(bench.cooldown_timeout_s);
                let c = s.cool_down(bench.cooldown_max_edge_c, timeout).await;
                m.add_time(|t2| t2.cooldown_s += t.elapsed().as_secs_f64());
                Some(c)
            }
            _ => None,
        };
        let window_from = self.sampler.map(Sampler::now_ms);
        let started_at = now_rfc3339();
        let t = Instant::now();
        let label = next_label(m, req, it);
        let waiting = crate::progress::waiting(&format!(
            "  {} {label}: waiting for the server",
            req.cell.id
        ));
        let (result, injected) =
            fault::complete_with_fault(self.engine, srv, &params, planned, progress_rx).await;
        drop(waiting);
        let elapsed = t.elapsed().as_secs_f64();
        match it {
            Iteration::WarmUp => m.add_time(|t| t.warmup_requests_s += elapsed),
            Iteration::Measured => m.add_time(|t| t.measured_requests_s += elapsed),
        }
        let raw = match result {
            Ok(raw) => raw,
            Err(e) => {
                let f = self.failed_run(srv, req, k, &e, injected).await;
                return Ok(RunOutcome::ServerDone(f));
            }
        };
        let telemetry = self.telemetry_since(req, window_from).await;
        let mut run = to_run(
            &raw,
            k,
            it.is_warmup(),
            started_at,
            prompt_tokens,
            n_predict,
        );
        run.round = req.round;
        run.telemetry = telemetry;
        run.cooldown = cooldown;
        // Random weights repeat themselves: collapse is judged on real models only.
        run.degenerate = if synthetic_cell(m, &req.cell.id) {
            None
        } else {
            crate::degenerate::detect(&run.token_ids)
        };
        let (tokens, collapse) = (run.token_ids.len(), run.degenerate.clone());
        self.record(m, req, run, &label)?;
        Ok(self
            .after_run(srv, req, k, (planned, injected), tokens, collapse)
            .await)
    }

    /// The GPU and memory telemetry of the request since `from` (the
    /// sampler's clock), against the server start's baseline.
    async fn telemetry_since(
        &self,
        req: &CellRequests<'_>,
        from: Option<f64>,
    ) -> Option<crate::telemetry::RunTelemetry> {
        let (s, from) = (self.sampler?, from?);
        s.settle().await;
        let window = s.window(from, s.now_ms());
        let power = s.power_sources();
        let mut t = summarize(req.start.baseline.as_ref(), &window, power);
        // Another host's stream that ended (or never began) is why there
        // is nothing, not the host's lack of GPUs.
        if let Some(why) = s.ended().filter(|_| window.is_empty()) {
            t.available = false;
            t.note = Some(format!("no telemetry from the engine's host: {why}"));
        }
        Some(t)
    }

    /// Adds the run to its cell, notes it (with the run's overall progress)
    /// and saves the manifest.
    fn record(
        &self,
        m: &mut Recorder<'_>,
        req: &CellRequests<'_>,
        run: crate::manifest::Run,
        label: &str,
    ) -> Result<(), RunError> {
        let counted = run.checks.all();
        let figures = format!(
            "gen {:.1} t/s (server {:.1}), pp {:.0} t/s, ttft {:.0} ms",
            run.gen_tps, run.gen_tps_server, run.pp_tps, run.ttft_ms
        );
        m.record_run(&req.cell.id, run)?;
        let overall = self.overall(m);
        crate::progress::overall_update(&overall);
        log::info!(
            "  {} {label}: {figures}{} · {}",
            req.cell.id,
            if counted {
                ""
            } else {
                " (check failed: not counted)"
            },
            crate::progress::overall_text(&overall)
        );
        Ok(())
    }

    /// What a recorded run comes to: with a planned fault, the fault's effect
    /// (or that it had none); a collapsed output fails the cell; else the cell
    /// goes on.
    async fn after_run(
        &self,
        srv: &Server,
        req: &CellRequests<'_>,
        k: u32,
        (planned, injected): (Option<&Fault>, Option<fault::Injected>),
        tokens: usize,
        collapse: Option<crate::degenerate::Degeneracy>,
    ) -> RunOutcome {
        // The engine is asked after every run, so that losing it stops the run
        // at the cell in flight rather than at the next server start.
        if let Err(e) = self.engine.state(&srv.id).await
            && e.is_lost()
        {
            return RunOutcome::EngineLost(e);
        }
        if let Some(planned) = planned {
            let f = self
                .fault_outcome(srv, req, k, planned, injected, tokens)
                .await;
            return RunOutcome::ServerDone(f);
        }
        if let Some(d) = collapse {
            let ids: Vec<String> = d.unit.iter().map(u32::to_string).collect();
            return RunOutcome::Degenerate(Failure {
                mode: FailureMode::DegenerateOutput,
                message: format!("run {} of {}: {}", k + 1, req.total, d.summary),
                evidence: vec![format!("repeating token ids [{}]", ids.join(", "))],
            });
        }
        RunOutcome::Recorded
    }

    /// The plan asked for a failure and the run went through: a server dying
    /// just after its stream is the fault's effect; one that lives on is not.
    async fn fault_outcome(
        &self,
        srv: &Server,
        req: &CellRequests<'_>,
        k: u32,
        planned: &Fault,
        injected: Option<fault::Injected>,
        tokens: usize,
    ) -> Failure {
        let state = self.settled_state(&srv.id).await;
        let mut f = if state.as_ref().is_some_and(|s| !s.running) {
            let log = self.log_of(&srv.id).await;
            let why = format!(
                "run {} of {}: the server died after its stream ended",
                k + 1,
                req.total
            );
            failure::run(state.as_ref(), &log, &why, false, false)
        } else {
            let settle = SETTLE.as_secs_f64();
            fault::no_effect(planned, injected.as_ref(), tokens, state.as_ref(), settle)
        };
        if let Some(i) = injected.filter(|_| f.mode != FailureMode::FaultNoEffect) {
            f.evidence.insert(0, i.note);
        }
        f
    }

    /// A request that failed: classified from the server's state and log.
    async fn failed_run(
        &self,
        srv: &Server,
        req: &CellRequests<'_>,
        k: u32,
        e: &BenchError,
        injected: Option<fault::Injected>,
    ) -> Failure {
        let stalled = matches!(e, BenchError::Stall { .. });
        let timed_out = matches!(e, BenchError::Timeout { .. });
        let state = self.settled_state(&srv.id).await;
        let log = self.log_of(&srv.id).await;
        let why = format!("run {} of {}: {e}", k + 1, req.total);
        let mut f = failure::run(state.as_ref(), &log, &why, stalled, timed_out);
        if let Some(i) = injected {
            f.evidence.insert(0, i.note);
        }
        f
    }
}

/// Whether the cell measures a synthetic model (random weights), whose output
/// says nothing of a backend's correctness.
fn synthetic_cell(m: &Manifest, id: &str) -> bool {
    m.cell(id).is_some_and(|c| {
        m.models
            .iter()
            .any(|r| r.name == c.model && r.is_synthetic())
    })
}

/// The completion request of iteration `it` and its prompt's length in
/// tokens: its prompt and length (a warm-up's own: short warm-ups send a
/// small one), the plan's seed and timeouts, the cell's extra request
/// fields, and on a synthetic model's warm-up one log-probability a token
/// (random weights: the warm-ups check the logits stay finite; never asked
/// in a measured run).
fn request_params(
    bench: &crate::plan::Bench,
    req: &CellRequests<'_>,
    it: Iteration,
    synthetic: bool,
    progress: Option<std::sync::Arc<tokio::sync::watch::Sender<usize>>>,
) -> (CompletionParams, u32) {
    let (prompt, prompt_tokens, n_predict) = if it.is_warmup() {
        let w = &req.warm;
        (w.prompt.clone(), w.prompt_tokens, w.n_predict)
    } else {
        (req.prompt.clone(), req.cell.prompt_tokens, bench.n_predict)
    };
    let mut extra = req.request.clone();
    if it.is_warmup() && synthetic {
        extra.entry("n_probs").or_insert(serde_json::json!(1));
    }
    let params = CompletionParams {
        prompt,
        n_predict,
        seed: bench.seed,
        stall: Duration::from_secs(bench.stall_timeout_s),
        total: Duration::from_secs(bench.request_timeout_s),
        extra,
        progress,
    };
    (params, prompt_tokens)
}
