//! Printf-style chat templates as in NeMo's `UserAssistantPromptTemplate`: rendering, response extraction, parsing.
//!
//! The default is NeMo's `<extra_id_*>` template; [`PromptTemplate::mistral`] is the `[INST]` one, and any other
//! model's template can be given as a TOML/JSON file with the same fields.

use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::nemo_chat::PromptTokens;
use crate::records::{Message, Role};

/// The placeholder every role format must contain exactly once.
pub const MESSAGE: &str = "{MESSAGE}";

/// How a rendered conversation ends after the last assistant message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndStyle {
    /// `"…{response}\n<eos>"`: what SFT teaches, what PPO rollouts produce and what NeMo's HH files contain.
    Newline,
    /// `"…{response}<eos>"`: NeMo's RL-CAI comparison files.
    Bare,
}

/// A role-format chat template (NeMo `UserAssistantPromptTemplate`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromptTemplate {
    /// Format of a system turn; `None` means system messages are not supported.
    #[serde(default)]
    pub system_format: Option<String>,
    /// Format of a user turn.
    pub user_format: String,
    /// Format of an assistant turn.
    pub assistant_format: String,
    /// System message inserted when a conversation has none (requires `system_format`).
    #[serde(default)]
    pub system_default_message: Option<String>,
    /// Text put in front of the whole conversation.
    #[serde(default)]
    pub bos_token: Option<String>,
    /// End-of-response marker appended to full conversations and cut from extracted responses.
    #[serde(default)]
    pub eos_token: Option<String>,
    /// The response is whatever follows the last occurrence of this pattern.
    #[serde(default)]
    pub response_extract_pattern: Option<String>,
}

impl PromptTemplate {
    /// NeMo's `<extra_id_*>` template (the CAI defaults, reference §1), its formats made of the
    /// markers of [`crate::nemo_chat`] (whose rendering it equals).
    pub fn extra_id() -> Self {
        let tokens = PromptTokens::CAI;
        let assistant = tokens.generation_prompt();
        Self {
            system_format: Some(tokens.header(MESSAGE)),
            user_format: format!(
                "{}{MESSAGE}{}{assistant}",
                tokens.speaker(Role::User),
                tokens.end_of_turn
            ),
            assistant_format: format!("{MESSAGE}{}", tokens.end_of_turn),
            system_default_message: Some(String::new()),
            bos_token: None,
            eos_token: Some(tokens.turn_start.into()),
            response_extract_pattern: Some(assistant),
        }
    }

    /// Mistral-Instruct's `[INST]` template as NeMo's tests spell it.
    pub fn mistral() -> Self {
        Self {
            system_format: None,
            user_format: "[INST] {MESSAGE} [/INST]".into(),
            assistant_format: "{MESSAGE}</s> ".into(),
            system_default_message: None,
            bos_token: Some("<s>".into()),
            eos_token: Some("</s>".into()),
            response_extract_pattern: Some("[/INST]".into()),
        }
    }

    /// ChatML (`<|im_start|>role\n…<|im_end|>`), as used by SmolLM2, Qwen and others, with no default system turn.
    pub fn chatml() -> Self {
        Self {
            system_format: Some("<|im_start|>system\n{MESSAGE}<|im_end|>\n".into()),
            user_format: "<|im_start|>user\n{MESSAGE}<|im_end|>\n<|im_start|>assistant\n".into(),
            assistant_format: "{MESSAGE}<|im_end|>\n".into(),
            system_default_message: None,
            bos_token: None,
            eos_token: Some("<|im_end|>".into()),
            response_extract_pattern: Some("<|im_start|>assistant\n".into()),
        }
    }

    /// SmolLM2-Instruct's template: ChatML plus its default system message (from its `chat_template`).
    pub fn smollm2() -> Self {
        Self {
            system_default_message: Some(
                "You are a helpful AI assistant named SmolLM, trained by Hugging Face".into(),
            ),
            ..Self::chatml()
        }
    }

    /// A preset by name (`extra-id`, `mistral`, `chatml`, `smollm2`) or a TOML/JSON file with this struct's fields.
    pub fn load(spec: &str) -> Result<Self> {
        let template = match spec {
            "extra-id" | "extra_id" | "nemo" => Self::extra_id(),
            "mistral" => Self::mistral(),
            "chatml" => Self::chatml(),
            "smollm2" => Self::smollm2(),
            path => {
                let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
                let parsed = if Path::new(path).extension().is_some_and(|e| e == "json") {
                    serde_json::from_str(&text).map_err(|e| Error::Template(format!("{path}: {e}")))
                } else {
                    toml::from_str(&text).map_err(|e| Error::Template(format!("{path}: {e}")))
                };
                parsed?
            }
        };
        template.validate()?;
        Ok(template)
    }

    /// Checks NeMo's rules: each format has exactly one `{MESSAGE}`, and a default system message needs a format.
    pub fn validate(&self) -> Result<()> {
        let formats = [
            ("user", Some(&self.user_format)),
            ("assistant", Some(&self.assistant_format)),
        ];
        for (name, format) in formats
            .into_iter()
            .chain([("system", self.system_format.as_ref())])
        {
            if let Some(f) = format
                && f.matches(MESSAGE).count() != 1
            {
                return Err(Error::Template(format!(
                    "{name} format must contain {MESSAGE} exactly once: {f:?}"
                )));
            }
        }
        if self.system_format.is_none() && self.system_default_message.is_some() {
            return Err(Error::Template(
                "system_default_message needs a system_format".into(),
            ));
        }
        Ok(())
    }

    fn format_of(&self, role: Role) -> Result<&str> {
        match role {
            Role::User => Ok(&self.user_format),
            Role::Assistant => Ok(&self.assistant_format),
            Role::System => self
                .system_format
                .as_deref()
                .ok_or_else(|| Error::Template("template has no system format".into())),
        }
    }

    /// Renders messages exactly like NeMo's `format_messages`; consecutive messages must have different roles.
    pub fn format_messages(&self, messages: &[Message]) -> Result<String> {
        let mut out = self.bos_token.clone().unwrap_or_default();
        let default_system = match (
            &self.system_format,
            &self.system_default_message,
            messages.first(),
        ) {
            (Some(_), Some(msg), first) if first.is_none_or(|m| m.role != Role::System) => {
                Some(Message::system(msg.clone()))
            }
            _ => None,
        };
        let mut previous: Option<Role> = None;
        for message in default_system.iter().chain(messages) {
            if previous == Some(message.role) {
                return Err(Error::Template(format!(
                    "two consecutive {:?} messages",
                    message.role
                )));
            }
            previous = Some(message.role);
            out.push_str(
                &self
                    .format_of(message.role)?
                    .replacen(MESSAGE, &message.content, 1),
            );
        }
        Ok(out)
    }

    /// The generation prompt for `history` followed by the user turn `prompt`.
    pub fn render_prompt(&self, history: &[Message], prompt: &str) -> Result<String> {
        let mut messages = history.to_vec();
        messages.push(Message::user(prompt));
        self.format_messages(&messages)
    }

    /// Prompt plus response, ending in the end token per `end` (NeMo RM comparison text).
    ///
    /// Trailing whitespace after the response is normalised away; a conversation that already ends with the end
    /// token (templates whose assistant format contains it) is left as is.
    pub fn render_full(
        &self,
        history: &[Message],
        prompt: &str,
        response: &str,
        end: EndStyle,
    ) -> Result<String> {
        let mut messages = history.to_vec();
        messages.push(Message::user(prompt));
        messages.push(Message::assistant(response.trim()));
        let rendered = self.format_messages(&messages)?;
        let mut text = rendered.trim_end().to_string();
        if let Some(eos) = self
            .eos_token
            .as_deref()
            .filter(|e| !e.is_empty() && !text.ends_with(*e))
        {
            if end == EndStyle::Newline {
                text.push('\n');
            }
            text.push_str(eos);
        }
        Ok(text)
    }

    /// NeMo's `extract_response`: text after the last extract pattern, cut at the last end token.
    ///
    /// Unlike NeMo, nothing else is trimmed after the cut; use [`PromptTemplate::split_response`] for normalised text.
    pub fn extract_response(&self, message: &str) -> Option<String> {
        let pattern = self.response_extract_pattern.as_deref()?;
        let message = message.trim();
        let i = message.rfind(pattern)?;
        let mut response = message[i + pattern.len()..].trim();
        if let Some(eos) = self.eos_token.as_deref().filter(|e| !e.is_empty())
            && let Some(j) = response.rfind(eos)
        {
            response = &response[..j];
        }
        Some(response.to_string())
    }

    /// Splits a full conversation into the prompt part (up to and including the last extract pattern) and the
    /// response with the end token and surrounding whitespace removed.
    pub fn split_response<'a>(&self, text: &'a str) -> Option<(&'a str, String)> {
        let pattern = self.response_extract_pattern.as_deref()?;
        let i = text.rfind(pattern)?;
        let prompt = &text[..i + pattern.len()];
        let response = self.extract_response(&text[i..])?;
        Some((prompt, response.trim().to_string()))
    }

    /// Inverse of [`PromptTemplate::format_messages`] for alternating conversations: returns `None` if `text` does
    /// not have the template's shape. Message contents must not contain the next turn's delimiters.
    pub fn parse_messages(&self, text: &str) -> Option<Vec<Message>> {
        let mut rest = match self.bos_token.as_deref() {
            Some(bos) => text.strip_prefix(bos)?,
            None => text,
        };
        let mut out = Vec::new();
        if let Some(sys) = &self.system_format {
            let (pre, _) = sys.split_once(MESSAGE)?;
            if !pre.is_empty() && rest.starts_with(pre) {
                let (content, after) = self.take(rest, Role::System, Role::User)?;
                out.push(Message::system(content));
                rest = after;
            }
        }
        let mut role = Role::User;
        while !rest.is_empty() {
            let next = if role == Role::User {
                Role::Assistant
            } else {
                Role::User
            };
            let (content, after) = self.take(rest, role, next)?;
            out.push(Message::new(role, content));
            rest = after;
            role = next;
        }
        Some(out)
    }

    /// Takes one `role` turn from the front of `text`; it ends where the `next` turn begins, or at the end.
    fn take<'a>(&self, text: &'a str, role: Role, next: Role) -> Option<(String, &'a str)> {
        let (pre, suf) = self.format_of(role).ok()?.split_once(MESSAGE)?;
        let body = text.strip_prefix(pre)?;
        let (next_pre, _) = self.format_of(next).ok()?.split_once(MESSAGE)?;
        let delimiter = format!("{suf}{next_pre}");
        if !delimiter.is_empty()
            && let Some(i) = body.find(&delimiter)
        {
            return Some((body[..i].to_string(), &body[i + suf.len()..]));
        }
        body.strip_suffix(suf).map(|c| (c.to_string(), ""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_formats_without_exactly_one_placeholder() {
        let mut t = PromptTemplate::extra_id();
        t.user_format = "{MESSAGE} and {MESSAGE}".into();
        assert!(t.validate().is_err());
        t.user_format = "no placeholder".into();
        assert!(t.validate().is_err());
        let mut t = PromptTemplate::mistral();
        t.system_default_message = Some(String::new());
        assert!(t.validate().is_err());
    }

    #[test]
    fn extra_id_formats_are_nemos() {
        let t = PromptTemplate::extra_id();
        assert_eq!(
            t.system_format.as_deref(),
            Some("<extra_id_0>System\n{MESSAGE}\n")
        );
        assert_eq!(
            t.user_format,
            "<extra_id_1>User\n{MESSAGE}\n<extra_id_1>Assistant\n"
        );
        assert_eq!(t.assistant_format, "{MESSAGE}\n");
        assert_eq!(t.eos_token.as_deref(), Some("<extra_id_1>"));
        assert_eq!(
            t.response_extract_pattern.as_deref(),
            Some("<extra_id_1>Assistant\n")
        );
    }

    #[test]
    fn consecutive_roles_are_rejected() {
        let t = PromptTemplate::extra_id();
        assert!(
            t.format_messages(&[Message::user("a"), Message::user("b")])
                .is_err()
        );
    }

    #[test]
    fn mistral_render_matches_nemo_test() {
        let t = PromptTemplate::mistral();
        let s = t
            .format_messages(&[Message::user("Calculate the sum of 2 and 3.")])
            .unwrap();
        assert_eq!(s, "<s>[INST] Calculate the sum of 2 and 3. [/INST]");
    }

    #[test]
    fn parse_inverts_format_for_both_presets() {
        let convo = vec![
            Message::user("Hi\nthere"),
            Message::assistant("Hello!\n\nHow can I help?"),
            Message::user("What is 2+2?"),
        ];
        for t in [
            PromptTemplate::extra_id(),
            PromptTemplate::mistral(),
            PromptTemplate::chatml(),
            PromptTemplate::smollm2(),
        ] {
            let text = t.format_messages(&convo).unwrap();
            let mut parsed = t.parse_messages(&text).unwrap();
            if parsed.first().is_some_and(|m| m.role == Role::System) {
                let default = t.system_default_message.clone().unwrap_or_default();
                assert_eq!(parsed.remove(0).content, default);
            }
            assert_eq!(parsed, convo, "template {t:?}");
        }
    }

    #[test]
    fn smollm2_matches_its_jinja_template() {
        // What SmolLM2's chat_template renders for one user turn with add_generation_prompt.
        let expected = "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n\
                        <|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n";
        assert_eq!(
            PromptTemplate::smollm2().render_prompt(&[], "Hi").unwrap(),
            expected
        );
        let full = PromptTemplate::chatml()
            .render_full(&[], "Hi", "Hello", EndStyle::Newline)
            .unwrap();
        assert_eq!(
            full,
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello<|im_end|>"
        );
    }

    #[test]
    fn split_response_normalises_both_endings() {
        let t = PromptTemplate::extra_id();
        let a = t.render_full(&[], "p", "r", EndStyle::Newline).unwrap();
        let b = t.render_full(&[], "p", "r", EndStyle::Bare).unwrap();
        assert!(a.ends_with("r\n<extra_id_1>") && b.ends_with("r<extra_id_1>"));
        assert_eq!(t.split_response(&a), t.split_response(&b));
        assert_eq!(t.split_response(&a).unwrap().1, "r");
    }

    #[test]
    fn extract_without_pattern_is_none() {
        assert_eq!(PromptTemplate::extra_id().extract_response("   "), None);
    }
}
