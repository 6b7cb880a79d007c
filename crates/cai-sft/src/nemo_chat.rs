//! NeMo's loss mask of a chat sample (`GPTSFTChatDataset`: `_mask_targets`), used for samples
//! with a conversation `type` (`VALUE_TO_TEXT`, `TEXT_TO_VALUE`) under the built-in `nemo`
//! template, whose Jinja messages have no place for labels. The text itself, header, turns with
//! their label blocks and the closing `turn_start`, is rendered by [`cai_data::nemo_chat`], the
//! one rendering of NeMo's layout; a conversation whose last turn is not masked is closed.
//!
//! The mask, turn by turn (`i` is the index in `conversations`):
//!
//! - the header is never trained;
//! - turn 0 is fully masked, whatever its role, unless the type is `TEXT_TO_VALUE`;
//! - a turn of a masked role trains only its leading `turn_start` when `i > 1`, or `i == 1` with
//!   `TEXT_TO_VALUE` (it closes the previous answer); otherwise nothing;
//! - a turn of another role trains everything after its name, except: `VALUE_TO_TEXT` also masks
//!   the label block (up to the first `end_of_name` after `label_start`), and `TEXT_TO_VALUE` masks
//!   everything up to the end of the turn's first `label_start`, so it trains the label and its
//!   `end_of_name` only (or `value + end_of_turn` when the turn has no label);
//! - the closing `turn_start` is trained.
//!
//! NeMo finds these boundaries in token ids of each turn tokenized alone; here they are byte
//! offsets in the rendered text, mapped to the tokens that start inside them ([`crate::encode`]).

use std::ops::Range;

use cai_data::Role;
use cai_data::nemo_chat::{self, Turn};

pub use cai_data::nemo_chat::PromptTokens;

use crate::conversation::{Conversation, LabelType};
use crate::error::{Result, SftError};

/// A sample rendered NeMo's way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The whole text.
    pub text: String,
    /// Byte ranges of `text` the loss trains on, in order and disjoint.
    pub trained: Vec<Range<usize>>,
}

impl Rendered {
    /// The trained pieces of text, for tests and debugging.
    pub fn trained_texts(&self) -> Vec<&str> {
        self.trained.iter().map(|r| &self.text[r.clone()]).collect()
    }
}

/// Renders `conv` as NeMo's `GPTSFTChatDataset` does ([`cai_data::nemo_chat::render`]) and marks
/// the bytes its loss mask trains on.
///
/// # Errors
/// A system message after the first one, or (`VALUE_TO_TEXT`) a turn whose value holds
/// `label_start` before any label block — NeMo fails its assertion there.
pub fn render(conv: &Conversation, tokens: &PromptTokens) -> Result<Rendered> {
    let error = |field: String, reason: String| SftError::Encode {
        at: conv.location(),
        field,
        reason,
    };
    let (system, first) = match conv.messages.first() {
        Some(m) if m.role == Role::System => (m.content.as_str(), 1),
        _ => ("", 0),
    };
    let turns = &conv.messages[first..];
    let kind = conv.label_type;
    let text_to_value = kind == Some(LabelType::TextToValue);
    let nemo_turns: Vec<Turn<'_>> = turns
        .iter()
        .enumerate()
        .map(|(i, m)| Turn {
            role: m.role,
            value: &m.content,
            label: conv.label(first + i),
        })
        .collect();
    let close = turns.last().is_some_and(|m| !conv.is_masked(m.role));
    let layout = nemo_chat::render(tokens, system, &nemo_turns, kind, close);
    let mut trained = Vec::new();
    for (i, (message, span)) in turns.iter().zip(&layout.turns).enumerate() {
        let field = |name: &str| format!("conversations[{i}].{name}");
        if message.role == Role::System {
            return Err(error(
                field("from"),
                format!(
                    "a `{}` message cannot be a NeMo turn",
                    message.role.as_str()
                ),
            ));
        }
        let body = &layout.text[span.turn.clone()];
        let name_len = span.name.len();
        // Where training starts in a turn of an unmasked role: after the name, the label block
        // (VALUE_TO_TEXT) or the turn's first label_start (TEXT_TO_VALUE).
        let mut skip = name_len;
        if let Some(location) = body.find(tokens.label_start) {
            match kind {
                Some(LabelType::ValueToText) => {
                    if location != name_len {
                        return Err(error(
                            field("value"),
                            format!(
                                "VALUE_TO_TEXT: the value contains the label marker `{}` \
                                 (NeMo requires it only right after the speaker name)",
                                tokens.label_start
                            ),
                        ));
                    }
                    // A label block always ends with end_of_name, so this is found.
                    skip = body[name_len..]
                        .find(tokens.end_of_name)
                        .map_or(body.len(), |n| name_len + n + tokens.end_of_name.len());
                }
                Some(LabelType::TextToValue) => skip = location + tokens.label_start.len(),
                None => {}
            }
        }
        let masked = conv.is_masked(message.role);
        let trained_part = if i == 0 && !text_to_value {
            None
        } else if masked {
            (i > 1 || (i == 1 && text_to_value)).then_some(0..tokens.turn_start.len())
        } else {
            Some(skip..body.len())
        };
        let start = span.turn.start;
        if let Some(part) = trained_part.filter(|s| !s.is_empty()) {
            trained.push(start + part.start..start + part.end);
        }
    }
    trained.extend(layout.closing);
    Ok(Rendered {
        text: layout.text,
        trained,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use cai_model::Message;

    /// System, then user/assistant/user/assistant with labels on the assistant turns.
    fn sample(kind: Option<LabelType>) -> Conversation {
        Conversation {
            messages: vec![
                Message::system("S"),
                Message::user("u1"),
                Message::assistant("a1"),
                Message::user("u2"),
                Message::assistant("a2"),
            ],
            masked_roles: vec!["user".into()],
            label_type: kind,
            labels: vec![None, None, Some("q:1".into()), None, Some("q:2".into())],
            origin: None,
        }
    }

    #[test]
    fn untyped_samples_ignore_labels_and_train_answers_and_turn_markers() {
        let r = render(&sample(None), &PromptTokens::CAI).unwrap();
        assert_eq!(
            r.text,
            "<extra_id_0>System\nS\n<extra_id_1>User\nu1\n<extra_id_1>Assistant\na1\n\
             <extra_id_1>User\nu2\n<extra_id_1>Assistant\na2\n<extra_id_1>"
        );
        assert_eq!(
            r.trained_texts(),
            ["a1\n", "<extra_id_1>", "a2\n", "<extra_id_1>"]
        );
    }

    #[test]
    fn value_to_text_puts_the_label_before_the_value_and_masks_it() {
        let r = render(&sample(Some(LabelType::ValueToText)), &PromptTokens::CAI).unwrap();
        assert_eq!(
            r.text,
            "<extra_id_0>System\nS\n<extra_id_1>User\nu1\n\
             <extra_id_1>Assistant\n<extra_id_2>q:1\na1\n<extra_id_1>User\nu2\n\
             <extra_id_1>Assistant\n<extra_id_2>q:2\na2\n<extra_id_1>"
        );
        assert_eq!(
            r.trained_texts(),
            ["a1\n", "<extra_id_1>", "a2\n", "<extra_id_1>"]
        );
    }

    #[test]
    fn text_to_value_puts_the_label_after_the_value_and_trains_only_it() {
        let r = render(&sample(Some(LabelType::TextToValue)), &PromptTokens::CAI).unwrap();
        assert_eq!(
            r.text,
            "<extra_id_0>System\nS\n<extra_id_1>User\nu1\n\
             <extra_id_1>Assistant\na1\n<extra_id_2>q:1\n<extra_id_1>User\nu2\n\
             <extra_id_1>Assistant\na2\n<extra_id_2>q:2\n<extra_id_1>"
        );
        assert_eq!(
            r.trained_texts(),
            ["q:1\n", "<extra_id_1>", "q:2\n", "<extra_id_1>"]
        );
    }

    #[test]
    fn turn_zero_and_one_rules_depend_on_the_type() {
        // Assistant first, then a user turn at index 1, then an unlabelled answer.
        let mut conv = Conversation {
            messages: vec![
                Message::assistant("hello"),
                Message::user("u"),
                Message::assistant("a"),
            ],
            masked_roles: vec!["user".into()],
            label_type: Some(LabelType::ValueToText),
            labels: vec![Some("l0".into()), None, None],
            origin: None,
        };
        // VALUE_TO_TEXT: turn 0 fully masked, the user turn at 1 fully masked.
        let r = render(&conv, &PromptTokens::CAI).unwrap();
        assert_eq!(r.trained_texts(), ["a\n", "<extra_id_1>"]);
        // TEXT_TO_VALUE: turn 0 trains its label, the user turn at 1 its turn marker, and the
        // unlabelled answer its value.
        conv.label_type = Some(LabelType::TextToValue);
        let r = render(&conv, &PromptTokens::CAI).unwrap();
        assert_eq!(
            r.text,
            "<extra_id_0>System\n\n<extra_id_1>Assistant\nhello\n<extra_id_2>l0\n\
             <extra_id_1>User\nu\n<extra_id_1>Assistant\na\n<extra_id_1>"
        );
        assert_eq!(
            r.trained_texts(),
            ["l0\n", "<extra_id_1>", "a\n", "<extra_id_1>"]
        );
        // A conversation ending on a masked role gets no closing marker.
        conv.messages.pop();
        let r = render(&conv, &PromptTokens::CAI).unwrap();
        assert!(r.text.ends_with("User\nu\n"), "{}", r.text);
    }

    #[test]
    fn a_label_marker_inside_a_value_to_text_value_is_an_error() {
        let mut conv = sample(Some(LabelType::ValueToText));
        conv.messages[3].content = "see <extra_id_2> here".into();
        let err = render(&conv, &PromptTokens::CAI).unwrap_err().to_string();
        assert!(err.contains("conversations[2].value"), "{err}");
    }
}
