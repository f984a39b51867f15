//! A reference from llama-bench's own results (`llama-bench -o json` or `-o
//! jsonl`, one file or several): each test becomes a `[[llama_bench]]` entry
//! (its backend, model type, prompt/generation/depth, mean and sd over its
//! repetitions), the CPU, GPU and commit it names become setup facts. A run
//! with llama-bench tests is then compared with it test by test.

use serde_json::Value;

use super::{RefLlamaBench, Reference, SetupFact};
use crate::backend::Backend;
use crate::llama_bench::count;

/// What could not be read, naming the file and the test.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {message}")]
pub struct ImportError {
    pub file: String,
    pub message: String,
}

/// The test objects of one llama-bench output: a JSON array, or one object per
/// line (JSONL; blank lines skipped).
pub fn parse_tests(text: &str, file: &str) -> Result<Vec<Value>, ImportError> {
    let bad = |message: String| ImportError {
        file: file.to_string(),
        message,
    };
    let trimmed = text.trim_start();
    if trimmed.starts_with('[') {
        return match serde_json::from_str::<Value>(trimmed) {
            Ok(Value::Array(items)) => Ok(items),
            Ok(_) => Err(bad("not an array of llama-bench tests".to_string())),
            Err(e) => Err(bad(format!("not llama-bench JSON: {e}"))),
        };
    }
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| {
                bad(format!(
                    "line {}: not a llama-bench JSONL object: {e}",
                    i + 1
                ))
            })
        })
        .collect()
}

/// The backend a test ran on, from llama-bench's `backends` (`CPU`,
/// `Vulkan`, `CUDA`, `ROCm`, or several joined by commas: the first GPU one
/// counts; `Backend::from_llama_cpp_name` reads each); `forced` overrides it
/// (and is needed where a name means several backends, ROCm: rocm6 or rocm7).
fn backend_of(t: &Value, forced: Option<Backend>) -> Result<Backend, String> {
    if let Some(b) = forced {
        return Ok(b);
    }
    let names = t.get("backends").and_then(Value::as_str).unwrap_or("");
    let mut found = None;
    for n in names.split(',').map(str::trim) {
        let b = match Backend::from_llama_cpp_name(n).as_slice() {
            [] => None,
            [b] => Some(*b),
            several => {
                return Err(format!(
                    "backends \"{names}\": {}, built as rigbench's {}; say which with --backend",
                    several[0].llama_cpp_name(),
                    several
                        .iter()
                        .map(|b| b.name())
                        .collect::<Vec<_>>()
                        .join(" or ")
                ));
            }
        };
        match (found, b) {
            (None, Some(b)) => found = Some(b),
            (Some(f), Some(b)) if !f.is_gpu() => found = Some(b),
            _ => {}
        }
    }
    found.ok_or_else(|| {
        format!(
            "backends \"{names}\" names no backend rigbench builds ({}); say which with --backend",
            Backend::names().join(", ")
        )
    })
}

fn float(t: &Value, k: &str) -> Option<f64> {
    match t.get(k)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

fn text(t: &Value, k: &str) -> Option<String> {
    t.get(k)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// One test as a reference entry; `at` names it in errors.
pub fn entry(t: &Value, forced: Option<Backend>, at: &str) -> Result<RefLlamaBench, String> {
    let backend = backend_of(t, forced).map_err(|e| format!("{at}: {e}"))?;
    let (Some(avg), Some(sd)) = (float(t, "avg_ts"), float(t, "stddev_ts")) else {
        return Err(format!("{at}: no avg_ts and stddev_ts"));
    };
    let repetitions = t
        .get("samples_ts")
        .and_then(Value::as_array)
        .map(Vec::len)
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| {
            format!("{at}: no samples_ts (write it with llama-bench -o json or -o jsonl)")
        })?;
    let model_type = text(t, "model_type").ok_or_else(|| format!("{at}: no model_type"))?;
    Ok(RefLlamaBench {
        backend,
        model_type,
        n_prompt: count(t, "n_prompt"),
        n_gen: count(t, "n_gen"),
        n_depth: count(t, "n_depth"),
        ts: [avg, sd],
        repetitions,
        model_filename: text(t, "model_filename"),
        build_commit: text(t, "build_commit"),
        cpu_info: text(t, "cpu_info"),
        gpu_info: text(t, "gpu_info"),
    })
}

/// The reference the tests of `files` (each its path and text) make.
pub fn from_files(
    files: &[(String, String)],
    name: &str,
    title: &str,
    forced: Option<Backend>,
) -> Result<Reference, ImportError> {
    let mut entries = Vec::new();
    for (file, body) in files {
        for (i, t) in parse_tests(body, file)?.iter().enumerate() {
            let e =
                entry(t, forced, &format!("test {}", i + 1)).map_err(|message| ImportError {
                    file: file.clone(),
                    message,
                })?;
            entries.push(e);
        }
    }
    let Some(first) = entries.first() else {
        return Err(ImportError {
            file: files.first().map_or(String::new(), |(f, _)| f.clone()),
            message: "no llama-bench test in it".to_string(),
        });
    };
    let mut setup = Vec::new();
    let mut fact = |fact: &str, value: Option<&String>, check: Option<&str>| {
        if let Some(v) = value {
            setup.push(SetupFact {
                fact: fact.to_string(),
                value: v.clone(),
                check: check.map(str::to_string),
            });
        }
    };
    fact("CPU", first.cpu_info.as_ref(), Some("cpu_model"));
    fact("GPU", first.gpu_info.as_ref(), None);
    fact(
        "llama.cpp commit (llama-bench's build_commit)",
        first.build_commit.as_ref(),
        None,
    );
    Ok(Reference {
        name: name.to_string(),
        title: title.to_string(),
        plan: None,
        runs: entries.iter().map(|e| e.repetitions).min().unwrap_or(0),
        setup,
        cells: Vec::new(),
        failures: Vec::new(),
        llama_bench: entries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two tests as `llama-bench -o jsonl` prints them (trimmed to the fields
    /// read here and a few others).
    const JSONL: &str = r#"{"build_commit": "unknown", "build_number": 0, "cpu_info": "AMD EPYC 7B13", "gpu_info": "", "backends": "CPU", "model_filename": "/models/gemma-3-270m-q4_k_m.gguf", "model_type": "gemma3 270M Q4_K - Medium", "n_prompt": 16, "n_gen": 0, "n_depth": 0, "avg_ts": 512.25, "stddev_ts": 4.5, "samples_ns": [1, 2], "samples_ts": [509.1, 515.4]}
{"build_commit": "unknown", "build_number": 0, "cpu_info": "AMD EPYC 7B13", "gpu_info": "", "backends": "CPU", "model_filename": "/models/gemma-3-270m-q4_k_m.gguf", "model_type": "gemma3 270M Q4_K - Medium", "n_prompt": 0, "n_gen": 4, "n_depth": 0, "avg_ts": 60.5, "stddev_ts": 0.75, "samples_ns": [1, 2, 3], "samples_ts": [60.0, 60.5, 61.0]}
"#;

    #[test]
    fn jsonl_tests_become_entries_and_setup_facts_and_parse_back() {
        let files = vec![("lb.jsonl".to_string(), JSONL.to_string())];
        let r = from_files(&files, "lb", "llama-bench on EPYC", None).unwrap();
        assert_eq!(r.llama_bench.len(), 2);
        let pp = &r.llama_bench[0];
        assert_eq!(pp.backend, Backend::Cpu);
        assert_eq!(pp.test(), "pp16");
        assert_eq!(pp.ts, [512.25, 4.5]);
        assert_eq!(pp.repetitions, 2);
        assert_eq!(r.llama_bench[1].test(), "tg4");
        assert_eq!(r.llama_bench[1].repetitions, 3);
        // The reference's runs: the fewest repetitions behind a figure.
        assert_eq!(r.runs, 2);
        assert_eq!(r.setup[0].fact, "CPU");
        assert_eq!(r.setup[0].check.as_deref(), Some("cpu_model"));
        // The same tests as a JSON array give the same reference, and what is
        // written reads back.
        let array = format!("[{}]", JSONL.trim().replace('\n', ","));
        let r2 = from_files(
            &[("lb.json".into(), array)],
            "lb",
            "llama-bench on EPYC",
            None,
        )
        .unwrap();
        assert_eq!(r, r2);
        let toml = toml::to_string(&r).unwrap();
        assert_eq!(super::super::parse(&toml, "ref.toml").unwrap(), r);
    }

    #[test]
    fn bad_input_names_the_file_the_test_and_the_fix() {
        let rocm = JSONL.replace("\"CPU\"", "\"ROCm\"");
        let e = from_files(&[("lb.jsonl".into(), rocm.clone())], "x", "x", None).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("lb.jsonl: test 1: backends \"ROCm\""),
            "{e}"
        );
        assert!(e.to_string().contains("--backend"), "{e}");
        let forced =
            from_files(&[("lb.jsonl".into(), rocm)], "x", "x", Some(Backend::Rocm7)).unwrap();
        assert_eq!(forced.llama_bench[0].backend, Backend::Rocm7);
        // Vulkan builds also register the CPU backend: the GPU one counts.
        let vk = JSONL.replace("\"CPU\"", "\"Vulkan,CPU\"");
        let r = from_files(&[("lb.jsonl".into(), vk)], "x", "x", None).unwrap();
        assert_eq!(r.llama_bench[0].backend, Backend::Vulkan);
        let e =
            from_files(&[("lb.jsonl".into(), "{\"a\": 1\n".into())], "x", "x", None).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("lb.jsonl: line 1: not a llama-bench JSONL object"),
            "{e}"
        );
        let one_rep = JSONL.replace("\"samples_ts\": [509.1, 515.4]", "\"samples_ts\": [509.1]");
        let r = from_files(&[("lb.jsonl".into(), one_rep)], "x", "x", None).unwrap();
        let e = super::super::parse(&toml::to_string(&r).unwrap(), "ref.toml").unwrap_err();
        assert!(e.to_string().contains("at least 2 runs"), "{e}");
    }
}
