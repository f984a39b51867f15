//! `rigbench bundle`, `verify` and `import`: the command-line side of `bundle`.

use std::path::Path;
use std::process::ExitCode;

pub fn bundle(dir: &Path, out: &Path) -> anyhow::Result<ExitCode> {
    let top = crate::bundle::write(dir, out)?;
    let bytes = std::fs::read(out)?;
    println!(
        "{}: {} bytes, sha256 {} ({top}/)",
        out.display(),
        bytes.len(),
        crate::hash::sha256_hex(&bytes)
    );
    Ok(ExitCode::SUCCESS)
}

pub fn verify(file: &Path) -> anyhow::Result<ExitCode> {
    if file.is_dir() {
        // A run directory: its manifest's integrity.
        let run = crate::manifest::store::RunDir::open(file);
        let m = run.load()?;
        println!(
            "{}: ok: manifest integrity {} ({}, {} runs)",
            run.manifest_path().display(),
            m.integrity.sha256,
            m.status,
            m.cells.iter().map(|c| c.runs.len()).sum::<usize>()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let b = crate::bundle::read::open(file)?;
    println!(
        "{}: ok: {} files match SHA256SUMS; manifest integrity {}",
        file.display(),
        b.files.len() - 1,
        b.integrity
    );
    Ok(ExitCode::SUCCESS)
}

pub fn import(file: &Path, into: Option<&Path>) -> anyhow::Result<ExitCode> {
    let (dir, b) = crate::bundle::read::import(file, into)?;
    println!(
        "{}: {} files from {} (manifest integrity {})",
        dir.display(),
        b.files.len(),
        file.display(),
        b.integrity
    );
    Ok(ExitCode::SUCCESS)
}
