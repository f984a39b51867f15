//! The four export formats, written the way llama-bench writes them: JSONL with
//! every field (samples as arrays), CSV with every field quoted, SQL for
//! SQLite (`CREATE TABLE IF NOT EXISTS llama_bench`, typed columns, one INSERT
//! per row), and a Markdown table of the columns llama-bench's own shows.

use serde_json::Value;

use super::rows::Row;
use super::{Kind, columns};

/// The columns CSV and SQL carry: all but the sample lists.
fn flat_columns() -> impl Iterator<Item = (&'static str, Kind)> {
    columns().filter(|(_, k)| *k != Kind::List)
}

/// A value as CSV text: booleans as 1/0 (as llama-bench prints them), null as
/// nothing.
fn plain(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::Bool(b) => if *b { "1" } else { "0" }.to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub fn jsonl(rows: &[Row]) -> String {
    let mut out = String::new();
    for r in rows {
        let fields: Vec<String> =
            r.0.iter()
                .map(|(k, v)| format!("{}: {v}", Value::from(*k)))
                .collect();
        out.push('{');
        out.push_str(&fields.join(", "));
        out.push_str("}\n");
    }
    out
}

fn csv_field(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

pub fn csv(rows: &[Row]) -> String {
    let header: Vec<&str> = flat_columns().map(|(n, _)| n).collect();
    let mut out = header.join(",");
    out.push('\n');
    for r in rows {
        let values: Vec<String> = flat_columns()
            .map(|(n, _)| csv_field(&plain(r.get(n).unwrap_or(&Value::Null))))
            .collect();
        out.push_str(&values.join(","));
        out.push('\n');
    }
    out
}

fn sql_type(k: Kind) -> &'static str {
    match k {
        Kind::Text | Kind::List => "TEXT",
        Kind::Int | Kind::Bool => "INTEGER",
        Kind::Real => "REAL",
    }
}

fn sql_value(v: &Value) -> String {
    match v {
        Value::Null => "NULL".to_string(),
        Value::Bool(b) => if *b { "1" } else { "0" }.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("'{}'", s.replace('\'', "''")),
        other => format!("'{}'", other.to_string().replace('\'', "''")),
    }
}

pub fn sql(rows: &[Row]) -> String {
    let cols: Vec<(&str, Kind)> = flat_columns().collect();
    let defs: Vec<String> = cols
        .iter()
        .map(|(n, k)| format!("  {n} {}", sql_type(*k)))
        .collect();
    let mut out = format!(
        "CREATE TABLE IF NOT EXISTS llama_bench (\n{}\n);\n\n",
        defs.join(",\n")
    );
    let names: Vec<&str> = cols.iter().map(|(n, _)| *n).collect();
    for r in rows {
        let values: Vec<String> = cols
            .iter()
            .map(|(n, _)| sql_value(r.get(n).unwrap_or(&Value::Null)))
            .collect();
        out.push_str(&format!(
            "INSERT INTO llama_bench ({}) VALUES ({});\n",
            names.join(", "),
            values.join(", ")
        ));
    }
    out
}

fn int(r: &Row, k: &str) -> i64 {
    r.get(k).and_then(Value::as_i64).unwrap_or(0)
}

/// The test as llama-bench's table names it: `pp512`, `tg128`, `pp31+tg32`.
fn test_name(r: &Row) -> String {
    let n = |k: &str| u32::try_from(int(r, k)).unwrap_or(0);
    crate::llama_bench::test_name(n("n_prompt"), n("n_gen"), n("n_depth"))
}

pub fn markdown(rows: &[Row]) -> String {
    let mut t = crate::render::Table::new([
        "model", "size", "params", "backend", "ngl", "mode", "test", "t/s",
    ]);
    for r in rows {
        let text = |k: &str| plain(r.get(k).unwrap_or(&Value::Null));
        let gib = int(r, "model_size") as f64 / f64::from(1u32 << 30);
        let params = int(r, "model_n_params") as f64 / 1e6;
        let ts = match (
            r.get("avg_ts").and_then(Value::as_f64),
            text("rigbench_status"),
        ) {
            (Some(avg), _) => format!(
                "{avg:.2} ± {:.2}",
                r.get("stddev_ts").and_then(Value::as_f64).unwrap_or(0.0)
            ),
            (None, status) => status,
        };
        t.push([
            text("model_type"),
            format!("{gib:.2} GiB"),
            format!("{params:.2} M"),
            text("rigbench_backend"),
            text("n_gpu_layers"),
            text("rigbench_mode"),
            test_name(r),
            ts,
        ]);
    }
    crate::render::markdown::table(&t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn row(pairs: &[(&'static str, Value)]) -> Row {
        let mut cells: Vec<(&'static str, Value)> =
            columns().map(|(n, _)| (n, Value::Null)).collect();
        for (k, v) in pairs {
            if let Some(slot) = cells.iter_mut().find(|(n, _)| n == k) {
                slot.1 = v.clone();
            }
        }
        Row(cells)
    }

    fn sample() -> Row {
        row(&[
            ("build_commit", json!("0c1e5709")),
            ("model_type", json!("gemma3 270M Q4_K - Medium")),
            ("model_size", json!(253_113_024u64)),
            ("model_n_params", json!(268_098_176u64)),
            ("cpu_strict", json!(false)),
            ("n_gpu_layers", json!(0)),
            ("n_prompt", json!(512)),
            ("n_gen", json!(0)),
            ("avg_ts", json!(812.5)),
            ("stddev_ts", json!(3.25)),
            ("samples_ts", json!([810.0, 815.0])),
            ("rigbench_backend", json!("cpu")),
            ("rigbench_mode", json!("llama-bench")),
            ("rigbench_status", json!("ok")),
            ("cpu_info", json!("AMD \"EPYC\" 7B13, 2 cores")),
        ])
    }

    #[test]
    fn jsonl_keeps_column_order_types_and_samples() {
        let out = jsonl(&[sample()]);
        assert_eq!(out.lines().count(), 1);
        assert!(
            out.starts_with("{\"build_commit\": \"0c1e5709\", \"build_number\": null, "),
            "{out}"
        );
        let v: Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(v["avg_ts"], json!(812.5));
        assert_eq!(v["cpu_strict"], json!(false));
        assert_eq!(v["samples_ts"], json!([810.0, 815.0]));
    }

    #[test]
    fn csv_quotes_every_field_doubles_quotes_and_prints_booleans_as_digits() {
        let out = csv(&[sample()]);
        let mut lines = out.lines();
        let header = lines.next().unwrap();
        assert!(header.starts_with("build_commit,build_number,cpu_info,"));
        assert!(!header.contains("samples_ts"), "samples are JSON only");
        let line = lines.next().unwrap();
        assert!(line.starts_with("\"0c1e5709\",\"\",\"AMD \"\"EPYC\"\" 7B13, 2 cores\","));
        let header: Vec<&str> = header.split(',').collect();
        let inner = line
            .strip_prefix('"')
            .and_then(|l| l.strip_suffix('"'))
            .unwrap();
        let values: Vec<&str> = inner.split("\",\"").collect();
        assert_eq!(values.len(), header.len());
        let at = |k: &str| values[header.iter().position(|h| *h == k).unwrap()];
        assert_eq!(at("cpu_strict"), "0");
        assert_eq!(at("avg_ts"), "812.5");
        assert_eq!(at("poll"), "");
    }

    #[test]
    fn sql_creates_the_llama_bench_table_and_escapes_text() {
        let out = sql(&[sample()]);
        assert!(out.starts_with("CREATE TABLE IF NOT EXISTS llama_bench (\n  build_commit TEXT,\n  build_number INTEGER,\n"));
        assert!(out.contains("  avg_ts REAL,\n"));
        assert!(out.contains("  cpu_strict INTEGER,\n"));
        let insert = out.lines().find(|l| l.starts_with("INSERT")).unwrap();
        assert!(
            insert.contains("VALUES ('0c1e5709', NULL, 'AMD \"EPYC\" 7B13, 2 cores', "),
            "{insert}"
        );
        assert!(insert.contains(", 812.5, 3.25, "), "{insert}");
        assert!(!insert.contains("samples_ts"));
    }

    #[test]
    fn markdown_names_tests_like_llama_bench() {
        let mut server = sample();
        for (k, v) in &mut server.0 {
            match *k {
                "n_prompt" => *v = json!(31),
                "n_gen" => *v = json!(32),
                "rigbench_mode" => *v = json!("server"),
                _ => {}
            }
        }
        let mut failed = sample();
        for (k, v) in &mut failed.0 {
            match *k {
                "avg_ts" => *v = Value::Null,
                "rigbench_status" => *v = json!("failed: crash"),
                _ => {}
            }
        }
        let out = markdown(&[sample(), server, failed]);
        let cells: Vec<Vec<&str>> = out
            .lines()
            .map(|l| l.trim_matches('|').split('|').map(str::trim).collect())
            .collect();
        assert_eq!(
            cells[0],
            [
                "model", "size", "params", "backend", "ngl", "mode", "test", "t/s"
            ]
        );
        assert_eq!(
            cells[2],
            [
                "gemma3 270M Q4_K - Medium",
                "0.24 GiB",
                "268.10 M",
                "cpu",
                "0",
                "llama-bench",
                "pp512",
                "812.50 ± 3.25"
            ]
        );
        assert_eq!(cells[3][5..], ["server", "pp31+tg32", "812.50 ± 3.25"]);
        assert_eq!(cells[4][7], "failed: crash");
    }
}
