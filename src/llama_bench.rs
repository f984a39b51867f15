//! llama-bench mode, the pure parts: the command line from the plan's settings,
//! mapped to the flags the image's llama-bench accepts (its `--help` says which:
//! `-fa on|off|auto` replaced `-fa 0|1`, `--load-mode` replaced `-mmp`, `-d`
//! appeared later), and the rows of its JSON output for the report.

use serde_json::Value;

use crate::plan::{FlashAttn, LoadMode};

pub use crate::plan::llama_bench::Settings;

/// The flags a llama-bench accepts, read from its `--help`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flags {
    /// `-fa` takes on|off|auto (else 0|1).
    pub fa_words: bool,
    /// `--load-mode` exists (else `-mmp 0|1`).
    pub load_mode: bool,
    /// `-d` exists.
    pub depth: bool,
}

impl Flags {
    /// What a current llama-bench accepts (llama.cpp since late 2025): the
    /// flags a plan's settings are written in before an image's `--help` is read.
    pub const CURRENT: Flags = Flags {
        fa_words: true,
        load_mode: true,
        depth: true,
    };

    pub fn from_help(help: &str) -> Flags {
        Flags {
            fa_words: help.contains("--flash-attn <on|off|auto>"),
            load_mode: help.contains("--load-mode"),
            depth: help.contains("--n-depth"),
        }
    }
}

fn join(v: &[u32]) -> String {
    v.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
}

/// The llama-bench arguments (after the binary) and what could not be expressed.
pub fn args(
    s: &Settings,
    flags: Flags,
    model: &str,
    gpu_layers: u32,
) -> (Vec<String>, Vec<String>) {
    let mut a: Vec<String> = vec![
        "-m".into(),
        model.into(),
        "-p".into(),
        join(&s.n_prompt),
        "-n".into(),
        join(&s.n_gen),
        "-r".into(),
        s.repetitions.to_string(),
        "-ngl".into(),
        gpu_layers.to_string(),
        "-t".into(),
        s.threads.to_string(),
        "-o".into(),
        "json".into(),
    ];
    let mut notes = Vec::new();
    if flags.depth {
        a.extend(["-d".into(), join(&s.n_depth)]);
    } else if s.n_depth.iter().any(|d| *d != 0) {
        notes.push("this llama-bench has no -d: depths other than 0 were not measured".to_string());
    }
    if flags.fa_words {
        a.extend(["-fa".into(), s.flash_attn.name().into()]);
    } else {
        match fa_digit(s.flash_attn) {
            Some(d) => a.extend(["-fa".into(), d.into()]),
            None => notes.push(format!(
                "this llama-bench takes -fa 0|1: flash_attn {} left to its default",
                s.flash_attn.name()
            )),
        }
    }
    if flags.load_mode {
        a.extend(["--load-mode".into(), s.load_mode.name().into()]);
    } else {
        match mmp_digit(s.load_mode) {
            Some(d) => a.extend(["-mmp".into(), d.into()]),
            None => notes.push(format!(
                "this llama-bench has no --load-mode: load_mode {} left to its default",
                s.load_mode.name()
            )),
        }
    }
    (a, notes)
}

/// A planned run's arguments as a current llama-bench takes them (what the
/// dry run shows and the manifest records before the image's `--help` is read).
pub fn planned_argv(s: &Settings, r: &crate::plan::llama_bench::Run) -> Vec<String> {
    let model = format!("/models/{}", r.model_file);
    args(s, Flags::CURRENT, &model, r.gpu_layers).0
}

/// An older llama-bench's `-fa 0|1`, where the word has one.
fn fa_digit(f: FlashAttn) -> Option<&'static str> {
    match f {
        FlashAttn::On => Some("1"),
        FlashAttn::Off => Some("0"),
        FlashAttn::Auto => None,
    }
}

/// An older llama-bench's `-mmp 0|1` (before `--load-mode`), where the mode
/// has one.
fn mmp_digit(m: LoadMode) -> Option<&'static str> {
    match m {
        LoadMode::Mmap => Some("1"),
        LoadMode::None => Some("0"),
        LoadMode::Auto | LoadMode::Mlock | LoadMode::MmapMlock | LoadMode::Dio => None,
    }
}

/// One llama-bench result row as the report shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// `pp512`, `tg128`, `pp512+tg128`, with ` @ d4096` for a depth.
    pub test: String,
    pub avg_ts: f64,
    pub stddev_ts: f64,
}

fn num(v: &Value, k: &str) -> f64 {
    v.get(k).and_then(Value::as_f64).unwrap_or(0.0)
}

/// A test as llama-bench's tables name it: `pp512`, `tg128`, `pp512+tg128`,
/// with ` @ d4096` for a depth.
pub fn test_name(n_prompt: u32, n_gen: u32, n_depth: u32) -> String {
    let mut test = match (n_prompt > 0, n_gen > 0) {
        (true, false) => format!("pp{n_prompt}"),
        (false, true) => format!("tg{n_gen}"),
        _ => format!("pp{n_prompt}+tg{n_gen}"),
    };
    if n_depth > 0 {
        test.push_str(&format!(" @ d{n_depth}"));
    }
    test
}

/// A whole-number field of a llama-bench test object (0 when absent).
pub fn count(v: &Value, k: &str) -> u32 {
    v.get(k)
        .and_then(Value::as_u64)
        .and_then(|n| u32::try_from(n).ok())
        .unwrap_or(0)
}

/// The rows of llama-bench's JSON output (an array of test objects).
pub fn rows(results: &[Value]) -> Vec<Row> {
    results
        .iter()
        .map(|r| {
            let test = test_name(count(r, "n_prompt"), count(r, "n_gen"), count(r, "n_depth"));
            Row {
                test,
                avg_ts: num(r, "avg_ts"),
                stddev_ts: num(r, "stddev_ts"),
            }
        })
        .collect()
}

/// The JSON array llama-bench printed on stdout.
pub fn parse_output(stdout: &str) -> Result<Vec<Value>, String> {
    let start = stdout
        .find('[')
        .ok_or("no JSON array in llama-bench's output")?;
    let v: Value = serde_json::from_str(stdout[start..].trim())
        .map_err(|e| format!("llama-bench's JSON does not parse: {e}"))?;
    match v {
        Value::Array(items) => Ok(items),
        _ => Err("llama-bench's JSON is not an array".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::AutoOr;

    fn settings() -> Settings {
        Settings {
            n_prompt: vec![512],
            n_gen: vec![128],
            n_depth: vec![0, 4096],
            repetitions: 3,
            flash_attn: crate::plan::FlashAttn::On,
            n_gpu_layers: AutoOr::Auto,
            threads: 2,
            load_mode: crate::plan::LoadMode::Mmap,
            timeout_s: 600,
        }
    }

    #[test]
    fn new_llama_bench_gets_words_and_load_mode() {
        let help = "  -fa, --flash-attn <on|off|auto>   (default: auto)\n  -lm, --load-mode <auto|none|mmap>\n  -d, --n-depth <n>\n";
        let (a, notes) = args(&settings(), Flags::from_help(help), "/models/m.gguf", 999);
        assert_eq!(
            a.join(" "),
            "-m /models/m.gguf -p 512 -n 128 -r 3 -ngl 999 -t 2 -o json -d 0,4096 -fa on --load-mode mmap"
        );
        assert!(notes.is_empty());
    }

    #[test]
    fn old_llama_bench_gets_numbers_and_mmp_and_says_what_it_lacks() {
        let help = "  -fa, --flash-attn <0|1>\n  -mmp, --mmap <0|1>\n";
        let (a, notes) = args(&settings(), Flags::from_help(help), "/models/m.gguf", 0);
        assert!(a.join(" ").ends_with("-o json -fa 1 -mmp 1"), "{a:?}");
        assert_eq!(notes.len(), 1);
        assert!(notes[0].contains("no -d"));
    }

    #[test]
    fn the_old_digits_where_there_are_some() {
        assert_eq!(fa_digit(FlashAttn::On), Some("1"));
        assert_eq!(fa_digit(FlashAttn::Off), Some("0"));
        assert_eq!(fa_digit(FlashAttn::Auto), None);
        assert_eq!(mmp_digit(LoadMode::Mmap), Some("1"));
        assert_eq!(mmp_digit(LoadMode::None), Some("0"));
        assert_eq!(mmp_digit(LoadMode::Dio), None);
    }

    #[test]
    fn rows_name_tests_like_llama_bench_tables() {
        let out = r#"[
          {"n_prompt": 512, "n_gen": 0, "n_depth": 0, "avg_ts": 812.5, "stddev_ts": 3.25},
          {"n_prompt": 0, "n_gen": 128, "n_depth": 4096, "avg_ts": 70.1, "stddev_ts": 0.5}
        ]"#;
        let r = rows(&parse_output(&format!("warming up\n{out}\n")).unwrap());
        assert_eq!(r[0].test, "pp512");
        assert_eq!(r[0].avg_ts, 812.5);
        assert_eq!(r[1].test, "tg128 @ d4096");
        assert_eq!(r[1].stddev_ts, 0.5);
        assert!(parse_output("no json").is_err());
    }
}
