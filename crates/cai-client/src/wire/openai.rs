//! OpenAI-compatible shapes: `/v1/chat/completions`, `/v1/completions`, their SSE chunks, and
//! `/v1/models`. Only the fields cai-serve reads or writes; unknown request fields are ignored.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Largest `top_logprobs` (chat) or `logprobs` (completions) accepted, as OpenAI.
pub const MAX_TOP_LOGPROBS: usize = 20;

/// One request body for both endpoints: chat sends `messages`, completions send `prompt`.
///
/// The extra sampling fields (`top_k`, `min_p`, `repetition_penalty`, `min_tokens`, `ignore_eos`)
/// use vLLM's names; `penalize_prompt` is cai-serve's own.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CompletionRequest {
    /// Model name (any value is accepted; the server has one model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Chat: the conversation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<ChatMessage>>,
    /// Completions: the prompt(s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<PromptInput>,
    /// Choices per prompt (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<u64>,
    /// Maximum new tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u64>,
    /// Chat: newer name of `max_tokens`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_completion_tokens: Option<u64>,
    /// Temperature in `[0, 2]`; 0 means greedy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus threshold in `(0, 1]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Stop string(s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<Stop>,
    /// Sampler seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    /// Chat: `true` to return log-probs; completions: how many top alternatives to return.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<Logprobs>,
    /// Chat: how many top alternatives per token (0-20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_logprobs: Option<u64>,
    /// Stream with server-sent events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// Streaming options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<StreamOptions>,
    /// Completions: prepend the prompt to the returned text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub echo: Option<bool>,
    /// Top-k filter (0 or -1 = off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<i64>,
    /// Min-p filter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_p: Option<f64>,
    /// Repetition penalty (1 = off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repetition_penalty: Option<f64>,
    /// cai-serve extension (absent from vLLM): `false` = the repetition penalty looks only at
    /// generated tokens, not the prompt's (default true). Sent only when false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub penalize_prompt: Option<bool>,
    /// Minimum new tokens before EOS or a stop string may end generation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_tokens: Option<u64>,
    /// Keep going past EOS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_eos: Option<bool>,
}

/// A chat message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// `system`, `user`, `assistant` (`developer` is read as `system`).
    pub role: String,
    /// Text, or a list of content parts of which the `text` ones are used.
    #[serde(default)]
    pub content: Option<MessageContent>,
}

/// Message content: a string or content parts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MessageContent {
    /// Plain text.
    Text(String),
    /// Content parts (`{"type": "text", "text": ...}`).
    Parts(Vec<ContentPart>),
}

/// One content part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContentPart {
    /// Part type; only `text` is supported.
    #[serde(rename = "type")]
    pub kind: String,
    /// The text of a `text` part.
    #[serde(default)]
    pub text: Option<String>,
}

/// The completions `prompt`: text(s) or token ids.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PromptInput {
    /// One text prompt.
    Text(String),
    /// Several text prompts.
    Texts(Vec<String>),
    /// One prompt as token ids.
    Tokens(Vec<u32>),
    /// Several prompts as token ids.
    TokenLists(Vec<Vec<u32>>),
}

/// `stop`: one string or several.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Stop {
    /// One stop string.
    One(String),
    /// Several stop strings.
    Many(Vec<String>),
}

/// `logprobs`: a flag (chat) or a count (completions).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Logprobs {
    /// Chat form.
    Flag(bool),
    /// Completions form.
    Count(u64),
}

/// `stream_options`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamOptions {
    /// Send a last chunk with `usage`.
    #[serde(default)]
    pub include_usage: bool,
}

/// Token counts of a response.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    /// Prompt tokens (summed over prompts, counted once per prompt).
    pub prompt_tokens: usize,
    /// Generated tokens, EOS included, over all choices.
    pub completion_tokens: usize,
    /// The sum of both.
    pub total_tokens: usize,
}

/// A `chat.completion` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatCompletion {
    /// Response id.
    pub id: String,
    /// `chat.completion`.
    pub object: String,
    /// Unix time.
    pub created: u64,
    /// Model name.
    pub model: String,
    /// One per choice.
    pub choices: Vec<ChatChoice>,
    /// Token counts.
    #[serde(default)]
    pub usage: Option<Usage>,
}

/// One chat choice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatChoice {
    /// Choice index.
    pub index: usize,
    /// The assistant message.
    pub message: AssistantMessage,
    /// Log-probs, when asked for.
    #[serde(default)]
    pub logprobs: Option<ChatLogprobs>,
    /// `stop` (EOS or stop string) or `length`.
    #[serde(default)]
    pub finish_reason: Option<String>,
    /// The stop string that ended generation (vLLM's extension); `null` for EOS.
    #[serde(default)]
    pub stop_reason: Option<Value>,
}

/// The generated message of a chat choice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssistantMessage {
    /// `assistant`.
    pub role: String,
    /// The text.
    #[serde(default)]
    pub content: Option<String>,
}

/// Chat log-probs: one entry per generated token.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatLogprobs {
    /// Per-token entries.
    pub content: Vec<TokenLogprob>,
}

/// A generated token with its log-prob and the most likely alternatives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenLogprob {
    /// Token text.
    pub token: String,
    /// `log p(token)`.
    pub logprob: f32,
    /// UTF-8 bytes of `token`.
    pub bytes: Vec<u8>,
    /// The `top_logprobs` most likely tokens at this position.
    #[serde(default)]
    pub top_logprobs: Vec<TopLogprob>,
}

/// An alternative token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopLogprob {
    /// Token text.
    pub token: String,
    /// `log p(token)`.
    pub logprob: f32,
    /// UTF-8 bytes of `token`.
    pub bytes: Vec<u8>,
}

/// A `text_completion` response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Completion {
    /// Response id.
    pub id: String,
    /// `text_completion`.
    pub object: String,
    /// Unix time.
    pub created: u64,
    /// Model name.
    pub model: String,
    /// `n` choices per prompt, prompt-major.
    pub choices: Vec<CompletionChoice>,
    /// Token counts.
    #[serde(default)]
    pub usage: Option<Usage>,
}

/// One completion choice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompletionChoice {
    /// Choice index.
    pub index: usize,
    /// Generated text (after the prompt with `echo`).
    pub text: String,
    /// Log-probs, when asked for.
    #[serde(default)]
    pub logprobs: Option<CompletionLogprobs>,
    /// `stop` or `length`.
    #[serde(default)]
    pub finish_reason: Option<String>,
    /// The stop string that ended generation (vLLM's extension); `null` for EOS.
    #[serde(default)]
    pub stop_reason: Option<Value>,
}

/// Legacy completions log-probs (parallel arrays).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CompletionLogprobs {
    /// Token texts.
    pub tokens: Vec<String>,
    /// `log p(token)`.
    pub token_logprobs: Vec<f32>,
    /// Top alternatives per position (token text → log-prob).
    pub top_logprobs: Vec<Map<String, Value>>,
    /// Character offset of each token in the returned text.
    pub text_offset: Vec<usize>,
}

/// A `chat.completion.chunk` (streaming).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatChunk {
    /// Response id (the same in every chunk).
    pub id: String,
    /// `chat.completion.chunk`.
    pub object: String,
    /// Unix time.
    pub created: u64,
    /// Model name.
    pub model: String,
    /// Updated choices (empty in the usage chunk).
    pub choices: Vec<ChunkChoice>,
    /// Token counts, in the last chunk when `stream_options.include_usage`.
    #[serde(default)]
    pub usage: Option<Usage>,
}

/// One updated choice of a chat chunk.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChunkChoice {
    /// Choice index.
    pub index: usize,
    /// New content.
    pub delta: Delta,
    /// Log-probs of this chunk's tokens.
    #[serde(default)]
    pub logprobs: Option<ChatLogprobs>,
    /// Set in the choice's last chunk.
    #[serde(default)]
    pub finish_reason: Option<String>,
}

/// The new part of a streamed message.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Delta {
    /// `assistant`, in the first chunk of a choice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Text to append.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
}

/// `GET /v1/models`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelList {
    /// `list`.
    pub object: String,
    /// The served models.
    pub data: Vec<ModelCard>,
}

/// One served model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelCard {
    /// The name clients pass as `model`.
    pub id: String,
    /// `model`.
    pub object: String,
    /// Unix time the server started.
    pub created: u64,
    /// `cai-rs`.
    pub owned_by: String,
}
