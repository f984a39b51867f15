//! The client against the fake llama-server: measurement, and each way a stream fails.

use std::time::Duration;

use super::*;
use crate::fake::llama_server::{Behaviour, spawn};

fn params(prompt: Vec<u32>, n_predict: u32) -> CompletionParams {
    CompletionParams {
        prompt,
        n_predict,
        seed: 42,
        stall: Duration::from_secs(2),
        total: Duration::from_secs(20),
        extra: serde_json::Map::new(),
        progress: None,
    }
}

#[tokio::test]
async fn extra_fields_reach_the_server_and_progress_counts_every_token() {
    let (port, _server) = spawn(Behaviour::default()).await;
    let c = ServerClient::new(port).unwrap();
    let mut p = params(vec![2, 100, 101], 12);
    // The fake, like a greedy llama-server, emits a token with a large positive bias.
    p.extra.insert("logit_bias".into(), json!([[4242, 100.0]]));
    // A field rigbench manages is never overridden by `extra`.
    p.extra.insert("n_predict".into(), json!(3));
    let (tx, rx) = tokio::sync::watch::channel(0usize);
    p.progress = Some(std::sync::Arc::new(tx));
    let raw = c.complete(&p).await.unwrap();
    let ids: Vec<u32> = raw.arrivals.iter().flat_map(|a| a.tokens.clone()).collect();
    assert_eq!(ids, vec![4242; 12]);
    assert_eq!(*rx.borrow(), 12);
}

#[tokio::test]
async fn health_tokenize_and_a_measured_stream() {
    let (port, _server) = spawn(Behaviour {
        token_delay: Duration::from_millis(20),
        ..Behaviour::default()
    })
    .await;
    let c = ServerClient::new(port).unwrap();
    assert_eq!(c.health().await, Health::Ready);
    let with = c.tokenize("In the beginning", true).await.unwrap();
    let without = c.tokenize("In the beginning", false).await.unwrap();
    assert_eq!(measure::detect_bos(&with, &without), Some(2));

    let raw = c.complete(&params(vec![2, 100, 101], 8)).await.unwrap();
    let run = measure::to_run(&raw, 0, false, "t".into(), 3, 8);
    assert_eq!(run.token_ids.len(), 8);
    assert!(run.checks.all(), "{:?}", run.checks);
    // Tokens are 20 ms apart: 50 t/s, give or take the scheduler.
    assert!(run.gen_tps > 25.0 && run.gen_tps < 55.0, "{}", run.gen_tps);
    assert!(run.ttft_ms >= 15.0, "{}", run.ttft_ms);
    assert!(run.wall_ms >= run.token_times_ms[7]);
}

#[tokio::test]
async fn a_silent_stream_is_a_stall_naming_the_token_count() {
    let (port, _server) = spawn(Behaviour {
        stall_after: Some(3),
        ..Behaviour::default()
    })
    .await;
    let c = ServerClient::new(port).unwrap();
    let mut p = params(vec![2, 100], 8);
    p.stall = Duration::from_millis(300);
    let err = c.complete(&p).await.unwrap_err();
    assert!(matches!(err, BenchError::Stall { tokens: 3, .. }), "{err}");
}

#[tokio::test]
async fn a_stream_closed_early_is_truncated() {
    let (port, _server) = spawn(Behaviour {
        truncate_after: Some(4),
        ..Behaviour::default()
    })
    .await;
    let c = ServerClient::new(port).unwrap();
    let err = c.complete(&params(vec![2], 8)).await.unwrap_err();
    assert!(
        matches!(err, BenchError::Truncated { tokens: 4, .. }),
        "{err}"
    );
}

#[tokio::test]
async fn a_slow_run_hits_the_request_timeout() {
    let (port, _server) = spawn(Behaviour {
        token_delay: Duration::from_millis(100),
        ..Behaviour::default()
    })
    .await;
    let c = ServerClient::new(port).unwrap();
    let mut p = params(vec![2], 50);
    p.total = Duration::from_millis(400);
    let err = c.complete(&p).await.unwrap_err();
    assert!(matches!(err, BenchError::Timeout { .. }), "{err}");
}

#[tokio::test]
async fn a_prompt_cache_hit_fails_the_check() {
    let (port, _server) = spawn(Behaviour {
        cache_n: 7,
        ..Behaviour::default()
    })
    .await;
    let c = ServerClient::new(port).unwrap();
    let raw = c.complete(&params(vec![2, 100], 4)).await.unwrap();
    let run = measure::to_run(&raw, 0, false, "t".into(), 2, 4);
    assert!(!run.checks.cache_n_zero);
}

#[tokio::test]
async fn nothing_listening_is_unreachable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let c = ServerClient::new(port).unwrap();
    assert!(matches!(c.health().await, Health::Unreachable(_)));
}
