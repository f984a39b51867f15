//! A run on the engine, started or resumed, for `run` and `rerun` alike: the
//! matrix on the engine's host (this one, or another's read there by a probe
//! container), the run directory and its manifest, the engine's
//! connection, the session (fetch, build, measure), and what an interrupt,
//! a lost engine or failed cells make of the exit code. Ctrl-C stops the
//! servers, removes their containers and keeps every finished run; a resume
//! removes what the dead process left and runs only what is missing.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use super::Globals;
use crate::backend::Backend;
use crate::engine::{Connected, Engine};
use crate::exit::Exit;
use crate::host::devices::Passthrough;
use crate::image::Rebuild;
use crate::manifest::store::RunDir;
use crate::manifest::{Manifest, Resume, now_rfc3339};
use crate::plan::matrix::Matrix;
use crate::runner::{pending_cells, remove_run_containers};
use crate::session::Session;
use crate::session::prepare;
use crate::status::{CellStatus, FailureMode, RunStatus};
use crate::telemetry::sampler::Sampler;

/// Another host's engine, connected, and that host as a probe container
/// read it there: where a run on it takes its facts, devices and CPUs from.
pub struct Remote {
    pub connected: Connected,
    pub seen: super::host_view::Seen,
}

/// The remote engine the flags name, connected and its host read; `None`
/// for an engine of this machine.
pub async fn remote(g: &Globals) -> anyhow::Result<Option<Remote>> {
    if !g.engine.remote() {
        return Ok(None);
    }
    let connected = connect_engine(g).await?;
    let seen = super::host_view::of_engine(&connected, Path::new("/")).await?;
    Ok(Some(Remote { connected, seen }))
}

/// `plan`'s matrix on the host the run measures (this one, or another's as
/// `seen` there), with the shader caches its backends share: a folder of the
/// cache here, a named volume there.
fn matrix_on(
    plan: &crate::plan::Plan,
    seen: Option<&super::host_view::Seen>,
    g: &Globals,
) -> anyhow::Result<Matrix> {
    let mut matrix = match seen {
        Some(s) => Matrix::on_view(plan, &s.view, &g.cache),
        None => Matrix::on_host(plan, Path::new("/"), &g.cache),
    };
    match seen {
        Some(_) => prepare::shader_volumes(&mut matrix.passthroughs),
        None => prepare::shader_caches(&mut matrix.passthroughs, &g.cache)?,
    }
    Ok(matrix)
}

/// Runs `plan` into the new run directory `out`; `rebuild` says whether every
/// image is built again (for `rerun`). On another host's engine (`remote`,
/// whose host the plan was loaded for) the host's facts are that host's.
pub async fn fresh(
    g: &Globals,
    plan: crate::plan::Plan,
    out: &Path,
    rebuild: Rebuild,
    remote: Option<Remote>,
) -> anyhow::Result<ExitCode> {
    let t_total = Instant::now();
    if remote.is_none() && g.engine.remote() {
        anyhow::bail!(
            "a run on another host's engine needs that host read first (launch::remote): nothing of this machine is recorded for it"
        );
    }
    let (host, host_read) = match &remote {
        Some(r) => (r.seen.view.facts.clone(), r.seen.how.clone()),
        None => (crate::host::probe(Path::new("/")), None),
    };
    let mut matrix = matrix_on(&plan, remote.as_ref().map(|r| &r.seen), g)?;
    if matrix.groups.is_empty() {
        anyhow::bail!("the plan leaves no cell to run (see `rigbench run --dry-run`)");
    }
    let dir = RunDir::create(out)?;
    let run_id = crate::engine::unique_suffix();
    log::info!("run directory {}", out.display());

    let (connected, on_remote) = match remote {
        Some(r) => (r.connected, true),
        None => (connect_engine(g).await?, false),
    };
    let info = connected.client.info().await?;
    rootless_groups(&mut matrix.passthroughs, &info, on_remote);
    let cells = pending_cells(&plan, &matrix);
    let mut m = Manifest::new(&run_id, plan, host, Some(info));
    m.host_read = host_read;
    m.excluded = matrix.excluded.clone();
    m.cells = cells;
    dir.save(&mut m)?;
    let work = Work {
        matrix: &matrix,
        rebuild,
        remote: on_remote,
    };
    execute(g, &connected, &dir, &mut m, &work, t_total).await
}

/// What `execute` runs and how its images are had.
struct Work<'a> {
    matrix: &'a Matrix,
    rebuild: Rebuild,
    /// Whether the engine is another host's.
    remote: bool,
}

/// Picks up the run in `dir` where it stopped.
pub async fn resume(g: &Globals, dir: &Path) -> anyhow::Result<ExitCode> {
    let t_total = Instant::now();
    let run = RunDir::open(dir);
    let mut m = run.load()?;
    if m.status == RunStatus::Complete {
        println!(
            "{}: the run is complete; nothing to resume",
            run.manifest_path().display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    // Not saved until the engine answers.
    let again = rerun_engine_lost(&mut m);
    let missing_cells = m
        .cells
        .iter()
        .filter(|c| c.status == CellStatus::Pending)
        .count();
    log::info!(
        "resuming {} ({}, {missing_cells} cell(s) not finished)",
        dir.display(),
        m.status
    );
    let connected = connect_engine(g).await?;
    let info = connected.client.info().await?;
    // The engine checked to be the run's before another host is read.
    same_engine(&m, &info, dir)?;
    let seen = match g.engine.remote() {
        true => Some(super::host_view::of_engine(&connected, Path::new("/")).await?),
        false => None,
    };
    let on_remote = seen.is_some();
    let mut matrix = matrix_on(&m.plan, seen.as_ref(), g)?;
    // What the killed process left: its containers, and the API service it had
    // started (in its own process group, so it outlived it).
    let stale_service = m.engine.as_ref().and_then(|e| e.service_pid);
    let leftovers = remove_run_containers(&connected.client, &m.run_id).await;
    say_left(&leftovers, m.engine.as_ref());
    let stopped = stale_service.is_some_and(crate::engine::connect::stop_stale_service);
    let note_text = format!(
        "resumed: {} leftover container(s) removed{}{}",
        leftovers.removed,
        if stopped {
            "; the previous process's API service stopped"
        } else {
            ""
        },
        if again > 0 {
            format!("; {again} cell(s) the lost engine stopped run again")
        } else {
            String::new()
        }
    );
    log::info!("{note_text}");
    m.resumes.push(Resume {
        at: now_rfc3339(),
        previous_status: m.status,
        note: note_text,
    });
    m.status = RunStatus::Running;
    m.error = None;
    rootless_groups(&mut matrix.passthroughs, &info, on_remote);
    m.engine = Some(info);
    run.save(&mut m)?;
    let work = Work {
        matrix: &matrix,
        rebuild: Rebuild::No,
        remote: on_remote,
    };
    execute(g, &connected, &run, &mut m, &work, t_total).await
}

/// Cells the lost engine stopped (`engine_lost`) go back to pending, their
/// runs kept: the failure was the machine's, not the backend's. Returns how many.
fn rerun_engine_lost(m: &mut Manifest) -> usize {
    let mut n = 0;
    for c in &mut m.cells {
        if c.failure
            .as_ref()
            .is_some_and(|f| f.mode == FailureMode::EngineLost)
        {
            c.status = CellStatus::Pending;
            c.failure = None;
            n += 1;
        }
    }
    n
}

/// Names the containers of this run that are still there, with the command
/// that removes them.
fn say_left(r: &crate::runner::Removal, engine: Option<&crate::engine::EngineInfo>) {
    let remote = engine
        .filter(|e| e.remote.is_some())
        .map(|e| e.socket.as_str());
    if !r.left.is_empty() {
        log::info!(
            "the engine would not remove {} container(s) of this run: {}; remove them with\n{}",
            r.left.len(),
            r.left.join(", "),
            crate::runner::lost::remove_command(&r.left, remote)
        );
    }
    if let Some(e) = &r.unlisted {
        log::info!("could not list this run's containers to remove them: {e}");
    }
}

/// A run measured on another host's engine resumes there alone (and one
/// measured here, here): its cells must not mix two machines.
fn same_engine(m: &Manifest, now: &crate::engine::EngineInfo, dir: &Path) -> anyhow::Result<()> {
    let Some(was) = &m.engine else {
        return Ok(());
    };
    if (was.remote.is_some() || now.remote.is_some()) && was.socket != now.socket {
        let how = match &was.remote {
            Some(r) => match &r.connection {
                Some(c) => format!("--connection {c}"),
                None => format!("--host {}", was.socket),
            },
            None => "no --host or --connection (this machine's engine)".to_string(),
        };
        anyhow::bail!(
            "{}: this run was measured on the engine {}, not {}: resume it with {how}",
            dir.display(),
            was.socket,
            now.socket
        );
    }
    Ok(())
}

/// The device groups as the engine can give them (`host::rootless`), with
/// what the user should know. On another host the user's groups there
/// cannot be read from here: they are taken to include the devices'.
fn rootless_groups(
    passthroughs: &mut BTreeMap<Backend, Passthrough>,
    info: &crate::engine::EngineInfo,
    remote: bool,
) {
    let mine = match remote {
        true => (passthroughs.values())
            .flat_map(|p| p.group_add.iter().filter_map(|g| g.parse().ok()))
            .collect(),
        false => crate::host::rootless::my_groups(),
    };
    for line in crate::host::rootless::adjust_groups(passthroughs, info, &mine) {
        log::info!("{line}");
    }
}

async fn connect_engine(g: &Globals) -> anyhow::Result<Connected> {
    let connected = g.connect().await?;
    let info = connected.client.info().await?;
    log::info!(
        "engine: {} at {}{} (runtime {})",
        info.named(),
        info.socket,
        if info.service_started_by_rigbench {
            ", started for this run"
        } else {
            ""
        },
        info.runtime_named()
    );
    Ok(connected)
}

/// Runs the session's pipeline on `m` until it ends or a signal stops it, then
/// finishes the manifest and the report, whatever happened.
async fn execute(
    g: &Globals,
    connected: &Connected,
    dir: &RunDir,
    m: &mut Manifest,
    w: &Work<'_>,
    t_total: Instant,
) -> anyhow::Result<ExitCode> {
    let engine = &connected.client;
    let run_id = m.run_id.clone();
    let there = match w.remote {
        true => Some(crate::session::There::of(engine).await?),
        false => None,
    };
    // This machine's GPUs say nothing of another host's: that host's are
    // read there.
    let remote_telemetry = match &there {
        Some(t) => Some(remote_telemetry(engine, t, w.matrix, m).await),
        None => None,
    };
    let local = match w.remote {
        false => Some(crate::session::sampler(m)),
        true => None,
    };
    let sampler = local.as_ref().or_else(|| {
        (remote_telemetry.as_ref()).map(|r| match r {
            Ok(r) => &r.sampler,
            Err(s) => s,
        })
    });
    let session = Session {
        engine,
        cache: &g.cache,
        dir,
        matrix: w.matrix,
        rebuild: w.rebuild,
        sampler,
        there: there.as_ref(),
    };
    let outcome = tokio::select! {
        r = session.run(m) => Some(r),
        _ = interrupted() => None,
    };
    crate::progress::overall_done();
    match outcome {
        Some(Ok(())) => m.status = RunStatus::Complete,
        Some(Err(e)) => {
            m.status = RunStatus::Failed;
            m.error = Some(format!("{e:#}"));
        }
        None => {
            log::info!("interrupted: stopping and removing this run's containers");
            m.status = RunStatus::Interrupted;
        }
    }
    if let Some(Ok(r)) = remote_telemetry {
        r.stop(engine).await;
    }
    // Whatever happened, no container of this run outlives the command.
    let removal = remove_run_containers(engine, &run_id).await;
    if removal.removed > 0 {
        log::info!("removed {} leftover container(s)", removal.removed);
    }
    say_left(&removal, m.engine.as_ref());
    crate::session::close_timing(m, t_total);
    if let Err(e) = dir.save(m) {
        // The last save failed (a full disk): what stopped the run, if that
        // was something else, is said before the save's own error.
        if let Some(first) = m.error.as_ref().filter(|f| **f != e.to_string()) {
            log::info!("the run stopped: {first}");
        }
        return Err(e.into());
    }
    let report = crate::report::write(dir, m)?;
    print!("{}", crate::history::cells_table(m));
    for line in crate::report::ab::lines(m) {
        println!("{line}");
    }
    println!(
        "manifest: {}\nreport:   {}",
        dir.manifest_path().display(),
        report.display()
    );
    if let Some(e) = &m.error {
        anyhow::bail!("{e}");
    }
    let exit = Exit::of_run(m);
    if exit == Exit::CellsFailed {
        log::info!(
            "some cells failed (their failures are recorded as results): exit code {}",
            exit.code()
        );
    }
    Ok(exit.into())
}

/// The GPU telemetry of another host's engine, read there
/// (`session::remote_telemetry`); where its container gives no samples, a
/// sampler that says why in each run's record (the run goes on without).
async fn remote_telemetry<E: crate::engine::Engine>(
    engine: &E,
    there: &crate::session::There,
    matrix: &Matrix,
    m: &Manifest,
) -> Result<crate::session::remote_telemetry::Remote, Sampler> {
    use crate::session::remote_telemetry as rt;
    let interval = std::time::Duration::from_millis(m.plan.bench.telemetry_interval_ms);
    let nvml = rt::nvml_access(&matrix.passthroughs);
    let root = Path::new("/");
    match rt::start(
        engine,
        &there.engine,
        &there.binary,
        root,
        nvml,
        &m.run_id,
        interval,
    )
    .await
    {
        Ok(r) => {
            if !r.sampler.has_gpus() {
                log::info!(
                    "no amdgpu card and no NVIDIA GPU through NVML on {}: GPU telemetry unavailable there (MemAvailable is still recorded)",
                    there.engine
                );
            }
            Ok(r)
        }
        Err(e) => {
            log::warn!("{e}: this run records no telemetry");
            Err(Sampler::unavailable(e.to_string()))
        }
    }
}

/// Resolves at Ctrl-C (SIGINT) or SIGTERM (`kill`, systemd, a CI timeout):
/// either way the run is marked interrupted and its containers removed.
async fn interrupted() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{EngineInfo, EngineKind, RemoteEngine};

    fn engine(socket: &str, connection: Option<&str>) -> EngineInfo {
        EngineInfo {
            kind: EngineKind::Podman,
            version: "4.3.1".into(),
            api_version: "1.41".into(),
            runtime: Some("crun".into()),
            cgroup_version: Some("2".into()),
            socket: socket.into(),
            service_started_by_rigbench: false,
            service_pid: None,
            rootless: Some(false),
            remote: socket.starts_with("ssh://").then(|| RemoteEngine {
                connection: connection.map(String::from),
                socket_uid: 0,
            }),
        }
    }

    fn run_on(e: EngineInfo) -> Manifest {
        let plan = crate::plan::builtin(2).unwrap();
        let host = crate::host::probe(Path::new("/nonexistent"));
        Manifest::new("r1", plan, host, Some(e))
    }

    #[test]
    fn a_run_resumes_on_the_engine_it_was_measured_on() {
        let gpu1 = "ssh://core@gpu1:22/run/podman/podman.sock";
        let gpu2 = "ssh://core@gpu2:22/run/podman/podman.sock";
        let here = "unix:///run/podman/podman.sock";
        let dir = Path::new("runs/x");
        let m = run_on(engine(gpu1, Some("gpu1")));
        assert!(same_engine(&m, &engine(gpu1, Some("gpu1")), dir).is_ok());
        let e = same_engine(&m, &engine(gpu2, None), dir)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            format!(
                "runs/x: this run was measured on the engine {gpu1}, not {gpu2}: resume it with --connection gpu1"
            )
        );
        let e = same_engine(&m, &engine(here, None), dir)
            .unwrap_err()
            .to_string();
        assert!(
            e.ends_with(&format!("not {here}: resume it with --connection gpu1")),
            "{e}"
        );
        let m = run_on(engine(here, None));
        let e = same_engine(&m, &engine(gpu1, None), dir)
            .unwrap_err()
            .to_string();
        assert!(
            e.ends_with("resume it with no --host or --connection (this machine's engine)"),
            "{e}"
        );
        // Here, another socket of this machine's engine (a service rigbench
        // started has a new one each time): the same host.
        let other_here = "unix:///root/.cache/rigbench/tmp/rigbench-podman-1/podman.sock";
        assert!(same_engine(&m, &engine(other_here, None), dir).is_ok());
        let m = run_on(engine(gpu1, None));
        let e = same_engine(&m, &engine(gpu2, None), dir)
            .unwrap_err()
            .to_string();
        assert!(e.ends_with(&format!("resume it with --host {gpu1}")), "{e}");
    }
}
