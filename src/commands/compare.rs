//! `rigbench compare A B`: load two verified runs (directories or bundles) and print the comparison
//! (Markdown, or JSON with --json).

use std::path::Path;
use std::process::ExitCode;

use crate::cli::CompareArgs;
use crate::comparison::gate::{self, FailOn};
use crate::exit::Exit;
use crate::manifest::Manifest;

fn load(p: &Path) -> anyhow::Result<(String, Manifest)> {
    let m = super::load_run(p)?;
    let name = format!(
        "{} (run {}, {}, plan {}, {})",
        p.display(),
        m.run_id,
        m.created_at,
        m.plan.name,
        m.status
    );
    Ok((name, m))
}

pub fn compare(args: &CompareArgs) -> anyhow::Result<ExitCode> {
    if !(args.band.is_finite() && args.band >= 0.0 && args.band < 100.0) {
        anyhow::bail!(
            "--band {}: a percentage from 0 to under 100, such as 2",
            args.band
        );
    }
    let (an, a) = load(&args.a)?;
    if let Some(name) = &args.reference {
        let r = crate::reference::load(name)?;
        let c = crate::reference::compare::compare(&r, &an, &a, args.band / 100.0);
        if args.json {
            println!("{}", serde_json::to_string_pretty(&c)?);
        } else {
            print!("{}", crate::reference::render::markdown(&c));
        }
        let found = args
            .fail_on
            .map(|on| gate::reference_findings(&c, on))
            .unwrap_or_default();
        return Ok(gated(args.fail_on, &found));
    }
    if let Some(w) = &args.within {
        let (field, va, vb) = (w.field, &w.a, &w.b);
        let s = crate::comparison::within::split(&a, field, va, vb)
            .map_err(|e| anyhow::anyhow!("{}: {e}", args.a.display()))?;
        let side = |v: &str| format!("{an}, {} {v}", field.name());
        let c = crate::comparison::compare_within(&side(va), &side(vb), &s, args.band / 100.0);
        return emit(args, &c);
    }
    let Some(b_path) = &args.b else {
        anyhow::bail!("name run B, or a published reference with --reference");
    };
    let (bn, b) = load(b_path)?;
    let c = crate::comparison::compare(&an, &a, &bn, &b, args.band / 100.0);
    emit(args, &c)
}

/// Writes the page (with --html) and prints the comparison.
fn emit(args: &CompareArgs, c: &crate::comparison::Comparison) -> anyhow::Result<ExitCode> {
    if let Some(path) = &args.html {
        crate::hash::write_atomic(path, crate::comparison::html::html(c).as_bytes())
            .map_err(|e| anyhow::anyhow!("writing --html {}: {e}", path.display()))?;
        eprintln!("comparison page: {}", path.display());
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(c)?);
    } else {
        print!("{}", crate::comparison::render::markdown(c));
    }
    let found = args
        .fail_on
        .map(|on| gate::findings(c, on))
        .unwrap_or_default();
    Ok(gated(args.fail_on, &found))
}

/// The exit code after `--fail-on`: `Gate` with the findings listed on
/// stderr, else success (saying so when a gate was asked for).
fn gated(on: Option<FailOn>, found: &[String]) -> ExitCode {
    let Some(on) = on else {
        return Exit::Ok.into();
    };
    let name = on.name();
    if found.is_empty() {
        eprintln!("compare: --fail-on {name}: nothing found");
        return Exit::Ok.into();
    }
    eprintln!(
        "compare: --fail-on {name}: {} finding(s), exit code {}:",
        found.len(),
        Exit::Gate.code()
    );
    for f in found {
        eprintln!("  {f}");
    }
    Exit::Gate.into()
}
