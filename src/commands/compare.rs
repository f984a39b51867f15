//! `rigbench compare A B`: load two verified runs (directories or bundles) and print the comparison
//! (Markdown, or JSON with --json).

use std::path::Path;
use std::process::ExitCode;

use crate::cli::CompareArgs;
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
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(w) = &args.within {
        let (field, va, vb) = match w.as_slice() {
            [f, x, y] => (crate::comparison::within::Field::parse(f), x, y),
            _ => anyhow::bail!("--within takes three values: FIELD A B"),
        };
        let field = field.map_err(anyhow::Error::msg)?;
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
    Ok(ExitCode::SUCCESS)
}

/// `rigbench reference list|show`.
pub fn reference(action: &crate::cli::ReferenceAction) -> anyhow::Result<ExitCode> {
    match action {
        crate::cli::ReferenceAction::FromRun {
            run,
            output,
            name,
            title,
        } => {
            let m = super::load_run(run)?;
            let name = name.clone().unwrap_or_else(|| {
                output
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_else(|| m.plan.name.clone())
            });
            let gpu = m
                .host
                .nvidia
                .as_ref()
                .and_then(|n| n.gpus.first().map(|g| g.name.clone()))
                .or_else(|| m.host.gpus.iter().find_map(|g| g.gfx_target.clone()))
                .unwrap_or_else(|| "no GPU".to_string());
            let title = title.clone().unwrap_or_else(|| {
                format!(
                    "{} ({gpu}, {})",
                    m.plan.description.as_deref().unwrap_or(&m.plan.name),
                    m.created_at.get(..10).unwrap_or(&m.created_at)
                )
            });
            let r = crate::reference::from_run::from_manifest(&m, &name, &title);
            let header = format!(
                "# Made by `rigbench reference from-run` from run {} ({}), integrity {}.\n\
                 # Compare a run of the same plan with it: rigbench compare RUN --reference {}\n\
                 # Format: README.md, \"Published references\".\n",
                m.run_id,
                m.created_at,
                m.integrity.sha256,
                output.display()
            );
            let text = format!("{header}{}", toml::to_string_pretty(&r)?);
            // What is written must read back as a reference.
            crate::reference::parse(&text, &output.display().to_string())?;
            let tmp = output.with_extension("toml.tmp");
            std::fs::write(&tmp, &text)
                .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", tmp.display()))?;
            std::fs::rename(&tmp, output)
                .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", output.display()))?;
            println!(
                "{}: reference {name}: {} cells, {} failure configurations, {} setup facts",
                output.display(),
                r.cells.len(),
                r.failures.len(),
                r.setup.len()
            );
        }
        crate::cli::ReferenceAction::List => {
            for (name, _) in crate::reference::BUILTIN {
                let r = crate::reference::load(name)?;
                println!(
                    "{name}: {} ({} cells, {} failure configurations)",
                    r.title,
                    r.cells.len(),
                    r.failures.len()
                );
            }
        }
        crate::cli::ReferenceAction::Show { name } => {
            let r = crate::reference::load(name)?;
            println!("{} ({}), n = {} per cell", r.title, r.name, r.runs);
            if let Some(p) = &r.plan {
                println!("rerun with: rigbench run --plan {p}");
            }
            println!("\nsetup:");
            for f in &r.setup {
                println!("  {}: {}", f.fact, f.value);
            }
            println!("\ncells:");
            for c in &r.cells {
                let fig = |v: Option<[f64; 2]>| v.map(|[m, s]| format!("{m} ± {s}"));
                println!(
                    "  {}@{} {} {} p{}: gen {}, pp {}",
                    c.backend,
                    c.source,
                    c.model,
                    c.variant,
                    c.prompt_tokens,
                    fig(c.gen_tps)
                        .or_else(|| c.gen_tps_range.map(|[a, b]| format!("{a}–{b}")))
                        .unwrap_or_else(|| "—".into()),
                    fig(c.pp_tps).unwrap_or_else(|| "—".into())
                );
            }
            println!("\nfailures:");
            for f in &r.failures {
                println!(
                    "  {}@{} {} {}: {} {} ({})",
                    f.backend,
                    f.source,
                    f.model,
                    f.variants.join("/"),
                    f.mode,
                    f.runs,
                    f.evidence
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
