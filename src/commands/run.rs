//! `rigbench run`: resolve the plan, fetch, build, measure every cell, write the
//! manifest after each run and the report at the end. Ctrl-C stops the servers,
//! removes their containers and keeps every finished run.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use comfy_table::Table;

use super::{Globals, default_out, load_plan, prepare};
use crate::backend::Backend;
use crate::cli::RunArgs;
use crate::engine::{Engine, connect};
use crate::fetch::Fetcher;
use crate::manifest::Manifest;
use crate::manifest::store::RunDir;
use crate::plan::matrix::expand;
use crate::progress::note;
use crate::runner::{Prepared, Runner, pending_cells};
use crate::telemetry::Probe;
use crate::telemetry::sampler::Sampler;

/// Exit code after Ctrl-C, as shells report SIGINT.
const INTERRUPTED: u8 = 130;

pub async fn run(g: &Globals, args: &RunArgs) -> anyhow::Result<ExitCode> {
    let t_total = Instant::now();
    let host = crate::host::probe(Path::new("/"));
    let plan = load_plan(args.plan.as_deref(), host.cpu.logical_cpus.max(1))?;
    let mut matrix = expand(&plan);
    let (passthroughs, missing) = prepare::passthroughs(&plan, Path::new("/"));
    matrix.exclude_backends(&missing);
    if args.dry_run {
        print!(
            "{}",
            super::dry_run::render(&plan, &matrix, &g.cache, &passthroughs)
        );
        return Ok(ExitCode::SUCCESS);
    }
    if matrix.groups.is_empty() {
        anyhow::bail!("the plan leaves no cell to run (see `rigbench run --dry-run`)");
    }
    let out = args.out.clone().unwrap_or_else(|| default_out(&plan));
    let dir = RunDir::create(&out)?;
    let run_id = crate::engine::unique_suffix();
    note(format!("run directory {}", out.display()));

    let connected = connect(g.socket.as_deref()).await?;
    let engine = &connected.client;
    let info = engine.info().await?;
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

    let sampler = Sampler::start(
        Probe::discover(Path::new("/")),
        std::time::Duration::from_millis(plan.bench.telemetry_interval_ms),
    );
    if !sampler.probe().has_gpus() {
        note("no amdgpu card: GPU telemetry unavailable (MemAvailable is still recorded)");
    }
    let mut m = Manifest::new(&run_id, plan.clone(), host, Some(info));
    m.excluded = matrix.excluded.clone();
    m.cells = pending_cells(&plan, &matrix);
    dir.save(&mut m)?;

    let work = async {
        let t = Instant::now();
        let mut fetcher = Fetcher::new(&g.cache)?;
        let source = prepare::source(&mut fetcher, &plan).await?;
        let (records, fetched) = prepare::models(&mut fetcher, &plan).await?;
        m.models = records;
        m.timing.fetch_s = t.elapsed().as_secs_f64();
        dir.save(&mut m)?;

        let t = Instant::now();
        let backends: Vec<_> = plan
            .backends
            .iter()
            .filter_map(|bp| Some((bp, passthroughs.get(&bp.backend)?)))
            .collect();
        m.images =
            prepare::images(engine, &plan, &backends, &source, &g.cache, &dir.logs()).await?;
        m.timing.build_s = t.elapsed().as_secs_f64();
        dir.save(&mut m)?;

        let runner = Runner {
            engine,
            dir: &dir,
            run_id: &run_id,
            backends: m
                .images
                .iter()
                .filter_map(|i| {
                    let b = Backend::parse(&i.backend)?;
                    Some((
                        b,
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
        runner.run(&mut m, &matrix).await?;
        runner.run_llama_bench(&mut m).await?;
        anyhow::Ok(())
    };
    let outcome = tokio::select! {
        r = work => Some(r),
        _ = tokio::signal::ctrl_c() => None,
    };
    let code = match outcome {
        Some(Ok(())) => {
            m.status = "complete".to_string();
            ExitCode::SUCCESS
        }
        Some(Err(e)) => {
            m.status = "failed".to_string();
            m.error = Some(format!("{e:#}"));
            ExitCode::FAILURE
        }
        None => {
            note("interrupted: stopping and removing this run's containers");
            m.status = "interrupted".to_string();
            ExitCode::from(INTERRUPTED)
        }
    };
    // Whatever happened, no container of this run outlives the command.
    let runner = Runner {
        engine,
        dir: &dir,
        run_id: &run_id,
        backends: BTreeMap::new(),
        model_paths: Vec::new(),
        sampler: None,
    };
    let removed = runner.cleanup().await;
    if removed > 0 {
        note(format!("removed {removed} leftover container(s)"));
    }
    let t = &mut m.timing;
    t.total_s = t_total.elapsed().as_secs_f64();
    t.other_s = (t.total_s
        - t.fetch_s
        - t.build_s
        - t.model_load_s
        - t.warmup_requests_s
        - t.measured_requests_s
        - t.cooldown_s)
        .max(0.0);
    dir.save(&mut m)?;
    let report = crate::report::write(&dir, &m)?;
    print_summary(&m);
    println!(
        "manifest: {}\nreport:   {}",
        dir.manifest_path().display(),
        report.display()
    );
    if let Some(e) = &m.error {
        anyhow::bail!("{e}");
    }
    drop(connected);
    Ok(code)
}

fn print_summary(m: &Manifest) {
    let mut t = Table::new();
    t.set_header(vec!["cell", "status", "gen t/s", "pp t/s", "TTFT ms"]);
    let show = |c: &crate::manifest::Cell, k: &str, d: usize| {
        c.stats
            .get(k)
            .map(|s| crate::report::markdown::mean_sd(s, d))
            .unwrap_or_else(|| "—".to_string())
    };
    for c in &m.cells {
        let status = match &c.failure {
            Some(f) => format!("failed: {}", f.mode),
            None => c.status.clone(),
        };
        t.add_row(vec![
            c.id.clone(),
            status,
            show(c, "gen_tps", 1),
            show(c, "pp_tps", 0),
            show(c, "ttft_ms", 0),
        ]);
    }
    println!("{t}");
}
