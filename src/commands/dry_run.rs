//! `rigbench run --dry-run`: the resolved matrix and what would be fetched and
//! built, without touching the engine or the network.

use std::fmt::Write as _;

use comfy_table::Table;

use crate::cache::Cache;
use crate::fetch::{archive_url, describe_model_source};
use std::collections::BTreeMap;

use crate::backend::Backend;
use crate::host::devices::Passthrough;
use crate::plan::matrix::Matrix;
use crate::plan::{ArchiveFile, Plan};
use crate::runner::cell_variant;

fn cached(path: &std::path::Path) -> &'static str {
    if path.is_file() { "cached" } else { "to fetch" }
}

pub fn render(
    plan: &Plan,
    matrix: &Matrix,
    cache: &Cache,
    passthroughs: &BTreeMap<Backend, Passthrough>,
) -> String {
    let mut out = String::new();
    let b = &plan.bench;
    let _ = writeln!(out, "plan {} ({})", plan.name, plan.origin);
    let _ = writeln!(
        out,
        "bench: {} warm-up + {} measured runs per cell, n_predict {}, seed {}, health timeout {} s, stall timeout {} s",
        b.warmup_runs, b.runs, b.n_predict, b.seed, b.health_timeout_s, b.stall_timeout_s
    );
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
            let (sha, desc) = match a {
                ArchiveFile::PypiSdist {
                    package,
                    version,
                    sha256,
                    ..
                } => (sha256, format!("PyPI sdist {package}=={version}")),
                ArchiveFile::Path { path, sha256, .. } => (sha256, path.clone()),
                ArchiveFile::Url { sha256, .. } | ArchiveFile::Github { sha256, .. } => {
                    (sha256, archive_url(a, &src.commit).unwrap_or_default())
                }
            };
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
    let _ = writeln!(out, "\nmodels:");
    for m in &plan.models {
        let state = match &m.sha256 {
            Some(s) => format!(
                "sha256 {s}, {}",
                cached(&cache.models().join(s).join(&m.file))
            ),
            None => "unpinned: sha256 recorded at first download".to_string(),
        };
        let _ = writeln!(out, "  {} ({}; {state})", m.name, m.file);
        for s in &m.sources {
            let _ = writeln!(out, "    from {}", describe_model_source(s));
        }
    }
    let _ = writeln!(
        out,
        "\nimages (built unless one with the same inputs exists):"
    );
    for bp in &plan.backends {
        let base = if bp.base_image == "auto" {
            let c: Vec<&str> = bp
                .backend
                .base_candidates()
                .iter()
                .map(|(r, _)| *r)
                .collect();
            format!("auto: {}", c.join(", else "))
        } else {
            bp.base_image.clone()
        };
        let args: Vec<String> = bp
            .build_args
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let _ = writeln!(
            out,
            "  {}: {} on {base}; build args {}",
            bp.backend.name(),
            bp.backend.containerfile(),
            if args.is_empty() {
                "none".to_string()
            } else {
                args.join(" ")
            }
        );
        match passthroughs.get(&bp.backend) {
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
            .get(&bp.backend)
            .map(|p| p.notes.as_slice())
            .unwrap_or_default()
        {
            let _ = writeln!(out, "    note: {n}");
        }
    }
    let cells: usize = matrix.groups.iter().map(|g| g.cells.len()).sum();
    let _ = writeln!(
        out,
        "\n{cells} cells in {} server starts, {} requests:",
        matrix.groups.len(),
        cells as u32 * (b.warmup_runs + b.runs)
    );
    for (i, g) in matrix.groups.iter().enumerate() {
        let model = &plan.models[g.model];
        let v = cell_variant(g.backend, &model.file, &plan.variants[g.variant]);
        let env: Vec<String> = v.env.iter().map(|(k, x)| format!("{k}={x}")).collect();
        let _ = writeln!(
            out,
            "\nserver start {}: {} / {} / {}\n  llama-server {}{}",
            i + 1,
            g.backend.name(),
            model.name,
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
        if let Some(f) = &v.fault {
            let _ = writeln!(
                out,
                "  injected fault: SIG{} to the server after {} streamed tokens",
                f.signal, f.after_tokens
            );
        }
        let mut t = Table::new();
        t.set_header(vec!["cell", "prompt tokens", "n_predict"]);
        for c in &g.cells {
            t.add_row(vec![
                c.id.clone(),
                c.prompt_tokens.to_string(),
                b.n_predict.to_string(),
            ]);
        }
        let _ = writeln!(out, "{t}");
    }
    if !matrix.excluded.is_empty() {
        let _ = writeln!(out, "\nexcluded:");
        for e in &matrix.excluded {
            let _ = writeln!(out, "  {}: {}", e.id, e.reason);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::matrix::expand;

    #[test]
    fn default_plan_dry_run_names_cells_sources_and_images() {
        let plan = crate::plan::builtin(2).unwrap();
        let cache = Cache::new(std::path::PathBuf::from("/nonexistent-cache"));
        let pass = BTreeMap::from([(Backend::Cpu, Passthrough::default())]);
        let text = render(&plan, &expand(&plan), &cache, &pass);
        assert!(
            text.contains("4 cells in 1 server starts, 20 requests"),
            "{text}"
        );
        assert!(text.contains("cpu.gemma-3-270m-q4_k_m.default.p11205"));
        assert!(text.contains("PyPI sdist llama-cpp-python==0.3.36 (pinned, to fetch)"));
        assert!(text.contains(
            "https://github.com/ggml-org/llama.cpp/archive/0c1e57098bba43ac29e6e3b677cdceebdd22334f.tar.gz (unpinned"
        ));
        assert!(text.contains("cpu: Containerfile.cpu on auto:"));
        assert!(text.contains("--ctx-size 16384"));
    }
}
