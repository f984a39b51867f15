//! `rigbench run`: resolve the plan, fetch, build, measure every cell, write the
//! manifest after each run and the report at the end. Ctrl-C stops the servers,
//! removes their containers and keeps every finished run. `--resume DIR` picks up
//! a run that was killed: it removes what the dead process left, keeps every
//! finished run and runs only what is missing.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use comfy_table::Table;

use super::{Globals, default_out, prepare};
use crate::backend::Backend;
use crate::cli::RunArgs;
use crate::engine::{Connected, Engine, connect};
use crate::fetch::Fetcher;
use crate::host::devices::Passthrough;
use crate::image::Rebuild;
use crate::manifest::store::RunDir;
use crate::manifest::{Manifest, Resume, now_rfc3339};
use crate::metric::Metric;
use crate::plan::matrix::{Matrix, expand};
use crate::progress::note;
use crate::runner::{Prepared, Runner, pending_cells, remove_run_containers};
use crate::status::{CellStatus, RunStatus};
use crate::telemetry::Probe;
use crate::telemetry::sampler::Sampler;

/// Exit code after Ctrl-C, as shells report SIGINT.
const INTERRUPTED: u8 = 130;

pub async fn run(g: &Globals, args: &RunArgs) -> anyhow::Result<ExitCode> {
    if let Some(dir) = &args.resume {
        return resume(g, dir).await;
    }
    let root = args.host_root.as_deref().unwrap_or(Path::new("/"));
    let host = crate::host::probe(root);
    let plan = super::load_plan_on(args.plan.as_deref(), host.cpu.logical_cpus.max(1), root)?;
    if args.dry_run {
        let (matrix, passthroughs) = matrix_on(&plan, root);
        print!(
            "{}",
            super::dry_run::render(&plan, &matrix, &g.cache, &passthroughs)
        );
        return Ok(ExitCode::SUCCESS);
    }
    let out = args.out.clone().unwrap_or_else(|| default_out(&plan));
    fresh(g, plan, &out, Rebuild::No).await
}

/// The plan's matrix on this host: the cells of backends whose devices are
/// missing moved to the excluded, with the passthrough of the others.
fn matrix_here(plan: &crate::plan::Plan) -> (Matrix, BTreeMap<Backend, Passthrough>) {
    matrix_on(plan, Path::new("/"))
}

/// The same for the host under `root`.
fn matrix_on(plan: &crate::plan::Plan, root: &Path) -> (Matrix, BTreeMap<Backend, Passthrough>) {
    let mut matrix = expand(plan);
    let (passthroughs, missing) = prepare::passthroughs(plan, root);
    matrix.exclude_backends(&missing);
    (matrix, passthroughs)
}

/// Runs `plan` into the new run directory `out`; `rebuild` says whether every
/// image is built again (for `rerun`).
pub async fn fresh(
    g: &Globals,
    plan: crate::plan::Plan,
    out: &Path,
    rebuild: Rebuild,
) -> anyhow::Result<ExitCode> {
    let t_total = Instant::now();
    let host = crate::host::probe(Path::new("/"));
    let (matrix, mut passthroughs) = matrix_here(&plan);
    prepare::shader_caches(&mut passthroughs, &g.cache)?;
    if matrix.groups.is_empty() {
        anyhow::bail!("the plan leaves no cell to run (see `rigbench run --dry-run`)");
    }
    let dir = RunDir::create(out)?;
    let run_id = crate::engine::unique_suffix();
    note(format!("run directory {}", out.display()));

    let connected = connect_engine(g).await?;
    let info = connected.client.info().await?;
    let mut m = Manifest::new(&run_id, plan.clone(), host, Some(info));
    m.excluded = matrix.excluded.clone();
    m.cells = pending_cells(&plan, &matrix);
    dir.save(&mut m)?;
    let work = Work {
        matrix: &matrix,
        passthroughs: &passthroughs,
        rebuild,
    };
    execute(g, &connected, &dir, &mut m, &work, t_total).await
}

/// What `execute` runs and how its images are had.
struct Work<'a> {
    matrix: &'a Matrix,
    passthroughs: &'a BTreeMap<Backend, Passthrough>,
    rebuild: Rebuild,
}

/// Picks up the run in `dir` where it stopped.
async fn resume(g: &Globals, dir: &Path) -> anyhow::Result<ExitCode> {
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
    let missing_cells = m
        .cells
        .iter()
        .filter(|c| c.status == CellStatus::Pending)
        .count();
    note(format!(
        "resuming {} ({}, {missing_cells} cell(s) not finished)",
        dir.display(),
        m.status
    ));
    let (matrix, mut passthroughs) = matrix_here(&m.plan);
    prepare::shader_caches(&mut passthroughs, &g.cache)?;

    let connected = connect_engine(g).await?;
    // What the killed process left: its containers, and the API service it had
    // started (in its own process group, so it outlived it).
    let stale_service = m.engine.as_ref().and_then(|e| e.service_pid);
    let leftovers = remove_run_containers(&connected.client, &m.run_id).await;
    let stopped = stale_service.is_some_and(crate::engine::connect::stop_stale_service);
    let note_text = format!(
        "resumed: {leftovers} leftover container(s) removed{}",
        if stopped {
            "; the previous process's API service stopped"
        } else {
            ""
        }
    );
    note(&note_text);
    m.resumes.push(Resume {
        at: now_rfc3339(),
        previous_status: m.status,
        note: note_text,
    });
    m.status = RunStatus::Running;
    m.error = None;
    m.engine = Some(connected.client.info().await?);
    run.save(&mut m)?;
    let work = Work {
        matrix: &matrix,
        passthroughs: &passthroughs,
        rebuild: Rebuild::No,
    };
    execute(g, &connected, &run, &mut m, &work, t_total).await
}

async fn connect_engine(g: &Globals) -> anyhow::Result<Connected> {
    let connected = connect(g.socket.as_deref()).await?;
    let info = connected.client.info().await?;
    note(format!(
        "engine: {:?} {} at {}{} (runtime {})",
        info.kind,
        info.version,
        info.socket,
        if info.service_started_by_rigbench {
            ", started for this run"
        } else {
            ""
        },
        info.runtime.as_deref().unwrap_or("?")
    ));
    Ok(connected)
}

/// Fetches, builds (or reuses) and runs what the manifest still lacks, then
/// finishes the manifest and the report, whatever happened.
async fn execute(
    g: &Globals,
    connected: &Connected,
    dir: &RunDir,
    m: &mut Manifest,
    w: &Work<'_>,
    t_total: Instant,
) -> anyhow::Result<ExitCode> {
    let (matrix, passthroughs) = (w.matrix, w.passthroughs);
    let engine = &connected.client;
    let plan = m.plan.clone();
    let run_id = m.run_id.clone();
    let sampler = Sampler::start(
        Probe::discover(Path::new("/")),
        std::time::Duration::from_millis(plan.bench.telemetry_interval_ms),
    );
    if !sampler.probe().has_gpus() {
        note(
            "no amdgpu card and no NVIDIA GPU through NVML: GPU telemetry unavailable (MemAvailable is still recorded)",
        );
    }
    let work = async {
        let t = Instant::now();
        let mut fetcher = Fetcher::new(&g.cache)?;
        let sources = prepare::sources(&mut fetcher, &plan).await?;
        let (records, fetched) = prepare::models(&mut fetcher, &plan).await?;
        check_same_inputs(m, &records, &sources)?;
        m.models = records;
        m.timing.fetch_s += t.elapsed().as_secs_f64();
        dir.save(m)?;

        let t = Instant::now();
        let backends: Vec<_> = plan
            .backends
            .iter()
            .filter_map(|bp| Some((bp, passthroughs.get(&bp.backend)?)))
            .collect();
        let images = prepare::images(
            engine,
            &plan,
            &backends,
            &sources,
            &crate::image::BuildPlace {
                cache: &g.cache,
                logs: &dir.logs(),
                rebuild: w.rebuild,
            },
        )
        .await?;
        for img in &images {
            if let Some(old) = m
                .images
                .iter()
                .find(|o| o.backend == img.backend && o.source == img.source)
            {
                if old.image_id != img.image_id {
                    note(format!(
                        "warning: the {} ({}) image is {} now, {} before the resume",
                        img.backend, img.source, img.image_id, old.image_id
                    ));
                }
            }
        }
        m.images = images;
        m.timing.build_s += t.elapsed().as_secs_f64();
        dir.save(m)?;

        let runner = Runner {
            engine,
            dir,
            run_id: &run_id,
            backends: m
                .images
                .iter()
                .filter_map(|i| {
                    let b = i.backend;
                    let si = plan.sources.iter().position(|s| s.name == i.source)?;
                    Some((
                        (b, si),
                        Prepared {
                            image_id: i.image_id.clone(),
                            passthrough: passthroughs.get(&b)?.clone(),
                        },
                    ))
                })
                .collect::<BTreeMap<_, _>>(),
            model_paths: fetched.iter().map(|f| f.path.clone()).collect(),
            sampler: Some(&sampler),
        };
        runner.run(m, matrix).await?;
        runner.run_llama_bench(m).await?;
        anyhow::Ok(())
    };
    let outcome = tokio::select! {
        r = work => Some(r),
        _ = interrupted() => None,
    };
    let code = match outcome {
        Some(Ok(())) => {
            m.status = RunStatus::Complete;
            ExitCode::SUCCESS
        }
        Some(Err(e)) => {
            m.status = RunStatus::Failed;
            m.error = Some(format!("{e:#}"));
            ExitCode::FAILURE
        }
        None => {
            note("interrupted: stopping and removing this run's containers");
            m.status = RunStatus::Interrupted;
            ExitCode::from(INTERRUPTED)
        }
    };
    // Whatever happened, no container of this run outlives the command.
    let removed = remove_run_containers(engine, &run_id).await;
    if removed > 0 {
        note(format!("removed {removed} leftover container(s)"));
    }
    let t = &mut m.timing;
    t.total_s += t_total.elapsed().as_secs_f64();
    t.other_s = (t.total_s
        - t.fetch_s
        - t.build_s
        - t.model_load_s
        - t.warmup_requests_s
        - t.measured_requests_s
        - t.cooldown_s)
        .max(0.0);
    dir.save(m)?;
    let report = crate::report::write(dir, m)?;
    print_summary(m);
    println!(
        "manifest: {}\nreport:   {}",
        dir.manifest_path().display(),
        report.display()
    );
    if let Some(e) = &m.error {
        anyhow::bail!("{e}");
    }
    Ok(code)
}

/// On a resume, the source and models must be the very files the finished runs
/// used (an unpinned download may have changed since).
fn check_same_inputs(
    m: &Manifest,
    models: &[crate::manifest::ModelRecord],
    sources: &[crate::fetch::FetchedSource],
) -> anyhow::Result<()> {
    for old in &m.models {
        if let Some(new) = models.iter().find(|n| n.name == old.name) {
            if new.sha256 != old.sha256 {
                anyhow::bail!(
                    "model {}: sha256 {} now, {} in the runs already recorded; start a new run instead of resuming",
                    old.name,
                    new.sha256,
                    old.sha256
                );
            }
        }
    }
    for (src, now) in m.plan.sources.iter().zip(sources) {
        if let Some(old) = m.images.iter().find(|i| i.source == src.name) {
            if old.llama_cpp.source_sha256 != now.sha256 {
                anyhow::bail!(
                    "llama.cpp source {}: sha256 {} now, {} in the runs already recorded; start a new run instead of resuming",
                    src.name,
                    now.sha256,
                    old.llama_cpp.source_sha256
                );
            }
        }
    }
    Ok(())
}

fn print_summary(m: &Manifest) {
    let mut t = Table::new();
    let mut header = vec!["cell", "status"];
    header.extend(Metric::HEADLINE.map(Metric::short));
    t.set_header(header);
    let show = |c: &crate::manifest::Cell, m: Metric| {
        c.stats
            .get(&m)
            .map(|s| crate::report::markdown::mean_sd(s, m.decimals()))
            .unwrap_or_else(|| "—".to_string())
    };
    for c in &m.cells {
        let status = match &c.failure {
            Some(f) => format!("failed: {}", f.mode),
            None => c.status.to_string(),
        };
        let mut row = vec![c.id.clone(), status];
        row.extend(Metric::HEADLINE.map(|m| show(c, m)));
        t.add_row(row);
    }
    println!("{t}");
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
