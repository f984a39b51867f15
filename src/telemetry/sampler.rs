//! Taking telemetry samples in the background at a fixed interval (default 0.5 s,
//! as the study polled), and the cool-down wait that reads them. The samples are
//! read here from a `Probe`, or on another host and streamed here
//! (`super::stream`): the same samples on this machine's clock either way.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::stream::{Header, Line, Offset};
use super::{PowerSource, Probe, Sample};

/// Where the samples come from.
enum Source {
    /// Read here.
    Local(Arc<Probe>),
    /// Read on another host.
    Streamed(Arc<Streamed>),
}

/// The stream from another host, as read so far.
struct Streamed {
    header: Header,
    /// Its clock onto this one.
    offset: Mutex<Offset>,
    /// Why it ended, once it has.
    ended: Mutex<Option<String>>,
    /// Told of each sample that came, and of the end.
    came: tokio::sync::Notify,
}

/// Samples a `Probe` every `interval` until dropped, or keeps another host's
/// stream of them.
pub struct Sampler {
    source: Source,
    /// In the source's clock (`Streamed`: the stream's own stamps).
    samples: Arc<Mutex<Vec<Sample>>>,
    t0: Instant,
    interval: Duration,
    task: tokio::task::JoinHandle<()>,
}

/// Chunks of a stream's output, as the engine hands them over.
pub type Chunks = tokio::sync::mpsc::Receiver<Result<Vec<u8>, String>>;

impl Sampler {
    /// Starts sampling on the current tokio runtime.
    pub fn start(probe: Probe, interval: Duration) -> Sampler {
        let probe = Arc::new(probe);
        let samples = Arc::new(Mutex::new(Vec::new()));
        let t0 = Instant::now();
        let (p, s) = (probe.clone(), samples.clone());
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let sample = p.read(t0.elapsed().as_secs_f64() * 1000.0);
                if let Ok(mut v) = s.lock() {
                    v.push(sample);
                }
            }
        });
        Sampler {
            source: Source::Local(probe),
            samples,
            t0,
            interval,
            task,
        }
    }

    /// Keeps the samples another host streams (`super::stream`'s lines, in
    /// `chunks`), once its header and first sample have come, within `wait`.
    pub async fn streamed(
        mut chunks: Chunks,
        interval: Duration,
        wait: Duration,
    ) -> Result<Sampler, String> {
        let t0 = Instant::now();
        let here = move || t0.elapsed().as_secs_f64() * 1000.0;
        let mut buf = Vec::new();
        let mut header = None;
        let mut first = Vec::new();
        let deadline = tokio::time::Instant::now() + wait;
        while first.is_empty() {
            let chunk = match tokio::time::timeout_at(deadline, chunks.recv()).await {
                Err(_) => return Err(format!("no sample within {:.1} s", wait.as_secs_f64())),
                Ok(None) => return Err("the stream ended before its first sample".to_string()),
                Ok(Some(c)) => c?,
            };
            buf.extend_from_slice(&chunk);
            for line in super::stream::take_lines(&mut buf) {
                match (super::stream::parse(&line)?, &header) {
                    (Line::Header(h), None) => header = Some(h),
                    (Line::Sample(s), Some(_)) => first.push((s, here())),
                    (l, _) => return Err(format!("unexpected first lines: {l:?}")),
                }
            }
        }
        let header = header.ok_or("no header")?;
        let streamed = Arc::new(Streamed {
            header,
            offset: Mutex::new(Offset::default()),
            ended: Mutex::new(None),
            came: tokio::sync::Notify::new(),
        });
        let samples = Arc::new(Mutex::new(Vec::new()));
        let keep = {
            let (st, s) = (streamed.clone(), samples.clone());
            move |sample: Sample, at: f64| {
                if let Ok(mut o) = st.offset.lock() {
                    o.observe(sample.at_ms, at);
                }
                if let Ok(mut v) = s.lock() {
                    v.push(sample);
                }
                st.came.notify_waiters();
            }
        };
        for (s, at) in first {
            keep(s, at);
        }
        let st = streamed.clone();
        let task = tokio::spawn(async move {
            let why = loop {
                let chunk = match chunks.recv().await {
                    None => break "the stream ended".to_string(),
                    Some(Err(e)) => break e,
                    Some(Ok(c)) => c,
                };
                let at = here();
                buf.extend_from_slice(&chunk);
                for line in super::stream::take_lines(&mut buf) {
                    match super::stream::parse(&line) {
                        Ok(Line::Sample(s)) => keep(s, at),
                        Ok(Line::Header(_)) => {}
                        Err(e) => log::warn!("telemetry stream: {e}"),
                    }
                }
            };
            if let Ok(mut e) = st.ended.lock() {
                *e = Some(why);
            }
            st.came.notify_waiters();
        });
        Ok(Sampler {
            source: Source::Streamed(streamed),
            samples,
            t0,
            interval,
            task,
        })
    }

    /// A sampler with nothing to read, saying `why` (`ended`): for another
    /// host whose telemetry container could not start.
    pub fn unavailable(why: String) -> Sampler {
        let header = Header {
            has_gpus: false,
            has_nvml: false,
            has_edge_sensor: false,
            power_sources: Vec::new(),
        };
        Sampler {
            source: Source::Streamed(Arc::new(Streamed {
                header,
                offset: Mutex::new(Offset::default()),
                ended: Mutex::new(Some(why)),
                came: tokio::sync::Notify::new(),
            })),
            samples: Arc::new(Mutex::new(Vec::new())),
            t0: Instant::now(),
            interval: Duration::from_secs(1),
            task: tokio::spawn(async {}),
        }
    }

    /// Milliseconds since the sampler started (the samples' clock).
    pub fn now_ms(&self) -> f64 {
        self.t0.elapsed().as_secs_f64() * 1000.0
    }

    /// `s` on this machine's clock; `None` for a stream's sample before its
    /// clock is known (never, once a sample came).
    fn here(&self, mut s: Sample) -> Option<Sample> {
        if let Source::Streamed(st) = &self.source {
            s.at_ms = st.offset.lock().ok()?.here(s.at_ms)?;
        }
        Some(s)
    }

    /// A sample taken now (and kept with the others); from a stream, the
    /// newest that came (taken at most an interval and the delivery ago).
    pub fn sample_now(&self) -> Sample {
        match &self.source {
            Source::Local(probe) => {
                let s = probe.read(self.now_ms());
                if let Ok(mut v) = self.samples.lock() {
                    v.push(s.clone());
                }
                s
            }
            Source::Streamed(_) => {
                let newest = (self.samples.lock().ok())
                    .and_then(|v| v.iter().max_by(|a, b| a.at_ms.total_cmp(&b.at_ms)).cloned());
                newest.and_then(|s| self.here(s)).unwrap_or(Sample {
                    at_ms: self.now_ms(),
                    cards: Vec::new(),
                    mem_available_bytes: None,
                })
            }
        }
    }

    /// Makes the samples up to now complete: here, one is taken now; from a
    /// stream, waits for one taken after now (at most two intervals and a
    /// few seconds' delivery; not once the stream ended), so that a
    /// request shorter than the interval still has its sample.
    pub async fn settle(&self) {
        let st = match &self.source {
            Source::Local(_) => {
                self.sample_now();
                return;
            }
            Source::Streamed(st) => st,
        };
        let now = self.now_ms();
        let deadline = tokio::time::Instant::now() + self.interval * 2 + Duration::from_secs(3);
        loop {
            let came = st.came.notified();
            let newest = self.sample_now().at_ms;
            if newest >= now || self.ended().is_some() {
                return;
            }
            if tokio::time::timeout_at(deadline, came).await.is_err() {
                return;
            }
        }
    }

    /// The samples taken between `from_ms` and `to_ms`, in order.
    pub fn window(&self, from_ms: f64, to_ms: f64) -> Vec<Sample> {
        // This machine's clock minus the samples' own.
        let shift = match &self.source {
            Source::Local(_) => Some(0.0),
            Source::Streamed(st) => st.offset.lock().ok().and_then(|o| o.here(0.0)),
        };
        let Some(shift) = shift else {
            return Vec::new();
        };
        let mut w: Vec<Sample> = self
            .samples
            .lock()
            .map(|v| {
                v.iter()
                    .filter(|s| (from_ms..=to_ms).contains(&(s.at_ms + shift)))
                    .map(|s| Sample {
                        at_ms: s.at_ms + shift,
                        ..s.clone()
                    })
                    .collect()
            })
            .unwrap_or_default();
        w.sort_by(|a, b| a.at_ms.total_cmp(&b.at_ms));
        w
    }

    pub fn power_sources(&self) -> Vec<PowerSource> {
        match &self.source {
            Source::Local(p) => p.power_sources(),
            Source::Streamed(st) => st.header.power_sources.clone(),
        }
    }

    /// Whether there is any GPU to watch.
    pub fn has_gpus(&self) -> bool {
        match &self.source {
            Source::Local(p) => p.has_gpus(),
            Source::Streamed(st) => st.header.has_gpus,
        }
    }

    fn has_edge_sensor(&self) -> bool {
        match &self.source {
            Source::Local(p) => p.has_edge_sensor(),
            Source::Streamed(st) => st.header.has_edge_sensor,
        }
    }

    /// Why another host's stream ended, once it has (`None` while it goes on,
    /// and for samples read here).
    pub fn ended(&self) -> Option<String> {
        match &self.source {
            Source::Local(_) => None,
            Source::Streamed(st) => st.ended.lock().ok()?.clone(),
        }
    }

    /// Waits until every card's edge temperature is below `max_edge_c`, or
    /// `timeout` passes; without an edge sensor (or with a stream that
    /// ended) it does not wait and says so.
    pub async fn cool_down(&self, max_edge_c: f64, timeout: Duration) -> CoolDown {
        let no_wait = |note: String| CoolDown {
            edge_c_at_start: None,
            waited_s: 0.0,
            reached: false,
            note: Some(note),
        };
        if !self.has_edge_sensor() {
            return no_wait("no GPU edge temperature sensor: no cool-down".to_string());
        }
        let t = Instant::now();
        loop {
            if let Some(why) = self.ended() {
                return no_wait(format!("the telemetry stream ended ({why}): no cool-down"));
            }
            let edge = self.sample_now().edge_c();
            let cool = edge.is_some_and(|e| e < max_edge_c);
            if cool || t.elapsed() >= timeout {
                return CoolDown {
                    edge_c_at_start: edge,
                    waited_s: t.elapsed().as_secs_f64(),
                    reached: cool,
                    note: (!cool).then(|| {
                        format!(
                            "still {:.0} °C after {} s (threshold {max_edge_c:.0} °C)",
                            edge.unwrap_or(f64::NAN),
                            timeout.as_secs()
                        )
                    }),
                };
            }
            tokio::time::sleep(self.interval).await;
        }
    }
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The cool-down before a measured run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CoolDown {
    /// The hottest card's edge temperature when the run started, °C.
    pub edge_c_at_start: Option<f64>,
    /// Seconds waited for it to fall below the threshold.
    pub waited_s: f64,
    /// Whether it was below the threshold when the run started.
    pub reached: bool,
    pub note: Option<String>,
}
