//! `rigbench report DIR`: regenerate the reports from a verified manifest.

use std::path::Path;
use std::process::ExitCode;

use crate::manifest::store::RunDir;

pub fn report(dir: &Path) -> anyhow::Result<ExitCode> {
    let run = RunDir::open(dir);
    let m = run.load()?;
    let path = crate::report::write(&run, &m)?;
    println!("{}", path.display());
    Ok(ExitCode::SUCCESS)
}
