//! From a streamed completion to the recorded run: pure functions of the token
//! arrival times and the server's final event. Also the construction of prompts of
//! an exact token count.
//!
//! Definitions (DESIGN.md, "Metrics"):
//! - TTFT: from just before the request is sent to the first streamed chunk that
//!   carries a token, on the client clock (`Instant`).
//! - Generation tokens/s: (N − 1) / (t_N − t_1) on client timestamps, where t_i is
//!   the arrival of the i-th token; the server's `predicted_per_second` is recorded
//!   beside it (llama-server computes it the same way: N − 1 decode steps over the
//!   time from the first to the last token).
//! - Prompt tokens/s: the server's `prompt_n / prompt_ms`, with the prompt cache off
//!   (`cache_prompt: false`) and `cache_n == 0` checked.

use std::time::Duration;

use serde_json::Value;

use crate::manifest::{Run, RunChecks};

/// One streamed chunk that carried tokens: when it arrived and which tokens.
#[derive(Debug, Clone, PartialEq)]
pub struct Arrival {
    /// Time since just before the request was sent.
    pub at: Duration,
    pub tokens: Vec<u32>,
}

/// What the client saw of one streamed completion.
#[derive(Debug, Clone, PartialEq)]
pub struct RawRun {
    pub arrivals: Vec<Arrival>,
    /// The last event (`stop: true`), with `timings`.
    pub final_event: Value,
    /// Time from sending to the end of the stream.
    pub wall: Duration,
    /// With `n_probs` asked: whether every token's log-probability was a
    /// finite number (llama-server writes NaN and infinities as null).
    pub logprobs_finite: Option<bool>,
}

/// Whether an event's `completion_probabilities` (present when `n_probs` was
/// asked) all carry finite log-probabilities; `None` when it has none.
pub fn finite_logprobs(event: &Value) -> Option<bool> {
    let probs = event.get("completion_probabilities")?.as_array()?;
    Some(probs.iter().all(|p| {
        let finite = |v: &Value| {
            v.get("logprob")
                .and_then(Value::as_f64)
                .is_some_and(f64::is_finite)
        };
        finite(p)
            && p.get("top_logprobs")
                .and_then(Value::as_array)
                .is_none_or(|top| top.iter().all(finite))
    }))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Turns a raw run into the manifest's record of it.
pub fn to_run(
    raw: &RawRun,
    index: u32,
    warmup: bool,
    started_at: String,
    prompt_tokens: u32,
    n_predict: u32,
) -> Run {
    let mut token_ids = Vec::new();
    let mut token_times_ms = Vec::new();
    for a in &raw.arrivals {
        for t in &a.tokens {
            token_ids.push(*t);
            token_times_ms.push(ms(a.at));
        }
    }
    let ttft_ms = token_times_ms.first().copied().unwrap_or(0.0);
    let gen_tps = match (token_times_ms.first(), token_times_ms.last()) {
        (Some(first), Some(last)) if last > first => {
            (token_times_ms.len() as f64 - 1.0) / ((last - first) / 1000.0)
        }
        _ => 0.0,
    };
    let timings = raw
        .final_event
        .get("timings")
        .cloned()
        .unwrap_or(Value::Null);
    let num = |k: &str| timings.get(k).and_then(Value::as_f64).unwrap_or(0.0);
    let prompt_n = num("prompt_n") as u64;
    let prompt_ms = num("prompt_ms");
    let predicted_n = num("predicted_n") as u64;
    let cache_n = num("cache_n") as u64;
    let pp_tps = if prompt_ms > 0.0 {
        prompt_n as f64 / (prompt_ms / 1000.0)
    } else {
        0.0
    };
    let checks = RunChecks {
        cache_n_zero: timings.is_object() && cache_n == 0,
        prompt_n_matches: prompt_n == u64::from(prompt_tokens),
        predicted_n_matches: predicted_n == u64::from(n_predict)
            && token_ids.len() == n_predict as usize,
    };
    Run {
        index,
        warmup,
        round: 0,
        started_at,
        ttft_ms,
        gen_tps,
        gen_tps_server: num("predicted_per_second"),
        pp_tps,
        wall_ms: ms(raw.wall),
        prompt_n,
        predicted_n,
        cache_n,
        timings,
        token_ids,
        token_times_ms,
        stop_type: raw
            .final_event
            .get("stop_type")
            .and_then(Value::as_str)
            .map(str::to_string),
        checks,
        telemetry: None,
        cooldown: None,
        degenerate: None,
        logits_finite: raw.logprobs_finite,
    }
}

/// The BOS token the model's tokenizer adds, found by tokenizing the same text with
/// and without special tokens: `Some(bos)` when the first is the second plus one
/// leading token.
pub fn detect_bos(with_special: &[u32], without: &[u32]) -> Option<u32> {
    (with_special.len() == without.len() + 1 && with_special[1..] == *without)
        .then(|| with_special[0])
}

/// A prompt of exactly `n` tokens: the BOS token (if the model uses one) followed by
/// the first tokens of the text.
pub fn build_prompt(bos: Option<u32>, text: &[u32], n: usize) -> Result<Vec<u32>, String> {
    let from_text = n - usize::from(bos.is_some() && n > 0);
    if from_text > text.len() {
        return Err(format!(
            "the prompt text has {} tokens, {from_text} are needed for a {n}-token prompt",
            text.len()
        ));
    }
    let mut out = Vec::with_capacity(n);
    if n > 0 {
        out.extend(bos);
    }
    out.extend_from_slice(&text[..from_text]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn arrival(ms: u64, tokens: &[u32]) -> Arrival {
        Arrival {
            at: Duration::from_millis(ms),
            tokens: tokens.to_vec(),
        }
    }

    fn final_event(prompt_n: u64, predicted_n: u64, cache_n: u64) -> Value {
        json!({
            "stop": true,
            "stop_type": "limit",
            "timings": {
                "cache_n": cache_n, "prompt_n": prompt_n, "prompt_ms": 250.0,
                "predicted_n": predicted_n, "predicted_ms": 300.0, "predicted_per_second": 10.0
            }
        })
    }

    #[test]
    fn metrics_by_hand() {
        // Tokens at 100, 200, 300, 400 ms: TTFT 100 ms; (4 − 1) / 0.3 s = 10 t/s.
        // Prompt: 31 tokens in 250 ms = 124 t/s.
        let raw = RawRun {
            arrivals: vec![
                arrival(100, &[5]),
                arrival(200, &[6]),
                arrival(300, &[7]),
                arrival(400, &[8]),
            ],
            final_event: final_event(31, 4, 0),
            wall: Duration::from_millis(410),
            logprobs_finite: None,
        };
        let r = to_run(&raw, 1, false, "t".into(), 31, 4);
        assert_eq!(r.ttft_ms, 100.0);
        assert!((r.gen_tps - 10.0).abs() < 1e-9, "{}", r.gen_tps);
        assert_eq!(r.gen_tps_server, 10.0);
        assert!((r.pp_tps - 124.0).abs() < 1e-9);
        assert_eq!(r.token_ids, [5, 6, 7, 8]);
        assert_eq!(r.token_times_ms, [100.0, 200.0, 300.0, 400.0]);
        assert_eq!(r.wall_ms, 410.0);
        assert_eq!(r.stop_type.as_deref(), Some("limit"));
        assert!(r.checks.all());
    }

    #[test]
    fn checks_catch_cache_hits_short_prompts_and_missing_tokens() {
        let raw = RawRun {
            arrivals: vec![arrival(10, &[1]), arrival(20, &[2])],
            final_event: final_event(30, 3, 5),
            wall: Duration::from_millis(30),
            logprobs_finite: None,
        };
        let r = to_run(&raw, 0, true, "t".into(), 31, 3);
        assert!(!r.checks.cache_n_zero);
        assert!(!r.checks.prompt_n_matches);
        assert!(!r.checks.predicted_n_matches);
        assert!(!r.checks.all());
    }

    #[test]
    fn logprobs_are_finite_only_when_every_one_is_a_number() {
        let ok = json!({"completion_probabilities": [
            {"id": 5, "logprob": -10.49, "top_logprobs": [{"id": 5, "logprob": -10.49}]}
        ]});
        assert_eq!(finite_logprobs(&ok), Some(true));
        // llama-server writes NaN and infinities as null.
        let nan = json!({"completion_probabilities": [{"id": 5, "logprob": null}]});
        assert_eq!(finite_logprobs(&nan), Some(false));
        let top = json!({"completion_probabilities": [
            {"id": 5, "logprob": -1.0, "top_logprobs": [{"id": 7, "logprob": null}]}
        ]});
        assert_eq!(finite_logprobs(&top), Some(false));
        assert_eq!(finite_logprobs(&json!({"tokens": [5]})), None);
    }

    #[test]
    fn no_timings_fails_the_cache_check() {
        let raw = RawRun {
            arrivals: vec![arrival(10, &[1]), arrival(20, &[2])],
            final_event: json!({"stop": true}),
            wall: Duration::from_millis(30),
            logprobs_finite: None,
        };
        assert!(!to_run(&raw, 0, false, "t".into(), 1, 2).checks.cache_n_zero);
    }

    #[test]
    fn bos_detection() {
        assert_eq!(detect_bos(&[2, 902, 506], &[902, 506]), Some(2));
        assert_eq!(detect_bos(&[902, 506], &[902, 506]), None);
        assert_eq!(detect_bos(&[902, 506, 1], &[902, 506]), None);
    }

    #[test]
    fn prompts_have_exactly_n_tokens() {
        let text: Vec<u32> = (100..200).collect();
        assert_eq!(build_prompt(Some(2), &text, 4).unwrap(), [2, 100, 101, 102]);
        assert_eq!(build_prompt(None, &text, 3).unwrap(), [100, 101, 102]);
        assert_eq!(build_prompt(Some(2), &text, 101).unwrap().len(), 101);
        let err = build_prompt(Some(2), &text, 102).unwrap_err();
        assert!(err.contains("has 100 tokens, 101 are needed"), "{err}");
    }
}
