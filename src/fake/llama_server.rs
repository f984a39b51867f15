//! A fake llama-server on 127.0.0.1: `/health`, `/props`, `/tokenize` (one token per
//! word, ids from 100, BOS 2) and a streamed `/completion` whose pacing and faults
//! are set by `Behaviour`.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

#[derive(Debug, Clone)]
pub struct Behaviour {
    pub token_delay: Duration,
    /// Stop sending (connection stays open) after this many tokens.
    pub stall_after: Option<usize>,
    /// Close the connection after this many tokens, without a final event.
    pub truncate_after: Option<usize>,
    /// Report this `cache_n` in the timings.
    pub cache_n: u64,
    /// Generate these token ids over and over instead of varied ones.
    pub loop_tokens: Option<Vec<u32>>,
    /// Set when the fake engine delivers SIGKILL: streams in flight end at once,
    /// without a final event, as the connection of a killed process does.
    pub killed: Arc<std::sync::atomic::AtomicBool>,
    /// Set when the fake engine delivers SIGSTOP: streams stop sending, the
    /// connection stays open.
    pub stopped: Arc<std::sync::atomic::AtomicBool>,
    /// Generate at most this many tokens, then end normally with the count
    /// reached (as a server whose context filled does).
    pub max_predicted: Option<usize>,
    /// The context size `/props` reports.
    pub n_ctx: u64,
}

impl Default for Behaviour {
    fn default() -> Self {
        Behaviour {
            token_delay: Duration::from_millis(2),
            stall_after: None,
            truncate_after: None,
            cache_n: 0,
            loop_tokens: None,
            killed: Arc::default(),
            stopped: Arc::default(),
            max_predicted: None,
            n_ctx: 4096,
        }
    }
}

/// Serves the fake on `listener` until the task is dropped or aborted.
pub async fn serve(listener: tokio::net::TcpListener, behaviour: Behaviour) {
    let n_ctx = behaviour.n_ctx;
    let app = axum::Router::new()
        .route("/health", get(|| async { Json(json!({"status": "ok"})) }))
        .route(
            "/props",
            get(move || async move {
                Json(json!({"default_generation_settings": {"n_ctx": n_ctx}, "build_info": "fake"}))
            }),
        )
        .route("/tokenize", post(tokenize))
        .route("/completion", post(completion))
        .with_state(Arc::new(behaviour));
    // As llama.cpp builds its HTTP server: TCP_NODELAY, so each token leaves at once.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let _ = axum::serve(listener, app).await;
}

/// Binds a port on 127.0.0.1 and serves the fake there; returns the port.
pub async fn spawn(behaviour: Behaviour) -> (u16, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    (port, tokio::spawn(serve(listener, behaviour)))
}

async fn tokenize(Json(body): Json<Value>) -> Json<Value> {
    let text = body["content"].as_str().unwrap_or_default();
    let mut tokens: Vec<u64> = Vec::new();
    if body["add_special"].as_bool().unwrap_or(false) {
        tokens.push(2);
    }
    tokens.extend(
        text.split_whitespace()
            .enumerate()
            .map(|(i, _)| 100 + (i as u64 % 5000)),
    );
    Json(json!({ "tokens": tokens }))
}

async fn completion(State(b): State<Arc<Behaviour>>, Json(body): Json<Value>) -> Response {
    let prompt_n = body["prompt"].as_array().map_or(0, Vec::len) as u64;
    let n_predict = body["n_predict"].as_u64().unwrap_or(16) as usize;
    if body["cache_prompt"] != json!(false) {
        return (
            StatusCode::BAD_REQUEST,
            "rigbench must turn the prompt cache off",
        )
            .into_response();
    }
    let mut b = (*b).clone();
    // Greedy decoding with a large positive bias picks that token every time.
    if let Some(id) = body["logit_bias"]
        .as_array()
        .and_then(|l| l.iter().find(|e| e[1].as_f64().is_some_and(|b| b > 50.0)))
        .and_then(|e| e[0].as_u64())
    {
        b.loop_tokens = Some(vec![id as u32]);
    }
    let n_predict = b.max_predicted.map_or(n_predict, |m| m.min(n_predict));
    let stream = async_stream(b, prompt_n, n_predict);
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(Body::from_stream(stream))
        .unwrap()
}

fn async_stream(
    b: Behaviour,
    prompt_n: u64,
    n_predict: usize,
) -> impl futures_util::Stream<Item = Result<String, std::io::Error>> {
    futures_util::stream::unfold(0usize, move |i| {
        let b = b.clone();
        async move {
            if Some(i) == b.stall_after || b.stopped.load(std::sync::atomic::Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
            if Some(i) == b.truncate_after || i > n_predict {
                return None;
            }
            tokio::time::sleep(b.token_delay).await;
            if b.killed.load(std::sync::atomic::Ordering::SeqCst) {
                return None;
            }
            let event = if i < n_predict {
                let id = match &b.loop_tokens {
                    Some(l) => l[i % l.len()] as usize,
                    None => 1000 + i,
                };
                json!({"content": " w", "tokens": [id], "stop": false})
            } else {
                let gen_ms = b.token_delay.as_secs_f64() * 1000.0 * (n_predict as f64 - 1.0);
                json!({
                    "content": "", "tokens": [], "stop": true, "stop_type": "limit",
                    "timings": {
                        "cache_n": b.cache_n, "prompt_n": prompt_n, "prompt_ms": 5.0,
                        "predicted_n": n_predict, "predicted_ms": gen_ms,
                        "predicted_per_second": (n_predict as f64 - 1.0) / (gen_ms / 1000.0)
                    }
                })
            };
            Some((Ok(format!("data: {event}\n\n")), i + 1))
        }
    })
}
