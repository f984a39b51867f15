//! Progress for the person watching, on stderr: byte bars for downloads, a
//! status line for builds and long requests, the run's overall progress
//! (`overall`: cells and measured runs done of those planned, time left), and
//! plain lines. The lines go through the `log` facade (`log::info!` anywhere in
//! rigbench); `init` installs this module's logger, which prints them above the
//! overall bar while one is shown. On a terminal indicatif draws the bars in
//! place; on anything else (a log file, CI) each step is one line, and a build
//! or a request that goes on prints a line every `HEARTBEAT` (30 s) so a log
//! never goes quiet for minutes. `--quiet` (`init(true)`) silences all of it;
//! results and errors are printed elsewhere.

pub mod overall;

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How often a step that goes on says so when stderr is not a terminal.
pub const HEARTBEAT: Duration = Duration::from_secs(30);

/// `HEARTBEAT`, or `RIGBENCH_PROGRESS_INTERVAL_S` seconds when set (for a
/// quieter or a busier log; the tests use a short one).
fn heartbeat_interval() -> Duration {
    std::env::var("RIGBENCH_PROGRESS_INTERVAL_S")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .map_or(HEARTBEAT, Duration::from_secs_f64)
}

/// The logger: rigbench's own lines (targets under `rigbench`), printed above
/// the runs' overall bars while any is shown (a terminal only), else on
/// stderr; a line of a run on one of several hosts (`on_host`) starts with
/// `[HOST]`. Other crates' records are not shown.
struct Lines {
    overall: Mutex<Option<Bars>>,
}

/// The overall bars shown: one per host a run measures (the key `""` for a
/// run on one host), drawn together.
struct Bars {
    multi: MultiProgress,
    each: std::collections::BTreeMap<String, ProgressBar>,
}

static LINES: Lines = Lines {
    overall: Mutex::new(None),
};

tokio::task_local! {
    /// The host the run being polled measures, among several (`run --on`).
    static HOST: String;
}

/// Runs `f` as the run on `host` among several: its lines say so and it has
/// its own overall bar.
pub async fn on_host<F: std::future::Future>(host: String, f: F) -> F::Output {
    HOST.scope(host, f).await
}

/// The host of the run being polled; `""` where only one runs.
fn host() -> String {
    HOST.try_with(String::clone).unwrap_or_default()
}

/// `text` as a line of the run being polled: `[HOST] text` among several.
fn tagged(text: impl std::fmt::Display) -> String {
    match host().as_str() {
        "" => text.to_string(),
        h => format!("[{h}] {text}"),
    }
}

/// The view the overall bars are drawn in, while one is shown.
fn multi() -> Option<MultiProgress> {
    LINES.overall.lock().ok()?.as_ref().map(|b| b.multi.clone())
}

/// This host's overall bar, if one is shown.
fn my_bar() -> Option<ProgressBar> {
    let key = host();
    let g = LINES.overall.lock().ok()?;
    g.as_ref()?.each.get(&key).cloned()
}

impl log::Log for Lines {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::max_level() && metadata.target().starts_with("rigbench")
    }

    fn log(&self, record: &log::Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let text = tagged(record.args());
        match multi() {
            Some(m) => {
                let _ = m.println(text);
            }
            None => eprintln!("{text}"),
        }
    }

    fn flush(&self) {}
}

/// Installs the logger (once; a second call only sets the level): the lines
/// and bars show unless `quiet` (`--quiet`).
pub fn init(quiet: bool) {
    let _ = log::set_logger(&LINES);
    log::set_max_level(if quiet {
        log::LevelFilter::Off
    } else {
        log::LevelFilter::Info
    });
}

fn quiet() -> bool {
    !log::log_enabled!(target: "rigbench", log::Level::Info)
}

fn tty() -> bool {
    std::io::stderr().is_terminal()
}

fn hidden_if_quiet(bar: ProgressBar) -> ProgressBar {
    if quiet() {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar
}

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
    in_view(hidden_if_quiet(bar))
}

/// `bar` drawn with the runs' overall bars where they are shown (`run
/// --on`: another host's download or build does not garble them).
fn in_view(bar: ProgressBar) -> ProgressBar {
    match multi() {
        Some(m) if !bar.is_hidden() => m.add(bar),
        _ => bar,
    }
}

/// A one-line status rewritten in place on a terminal (the last line of a
/// build, say); elsewhere a line every `HEARTBEAT` with the time so far and the
/// latest message, until the bar is finished.
pub fn line(what: &str) -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    if let Ok(style) = ProgressStyle::with_template("{spinner} [{elapsed}] {prefix} {wide_msg}") {
        bar.set_style(style);
    }
    bar.set_prefix(what.to_string());
    bar.enable_steady_tick(Duration::from_millis(200));
    let bar = in_view(hidden_if_quiet(bar));
    if !tty() && !quiet() {
        heartbeat(bar.clone(), what.to_string());
    }
    bar
}

/// Prints "WHAT: still going after N s (MESSAGE)" every `HEARTBEAT` until
/// `bar` is finished or dropped everywhere else.
fn heartbeat(bar: ProgressBar, what: String) {
    let weak = bar.downgrade();
    drop(bar);
    let started = Instant::now();
    let every = heartbeat_interval();
    let what = tagged(what);
    let step = (every / 4).min(Duration::from_millis(250));
    std::thread::spawn(move || {
        loop {
            let mut slept = Duration::ZERO;
            while slept < every {
                std::thread::sleep(step);
                slept += step;
                match weak.upgrade() {
                    Some(b) if !b.is_finished() => {}
                    _ => return,
                }
            }
            let Some(b) = weak.upgrade() else { return };
            let msg = b.message();
            let tail = if msg.is_empty() {
                String::new()
            } else {
                format!(" ({})", msg.chars().take(160).collect::<String>())
            };
            eprintln!(
                "{what}: still going after {}{tail}",
                crate::plan::estimate::human(started.elapsed().as_secs_f64())
            );
        }
    });
}

/// A step that may take long (a request): on a terminal the overall bar shows
/// it; elsewhere a line every `HEARTBEAT` while it lasts. Ends when dropped.
pub struct Waiting(Option<ProgressBar>);

pub fn waiting(what: &str) -> Waiting {
    if quiet() {
        return Waiting(None);
    }
    if let Some(b) = my_bar() {
        b.set_message(what.to_string());
        return Waiting(None);
    }
    if tty() {
        return Waiting(None);
    }
    let bar = ProgressBar::hidden();
    heartbeat(bar.clone(), what.to_string());
    Waiting(Some(bar))
}

impl Drop for Waiting {
    fn drop(&mut self) {
        if let Some(b) = &self.0 {
            b.finish();
        }
    }
}

/// `o` as a line ("cells 3/16, runs 10/64, about 12 min left").
pub fn overall_text(o: &overall::Overall) -> String {
    o.text()
}

/// Starts the overall progress: its time base, and on a terminal a bar at the
/// bottom (elsewhere each run's line carries it) until `overall_done`.
pub fn overall_start(o: &overall::Overall) {
    if quiet() || !tty() {
        return;
    }
    let bar = ProgressBar::new(u64::from(o.runs_planned));
    if let Ok(style) = ProgressStyle::with_template("[{elapsed}] {bar:30} {prefix} · {wide_msg}") {
        bar.set_style(style);
    }
    if let Ok(mut g) = LINES.overall.lock() {
        let bars = g.get_or_insert_with(|| Bars {
            multi: MultiProgress::new(),
            each: std::collections::BTreeMap::new(),
        });
        let bar = bars.multi.add(bar);
        bar.enable_steady_tick(Duration::from_millis(500));
        if let Some(old) = bars.each.insert(host(), bar) {
            old.finish_and_clear();
        }
    }
    overall_update(o);
}

/// Updates this run's overall bar to `o`.
pub fn overall_update(o: &overall::Overall) {
    if let Some(b) = my_bar() {
        b.set_length(u64::from(o.runs_planned));
        b.set_position(u64::from(o.runs_done));
        b.set_prefix(match host().as_str() {
            "" => overall_text(o),
            h => format!("{h}: {}", overall_text(o)),
        });
    }
}

/// Ends this run's overall bar (the others go on).
pub fn overall_done() {
    let Ok(mut g) = LINES.overall.lock() else {
        return;
    };
    if let Some(bars) = g.as_mut() {
        if let Some(b) = bars.each.remove(&host()) {
            b.finish_and_clear();
            bars.multi.remove(&b);
        }
        if bars.each.is_empty() {
            *g = None;
        }
    }
}
