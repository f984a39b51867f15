//! Checking a plan file and resolving it into a `Plan`: every field checked
//! against what it may be, with an error that names the file, the field and
//! what to write instead; defaults filled in, `auto` resolved for this host.

use std::collections::{BTreeMap, BTreeSet};

use super::file::{self, PlanFile, VariantFile};
use super::*;

struct Checker<'a> {
    file: &'a str,
}

impl Checker<'_> {
    fn fail<T>(
        &self,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Result<T, PlanError> {
        Err(PlanError::Invalid {
            file: self.file.to_string(),
            field: field.into(),
            message: message.into(),
        })
    }

    fn sha256(&self, field: &str, v: &Option<String>) -> Result<(), PlanError> {
        match v {
            Some(s) if s.len() != 64 || !s.bytes().all(|b| b.is_ascii_hexdigit()) => self.fail(
                field,
                format!("\"{s}\" is not a SHA-256 (64 hexadecimal digits)"),
            ),
            _ => Ok(()),
        }
    }
}

pub(super) fn validate(raw: PlanFile, origin: &str, cpus: u32) -> Result<Plan, PlanError> {
    let c = Checker { file: origin };
    if raw.name.trim().is_empty() {
        return c.fail("name", "must not be empty");
    }
    let bench = validate_bench(&c, raw.bench)?;
    let sources = validate_sources(&c, raw.source, raw.sources)?;
    let models = validate_models(&c, raw.models)?;
    let backends = validate_backends(&c, raw.backends)?;
    let variants = validate_variants(&c, raw.variants, &bench, cpus)?;
    let llama_bench = match raw.llama_bench {
        None => None,
        Some(lb) => Some(validate_llama_bench(&c, lb, cpus)?),
    };
    let named = Named {
        sources: &sources,
        models: &models,
        backends: &backends,
        variants: &variants,
    };
    check_selectors(&c, &raw.exclude, &raw.include, &named)?;
    let ab = match raw.ab {
        None => None,
        Some(ab) => {
            let fail = |field: String, message: String| PlanError::Invalid {
                file: origin.to_string(),
                field,
                message,
            };
            let ab = super::ab::validate(ab, &bench, &fail)?;
            for (i, arm) in ab.arms.iter().enumerate() {
                let at = format!("ab.arms[{i}]");
                check_selector(&c, &at, arm, &models, &backends, &variants)?;
                check_source(&c, &at, arm, &sources)?;
            }
            Some(ab)
        }
    };
    Ok(Plan {
        name: raw.name,
        description: raw.description,
        origin: origin.to_string(),
        bench,
        sources,
        models,
        backends,
        variants,
        llama_bench,
        exclude: raw.exclude,
        include: raw.include,
        overrides: Vec::new(),
        ab,
    })
}

/// `[source]`, or several `[[sources]]` each with a name.
fn validate_sources(
    c: &Checker,
    one: Option<file::SourceFile>,
    several: Vec<file::SourceFile>,
) -> Result<Vec<Source>, PlanError> {
    let sources = match (one, several.is_empty()) {
        (Some(_), false) => {
            return c.fail(
                "sources",
                "name the llama.cpp source once: [source], or several [[sources]], not both",
            );
        }
        (None, true) => {
            return c.fail(
                "source",
                "name the llama.cpp source ([source], or [[sources]] with a name each)",
            );
        }
        (Some(one), true) => vec![validate_source(c, "source", one, "default")?],
        (None, false) => {
            let mut out: Vec<Source> = Vec::new();
            for (i, sf) in several.into_iter().enumerate() {
                let at = format!("sources[{i}]");
                let Some(name) = sf.name.clone() else {
                    return c.fail(
                        format!("{at}.name"),
                        "each of several sources needs a name (such as b9016)",
                    );
                };
                if name.is_empty()
                    || !name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
                {
                    return c.fail(
                        format!("{at}.name"),
                        format!("\"{name}\" must be letters, digits, '-' or '_'"),
                    );
                }
                if out.iter().any(|x| x.name == name) {
                    return c.fail(format!("{at}.name"), format!("\"{name}\" appears twice"));
                }
                out.push(validate_source(c, &at, sf, &name)?);
            }
            out
        }
    };

    Ok(sources)
}

/// `[[models]]`: unique names, bare file names, hashes, at least one source
/// each, or a synthetic recipe checked in full (its shape, its rows against
/// its quantization, the model its vocabulary comes from).
fn validate_models(c: &Checker, raw: Vec<file::ModelFile>) -> Result<Vec<Model>, PlanError> {
    if raw.is_empty() {
        return c.fail("models", "name at least one model ([[models]])");
    }
    let mut models = Vec::new();
    let mut names = BTreeSet::new();
    // (index, where the recipe was written, the model its vocabulary names)
    let mut vocab_refs = Vec::new();
    for (i, m) in raw.into_iter().enumerate() {
        let at = format!("models[{i}]");
        if !names.insert(m.name.clone()) {
            return c.fail(
                format!("{at}.name"),
                format!("\"{}\" appears twice", m.name),
            );
        }
        let mut sources = m.sources;
        let recipe_at = recipe_place(c, &at, m.synthetic.as_ref(), &mut sources)?;
        let mut file = m.file;
        if let (Some(r_at), Some(ModelSourceFile::Synthetic { recipe })) =
            (&recipe_at, sources.first())
        {
            check_recipe(c, (&at, r_at), recipe, &mut file)?;
            if let crate::synth::VocabFile::Model { model } = &recipe.vocab {
                vocab_refs.push((i, format!("{r_at}.vocab.model"), model.clone()));
            }
        }
        if file.is_empty() || file.contains('/') {
            return c.fail(format!("{at}.file"), "a bare file name, such as model.gguf");
        }
        c.sha256(&format!("{at}.sha256"), &m.sha256)?;
        if sources.is_empty() {
            return c.fail(
                format!("{at}.sources"),
                "name at least one source, or a synthetic recipe (synthetic = { shape = …, quant = … })",
            );
        }
        models.push(Model {
            name: m.name,
            file,
            sha256: m.sha256.map(|s| s.to_ascii_lowercase()),
            size_bytes: m.size_bytes,
            sources,
        });
    }
    check_vocab_refs(c, &models, vocab_refs)?;
    Ok(models)
}

/// Where a model's recipe was written (`models[i].synthetic`, or a synthetic
/// source), its `synthetic` table made its one source; a recipe beside
/// fetched sources is an error.
fn recipe_place(
    c: &Checker,
    at: &str,
    synthetic: Option<&crate::synth::RecipeFile>,
    sources: &mut Vec<ModelSourceFile>,
) -> Result<Option<String>, PlanError> {
    Ok(match (synthetic, sources.as_slice()) {
        (Some(_), [_, ..]) => {
            return c.fail(
                format!("{at}.sources"),
                "a synthetic model is made from its recipe: leave its sources out",
            );
        }
        (Some(r), []) => {
            sources.push(ModelSourceFile::Synthetic { recipe: r.clone() });
            Some(format!("{at}.synthetic"))
        }
        (None, [ModelSourceFile::Synthetic { .. }]) => Some(format!("{at}.sources[0].recipe")),
        (None, all) if all.len() > 1 && all.iter().any(is_synthetic) => {
            return c.fail(
                format!("{at}.sources"),
                "a synthetic source is made, not fetched: it must be the only one",
            );
        }
        (None, _) => None,
    })
}

/// A recipe (written at `r_at` of model `at`): its shape and generator, and
/// its file's name (the recipe's own where the plan gives none; one file,
/// never a shard's name).
fn check_recipe(
    c: &Checker,
    (at, r_at): (&str, &str),
    recipe: &crate::synth::RecipeFile,
    file: &mut String,
) -> Result<(), PlanError> {
    let shape = recipe
        .check()
        .or_else(|e| c.fail(format!("{r_at}.{}", e.field), e.message))?;
    if let Some(g) = recipe
        .generator
        .filter(|g| *g != crate::synth::values::GENERATOR)
    {
        return c.fail(
            format!("{r_at}.generator"),
            format!(
                "{g}: this rigbench ({}) writes generator {}; a model made by \
                 generator {g} is remade only by a rigbench that writes it",
                crate::version::LONG,
                crate::synth::values::GENERATOR
            ),
        );
    }
    if file.is_empty() {
        *file = crate::synth::file_name(&shape.name, recipe.quant, recipe.seed);
    }
    if crate::gguf::split::parse_shard_name(file).is_some() {
        return c.fail(
            format!("{at}.file"),
            "a synthetic model is made in one file: not a shard's name",
        );
    }
    Ok(())
}

/// Each recipe's vocabulary names a real model of the plan (field, model).
fn check_vocab_refs(
    c: &Checker,
    models: &[Model],
    refs: Vec<(usize, String, String)>,
) -> Result<(), PlanError> {
    for (i, field, name) in refs {
        match models.iter().position(|m| m.name == name) {
            None => {
                return c.fail(
                    field,
                    format!("\"{name}\" is not one of the plan's [[models]]"),
                );
            }
            Some(j) if j == i || models[j].sources.iter().any(is_synthetic) => {
                return c.fail(
                    field,
                    format!(
                        "\"{name}\" is synthetic: the vocabulary comes from a real model's file"
                    ),
                );
            }
            Some(_) => {}
        }
    }
    Ok(())
}

fn is_synthetic(s: &ModelSourceFile) -> bool {
    matches!(s, ModelSourceFile::Synthetic { .. })
}

/// `[[backends]]`: known, once each, with the build arguments their
/// Containerfile takes.
fn validate_backends(
    c: &Checker,
    raw: Vec<file::BackendFile>,
) -> Result<Vec<BackendPlan>, PlanError> {
    if raw.is_empty() {
        return c.fail("backends", "name at least one backend ([[backends]])");
    }
    let mut backends = Vec::new();
    for (i, mut b) in raw.into_iter().enumerate() {
        let at = format!("backends[{i}]");
        let Some(backend) = Backend::parse(&b.name) else {
            return c.fail(
                format!("{at}.name"),
                format!(
                    "unknown backend \"{}\" (known: {})",
                    b.name,
                    Backend::names().join(", ")
                ),
            );
        };
        let build_args = build_args(c, &at, backend, std::mem::take(&mut b.build_args))?;
        if backends.iter().any(|x: &BackendPlan| x.backend == backend) {
            return c.fail(
                format!("{at}.name"),
                format!("\"{}\" appears twice", b.name),
            );
        }
        let vulkan_driver = vulkan_driver(c, &at, backend, &b)?;
        backends.push(BackendPlan {
            backend,
            base_image: match b.base_image {
                None => AutoOr::Auto,
                Some(r) if r == "auto" => AutoOr::Auto,
                Some(r) => AutoOr::Value(r),
            },
            build_args,
            vulkan_driver,
        });
    }

    Ok(backends)
}

/// A backend's build arguments: its Containerfile's defaults, with the plan's
/// own for the arguments it takes (never those rigbench sets).
fn build_args(
    c: &Checker,
    at: &str,
    backend: Backend,
    given: BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, PlanError> {
    let defaults = backend.build_arg_defaults();
    let mut build_args: BTreeMap<String, String> = defaults
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    for (k, v) in given {
        if crate::backend::MANAGED_BUILD_ARGS.contains(&k.as_str()) {
            return c.fail(
                format!("{at}.build_args.{k}"),
                "is set by rigbench (from base_image and [source]); remove it",
            );
        }
        if !defaults.iter().any(|(d, _)| *d == k) {
            return c.fail(
                format!("{at}.build_args.{k}"),
                format!(
                    "{} takes no such build argument (it takes: {})",
                    backend.containerfile(),
                    defaults
                        .iter()
                        .map(|(d, _)| *d)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
        build_args.insert(k, v);
    }
    Ok(build_args)
}

/// The Vulkan driver a backend names: only a backend that needs a Vulkan
/// driver (`Backend::device_needs`) has one to choose.
fn vulkan_driver(
    c: &Checker,
    at: &str,
    backend: Backend,
    b: &file::BackendFile,
) -> Result<Option<crate::host::devices::VulkanDriver>, PlanError> {
    Ok(match b.driver.as_deref() {
        None => None,
        Some(d) if backend.device_needs() == crate::backend::DeviceNeeds::Vulkan => {
            match crate::host::devices::VulkanDriver::parse(d) {
                Ok(v) => v,
                Err(e) => return c.fail(format!("{at}.driver"), e),
            }
        }
        Some(_) => {
            return c.fail(
                format!("{at}.driver"),
                format!(
                    "only the vulkan backend has a choice of driver; remove it from \"{}\"",
                    b.name
                ),
            );
        }
    })
}

/// `[[variants]]` (one named `default` when there are none): unique names, and a
/// fault that can fire within the generated tokens.
fn validate_variants(
    c: &Checker,
    raw: Vec<VariantFile>,
    bench: &Bench,
    cpus: u32,
) -> Result<Vec<Variant>, PlanError> {
    let raw_variants = if raw.is_empty() {
        vec![VariantFile {
            name: "default".to_string(),
            ..VariantFile::default()
        }]
    } else {
        raw
    };
    let mut variants = Vec::new();
    for (i, v) in raw_variants.into_iter().enumerate() {
        let variant = validate_variant(c, &format!("variants[{i}]"), v, cpus)?;
        if let Some(f) = &variant.fault {
            if f.after_tokens >= bench.n_predict {
                return c.fail(
                    format!("variants[{i}].fault.after_tokens"),
                    format!(
                        "{} would never fire: runs generate {} tokens (bench.n_predict)",
                        f.after_tokens, bench.n_predict
                    ),
                );
            }
        }
        if variants.iter().any(|x: &Variant| x.name == variant.name) {
            return c.fail(
                format!("variants[{i}].name"),
                format!("\"{}\" appears twice", variant.name),
            );
        }
        variants.push(variant);
    }

    Ok(variants)
}

/// What a plan names, for the selectors to be checked against.
struct Named<'a> {
    sources: &'a [Source],
    models: &'a [Model],
    backends: &'a [BackendPlan],
    variants: &'a [Variant],
}

/// `exclude` and `include` rules name only what the plan has.
fn check_selectors(
    c: &Checker,
    exclude: &[CellSelector],
    include: &[CellSelector],
    n: &Named<'_>,
) -> Result<(), PlanError> {
    for (field, list) in [("exclude", exclude), ("include", include)] {
        for (i, sel) in list.iter().enumerate() {
            let at = format!("{field}[{i}]");
            check_selector(c, &at, sel, n.models, n.backends, n.variants)?;
            check_source(c, &at, sel, n.sources)?;
        }
    }

    Ok(())
}

/// A selector's source must be one of the plan's.
fn check_source(
    c: &Checker,
    at: &str,
    sel: &CellSelector,
    sources: &[Source],
) -> Result<(), PlanError> {
    match &sel.source {
        Some(src) if !sources.iter().any(|x| &x.name == src) => c.fail(
            format!("{at}.source"),
            format!("\"{src}\" is not one of the plan's [[sources]]"),
        ),
        _ => Ok(()),
    }
}

/// A variant's container limits: `cpus` a quota the host can give,
/// `cpuset_cpus` a list of CPU numbers and ranges.
fn check_limits(c: &Checker, at: &str, v: &Variant, host_cpus: u32) -> Result<(), PlanError> {
    if let Some(n) = v.cpus {
        if !(n.is_finite() && n >= 0.01 && n <= f64::from(host_cpus.max(1))) {
            return c.fail(
                format!("{at}.cpus"),
                format!(
                    "{n}: from 0.01 to this host's {host_cpus} CPUs (a CFS quota, such as 1.5)"
                ),
            );
        }
    }
    if let Some(set) = &v.cpuset_cpus {
        let ok = !set.is_empty()
            && set.split(',').all(|part| {
                let mut ends = part.splitn(2, '-').map(|x| x.parse::<u32>());
                match (ends.next(), ends.next()) {
                    (Some(Ok(_)), None) => true,
                    (Some(Ok(a)), Some(Ok(b))) => a <= b,
                    _ => false,
                }
            });
        if !ok {
            return c.fail(
                format!("{at}.cpuset_cpus"),
                format!("\"{set}\": CPU numbers and ranges, such as \"0-3\" or \"0,2\""),
            );
        }
    }
    Ok(())
}

/// A selector must name things the plan has.
fn check_selector(
    c: &Checker,
    at: &str,
    sel: &CellSelector,
    models: &[Model],
    backends: &[BackendPlan],
    variants: &[Variant],
) -> Result<(), PlanError> {
    if let Some(b) = &sel.backend {
        if !backends.iter().any(|x| x.backend.name() == b) {
            return c.fail(
                format!("{at}.backend"),
                format!("\"{b}\" is not one of the plan's [[backends]]"),
            );
        }
    }
    if let Some(m) = &sel.model {
        if !models.iter().any(|x| &x.name == m) {
            return c.fail(
                format!("{at}.model"),
                format!("\"{m}\" is not one of the plan's [[models]]"),
            );
        }
    }
    if let Some(v) = &sel.variant {
        if !variants.iter().any(|x| &x.name == v) {
            return c.fail(
                format!("{at}.variant"),
                format!("\"{v}\" is not one of the plan's [[variants]]"),
            );
        }
    }
    if sel
        .prompt_tokens
        .as_ref()
        .is_some_and(|p| p.is_empty() || p.contains(&0))
    {
        return c.fail(
            format!("{at}.prompt_tokens"),
            "one or more lengths, each at least 1",
        );
    }
    Ok(())
}

/// A flash-attention word at `field` (absent: on).
fn flash_attn_word(c: &Checker, field: &str, word: Option<&str>) -> Result<FlashAttn, PlanError> {
    match word {
        None => Ok(FlashAttn::On),
        Some(w) => match FlashAttn::parse(w) {
            Some(f) => Ok(f),
            None => c.fail(field, format!("\"{w}\": use \"on\", \"off\" or \"auto\"")),
        },
    }
}

fn validate_llama_bench(
    c: &Checker,
    lb: file::LlamaBenchFile,
    cpus: u32,
) -> Result<llama_bench::Settings, PlanError> {
    let s = llama_bench::Settings {
        n_prompt: lb.n_prompt.unwrap_or_else(|| vec![512]),
        n_gen: lb.n_gen.unwrap_or_else(|| vec![128]),
        n_depth: lb.n_depth.unwrap_or_else(|| vec![0]),
        repetitions: lb.repetitions.unwrap_or(5),
        flash_attn: flash_attn_word(c, "llama_bench.flash_attn", lb.flash_attn.as_deref())?,
        n_gpu_layers: lb.n_gpu_layers.unwrap_or(AutoOr::Auto),
        threads: match lb.threads.unwrap_or(AutoOr::Auto) {
            AutoOr::Auto => cpus.max(1),
            AutoOr::Value(n) => n,
        },
        load_mode: match lb.load_mode.as_deref() {
            None => LoadMode::Mmap,
            Some(w) => match LoadMode::parse(w) {
                Some(m) => m,
                None => {
                    return c.fail(
                        "llama_bench.load_mode",
                        format!("\"{w}\": use auto, none, mmap, mlock, mmap+mlock or dio"),
                    );
                }
            },
        },
        timeout_s: lb.timeout_s.unwrap_or(1800),
    };
    if s.n_prompt.is_empty() && s.n_gen.is_empty() {
        return c.fail("llama_bench", "name n_prompt or n_gen sizes");
    }
    if s.repetitions == 0 || s.threads == 0 {
        return c.fail("llama_bench", "repetitions and threads must be at least 1");
    }
    Ok(s)
}

fn validate_bench(c: &Checker, mut b: file::BenchFile) -> Result<Bench, PlanError> {
    let bench = with_defaults(&mut b);
    check_measuring(c, &bench)?;
    if bench.runs == 0 {
        return c.fail("bench.runs", "at least 1 measured run");
    }
    if bench.rounds == 0 || bench.rounds > bench.runs {
        return c.fail(
            "bench.rounds",
            format!(
                "{}: from 1 to bench.runs ({}), so that every round has a measured run",
                bench.rounds, bench.runs
            ),
        );
    }
    let precision = validate_precision(c, &bench, b.max_runs, b.target_ci_pct, b.target_metrics)?;
    let bench = Bench { precision, ..bench };
    if bench.n_predict < 2 {
        return c.fail(
            "bench.n_predict",
            "at least 2 tokens (generation speed needs two token times)",
        );
    }
    if bench.prompt_tokens.is_empty() || bench.prompt_tokens.contains(&0) {
        return c.fail(
            "bench.prompt_tokens",
            "one or more lengths, each at least 1",
        );
    }
    let distinct: BTreeSet<_> = bench.prompt_tokens.iter().collect();
    if distinct.len() != bench.prompt_tokens.len() {
        return c.fail("bench.prompt_tokens", "a length appears twice");
    }
    for (field, v) in [
        ("bench.health_timeout_s", bench.health_timeout_s),
        ("bench.stall_timeout_s", bench.stall_timeout_s),
        ("bench.request_timeout_s", bench.request_timeout_s),
    ] {
        if v == 0 {
            return c.fail(field, "must be at least 1 second");
        }
    }
    Ok(bench)
}

/// `[bench]` with rigbench's defaults where the plan is silent (the
/// precision target is validated apart).
fn with_defaults(b: &mut file::BenchFile) -> Bench {
    Bench {
        runs: b.runs.unwrap_or(4),
        warmup_runs: b.warmup_runs.unwrap_or(1),
        n_predict: b.n_predict.unwrap_or(128),
        seed: b.seed.unwrap_or(42),
        prompt_tokens: b
            .prompt_tokens
            .take()
            .unwrap_or_else(|| vec![31, 461, 3799, 11205]),
        health_timeout_s: b.health_timeout_s.unwrap_or(300),
        stall_timeout_s: b.stall_timeout_s.unwrap_or(120),
        request_timeout_s: b.request_timeout_s.unwrap_or(900),
        telemetry_interval_ms: b.telemetry_interval_ms.unwrap_or(500),
        cooldown_max_edge_c: b.cooldown_max_edge_c.unwrap_or(60.0),
        cooldown_timeout_s: b.cooldown_timeout_s.unwrap_or(300),
        memory_bandwidth_gbs: b.memory_bandwidth_gbs,
        rounds: b.rounds.unwrap_or(1),
        precision: None,
        warmup: b.warmup.unwrap_or_default(),
        warmup_prompt_tokens: b.warmup_prompt_tokens.unwrap_or(super::SHORT_WARMUP_PROMPT),
        warmup_n_predict: b.warmup_n_predict.unwrap_or(super::SHORT_WARMUP_PREDICT),
    }
}

/// The short warm-up, the bandwidth, telemetry's interval and the
/// cool-down's temperature of `[bench]`.
fn check_measuring(c: &Checker, bench: &Bench) -> Result<(), PlanError> {
    if bench.warmup_prompt_tokens == 0 {
        return c.fail("bench.warmup_prompt_tokens", "at least 1 token");
    }
    if bench.warmup_n_predict == 0 {
        return c.fail("bench.warmup_n_predict", "at least 1 token");
    }
    if bench
        .memory_bandwidth_gbs
        .is_some_and(|v| !(v.is_finite() && v > 0.0))
    {
        return c.fail(
            "bench.memory_bandwidth_gbs",
            "a bandwidth in GB/s above 0, such as 256",
        );
    }
    if bench.telemetry_interval_ms < 50 {
        return c.fail("bench.telemetry_interval_ms", "at least 50 ms");
    }
    if !(0.0..=120.0).contains(&bench.cooldown_max_edge_c) {
        return c.fail(
            "bench.cooldown_max_edge_c",
            "a temperature between 0 and 120 °C",
        );
    }
    Ok(())
}

/// `max_runs`, `target_ci_pct` and `target_metrics` of `[bench]`: the first
/// two together or neither.
fn validate_precision(
    c: &Checker,
    bench: &Bench,
    max_runs: Option<u32>,
    target_ci_pct: Option<f64>,
    metrics: Option<Vec<String>>,
) -> Result<Option<Precision>, PlanError> {
    let (max_runs, target) = match (max_runs, target_ci_pct) {
        (None, None) => {
            if metrics.is_some() {
                return c.fail(
                    "bench.target_metrics",
                    "has no effect without bench.max_runs and bench.target_ci_pct",
                );
            }
            return Ok(None);
        }
        (Some(_), None) => {
            return c.fail(
                "bench.target_ci_pct",
                "missing: bench.max_runs adds runs until the 95 % intervals are within ± this percentage of the mean, such as 1.0",
            )
        }
        (None, Some(_)) => {
            return c.fail(
                "bench.max_runs",
                "missing: bench.target_ci_pct needs the most measured runs a cell may get, such as 12",
            )
        }
        (Some(m), Some(t)) => (m, t),
    };
    if max_runs < bench.runs {
        return c.fail(
            "bench.max_runs",
            format!(
                "{max_runs} is below bench.runs ({}): the most runs must be at least the fewest",
                bench.runs
            ),
        );
    }
    if !(target.is_finite() && target > 0.0 && target < 100.0) {
        return c.fail(
            "bench.target_ci_pct",
            format!("{target}: a percentage above 0 and below 100, such as 1.0"),
        );
    }
    let metrics = match metrics {
        None => Metric::HEADLINE.to_vec(),
        Some(names) => match Metric::parse_list(&names) {
            Ok(metrics) => metrics,
            Err(e) => return c.fail("bench.target_metrics", e),
        },
    };
    if metrics.is_empty() {
        return c.fail("bench.target_metrics", "name at least one metric");
    }
    Ok(Some(Precision {
        max_runs,
        target_ci_pct: target,
        metrics,
    }))
}

fn validate_source(
    c: &Checker,
    field: &str,
    s: file::SourceFile,
    name: &str,
) -> Result<Source, PlanError> {
    if s.commit.len() < 7 || !s.commit.bytes().all(|b| b.is_ascii_hexdigit()) {
        return c.fail(
            format!("{field}.commit"),
            format!(
                "\"{}\" is not a git commit id (7 to 40 hex digits)",
                s.commit
            ),
        );
    }
    if s.archives.is_empty() {
        return c.fail(format!("{field}.archives"), "name at least one archive");
    }
    for (i, a) in s.archives.iter().enumerate() {
        let at = format!("{field}.archives[{i}]");
        let (sha, dir) = match a {
            ArchiveFile::Url { sha256, dir, .. }
            | ArchiveFile::Path { sha256, dir, .. }
            | ArchiveFile::Github { sha256, dir, .. }
            | ArchiveFile::PypiSdist { sha256, dir, .. } => (sha256, dir),
        };
        c.sha256(&format!("{at}.sha256"), sha)?;
        if dir.is_empty() || dir.starts_with('/') || dir.split('/').any(|p| p == "..") {
            return c.fail(
                format!("{at}.dir"),
                format!("\"{dir}\" must be a relative path inside the archive"),
            );
        }
    }
    Ok(Source {
        name: name.to_string(),
        commit: s.commit.to_ascii_lowercase(),
        build_number: s.build_number,
        archives: s.archives,
    })
}

fn validate_variant(
    c: &Checker,
    at: &str,
    v: VariantFile,
    cpus: u32,
) -> Result<Variant, PlanError> {
    if v.name.is_empty()
        || !v
            .name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        return c.fail(
            format!("{at}.name"),
            format!("\"{}\" must be letters, digits, '-', '_' or '.'", v.name),
        );
    }
    let variant = Variant {
        name: v.name,
        ctx_size: v.ctx_size.unwrap_or(16384),
        threads: match v.threads.unwrap_or(AutoOr::Auto) {
            AutoOr::Auto => cpus.max(1),
            AutoOr::Value(n) => n,
        },
        n_gpu_layers: v.n_gpu_layers.unwrap_or(AutoOr::Auto),
        batch_size: v.batch_size.unwrap_or(2048),
        ubatch_size: v.ubatch_size.unwrap_or(512),
        flash_attn: flash_attn_word(c, &format!("{at}.flash_attn"), v.flash_attn.as_deref())?,
        cache_type_k: v.cache_type_k.unwrap_or_else(|| "f16".to_string()),
        cache_type_v: v.cache_type_v.unwrap_or_else(|| "f16".to_string()),
        env: v.env,
        server_args: v.server_args,
        request: v.request,
        fault: v.fault,
        cpus: v.cpus,
        cpuset_cpus: v.cpuset_cpus,
        warmup: v.warmup,
    };
    check_limits(c, at, &variant, cpus)?;
    if variant.ctx_size < 64 {
        return c.fail(format!("{at}.ctx_size"), "at least 64 tokens");
    }
    if variant.threads == 0 {
        return c.fail(format!("{at}.threads"), "at least 1, or \"auto\"");
    }
    if variant.ubatch_size == 0 || variant.batch_size < variant.ubatch_size {
        return c.fail(
            format!("{at}.batch_size"),
            "batch_size must be at least ubatch_size, both above 0",
        );
    }
    for (field, t) in [
        ("cache_type_k", &variant.cache_type_k),
        ("cache_type_v", &variant.cache_type_v),
    ] {
        if !CACHE_TYPES.contains(&t.as_str()) {
            return c.fail(
                format!("{at}.{field}"),
                format!("\"{t}\" is not one of {}", CACHE_TYPES.join(", ")),
            );
        }
    }
    check_variant_extras(c, at, &variant)?;
    Ok(variant)
}

/// A variant's environment, request fields, fault and server arguments: none
/// may set what rigbench sets itself.
fn check_variant_extras(c: &Checker, at: &str, variant: &Variant) -> Result<(), PlanError> {
    for k in variant.env.keys() {
        if k.is_empty() || k.contains('=') || k.contains('\0') {
            return c.fail(
                format!("{at}.env"),
                format!("\"{k}\" is not a variable name"),
            );
        }
    }
    for k in variant.request.keys() {
        if MANAGED_REQUEST_FIELDS.contains(&k.as_str()) {
            return c.fail(
                format!("{at}.request.{k}"),
                "is set by rigbench for every measured request; remove it",
            );
        }
    }
    if let Some(f) = &variant.fault {
        if !FAULT_SIGNALS.contains(&f.signal.as_str()) {
            return c.fail(
                format!("{at}.fault.signal"),
                format!(
                    "\"{}\" is not one of {}",
                    f.signal,
                    FAULT_SIGNALS.join(", ")
                ),
            );
        }
        if f.after_tokens == 0 {
            return c.fail(format!("{at}.fault.after_tokens"), "at least 1 token");
        }
    }
    for arg in &variant.server_args {
        let flag = arg.split('=').next().unwrap_or(arg);
        if let Some((_, instead)) = MANAGED_FLAGS.iter().find(|(f, _)| *f == flag) {
            return c.fail(
                format!("{at}.server_args"),
                format!("\"{arg}\" is set by rigbench from {instead}; set that instead"),
            );
        }
    }
    Ok(())
}
