//! Loss masks by incremental rendering of the chat template, the one implementation behind
//! [`LoadedModel::encode_chat_with_mask`](crate::LoadedModel::encode_chat_with_mask) and the SFT
//! stage's encoder.
//!
//! A trained message's span is the text it adds to the conversation: rendered up to it (with the
//! generation prompt for an assistant turn, so the turn header is not trained) and up to and
//! including it. An assistant turn trains from its first byte; another role from its content on
//! (its header, e.g. `<|im_start|>user\n`, is the template's, not the speaker's). The span is cut
//! after the template's end-of-turn token when it writes one. No template markers are needed, so
//! Mistral, ChatML and NeMo templates all work.

use std::ops::Range;

use crate::chat::{ChatTemplate, Message, Role};
use crate::error::{ModelError, Result};

/// Byte ranges of `full` (the rendering of `messages` without a generation prompt) that the
/// messages for which `is_trained(index)` holds add to it; `eos` is the end-of-turn token (empty
/// when the template writes none). Fails when the rendering is not incremental.
pub fn trained_spans(
    template: &ChatTemplate,
    messages: &[Message],
    full: &str,
    eos: &str,
    is_trained: impl Fn(usize) -> bool,
) -> Result<Vec<Range<usize>>> {
    let mut spans = Vec::new();
    for (i, message) in messages.iter().enumerate() {
        if !is_trained(i) {
            continue;
        }
        let assistant = message.role == Role::Assistant;
        let before = template.render(&messages[..i], assistant)?;
        let after = template.render(&messages[..=i], false)?;
        if !after.starts_with(&before) || !full.starts_with(&after) {
            return Err(ModelError::Template {
                origin: "loss mask".into(),
                reason: format!("rendering is not incremental at message {i}"),
            });
        }
        let added = &after[before.len()..];
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chatml_spans_cover_content_and_end_of_turn() {
        let t = ChatTemplate::builtin("chatml", "", "").unwrap();
        let msgs = [Message::user("Hi"), Message::assistant("Hello")];
        let full = t.render(&msgs, false).unwrap();
        let spans = trained_spans(&t, &msgs, &full, "<|im_end|>", |i| i == 1).unwrap();
        assert_eq!(spans.len(), 1);
        assert_eq!(&full[spans[0].clone()], "Hello<|im_end|>");
        let both = trained_spans(&t, &msgs, &full, "<|im_end|>", |_| true).unwrap();
        assert_eq!(&full[both[0].clone()], "Hi<|im_end|>");
    }
}
