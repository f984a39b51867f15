//! rigbench's entry point, a table of contents: parse the command line, run the
//! command, print an error and choose the exit code. Everything else is in the
//! library (`src/lib.rs` lists its modules).

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = rigbench::cli::Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("rigbench: error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(rigbench::commands::dispatch(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("rigbench: error: {e:#}");
            rigbench::exit::Exit::Error.into()
        }
    }
}
