//! [`RemoteGenerator`]: the [`Generator`] trait over HTTP, against cai-serve or any server that
//! speaks NeMo's `/generate` or the OpenAI API (vLLM, TGI, a hosted judge).
//!
//! Requests run on up to `concurrency` threads, each attempt going to the next endpoint
//! (round-robin). Connection errors, timeouts, 429 and 5xx answers are retried with exponential
//! back-off; anything else fails at once. Failures are returned, never dropped:
//! [`RemoteGenerator::generate_each`] gives one result per request, and the [`Generator`]
//! implementation fails with the count of failed requests.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use cai_data::generation::{Generation, GenerationError, GenerationRequest, Generator};
use rand::Rng;
use reqwest::blocking::{Client, RequestBuilder};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::convert;
use crate::error::{ClientError, Result};
use crate::wire::openai::{Completion, CompletionRequest};

/// Which API the endpoints speak; written `nemo` or `openai` (in configuration files and flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RemoteApi {
    /// NeMo's `PUT /generate` (text and chat prompts).
    Nemo,
    /// OpenAI's `/v1/chat/completions` for chat prompts, `/v1/completions` for text and tokens.
    OpenAi,
}

impl RemoteApi {
    /// The name used in configuration: `nemo` or `openai`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Nemo => "nemo",
            Self::OpenAi => "openai",
        }
    }
}

impl std::fmt::Display for RemoteApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for RemoteApi {
    type Err = ClientError;

    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "nemo" => Ok(Self::Nemo),
            "openai" => Ok(Self::OpenAi),
            _ => Err(ClientError::Setup(format!(
                "unknown API `{s}`: expected nemo or openai"
            ))),
        }
    }
}

/// How to reach the servers.
#[derive(Debug, Clone)]
pub struct RemoteConfig {
    /// Base URLs (`http://host:port`, or an OpenAI base ending in `/v1`); used round-robin.
    pub endpoints: Vec<String>,
    /// The API they speak.
    pub api: RemoteApi,
    /// `model` field of OpenAI requests.
    pub model: String,
    /// Bearer token (see [`RemoteConfig::api_key_from_env`]).
    pub api_key: Option<String>,
    /// Timeout of one HTTP attempt, connection included.
    pub timeout: Duration,
    /// Timeout for establishing a connection.
    pub connect_timeout: Duration,
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// Back-off before the first retry; doubles each time, with jitter.
    pub backoff: Duration,
    /// Longest back-off.
    pub max_backoff: Duration,
    /// Requests in flight at once.
    pub concurrency: usize,
}

impl RemoteConfig {
    /// Defaults: 300 s per attempt, 10 s to connect, 4 retries from 500 ms up to 10 s, 8 requests in
    /// flight, model `default`, no key.
    pub fn new(api: RemoteApi, endpoints: Vec<String>) -> Self {
        Self {
            endpoints,
            api,
            model: "default".into(),
            api_key: None,
            timeout: Duration::from_secs(300),
            connect_timeout: Duration::from_secs(10),
            max_retries: 4,
            backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(10),
            concurrency: 8,
        }
    }

    /// Sets the API key from environment variable `var` (unset or empty leaves none).
    pub fn api_key_from_env(mut self, var: &str) -> Self {
        self.api_key = std::env::var(var).ok().filter(|k| !k.trim().is_empty());
        self
    }
}

/// A [`Generator`] that calls remote servers.
#[derive(Debug)]
pub struct RemoteGenerator {
    config: RemoteConfig,
    http: Client,
    next_endpoint: AtomicUsize,
}

impl RemoteGenerator {
    /// Checks the configuration and builds the HTTP client.
    pub fn new(config: RemoteConfig) -> Result<Self> {
        if config.endpoints.is_empty() {
            return Err(ClientError::Setup("no endpoint given".into()));
        }
        for e in &config.endpoints {
            reqwest::Url::parse(e)
                .map_err(|err| ClientError::Setup(format!("endpoint `{e}`: {err}")))?;
        }
        let http = Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .build()
            .map_err(|e| ClientError::Setup(format!("HTTP client: {e}")))?;
        Ok(Self {
            config,
            http,
            next_endpoint: AtomicUsize::new(0),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &RemoteConfig {
        &self.config
    }

    /// Runs every request (up to `concurrency` at once); one result per request, in order.
    pub fn generate_each(&self, requests: &[GenerationRequest]) -> Vec<Result<Generation>> {
        self.each(requests, |request| self.generate_one(request))
    }

    /// Sends each OpenAI `/v1/completions` body as it is (up to `concurrency` at once, retried
    /// like generations) and returns the raw answers in order: for callers that need fields a
    /// [`Generation`] does not carry, such as `top_logprobs`.
    pub fn completions_each(&self, bodies: &[CompletionRequest]) -> Vec<Result<Completion>> {
        self.each(bodies, |body| {
            self.retrying(|endpoint| {
                let url = format!("{}/completions", openai_base(endpoint));
                self.call(&url, self.http.post(&url), body)
            })
        })
    }

    /// `run` on every item, on up to `concurrency` threads; one result per item, in order.
    fn each<T: Sync, R: Send>(
        &self,
        items: &[T],
        run: impl Fn(&T) -> Result<R> + Sync,
    ) -> Vec<Result<R>> {
        let next = AtomicUsize::new(0);
        let workers = self.config.concurrency.clamp(1, items.len().max(1));
        let mut results: Vec<Option<Result<R>>> = (0..items.len()).map(|_| None).collect();
        let done: Vec<Vec<(usize, Result<R>)>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..workers)
                .map(|_| {
                    scope.spawn(|| {
                        let mut out = Vec::new();
                        loop {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            let Some(item) = items.get(i) else {
                                break;
                            };
                            out.push((i, run(item)));
                        }
                        out
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_default())
                .collect()
        });
        for (i, r) in done.into_iter().flatten() {
            results[i] = Some(r);
        }
        results
            .into_iter()
            .map(|r| {
                r.unwrap_or_else(|| Err(ClientError::Internal("a client thread panicked".into())))
            })
            .collect()
    }

    /// Runs every request; fails with [`ClientError::Batch`] (how many failed, and the first
    /// error) if any did.
    pub fn try_generate(&self, requests: &[GenerationRequest]) -> Result<Vec<Generation>> {
        let results = self.generate_each(requests);
        let failed = results.iter().filter(|r| r.is_err()).count();
        if failed == 0 {
            return Ok(results.into_iter().flatten().collect());
        }
        let first = results
            .into_iter()
            .find_map(|r| r.err())
            .unwrap_or_else(|| ClientError::Internal("unknown failure".into()));
        tracing::error!(failed, total = requests.len(), error = %first, "remote generation failed");
        Err(ClientError::Batch {
            failed,
            total: requests.len(),
            first: Box::new(first),
        })
    }

    /// One request, retried on transient failures.
    pub fn generate_one(&self, request: &GenerationRequest) -> Result<Generation> {
        self.retrying(|endpoint| self.attempt(endpoint, request))
    }

    /// `attempt` against the next endpoint, retried with back-off on transient failures, each
    /// retry on the following endpoint.
    fn retrying<R>(&self, attempt_on: impl Fn(&str) -> Result<R>) -> Result<R> {
        let attempts = self.config.max_retries + 1;
        // Round-robin across requests; a retry moves on to the next endpoint.
        let first = self.next_endpoint.fetch_add(1, Ordering::Relaxed);
        let mut attempt = 0;
        loop {
            let endpoint = self.endpoint(first.wrapping_add(attempt as usize));
            attempt += 1;
            let error = match attempt_on(&endpoint) {
                Ok(g) => return Ok(g),
                Err(e) if e.is_retryable() && attempt < attempts => e,
                Err(e) if e.is_retryable() => {
                    return Err(ClientError::RetriesExhausted {
                        attempts,
                        last: Box::new(e),
                    });
                }
                Err(e) => return Err(e),
            };
            let delay = self.backoff(attempt);
            tracing::warn!(attempt, %error, retry_in_ms = delay.as_millis() as u64, "remote call failed");
            std::thread::sleep(delay);
        }
    }

    fn endpoint(&self, i: usize) -> String {
        self.config.endpoints[i % self.config.endpoints.len()]
            .trim_end_matches('/')
            .to_string()
    }

    /// `backoff × 2^(attempt-1)`, capped, with up to 25 % jitter.
    fn backoff(&self, attempt: u32) -> Duration {
        let base = self
            .config
            .backoff
            .saturating_mul(1 << (attempt - 1).min(16))
            .min(self.config.max_backoff);
        base.mul_f64(1.0 + rand::rng().random::<f64>() * 0.25)
    }

    fn attempt(&self, endpoint: &str, request: &GenerationRequest) -> Result<Generation> {
        match self.config.api {
            RemoteApi::Nemo => {
                let body = convert::nemo_request(request)?;
                let url = format!("{endpoint}/generate");
                let resp = self.call(&url, self.http.put(&url), &body)?;
                convert::from_nemo(request, resp)
            }
            RemoteApi::OpenAi => {
                let (path, body) = convert::openai_request(request, &self.config.model);
                let url = format!("{}/{path}", openai_base(endpoint));
                let resp = self.call(&url, self.http.post(&url), &body)?;
                convert::from_openai(resp)
            }
        }
    }

    /// Sends `body` as JSON and parses the answer; errors carry the URL.
    fn call<B: Serialize, R: DeserializeOwned>(
        &self,
        url: &str,
        builder: RequestBuilder,
        body: &B,
    ) -> Result<R> {
        let transport = |reason: String| ClientError::Transport {
            endpoint: url.to_string(),
            reason,
        };
        let mut builder = builder.json(body);
        if let Some(key) = &self.config.api_key {
            builder = builder.bearer_auth(key);
        }
        let resp = builder.send().map_err(|e| transport(error_chain(&e)))?;
        let status = resp.status();
        let text = resp.text().map_err(|e| transport(error_chain(&e)))?;
        if !status.is_success() {
            return Err(ClientError::Status {
                endpoint: url.to_string(),
                status: status.as_u16(),
                body: text.chars().take(500).collect(),
            });
        }
        serde_json::from_str(&text).map_err(|e| transport(format!("unreadable answer: {e}")))
    }
}

/// The OpenAI base of `endpoint`: as given when it ends in `/v1`, else with `/v1` added.
fn openai_base(endpoint: &str) -> String {
    if endpoint.ends_with("/v1") {
        endpoint.to_string()
    } else {
        format!("{endpoint}/v1")
    }
}

/// An error and its causes on one line (reqwest's own message hides the cause).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

impl Generator for RemoteGenerator {
    fn generate(&self, requests: &[GenerationRequest]) -> Result<Vec<Generation>, GenerationError> {
        Ok(self.try_generate(requests)?)
    }

    fn describe(&self) -> String {
        let api = match self.config.api {
            RemoteApi::Nemo => "NeMo /generate",
            RemoteApi::OpenAi => "OpenAI",
        };
        format!("{api} at {}", self.config.endpoints.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_names_round_trip() {
        for api in [RemoteApi::Nemo, RemoteApi::OpenAi] {
            assert_eq!(api.name().parse::<RemoteApi>().unwrap(), api);
            let json = serde_json::to_string(&api).unwrap();
            assert_eq!(json, format!("\"{api}\""));
            assert_eq!(serde_json::from_str::<RemoteApi>(&json).unwrap(), api);
        }
        assert_eq!("OpenAI".parse::<RemoteApi>().unwrap(), RemoteApi::OpenAi);
        let err = "tgi".parse::<RemoteApi>().unwrap_err().to_string();
        assert!(err.contains("`tgi`"), "{err}");
    }

    #[test]
    fn setup_checks_the_endpoints() {
        let err = RemoteGenerator::new(RemoteConfig::new(RemoteApi::Nemo, Vec::new())).unwrap_err();
        assert!(matches!(err, ClientError::Setup(_)), "{err}");
        let config = RemoteConfig::new(RemoteApi::Nemo, vec!["not a url".into()]);
        let err = RemoteGenerator::new(config).unwrap_err().to_string();
        assert!(err.contains("`not a url`"), "{err}");
        let config = RemoteConfig::new(RemoteApi::OpenAi, vec!["http://127.0.0.1:1/v1/".into()]);
        let remote = RemoteGenerator::new(config).unwrap();
        assert_eq!(remote.endpoint(0), "http://127.0.0.1:1/v1");
        assert_eq!(remote.describe(), "OpenAI at http://127.0.0.1:1/v1/");
    }
}
