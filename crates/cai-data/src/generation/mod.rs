//! The generation interface every stage programs against, free of any model or HTTP code: the
//! [`Generator`] trait, its requests ([`GenerationRequest`], [`Prompt`], [`SamplingParams`]), its
//! results ([`Generation`], [`FinishReason`], [`StreamDelta`]) and its error ([`GenerationError`]).
//!
//! The in-process engine (`cai-model`) and the HTTP client (`cai-client`) both implement
//! [`Generator`]; neither crate has to depend on the other, and this crate never depends on burn.

mod error;
mod params;

use serde::{Deserialize, Serialize};

pub use error::GenerationError;
pub use params::SamplingParams;

use crate::records::Message;

/// What to continue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Prompt {
    /// Raw text (BOS added when the model asks for it).
    Text(String),
    /// A conversation, rendered with the chat template and its generation prompt.
    Chat(Vec<Message>),
    /// Token ids, used as they are.
    Tokens(Vec<u32>),
}

/// One generation request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerationRequest {
    /// The prompt.
    pub prompt: Prompt,
    /// How to sample.
    pub params: SamplingParams,
}

/// Why a generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FinishReason {
    /// The model produced an end-of-sequence token.
    Eos,
    /// An end string appeared.
    Stop,
    /// `tokens_to_generate` was reached.
    Length,
}

/// A completed generation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Generation {
    /// Generated text, cut before the end string; the EOS token is not included.
    pub text: String,
    /// Generated token ids (the EOS token, or the token completing an end string, included).
    pub token_ids: Vec<u32>,
    /// `log p(token)` under the model (before any sampling transform), one per token id.
    pub logprobs: Vec<f32>,
    /// `log p(token)` under the distribution sampled from — `softmax(logits / temperature)`, before
    /// top-k/top-p truncation — one per token id; what a policy-gradient ratio divides by. Empty when
    /// the generator does not report it (remote servers, greedy decoding).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sampling_logprobs: Vec<f32>,
    /// Why generation ended.
    pub finish_reason: FinishReason,
    /// The end string that stopped it, if any.
    pub stop_string: Option<String>,
    /// Number of prompt tokens.
    pub prompt_tokens: usize,
}

impl Generation {
    /// A generation known by its text alone (a scripted generator in tests, a reply that reports
    /// nothing else): no token ids or log-probs, no end string, no prompt tokens.
    pub fn from_text(text: impl Into<String>, finish_reason: FinishReason) -> Self {
        Self {
            text: text.into(),
            token_ids: Vec::new(),
            logprobs: Vec::new(),
            sampling_logprobs: Vec::new(),
            finish_reason,
            stop_string: None,
            prompt_tokens: 0,
        }
    }
}

/// New final text of one request, for streaming.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamDelta {
    /// Index of the request in the batch.
    pub index: usize,
    /// Text to append.
    pub text: String,
}

/// Anything that turns prompts into completions: the in-process engine, or a remote server.
pub trait Generator: Send + Sync {
    /// Completes every request; the output order matches the input.
    fn generate(&self, requests: &[GenerationRequest]) -> Result<Vec<Generation>, GenerationError>;

    /// A short description (model and endpoint) for logs and summaries.
    fn describe(&self) -> String;
}
