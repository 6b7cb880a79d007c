//! NeMo's text-generation server API: `PUT /generate` (see `docs/stages/serve.md`).

use cai_data::Message;
use cai_data::generation::FinishReason;
use serde::{Deserialize, Serialize};

/// NeMo's limit on the number of `sentences` in one request.
pub const MAX_SENTENCES: usize = 128;

/// The prompts of a `/generate` request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Sentences {
    /// Plain prompt strings, tokenized as they are.
    Texts(Vec<String>),
    /// NeMo's collated chat form: one object per turn, each holding that turn's role and content
    /// for every conversation of the batch (`turns[t].role[b]`, `turns[t].content[b]`).
    Chats(Vec<CollatedTurn>),
}

/// One turn of a batch of conversations in NeMo's collated chat form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CollatedTurn {
    /// The role of this turn in each conversation.
    pub role: Vec<String>,
    /// The content of this turn in each conversation.
    pub content: Vec<String>,
}

/// Collates conversations of equal length into NeMo's chat form (what NeMo-Aligner's
/// `ChatTemplateHelper.collate_chat_messages` sends): turn `t` holds the role and content of turn `t`
/// of every conversation.
pub fn collate(conversations: &[Vec<Message>]) -> Vec<CollatedTurn> {
    let turns = conversations.first().map_or(0, Vec::len);
    (0..turns)
        .map(|t| CollatedTurn {
            role: conversations
                .iter()
                .map(|c| c[t].role.as_str().to_string())
                .collect(),
            content: conversations.iter().map(|c| c[t].content.clone()).collect(),
        })
        .collect()
}

/// Body of `PUT /generate`; absent fields take NeMo's defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerateRequest {
    /// Prompts (strings or collated chats).
    pub sentences: Sentences,
    /// Maximum new tokens (default 64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_to_generate: Option<u64>,
    /// Softmax temperature, `0 < t ≤ 100` (default 1.0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Prepend the BOS token to string prompts (default false).
    #[serde(rename = "add_BOS", default, skip_serializing_if = "Option::is_none")]
    pub add_bos: Option<bool>,
    /// Argmax decoding (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub greedy: Option<bool>,
    /// Top-k filter, 0 = off (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<u64>,
    /// Nucleus threshold in `[0, 1]`, 0 = off (default 0.9).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Repetition penalty ≥ 1 (default 1.0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repetition_penalty: Option<f64>,
    /// cai-serve extension (absent from NeMo): `false` = the repetition penalty looks only at
    /// generated tokens, not the prompt's (default true). Sent only when false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub penalize_prompt: Option<bool>,
    /// End strings are ignored before this many new tokens (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_tokens_to_generate: Option<u64>,
    /// Stop strings (default `["<|endoftext|>"]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_strings: Option<Vec<String>>,
    /// Return per-token log-probabilities (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compute_logprob: Option<bool>,
    /// Return full distributions: not supported, `true` is rejected (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub all_probs: Option<bool>,
    /// Sampler seed (default: random).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub random_seed: Option<u64>,
}

/// Body of a successful `/generate` answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerateResponse {
    /// Prompt text + generated text (the end string included, as NeMo does).
    pub sentences: Vec<String>,
    /// Token strings of prompt + generation.
    pub tokens: Vec<Vec<String>>,
    /// Token ids of prompt + generation.
    pub token_ids: Vec<Vec<u32>>,
    /// With `compute_logprob`: `log p(token[t+1] | token[..=t])` over prompt + generation.
    pub logprob: Option<Vec<Vec<f32>>>,
    /// Character offset of each token in the sentence.
    pub offsets: Vec<Vec<usize>>,
    /// cai-serve extension (absent from NeMo): the generated part of each sentence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cai_completions: Option<Vec<CompletionInfo>>,
}

/// The generated part of one sentence (cai-serve extension of the NeMo response).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompletionInfo {
    /// Generated text without the end string.
    pub text: String,
    /// Why generation ended.
    pub finish_reason: FinishReason,
    /// The end string that stopped it.
    pub stop_string: Option<String>,
    /// Number of prompt tokens (the first `prompt_tokens` of `token_ids`).
    pub prompt_tokens: usize,
}
