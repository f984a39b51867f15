//! rigbench's entry point, a table of contents: parse the command line, run the
//! command, print an error and choose the exit code. Everything else is in the
//! library (`src/lib.rs` lists its modules).

use std::process::ExitCode;

fn main() -> ExitCode {
    quiet_on_closed_stdout();
    let cli = rigbench::cli::Cli::checked();
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

/// `rigbench list | head`: when the reader goes away, stop as a program killed
/// by SIGPIPE would (status 141), without a panic message. Rust ignores
/// SIGPIPE, so a write to a closed pipe panics in `print!` instead.
fn quiet_on_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let text = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .unwrap_or_default();
        if text.starts_with("failed printing to stdout") && text.contains("Broken pipe") {
            std::process::exit(141);
        }
        default(info);
    }));
}
