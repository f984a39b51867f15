//! A run against a published reference: every published cell with the run's
//! matching cell beside it (ratio run/published with its interval from the
//! published mean, sd and n, Holm-adjusted p across the cells, verdict against
//! the noise band), failures ("failed as published", "ran where published
//! failed", "failed where published ran"), and the published setup facts next to
//! the run's. Pure functions; `markdown` renders the result.

use serde::{Deserialize, Serialize};

use super::{RefCell, Reference};
use crate::backend::Backend;
use crate::manifest::{Cell, Manifest};
use crate::metric::Metric;
use crate::stats::compare::{Moments, Ratio, Tested, Verdict, decide, ratio_of, welch_of};
use crate::stats::{Summary, summarize};
use crate::status::{CellStatus, FailureMode};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FactCheck {
    pub fact: String,
    pub published: String,
    /// The run's value, where it records this fact.
    pub yours: Option<String>,
    /// `None`: not comparable (not published, not recorded, no version in it).
    pub differs: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricResult {
    pub metric: Metric,
    pub published: String,
    pub yours: Option<Summary>,
    pub ratio: Option<Ratio>,
    pub p: Option<f64>,
    pub p_adjusted: Option<f64>,
    pub verdict: Option<Verdict>,
    /// For a published range: whether the run's mean lies in it.
    pub in_range: Option<bool>,
}

/// `Tested` for a result with `ratio`, `p`, `p_adjusted` and `verdict` fields.
macro_rules! tested {
    ($($t:ty),*) => {$(
        impl Tested for $t {
            fn p(&self) -> Option<f64> {
                self.p
            }
            fn ratio(&self) -> Option<Ratio> {
                self.ratio
            }
            fn decided(&mut self, p_adjusted: f64, verdict: Option<Verdict>) {
                self.p_adjusted = Some(p_adjusted);
                self.verdict = verdict;
            }
        }
    )*};
}

tested!(MetricResult, LlamaBenchResult);

/// Where a published cell stands in the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CellStanding {
    /// The run's cell ran: its figures are compared.
    Compared,
    /// The run has no such cell.
    NotRun,
    /// The run's cell failed, in this mode, where the published one ran.
    FailedWherePublishedRan(FailureMode),
    /// The run's cell has not finished (pending).
    Unfinished(CellStatus),
}

impl std::fmt::Display for CellStanding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CellStanding::Compared => f.write_str("compared"),
            CellStanding::NotRun => f.write_str("not run"),
            CellStanding::FailedWherePublishedRan(m) => {
                write!(f, "failed where published ran ({m})")
            }
            CellStanding::Unfinished(s) => write!(f, "{s}"),
        }
    }
}

/// Where a published failure stands in the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureStanding {
    /// The run has no cell of that configuration.
    NotRun,
    /// `ran` of the run's `of` cells of that configuration ran.
    RanWherePublishedFailed { ran: usize, of: usize },
    /// Every one of the run's cells failed in the published mode.
    FailedAsPublished,
    /// They failed, not all in the published mode.
    FailedAnotherWay,
}

impl std::fmt::Display for FailureStanding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FailureStanding::NotRun => f.write_str("not run"),
            FailureStanding::RanWherePublishedFailed { ran, of } => {
                write!(f, "ran where published failed ({ran} of {of} cells)")
            }
            FailureStanding::FailedAsPublished => f.write_str("failed as published"),
            FailureStanding::FailedAnotherWay => f.write_str("failed, in another way"),
        }
    }
}

/// `--json` writes a standing as the words the Markdown shows.
fn as_words<T: std::fmt::Display, S: serde::Serializer>(t: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(t)
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CellResult {
    pub cell: String,
    #[serde(serialize_with = "as_words")]
    pub status: CellStanding,
    pub metrics: Vec<MetricResult>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailureResult {
    pub configuration: String,
    pub published: String,
    pub yours: Vec<String>,
    #[serde(serialize_with = "as_words")]
    pub status: FailureStanding,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RefComparison {
    pub reference: String,
    pub title: String,
    pub run: String,
    pub band: f64,
    pub setup: Vec<FactCheck>,
    pub cells: Vec<CellResult>,
    pub failures: Vec<FailureResult>,
    /// The published llama-bench tests beside the run's.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub llama_bench: Vec<LlamaBenchResult>,
}

/// A published llama-bench test and the run's test of the same backend,
/// model type, prompt, generation and depth (over its repetitions).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LlamaBenchResult {
    /// `cpu gemma3 270M Q4_K - Medium pp16`.
    pub test: String,
    pub published: String,
    /// The run's samples (tokens/s), where it has the test.
    pub yours: Option<Summary>,
    pub ratio: Option<Ratio>,
    pub p: Option<f64>,
    pub p_adjusted: Option<f64>,
    pub verdict: Option<Verdict>,
}

/// The run's samples (tokens/s) of the llama-bench test matching `t`.
fn llama_bench_samples(m: &Manifest, t: &super::RefLlamaBench) -> Vec<f64> {
    let count = crate::llama_bench::count;
    m.llama_bench
        .iter()
        .filter(|r| r.backend == t.backend && r.status == CellStatus::Ok)
        .flat_map(|r| r.results.iter())
        .find(|x| {
            x.get("model_type").and_then(|v| v.as_str()) == Some(t.model_type.as_str())
                && count(x, "n_prompt") == t.n_prompt
                && count(x, "n_gen") == t.n_gen
                && count(x, "n_depth") == t.n_depth
        })
        .and_then(|x| x.get("samples_ts"))
        .and_then(|v| v.as_array())
        .map(|a| a.iter().filter_map(|v| v.as_f64()).collect())
        .unwrap_or_default()
}

/// Every published llama-bench test against the run's, Holm-adjusted together.
fn compare_llama_bench(reference: &Reference, m: &Manifest, band: f64) -> Vec<LlamaBenchResult> {
    let mut out: Vec<LlamaBenchResult> = reference
        .llama_bench
        .iter()
        .map(|t| {
            let v = llama_bench_samples(m, t);
            let [mean, sd] = t.ts;
            let (ratio, p) = match (Moments::published(mean, sd, t.repetitions), Moments::of(&v)) {
                (Some(a), Some(b)) => (ratio_of(a, b), welch_of(a, b).map(|w| w.p)),
                _ => (None, None),
            };
            LlamaBenchResult {
                test: format!("{} {} {}", t.backend, t.model_type, t.test()),
                published: format!("{mean:.2} ± {sd:.2} (n={})", t.repetitions),
                yours: summarize(&v),
                ratio,
                p,
                p_adjusted: None,
                verdict: None,
            }
        })
        .collect();
    decide(out.iter_mut(), band, true);
    out
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
    let image = |backend: Backend| m.images.iter().find(|i| i.backend == backend);
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
        ["build_arg", backend, arg] => Backend::parse(backend)
            .and_then(image)
            .and_then(|i| i.build_args.get(*arg).cloned()),
        ["ctx", variant] => m
            .plan
            .variants
            .iter()
            .find(|v| v.name == *variant)
            .map(|v| v.ctx_size.to_string()),
        ["kernel_cmdline"] => m.host.kernel.cmdline.clone(),
        ["kernel"] => m.host.kernel.release.clone(),
        ["compiler", backend] => Backend::parse(backend)
            .and_then(image)
            .and_then(|i| i.toolchain.get("compiler").cloned()),
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
        ["host_os"] => m.host.os.clone(),
        ["cpu_model"] => m.host.cpu.model.clone(),
        // A runtime fact (mesa, rocm, cuda_runtime, cublas): from the
        // toolchain of the first backend's image (in `Backend::ALL`'s order)
        // that lists it in `Backend::runtime_facts` and records it.
        [fact] => Backend::ALL
            .iter()
            .filter(|b| b.runtime_facts().contains(fact))
            .find_map(|b| image(*b)?.toolchain.get(*fact).cloned()),
        _ => None,
    }
}

/// The run's cell for a published one: same backend, model, variant, prompt
/// length, and source name when the run's plan has several sources.
fn find<'a>(m: &'a Manifest, r: &RefCell) -> Option<&'a Cell> {
    m.cells.iter().find(|c| {
        c.backend == r.backend
            && m.model_identity(&c.model) == r.model
            && c.variant.name == r.variant
            && c.prompt_tokens == r.prompt_tokens
            && m.source_label(c).is_none_or(|s| s == r.source)
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
            None => CellStanding::NotRun,
            Some(c) => match (c.status, &c.failure) {
                (CellStatus::Ok, _) => CellStanding::Compared,
                (CellStatus::Failed, Some(f)) => CellStanding::FailedWherePublishedRan(f.mode),
                (s, _) => CellStanding::Unfinished(s),
            },
        };
        let mut metrics = Vec::new();
        for metric in Metric::HEADLINE {
            let Some([mean, sd]) = r.figure(metric) else {
                continue;
            };
            let v = cell.map(|c| c.values(metric)).unwrap_or_default();
            let pubm = Moments::published(mean, sd, reference.runs);
            let mine = Moments::of(&v);
            let (ratio, p) = match (pubm, mine, status) {
                (Some(a), Some(b), CellStanding::Compared) => {
                    (ratio_of(a, b), welch_of(a, b).map(|w| w.p))
                }
                _ => (None, None),
            };
            metrics.push(MetricResult {
                metric,
                published: {
                    let d = metric.decimals();
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
            let v = cell.map(|c| c.values(Metric::GenTps)).unwrap_or_default();
            let yours = summarize(&v);
            metrics.push(MetricResult {
                metric: Metric::GenTps,
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
    for metric in Metric::HEADLINE {
        decide(
            cells
                .iter_mut()
                .flat_map(|c| c.metrics.iter_mut())
                .filter(|x| x.metric == metric),
            band,
            metric.higher_is_better(),
        );
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
                        && m.model_identity(&c.model) == f.model
                        && f.variants.contains(&c.variant.name)
                        && m.source_label(c).is_none_or(|s| s == f.source)
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
                FailureStanding::NotRun
            } else if ran > 0 {
                FailureStanding::RanWherePublishedFailed {
                    ran,
                    of: mine.len(),
                }
            } else if same == mine.len() {
                FailureStanding::FailedAsPublished
            } else {
                FailureStanding::FailedAnotherWay
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
        llama_bench: compare_llama_bench(reference, m, band),
    }
}
