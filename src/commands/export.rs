//! `rigbench export`: a recorded run in llama-bench's formats (see `export`),
//! to standard output or, written whole or not at all, to a file.

use std::process::ExitCode;

use crate::cli::ExportArgs;
use crate::export::Options;

pub fn export(args: &ExportArgs) -> anyhow::Result<ExitCode> {
    let m = super::load_run(&args.run)?;
    let opts = Options {
        build_commit: args.build_commit.clone(),
    };
    let text = crate::export::export(&m, args.format, &opts);
    match &args.output {
        Some(path) => {
            crate::hash::write_atomic(path, text.as_bytes())
                .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", path.display()))?;
            let rows = crate::export::rows(&m, &opts).len();
            eprintln!("{}: {rows} row(s)", path.display());
        }
        None => print!("{text}"),
    }
    Ok(ExitCode::SUCCESS)
}
