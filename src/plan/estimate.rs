//! A rough time estimate for a matrix, printed by `run --dry-run`: image builds,
//! server starts and requests, from stated assumptions (not from measurement of
//! this host). A pure function; every assumption is returned beside the numbers.
//!
//! Generation is taken as bandwidth-bound on a dense model: tokens/s =
//! efficiency × memory bandwidth ÷ model bytes, with the bandwidth of a Strix
//! Halo (256 GB/s) for GPU backends and of a desktop's dual-channel DDR5
//! (60 GB/s) for the CPU, efficiency 0.6; prompt processing at 10× that rate.
//! An MoE model reads only its active experts per token, so it runs faster than
//! this. Builds take what they took here on 2 cores
//! (`Backend::estimated_build_seconds`).

use super::Plan;
use super::matrix::Matrix;
use crate::backend::Backend;

const GPU_BANDWIDTH: f64 = 256e9;
const CPU_BANDWIDTH: f64 = 60e9;
const EFFICIENCY: f64 = 0.6;
const PP_OVER_TG: f64 = 10.0;
/// Model load speed, bytes/s (from page cache or a fast NVMe drive).
const LOAD_BYTES_PER_S: f64 = 2e9;

#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    /// Building every image, if none exists yet.
    pub build_s: f64,
    /// Loading the model at each server start.
    pub load_s: f64,
    /// Warm-up and measured requests (every cell at `max_runs` with a
    /// precision target).
    pub requests_s: f64,
    /// Models without a known size: their cells are not in the sums.
    pub unknown_size: Vec<String>,
}

impl Estimate {
    pub fn total_s(&self) -> f64 {
        self.build_s + self.load_s + self.requests_s
    }
}

/// The estimate for `matrix`; `sizes[i]` is model i's size in bytes, if known.
pub fn estimate(plan: &Plan, matrix: &Matrix, sizes: &[Option<u64>]) -> Estimate {
    let mut images: Vec<(Backend, usize)> = matrix
        .groups
        .iter()
        .map(|g| (g.backend, g.source))
        .collect();
    images.sort();
    images.dedup();
    let build_s = images
        .iter()
        .map(|(b, _)| b.estimated_build_seconds())
        .sum();
    let mut load_s = 0.0;
    let mut requests_s = 0.0;
    let mut unknown_size = Vec::new();
    // With a precision target, every cell taken at its most runs and rounds:
    // an upper bound. Each round starts every server again, with its warm-ups.
    let rounds = plan.bench.most_rounds();
    let per_cell = f64::from(plan.bench.warmup_runs * rounds + plan.bench.max_runs());
    for g in &matrix.groups {
        let model = &plan.models[g.model];
        let Some(bytes) = sizes.get(g.model).copied().flatten() else {
            if !unknown_size.contains(&model.name) {
                unknown_size.push(model.name.clone());
            }
            continue;
        };
        load_s += f64::from(rounds) * bytes as f64 / LOAD_BYTES_PER_S;
        for c in &g.cells {
            requests_s +=
                per_cell * request_seconds(g.backend, bytes, c.prompt_tokens, plan.bench.n_predict);
        }
    }
    Estimate {
        build_s,
        load_s,
        requests_s,
        unknown_size,
    }
}

/// One request's estimated seconds: `prompt` tokens processed and `n_predict`
/// generated on `backend` with a model of `bytes`.
pub fn request_seconds(backend: Backend, bytes: u64, prompt: u32, n_predict: u32) -> f64 {
    let bandwidth = if backend.is_gpu() {
        GPU_BANDWIDTH
    } else {
        CPU_BANDWIDTH
    };
    let tg = EFFICIENCY * bandwidth / bytes as f64;
    let pp = PP_OVER_TG * tg;
    f64::from(prompt) / pp + f64::from(n_predict) / tg
}

/// "1 h 05 min", "12 min", "40 s".
pub fn human(seconds: f64) -> String {
    let s = seconds.round() as u64;
    if s >= 3600 {
        format!("{} h {:02} min", s / 3600, (s % 3600 + 30) / 60)
    } else if s >= 60 {
        format!("{} min", (s + 30) / 60)
    } else {
        format!("{s} s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::builtin_for;
    use crate::plan::matrix::expand;

    #[test]
    fn default_plan_on_cpu_and_vulkan_by_hand() {
        // The default plan in one round: 4 prompts (31, 461, 3799, 11205),
        // 1 + 4 runs of 128 tokens, one 253 113 024-byte model, on cpu and
        // vulkan.
        let mut plan = builtin_for(2, &[Backend::Vulkan]).unwrap();
        plan.bench.rounds = 1;
        let m = expand(&plan);
        let e = estimate(&plan, &m, &[Some(253_113_024)]);
        // Builds: 282 + 600.
        assert_eq!(e.build_s, 882.0);
        // Loads: 2 × 253 113 024 / 2e9 = 0.253113024 s.
        assert!((e.load_s - 0.253_113_024).abs() < 1e-9);
        // CPU: tg = 0.6 × 60e9 / 253113024 = 142.2278 t/s, pp = 1422.278 t/s;
        // per run: 15496 prompt tokens / pp over 4 cells = 10.8952 s, plus
        // 4 × 128 / tg = 3.5998 s; × 5 runs = 72.475 s.
        // Vulkan: bandwidth 256/60 times higher: 72.475 × 60 / 256 = 16.986 s.
        // Sum 89.461 s.
        assert!((e.requests_s - 89.461).abs() < 0.01, "{}", e.requests_s);
        assert!(e.unknown_size.is_empty());
        assert_eq!(human(e.total_s()), "16 min");
    }

    #[test]
    fn rounds_repeat_the_loads_and_warm_ups() {
        // The default plan on cpu in 2 rounds: 2 loads of 0.126556512 s, and
        // per cell 2 warm-ups + 4 measured runs = 6 requests instead of 5:
        // 72.475 × 6 / 5 = 86.970 s (see the test above for 72.475).
        let mut plan = crate::plan::builtin(2).unwrap();
        plan.bench.rounds = 2;
        let e = estimate(&plan, &expand(&plan), &[Some(253_113_024)]);
        assert!((e.load_s - 0.253_113_024).abs() < 1e-9);
        assert!((e.requests_s - 86.970).abs() < 0.01, "{}", e.requests_s);
    }

    #[test]
    fn a_model_of_unknown_size_is_named_and_left_out() {
        let plan = crate::plan::builtin(2).unwrap();
        let e = estimate(&plan, &expand(&plan), &[None]);
        assert_eq!(e.requests_s, 0.0);
        assert_eq!(e.unknown_size, ["gemma-3-270m-q4_k_m"]);
        assert_eq!(human(3900.0), "1 h 05 min");
        assert_eq!(human(40.4), "40 s");
    }
}
