//! `rigbench export`: a run's results in llama-bench's own layout, so that the
//! tools people already use read them (llama.cpp's `compare-llama-bench.py`,
//! llama-bench viewers, SQLite). One row per llama-bench test and one per
//! server-measured cell, under llama-bench's field names, then the fields
//! rigbench adds (its cell, mode, backend, status, TTFT and prompt processing).
//! `columns` names the layout, `rows` fills it from a manifest, `render` writes
//! the four formats; all pure.

pub mod render;
pub mod rows;

pub use rows::{Options, rows};

/// The formats `rigbench export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One JSON object per line, as `llama-bench -o jsonl` writes.
    Jsonl,
    /// A header line and one line per row, as `llama-bench -o csv`.
    Csv,
    /// A Markdown table of the main columns, as `llama-bench -o md`.
    Md,
    /// `CREATE TABLE llama_bench` and one `INSERT` per row, as `llama-bench -o
    /// sql` (pipe it into `sqlite3 FILE`).
    Sql,
}

/// How a column's values are typed (llama-bench's own field types; SQL and
/// JSON follow them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Int,
    Bool,
    Real,
    /// A list of numbers (JSONL only, as llama-bench writes its samples).
    List,
}

/// llama-bench's fields (its `test::get_fields`, at the pinned source), in
/// its order, with their types.
pub const LLAMA_BENCH_FIELDS: &[(&str, Kind)] = &[
    ("build_commit", Kind::Text),
    ("build_number", Kind::Int),
    ("cpu_info", Kind::Text),
    ("gpu_info", Kind::Text),
    ("backends", Kind::Text),
    ("model_filename", Kind::Text),
    ("model_type", Kind::Text),
    ("model_size", Kind::Int),
    ("model_n_params", Kind::Int),
    ("n_batch", Kind::Int),
    ("n_ubatch", Kind::Int),
    ("n_threads", Kind::Int),
    ("cpu_mask", Kind::Text),
    ("cpu_strict", Kind::Bool),
    ("poll", Kind::Int),
    ("type_k", Kind::Text),
    ("type_v", Kind::Text),
    ("n_gpu_layers", Kind::Int),
    ("n_cpu_moe", Kind::Int),
    ("split_mode", Kind::Text),
    ("main_gpu", Kind::Int),
    ("no_kv_offload", Kind::Bool),
    ("flash_attn", Kind::Int),
    ("devices", Kind::Text),
    ("tensor_split", Kind::Text),
    ("tensor_buft_overrides", Kind::Text),
    ("load_mode", Kind::Text),
    ("lazy_mode", Kind::Text),
    ("embeddings", Kind::Bool),
    ("no_op_offload", Kind::Int),
    ("no_host", Kind::Bool),
    ("repack", Kind::Bool),
    ("fit_target", Kind::Int),
    ("fit_min_ctx", Kind::Int),
    ("n_prompt", Kind::Int),
    ("n_gen", Kind::Int),
    ("n_depth", Kind::Int),
    ("test_time", Kind::Text),
    ("avg_ns", Kind::Int),
    ("stddev_ns", Kind::Int),
    ("avg_ts", Kind::Real),
    ("stddev_ts", Kind::Real),
];

/// llama-bench's per-repetition samples (its JSON and JSONL only).
pub const SAMPLE_FIELDS: &[(&str, Kind)] =
    &[("samples_ns", Kind::List), ("samples_ts", Kind::List)];

/// What rigbench adds after llama-bench's fields.
pub const RIGBENCH_FIELDS: &[(&str, Kind)] = &[
    ("rigbench_run_id", Kind::Text),
    ("rigbench_cell", Kind::Text),
    // `server` (rigbench's own measurement through llama-server) or `llama-bench`.
    ("rigbench_mode", Kind::Text),
    ("rigbench_backend", Kind::Text),
    ("rigbench_source", Kind::Text),
    ("rigbench_variant", Kind::Text),
    // `ok`, or `failed: <mode>`: a failed cell is a row with no figures.
    ("rigbench_status", Kind::Text),
    ("n_runs", Kind::Int),
    ("ttft_avg_ms", Kind::Real),
    ("ttft_stddev_ms", Kind::Real),
    ("pp_avg_ts", Kind::Real),
    ("pp_stddev_ts", Kind::Real),
];

/// Every column, in order.
pub fn columns() -> impl Iterator<Item = (&'static str, Kind)> {
    LLAMA_BENCH_FIELDS
        .iter()
        .chain(SAMPLE_FIELDS)
        .chain(RIGBENCH_FIELDS)
        .copied()
}

/// The run `m` in `format`.
pub fn export(m: &crate::manifest::Manifest, format: Format, opts: &Options) -> String {
    let rows = rows(m, opts);
    match format {
        Format::Jsonl => render::jsonl(&rows),
        Format::Csv => render::csv(&rows),
        Format::Md => render::markdown(&rows),
        Format::Sql => render::sql(&rows),
    }
}
