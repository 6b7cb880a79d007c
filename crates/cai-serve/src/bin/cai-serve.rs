//! `cai-serve`: serves a model over NeMo's `/generate` and the OpenAI API.
//!
//! `cai-serve --model M --host H --port P`; the API key, if any, comes from `--api-key-file` or
//! the `CAI_SERVE_API_KEY` environment variable, never from a command-line literal. A
//! non-loopback `--host` needs a key (or `--allow-public-without-key`). Token budgets, timeouts
//! and the connection cap are flags; see `docs/stages/serve.md`, "Limits and timeouts".

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use cai_cli::{ModelArgs, init_process};
use cai_model::{Engine, ModelSpec};
use cai_serve::auth::load_api_key;
use cai_serve::config::{available_memory, batch_tokens_for_memory, served_model_name};
use cai_serve::{AppState, ServerConfig, serve, shutdown_signal};
use clap::Parser;

/// Serve a model over NeMo's `PUT /generate` and the OpenAI API.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    #[command(flatten)]
    model: ModelArgs,
    /// Address to bind (use 0.0.0.0 to accept remote clients; an API key is required then).
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Serve a non-loopback --host without an API key (anyone who can reach it can use it).
    #[arg(long)]
    allow_public_without_key: bool,
    /// Port to listen on (0 picks a free one); NeMo's server defaults to 5555.
    #[arg(long, default_value_t = 5555)]
    port: u16,
    /// File holding the bearer token clients must send (else `CAI_SERVE_API_KEY`, else none).
    #[arg(long)]
    api_key_file: Option<PathBuf>,
    /// Name reported by `/v1/models` and in responses (default: after the model's source — the
    /// default model's name, the Hub repo, a GGUF file's stem, or a directory's name, with its
    /// parent's for a generic one such as `05-ppo/model`).
    #[arg(long, visible_alias = "served-model-name")]
    model_name: Option<String>,
    /// Most requests generated together in one batch.
    #[arg(long, default_value_t = 16)]
    max_batch: usize,
    /// Run each batch to completion before starting the next, instead of letting waiting
    /// requests join the running batch as its rows finish (continuous batching, the default).
    #[arg(long)]
    static_batching: bool,
    /// How long the engine waits for more requests before starting a batch, in milliseconds.
    #[arg(long, default_value_t = 5)]
    batch_wait_ms: u64,
    /// Most queued requests; more are answered 503.
    #[arg(long, default_value_t = 1024)]
    queue_capacity: usize,
    /// Largest `tokens_to_generate` / `max_tokens` accepted.
    #[arg(long, default_value_t = 4096)]
    max_tokens_cap: usize,
    /// `max_tokens` of OpenAI requests that do not set it.
    #[arg(long, default_value_t = 256)]
    default_max_tokens: usize,
    /// Largest request body in bytes.
    #[arg(long, default_value_t = 4 << 20)]
    max_body_bytes: usize,
    /// Most prompt tokens one request may bring, summed over its prompts and choices (413 beyond).
    #[arg(long, default_value_t = cai_serve::config::DEFAULT_MAX_PROMPT_TOKENS)]
    max_prompt_tokens: usize,
    /// Most token slots one batch may hold: rows × (longest prompt + most new tokens). Default: a
    /// quarter of available memory over the KV-cache bytes of one slot.
    #[arg(long)]
    max_batch_tokens: Option<usize>,
    /// Seconds a request's headers may take from its first byte.
    #[arg(long, default_value_t = 10.0)]
    header_timeout: f64,
    /// Seconds a request body may take.
    #[arg(long, default_value_t = 30.0)]
    body_timeout: f64,
    /// Seconds a connection may wait for its next request before it is closed.
    #[arg(long, default_value_t = 15.0)]
    keep_alive_timeout: f64,
    /// Most connections open at once (more wait to be accepted).
    #[arg(long, default_value_t = 256)]
    max_connections: usize,
    /// Seconds open requests get to finish after SIGINT/SIGTERM before their connections close.
    #[arg(long, default_value_t = 30.0)]
    shutdown_timeout: f64,
}

/// `secs` of a flag as a duration (a negative, NaN or huge value is an error).
fn seconds(flag: &str, secs: f64) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(secs).with_context(|| format!("--{flag} {secs}: not a duration"))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    init_process();
    let args = Args::parse();
    let api_key = load_api_key(args.api_key_file.as_deref())?;
    let addr: SocketAddr = format!("{}:{}", args.host, args.port)
        .parse()
        .with_context(|| format!("invalid address {}:{}", args.host, args.port))?;
    let mut config = ServerConfig::new(String::new());
    config.api_key = api_key;
    config.allow_public_without_key = args.allow_public_without_key;
    // Before loading the model, so that a refused bind fails at once.
    config.check_bind(addr)?;
    let spec = ModelSpec::parse(&args.model.model)?;
    config.model_name = args
        .model_name
        .clone()
        .unwrap_or_else(|| served_model_name(&spec));
    let model = args.model.load().context("loading the model")?;
    config.max_tokens_cap = args.max_tokens_cap;
    config.default_max_tokens = args.default_max_tokens.min(args.max_tokens_cap);
    config.max_body_bytes = args.max_body_bytes;
    config.batch.max_batch = args.max_batch.max(1);
    config.batch.continuous = !args.static_batching;
    config.batch.batch_wait = Duration::from_millis(args.batch_wait_ms);
    config.batch.queue_capacity = args.queue_capacity.max(1);
    config.batch.max_prompt_tokens = args.max_prompt_tokens;
    config.batch.max_batch_tokens = match args.max_batch_tokens {
        Some(tokens) => tokens.max(1),
        // Unknown memory (not Linux): assume 4 GiB.
        None => batch_tokens_for_memory(&model.config, available_memory().unwrap_or(4 << 30)),
    };
    let limits = &mut config.connections;
    limits.header_timeout = seconds("header-timeout", args.header_timeout)?;
    limits.body_timeout = seconds("body-timeout", args.body_timeout)?;
    limits.keep_alive_timeout = seconds("keep-alive-timeout", args.keep_alive_timeout)?;
    limits.shutdown_timeout = seconds("shutdown-timeout", args.shutdown_timeout)?;
    limits.max_connections = args.max_connections.max(1);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    let bound = listener.local_addr()?;
    let auth = if config.api_key.is_some() {
        "API key required"
    } else {
        "no API key"
    };
    let model_name = config.model_name.clone();
    let batch_tokens = config.batch.max_batch_tokens;
    let state = AppState::new(Arc::new(Engine::new(model)), config)?;
    println!("cai-serve listening on http://{bound} (model {model_name}, {auth})");
    tracing::info!(max_batch_tokens = batch_tokens, "token budget per batch");
    serve(listener, state, shutdown_signal()).await?;
    println!("cai-serve stopped");
    Ok(())
}
