//! NVIDIA's management library (NVML), the only user of `nvml-wrapper`: the GPUs'
//! facts (name, memory, compute capability, driver and CUDA versions) for the
//! host record and `doctor`, and one reading per GPU for telemetry (memory used,
//! utilisation, temperature, power, SM and memory clocks, the compute processes'
//! own memory). `libnvidia-ml.so.1` is loaded at run time, so rigbench runs where
//! there is none; `Nvidia` is the interface, `Fake` stands in for tests.

use serde::{Deserialize, Serialize};

/// Where drivers put their libraries, relative to the root: NVIDIA's container
/// convention first, then the multiarch and the lib64 layouts.
pub const LIB_DIRS: &[&str] = &[
    "usr/local/nvidia/lib64",
    "usr/lib/x86_64-linux-gnu",
    "usr/lib64",
    "usr/lib/aarch64-linux-gnu",
    "usr/lib",
];

/// One NVIDIA GPU as NVML (or the driver's /proc files) describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NvidiaGpu {
    pub index: u32,
    /// `NVIDIA H200`.
    pub name: String,
    pub uuid: Option<String>,
    /// `00000000:18:00.0`.
    pub pci_bus_id: Option<String>,
    pub memory_total_bytes: Option<u64>,
    /// `9.0`.
    pub compute_capability: Option<String>,
    /// `nvml`, or `procfs` (/proc/driver/nvidia, with the compute capability
    /// from rigbench's table of known parts).
    pub source: String,
}

/// The driver as NVML reports it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NvidiaDriver {
    /// `580.159.04`.
    pub version: Option<String>,
    /// The newest CUDA the driver supports, `13.0`.
    pub cuda_version: Option<String>,
}

/// One GPU's readings at one moment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reading {
    pub index: u32,
    pub memory_used_bytes: Option<u64>,
    pub memory_total_bytes: Option<u64>,
    pub utilization_percent: Option<f64>,
    pub temperature_c: Option<f64>,
    pub power_w: Option<f64>,
    pub sm_clock_mhz: Option<u32>,
    pub memory_clock_mhz: Option<u32>,
    /// Memory of the compute processes on this GPU (the server's, on a machine
    /// that runs nothing else), bytes; `None` where NVML does not say.
    pub processes_memory_bytes: Option<u64>,
}

/// What rigbench asks of NVML.
pub trait Nvidia: Send + Sync {
    fn gpus(&self) -> Vec<NvidiaGpu>;
    fn driver(&self) -> NvidiaDriver;
    fn read(&self) -> Vec<Reading>;
}

/// NVML itself.
pub struct Nvml {
    nvml: nvml_wrapper::Nvml,
}

impl Nvml {
    /// Loads NVML: `libnvidia-ml.so.1` from the loader's path, else from the
    /// driver's own library directories (NVIDIA's containers put it in
    /// /usr/local/nvidia/lib64). `None` where there is no NVIDIA driver.
    pub fn load() -> Option<Nvml> {
        if let Ok(nvml) = nvml_wrapper::Nvml::init() {
            return Some(Nvml { nvml });
        }
        for dir in LIB_DIRS {
            let path = std::path::Path::new("/")
                .join(dir)
                .join("libnvidia-ml.so.1");
            if !path.exists() {
                continue;
            }
            if let Ok(nvml) = nvml_wrapper::Nvml::builder()
                .lib_path(path.as_os_str())
                .init()
            {
                return Some(Nvml { nvml });
            }
        }
        None
    }
}

impl Nvidia for Nvml {
    fn gpus(&self) -> Vec<NvidiaGpu> {
        let n = self.nvml.device_count().unwrap_or(0);
        (0..n)
            .filter_map(|i| {
                let d = self.nvml.device_by_index(i).ok()?;
                Some(NvidiaGpu {
                    index: i,
                    name: d.name().unwrap_or_else(|_| "unknown".to_string()),
                    uuid: d.uuid().ok(),
                    pci_bus_id: d.pci_info().ok().map(|p| p.bus_id),
                    memory_total_bytes: d.memory_info().ok().map(|m| m.total),
                    compute_capability: d
                        .cuda_compute_capability()
                        .ok()
                        .map(|c| format!("{}.{}", c.major, c.minor)),
                    source: "nvml".to_string(),
                })
            })
            .collect()
    }

    fn driver(&self) -> NvidiaDriver {
        NvidiaDriver {
            version: self.nvml.sys_driver_version().ok(),
            // NVML encodes CUDA 13.0 as 13000.
            cuda_version: self
                .nvml
                .sys_cuda_driver_version()
                .ok()
                .map(|v| format!("{}.{}", v / 1000, (v % 1000) / 10)),
        }
    }

    fn read(&self) -> Vec<Reading> {
        use nvml_wrapper::enum_wrappers::device::{Clock, TemperatureSensor};
        use nvml_wrapper::enums::device::UsedGpuMemory;
        let n = self.nvml.device_count().unwrap_or(0);
        (0..n)
            .filter_map(|i| {
                let d = self.nvml.device_by_index(i).ok()?;
                let mem = d.memory_info().ok();
                let processes = d.running_compute_processes().ok().map(|ps| {
                    ps.iter()
                        .map(|p| match p.used_gpu_memory {
                            UsedGpuMemory::Used(b) => b,
                            UsedGpuMemory::Unavailable => 0,
                        })
                        .sum()
                });
                Some(Reading {
                    index: i,
                    memory_used_bytes: mem.as_ref().map(|m| m.used),
                    memory_total_bytes: mem.as_ref().map(|m| m.total),
                    utilization_percent: d.utilization_rates().ok().map(|u| f64::from(u.gpu)),
                    temperature_c: d.temperature(TemperatureSensor::Gpu).ok().map(f64::from),
                    // NVML reports milliwatts.
                    power_w: d.power_usage().ok().map(|mw| f64::from(mw) / 1000.0),
                    sm_clock_mhz: d.clock_info(Clock::SM).ok(),
                    memory_clock_mhz: d.clock_info(Clock::Memory).ok(),
                    processes_memory_bytes: processes,
                })
            })
            .collect()
    }
}

/// Fixed answers, for tests and fixture hosts.
#[derive(Debug, Clone, Default)]
pub struct Fake {
    pub gpus: Vec<NvidiaGpu>,
    pub driver: NvidiaDriver,
    pub readings: Vec<Reading>,
}

impl Nvidia for Fake {
    fn gpus(&self) -> Vec<NvidiaGpu> {
        self.gpus.clone()
    }
    fn driver(&self) -> NvidiaDriver {
        self.driver.clone()
    }
    fn read(&self) -> Vec<Reading> {
        self.readings.clone()
    }
}
