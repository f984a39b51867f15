//! The generation ceiling of a cell: memory bandwidth ÷ bytes read per generated
//! token (dense: every weight; MoE: all but the routed experts plus the share a
//! token uses; `GgufFacts::bytes_per_token`), and a cell's mean as a share of it.
//! The bandwidth comes from the plan (`bench.memory_bandwidth_gbs`), else from
//! the known-platform table by the host's GPU. Pure functions.

use crate::manifest::{Cell, Manifest};

/// Known platforms: (GPU gfx target, theoretical memory bandwidth GB/s, what).
pub const PLATFORMS: &[(&str, f64, &str)] = &[(
    "gfx1151",
    256.0,
    "Strix Halo (Ryzen AI MAX+), 256-bit LPDDR5X-8000",
)];

/// The bandwidth in GB/s and where it came from.
pub fn bandwidth(m: &Manifest) -> Option<(f64, String)> {
    if let Some(b) = m.plan.bench.memory_bandwidth_gbs {
        return Some((b, "the plan's bench.memory_bandwidth_gbs".to_string()));
    }
    m.host.gpus.iter().find_map(|g| {
        let t = g.gfx_target.as_deref()?;
        PLATFORMS
            .iter()
            .find(|(gfx, _, _)| *gfx == t)
            .map(|(_, b, what)| (*b, format!("{what} (known platform)")))
    })
}

/// The ceiling in tokens/s for a cell's model, if bandwidth and size are known.
pub fn ceiling(m: &Manifest, c: &Cell) -> Option<f64> {
    let (gbs, _) = bandwidth(m)?;
    let model = m.models.iter().find(|x| x.name == c.model)?;
    let bytes = model.gguf.bytes_per_token()?;
    (bytes > 0.0).then(|| gbs * 1e9 / bytes)
}

/// A cell's mean generation speed as a share of its ceiling (0.62 = 62 %).
pub fn share(m: &Manifest, c: &Cell) -> Option<f64> {
    let mean = c.stats.get("gen_tps")?.mean;
    Some(mean / ceiling(m, c)?)
}
