//! `rigbench compare A B`: load two verified manifests and print the comparison
//! (Markdown, or JSON with --json).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::cli::CompareArgs;
use crate::manifest::Manifest;
use crate::manifest::store::RunDir;

/// A run directory, or a manifest.json inside one.
fn run_dir(p: &Path) -> PathBuf {
    if p.file_name().is_some_and(|n| n == "manifest.json") {
        p.parent()
            .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
    } else {
        p.to_path_buf()
    }
}

fn load(p: &Path) -> anyhow::Result<(String, Manifest)> {
    let dir = run_dir(p);
    let m = RunDir::open(&dir).load()?;
    let name = format!(
        "{} (run {}, {}, plan {}, {})",
        dir.display(),
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
    let (bn, b) = load(&args.b)?;
    let c = crate::comparison::compare(&an, &a, &bn, &b, args.band / 100.0);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&c)?);
    } else {
        print!("{}", crate::comparison::render::markdown(&c));
    }
    Ok(ExitCode::SUCCESS)
}
