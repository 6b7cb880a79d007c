//! Chat templates: the model's own Jinja template (from `tokenizer_config.json`,
//! `chat_template.jinja` or GGUF `tokenizer.chat_template`) rendered with minijinja the way
//! transformers renders it, plus built-in templates for Mistral `[INST]`, NeMo `<extra_id_*>` and
//! ChatML. The [`Message`] type is `cai_data`'s, re-exported.

use minijinja::{Environment, Error as JinjaError, ErrorKind, context};

use crate::error::{ModelError, Result};

pub use cai_data::{Message, Role};

pub mod limits;

/// Mistral-Instruct `[INST]` format; a system message is prepended to the first user turn.
const MISTRAL: &str = "{{ bos_token }}\
{%- if messages[0]['role'] == 'system' %}{% set system = messages[0]['content'] %}{% set turns = messages[1:] %}\
{%- else %}{% set system = '' %}{% set turns = messages %}{% endif %}\
{%- for message in turns %}\
{%- if message['role'] == 'user' %}{{ '[INST] ' }}{% if loop.first and system %}{{ system + '\\n\\n' }}{% endif %}{{ message['content'] + ' [/INST]' }}\
{%- elif message['role'] == 'assistant' %}{{ message['content'] + eos_token }}\
{%- else %}{{ raise_exception('Mistral template: roles must be user or assistant after an optional system') }}{% endif %}\
{%- endfor %}";

/// NeMo-Aligner's CAI chat format (`<extra_id_0>System`, `<extra_id_1>User`, `<extra_id_1>Assistant`);
/// a conversation ending with an assistant turn gets the trailing `<extra_id_1>` NeMo trains on.
/// The layout is `cai_data::nemo_chat`'s: a template with this source renders through
/// [`cai_data::nemo_chat::render_messages`], and the Jinja is what saved models carry.
const NEMO: &str = cai_data::nemo_chat::JINJA;

/// ChatML (`<|im_start|>role\n…<|im_end|>`).
const CHATML: &str = "{%- for message in messages %}\
{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}\
{%- endfor %}\
{%- if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/// A compiled chat template with the special-token strings it refers to.
#[derive(Debug)]
pub struct ChatTemplate {
    env: Environment<'static>,
    origin: String,
    source: String,
    bos_token: String,
    eos_token: String,
}

impl Clone for ChatTemplate {
    fn clone(&self) -> Self {
        Self::new(&self.source, &self.origin, &self.bos_token, &self.eos_token)
            .expect("a template that compiled once compiles again")
    }
}

fn raise_exception(message: String) -> std::result::Result<String, JinjaError> {
    Err(JinjaError::new(ErrorKind::InvalidOperation, message))
}

impl ChatTemplate {
    /// Compiles a Jinja chat template; `origin` names where it came from in errors.
    pub fn new(source: &str, origin: &str, bos_token: &str, eos_token: &str) -> Result<Self> {
        let mut env = Environment::new();
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        minijinja_contrib::add_to_environment(&mut env);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function("raise_exception", raise_exception);
        env.set_fuel(Some(limits::TEMPLATE_FUEL));
        env.add_template_owned("chat", source.to_string())
            .map_err(|e| ModelError::Template {
                origin: origin.to_string(),
                reason: format!("{e:#}"),
            })?;
        Ok(Self {
            env,
            origin: origin.to_string(),
            source: source.to_string(),
            bos_token: bos_token.to_string(),
            eos_token: eos_token.to_string(),
        })
    }

    /// A built-in template by name: `mistral`, `nemo` or `chatml`.
    pub fn builtin(name: &str, bos_token: &str, eos_token: &str) -> Result<Self> {
        let source = match name {
            "mistral" => MISTRAL,
            "nemo" => NEMO,
            "chatml" => CHATML,
            other => {
                return Err(ModelError::Invalid(format!(
                    "unknown built-in chat template `{other}` (mistral, nemo, chatml)"
                )));
            }
        };
        Self::new(source, &format!("built-in {name}"), bos_token, eos_token)
    }

    /// The Jinja source.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Renders `messages`; with `add_generation_prompt` the text ends where the assistant's reply
    /// begins.
    pub fn render(&self, messages: &[Message], add_generation_prompt: bool) -> Result<String> {
        if self.is_nemo() {
            let tokens = cai_data::nemo_chat::PromptTokens::CAI;
            return cai_data::nemo_chat::render_messages(&tokens, messages, add_generation_prompt)
                .map_err(|e| ModelError::Template {
                    origin: self.origin.clone(),
                    reason: match e {
                        cai_data::Error::Template(reason) => reason,
                        other => other.to_string(),
                    },
                });
        }
        self.render_jinja(messages, add_generation_prompt)
    }

    /// Whether this is the built-in `nemo` template (by source, so a `.jinja` copy of it counts
    /// too), which renders through `cai_data::nemo_chat`.
    pub fn is_nemo(&self) -> bool {
        self.source == NEMO
    }

    /// Renders `messages` with minijinja, whatever the source. Fails once the template runs out
    /// of fuel ([`limits::TEMPLATE_FUEL`]) or writes more than [`limits::output_limit`] bytes.
    fn render_jinja(&self, messages: &[Message], add_generation_prompt: bool) -> Result<String> {
        let template = self.env.get_template("chat").map_err(|e| self.err(e))?;
        let mut out = limits::Bounded::new(limits::output_limit(messages));
        let rendered = template.render_captured_to(
            context! {
                messages => messages,
                add_generation_prompt => add_generation_prompt,
                bos_token => self.bos_token,
                eos_token => self.eos_token,
            },
            &mut out,
        );
        match rendered {
            Ok(_) => Ok(out.into_string()),
            Err(e) => Err(ModelError::Template {
                origin: self.origin.clone(),
                reason: out.explain(&e),
            }),
        }
    }

    fn err(&self, e: JinjaError) -> ModelError {
        ModelError::Template {
            origin: self.origin.clone(),
            reason: format!("{e:#}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nemo_template_matches_the_nemo_sft_layout() {
        let t = ChatTemplate::builtin("nemo", "", "").unwrap();
        let msgs = [Message::user("Hi?"), Message::assistant("Hello.")];
        assert_eq!(
            t.render(&msgs, false).unwrap(),
            "<extra_id_0>System\n\n<extra_id_1>User\nHi?\n<extra_id_1>Assistant\nHello.\n<extra_id_1>"
        );
        assert_eq!(
            t.render(&msgs[..1], true).unwrap(),
            "<extra_id_0>System\n\n<extra_id_1>User\nHi?\n<extra_id_1>Assistant\n"
        );
    }

    #[test]
    fn the_nemo_jinja_renders_as_cai_data_does() {
        let t = ChatTemplate::builtin("nemo", "<s>", "</s>").unwrap();
        assert!(t.is_nemo());
        let conversations = [
            vec![Message::user("Hi?")],
            vec![Message::system("Be kind."), Message::user("Hi?")],
            vec![Message::system("S")],
            vec![Message::assistant("first"), Message::user("u")],
            vec![
                Message::user("u1"),
                Message::assistant("a1\n"),
                Message::user("u2"),
                Message::assistant(""),
            ],
            vec![
                Message::user("u"),
                Message::system("late"),
                Message::user("v"),
            ],
        ];
        for messages in &conversations {
            for generation_prompt in [false, true] {
                assert_eq!(
                    t.render(messages, generation_prompt).unwrap(),
                    t.render_jinja(messages, generation_prompt).unwrap(),
                    "{messages:?}"
                );
            }
        }
        assert!(t.render(&[], true).is_err() && t.render_jinja(&[], true).is_err());
    }

    #[test]
    fn mistral_template_folds_system_into_first_turn() {
        let t = ChatTemplate::builtin("mistral", "<s>", "</s>").unwrap();
        let msgs = [
            Message::system("Be brief."),
            Message::user("Hi"),
            Message::assistant("Hello"),
            Message::user("Bye"),
        ];
        assert_eq!(
            t.render(&msgs, true).unwrap(),
            "<s>[INST] Be brief.\n\nHi [/INST]Hello</s>[INST] Bye [/INST]"
        );
        let bad = [Message::user("x"), Message::system("late system")];
        let err = t.render(&bad, false).unwrap_err().to_string();
        assert!(err.contains("roles must be"), "{err}");
    }

    #[test]
    fn chatml_adds_generation_prompt() {
        let t = ChatTemplate::builtin("chatml", "", "").unwrap();
        let s = t.render(&[Message::user("x")], true).unwrap();
        assert_eq!(s, "<|im_start|>user\nx<|im_end|>\n<|im_start|>assistant\n");
    }

    #[test]
    fn syntax_errors_name_the_origin() {
        let err = ChatTemplate::new("{% for %}", "my.jinja", "", "").unwrap_err();
        assert!(err.to_string().contains("my.jinja"));
    }
}
