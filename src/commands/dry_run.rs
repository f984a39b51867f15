//! `rigbench run --dry-run`: the resolved matrix and what would be fetched and
//! built, without touching the engine or the network.

use std::fmt::Write as _;

use crate::cache::Cache;

use crate::plan::Plan;
use crate::plan::estimate::{Rates, human};
use crate::plan::matrix::Matrix;

/// The dry run prints a matrix resolved for a host (its models and images).
const UNRESOLVED: &str = "a matrix from Matrix::on_host (or resolve_inputs)";

fn cached(path: &std::path::Path) -> &'static str {
    if path.is_file() { "cached" } else { "to fetch" }
}

pub fn render(plan: &Plan, matrix: &Matrix, cache: &Cache, rates: &Rates) -> String {
    debug_assert_eq!(matrix.models.len(), plan.models.len(), "{UNRESOLVED}");
    let mut out = String::new();
    let b = &plan.bench;
    let _ = writeln!(out, "plan {} ({})", plan.name, plan.origin);
    let _ = writeln!(
        out,
        "bench: per cell {}; n_predict {}, seed {}, health timeout {} s, stall timeout {} s",
        b.runs_text(),
        b.n_predict,
        b.seed,
        b.health_timeout_s,
        b.stall_timeout_s
    );
    sources_section(&mut out, plan, cache);
    models_section(&mut out, plan, matrix);
    images_section(&mut out, matrix);
    matrix_section(&mut out, plan, matrix);
    starts_section(&mut out, plan, matrix);
    llama_bench_section(&mut out, plan, matrix);
    excluded_section(&mut out, matrix);
    estimate_section(&mut out, plan, matrix, rates);
    out
}

/// Each llama.cpp source: its commit and archives, pinned and cached or not.
fn sources_section(out: &mut String, plan: &Plan, cache: &Cache) {
    for src in &plan.sources {
        let _ = writeln!(
            out,
            "\nllama.cpp source {}: commit {}{}",
            src.name,
            src.commit,
            src.build_number
                .map(|n| format!(" (build b{n})"))
                .unwrap_or_default()
        );
        for (i, a) in src.archives.iter().enumerate() {
            let (sha, desc) = (a.sha256(), a.describe(&src.commit));
            let state = match sha {
                Some(s) => format!(
                    "pinned, {}",
                    cached(&cache.sources().join(format!("{s}.tar.gz")))
                ),
                None => "unpinned: sha256 recorded at first download".to_string(),
            };
            let _ = writeln!(out, "  {}. {desc} ({state})", i + 1);
        }
    }
}

/// Each model: its file, hash and sources; one that no cell here needs is
/// said to be neither fetched nor made.
fn models_section(out: &mut String, plan: &Plan, matrix: &Matrix) {
    let _ = writeln!(out, "\nmodels:");
    for (m, here) in plan.models.iter().zip(&matrix.models) {
        if !here.needed {
            let _ = writeln!(
                out,
                "  {} ({}; not needed: no cell or llama-bench run here uses it, so neither fetched nor made)",
                m.name, m.file
            );
            continue;
        }
        let state = match (m.recipe(), &m.sha256) {
            (Some(r), pin) => format!(
                "synthetic: made here from its recipe, about {:.1} GB{}{}",
                crate::synth::estimated_size(r).unwrap_or(0) as f64 / 1e9,
                match &here.cached {
                    Some(p) => format!(", cached at {}", p.display()),
                    None => String::new(),
                },
                pin.as_ref()
                    .map(|s| format!("; must have sha256 {s}"))
                    .unwrap_or_default()
            ),
            (None, Some(s)) => format!(
                "sha256 {s}, {}",
                if here.cached.is_some() {
                    "cached"
                } else {
                    "to fetch"
                }
            ),
            (None, None) => "unpinned: sha256 recorded at first download".to_string(),
        };
        let _ = writeln!(out, "  {} ({}; {state})", m.name, m.file);
        for s in &m.sources {
            let _ = writeln!(out, "    from {}", s.describe());
        }
    }
}

/// Each backend's image: Containerfile, base, build arguments (those the
/// host decides with their values), devices.
fn images_section(out: &mut String, matrix: &Matrix) {
    let passthroughs = &matrix.passthroughs;
    let _ = writeln!(
        out,
        "\nimages (built unless one with the same inputs exists):"
    );
    for image in &matrix.images {
        let base = match &image.base_image {
            crate::plan::AutoOr::Auto => {
                let c: Vec<&str> = image
                    .backend
                    .base_candidates()
                    .iter()
                    .map(|(r, _)| *r)
                    .collect();
                format!("auto: {}", c.join(", else "))
            }
            crate::plan::AutoOr::Value(r) => r.clone(),
        };
        let args: Vec<String> = image
            .build_args
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let _ = writeln!(
            out,
            "  {}: {} on {base}; build args {}",
            image.backend.name(),
            image.backend.containerfile(),
            if args.is_empty() {
                "none".to_string()
            } else {
                args.join(" ")
            }
        );
        for (arg, r) in &image.from_auto {
            let _ = writeln!(
                out,
                "    {}=auto: {} ({})",
                arg.name(),
                r.value,
                if r.from_host {
                    "this host's GPUs"
                } else {
                    "no NVIDIA GPU's compute capability found here: the documented list"
                }
            );
        }
        match passthroughs.get(&image.backend) {
            Some(p) if !p.devices.is_empty() => {
                let groups = if p.group_add.is_empty() {
                    "none".to_string()
                } else {
                    p.group_add.join(" ")
                };
                let _ = writeln!(out, "    devices {}; groups {groups}", p.devices.join(" "));
            }
            Some(_) => {}
            None => {
                let _ = writeln!(out, "    not runnable on this host (see excluded cells)");
            }
        }
        for n in passthroughs
            .get(&image.backend)
            .map(|p| p.notes.as_slice())
            .unwrap_or_default()
        {
            let _ = writeln!(out, "    note: {n}");
        }
    }
}

/// The matrix's size and its requests in all.
fn matrix_section(out: &mut String, plan: &Plan, matrix: &Matrix) {
    let b = &plan.bench;
    let cells: usize = matrix.groups.iter().map(|g| g.cells.len()).sum();
    let _ = writeln!(
        out,
        "\nmatrix: {} cells, {cells} runnable here, {} excluded (listed below), {} left out by the plan's exclude rules",
        cells + matrix.excluded.len(),
        matrix.excluded.len(),
        matrix.left_out.iter().sum::<usize>()
    );
    let _ = writeln!(
        out,
        "\n{cells} cells in {}{} server starts, {}{} requests:",
        if b.most_rounds() > b.rounds {
            "at most "
        } else {
            ""
        },
        matrix.groups.len() as u32 * b.most_rounds(),
        if b.precision.is_some() {
            "at most "
        } else {
            ""
        },
        cells as u32 * (b.warmup_runs * b.most_rounds() + b.max_runs())
    );
    if let Some(ab) = &plan.ab {
        let arms: Vec<String> = ab.arms.iter().map(crate::plan::ab::arm_name).collect();
        let _ = writeln!(
            out,
            "
A/B: arms {} (the first the baseline); {}",
            arms.join(" | "),
            ab.text()
        );
    }
}

/// Each server start: its command line, environment, request fields, fault,
/// and its cells.
fn starts_section(out: &mut String, plan: &Plan, matrix: &Matrix) {
    let b = &plan.bench;
    for (i, g) in matrix.groups.iter().enumerate() {
        let v = &g.settings;
        let env: Vec<String> = v.env.iter().map(|(k, x)| format!("{k}={x}")).collect();
        let _ = writeln!(
            out,
            "\nserver start {}: {} / {} / {}\n  llama-server {}{}",
            i + 1,
            g.backend.name(),
            g.model_name,
            v.name,
            v.server_argv.join(" "),
            if env.is_empty() {
                String::new()
            } else {
                format!("\n  environment {}", env.join(" "))
            }
        );
        if !v.request.is_empty() {
            let fields: Vec<String> = v.request.iter().map(|(k, x)| format!("{k}={x}")).collect();
            let _ = writeln!(out, "  request fields {}", fields.join(" "));
        }
        if v.cpus.is_some() || v.cpuset_cpus.is_some() {
            let _ = writeln!(
                out,
                "  container limits: {}{}",
                v.cpus.map_or(String::new(), |c| format!("cpus {c} ")),
                v.cpuset_cpus
                    .as_ref()
                    .map_or(String::new(), |s| format!("cpuset_cpus {s}"))
            );
        }
        if let Some(f) = &v.fault {
            let _ = writeln!(
                out,
                "  injected fault: SIG{} to the server after {} streamed tokens",
                f.signal, f.after_tokens
            );
        }
        let mut t = crate::render::Table::new(["cell", "prompt tokens", "n_predict"]);
        for c in &g.cells {
            t.push([
                c.id.clone(),
                c.prompt_tokens.to_string(),
                b.n_predict.to_string(),
            ]);
        }
        let _ = writeln!(out, "{}", crate::render::terminal::table(&t));
    }
}

/// The llama-bench runs after the server cells, each with its command line.
fn llama_bench_section(out: &mut String, plan: &Plan, matrix: &Matrix) {
    let Some(settings) = plan
        .llama_bench
        .as_ref()
        .filter(|_| !matrix.llama_bench.is_empty())
    else {
        return;
    };
    let _ = writeln!(
        out,
        "\nllama-bench: {} run(s) after the server cells (the flags mapped to each image's own llama-bench, which may spell them the older way):",
        matrix.llama_bench.len()
    );
    for r in &matrix.llama_bench {
        let argv = crate::llama_bench::planned_argv(settings, r);
        let _ = writeln!(out, "  {}: llama-bench {}", r.name, argv.join(" "));
    }
}

/// The cells that cannot run here, by reason, and those the plan's rules left out.
fn excluded_section(out: &mut String, matrix: &Matrix) {
    if !matrix.excluded.is_empty() {
        // Grouped by reason: a missing device excludes many cells at once.
        let mut reasons: Vec<(&str, Vec<&str>)> = Vec::new();
        for e in &matrix.excluded {
            match reasons.iter_mut().find(|(r, _)| *r == e.reason) {
                Some((_, ids)) => ids.push(&e.id),
                None => reasons.push((&e.reason, vec![&e.id])),
            }
        }
        let _ = writeln!(out, "\nexcluded:");
        for (reason, ids) in reasons {
            let _ = writeln!(out, "  {} cell(s): {reason}", ids.len());
            for id in ids {
                let _ = writeln!(out, "    {id}");
            }
        }
    }
    let rules: Vec<String> = matrix
        .left_out
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(i, n)| format!("exclude[{i}] {n}"))
        .collect();
    if !rules.is_empty() {
        let _ = writeln!(
            out,
            "\nleft out by the plan's rules ({} cells): {}",
            matrix.left_out.iter().sum::<usize>(),
            rules.join(", ")
        );
    }
}

/// Each model's size for the estimate (`plan::models::ModelPlan::size_bytes`).
fn model_sizes(matrix: &Matrix) -> Vec<Option<u64>> {
    matrix.models.iter().map(|m| m.size_bytes).collect()
}

/// `--dry-run --json`: the resolved plan, each server start with its argv
/// and cells, each llama-bench run with its argv, the excluded cells, each
/// backend's passthrough and image inputs, what is cached, and the estimate in
/// seconds.
pub fn json(plan: &Plan, matrix: &Matrix, rates: &Rates) -> serde_json::Value {
    debug_assert_eq!(matrix.models.len(), plan.models.len(), "{UNRESOLVED}");
    use serde_json::json;
    let starts: Vec<serde_json::Value> = matrix
        .groups
        .iter()
        .map(|g| {
            let v = &g.settings;
            json!({
                "backend": g.backend,
                "source": g.source_name,
                "model": g.model_name,
                "variant": v.name,
                "server_argv": v.server_argv,
                "env": v.env,
                "cells": g.cells,
            })
        })
        .collect();
    let models: Vec<serde_json::Value> = plan
        .models
        .iter()
        .zip(&matrix.models)
        .map(|(m, here)| {
            let synthetic = m.recipe();
            json!({
                "name": m.name,
                "file": m.file,
                "sha256": m.sha256,
                "cached": here.cached.is_some(),
                "synthetic": synthetic,
                "estimated_bytes": synthetic.and_then(crate::synth::estimated_size),
                "needed": here.needed,
            })
        })
        .collect();
    let e = crate::plan::estimate::estimate(plan, matrix, &model_sizes(matrix), rates);
    json!({
        "plan": plan,
        "server_starts": starts,
        "llama_bench": matrix.llama_bench.iter().map(|r| json!({
            "name": r.name,
            "backend": r.backend,
            "source": r.source_name,
            "model": r.model_name,
            "model_file": r.model_file,
            "gpu_layers": r.gpu_layers,
            "argv": plan.llama_bench.as_ref().map(|s| crate::llama_bench::planned_argv(s, r)),
        })).collect::<Vec<_>>(),
        "cells": matrix.groups.iter().map(|g| g.cells.len()).sum::<usize>(),
        "excluded": matrix.excluded,
        "left_out_by_rule": matrix.left_out,
        "passthroughs": matrix.passthroughs,
        "images": matrix.images.iter().map(|i| json!({
            "backend": i.backend,
            "containerfile": i.backend.containerfile(),
            "base_image": i.base_image,
            "build_args": i.build_args,
            "from_auto": i.from_auto.iter().map(|(a, r)| json!({
                "arg": a.name(),
                "value": r.value,
                "from_host": r.from_host,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "models": models,
        "estimate_s": {
            "total": e.total_s(),
            "builds": e.build_s,
            "model_loads": e.load_s,
            "requests": e.requests_s,
            "llama_bench": e.llama_bench_s,
            "not_estimated": e.unknown_size,
            "assumes": rates.describe(),
        },
    })
}

fn estimate_section(out: &mut String, plan: &Plan, matrix: &Matrix, rates: &Rates) {
    let e = crate::plan::estimate::estimate(plan, matrix, &model_sizes(matrix), rates);
    let llama_bench = if plan.llama_bench.is_some() {
        format!(", llama-bench {}", human(e.llama_bench_s))
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "
estimate: about {} (image builds up to {}, model loads {}, requests {}{llama_bench})",
        human(e.total_s()),
        human(e.build_s),
        human(e.load_s),
        human(e.requests_s)
    );
    if plan.bench.precision.is_some() {
        let _ = writeln!(
            out,
            "  requests counted at bench.max_runs per cell: an upper bound; a cell stops earlier once its intervals are narrow enough"
        );
    }
    let _ = writeln!(
        out,
        "  rough: {}. Not counted: downloads, cool-down waits, stall timeouts of failing cells.",
        rates.describe()
    );
    if !e.unknown_size.is_empty() {
        let _ = writeln!(
            out,
            "  not estimated (size unknown until downloaded; set size_bytes): {}",
            e.unknown_size.join(", ")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::Backend;
    use crate::host::devices::Passthrough;
    use crate::plan::matrix::expand;
    use std::collections::BTreeMap;

    /// `matrix` as `Matrix::on_host` completes it, on the host without a GPU.
    fn resolved(plan: &Plan, mut matrix: Matrix, cache: &Cache) -> Matrix {
        matrix.resolve_inputs(plan, no_gpu_host, cache);
        matrix
    }

    fn no_gpu_host() -> crate::host::HostFacts {
        crate::host::probe(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hosts/no-gpu"),
        )
    }

    #[test]
    fn an_h200_host_takes_its_bandwidth_its_cores_and_a_discrete_gpus_prompt_rate() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/hosts/nvidia-h200");
        let mut plan = crate::plan::builtin(2).unwrap();
        let r = crate::report::roofline::estimate_rates(&plan, &crate::host::probe(&root));
        assert_eq!(r.gpu_gbs, 4800.0);
        assert!(r.discrete);
        assert_eq!(r.cpu_gbs, 60.0);
        assert_eq!(r.cores, 16);
        assert!(r.describe().contains("GPU 4800 GB/s"), "{}", r.describe());
        // Builds: cuda was measured on 16 cores (288 s); cpu on 2 (282 s):
        // 282 × (2/16)^0.45 = 282 × 0.392280 = 110.62 s (114 s measured there).
        assert!((r.build_seconds(Backend::Cuda) - 288.0).abs() < 1e-9);
        assert!((r.build_seconds(Backend::Cpu) - 110.62).abs() < 0.01);
        // gemma3-27b Q8_0 (28 708 843 488 bytes), 11205 prompt tokens and 64
        // generated on cuda: tg = 0.6 × 4800e9 / 28708843488 = 100.3175 t/s,
        // pp = 40 × tg = 4012.70 t/s; 11205 / 4012.70 + 64 / 100.3175 =
        // 2.79239 + 0.63797 = 3.43036 s. (An H100, 3350 GB/s, measured 3.8 s
        // of prompt and 1.0 s of generation: results/nvidia-vulkan-2026-12.)
        let s = r.request_seconds(Backend::Cuda, 28_708_843_488, 11205, 64);
        assert!((s - 3.43036).abs() < 1e-4, "{s}");
        // A 270M model meets the per-token floor: 128 tokens take 0.192 s
        // (1.5 ms each), not 128 / 11378 s; 31 prompt tokens at 40 × 666.7.
        let s = r.request_seconds(Backend::Cuda, 253_113_024, 31, 128);
        assert!((s - (31.0 / (40.0 / 1.5e-3) + 0.192)).abs() < 1e-9, "{s}");
        // The CPU keeps its own bandwidth and the 10× prompt rate:
        // tg = 0.6 × 60e9 / 253113024 = 142.2278, 128 / tg + 31 / 1422.278.
        let s = r.request_seconds(Backend::Cpu, 253_113_024, 31, 128);
        assert!(
            (s - (128.0 / 142.2278 + 31.0 / 1422.278)).abs() < 1e-4,
            "{s}"
        );
        // The plan's bandwidth wins, for every backend.
        plan.bench.memory_bandwidth_gbs = Some(1000.0);
        let r = crate::report::roofline::estimate_rates(&plan, &crate::host::probe(&root));
        assert_eq!((r.gpu_gbs, r.cpu_gbs), (1000.0, 1000.0));
        assert!(
            r.describe()
                .contains("the plan's bench.memory_bandwidth_gbs")
        );
        // No GPU known: the assumption, said so; the host's cores still count.
        let r = crate::report::roofline::estimate_rates(
            &plan,
            &crate::host::probe(&root.with_file_name("no-gpu")),
        );
        assert_eq!(r.gpu_from, "the plan's bench.memory_bandwidth_gbs");
        plan.bench.memory_bandwidth_gbs = None;
        let r = crate::report::roofline::estimate_rates(
            &plan,
            &crate::host::probe(&root.with_file_name("no-gpu")),
        );
        assert_eq!(r.gpu_gbs, 256.0);
        assert!(!r.discrete);
        assert!(r.gpu_from.starts_with("assumed"));
    }

    #[test]
    fn the_studys_plan_dry_runs_to_its_matrix_on_a_host_without_gpu() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("plans/strix-halo-2026-05.toml");
        let plan = crate::plan::load(&path, 2).unwrap();
        let mut matrix = expand(&plan);
        // The study's 31: 24 cells at b9016 (Qwen: vulkan f16, rocm6 f16 and
        // q8k; Gemma the same), the b9016 smoke test, 4 Gemma cells at master
        // plus 2 smoke tests; and the ROCm 7.x arm: rocm6's 16 cells at b9016.
        let all: usize = matrix.groups.iter().map(|g| g.cells.len()).sum();
        assert_eq!(all, 31 + 16);
        let reasons = BTreeMap::from([
            (Backend::Vulkan, "vulkan needs /dev/dri".to_string()),
            (Backend::Rocm6, "rocm6 needs /dev/kfd".to_string()),
            (Backend::Rocm7, "rocm7 needs /dev/kfd".to_string()),
        ]);
        matrix.exclude_backends(&reasons);
        let cache = Cache::new(std::path::PathBuf::from("/nonexistent-cache"));
        let matrix = resolved(&plan, matrix, &cache);
        let text = render(&plan, &matrix, &cache, &Rates::assumed());
        assert!(text.contains(
            "matrix: 47 cells, 0 runnable here, 47 excluded (listed below), 145 left out by the plan's exclude rules"
        ), "{text}");
        assert!(
            text.contains("  8 cell(s): vulkan needs /dev/dri"),
            "{text}"
        );
        assert!(
            text.contains("  23 cell(s): rocm6 needs /dev/kfd"),
            "{text}"
        );
        assert!(
            text.contains("  16 cell(s): rocm7 needs /dev/kfd"),
            "{text}"
        );
        // rocWMMA flash attention where the build can have it (build notes).
        assert!(
            text.contains("GPU_TARGETS=gfx1151 HIP_NO_VMM=ON ROCWMMA_FATTN=auto"),
            "{text}"
        );
        for id in [
            "vulkan@b9016.qwen3.6-35b-a3b-ud-q5_k_xl.f16.p11205",
            "rocm6@b9016.qwen3.6-35b-a3b-ud-q5_k_xl.q8k.p3799",
            "rocm6@b9016.gemma-4-31b-it-q8_0.smoke-nographs.p31",
            "rocm6@master.gemma-4-31b-it-q8_0.f16.p461",
            "rocm6@master.gemma-4-31b-it-q8_0.smoke.p31",
            "rocm7@b9016.gemma-4-31b-it-q8_0.q8k.p11205",
        ] {
            assert!(text.contains(&format!("    {id}\n")), "{id}");
        }
        assert!(!text.contains("vulkan@b9016.qwen3.6-35b-a3b-ud-q5_k_xl.q8k"));
        assert!(text.contains("llama.cpp source master: commit dbe7901ca"));
        // Nothing runs here, so nothing to build or time.
        assert!(
            text.contains("estimate: about 0 s (image builds up to 0 s,"),
            "{text}"
        );
    }

    #[test]
    fn the_llama_bench_runs_are_listed_with_their_command_lines() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("plans/h200-study.toml");
        let plan = crate::plan::load(&path, 16).unwrap();
        let mut matrix = expand(&plan);
        matrix.exclude_backends(&BTreeMap::from([(
            Backend::Vulkan,
            "vulkan needs /dev/dri".to_string(),
        )]));
        let cache = Cache::new(std::path::PathBuf::from("/nonexistent-cache"));
        let matrix = resolved(&plan, matrix, &cache);
        let text = render(&plan, &matrix, &cache, &Rates::assumed());
        // The CPU on the real small model only (its baseline), cuda on all
        // four; vulkan's left with its cells.
        assert!(
            text.contains("\nllama-bench: 5 run(s) after the server cells"),
            "{text}"
        );
        let flags =
            "-p 512 -n 128 -r 3 -ngl {ngl} -t 16 -o json -d 0,11205 -fa on --load-mode mmap";
        for (name, file, ngl) in [
            ("cpu.gemma-3-270m-q4_k_m", "gemma-3-270m-q4_k_m.gguf", "0"),
            (
                "cuda.synthetic-gemma3-27b-q8_0",
                "gemma3-27b-q8_0-s0.gguf",
                "999",
            ),
        ] {
            let line = format!(
                "  {name}: llama-bench -m /models/{file} {}\n",
                flags.replace("{ngl}", ngl)
            );
            assert!(text.contains(&line), "{line}\n{text}");
        }
        let benched = text.lines().filter(|l| l.contains(": llama-bench -m "));
        assert!(
            benched
                .clone()
                .all(|l| l.starts_with("  cpu.gemma-3-270m-q4_k_m: ") || l.starts_with("  cuda.")),
            "{text}"
        );
        assert_eq!(benched.count(), 5);
        let j = json(&plan, &matrix, &Rates::assumed());
        assert_eq!(j["llama_bench"].as_array().unwrap().len(), 5);
        assert_eq!(j["llama_bench"][0]["name"], "cpu.gemma-3-270m-q4_k_m");
        assert_eq!(j["llama_bench"][0]["gpu_layers"], 0);
    }

    #[test]
    fn default_plan_dry_run_names_cells_sources_and_images() {
        let plan = crate::plan::builtin(2).unwrap();
        let cache = Cache::new(std::path::PathBuf::from("/nonexistent-cache"));
        let mut matrix = expand(&plan);
        matrix.passthroughs = BTreeMap::from([(Backend::Cpu, Passthrough::default())]);
        let matrix = resolved(&plan, matrix, &cache);
        let text = render(&plan, &matrix, &cache, &Rates::assumed());
        assert!(
            text.contains("4 cells in 4 server starts, 32 requests"),
            "{text}"
        );
        assert!(text.contains("cpu.gemma-3-270m-q4_k_m.default.p11205"));
        assert!(text.contains("PyPI sdist llama-cpp-python==0.3.36 (pinned, to fetch)"));
        assert!(text.contains(
            "https://github.com/ggml-org/llama.cpp/archive/0c1e57098bba43ac29e6e3b677cdceebdd22334f.tar.gz (unpinned"
        ));
        assert!(text.contains("cpu: Containerfile.cpu on auto:"));
        assert!(text.contains("--ctx-size 16384"));
        assert!(text.contains(
            "matrix: 4 cells, 4 runnable here, 0 excluded (listed below), 0 left out by the plan's exclude rules"
        ));
        // 4 rounds: 282 s build + 4 × 0.13 s loads + 79.77 × 8 = 638.2 s
        // requests (1 warm-up per round + 4 measured runs a cell: 8 requests
        // where plan::estimate's test has 5 of 79.77 s) = 920.7 s. On this
        // 2-core VM the requests took 702 s (results/cpu-vm-2026-12/default).
        assert!(
            text.contains(
                "estimate: about 15 min (image builds up to 5 min, model loads 1 s, requests 11 min)"
            ),
            "{text}"
        );
    }

    #[test]
    fn the_dry_run_says_what_the_host_made_of_an_auto_build_argument() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let plan = crate::plan::load(&dir.join("plans/h200-study.toml"), 16).unwrap();
        let cache = Cache::new(std::path::PathBuf::from("/nonexistent-cache"));
        let on = |host: &str| {
            let matrix =
                Matrix::on_host(&plan, &dir.join("tests/fixtures/hosts").join(host), &cache);
            (
                render(&plan, &matrix, &cache, &Rates::assumed()),
                json(&plan, &matrix, &Rates::assumed()),
            )
        };
        let (text, j) = on("nvidia-h200");
        assert!(
            text.contains("build args CUDA_ARCHITECTURES=90 CUDA_FA_ALL_QUANTS=OFF"),
            "{text}"
        );
        assert!(
            text.contains("    CUDA_ARCHITECTURES=auto: 90 (this host's GPUs)"),
            "{text}"
        );
        let cuda = &j["images"][1];
        assert_eq!(cuda["backend"], "cuda");
        assert_eq!(cuda["build_args"]["CUDA_ARCHITECTURES"], "90");
        assert_eq!(cuda["from_auto"][0]["from_host"], true);
        // Without an NVIDIA GPU the image is built for the documented list.
        let (text, _) = on("no-gpu");
        let fallback = crate::backend::CUDA_ARCHITECTURES_FALLBACK;
        assert!(
            text.contains(&format!("    CUDA_ARCHITECTURES=auto: {fallback} (no NVIDIA GPU's compute capability found here")),
            "{text}"
        );
    }
}
