//! The plan a `run` command line asks for (its file or the built-in default,
//! with the flags' changes), for the host it runs on: `run` and `run --on`
//! alike.

use crate::cli::RunArgs;

/// The plan file (or the built-in default) with the command line's changes,
/// for the host `view` describes (its CPUs, the backends its devices allow).
pub fn plan_on(
    args: &RunArgs,
    view: &crate::host::view::HostView,
) -> anyhow::Result<(crate::plan::Plan, crate::plan::file::PlanFile)> {
    Ok(crate::plan::load_with(
        args.plan.as_deref(),
        view.facts.cpu.logical_cpus.max(1),
        &view.available,
        &overrides(args)?,
    )?)
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
