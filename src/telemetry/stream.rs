//! Telemetry read on another host and streamed here. There, `rigbench
//! telemetry-stream --root /host` (in a long-lived container,
//! `session::remote_telemetry`) writes one `Line::Header` (what it can read)
//! and then a `Line::Sample` per interval, stamped on its own clock, one JSON
//! object a line. Here, `Offset` maps those stamps onto this machine's clock:
//! the smallest seen (arrival − stamp) is the clocks' difference plus the
//! quickest delivery, so a sample is placed where it was taken, not where the
//! engine's log happened to hand it over (Podman polls its log files).

use std::io::Write;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{PowerSource, Probe, Sample};

/// What the probe there can read, said once before the samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    pub has_gpus: bool,
    pub has_nvml: bool,
    pub has_edge_sensor: bool,
    pub power_sources: Vec<PowerSource>,
}

impl Header {
    pub fn of(probe: &Probe) -> Header {
        Header {
            has_gpus: probe.has_gpus(),
            has_nvml: probe.has_nvml(),
            has_edge_sensor: probe.has_edge_sensor(),
            power_sources: probe.power_sources(),
        }
    }
}

/// One line of the stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "line")]
pub enum Line {
    Header(Header),
    Sample(Sample),
}

/// Writes the header, then a sample every `interval` (its `at_ms` since the
/// first), until writing fails (the reader is gone) or `samples` have been
/// written (`None`: no end).
pub fn emit(
    probe: &Probe,
    interval: Duration,
    samples: Option<u64>,
    out: &mut impl Write,
) -> std::io::Result<()> {
    let mut line = |l: &Line| -> std::io::Result<()> {
        let text = serde_json::to_string(l).map_err(std::io::Error::other)?;
        writeln!(out, "{text}")?;
        out.flush()
    };
    line(&Line::Header(Header::of(probe)))?;
    let t0 = Instant::now();
    let mut n = 0u64;
    loop {
        if samples.is_some_and(|max| n >= max) {
            return Ok(());
        }
        line(&Line::Sample(
            probe.read(t0.elapsed().as_secs_f64() * 1000.0),
        ))?;
        n += 1;
        // The next tick on the first sample's grid: a slow read delays one
        // sample, not every one after it.
        let next = interval.mul_f64((n) as f64);
        if let Some(wait) = next.checked_sub(t0.elapsed()) {
            std::thread::sleep(wait);
        }
    }
}

/// Reads one line of the stream.
pub fn parse(line: &[u8]) -> Result<Line, String> {
    serde_json::from_slice(line).map_err(|e| {
        format!(
            "{e}: {:?}",
            String::from_utf8_lossy(line)
                .chars()
                .take(200)
                .collect::<String>()
        )
    })
}

/// The offset from the stream's clock to this machine's, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Offset {
    best: Option<f64>,
}

impl Offset {
    /// A sample stamped `there_ms` arrived at `here_ms`.
    pub fn observe(&mut self, there_ms: f64, here_ms: f64) {
        let d = here_ms - there_ms;
        self.best = Some(self.best.map_or(d, |b| b.min(d)));
    }

    /// `there_ms` on this machine's clock (`None` before any sample).
    pub fn here(&self, there_ms: f64) -> Option<f64> {
        Some(there_ms + self.best?)
    }
}

/// Splits complete lines off the front of `buf` (the chunks a log stream
/// hands over need not end at a line's end), leaving the rest there.
pub fn take_lines(buf: &mut Vec<u8>) -> Vec<Vec<u8>> {
    let mut lines = Vec::new();
    while let Some(i) = buf.iter().position(|&b| b == b'\n') {
        let rest = buf.split_off(i + 1);
        let mut line = std::mem::replace(buf, rest);
        line.pop();
        if !line.iter().all(u8::is_ascii_whitespace) {
            lines.push(line);
        }
    }
    lines
}
