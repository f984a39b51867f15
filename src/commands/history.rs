//! `rigbench list [DIR]` and `rigbench show RUN`: find the run directories,
//! read and check their manifests, print the rows or the summary
//! (`history` makes them) as text or `--json`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::history::{self, Row};
use crate::manifest::Manifest;

/// A run directory's manifest and its integrity check; `Err` when it cannot be
/// read as a manifest at all.
fn read(dir: &Path) -> Result<(Manifest, Result<(), String>), String> {
    let path = dir.join("manifest.json");
    let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let value: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| format!("{}: not valid JSON: {e}", path.display()))?;
    let integrity = crate::manifest::integrity::verify(&value);
    let m = serde_json::from_value(value)
        .map_err(|e| format!("{}: not a rigbench manifest: {e}", path.display()))?;
    Ok((m, integrity))
}

/// The run directories in `dir`: itself if it is one, and its subdirectories
/// that hold a manifest.json.
fn run_dirs(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    if dir.join("manifest.json").is_file() {
        out.push(dir.to_path_buf());
    }
    let entries = std::fs::read_dir(dir).map_err(|e| {
        anyhow::anyhow!(
            "{}: {e} (give the directory your runs are in, such as rigbench-runs)",
            dir.display()
        )
    })?;
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() && p.join("manifest.json").is_file() {
            out.push(p);
        }
    }
    Ok(out)
}

pub fn list(dir: Option<&Path>, json: bool) -> anyhow::Result<ExitCode> {
    let dir = dir.unwrap_or(Path::new("rigbench-runs"));
    let mut rows: Vec<Row> = run_dirs(dir)?
        .iter()
        .map(|d| {
            let name = d.display().to_string();
            match read(d) {
                Ok((m, integrity)) => history::row(&name, &m, integrity),
                Err(why) => history::unreadable(&name, &why),
            }
        })
        .collect();
    history::sort(&mut rows);
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else if rows.is_empty() {
        println!("no runs in {}", dir.display());
    } else {
        print!("{}", history::table(&rows));
    }
    Ok(ExitCode::SUCCESS)
}

pub fn show(run: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let (m, integrity) = if run.is_dir() {
        read(run).map_err(anyhow::Error::msg)?
    } else {
        // A bundle or a manifest.json: read (and checked) as `compare` does.
        (super::load_run(run)?, Ok(()))
    };
    let name = run.display().to_string();
    if json {
        #[derive(serde::Serialize)]
        struct Shown<'a> {
            #[serde(flatten)]
            row: Row,
            manifest: &'a Manifest,
        }
        let row = history::row(&name, &m, integrity);
        println!(
            "{}",
            serde_json::to_string_pretty(&Shown { row, manifest: &m })?
        );
    } else {
        print!("{}", history::summary(&name, &m, &integrity));
    }
    Ok(ExitCode::SUCCESS)
}
