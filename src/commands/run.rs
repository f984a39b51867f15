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
    if let Some(dir) = &args.resume {
        return super::launch::resume(g, dir).await;
    }
    let root = args.host_root.as_deref().unwrap_or(Path::new("/"));
    let host = crate::host::probe(root);
    let overrides = overrides(args)?;
    let found = crate::host::devices::available_backends(root);
    let (plan, raw) = crate::plan::load_with(
        args.plan.as_deref(),
        host.cpu.logical_cpus.max(1),
        &found,
        &overrides,
    )?;
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
        let matrix = Matrix::on_host(&plan, root, &g.cache);
        let rates = crate::report::roofline::estimate_rates(&plan, &crate::host::probe(root));
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
    super::launch::fresh(g, plan, &out, Rebuild::No).await
}

/// The plan changes the command line asks for.
fn overrides(args: &RunArgs) -> anyhow::Result<crate::plan::overrides::Overrides> {
    use crate::plan::overrides::{ModelArg, Overrides};
    let model = args
        .model
        .as_deref()
        .map(ModelArg::parse)
        .transpose()
        .map_err(anyhow::Error::msg)?;
    Ok(Overrides {
        model,
        backends: args.backends.clone(),
        prompt_tokens: args.prompt_tokens.clone(),
        runs: args.runs,
        rounds: args.rounds,
        n_predict: args.n_predict,
        ctx_size: args.ctx_size,
        warmup: args.warmup,
        until_decided: args.until_decided,
        max_minutes: args.max_minutes,
    })
}
