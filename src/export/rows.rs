//! The rows of an export, from a manifest: a llama-bench test keeps the values
//! llama-bench printed (only `build_commit` is rigbench's, see `Options`); a
//! server-measured cell maps onto the same fields: its prompt length is
//! `n_prompt`, its generated tokens `n_gen`, its streamed generation rate
//! `avg_ts`/`stddev_ts`/`samples_ts` (over the measured runs), the time of
//! generating `n_gen` tokens at that rate `avg_ns`; fields llama-server has no
//! counterpart for take llama-bench's defaults, so rows of two runs join on them.

use serde_json::{Value, json};

use super::{Kind, columns};
use crate::manifest::{Cell, LlamaBenchRecord, Manifest};
use crate::metric::Metric;
use crate::status::CellStatus;

/// One row: a value for each of `columns()`, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Row(pub Vec<(&'static str, Value)>);

impl Row {
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }
}

/// Choices of an export.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// What `build_commit` says; default: the first 8 hex digits of the
    /// source's commit (rigbench builds from an archive, where llama-bench's
    /// own says `unknown`). `compare-llama-bench.py` compares builds by it, so
    /// two runs of one commit need two names.
    pub build_commit: Option<String>,
}

/// The rows of `m`: its llama-bench tests, then its cells, in recorded order.
pub fn rows(m: &Manifest, opts: &Options) -> Vec<Row> {
    let mut out = Vec::new();
    for rec in &m.llama_bench {
        for r in &rec.results {
            out.push(llama_bench_row(m, rec, r, opts));
        }
        if rec.status != CellStatus::Ok && rec.results.is_empty() {
            out.push(failed_llama_bench_row(m, rec, opts));
        }
    }
    for c in &m.cells {
        out.push(server_row(m, c, opts));
    }
    out
}

fn build_commit(m: &Manifest, source: &str, opts: &Options) -> String {
    if let Some(b) = &opts.build_commit {
        return b.clone();
    }
    let commit = m
        .plan
        .sources
        .iter()
        .find(|s| s.name == source)
        .map_or("unknown", |s| s.commit.as_str());
    commit.chars().take(8).collect()
}

fn build_number(m: &Manifest, source: &str) -> Value {
    json!(
        m.plan
            .sources
            .iter()
            .find(|s| s.name == source)
            .and_then(|s| s.build_number)
            .unwrap_or(0)
    )
}

/// A row with every column empty.
fn empty() -> Vec<(&'static str, Value)> {
    columns().map(|(n, _)| (n, Value::Null)).collect()
}

fn set(row: &mut [(&'static str, Value)], name: &str, v: Value) {
    if let Some(slot) = row.iter_mut().find(|(n, _)| *n == name) {
        slot.1 = v;
    }
}

fn rigbench_fields(
    row: &mut [(&'static str, Value)],
    m: &Manifest,
    cell: &str,
    mode: &str,
    backend: crate::backend::Backend,
    source: &str,
    status: String,
) {
    set(row, "rigbench_run_id", json!(m.run_id));
    set(row, "rigbench_cell", json!(cell));
    set(row, "rigbench_mode", json!(mode));
    set(row, "rigbench_backend", json!(backend.name()));
    set(row, "rigbench_source", json!(source));
    set(row, "rigbench_status", json!(status));
}

/// The columns every llama-bench row has, its test's values aside.
fn llama_bench_base(
    m: &Manifest,
    rec: &LlamaBenchRecord,
    opts: &Options,
    status: String,
) -> Vec<(&'static str, Value)> {
    let mut row = empty();
    set(&mut row, "build_number", build_number(m, &rec.source));
    set(&mut row, "backends", json!(rec.backend.llama_cpp_name()));
    let cell = format!("llama-bench/{}/{}/{}", rec.backend, rec.source, rec.model);
    rigbench_fields(
        &mut row,
        m,
        &cell,
        "llama-bench",
        rec.backend,
        &rec.source,
        status,
    );
    set(
        &mut row,
        "build_commit",
        json!(build_commit(m, &rec.source, opts)),
    );
    row
}

fn llama_bench_row(m: &Manifest, rec: &LlamaBenchRecord, r: &Value, opts: &Options) -> Row {
    let mut row = llama_bench_base(m, rec, opts, "ok".to_string());
    for (name, kind) in columns() {
        if name == "build_commit" || name.starts_with("rigbench_") {
            continue;
        }
        if let Some(v) = r.get(name) {
            set(&mut row, name, typed(v, kind));
        }
    }
    let n = r.get("samples_ts").and_then(Value::as_array).map(Vec::len);
    set(&mut row, "n_runs", json!(n));
    if let Some(Value::String(t)) = r.get("model_type") {
        set(
            &mut row,
            "model_type",
            json!(synthetic_type(m, &rec.model, t)),
        );
    }
    Row(row)
}

fn failed_llama_bench_row(m: &Manifest, rec: &LlamaBenchRecord, opts: &Options) -> Row {
    let status = crate::manifest::outcome(rec.status, rec.failure.as_ref());
    Row(llama_bench_base(m, rec, opts, status))
}

/// A value as llama-bench types its field (its CSV prints booleans as 0/1, its
/// JSON as true/false; both read back the same way here).
fn typed(v: &Value, kind: Kind) -> Value {
    match (kind, v) {
        (Kind::Bool, Value::Number(n)) => json!(n.as_i64().unwrap_or(0) != 0),
        (Kind::Int, Value::Bool(b)) => json!(i64::from(*b)),
        (Kind::Int, Value::String(s)) => s.parse::<i64>().map_or(v.clone(), |n| json!(n)),
        (Kind::Real, Value::String(s)) => s.parse::<f64>().map_or(v.clone(), |n| json!(n)),
        _ => v.clone(),
    }
}

/// What llama-bench says of the model behind a cell, where the run has a
/// llama-bench test of it on the same backend (it names the model type the way
/// llama.cpp does: `gemma3 270M Q4_K - Medium`).
fn llama_bench_model<'a>(m: &'a Manifest, c: &Cell) -> Option<&'a Value> {
    m.llama_bench
        .iter()
        .filter(|r| r.backend == c.backend && r.model == c.model)
        .flat_map(|r| r.results.first())
        .next()
}

/// llama-bench's model type, marked for a synthetic model (`gemma3 27B Q8_0
/// (synthetic #e0e1a7b6)`), so that tools grouping rows by model type never
/// put its rows with a real model's.
fn synthetic_type(m: &Manifest, model: &str, t: &str) -> String {
    match m.synthetic_of(model) {
        Some(p) => format!("{t} (synthetic #{})", &p.key[..p.key.len().min(8)]),
        None => t.to_string(),
    }
}

fn server_row(m: &Manifest, c: &Cell, opts: &Options) -> Row {
    let mut row = empty();
    let model = m.models.iter().find(|x| x.name == c.model);
    let lb = llama_bench_model(m, c);
    let from_lb = |k: &str| lb.and_then(|r| r.get(k)).cloned();
    let gpu_info = m
        .images
        .iter()
        .find(|i| i.backend == c.backend && i.source == c.source)
        .map(|i| i.llama_devices.join(", "))
        .unwrap_or_default();
    let v = &c.variant;
    let flash_attn = match v.flash_attn {
        crate::plan::FlashAttn::On => 1,
        crate::plan::FlashAttn::Off => 0,
        crate::plan::FlashAttn::Auto => -1,
    };
    let file = model.map_or(c.model.clone(), |x| format!("/models/{}", x.file));
    let model_type = from_lb("model_type")
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| {
            model.map_or(c.model.clone(), |x| {
                let g = &x.gguf;
                format!(
                    "{} {}",
                    g.architecture.as_deref().unwrap_or("?"),
                    g.file_type_name.as_deref().unwrap_or("?")
                )
            })
        });
    let model_type = json!(synthetic_type(m, &c.model, &model_type));
    let fields: [(&str, Value); 36] = [
        ("build_commit", json!(build_commit(m, &c.source, opts))),
        ("build_number", build_number(m, &c.source)),
        (
            "cpu_info",
            json!(m.host.cpu.model.clone().unwrap_or_default()),
        ),
        ("gpu_info", from_lb("gpu_info").unwrap_or(json!(gpu_info))),
        ("backends", json!(c.backend.llama_cpp_name())),
        ("model_filename", json!(file)),
        ("model_type", model_type),
        (
            "model_size",
            from_lb("model_size").unwrap_or(json!(model.map_or(0, |x| {
                x.size_bytes + x.shards.iter().map(|s| s.size_bytes).sum::<u64>()
            }))),
        ),
        (
            "model_n_params",
            from_lb("model_n_params").unwrap_or(json!(model.map_or(0, |x| x.gguf.parameter_count))),
        ),
        ("n_batch", json!(v.batch_size)),
        ("n_ubatch", json!(v.ubatch_size)),
        ("n_threads", json!(v.threads)),
        ("cpu_mask", json!("0x0")),
        ("cpu_strict", json!(false)),
        ("poll", json!(50)),
        ("type_k", json!(v.cache_type_k)),
        ("type_v", json!(v.cache_type_v)),
        ("n_gpu_layers", json!(v.n_gpu_layers)),
        ("n_cpu_moe", json!(0)),
        ("split_mode", json!("layer")),
        ("main_gpu", json!(0)),
        ("no_kv_offload", json!(false)),
        ("flash_attn", json!(flash_attn)),
        ("devices", json!("auto")),
        ("tensor_split", json!("0.00")),
        ("tensor_buft_overrides", json!("none")),
        ("load_mode", json!("mmap")),
        ("embeddings", json!(false)),
        ("no_op_offload", json!(0)),
        ("fit_target", json!(0)),
        ("fit_min_ctx", json!(0)),
        ("n_prompt", json!(c.prompt_tokens)),
        ("n_gen", json!(c.n_predict)),
        ("n_depth", json!(0)),
        ("rigbench_variant", json!(v.name)),
        ("n_runs", json!(c.stats.get(&Metric::GenTps).map(|s| s.n))),
    ];
    for (k, val) in fields {
        set(&mut row, k, val);
    }
    if let Some(first) = c.runs.iter().find(|r| !r.warmup) {
        set(&mut row, "test_time", json!(first.started_at));
    }
    if c.status == CellStatus::Ok {
        figures(&mut row, c);
    }
    let status = crate::manifest::outcome(c.status, c.failure.as_ref());
    rigbench_fields(&mut row, m, &c.id, "server", c.backend, &c.source, status);
    Row(row)
}

/// The figures of an ok cell over the runs its statistics count: its
/// generation rate as llama-bench's `avg_ts` (and the time `n_gen` tokens take
/// at each run's rate as `avg_ns`), TTFT and prompt processing in rigbench's
/// own columns.
fn figures(row: &mut [(&'static str, Value)], c: &Cell) {
    let ts = c.values(Metric::GenTps);
    let ns: Vec<f64> = ts
        .iter()
        .map(|t| f64::from(c.n_predict) / t * 1e9)
        .collect();
    if let Some(s) = crate::stats::summarize(&ns) {
        set(row, "avg_ns", json!(s.mean.round() as u64));
        set(row, "stddev_ns", json!(s.sd.unwrap_or(0.0).round() as u64));
    }
    let pairs = [
        (Metric::GenTps, "avg_ts", "stddev_ts"),
        (Metric::TtftMs, "ttft_avg_ms", "ttft_stddev_ms"),
        (Metric::PpTps, "pp_avg_ts", "pp_stddev_ts"),
    ];
    for (metric, avg, sd) in pairs {
        if let Some(s) = c.stats.get(&metric) {
            set(row, avg, json!(s.mean));
            set(row, sd, json!(s.sd.unwrap_or(0.0)));
        }
    }
    set(
        row,
        "samples_ns",
        json!(ns.iter().map(|n| n.round() as u64).collect::<Vec<_>>()),
    );
    set(row, "samples_ts", json!(ts));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::fixtures::{cell, gen_runs, manifest, run};

    fn lb_record(results: Vec<Value>) -> LlamaBenchRecord {
        LlamaBenchRecord {
            backend: crate::backend::Backend::Cpu,
            source: "default".into(),
            model: "gemma-3-270m-q4_k_m".into(),
            argv: vec![],
            notes: vec![],
            status: CellStatus::Ok,
            failure: None,
            results,
            seconds: 1.0,
            log: String::new(),
        }
    }

    #[test]
    fn a_server_cell_maps_onto_llama_bench_fields() {
        let mut m = manifest();
        // Generation 100 and 50 t/s over 4 tokens: 40 ms and 80 ms.
        let mut runs = vec![run(10.0, 1.0, 1.0, true)];
        runs.extend(gen_runs(&[100.0, 50.0]));
        m.cells = vec![cell(31, "default", runs, None)];
        m.llama_bench = vec![lb_record(vec![serde_json::json!({
            "build_commit": "unknown", "model_type": "gemma3 270M Q4_K - Medium",
            "model_size": 253113024, "model_n_params": 268098176, "gpu_info": "",
            "cpu_strict": 0, "n_prompt": 16, "n_gen": 0, "avg_ts": "812.5",
            "samples_ts": [810.0, 815.0]
        })])];
        let rows = rows(&m, &Options::default());
        assert_eq!(rows.len(), 2);
        let (lb, server) = (&rows[0], &rows[1]);
        // llama-bench's values stay, typed as llama-bench types them; the
        // commit is the plan's source's.
        assert_eq!(lb.get("build_commit"), Some(&json!("0c1e5709")));
        assert_eq!(lb.get("cpu_strict"), Some(&json!(false)));
        assert_eq!(lb.get("avg_ts"), Some(&json!(812.5)));
        assert_eq!(lb.get("n_runs"), Some(&json!(2)));
        assert_eq!(lb.get("rigbench_mode"), Some(&json!("llama-bench")));
        // The cell: prompt and generated tokens, the model as llama-bench
        // named it, the generation rate over the measured runs only.
        let g = |k: &str| server.get(k).cloned().unwrap_or(Value::Null);
        assert_eq!(g("n_prompt"), json!(31));
        assert_eq!(g("n_gen"), json!(4));
        assert_eq!(g("model_type"), json!("gemma3 270M Q4_K - Medium"));
        assert_eq!(g("backends"), json!("CPU"));
        assert_eq!(g("flash_attn"), json!(1));
        assert_eq!(g("n_threads"), json!(2));
        assert_eq!(g("avg_ts"), json!(75.0));
        let sd = g("stddev_ts").as_f64().unwrap();
        assert!((sd - 35.355_339).abs() < 1e-5, "{sd}");
        assert_eq!(g("samples_ts"), json!([100.0, 50.0]));
        assert_eq!(g("samples_ns"), json!([40_000_000u64, 80_000_000u64]));
        assert_eq!(g("avg_ns"), json!(60_000_000u64));
        assert_eq!(g("ttft_avg_ms"), json!(50.0));
        assert_eq!(g("pp_avg_ts"), json!(500.0));
        assert_eq!(g("n_runs"), json!(2));
        assert_eq!(g("rigbench_cell"), json!("cpu.m.default.p31"));
        assert_eq!(g("rigbench_status"), json!("ok"));
    }

    #[test]
    fn a_failed_cell_is_a_row_without_figures_and_the_build_can_be_named() {
        let mut m = manifest();
        let failure = crate::manifest::Failure {
            mode: crate::status::FailureMode::Crash,
            message: "exit 139".into(),
            evidence: vec![],
        };
        m.cells = vec![cell(31, "default", vec![], Some(failure))];
        let opts = Options {
            build_commit: Some("run-a".into()),
        };
        let rows = rows(&m, &opts);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].get("build_commit"), Some(&json!("run-a")));
        assert_eq!(rows[0].get("avg_ts"), Some(&Value::Null));
        assert_eq!(
            rows[0].get("rigbench_status"),
            Some(&json!("failed: crash"))
        );
        // Without a llama-bench test, the model type comes from its GGUF facts
        // (none in this fixture: the cell's model is not in `models`).
        assert_eq!(
            rows[0].get("model_type"),
            Some(&json!("gemma-3-270m-q4_k_m"))
        );
    }
}
