//! A rough time estimate for a matrix, printed by `run --dry-run`: image builds,
//! server starts and requests, and llama-bench, from stated assumptions and what is known of
//! the host (not from measuring it). A pure function; every assumption is
//! returned beside the numbers (`Rates::describe`).
//!
//! Generation is taken as bandwidth-bound on a dense model: tokens/s =
//! efficiency × memory bandwidth ÷ model bytes, efficiency 0.6, and a GPU
//! token takes at least 1.5 ms (launches and the server's own work: a 270M
//! model reached 600 t/s on an H200). The GPU's bandwidth is the plan's
//! `bench.memory_bandwidth_gbs`, else the host's known platform
//! (`report::roofline::PLATFORMS`), else a Strix Halo's 256 GB/s; the CPU's is
//! the same on a unified-memory platform, else a desktop's dual-channel DDR5
//! (60 GB/s). Prompt processing runs at 10× the generation rate, 40× on a
//! discrete GPU (measured on an H100: 39× on an 8B, 45× on a 27B model). On
//! the CPU a few cores cannot keep up with that bandwidth: a core reads at
//! most 4.5 GB/s of weights generating (tokens/s ≤ cores × 4.5e9 ÷ model
//! bytes), and processes a prompt at most at cores × 30e9 ÷ model bytes
//! tokens/s (measured with the default plan on a 2-core VM: 36 t/s
//! generation and 250 t/s prompt processing on 253 MB, 7× rather than 10×).
//! An MoE model reads only its active experts per token, so it runs faster
//! than this.
//! Builds take what they took where measured (`Backend::measured_build`),
//! scaled to the host's cores as measured between 2 and 16 cores (2.5× for 8×
//! the cores: time ∝ cores^-0.45). llama-bench loads each model once per
//! backend and runs every test `repetitions` times after one warm-up of its
//! own, each repetition first filling the context to its depth (untimed by
//! llama-bench, but not by the clock).

use super::Plan;
use super::matrix::Matrix;
use crate::backend::Backend;

const STRIX_HALO_GBS: f64 = 256.0;
const CPU_GBS: f64 = 60.0;
const EFFICIENCY: f64 = 0.6;
const PP_OVER_TG: f64 = 10.0;
const PP_OVER_TG_DISCRETE: f64 = 40.0;
/// Model bytes one CPU core reads per second generating, at most
/// (results/cpu-vm-2026-12/default: 36 t/s on 253 MB, 2 cores).
const CPU_TG_BYTES_PER_CORE_S: f64 = 4.5e9;
/// Prompt tokens a CPU core processes per second at most, times the model's
/// bytes (the same run: 250 t/s on 253 MB, 2 cores).
const CPU_PP_BYTES_PER_CORE_S: f64 = 3.0e10;
/// The shortest time a generated token takes on a GPU, seconds.
const GPU_TOKEN_FLOOR_S: f64 = 1.5e-3;
/// How build time falls with cores: t ∝ cores^-BUILD_SCALING.
const BUILD_SCALING: f64 = 0.45;
/// Model load speed, bytes/s (from page cache or a fast NVMe drive).
const LOAD_BYTES_PER_S: f64 = 2e9;

/// What the estimate takes the host to be.
#[derive(Debug, Clone, PartialEq)]
pub struct Rates {
    /// GPU memory bandwidth, GB/s, and where the figure comes from.
    pub gpu_gbs: f64,
    pub gpu_from: String,
    /// CPU memory bandwidth, GB/s.
    pub cpu_gbs: f64,
    /// Whether the GPU has its own memory (prompt processing then runs
    /// further ahead of generation).
    pub discrete: bool,
    /// The host's logical CPUs (builds scale with them, and CPU requests up
    /// to the memory's bandwidth).
    pub cores: u32,
}

impl Rates {
    /// The assumptions alone: a Strix Halo-class GPU and a 2-core host.
    pub fn assumed() -> Rates {
        Rates {
            gpu_gbs: STRIX_HALO_GBS,
            gpu_from: "assumed: a Strix Halo's".to_string(),
            cpu_gbs: CPU_GBS,
            discrete: false,
            cores: 2,
        }
    }

    /// One line for people: what the numbers rest on.
    pub fn describe(&self) -> String {
        format!(
            "generation taken as bandwidth-bound on a dense model (GPU {:.0} GB/s: {}; CPU {:.0} GB/s, at most {:.1} GB/s a core; {:.0} % efficiency; a GPU token at least {:.1} ms; prompt processing {:.0}x faster, on the CPU at most {:.0} GB/s a core), builds scaled to {} cores from where they were measured; an MoE model runs faster",
            self.gpu_gbs,
            self.gpu_from,
            self.cpu_gbs,
            CPU_TG_BYTES_PER_CORE_S / 1e9,
            EFFICIENCY * 100.0,
            GPU_TOKEN_FLOOR_S * 1e3,
            self.pp_over_tg(),
            CPU_PP_BYTES_PER_CORE_S / 1e9,
            self.cores
        )
    }

    fn pp_over_tg(&self) -> f64 {
        if self.discrete {
            PP_OVER_TG_DISCRETE
        } else {
            PP_OVER_TG
        }
    }

    /// Seconds to build `backend`'s image here from scratch.
    pub fn build_seconds(&self, backend: Backend) -> f64 {
        let (seconds, cores) = backend.measured_build();
        seconds * (f64::from(cores) / f64::from(self.cores.max(1))).powf(BUILD_SCALING)
    }

    /// One request's estimated seconds: `prompt` tokens processed and
    /// `n_predict` generated on `backend` with a model of `bytes`.
    pub fn request_seconds(
        &self,
        backend: Backend,
        bytes: u64,
        prompt: u32,
        n_predict: u32,
    ) -> f64 {
        let bytes = bytes as f64;
        let (tg, pp) = if backend.is_gpu() {
            let tg = (EFFICIENCY * self.gpu_gbs * 1e9 / bytes).min(1.0 / GPU_TOKEN_FLOOR_S);
            (tg, self.pp_over_tg() * tg)
        } else {
            let tg = EFFICIENCY * self.cpu_gbs * 1e9 / bytes;
            let cores = f64::from(self.cores.max(1));
            (
                tg.min(cores * CPU_TG_BYTES_PER_CORE_S / bytes),
                (PP_OVER_TG * tg).min(cores * CPU_PP_BYTES_PER_CORE_S / bytes),
            )
        };
        f64::from(prompt) / pp + f64::from(n_predict) / tg
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    /// Building every image, if none exists yet.
    pub build_s: f64,
    /// Loading the model at each server start.
    pub load_s: f64,
    /// Warm-up and measured requests (every cell at `max_runs` with a
    /// precision target).
    pub requests_s: f64,
    /// llama-bench, where the plan runs it.
    pub llama_bench_s: f64,
    /// Models without a known size: their cells are not in the sums.
    pub unknown_size: Vec<String>,
}

impl Estimate {
    pub fn total_s(&self) -> f64 {
        self.build_s + self.load_s + self.requests_s + self.llama_bench_s
    }
}

/// One llama-bench run's seconds on `backend` with a model of `bytes`: its
/// load, then per depth each prompt test (a warm-up of the prompt, then per
/// repetition the depth and the prompt) and each generation test (a warm-up
/// of one token, then per repetition the depth and the tokens).
pub fn llama_bench_seconds(
    s: &super::llama_bench::Settings,
    rates: &Rates,
    backend: Backend,
    bytes: u64,
) -> f64 {
    let reps = f64::from(s.repetitions);
    let mut t = bytes as f64 / LOAD_BYTES_PER_S;
    for &d in &s.n_depth {
        for &p in &s.n_prompt {
            t += rates.request_seconds(backend, bytes, p, 0)
                + reps * rates.request_seconds(backend, bytes, d + p, 0);
        }
        for &n in &s.n_gen {
            t += rates.request_seconds(backend, bytes, 0, 1)
                + reps * rates.request_seconds(backend, bytes, d, n);
        }
    }
    t
}

/// The estimate for `matrix` at `rates`; `sizes[i]` is model i's size in
/// bytes, if known.
pub fn estimate(plan: &Plan, matrix: &Matrix, sizes: &[Option<u64>], rates: &Rates) -> Estimate {
    let mut images: Vec<(Backend, usize)> = matrix
        .groups
        .iter()
        .map(|g| (g.backend, g.source))
        .collect();
    images.sort();
    images.dedup();
    let build_s = images.iter().map(|(b, _)| rates.build_seconds(*b)).sum();
    let mut load_s = 0.0;
    let mut requests_s = 0.0;
    let mut unknown_size = Vec::new();
    // With a precision target, every cell taken at its most runs and rounds:
    // an upper bound. Each round starts every server again, with its warm-ups.
    let rounds = plan.bench.most_rounds();
    let per_cell = f64::from(plan.bench.warmup_runs * rounds + plan.bench.max_runs());
    for g in &matrix.groups {
        let Some(bytes) = sizes.get(g.model).copied().flatten() else {
            if !unknown_size.contains(&g.model_name) {
                unknown_size.push(g.model_name.clone());
            }
            continue;
        };
        load_s += f64::from(rounds) * bytes as f64 / LOAD_BYTES_PER_S;
        for c in &g.cells {
            requests_s += per_cell
                * rates.request_seconds(g.backend, bytes, c.prompt_tokens, plan.bench.n_predict);
        }
    }
    let mut llama_bench_s = 0.0;
    if let Some(settings) = &plan.llama_bench {
        for r in &matrix.llama_bench {
            if let Some(bytes) = sizes.get(r.model).copied().flatten() {
                llama_bench_s += llama_bench_seconds(settings, rates, r.backend, bytes);
            }
        }
    }
    Estimate {
        build_s,
        load_s,
        requests_s,
        llama_bench_s,
        unknown_size,
    }
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
        let e = estimate(&plan, &m, &[Some(253_113_024)], &Rates::assumed());
        // Builds: 282 + 600.
        assert_eq!(e.build_s, 882.0);
        // Loads: 2 × 253 113 024 / 2e9 = 0.253113024 s.
        assert!((e.load_s - 0.253_113_024).abs() < 1e-9);
        // CPU, 2 cores: tg = min(0.6 × 60e9, 2 × 4.5e9) / 253113024 =
        // 35.5572 t/s, pp = min(10 × 0.6 × 60e9, 2 × 3e10) / 253113024 =
        // 237.0483 t/s; per run: 15496 prompt tokens / pp over 4 cells =
        // 65.3707 s, plus 4 × 128 / tg = 14.3993 s, = 79.7700 s; × 5 runs =
        // 398.850 s. Vulkan (bandwidth-bound at 256 GB/s: pp 6068.44, tg
        // 606.844 t/s): 15496 / 6068.44 + 512 / 606.844 = 3.39725 s; × 5 =
        // 16.986 s. Sum 415.836 s; with builds and loads 1298.1 s.
        assert!((e.requests_s - 415.836).abs() < 0.01, "{}", e.requests_s);
        assert!(e.unknown_size.is_empty());
        assert_eq!(human(e.total_s()), "22 min");
    }

    #[test]
    fn rounds_repeat_the_loads_and_warm_ups() {
        // The default plan on cpu in 2 rounds: 2 loads of 0.126556512 s, and
        // per cell 2 warm-ups + 4 measured runs = 6 requests instead of 5:
        // 79.7700 × 6 = 478.620 s (see the test above for one run's 79.7700).
        let mut plan = crate::plan::builtin(2).unwrap();
        plan.bench.rounds = 2;
        let e = estimate(
            &plan,
            &expand(&plan),
            &[Some(253_113_024)],
            &Rates::assumed(),
        );
        assert!((e.load_s - 0.253_113_024).abs() < 1e-9);
        assert!((e.requests_s - 478.620).abs() < 0.01, "{}", e.requests_s);
    }

    #[test]
    fn a_model_of_unknown_size_is_named_and_left_out() {
        let plan = crate::plan::builtin(2).unwrap();
        let e = estimate(&plan, &expand(&plan), &[None], &Rates::assumed());
        assert_eq!(e.requests_s, 0.0);
        assert_eq!(e.unknown_size, ["gemma-3-270m-q4_k_m"]);
        assert_eq!(human(3900.0), "1 h 05 min");
        assert_eq!(human(40.4), "40 s");
    }

    #[test]
    fn llama_bench_by_hand_and_only_where_the_matrix_has_cells() {
        // pp512 and tg128 at depths 0 and 1000, 2 repetitions, on the 2-core
        // CPU with a 253 113 024-byte model: tg = 35.55724 t/s, pp = 237.04825
        // t/s (the cores' limits, see above). Load 0.126557 s. Depth 0: pp
        // 3 × 512 / pp = 6.479693; tg 1 / tg + 2 × 128 / tg = 7.227783. Depth
        // 1000: pp 512 / pp + 2 × 1512 / pp = 14.916794; tg 1 / tg + 2 × (1000
        // / pp + 128 / tg) = 15.664884. Sum 44.415711 s.
        let s = crate::plan::llama_bench::Settings {
            n_prompt: vec![512],
            n_gen: vec![128],
            n_depth: vec![0, 1000],
            repetitions: 2,
            flash_attn: crate::plan::FlashAttn::On,
            n_gpu_layers: crate::plan::AutoOr::Auto,
            threads: 2,
            load_mode: crate::plan::LoadMode::Auto,
            timeout_s: 900,
        };
        let one = llama_bench_seconds(&s, &Rates::assumed(), Backend::Cpu, 253_113_024);
        assert!((one - 44.415711).abs() < 1e-5, "{one}");
        // In the default plan it runs once per backend with cells: on cpu and
        // vulkan, not on a backend the matrix leaves out.
        let mut plan = builtin_for(2, &[Backend::Vulkan]).unwrap();
        plan.llama_bench = Some(s);
        let with = estimate(
            &plan,
            &expand(&plan),
            &[Some(253_113_024)],
            &Rates::assumed(),
        );
        let vulkan = llama_bench_seconds(
            plan.llama_bench.as_ref().unwrap(),
            &Rates::assumed(),
            Backend::Vulkan,
            253_113_024,
        );
        assert!((with.llama_bench_s - (one + vulkan)).abs() < 1e-9);
        plan.exclude.push(crate::plan::CellSelector {
            backend: Some("vulkan".to_string()),
            ..Default::default()
        });
        let without = estimate(
            &plan,
            &expand(&plan),
            &[Some(253_113_024)],
            &Rates::assumed(),
        );
        assert!((without.llama_bench_s - one).abs() < 1e-9);
        assert!((with.total_s() - without.total_s()) > vulkan);
    }
}
