//! `rigbench reference`: the built-in references, and references made from a
//! run or from llama-bench's own results, written whole or not at all.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::reference::Reference;

/// A reference's default name: its file's stem.
fn stem(output: &Path) -> String {
    output.file_stem().map_or_else(
        || "reference".to_string(),
        |s| s.to_string_lossy().into_owned(),
    )
}

/// Writes `r` under `header` to `output`, after checking that it reads back.
fn write(output: &Path, header: &str, r: &Reference) -> anyhow::Result<()> {
    let text = format!("{header}{}", toml::to_string_pretty(r)?);
    // What is written must read back as a reference.
    crate::reference::parse(&text, &output.display().to_string())?;
    crate::hash::write_atomic(output, text.as_bytes())
        .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", output.display()))?;
    println!(
        "{}: reference {}: {} cells, {} failure configurations, {} llama-bench tests, {} setup facts",
        output.display(),
        r.name,
        r.cells.len(),
        r.failures.len(),
        r.llama_bench.len(),
        r.setup.len()
    );
    Ok(())
}

/// `rigbench reference list|show|from-run|from-llama-bench`.
pub fn reference(action: &crate::cli::ReferenceAction) -> anyhow::Result<ExitCode> {
    use crate::cli::ReferenceAction as A;
    match action {
        A::FromRun { run, title, out } => from_run(run, title.as_deref(), out)?,
        A::FromLlamaBench {
            files,
            out,
            title,
            backend,
        } => from_llama_bench(files, out, title.as_deref(), *backend)?,
        A::List { json: true } => list_json()?,
        A::List { json: false } => list()?,
        A::Show { name, json: true } => {
            let r = crate::reference::load(name)?;
            println!("{}", serde_json::to_string_pretty(&r)?);
        }
        A::Show { name, json: false } => show(name)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// `reference from-run`: the run's cells as a reference file.
fn from_run(
    run: &Path,
    title: Option<&str>,
    crate::cli::RefOut { output, name }: &crate::cli::RefOut,
) -> anyhow::Result<()> {
    let m = super::load_run(run)?;
    let name = name.clone().unwrap_or_else(|| stem(output));
    let gpu = m
        .host
        .nvidia
        .as_ref()
        .and_then(|n| n.gpus.first().map(|g| g.name.clone()))
        .or_else(|| m.host.gpus.iter().find_map(|g| g.gfx_target.clone()))
        .unwrap_or_else(|| "no GPU".to_string());
    let title = title.map(str::to_string).unwrap_or_else(|| {
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
         # Format: docs/references.md.\n",
        m.run_id,
        m.created_at,
        m.integrity.sha256,
        output.display()
    );
    write(output, &header, &r)
}

/// `reference from-llama-bench`: llama-bench's result files as a reference.
fn from_llama_bench(
    files: &[PathBuf],
    crate::cli::RefOut { output, name }: &crate::cli::RefOut,
    title: Option<&str>,
    forced: Option<crate::backend::Backend>,
) -> anyhow::Result<()> {
    let mut texts = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(f)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", f.display()))?;
        texts.push((f.display().to_string(), text));
    }
    let name = name.clone().unwrap_or_else(|| stem(output));
    let title = title
        .map(str::to_string)
        .unwrap_or_else(|| format!("llama-bench results ({})", texts[0].0));
    let r = crate::reference::from_llama_bench::from_files(&texts, &name, &title, forced)?;
    let header = format!(
        "# Made by `rigbench reference from-llama-bench` from {}.\n\
         # Compare a run with llama-bench tests with it: rigbench compare RUN --reference {}\n\
         # Format: docs/references.md.\n",
        texts
            .iter()
            .map(|(f, _)| f.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        output.display()
    );
    write(output, &header, &r)
}

/// `reference list --json`.
fn list_json() -> anyhow::Result<()> {
    let mut all = Vec::new();
    for (name, _) in crate::reference::BUILTIN {
        let r = crate::reference::load(name)?;
        all.push(serde_json::json!({
            "name": name,
            "title": r.title,
            "plan": r.plan,
            "cells": r.cells.len(),
            "failure_configurations": r.failures.len(),
            "llama_bench_tests": r.llama_bench.len(),
        }));
    }
    println!("{}", serde_json::to_string_pretty(&all)?);
    Ok(())
}

/// `reference list`.
fn list() -> anyhow::Result<()> {
    for (name, _) in crate::reference::BUILTIN {
        let r = crate::reference::load(name)?;
        println!(
            "{name}: {} ({} cells, {} failure configurations)",
            r.title,
            r.cells.len(),
            r.failures.len()
        );
    }
    Ok(())
}

/// `reference show NAME`: its setup, cells, llama-bench tests and failures.
fn show(name: &str) -> anyhow::Result<()> {
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
    if !r.llama_bench.is_empty() {
        println!("\nllama-bench tests:");
        for t in &r.llama_bench {
            println!(
                "  {} {} {}: {} ± {} t/s (n={})",
                t.backend,
                t.model_type,
                t.test(),
                t.ts[0],
                t.ts[1],
                t.repetitions
            );
        }
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
    Ok(())
}
