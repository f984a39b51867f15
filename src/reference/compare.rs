//! A run against a published reference: every published cell with the run's
//! matching cell beside it (ratio run/published with its interval from the
//! published mean, sd and n, Holm-adjusted p across the cells, verdict against
//! the noise band), failures ("failed as published", "ran where published
//! failed", "failed where published ran"), and the published setup facts next to
//! the run's. Pure functions; `markdown` renders the result.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use super::{RefCell, Reference};
use crate::comparison::render::short;
use crate::manifest::{Cell, Manifest};
use crate::report::markdown::{escape_cell, mean_sd, table};
use crate::stats::compare::{Moments, Ratio, Verdict, holm, ratio_of, verdict, welch_of};
use crate::stats::{Summary, summarize};
use crate::status::CellStatus;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FactCheck {
    pub fact: String,
    pub published: String,
    /// The run's value, where it records this fact.
    pub yours: Option<String>,
    /// `None`: not comparable (not published, not recorded, no version in it).
    pub differs: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricResult {
    pub metric: String,
    pub published: String,
    pub yours: Option<Summary>,
    pub ratio: Option<Ratio>,
    pub p: Option<f64>,
    pub p_adjusted: Option<f64>,
    pub verdict: Option<Verdict>,
    /// For a published range: whether the run's mean lies in it.
    pub in_range: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellResult {
    pub cell: String,
    /// "compared", "not run", "failed where published ran (crash)".
    pub status: String,
    pub metrics: Vec<MetricResult>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailureResult {
    pub configuration: String,
    pub published: String,
    pub yours: Vec<String>,
    pub status: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefComparison {
    pub reference: String,
    pub title: String,
    pub run: String,
    pub band: f64,
    pub setup: Vec<FactCheck>,
    pub cells: Vec<CellResult>,
    pub failures: Vec<FailureResult>,
}

/// Digit groups of a text: "6.4.43484" → [6, 4, 43484].
fn numbers(s: &str) -> Vec<u64> {
    s.split(|c: char| !c.is_ascii_digit())
        .filter(|p| !p.is_empty())
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// Whether the run's value differs from the published one: commits by prefix,
/// versions and numbers by their leading digit groups.
pub fn differs(check: &str, published: &str, yours: &str) -> Option<bool> {
    if published.eq_ignore_ascii_case("not published") {
        return None;
    }
    if check.starts_with("commit:") {
        return Some(
            !yours
                .to_ascii_lowercase()
                .starts_with(&published.to_ascii_lowercase()),
        );
    }
    if published.eq_ignore_ascii_case(yours) {
        return Some(false);
    }
    let (p, y) = (numbers(published), numbers(yours));
    if p.is_empty() {
        return None;
    }
    Some(y.len() < p.len() || y[..p.len()] != p[..])
}

/// The run's value of a fact named by a reference's `check`.
pub fn run_fact(m: &Manifest, check: &str) -> Option<String> {
    let image = |backend: &str| m.images.iter().find(|i| i.backend == backend);
    let runtime = |backend: &str, key: &str| {
        image(backend)
            .and_then(|i| i.runtime_info.get(key))
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let gpu = m.host.gpus.first();
    let parts: Vec<&str> = check.split(':').collect();
    match parts.as_slice() {
        ["gpu_target"] => gpu.and_then(|g| g.gfx_target.clone()),
        ["vram_gb"] => gpu
            .and_then(|g| g.vram_total_bytes)
            .map(|b| format!("{:.1}", b as f64 / 1e9)),
        ["commit", source] => m
            .images
            .iter()
            .find(|i| i.source == *source)
            .or_else(|| m.images.first().filter(|_| m.plan.sources.len() == 1))
            .map(|i| i.llama_cpp.commit.clone()),
        ["rocm"] => runtime("rocm6", "rocm").or_else(|| runtime("rocm7", "rocm")),
        ["mesa"] => runtime("vulkan", "mesa_vulkan_drivers"),
        ["build_arg", backend, arg] => image(backend).and_then(|i| i.build_args.get(*arg).cloned()),
        ["ctx", variant] => m
            .plan
            .variants
            .iter()
            .find(|v| v.name == *variant)
            .map(|v| v.ctx_size.to_string()),
        ["kernel_cmdline"] => m.host.kernel.cmdline.clone(),
        ["nvidia_gpu"] => m
            .host
            .nvidia
            .as_ref()
            .and_then(|n| n.gpus.first().map(|g| g.name.clone())),
        ["nvidia_driver"] => m
            .host
            .nvidia
            .as_ref()
            .and_then(|n| n.driver_version.clone()),
        ["cuda_runtime"] => image("cuda").and_then(|i| i.toolchain.get("cuda_runtime").cloned()),
        ["cublas"] => image("cuda").and_then(|i| i.toolchain.get("cublas").cloned()),
        ["host_os"] => m.host.os.clone(),
        ["cpu_model"] => m.host.cpu.model.clone(),
        _ => None,
    }
}

/// The run's cell for a published one: same backend, model, variant, prompt
/// length, and source name when the run's plan has several sources.
fn find<'a>(m: &'a Manifest, r: &RefCell) -> Option<&'a Cell> {
    m.cells.iter().find(|c| {
        c.backend == r.backend
            && c.model == r.model
            && c.variant.name == r.variant
            && c.prompt_tokens == r.prompt_tokens
            && c.source_label().is_none_or(|s| s == r.source)
    })
}

fn label(r: &RefCell) -> String {
    format!(
        "{}@{} {} {} p{}",
        r.backend, r.source, r.model, r.variant, r.prompt_tokens
    )
}

/// Compares the run `m` (named `run`) with `reference`.
pub fn compare(reference: &Reference, run: &str, m: &Manifest, band: f64) -> RefComparison {
    let setup = reference
        .setup
        .iter()
        .map(|f| {
            let yours = f.check.as_deref().and_then(|c| run_fact(m, c));
            let differs = match (&f.check, &yours) {
                (Some(c), Some(y)) => differs(c, &f.value, y),
                _ => None,
            };
            FactCheck {
                fact: f.fact.clone(),
                published: f.value.clone(),
                yours,
                differs,
            }
        })
        .collect();

    let mut cells = Vec::new();
    for r in &reference.cells {
        let cell = find(m, r);
        let status = match cell {
            None => "not run".to_string(),
            Some(c) if c.status == CellStatus::Failed => format!(
                "failed where published ran ({})",
                c.failure.as_ref().map_or("?", |f| f.mode.name())
            ),
            Some(c) if c.status != CellStatus::Ok => c.status.to_string(),
            Some(_) => "compared".to_string(),
        };
        let mut metrics = Vec::new();
        for (key, published) in [
            ("gen_tps", r.gen_tps),
            ("pp_tps", r.pp_tps),
            ("ttft_ms", r.ttft_ms),
        ] {
            let Some([mean, sd]) = published else {
                continue;
            };
            let v = cell.map(|c| c.values(key)).unwrap_or_default();
            let pubm = Moments::published(mean, sd, reference.runs);
            let mine = Moments::of(&v);
            let (ratio, p) = match (pubm, mine, status.as_str()) {
                (Some(a), Some(b), "compared") => (ratio_of(a, b), welch_of(a, b).map(|w| w.p)),
                _ => (None, None),
            };
            metrics.push(MetricResult {
                metric: key.to_string(),
                published: {
                    let d = if key == "gen_tps" { 1 } else { 0 };
                    format!("{mean:.d$} ± {sd:.d$} (n={})", reference.runs)
                },
                yours: summarize(&v),
                ratio,
                p,
                p_adjusted: None,
                verdict: None,
                in_range: None,
            });
        }
        if let Some([lo, hi]) = r.gen_tps_range {
            let v = cell.map(|c| c.values("gen_tps")).unwrap_or_default();
            let yours = summarize(&v);
            metrics.push(MetricResult {
                metric: "gen_tps".to_string(),
                published: format!("{lo:.1}–{hi:.1} (range)"),
                in_range: yours.as_ref().map(|s| s.mean >= lo && s.mean <= hi),
                yours,
                ratio: None,
                p: None,
                p_adjusted: None,
                verdict: None,
            });
        }
        cells.push(CellResult {
            cell: label(r),
            status,
            metrics,
        });
    }
    // Holm per metric across the compared cells.
    for key in ["gen_tps", "pp_tps", "ttft_ms"] {
        let mut idx = Vec::new();
        let mut ps = Vec::new();
        for (ci, c) in cells.iter().enumerate() {
            for (mi, x) in c.metrics.iter().enumerate() {
                if x.metric == key {
                    if let Some(p) = x.p {
                        idx.push((ci, mi));
                        ps.push(p);
                    }
                }
            }
        }
        for ((ci, mi), adj) in idx.into_iter().zip(holm(&ps)) {
            let x = &mut cells[ci].metrics[mi];
            x.p_adjusted = Some(adj);
            x.verdict = x.ratio.map(|r| verdict(&r, adj, band, key != "ttft_ms"));
        }
    }

    let failures = reference
        .failures
        .iter()
        .map(|f| {
            let mine: Vec<&Cell> = m
                .cells
                .iter()
                .filter(|c| {
                    c.backend == f.backend
                        && c.model == f.model
                        && f.variants.contains(&c.variant.name)
                        && c.source_label().is_none_or(|s| s == f.source)
                })
                .collect();
            let yours: Vec<String> = mine
                .iter()
                .map(|c| match &c.failure {
                    Some(x) => format!("{}: {}", c.id, x.mode),
                    None => format!("{}: {}", c.id, c.status),
                })
                .collect();
            let ran = mine.iter().filter(|c| c.status == CellStatus::Ok).count();
            let same = mine
                .iter()
                .filter(|c| c.failure.as_ref().is_some_and(|x| x.mode == f.mode))
                .count();
            let status = if mine.is_empty() {
                "not run".to_string()
            } else if ran > 0 {
                format!("ran where published failed ({ran} of {} cells)", mine.len())
            } else if same == mine.len() {
                "failed as published".to_string()
            } else {
                "failed, in another way".to_string()
            };
            FailureResult {
                configuration: format!(
                    "{}@{} {} {}",
                    f.backend,
                    f.source,
                    f.model,
                    f.variants.join("/")
                ),
                published: format!("{} {}: {}", f.mode, f.runs, f.evidence),
                yours,
                status,
            }
        })
        .collect();
    RefComparison {
        reference: reference.name.clone(),
        title: reference.title.clone(),
        run: run.to_string(),
        band,
        setup,
        cells,
        failures,
    }
}

/// The comparison as Markdown.
pub fn markdown(c: &RefComparison) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# {} against the published \"{}\" ({})\n",
        c.run, c.title, c.reference
    );
    let _ = writeln!(
        out,
        "Ratios are yours ÷ published, with a 95 % interval from both sides' mean, sd and n; verdicts at a ±{:.0} % band (Holm-adjusted Welch p): **same** reproduces the published figure, **faster**/**slower** do not, **inconclusive** cannot tell.\n",
        c.band * 100.0
    );
    let _ = writeln!(out, "## Setup\n");
    let rows = c
        .setup
        .iter()
        .map(|f| {
            vec![
                escape_cell(&f.fact),
                escape_cell(&f.published),
                f.yours
                    .as_ref()
                    .map_or_else(|| "not recorded".to_string(), |y| short(Some(y))),
                match f.differs {
                    Some(true) => "**differs**".to_string(),
                    Some(false) => "same".to_string(),
                    None => "—".to_string(),
                },
            ]
        })
        .collect();
    out.push_str(&table(
        vec!["fact".into(), "published".into(), "yours".into(), "".into()],
        rows,
    ));
    out.push('\n');
    for (key, title, decimals) in [
        ("gen_tps", "Generation, tokens/s", 1usize),
        ("pp_tps", "Prompt processing, tokens/s", 0),
    ] {
        let _ = writeln!(out, "## {title}\n");
        let rows = c
            .cells
            .iter()
            .filter_map(|cell| {
                let x = cell.metrics.iter().find(|x| x.metric == key)?;
                let yours = match (&x.yours, cell.status.as_str()) {
                    (Some(s), "compared") => format!("{} (n={})", mean_sd(s, decimals), s.n),
                    _ => cell.status.clone(),
                };
                let verdict = match (x.verdict, x.in_range) {
                    (Some(v), _) => v.as_str().to_string(),
                    (None, Some(true)) => "in the published range".to_string(),
                    (None, Some(false)) => "outside the published range".to_string(),
                    (None, None) => cell.status.clone(),
                };
                Some(vec![
                    cell.cell.clone(),
                    x.published.clone(),
                    yours,
                    x.ratio.map_or("—".to_string(), |r| {
                        format!("{:.3} ({:.3}–{:.3})", r.ratio, r.ci95_low, r.ci95_high)
                    }),
                    x.p_adjusted.map_or("—".to_string(), |p| format!("{p:.3}")),
                    verdict,
                ])
            })
            .collect();
        out.push_str(&table(
            vec![
                "cell".into(),
                "published".into(),
                "yours".into(),
                "yours ÷ published (95 % CI)".into(),
                "p adj.".into(),
                "verdict".into(),
            ],
            rows,
        ));
        out.push('\n');
    }
    if !c.failures.is_empty() {
        let _ = writeln!(out, "## Published failures\n");
        let rows = c
            .failures
            .iter()
            .map(|f| {
                vec![
                    f.configuration.clone(),
                    escape_cell(&f.published),
                    escape_cell(&if f.yours.is_empty() {
                        "—".to_string()
                    } else {
                        f.yours.join("; ")
                    }),
                    f.status.clone(),
                ]
            })
            .collect();
        out.push_str(&table(
            vec![
                "configuration".into(),
                "published".into(),
                "yours".into(),
                "".into(),
            ],
            rows,
        ));
        out.push('\n');
    }
    out
}
