//! Server limits and defaults (the binary fills them from its flags).

use std::time::Duration;

use crate::queue::BatchPolicy;

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
    /// How the engine thread forms batches.
    pub batch: BatchPolicy,
}

impl ServerConfig {
    /// Defaults for a server of `model_name`: 4 MiB bodies, at most 4096 new tokens (256 when
    /// unset), 128 generations per request, batches of up to 16 gathered for 5 ms, 1024 queued jobs.
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
            },
        }
    }
}
