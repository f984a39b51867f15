//! Progress display on the terminal: byte bars for downloads, one-line status for
//! builds and runs. indicatif draws only when stderr is a terminal, so logs and CI
//! output stay clean; `note` prints plain lines either way.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// A byte-count bar; `total` may be unknown.
pub fn bytes(total: Option<u64>, what: &str) -> ProgressBar {
    let bar = match total {
        Some(t) => ProgressBar::new(t),
        None => ProgressBar::new_spinner(),
    };
    let template = if total.is_some() {
        "{msg} {bar:30} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}"
    } else {
        "{spinner} {msg} {bytes} {bytes_per_sec}"
    };
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style);
    }
    bar.set_message(what.to_string());
    bar
}

/// A one-line status that is rewritten in place (the last line of a build, say).
pub fn line(what: &str) -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    if let Ok(style) = ProgressStyle::with_template("{spinner} [{elapsed}] {prefix} {wide_msg}") {
        bar.set_style(style);
    }
    bar.set_prefix(what.to_string());
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// A line for the person watching, on stderr.
pub fn note(msg: impl AsRef<str>) {
    eprintln!("{}", msg.as_ref());
}
