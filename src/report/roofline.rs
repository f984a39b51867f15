//! The generation ceiling of a cell: memory bandwidth ÷ bytes read per generated
//! token (dense: every weight; MoE: all but the routed experts plus the share a
//! token uses; `GgufFacts::bytes_per_token`), and a cell's mean as a share of it.
//! The bandwidth comes from the plan (`bench.memory_bandwidth_gbs`), else from
//! the known-platform table by the host's GPU. Pure functions.

use crate::manifest::{Cell, Manifest};
use crate::metric::Metric;

/// How a known platform is recognised in the host record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// An amdgpu gfx target (`gfx1151`).
    Gfx(&'static str),
    /// A substring of the NVIDIA GPU's name as NVML gives it (`H200`).
    Nvidia(&'static str),
}

/// A known platform: how it is recognised, its theoretical memory bandwidth in
/// GB/s, what it is and where the figure comes from, and whether the CPU reads
/// the same memory (an APU or a unified-memory part: then CPU cells have the same
/// ceiling; on a discrete card only the GPU backends do).
pub struct Platform {
    pub part: Part,
    pub gbs: f64,
    pub what: &'static str,
    pub unified: bool,
}

/// Known platforms, the more specific names first. NVIDIA figures are the
/// datasheets' (nvidia.com product pages and datasheets, read 2026-12).
pub const PLATFORMS: &[Platform] = &[
    Platform {
        part: Part::Gfx("gfx1151"),
        gbs: 256.0,
        what: "Strix Halo (Ryzen AI MAX+), 256-bit LPDDR5X-8000",
        unified: true,
    },
    Platform {
        part: Part::Nvidia("GH200"),
        gbs: 4000.0,
        what: "NVIDIA GH200 (96 GB HBM3, datasheet 4 TB/s)",
        unified: false,
    },
    Platform {
        part: Part::Nvidia("H200"),
        gbs: 4800.0,
        what: "NVIDIA H200 (141 GB HBM3e, datasheet 4.8 TB/s)",
        unified: false,
    },
    Platform {
        part: Part::Nvidia("H100 NVL"),
        gbs: 3900.0,
        what: "NVIDIA H100 NVL (94 GB HBM3, datasheet 3.9 TB/s)",
        unified: false,
    },
    Platform {
        part: Part::Nvidia("H100 PCIe"),
        gbs: 2000.0,
        what: "NVIDIA H100 PCIe (80 GB HBM2e, datasheet 2 TB/s)",
        unified: false,
    },
    Platform {
        part: Part::Nvidia("H100"),
        gbs: 3350.0,
        what: "NVIDIA H100 SXM (80 GB HBM3, datasheet 3.35 TB/s)",
        unified: false,
    },
    Platform {
        part: Part::Nvidia("B200"),
        gbs: 8000.0,
        what: "NVIDIA B200 (180 GB HBM3e, HGX B200 datasheet 8 TB/s per GPU)",
        unified: false,
    },
    Platform {
        part: Part::Nvidia("A100 80GB PCIe"),
        gbs: 1935.0,
        what: "NVIDIA A100 80 GB PCIe (HBM2e, datasheet 1935 GB/s)",
        unified: false,
    },
    Platform {
        part: Part::Nvidia("A100-SXM4-80GB"),
        gbs: 2039.0,
        what: "NVIDIA A100 80 GB SXM (HBM2e, datasheet 2039 GB/s)",
        unified: false,
    },
    Platform {
        part: Part::Nvidia("A100"),
        gbs: 1555.0,
        what: "NVIDIA A100 40 GB (HBM2, datasheet 1555 GB/s)",
        unified: false,
    },
    Platform {
        part: Part::Nvidia("L40S"),
        gbs: 864.0,
        what: "NVIDIA L40S (48 GB GDDR6, datasheet 864 GB/s)",
        unified: false,
    },
    Platform {
        part: Part::Nvidia("RTX 5090"),
        gbs: 1792.0,
        what: "NVIDIA GeForce RTX 5090 (32 GB GDDR7, 1792 GB/s)",
        unified: false,
    },
    Platform {
        part: Part::Nvidia("RTX 4090"),
        gbs: 1008.0,
        what: "NVIDIA GeForce RTX 4090 (24 GB GDDR6X, 1008 GB/s)",
        unified: false,
    },
    Platform {
        part: Part::Nvidia("RTX 3090"),
        gbs: 936.0,
        what: "NVIDIA GeForce RTX 3090 (24 GB GDDR6X, 936 GB/s)",
        unified: false,
    },
    Platform {
        part: Part::Nvidia("GB10"),
        gbs: 273.0,
        what: "NVIDIA DGX Spark GB10 (128 GB LPDDR5x, 273 GB/s, shared with the CPU)",
        unified: true,
    },
];

/// The known platform of the run's host (`platform_of`).
pub fn platform(m: &Manifest) -> Option<&'static Platform> {
    platform_of(&m.host)
}

/// The known platform of a host, if any: its amdgpu gfx target or the name of
/// its first NVIDIA GPU.
pub fn platform_of(host: &crate::host::HostFacts) -> Option<&'static Platform> {
    let gfx: Vec<&str> = host
        .gpus
        .iter()
        .filter_map(|g| g.gfx_target.as_deref())
        .collect();
    let nvidia: Vec<&str> = host
        .nvidia
        .iter()
        .flat_map(|n| n.gpus.iter().map(|g| g.name.as_str()))
        .collect();
    PLATFORMS.iter().find(|p| match p.part {
        Part::Gfx(t) => gfx.contains(&t),
        Part::Nvidia(n) => nvidia.iter().any(|name| name.contains(n)),
    })
}

/// The run's bandwidth in GB/s and where it came from (`bandwidth_for`).
pub fn bandwidth(m: &Manifest) -> Option<(f64, String)> {
    bandwidth_for(m.plan.bench.memory_bandwidth_gbs, &m.host)
}

/// The bandwidth in GB/s and where it came from: the plan's
/// (`bench.memory_bandwidth_gbs`), else the host's known platform's.
pub fn bandwidth_for(
    plan_gbs: Option<f64>,
    host: &crate::host::HostFacts,
) -> Option<(f64, String)> {
    if let Some(b) = plan_gbs {
        return Some((b, "the plan's bench.memory_bandwidth_gbs".to_string()));
    }
    platform_of(host).map(|p| (p.gbs, format!("{} (known platform)", p.what)))
}

/// The ceiling in tokens/s for a cell's model, if bandwidth and size are known.
/// A CPU cell on a discrete GPU's host has none from the table (the CPU reads
/// other memory); the plan's own bandwidth applies to every cell.
pub fn ceiling(m: &Manifest, c: &Cell) -> Option<f64> {
    let (gbs, _) = bandwidth(m)?;
    if m.plan.bench.memory_bandwidth_gbs.is_none()
        && !c.backend.is_gpu()
        && platform(m).is_some_and(|p| !p.unified)
    {
        return None;
    }
    let model = m.models.iter().find(|x| x.name == c.model)?;
    let bytes = model.gguf.bytes_per_token()?;
    (bytes > 0.0).then(|| gbs * 1e9 / bytes)
}

/// A cell's mean generation speed as a share of its ceiling (0.62 = 62 %).
pub fn share(m: &Manifest, c: &Cell) -> Option<f64> {
    let mean = c.stats.get(&Metric::GenTps)?.mean;
    Some(mean / ceiling(m, c)?)
}

/// The estimate's rates for a plan on a host: the plan's bandwidth, else the
/// host's known platform's (`platform_of`), else the assumption; the host's
/// cores. The dry run's estimate and the run's time left both take these.
pub fn estimate_rates(
    plan: &crate::plan::Plan,
    host: &crate::host::HostFacts,
) -> crate::plan::estimate::Rates {
    let mut r = crate::plan::estimate::Rates::assumed();
    r.cores = host.cpu.logical_cpus.max(1);
    let plan_gbs = plan.bench.memory_bandwidth_gbs;
    let platform = platform_of(host);
    r.discrete = platform.is_some_and(|p| !p.unified);
    if let Some((gbs, from)) = bandwidth_for(plan_gbs, host) {
        r.gpu_gbs = gbs;
        r.gpu_from = from;
        // The plan's bandwidth holds for every cell (as in the report's
        // ceiling); a unified-memory platform's is the CPU's too.
        if plan_gbs.is_some() || platform.is_some_and(|p| p.unified) {
            r.cpu_gbs = gbs;
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::Backend;

    /// The first real GPU run (results/h200-2026-12/a): an H200 host as NVML
    /// named it.
    fn h200_run() -> Manifest {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("results/h200-2026-12/a/manifest.json");
        serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
    }

    /// The estimate's rates for the H100 study run's plan and host, as the
    /// run's time left takes them (progress::overall's replay of that run
    /// writes them out).
    #[test]
    fn the_estimate_takes_the_h100_hosts_bandwidth_and_cores() {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("results/h100-study-2026-12/a/manifest.json");
        let m: Manifest = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
        let r = estimate_rates(&m.plan, &m.host);
        assert_eq!((r.gpu_gbs, r.discrete, r.cores), (3350.0, true, 16));
        assert_eq!(
            r.cpu_gbs,
            crate::plan::estimate::Rates::assumed().cpu_gbs,
            "a discrete GPU's bandwidth is not the CPU's"
        );
    }

    #[test]
    fn an_h200_has_the_datasheets_ceiling_for_its_gpu_cells_only() {
        let m = h200_run();
        let p = platform(&m).unwrap();
        assert_eq!(p.gbs, 4800.0);
        assert!(!p.unified);
        let cell = |id: &str| m.cells.iter().find(|c| c.id == id).unwrap();
        let cuda = cell("cuda.gemma-3-270m-q4_k_m.default.p31");
        // 4800 GB/s over the model's tensor bytes; the measured mean is a few
        // per cent of it (597 t/s against a ceiling near 20 000).
        let ceiling = ceiling(&m, cuda).unwrap();
        let bytes = m.models[0].gguf.bytes_per_token().unwrap();
        assert!((ceiling - 4800e9 / bytes).abs() < 1e-6);
        let s = share(&m, cuda).unwrap();
        assert!(s > 0.02 && s < 0.04, "{s}");
        // The CPU reads the host's memory, not the card's.
        assert_eq!(ceiling_of_cpu(&m), None);
    }

    fn ceiling_of_cpu(m: &Manifest) -> Option<f64> {
        let c = m.cells.iter().find(|c| c.backend == Backend::Cpu)?;
        ceiling(m, c)
    }

    #[test]
    fn the_more_specific_names_come_first() {
        let pos = |n: &'static str| {
            PLATFORMS
                .iter()
                .position(|p| p.part == Part::Nvidia(n))
                .unwrap()
        };
        assert!(pos("GH200") < pos("H200"));
        assert!(pos("H100 PCIe") < pos("H100"));
        assert!(pos("A100-SXM4-80GB") < pos("A100"));
    }
}
