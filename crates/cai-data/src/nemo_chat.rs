//! NeMo-Aligner's chat layout (`<extra_id_0>System`, `<extra_id_1>User`, `<extra_id_1>Assistant`),
//! rendered here and nowhere else: cai-model's built-in `nemo` chat template renders through
//! [`render_messages`], cai-sft's NeMo samples with labels and loss masks through [`render`], and
//! [`PromptTemplate::extra_id`](crate::template::PromptTemplate::extra_id) takes its role formats
//! from [`PromptTokens::CAI`].
//!
//! With the CAI tokens a conversation renders as the header `<extra_id_0>System\n{system}\n`, then
//! one block per turn, and for a conversation that ends on a trained turn the closing
//! `<extra_id_1>` NeMo trains on:
//!
//! ```text
//! no label       <extra_id_1>{From}\n{value}\n
//! VALUE_TO_TEXT  <extra_id_1>{From}\n<extra_id_2>{label}\n{value}\n
//! TEXT_TO_VALUE  <extra_id_1>{From}\n{value}\n<extra_id_2>{label}\n
//! ```
//!
//! [`JINJA`] is the same layout as a Hugging Face chat template, for the `tokenizer_config.json` of
//! saved models (transformers renders it); cai-model's tests check that it renders like
//! [`render_messages`].

use std::ops::Range;

use crate::error::{Error, Result};
use crate::records::{Message, Role};

/// NeMo's `chat_prompt_tokens`: the markers of the layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PromptTokens {
    /// Opens the system header.
    pub system_turn_start: &'static str,
    /// Opens every turn; also the trained end-of-answer marker.
    pub turn_start: &'static str,
    /// Opens a label block.
    pub label_start: &'static str,
    /// Ends a turn's value.
    pub end_of_turn: &'static str,
    /// Ends a speaker name and a label.
    pub end_of_name: &'static str,
}

impl PromptTokens {
    /// The CAI tutorial's tokens, those of the built-in `nemo` chat template.
    pub const CAI: Self = Self {
        system_turn_start: "<extra_id_0>",
        turn_start: "<extra_id_1>",
        label_start: "<extra_id_2>",
        end_of_turn: "\n",
        end_of_name: "\n",
    };

    /// The header of every conversation: `system_turn_start`, `System`, `end_of_name`, the system
    /// message (empty when there is none) and `end_of_turn`.
    pub fn header(&self, system: &str) -> String {
        format!(
            "{}{}{}{system}{}",
            self.system_turn_start,
            Role::System.nemo_name(),
            self.end_of_name,
            self.end_of_turn
        )
    }

    /// The opening of a turn of `role`: `turn_start`, its NeMo name, `end_of_name`.
    pub fn speaker(&self, role: Role) -> String {
        format!(
            "{}{}{}",
            self.turn_start,
            role.nemo_name(),
            self.end_of_name
        )
    }

    /// What a generation prompt ends with: the opening of the assistant's turn.
    pub fn generation_prompt(&self) -> String {
        self.speaker(Role::Assistant)
    }
}

/// NeMo's conversation `type` (`GPTSFTChatDataset`): where a turn's `label` goes and what is trained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LabelType {
    /// `VALUE_TO_TEXT`: the label block comes before the value (`name, label, value`); the model
    /// learns to write the value given the label, which is masked.
    ValueToText,
    /// `TEXT_TO_VALUE`: the label block comes after the value (`name, value, label`); the model
    /// learns to write the label given the value, which is masked.
    TextToValue,
}

impl LabelType {
    /// Parses NeMo's spelling.
    pub fn parse(name: &str) -> std::result::Result<Self, String> {
        match name {
            "VALUE_TO_TEXT" => Ok(Self::ValueToText),
            "TEXT_TO_VALUE" => Ok(Self::TextToValue),
            other => Err(format!(
                "field `type`: unknown conversation type `{other}` (null, VALUE_TO_TEXT or TEXT_TO_VALUE)"
            )),
        }
    }

    /// NeMo's spelling.
    pub fn nemo_name(self) -> &'static str {
        match self {
            Self::ValueToText => "VALUE_TO_TEXT",
            Self::TextToValue => "TEXT_TO_VALUE",
        }
    }
}

/// One turn to render.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Turn<'a> {
    /// Who speaks; the turn opens with its NeMo name (callers decide whether `System` may).
    pub role: Role,
    /// What is said.
    pub value: &'a str,
    /// The turn's label, shown only in a conversation with a [`LabelType`].
    pub label: Option<&'a str>,
}

/// Where a rendered turn lies in the text, as byte ranges.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TurnSpan {
    /// The whole turn.
    pub turn: Range<usize>,
    /// Its opening ([`PromptTokens::speaker`]), at the start of `turn`.
    pub name: Range<usize>,
}

/// A conversation rendered in NeMo's layout, with the places of its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// The whole text.
    pub text: String,
    /// Each turn, in order, after the header.
    pub turns: Vec<TurnSpan>,
    /// The closing `turn_start`, when asked for.
    pub closing: Option<Range<usize>>,
}

/// Renders the header with `system` and then `turns` as NeMo's `GPTSFTChatDataset`
/// (`_add_speaker_and_signal`) does; labels appear only when `label_type` is given, before the
/// value (`VALUE_TO_TEXT`) or after it (`TEXT_TO_VALUE`). With `close` the text ends with
/// `turn_start`.
pub fn render(
    tokens: &PromptTokens,
    system: &str,
    turns: &[Turn<'_>],
    label_type: Option<LabelType>,
    close: bool,
) -> Layout {
    let mut text = tokens.header(system);
    let mut spans = Vec::with_capacity(turns.len());
    for turn in turns {
        let start = text.len();
        text.push_str(&tokens.speaker(turn.role));
        let name = start..text.len();
        let label = match (label_type, turn.label) {
            (Some(_), Some(label)) => {
                format!("{}{label}{}", tokens.label_start, tokens.end_of_name)
            }
            _ => String::new(),
        };
        let value = format!("{}{}", turn.value, tokens.end_of_turn);
        if label_type == Some(LabelType::TextToValue) {
            text.push_str(&value);
            text.push_str(&label);
        } else {
            text.push_str(&label);
            text.push_str(&value);
        }
        spans.push(TurnSpan {
            turn: start..text.len(),
            name,
        });
    }
    let closing = close.then(|| {
        let start = text.len();
        text.push_str(tokens.turn_start);
        start..text.len()
    });
    Layout {
        text,
        turns: spans,
        closing,
    }
}

/// Renders chat `messages` as the built-in `nemo` chat template does ([`JINJA`]): a leading system
/// message fills the header, a user message is a `User` turn and any other an `Assistant` one;
/// with `add_generation_prompt` the text ends with the assistant's opening, and otherwise a
/// conversation whose last turn is the assistant's ends with the closing `turn_start`.
///
/// # Errors
/// No messages at all (the template reads the first one).
pub fn render_messages(
    tokens: &PromptTokens,
    messages: &[Message],
    add_generation_prompt: bool,
) -> Result<String> {
    let Some(first) = messages.first() else {
        return Err(Error::Template(
            "the NeMo chat template needs at least one message".into(),
        ));
    };
    let (system, rest) = if first.role == Role::System {
        (first.content.as_str(), &messages[1..])
    } else {
        ("", messages)
    };
    let turns: Vec<Turn<'_>> = rest
        .iter()
        .map(|m| Turn {
            role: if m.role == Role::User {
                Role::User
            } else {
                Role::Assistant
            },
            value: &m.content,
            label: None,
        })
        .collect();
    let close = !add_generation_prompt && rest.last().is_some_and(|m| m.role == Role::Assistant);
    let mut text = render(tokens, system, &turns, None, close).text;
    if add_generation_prompt {
        text.push_str(&tokens.generation_prompt());
    }
    Ok(text)
}

/// The built-in `nemo` chat template as Jinja, with [`PromptTokens::CAI`]: what saved models carry
/// in `tokenizer_config.json`, and what renders there as [`render_messages`] does here.
pub const JINJA: &str = "{{ '<extra_id_0>System\\n' }}\
{%- if messages[0]['role'] == 'system' %}{{ messages[0]['content'] + '\\n' }}{% set turns = messages[1:] %}\
{%- else %}{{ '\\n' }}{% set turns = messages %}{% endif %}\
{%- for message in turns %}\
{%- if message['role'] == 'user' %}{{ '<extra_id_1>User\\n' + message['content'] + '\\n' }}\
{%- else %}{{ '<extra_id_1>Assistant\\n' + message['content'] + '\\n' }}{% endif %}\
{%- endfor %}\
{%- if add_generation_prompt %}{{ '<extra_id_1>Assistant\\n' }}\
{%- elif turns and turns[-1]['role'] == 'assistant' %}{{ '<extra_id_1>' }}{% endif %}";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::{EndStyle, PromptTemplate};

    const CAI: PromptTokens = PromptTokens::CAI;

    #[test]
    fn messages_render_in_the_nemo_sft_layout() {
        let msgs = [Message::user("Hi?"), Message::assistant("Hello.")];
        assert_eq!(
            render_messages(&CAI, &msgs, false).unwrap(),
            "<extra_id_0>System\n\n<extra_id_1>User\nHi?\n<extra_id_1>Assistant\nHello.\n<extra_id_1>"
        );
        assert_eq!(
            render_messages(&CAI, &msgs[..1], true).unwrap(),
            "<extra_id_0>System\n\n<extra_id_1>User\nHi?\n<extra_id_1>Assistant\n"
        );
        assert!(render_messages(&CAI, &[], true).is_err());
    }

    #[test]
    fn labels_go_where_the_type_puts_them_and_spans_find_the_turns() {
        let turns = [
            Turn {
                role: Role::User,
                value: "u",
                label: None,
            },
            Turn {
                role: Role::Assistant,
                value: "a",
                label: Some("q:1"),
            },
        ];
        let plain = render(&CAI, "S", &turns, None, true);
        assert_eq!(
            plain.text,
            "<extra_id_0>System\nS\n<extra_id_1>User\nu\n<extra_id_1>Assistant\na\n<extra_id_1>"
        );
        let spans: Vec<&str> = plain
            .turns
            .iter()
            .map(|s| &plain.text[s.turn.clone()])
            .collect();
        assert_eq!(
            spans,
            ["<extra_id_1>User\nu\n", "<extra_id_1>Assistant\na\n"]
        );
        assert_eq!(
            &plain.text[plain.turns[1].name.clone()],
            "<extra_id_1>Assistant\n"
        );
        assert_eq!(plain.closing, Some(plain.text.len() - 12..plain.text.len()));
        let before = render(&CAI, "", &turns, Some(LabelType::ValueToText), false);
        assert!(
            before.text.ends_with("Assistant\n<extra_id_2>q:1\na\n"),
            "{}",
            before.text
        );
        let after = render(&CAI, "", &turns, Some(LabelType::TextToValue), false);
        assert!(
            after.text.ends_with("Assistant\na\n<extra_id_2>q:1\n"),
            "{}",
            after.text
        );
        assert_eq!(after.closing, None);
    }

    /// The printf-style `extra-id` template (NeMo RM files, PPO prompts) agrees with this layout.
    #[test]
    fn the_extra_id_prompt_template_renders_the_same_text() {
        let t = PromptTemplate::extra_id();
        let histories = [
            vec![],
            vec![Message::system("Be kind.")],
            vec![Message::user("Hi"), Message::assistant("Hello!")],
        ];
        for history in histories {
            let mut prompt = history.clone();
            prompt.push(Message::user("What is 2+2?"));
            assert_eq!(
                t.render_prompt(&history, "What is 2+2?").unwrap(),
                render_messages(&CAI, &prompt, true).unwrap()
            );
            let mut full = prompt.clone();
            full.push(Message::assistant("4"));
            assert_eq!(
                t.render_full(&history, "What is 2+2?", "4", EndStyle::Newline)
                    .unwrap(),
                render_messages(&CAI, &full, false).unwrap()
            );
        }
    }
}
