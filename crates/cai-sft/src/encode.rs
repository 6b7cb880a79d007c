//! Conversations → token ids with the flags of the tokens the loss trains on.
//!
//! The trained spans come from incremental rendering of the chat template, as
//! `LoadedModel::encode_chat_with_mask` does for assistant turns: the text a trained message adds
//! to the conversation (for an assistant turn, after the generation prompt), cut after the
//! template's end-of-turn token. No template markers are needed, so Mistral, ChatML and NeMo
//! templates all work, and no BOS is added beyond what the template writes.

use std::ops::Range;

use cai_model::{LoadedModel, ModelError};

use crate::conversation::Conversation;
use crate::error::Result;

/// A tokenized conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    /// Token ids.
    pub ids: Vec<u32>,
    /// `trained[t]`: token `t` is a target of the loss (predicted from the tokens before it).
    pub trained: Vec<bool>,
}

impl Example {
    /// Number of tokens the loss trains on (the first token can never be one).
    pub fn target_count(&self) -> usize {
        self.trained.iter().skip(1).filter(|t| **t).count()
    }

    /// Cuts the example to its first `len` tokens.
    pub fn truncate(&mut self, len: usize) {
        self.ids.truncate(len);
        self.trained.truncate(len);
    }
}

/// What encoding a data set kept and dropped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct EncodeStats {
    /// Examples kept.
    pub kept: usize,
    /// Examples cut to `max_seq_length`.
    pub truncated: usize,
    /// Examples dropped because no trained token remained.
    pub dropped: usize,
}

/// Byte ranges of the rendered conversation that the loss trains on.
fn trained_spans(
    model: &LoadedModel,
    conv: &Conversation,
    full: &str,
) -> Result<Vec<Range<usize>>> {
    let template = model.template()?;
    let eos = model.special_tokens.eos.as_str();
    let messages = &conv.messages;
    let mut spans = Vec::new();
    for (i, message) in messages.iter().enumerate() {
        if !conv.is_trained(i) {
            continue;
        }
        let assistant = message.role == "assistant";
        let before = template.render(&messages[..i], assistant)?;
        let after = template.render(&messages[..=i], false)?;
        if !after.starts_with(&before) || !full.starts_with(&after) {
            return Err(ModelError::Template {
                origin: "loss mask".into(),
                reason: format!("rendering is not incremental at message {i}"),
            }
            .into());
        }
        let added = &after[before.len()..];
        // An assistant turn trains from its first byte; another role from its content on (its
        // header, e.g. `<|im_start|>user\n`, is the template's, not the speaker's).
        let start = if assistant {
            0
        } else {
            added.find(message.content.as_str()).unwrap_or(0)
        };
        let end = (!eos.is_empty())
            .then(|| added.rfind(eos))
            .flatten()
            .filter(|&pos| pos >= start)
            .map_or(added.len(), |pos| pos + eos.len());
        spans.push(before.len() + start..before.len() + end);
    }
    Ok(spans)
}

/// Renders `conv` with the model's chat template and flags the tokens of its trained turns
/// (their content and end-of-turn token).
pub fn encode(model: &LoadedModel, conv: &Conversation) -> Result<Example> {
    let full = model.template()?.render(&conv.messages, false)?;
    let spans = trained_spans(model, conv, &full)?;
    let (ids, offsets) = model.tokenizer.encode_raw_with_offsets(&full)?;
    let trained = offsets
        .iter()
        .map(|&(start, end)| start < end && spans.iter().any(|s| s.contains(&start)))
        .collect();
    Ok(Example { ids, trained })
}

/// Encodes every conversation, cutting each to `max_seq_length` tokens (on the right) and dropping
/// those left without a trained token.
pub fn encode_all(
    model: &LoadedModel,
    conversations: &[Conversation],
    max_seq_length: usize,
) -> Result<(Vec<Example>, EncodeStats)> {
    let mut stats = EncodeStats::default();
    let mut out = Vec::with_capacity(conversations.len());
    for conv in conversations {
        let mut example = encode(model, conv)?;
        if example.ids.len() > max_seq_length {
            example.truncate(max_seq_length);
            stats.truncated += 1;
        }
        if example.target_count() == 0 {
            stats.dropped += 1;
            continue;
        }
        stats.kept += 1;
        out.push(example);
    }
    Ok((out, stats))
}
