//! `rigbench run`: the plan from its file and the command line, printed
//! (`--print-plan`) or dry-run (`--dry-run`), else run (`launch::fresh`) or a
//! killed run resumed (`--resume DIR`, `launch::resume`).

use std::path::Path;
use std::process::ExitCode;

use super::{Globals, default_out};
use crate::cli::RunArgs;
use crate::image::Rebuild;
use crate::plan::matrix::Matrix;

pub async fn run(g: &Globals, args: &RunArgs) -> anyhow::Result<ExitCode> {
    if !args.on.is_empty() {
        return super::on::run_on(g, args).await;
    }
    if let Some(dir) = &args.resume {
        return super::launch::resume(g, dir).await;
    }
    let root = args.host_root.as_deref().unwrap_or(Path::new("/"));
    // Another host's engine: the plan is for that host, as its probe read it
    // (CPUs, the backends its devices allow); `--host-root` is this machine's.
    let remote = super::launch::remote(g).await?;
    let view = match &remote {
        Some(r) => r.seen.view.clone(),
        None => crate::host::view::HostView::read(root, &|k| std::env::var(k).ok()),
    };
    let (plan, raw) = super::run_plan::plan_on(args, &view)?;
    if args.print_plan {
        let mut cmd = vec!["rigbench run".to_string()];
        if let Some(p) = &args.plan {
            cmd.push(format!("--plan {}", p.display()));
        }
        cmd.extend(plan.overrides.iter().cloned());
        let note = format!(
            "Printed by `{} --print-plan`.\nRun it with: rigbench run --plan FILE",
            cmd.join(" ")
        );
        print!("{}", crate::plan::to_toml(&raw, &note)?);
        return Ok(ExitCode::SUCCESS);
    }
    if args.dry_run {
        let matrix = Matrix::on_view(&plan, &view, &g.cache);
        let rates = crate::report::roofline::estimate_rates(&plan, &view.facts);
        if args.json {
            let v = super::dry_run::json(&plan, &matrix, &rates);
            println!("{}", serde_json::to_string_pretty(&v)?);
        } else {
            print!(
                "{}",
                super::dry_run::render(&plan, &matrix, &g.cache, &rates)
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let out = args.out.clone().unwrap_or_else(|| default_out(&plan));
    super::launch::fresh(g, plan, &out, Rebuild::No, remote).await
}
