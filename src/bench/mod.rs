//! HTTP to llama-server: the only module that talks to it. Health, props, tokenize,
//! and the streamed completion each run is measured on. `measure` turns what the
//! client saw into the recorded run; `sse` splits the stream into events.

pub mod measure;
pub mod sse;

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{Value, json};

use measure::{Arrival, RawRun};

/// The public-domain text prompts are cut from: Genesis in the King James Version
/// (1611), from Debian's bible-kjv-text package.
pub const PROMPT_TEXT: &str = include_str!("../../assets/genesis-kjv.txt");

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("{what}: {message}")]
    Http { what: String, message: String },
    #[error("{what}: HTTP {status}: {body}")]
    Status {
        what: String,
        status: u16,
        body: String,
    },
    #[error("no token for {waited_s} s after {tokens} tokens (stall timeout)")]
    Stall { tokens: usize, waited_s: u64 },
    #[error("the run took longer than {limit_s} s (request timeout)")]
    Timeout { limit_s: u64 },
    #[error("the stream ended without a final event after {tokens} tokens{rest}")]
    Truncated { tokens: usize, rest: String },
    #[error("the server sent something that is not JSON: {0}")]
    Protocol(String),
}

/// What `/health` answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    Ready,
    /// The server answered but is not ready (503 while loading the model).
    Loading(u16),
    /// Nothing answered.
    Unreachable(String),
}

/// A client for one llama-server.
#[derive(Clone)]
pub struct ServerClient {
    http: reqwest::Client,
    base: String,
}

/// The parameters of one measured completion.
#[derive(Debug, Clone)]
pub struct CompletionParams {
    pub prompt: Vec<u32>,
    pub n_predict: u32,
    pub seed: u64,
    pub stall: Duration,
    pub total: Duration,
    /// Fields added to the request (the plan's `request`); never one of the above.
    pub extra: serde_json::Map<String, Value>,
    /// Told the number of tokens streamed so far, as they arrive.
    pub progress: Option<std::sync::Arc<tokio::sync::watch::Sender<usize>>>,
}

impl ServerClient {
    /// A client for the server at `127.0.0.1:port`.
    pub fn new(port: u16) -> Result<Self, BenchError> {
        let http = reqwest::Client::builder()
            // Loopback only: no proxy from the environment may stand in between.
            .no_proxy()
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| BenchError::Http {
                what: "HTTP client".to_string(),
                message: e.to_string(),
            })?;
        Ok(ServerClient {
            http,
            base: format!("http://127.0.0.1:{port}"),
        })
    }

    pub async fn health(&self) -> Health {
        let req = self
            .http
            .get(format!("{}/health", self.base))
            .timeout(Duration::from_secs(2));
        match req.send().await {
            Ok(r) if r.status().is_success() => Health::Ready,
            Ok(r) => Health::Loading(r.status().as_u16()),
            Err(e) => Health::Unreachable(e.to_string()),
        }
    }

    async fn post_json(&self, path: &str, body: &Value) -> Result<Value, BenchError> {
        let what = format!("POST {path}");
        let resp = self
            .http
            .post(format!("{}{path}", self.base))
            .timeout(Duration::from_secs(60))
            .json(body)
            .send()
            .await
            .map_err(|e| BenchError::Http {
                what: what.clone(),
                message: e.to_string(),
            })?;
        Self::json_of(resp, what).await
    }

    async fn json_of(resp: reqwest::Response, what: String) -> Result<Value, BenchError> {
        let status = resp.status();
        let text = resp.text().await.map_err(|e| BenchError::Http {
            what: what.clone(),
            message: e.to_string(),
        })?;
        if !status.is_success() {
            return Err(BenchError::Status {
                what,
                status: status.as_u16(),
                body: text.chars().take(500).collect(),
            });
        }
        serde_json::from_str(&text).map_err(|e| BenchError::Protocol(format!("{what}: {e}")))
    }

    /// The server's `/props` (context size, build, model path).
    pub async fn props(&self) -> Result<Value, BenchError> {
        let what = "GET /props".to_string();
        let resp = self
            .http
            .get(format!("{}/props", self.base))
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .map_err(|e| BenchError::Http {
                what: what.clone(),
                message: e.to_string(),
            })?;
        Self::json_of(resp, what).await
    }

    /// Token ids of `text` in the served model's vocabulary.
    pub async fn tokenize(&self, text: &str, add_special: bool) -> Result<Vec<u32>, BenchError> {
        let v = self
            .post_json(
                "/tokenize",
                &json!({"content": text, "add_special": add_special}),
            )
            .await?;
        v.get("tokens")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|t| t.as_u64().map(|t| t as u32))
                    .collect()
            })
            .ok_or_else(|| BenchError::Protocol("POST /tokenize: no \"tokens\" array".to_string()))
    }

    /// One streamed completion: greedy, fixed seed, prompt cache off, EOS ignored,
    /// exactly `n_predict` tokens. Token arrival times are taken on the client clock
    /// as each chunk arrives.
    pub async fn complete(&self, p: &CompletionParams) -> Result<RawRun, BenchError> {
        let mut body = json!({
            "prompt": p.prompt,
            "n_predict": p.n_predict,
            "stream": true,
            "cache_prompt": false,
            "return_tokens": true,
            "ignore_eos": true,
            "temperature": 0.0,
            "top_k": 1,
            "seed": p.seed,
        });
        if let Some(obj) = body.as_object_mut() {
            for (k, v) in &p.extra {
                obj.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        let total_s = p.total.as_secs();
        match tokio::time::timeout(p.total, self.stream(&body, p.stall, p.progress.as_deref()))
            .await
        {
            Ok(r) => r,
            Err(_) => Err(BenchError::Timeout { limit_s: total_s }),
        }
    }

    async fn stream(
        &self,
        body: &Value,
        stall: Duration,
        progress: Option<&tokio::sync::watch::Sender<usize>>,
    ) -> Result<RawRun, BenchError> {
        let what = "POST /completion".to_string();
        let t0 = Instant::now();
        let resp = self
            .http
            .post(format!("{}/completion", self.base))
            .json(body)
            .send()
            .await
            .map_err(|e| BenchError::Http {
                what: what.clone(),
                message: e.to_string(),
            })?;
        if !resp.status().is_success() {
            return Err(Self::json_of(resp, what)
                .await
                .err()
                .unwrap_or(BenchError::Protocol(
                    "error status with a JSON body".to_string(),
                )));
        }
        let mut stream = resp.bytes_stream();
        let mut parser = sse::SseParser::default();
        let mut arrivals = Vec::new();
        let mut tokens = 0usize;
        let mut logprobs_finite: Option<bool> = None;
        loop {
            let next = match tokio::time::timeout(stall, stream.next()).await {
                Ok(n) => n,
                Err(_) => {
                    return Err(BenchError::Stall {
                        tokens,
                        waited_s: stall.as_secs(),
                    });
                }
            };
            let at = t0.elapsed();
            let chunk = match next {
                Some(Ok(c)) => c,
                Some(Err(e)) => {
                    return Err(BenchError::Http {
                        what,
                        message: format!("after {tokens} tokens: {e}"),
                    });
                }
                None => {
                    let rest = parser.rest();
                    return Err(BenchError::Truncated {
                        tokens,
                        rest: if rest.trim().is_empty() {
                            String::new()
                        } else {
                            format!(": {}", rest.trim())
                        },
                    });
                }
            };
            for data in parser.push(&chunk) {
                let event: Value = serde_json::from_str(&data)
                    .map_err(|e| BenchError::Protocol(format!("{e}: {data}")))?;
                let ids: Vec<u32> = event
                    .get("tokens")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|t| t.as_u64().map(|t| t as u32))
                            .collect()
                    })
                    .unwrap_or_default();
                if let Some(f) = measure::finite_logprobs(&event) {
                    logprobs_finite = Some(logprobs_finite.unwrap_or(true) && f);
                }
                if !ids.is_empty() {
                    tokens += ids.len();
                    arrivals.push(Arrival { at, tokens: ids });
                    if let Some(p) = progress {
                        p.send_replace(tokens);
                    }
                }
                if event.get("stop").and_then(Value::as_bool) == Some(true) {
                    return Ok(RawRun {
                        arrivals,
                        final_event: event,
                        wall: t0.elapsed(),
                        logprobs_finite,
                    });
                }
                if let Some(err) = event.get("error") {
                    return Err(BenchError::Protocol(format!(
                        "server error mid-stream: {err}"
                    )));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
