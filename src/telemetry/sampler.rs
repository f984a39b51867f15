//! Taking telemetry samples in the background at a fixed interval (default 0.5 s,
//! as the study polled), and the cool-down wait that reads them.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{PowerSource, Probe, Sample};

/// Samples a `Probe` every `interval` until dropped.
pub struct Sampler {
    probe: Arc<Probe>,
    samples: Arc<Mutex<Vec<Sample>>>,
    t0: Instant,
    interval: Duration,
    task: tokio::task::JoinHandle<()>,
}

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
            probe,
            samples,
            t0,
            interval,
            task,
        }
    }

    /// Milliseconds since the sampler started (the samples' clock).
    pub fn now_ms(&self) -> f64 {
        self.t0.elapsed().as_secs_f64() * 1000.0
    }

    /// A sample taken now (and kept with the others).
    pub fn sample_now(&self) -> Sample {
        let s = self.probe.read(self.now_ms());
        if let Ok(mut v) = self.samples.lock() {
            v.push(s.clone());
        }
        s
    }

    /// The samples taken between `from_ms` and `to_ms`, in order.
    pub fn window(&self, from_ms: f64, to_ms: f64) -> Vec<Sample> {
        let mut w: Vec<Sample> = self
            .samples
            .lock()
            .map(|v| {
                v.iter()
                    .filter(|s| s.at_ms >= from_ms && s.at_ms <= to_ms)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        w.sort_by(|a, b| a.at_ms.total_cmp(&b.at_ms));
        w
    }

    pub fn power_sources(&self) -> Vec<PowerSource> {
        self.probe.power_sources()
    }

    pub fn probe(&self) -> &Probe {
        &self.probe
    }

    /// Waits until every card's edge temperature is below `max_edge_c`, or
    /// `timeout` passes; without an edge sensor it does not wait and says so.
    pub async fn cool_down(&self, max_edge_c: f64, timeout: Duration) -> CoolDown {
        if !self.probe.has_edge_sensor() {
            return CoolDown {
                edge_c_at_start: None,
                waited_s: 0.0,
                reached: false,
                note: Some("no GPU edge temperature sensor: no cool-down".to_string()),
            };
        }
        let t = Instant::now();
        loop {
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
