//! Running the matrix, round by round (`bench.rounds`): for each server group,
//! start llama-server in the backend's image, wait for health, cut prompts of the
//! planned lengths, run warm-ups and measured requests (which ones: `schedule`),
//! and write the manifest after every run. A failed server or run
//! is recorded as a result (`failure`) and the matrix goes on; after a failure the
//! server is restarted for the next cell.

mod ab;
mod cell;
pub mod device;
pub mod failure;
pub mod fault;
pub mod llama_bench;
pub mod lost;
pub mod schedule;
pub mod server;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::backend::Backend;
use crate::bench::measure::detect_bos;
use crate::bench::{BenchError, PROMPT_TEXT};
use crate::engine::{ContainerState, Engine, LABEL_MANAGED, LABEL_RUN};
use crate::fetch::ModelFiles;
use crate::host::devices::Passthrough;
use crate::manifest::recorder::Recorder;
use crate::manifest::store::RunDir;
use crate::manifest::{Cell, Failure, Manifest, ServerStart};
use crate::plan::Plan;
use crate::plan::matrix::{Group, Matrix};
use crate::status::{CellStatus, FailureMode};
use crate::telemetry::sampler::Sampler;
pub use lost::RunError;
use schedule::needs_runs;
use server::{Server, ServerSpec, StartFailure, log_paths};

/// How long a server that may be dying is watched before it counts as alive.
const SETTLE: Duration = Duration::from_secs(3);

/// What a backend runs with: its image and its device passthrough.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub image_id: String,
    pub passthrough: Passthrough,
}

/// Everything the runner needs besides the manifest.
pub struct Runner<'a, E: Engine> {
    pub engine: &'a E,
    pub dir: &'a RunDir,
    pub run_id: &'a str,
    /// Image and passthrough per backend and source (index into `plan.sources`).
    pub backends: BTreeMap<(Backend, usize), Prepared>,
    /// The files of each model, in plan order.
    pub model_files: Vec<ModelFiles>,
    /// GPU and memory telemetry, sampled in the background.
    pub sampler: Option<&'a Sampler>,
    /// The estimate's rates for this plan on this host
    /// (`report::roofline::estimate_rates`): the time left starts from them.
    pub rates: crate::plan::estimate::Rates,
}

/// The manifest's cells for a matrix, all pending.
pub fn pending_cells(plan: &Plan, matrix: &Matrix) -> Vec<Cell> {
    let mut cells = Vec::new();
    for g in &matrix.groups {
        for c in &g.cells {
            cells.push(Cell {
                id: c.id.clone(),
                backend: g.backend,
                source: g.source_name.clone(),
                model: g.model_name.clone(),
                prompt_tokens: c.prompt_tokens,
                n_predict: plan.bench.n_predict,
                variant: g.settings.clone(),
                status: CellStatus::Pending,
                failure: None,
                server: None,
                runs: Vec::new(),
                stats: BTreeMap::new(),
                agreement: None,
            });
        }
    }
    cells
}

impl<E: Engine> Runner<'_, E> {
    /// The run's overall progress now (`progress::overall`).
    pub(crate) fn overall(&self, m: &Manifest) -> crate::progress::overall::Overall {
        let bytes = |name: &str| {
            m.models
                .iter()
                .find(|r| r.name == name)
                .map(|r| r.size_bytes)
        };
        crate::progress::overall::overall(m, &bytes, &self.rates)
    }
}

/// The cells of group `g` still pending that want runs in `round` (a resumed
/// run's finished cells, and those with this round's share in, are not run).
fn pending_in_round(
    m: &Manifest,
    g: &Group,
    bench: &crate::plan::Bench,
    round: u32,
) -> Vec<crate::plan::matrix::CellPlan> {
    g.cells
        .iter()
        .filter(|c| {
            m.cell(&c.id)
                .is_some_and(|x| x.status == CellStatus::Pending && needs_runs(x, bench, round))
        })
        .cloned()
        .collect()
}

/// A server start's end for its group: the cells it finished, or the run's
/// error (the engine lost while running cells or while removing the
/// container named `name`, which is then left behind).
fn after_start(
    outcome: Result<usize, RunError>,
    not_removed: Option<crate::engine::EngineError>,
    name: &str,
) -> Result<usize, RunError> {
    let left = || vec![name.to_string()];
    match (outcome, not_removed) {
        (Err(RunError::EngineLost { error, remote, .. }), Some(_)) => Err(RunError::EngineLost {
            error,
            left: left(),
            remote,
        }),
        (Err(e), _) => Err(e),
        (Ok(_), Some(e)) if e.is_lost() => Err(lost::stop(&e, left())),
        (Ok(done), _) => Ok(done),
    }
}

impl<E: Engine> Runner<'_, E> {
    /// Runs every group of the matrix, saving the manifest after each run.
    ///
    /// Round by round (`bench.rounds`), every group with a cell still short of
    /// its quota gets a new server start. With several rounds and a precision
    /// target, rounds go on, one added run per cell that wants it, until none
    /// does.
    pub async fn run(&self, m: &mut Recorder<'_>, matrix: &Matrix) -> Result<(), RunError> {
        let start = self.overall(m);
        crate::progress::overall_start(&start);
        log::info!("measuring: {}", crate::progress::overall_text(&start));
        let rounds = self.rounds(m, matrix).await;
        crate::progress::overall_done();
        rounds?;
        // A cell whose last run was saved just before a kill, before its
        // status was.
        let bench = m.bench();
        m.change(|m| {
            for c in &mut m.cells {
                if c.status == CellStatus::Pending && !c.runs.is_empty() && !c.wants_more(&bench) {
                    match failure::uncounted(c) {
                        Some(f) => {
                            c.status = CellStatus::Failed;
                            c.failure = Some(f);
                        }
                        None => c.status = CellStatus::Ok,
                    }
                }
            }
        })?;
        let backends: Vec<Backend> = m.plan.backends.iter().map(|b| b.backend).collect();
        if let Some(reference) = crate::agreement::reference_backend(&backends) {
            let synthetic: Vec<String> = m
                .models
                .iter()
                .filter(|r| r.is_synthetic())
                .map(|r| r.name.clone())
                .collect();
            m.change(|m| crate::agreement::annotate(&mut m.cells, reference, &synthetic))?;
        }
        Ok(())
    }

    /// Runs a group's cells that are short of their quota in `round`; `false`
    /// when none is.
    async fn run_group(
        &self,
        m: &mut Recorder<'_>,
        gi: usize,
        g: &Group,
        round: u32,
    ) -> Result<bool, RunError> {
        let bench = m.bench();
        let variant = &g.settings;
        let group_name = format!("{}.{}.{}", g.backend.name(), g.model_name, variant.name);
        let (log_rel, log_abs) = log_paths(self.dir.root(), &group_name);
        let pending = pending_in_round(m, g, &bench, round);
        if pending.is_empty() {
            return Ok(false);
        }
        let Some(prepared) = self.backends.get(&(g.backend, g.source)) else {
            let f = Failure {
                mode: FailureMode::LoadFailed,
                message: format!("no image was built for the {} backend", g.backend.name()),
                evidence: Vec::new(),
            };
            self.fail_all(m, &pending, f)?;
            return Ok(true);
        };
        let mut remaining: &[crate::plan::matrix::CellPlan] = &pending;
        let mut start_no = 0;
        while !remaining.is_empty() {
            let spec = ServerSpec {
                name: format!("rigbench-{}-r{round}-g{gi}-s{start_no}", self.run_id),
                run_id: self.run_id,
                image_id: &prepared.image_id,
                model_files: &self.model_files[g.model],
                model_file: &g.model_file,
                variant,
                passthrough: &prepared.passthrough,
                read_only_root: g.backend.read_only_root(),
            };
            start_no += 1;
            let in_round = if bench.rounds > 1 {
                format!(" (round {})", round + 1)
            } else {
                String::new()
            };
            log::info!("starting llama-server for {group_name}{in_round}");
            let (started, server_start) = match self
                .start_server(m, &spec, g.backend, prepared, &log_rel, &log_abs)
                .await
            {
                Ok(up) => up,
                Err(f) if f.mode == FailureMode::EngineLost => {
                    // The cell in flight only: the rest were not reached.
                    let error = f.evidence.first().cloned().unwrap_or_default();
                    self.fail_all(m, &remaining[..1], f)?;
                    return Err(RunError::EngineLost {
                        remote: lost::remote_in(&error),
                        error,
                        left: vec![spec.name.clone()],
                    });
                }
                Err(f) => {
                    self.fail_all(m, remaining, f)?;
                    return Ok(true);
                }
            };
            let outcome = self
                .run_cells(m, &started, &server_start, remaining, round)
                .await;
            let (_, not_removed) = started.stop(self.engine, &log_abs).await;
            let done = after_start(outcome, not_removed, &started.name)?;
            remaining = &remaining[done..];
        }
        Ok(true)
    }

    /// Starts a group's server and records the start: its load time, its
    /// props, the devices it saw and the telemetry baseline before it.
    async fn start_server(
        &self,
        m: &mut Recorder<'_>,
        spec: &ServerSpec<'_>,
        backend: Backend,
        prepared: &Prepared,
        log_rel: &str,
        log_abs: &std::path::Path,
    ) -> Result<(Server, ServerStart), Failure> {
        // A vulkan cell: the devices llama.cpp sees with this server's devices
        // and environment, recorded, and checked before it starts where it
        // was meant for a GPU.
        let driver = prepared.passthrough.vulkan_driver;
        let listed = if driver.is_some() {
            let listed = server::list_devices(self.engine, spec)
                .await
                .map_err(|e| Failure {
                    mode: FailureMode::NoDevice,
                    message: format!("llama-server --list-devices did not run: {e}"),
                    evidence: vec![e.to_string()],
                })?;
            if let Some(why) =
                device::off_device(driver, &crate::image::probe::named_devices(&listed.devices))
            {
                // The devices seen, then why the loader gave no other.
                let evidence = listed.devices.into_iter().chain(listed.loader).collect();
                return Err(Failure {
                    mode: FailureMode::NoDevice,
                    message: why,
                    evidence,
                });
            }
            listed.devices
        } else {
            Vec::new()
        };
        let baseline = self.sampler.map(Sampler::sample_now);
        let t_load = Instant::now();
        let health = m.plan.bench.health_timeout_s;
        let (started, load_seconds, log_so_far) =
            match self.bring_up(spec, backend, health, log_abs).await {
                Ok(up) => up,
                Err(f) => {
                    m.add_time(|t| t.model_load_s += t_load.elapsed().as_secs_f64());
                    return Err(f);
                }
            };
        m.add_time(|t| t.model_load_s += load_seconds);
        log::info!("  healthy after {load_seconds:.2} s");
        let server_start = ServerStart {
            container_name: started.name.clone(),
            host_port: started.reach.there,
            forwarded_from: started.reach.forward.as_ref().map(|f| f.port),
            load_seconds,
            log: log_rel.to_string(),
            props: started.client.props().await.ok(),
            passthrough: prepared.passthrough.clone(),
            devices_seen: listed
                .into_iter()
                .chain(failure::device_lines(&log_so_far))
                .collect(),
            baseline,
            init: true,
        };
        Ok((started, server_start))
    }

    /// Starts a server and waits until it is healthy and (on a GPU backend) on its
    /// device; returns it with its load time and its log so far, or the failure
    /// (the container then stopped, its log kept).
    async fn bring_up(
        &self,
        spec: &ServerSpec<'_>,
        backend: Backend,
        health_timeout_s: u64,
        log_abs: &std::path::Path,
    ) -> Result<(Server, f64, String), Failure> {
        let started = Server::start(self.engine, spec).await.map_err(|e| {
            if e.is_lost() {
                return lost::cell_failure(&e);
            }
            Failure {
                mode: FailureMode::LoadFailed,
                message: format!("the server container did not start: {e}"),
                evidence: vec![e.to_string()],
            }
        })?;
        let health = Duration::from_secs(health_timeout_s);
        let load_seconds = match started.wait_healthy(self.engine, health).await {
            Ok(s) => s,
            Err(StartFailure::Engine(e)) if e.is_lost() => {
                let _ = started.stop(self.engine, log_abs).await;
                return Err(lost::cell_failure(&e));
            }
            Err(why) => {
                let message = match &why {
                    StartFailure::Engine(e) => format!("engine error while waiting: {e}"),
                    StartFailure::Exited(s) => format!(
                        "the server exited before it was healthy ({})",
                        s.exit_code
                            .map_or("no exit code".to_string(), |c| format!("exit code {c}"))
                    ),
                    StartFailure::Timeout { waited_s, last } => {
                        format!("not healthy after {waited_s} s (last: {last})")
                    }
                };
                let state = match why {
                    StartFailure::Exited(s) => Some(s),
                    _ => self.engine.state(&started.id).await.ok(),
                };
                let (log, _) = started.stop(self.engine, log_abs).await;
                return Err(failure::server_start(state.as_ref(), &log, &message));
            }
        };
        let log_so_far = self
            .engine
            .logs(&started.id)
            .await
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        if backend.is_gpu() && failure::fell_back_to_cpu(&log_so_far) {
            started.stop(self.engine, log_abs).await;
            return Err(Failure {
                mode: FailureMode::NoDevice,
                message: format!(
                    "llama-server found no {} device and would run on the CPU",
                    backend.name()
                ),
                evidence: failure::device_lines(&log_so_far),
            });
        }
        Ok((started, load_seconds, log_so_far))
    }

    fn fail_all(
        &self,
        m: &mut Recorder<'_>,
        cells: &[crate::plan::matrix::CellPlan],
        f: Failure,
    ) -> Result<(), RunError> {
        log::info!("  failed ({}): {}", f.mode, f.message);
        Ok(m.fail_cells(cells.iter().map(|c| c.id.as_str()), &f)?)
    }

    /// Everything the container wrote so far, as text (empty when unreadable).
    async fn log_of(&self, id: &str) -> String {
        self.engine
            .logs(id)
            .await
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// The container's state after a failed run, or after a run a fault was
    /// planned for. A server that looks alive may be one that is ending: the
    /// state is read again for up to `SETTLE` until it says exited. That holds
    /// for a stall too: a server shutting down on SIGTERM stops sending first
    /// and exits only once the client has let go of its stream (measured with
    /// llama-server 0c1e57098), which is no hang.
    async fn settled_state(&self, id: &str) -> Option<ContainerState> {
        let mut state = self.engine.state(id).await.ok();
        let polls = SETTLE.as_millis() / 100;
        for _ in 0..polls {
            if !state.as_ref().is_some_and(|s| s.running) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            state = self.engine.state(id).await.ok();
        }
        state
    }

    /// Stops and removes every container of this run still present.
    pub async fn cleanup(&self) -> Removal {
        remove_run_containers(self.engine, self.run_id).await
    }
}

/// What removing a run's containers came to.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Removal {
    pub removed: usize,
    /// Containers the engine listed but would not remove.
    pub left: Vec<String>,
    /// The engine could not list them (it does not answer).
    pub unlisted: Option<String>,
}

/// Stops and removes every container labelled with `run_id`.
pub async fn remove_run_containers<E: Engine>(engine: &E, run_id: &str) -> Removal {
    let labels = [
        format!("{LABEL_MANAGED}=true"),
        format!("{LABEL_RUN}={run_id}"),
    ];
    let mut out = Removal::default();
    match engine.list_labelled(&labels).await {
        Ok(list) => {
            for c in list {
                match engine.remove(&c.id).await {
                    Ok(()) => out.removed += 1,
                    Err(_) => out.left.push(c.name),
                }
            }
        }
        Err(e) => out.unlisted = Some(e.to_string()),
    }
    out
}

/// The prompt text in the served model's tokens, and its BOS token if it has one.
async fn prepare_text(srv: &Server) -> Result<(Option<u32>, Vec<u32>), BenchError> {
    let cut = PROMPT_TEXT
        .char_indices()
        .nth(200)
        .map_or(PROMPT_TEXT.len(), |(i, _)| i);
    let probe = &PROMPT_TEXT[..cut];
    let with = srv.client.tokenize(probe, true).await?;
    let without = srv.client.tokenize(probe, false).await?;
    let text = srv.client.tokenize(PROMPT_TEXT, false).await?;
    Ok((detect_bos(&with, &without), text))
}

#[cfg(test)]
mod tests;
