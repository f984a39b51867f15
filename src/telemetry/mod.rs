//! Host-side GPU and memory telemetry: what a run cost in memory, heat and power.
//! `Probe` finds each amdgpu card's sysfs files once (under an injectable root) and
//! reads a `Sample` from them: VRAM and GTT used/total, `gpu_busy_percent`, edge
//! and junction temperature, power (on an APU the PPT reading is the whole SoC's,
//! and is labelled so), and `MemAvailable`. NVIDIA GPUs are read through NVML
//! (`crate::nvml`) into the same samples: memory used/total as VRAM, utilisation,
//! the GPU temperature in place of the edge sensor, board power, SM and memory
//! clocks, and the compute processes' own memory. `summarize` turns the samples of one run
//! into its record; `sampler` takes samples in the background, here or, for
//! another host's engine, from the stream its telemetry container writes
//! (`stream`).
//!
//! Peak memory is max(VRAM used + GTT used) over the run minus the value before the
//! server started; `MemAvailable`'s drop is recorded beside it because ROCm can keep
//! its allocations out of the DRM counters (the study saw mem_info_vram_used stay at
//! 3.86 GB on ROCm where Vulkan showed 30 GB).

pub mod sampler;
pub mod stream;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::host::gpu::names;

/// PCI device ids of AMD APUs, whose amdgpu power reading covers the whole SoC.
const APU_DEVICE_IDS: &[&str] = &[
    "1586", // Strix Halo (Radeon 8060S/8050S)
    "150e", // Strix Point
    "1114", // Krackan Point
    "15bf", // Phoenix
    "15c8", // Phoenix 2
    "1681", // Rembrandt
    "1638", // Cezanne
    "164e", // Raphael iGPU
    "13c0", // Granite Ridge iGPU
];

/// One card's readings at one moment; absent files read as `None`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CardSample {
    pub card: String,
    pub vram_used_bytes: Option<u64>,
    pub vram_total_bytes: Option<u64>,
    pub gtt_used_bytes: Option<u64>,
    pub gtt_total_bytes: Option<u64>,
    pub busy_percent: Option<f64>,
    pub edge_c: Option<f64>,
    pub junction_c: Option<f64>,
    pub power_w: Option<f64>,
    /// NVIDIA: SM and memory clocks, MHz (NVML).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sm_clock_mhz: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_clock_mhz: Option<u32>,
    /// NVIDIA: memory of the compute processes on this GPU, bytes (NVML).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processes_memory_bytes: Option<u64>,
}

impl CardSample {
    /// An NVIDIA GPU's NVML reading as a card sample: its memory in the VRAM
    /// fields (a discrete card has no GTT), its temperature in `edge_c` (the
    /// sensor cool-down waits on).
    pub fn from_nvml(r: &crate::nvml::Reading) -> CardSample {
        CardSample {
            card: format!("nvidia{}", r.index),
            vram_used_bytes: r.memory_used_bytes,
            vram_total_bytes: r.memory_total_bytes,
            gtt_used_bytes: None,
            gtt_total_bytes: None,
            busy_percent: r.utilization_percent,
            edge_c: r.temperature_c,
            junction_c: None,
            power_w: r.power_w,
            sm_clock_mhz: r.sm_clock_mhz,
            memory_clock_mhz: r.memory_clock_mhz,
            processes_memory_bytes: r.processes_memory_bytes,
        }
    }
}

/// All cards and the host's available memory at one moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Sample {
    /// Milliseconds since the sampler started.
    pub at_ms: f64,
    pub cards: Vec<CardSample>,
    /// /proc/meminfo MemAvailable, bytes.
    pub mem_available_bytes: Option<u64>,
}

impl Sample {
    /// VRAM + GTT used, summed over the cards that report VRAM (a card with no
    /// GTT counter, a discrete NVIDIA one, adds its VRAM alone).
    pub fn vram_gtt_used(&self) -> Option<u64> {
        let v: Vec<u64> = self
            .cards
            .iter()
            .filter_map(|c| Some(c.vram_used_bytes? + c.gtt_used_bytes.unwrap_or(0)))
            .collect();
        (!v.is_empty()).then(|| v.iter().sum())
    }

    /// The highest edge temperature of any card.
    pub fn edge_c(&self) -> Option<f64> {
        self.cards.iter().filter_map(|c| c.edge_c).reduce(f64::max)
    }
}

/// Where a card's power reading comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PowerSource {
    /// The sysfs file, relative to the host root.
    pub file: String,
    /// `SoC` on an APU (the PPT reading covers CPU and GPU), `GPU` otherwise.
    pub scope: String,
}

#[derive(Debug, Clone)]
struct CardFiles {
    card: String,
    device: PathBuf,
    edge: Option<PathBuf>,
    junction: Option<PathBuf>,
    power: Option<(PathBuf, PowerSource)>,
}

/// The telemetry sources of a host, found once: amdgpu sysfs files and NVML.
#[derive(Clone)]
pub struct Probe {
    root: PathBuf,
    cards: Vec<CardFiles>,
    nvidia: Option<std::sync::Arc<dyn crate::nvml::Nvidia>>,
}

impl std::fmt::Debug for Probe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Probe")
            .field("root", &self.root)
            .field("cards", &self.cards)
            .field("nvidia", &self.nvidia.is_some())
            .finish()
    }
}

fn read_u64(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

impl Probe {
    /// The amdgpu cards under `root`, and NVML's GPUs when `root` is the real
    /// one and NVML loads.
    pub fn discover(root: &Path) -> Probe {
        Probe::discover_with(root, root == Path::new("/"))
    }

    /// The amdgpu cards under `root`, and NVML's GPUs where `nvml` and it
    /// loads: in the telemetry container on another host, whose /usr is that
    /// host's, the driver's library is where it is there.
    pub fn discover_with(root: &Path, nvml: bool) -> Probe {
        let mut p = Probe::amdgpu(root);
        if nvml {
            if let Some(n) = crate::nvml::Nvml::load() {
                if !crate::nvml::Nvidia::gpus(&n).is_empty() {
                    p.nvidia = Some(std::sync::Arc::new(n));
                }
            }
        }
        p
    }

    /// The same probe reading NVIDIA GPUs from `nvidia` (a fake, in tests).
    pub fn with_nvidia(mut self, nvidia: std::sync::Arc<dyn crate::nvml::Nvidia>) -> Probe {
        self.nvidia = Some(nvidia);
        self
    }

    /// Finds the amdgpu cards and their hwmon files under `root`.
    fn amdgpu(root: &Path) -> Probe {
        let mut cards = Vec::new();
        for g in crate::host::gpu::probe(root) {
            if g.driver.as_deref() != Some("amdgpu") {
                continue;
            }
            let device = root.join("sys/class/drm").join(&g.card).join("device");
            let hwmon_dir = device.join("hwmon");
            let hwmon = names(&hwmon_dir)
                .into_iter()
                .map(|h| hwmon_dir.join(h))
                .next();
            let labelled = |label: &str| {
                let h = hwmon.as_ref()?;
                names(h).into_iter().find_map(|f| {
                    let base = f.strip_suffix("_label")?;
                    let text = std::fs::read_to_string(h.join(&f)).ok()?;
                    (text.trim() == label).then(|| h.join(format!("{base}_input")))
                })
            };
            let apu = g
                .pci_id
                .as_deref()
                .and_then(|id| id.split(':').nth(1))
                .is_some_and(|d| APU_DEVICE_IDS.contains(&d));
            let power = hwmon.as_ref().and_then(|h| {
                ["power1_average", "power1_input"]
                    .iter()
                    .map(|f| h.join(f))
                    .find(|p| p.exists())
                    .map(|p| {
                        let file = p
                            .strip_prefix(root)
                            .map(|r| format!("/{}", r.display()))
                            .unwrap_or_else(|_| p.display().to_string());
                        let scope = if apu { "SoC" } else { "GPU" }.to_string();
                        (p, PowerSource { file, scope })
                    })
            });
            cards.push(CardFiles {
                card: g.card.clone(),
                device,
                edge: labelled("edge"),
                junction: labelled("junction"),
                power,
            });
        }
        Probe {
            root: root.to_path_buf(),
            cards,
            nvidia: None,
        }
    }

    /// Whether there is any GPU to watch.
    pub fn has_gpus(&self) -> bool {
        !self.cards.is_empty() || self.nvidia.is_some()
    }

    /// Whether NVIDIA GPUs are read through NVML.
    pub fn has_nvml(&self) -> bool {
        self.nvidia.is_some()
    }

    /// Whether any card has an edge temperature sensor (cool-down needs one);
    /// NVML's GPU temperature serves as one.
    pub fn has_edge_sensor(&self) -> bool {
        self.cards.iter().any(|c| c.edge.is_some()) || self.nvidia.is_some()
    }

    /// Where each card's power reading comes from.
    pub fn power_sources(&self) -> Vec<PowerSource> {
        let mut v: Vec<PowerSource> = self
            .cards
            .iter()
            .filter_map(|c| c.power.as_ref().map(|(_, s)| s.clone()))
            .collect();
        if let Some(n) = &self.nvidia {
            v.extend(n.gpus().iter().map(|g| PowerSource {
                file: format!("NVML nvmlDeviceGetPowerUsage (GPU {}: {})", g.index, g.name),
                scope: "GPU board".to_string(),
            }));
        }
        v
    }

    /// Reads every file once.
    pub fn read(&self, at_ms: f64) -> Sample {
        let milli = |p: &Option<PathBuf>| {
            p.as_ref()
                .and_then(|p| read_u64(p))
                .map(|v| v as f64 / 1000.0)
        };
        let cards = self
            .cards
            .iter()
            .map(|c| CardSample {
                card: c.card.clone(),
                vram_used_bytes: read_u64(&c.device.join("mem_info_vram_used")),
                vram_total_bytes: read_u64(&c.device.join("mem_info_vram_total")),
                gtt_used_bytes: read_u64(&c.device.join("mem_info_gtt_used")),
                gtt_total_bytes: read_u64(&c.device.join("mem_info_gtt_total")),
                busy_percent: read_u64(&c.device.join("gpu_busy_percent")).map(|v| v as f64),
                edge_c: milli(&c.edge),
                junction_c: milli(&c.junction),
                power_w: c
                    .power
                    .as_ref()
                    .and_then(|(p, _)| read_u64(p))
                    .map(|uw| uw as f64 / 1e6),
                sm_clock_mhz: None,
                memory_clock_mhz: None,
                processes_memory_bytes: None,
            })
            .chain(
                self.nvidia
                    .iter()
                    .flat_map(|n| n.read())
                    .map(|r| CardSample::from_nvml(&r)),
            )
            .collect();
        let mem_available_bytes = std::fs::read_to_string(self.root.join("proc/meminfo"))
            .ok()
            .and_then(|m| {
                m.lines()
                    .find(|l| l.starts_with("MemAvailable:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|kb| kb.parse::<u64>().ok())
                    .map(|kb| kb * 1024)
            });
        Sample {
            at_ms,
            cards,
            mem_available_bytes,
        }
    }
}

/// What the telemetry says about one run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RunTelemetry {
    /// False on a host with no GPU to watch (the run goes on, MemAvailable is still
    /// recorded); `note` says why.
    pub available: bool,
    pub note: Option<String>,
    /// Samples taken during the run.
    pub samples: usize,
    /// VRAM + GTT used before the server started, bytes.
    pub baseline_vram_gtt_bytes: Option<u64>,
    /// Highest VRAM + GTT used during the run, bytes.
    pub peak_vram_gtt_bytes: Option<u64>,
    /// Peak minus baseline: the run's (and its server's) GPU memory, bytes.
    pub peak_delta_bytes: Option<i64>,
    /// MemAvailable before the server started minus its lowest value in the run.
    pub mem_available_drop_bytes: Option<i64>,
    /// The VRAM+GTT rise is far below the MemAvailable drop: allocations the DRM
    /// counters do not show (see the module comment).
    pub accounting_anomaly: bool,
    pub max_edge_c: Option<f64>,
    pub max_junction_c: Option<f64>,
    pub max_power_w: Option<f64>,
    pub power_sources: Vec<PowerSource>,
    pub mean_busy_percent: Option<f64>,
    /// NVIDIA: the highest SM and memory clocks in the run, MHz.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_sm_clock_mhz: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_memory_clock_mhz: Option<u32>,
    /// NVIDIA: the compute processes' own memory at its highest, bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_processes_memory_bytes: Option<u64>,
}

/// A rise below this share of the MemAvailable drop is an accounting anomaly...
const ANOMALY_SHARE: f64 = 0.25;
/// ...when the drop is at least this large (smaller drops are noise: page cache,
/// other processes).
const ANOMALY_MIN_DROP: i64 = 2 << 30;

fn max_of(it: impl Iterator<Item = f64>) -> Option<f64> {
    it.reduce(f64::max)
}

/// Summarises a run's samples against the sample taken before its server started.
pub fn summarize(
    baseline: Option<&Sample>,
    run: &[Sample],
    power_sources: Vec<PowerSource>,
) -> RunTelemetry {
    let min_avail = run.iter().filter_map(|s| s.mem_available_bytes).min();
    let drop = match (baseline.and_then(|b| b.mem_available_bytes), min_avail) {
        (Some(b), Some(m)) => Some(b as i64 - m as i64),
        _ => None,
    };
    let has_cards =
        baseline.is_some_and(|b| !b.cards.is_empty()) || run.iter().any(|s| !s.cards.is_empty());
    if !has_cards {
        return RunTelemetry {
            available: false,
            note: Some(
                "no amdgpu card and no NVIDIA GPU (NVML) on this host: GPU telemetry unavailable"
                    .to_string(),
            ),
            samples: run.len(),
            mem_available_drop_bytes: drop,
            ..RunTelemetry::default()
        };
    }
    let base_mem = baseline.and_then(Sample::vram_gtt_used);
    let peak = run.iter().filter_map(Sample::vram_gtt_used).max();
    let delta = match (peak, base_mem) {
        (Some(p), Some(b)) => Some(p as i64 - b as i64),
        _ => None,
    };
    let accounting_anomaly = match (delta, drop) {
        (Some(d), Some(dr)) => dr >= ANOMALY_MIN_DROP && (d as f64) < ANOMALY_SHARE * dr as f64,
        _ => false,
    };
    let cards = || run.iter().flat_map(|s| s.cards.iter());
    let busy: Vec<f64> = cards().filter_map(|c| c.busy_percent).collect();
    RunTelemetry {
        available: true,
        note: None,
        samples: run.len(),
        baseline_vram_gtt_bytes: base_mem,
        peak_vram_gtt_bytes: peak,
        peak_delta_bytes: delta,
        mem_available_drop_bytes: drop,
        accounting_anomaly,
        max_edge_c: max_of(cards().filter_map(|c| c.edge_c)),
        max_junction_c: max_of(cards().filter_map(|c| c.junction_c)),
        max_power_w: max_of(cards().filter_map(|c| c.power_w)),
        power_sources,
        mean_busy_percent: (!busy.is_empty()).then(|| busy.iter().sum::<f64>() / busy.len() as f64),
        max_sm_clock_mhz: cards().filter_map(|c| c.sm_clock_mhz).max(),
        max_memory_clock_mhz: cards().filter_map(|c| c.memory_clock_mhz).max(),
        peak_processes_memory_bytes: run
            .iter()
            .filter_map(|s| {
                let v: Vec<u64> = s
                    .cards
                    .iter()
                    .filter_map(|c| c.processes_memory_bytes)
                    .collect();
                (!v.is_empty()).then(|| v.iter().sum())
            })
            .max(),
    }
}

#[cfg(test)]
mod stream_tests;
#[cfg(test)]
mod tests;
