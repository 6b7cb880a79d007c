//! Server limits and defaults (the binary fills them from its flags), the default batch token
//! budget derived from memory, and the exposure rule for non-loopback binds.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use cai_model::{ModelConfig, ModelSpec};

pub use crate::conn::ConnectionLimits;
use crate::error::{Result, ServeError};
use crate::queue::BatchPolicy;

/// Default `--max-prompt-tokens`: prompt tokens one HTTP request may bring.
pub const DEFAULT_MAX_PROMPT_TOKENS: usize = 65_536;

/// `--max-batch-tokens` of [`ServerConfig::new`]; the binary derives its default from memory
/// ([`batch_tokens_for_memory`]).
pub const DEFAULT_MAX_BATCH_TOKENS: usize = 65_536;

/// The smallest batch budget [`batch_tokens_for_memory`] returns.
pub const MIN_BATCH_TOKENS: usize = 2048;

/// How the server behaves: limits, defaults, authentication and batching.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The model name reported by `/v1/models` and in responses.
    pub model_name: String,
    /// Bearer token required on every route except `/health`; `None` = open.
    pub api_key: Option<String>,
    /// Largest accepted request body in bytes.
    pub max_body_bytes: usize,
    /// Largest `tokens_to_generate` / `max_tokens` accepted.
    pub max_tokens_cap: usize,
    /// `max_tokens` of OpenAI requests that do not set it.
    pub default_max_tokens: usize,
    /// Most generations one HTTP request may ask for (prompts × `n`).
    pub max_choices: usize,
    /// How the engine thread forms batches, and the token budgets.
    pub batch: BatchPolicy,
    /// Timeouts and the connection cap.
    pub connections: ConnectionLimits,
    /// Serve a non-loopback address without an API key (`--allow-public-without-key`).
    pub allow_public_without_key: bool,
}

impl ServerConfig {
    /// Defaults for a server of `model_name`: 4 MiB bodies, at most 4096 new tokens (256 when
    /// unset), 128 generations per request, batches of up to 16 gathered for 5 ms, 1024 queued jobs,
    /// 65,536 prompt tokens per request and token slots per batch, [`ConnectionLimits::default`].
    pub fn new(model_name: impl Into<String>) -> Self {
        Self {
            model_name: model_name.into(),
            api_key: None,
            max_body_bytes: 4 << 20,
            max_tokens_cap: 4096,
            default_max_tokens: 256,
            max_choices: crate::wire::nemo::MAX_SENTENCES,
            batch: BatchPolicy {
                max_batch: 16,
                batch_wait: Duration::from_millis(5),
                queue_capacity: 1024,
                max_batch_tokens: DEFAULT_MAX_BATCH_TOKENS,
                max_prompt_tokens: DEFAULT_MAX_PROMPT_TOKENS,
                continuous: true,
            },
            connections: ConnectionLimits::default(),
            allow_public_without_key: false,
        }
    }

    /// Refuses to serve a non-loopback address without an API key (unless
    /// [`ServerConfig::allow_public_without_key`]): anyone who can reach it could use the model.
    pub fn check_bind(&self, addr: SocketAddr) -> Result<()> {
        if addr.ip().is_loopback() || self.api_key.is_some() || self.allow_public_without_key {
            return Ok(());
        }
        Err(ServeError::Setup(format!(
            "refusing to serve {addr} without an API key: set one with --api-key-file or \
             {}, bind 127.0.0.1, or pass --allow-public-without-key",
            crate::auth::API_KEY_ENV
        )))
    }
}

/// The name a server reports for the model of `spec` (unless `--model-name` gives one), after
/// its source: the embedded default's name (`SmolLM2-135M-Instruct`), the Hub repository
/// (`owner/name`), a GGUF file's stem, or a directory's name — with its parent's in front when
/// the name alone says nothing (`model`, `final`, `checkpoint*`: a pipeline's `RUN/05-ppo/model`
/// is `05-ppo/model`).
pub fn served_model_name(spec: &ModelSpec) -> String {
    match spec {
        ModelSpec::Default => cai_model::source::DEFAULT_MODEL_HUB_REPO
            .rsplit('/')
            .next()
            .unwrap_or(cai_model::source::DEFAULT_MODEL_HUB_REPO)
            .to_string(),
        ModelSpec::Hub { repo, .. } => repo.clone(),
        ModelSpec::Gguf(path) => file_name(path, true),
        ModelSpec::HfDir(path) => {
            // `.` or `run/..` name nothing: name the directory they stand for.
            let path = match path.file_name() {
                Some(_) => path.clone(),
                None => std::fs::canonicalize(path).unwrap_or_else(|_| path.clone()),
            };
            let name = file_name(&path, false);
            let generic = ["model", "final"].contains(&name.to_lowercase().as_str())
                || name.to_lowercase().starts_with("checkpoint");
            match path.parent().and_then(Path::file_name) {
                Some(parent) if generic => format!("{}/{name}", parent.to_string_lossy()),
                _ => name,
            }
        }
    }
}

/// The last component of `path` (without its extension when `stem`), else the whole path.
fn file_name(path: &Path, stem: bool) -> String {
    let name = if stem {
        path.file_stem()
    } else {
        path.file_name()
    };
    name.map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// Bytes of KV cache one token slot takes: keys and values of every layer, in f32.
pub fn bytes_per_token_slot(config: &ModelConfig) -> usize {
    2 * config.num_hidden_layers * config.num_key_value_heads * config.head_dim * 4
}

/// The default batch budget: a quarter of `available` memory bytes divided by
/// [`bytes_per_token_slot`], at least [`MIN_BATCH_TOKENS`]. The quarter leaves room for the
/// copies the cache makes when rows leave a batch, the prefill's activations and attention
/// scores (bounded by the engine's prefill budget, `cai_model::DEFAULT_PREFILL_SCORES`) and the
/// rest of the process.
pub fn batch_tokens_for_memory(config: &ModelConfig, available: u64) -> usize {
    let per_slot = bytes_per_token_slot(config).max(1) as u64;
    let slots = available / 4 / per_slot;
    usize::try_from(slots)
        .unwrap_or(usize::MAX)
        .max(MIN_BATCH_TOKENS)
}

/// Memory the system can still hand out (Linux `MemAvailable`), or `None` when unknown.
pub fn available_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_loopback_binds_need_a_key_or_the_override() {
        let mut config = ServerConfig::new("m");
        let public: SocketAddr = "0.0.0.0:5555".parse().unwrap();
        assert!(config.check_bind("127.0.0.1:5555".parse().unwrap()).is_ok());
        assert!(config.check_bind("[::1]:5555".parse().unwrap()).is_ok());
        let err = config.check_bind(public).unwrap_err().to_string();
        assert!(err.contains("without an API key"), "{err}");
        config.allow_public_without_key = true;
        assert!(config.check_bind(public).is_ok());
        config.allow_public_without_key = false;
        config.api_key = Some("k".into());
        assert!(config.check_bind(public).is_ok());
    }

    #[test]
    fn a_served_model_is_named_after_its_source() {
        let dir = |p: &str| served_model_name(&ModelSpec::HfDir(p.into()));
        assert_eq!(
            served_model_name(&ModelSpec::Default),
            "SmolLM2-135M-Instruct"
        );
        let hub = ModelSpec::Hub {
            repo: "mistralai/Mistral-7B-Instruct-v0.1".into(),
            revision: Some("main".into()),
        };
        assert_eq!(
            served_model_name(&hub),
            "mistralai/Mistral-7B-Instruct-v0.1"
        );
        let gguf = ModelSpec::Gguf("/cache/SmolLM2-135M-Instruct.Q4_1.gguf".into());
        assert_eq!(served_model_name(&gguf), "SmolLM2-135M-Instruct.Q4_1");
        assert_eq!(dir("runs/pipeline/05-ppo/model"), "05-ppo/model");
        assert_eq!(dir("runs/pipeline/05-ppo/model/"), "05-ppo/model");
        assert_eq!(dir("/abs/sft-run/final"), "sft-run/final");
        assert_eq!(dir("out/checkpoint-200"), "out/checkpoint-200");
        assert_eq!(dir("runs/my-sl-cai"), "my-sl-cai");
        assert_eq!(dir("model"), "model");
    }
}
