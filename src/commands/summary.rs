//! `rigbench summary RUN RUN…`: several runs (directories, manifests or bundles,
//! one plan run on several hosts, say) side by side, per headline metric: one
//! row per run and its host, one column per cell (`comparison::hosts`), as
//! Markdown, JSON (`--json`) or also one HTML page (`--html FILE`).

use std::process::ExitCode;

use crate::cli::SummaryArgs;
use crate::comparison::hosts;
use crate::metric::Metric;

pub fn summary(args: &SummaryArgs) -> anyhow::Result<ExitCode> {
    let mut runs = Vec::new();
    for p in &args.runs {
        runs.push((p.display().to_string(), super::load_run(p)?));
    }
    let named: Vec<(String, &crate::manifest::Manifest)> =
        runs.iter().map(|(n, m)| (n.clone(), m)).collect();
    let summaries = of(&named);
    if let Some(path) = &args.html {
        crate::hash::write_atomic(path, hosts::html(&summaries).as_bytes())
            .map_err(|e| anyhow::anyhow!("writing --html {}: {e}", path.display()))?;
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summaries)?);
    } else {
        print!("{}", hosts::markdown(&summaries));
    }
    Ok(ExitCode::SUCCESS)
}

/// Each headline metric's summary of the named runs.
fn of(named: &[(String, &crate::manifest::Manifest)]) -> Vec<hosts::HostSummary> {
    Metric::HEADLINE
        .into_iter()
        .map(|metric| hosts::summarize(named, metric))
        .collect()
}

/// The named runs side by side in Markdown, as `rigbench summary` prints it.
pub fn markdown(named: &[(String, &crate::manifest::Manifest)]) -> String {
    hosts::markdown(&of(named))
}
