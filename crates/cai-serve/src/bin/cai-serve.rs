//! `cai-serve`: serves a model over NeMo's `/generate` and the OpenAI API.
//!
//! `cai-serve --model M --host H --port P`; the API key, if any, comes from `--api-key-file` or
//! the `CAI_SERVE_API_KEY` environment variable, never from a command-line literal.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use cai_cli::{ModelArgs, init_process};
use cai_model::Engine;
use cai_serve::auth::load_api_key;
use cai_serve::{AppState, ServerConfig, serve, shutdown_signal};
use clap::Parser;

/// Serve a model over NeMo's `PUT /generate` and the OpenAI API.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    #[command(flatten)]
    model: ModelArgs,
    /// Address to bind (use 0.0.0.0 to accept remote clients; set an API key then).
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on (0 picks a free one); NeMo's server defaults to 5555.
    #[arg(long, default_value_t = 5555)]
    port: u16,
    /// File holding the bearer token clients must send (else `CAI_SERVE_API_KEY`, else none).
    #[arg(long)]
    api_key_file: Option<PathBuf>,
    /// Name reported by `/v1/models` (default: the model file or directory name).
    #[arg(long)]
    served_model_name: Option<String>,
    /// Most requests generated together in one batch.
    #[arg(long, default_value_t = 16)]
    max_batch: usize,
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
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    init_process();
    let args = Args::parse();
    let api_key = load_api_key(args.api_key_file.as_deref())?;
    let model = args.model.load().context("loading the model")?;
    let name = args.served_model_name.clone().unwrap_or_else(|| {
        model.origin.path().file_stem().map_or_else(
            || args.model.model.clone(),
            |s| s.to_string_lossy().into_owned(),
        )
    });
    let mut config = ServerConfig::new(name);
    config.api_key = api_key;
    config.max_tokens_cap = args.max_tokens_cap;
    config.default_max_tokens = args.default_max_tokens.min(args.max_tokens_cap);
    config.max_body_bytes = args.max_body_bytes;
    config.batch.max_batch = args.max_batch.max(1);
    config.batch.batch_wait = Duration::from_millis(args.batch_wait_ms);
    config.batch.queue_capacity = args.queue_capacity.max(1);
    let addr: SocketAddr = format!("{}:{}", args.host, args.port)
        .parse()
        .with_context(|| format!("invalid address {}:{}", args.host, args.port))?;
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
    let state = AppState::new(Arc::new(Engine::new(model)), config)?;
    println!("cai-serve listening on http://{bound} (model {model_name}, {auth})");
    serve(listener, state, shutdown_signal()).await?;
    println!("cai-serve stopped");
    Ok(())
}
