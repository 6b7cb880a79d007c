//! Conversations → token ids with the flags of the tokens the loss trains on.
//!
//! The trained spans come from incremental rendering of the chat template (`cai_model::loss_mask`,
//! shared with `LoadedModel::encode_chat_with_mask`): the text a trained message adds
//! to the conversation (for an assistant turn, after the generation prompt), cut after the
//! template's end-of-turn token. No template markers are needed, so Mistral, ChatML and NeMo
//! templates all work, and no BOS is added beyond what the template writes.
//!
//! NeMo samples with a conversation `type` (`VALUE_TO_TEXT`, `TEXT_TO_VALUE`) carry per-turn labels
//! that only NeMo's own format can show: under the built-in `nemo` template they are rendered and
//! masked by [`crate::nemo_chat`]; under another template a sample that needs its labels is an
//! error naming its `file:line` and field.

use std::ops::Range;

use cai_model::LoadedModel;

use crate::conversation::{Conversation, LabelType};
use crate::error::{Result, SftError};
use crate::nemo_chat::{self, PromptTokens};

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

pub use cai_data::EncodeStats;

/// Byte ranges of the rendered conversation that the loss trains on ([`cai_model::loss_mask`]).
fn trained_spans(
    model: &LoadedModel,
    conv: &Conversation,
    full: &str,
) -> Result<Vec<Range<usize>>> {
    let eos = model.special_tokens.eos.as_str();
    Ok(cai_model::loss_mask::trained_spans(
        model.template()?,
        &conv.messages,
        full,
        eos,
        |i| conv.is_trained(i),
    )?)
}

/// Checks that a typed NeMo sample means the same without its labels, as it must under a
/// template other than `nemo`: `VALUE_TO_TEXT` without any label renders and trains as an untyped
/// sample; a label, or `TEXT_TO_VALUE` (which trains on labels), cannot be expressed.
fn check_without_labels(conv: &Conversation) -> Result<()> {
    let Some(kind) = conv.label_type else {
        return Ok(());
    };
    let needs = "needs the built-in `nemo` chat template (`--chat-template nemo`): only NeMo's \
                 format has `<extra_id_2>` label blocks";
    let labelled = (0..conv.messages.len()).find(|&i| conv.label(i).is_some());
    let (field, reason) = match (kind, labelled) {
        (LabelType::ValueToText, None) => return Ok(()),
        (LabelType::ValueToText, Some(i)) => (
            format!("conversations[{}].label", conv.turn_index(i)),
            format!("a VALUE_TO_TEXT label {needs}"),
        ),
        (LabelType::TextToValue, _) => (
            "type".to_string(),
            format!("TEXT_TO_VALUE (training on labels written after each value) {needs}"),
        ),
    };
    Err(SftError::Encode {
        at: conv.location(),
        field,
        reason,
    })
}

/// Tokenizes `text` and flags the tokens that start inside `spans`.
fn tokenize(model: &LoadedModel, text: &str, spans: &[Range<usize>]) -> Result<Example> {
    let (ids, offsets) = model.tokenizer.encode_raw_with_offsets(text)?;
    let trained = offsets
        .iter()
        .map(|&(start, end)| start < end && spans.iter().any(|s| s.contains(&start)))
        .collect();
    Ok(Example { ids, trained })
}

/// Renders `conv` with the model's chat template and flags the tokens of its trained turns
/// (their content and end-of-turn token). Typed NeMo samples under the `nemo` template are
/// rendered and masked as NeMo does ([`nemo_chat`]).
pub fn encode(model: &LoadedModel, conv: &Conversation) -> Result<Example> {
    if conv.label_type.is_some() {
        if model.template()?.is_nemo() {
            let rendered = nemo_chat::render(conv, &PromptTokens::CAI)?;
            return tokenize(model, &rendered.text, &rendered.trained);
        }
        check_without_labels(conv)?;
    }
    let full = model.template()?.render(&conv.messages, false)?;
    let spans = trained_spans(model, conv, &full)?;
    tokenize(model, &full, &spans)
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
