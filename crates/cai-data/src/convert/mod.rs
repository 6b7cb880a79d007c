//! Converters between dataset layouts: hh-rlhf, our records, NeMo RM/chat, TRL/OpenRLHF and Hugging Face messages.
//!
//! Every format reads into one of three kinds of [`Item`] (prompt, preference, chat) and writes from one; a
//! conversion is possible when the source kind can become the target kind (a preference gives its prompt or its
//! chosen conversation, a chat gives its first user turn). Bad records are dropped and counted per reason.

mod sink;
mod source;
mod trl;

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::records::{ChatSample, PreferenceRecord, RedTeamPrompt, Role};
use crate::template::{EndStyle, PromptTemplate};

pub use trl::TrlKeys;

/// A dataset layout known to `cai-data convert`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// hh-rlhf `red-team-attempts`: `{"transcript"}` lines; reads as prompts (first human turn).
    HhRedTeam,
    /// hh-rlhf `helpful-*`/`harmless-*`: `{"chosen", "rejected"}` transcripts.
    HhPairs,
    /// Our [`RedTeamPrompt`] records.
    Prompts,
    /// Our [`PreferenceRecord`] records.
    Preference,
    /// NeMo reward-model files: a directory with the comparisons file (chosen then rejected `{"text"}` lines) and
    /// the prompts file.
    NemoRm,
    /// TRL/H4 `{prompt, chosen, rejected}` (strings or message lists); also OpenRLHF with custom keys.
    Trl,
    /// NeMo chat SFT samples ([`ChatSample`]).
    NemoChat,
    /// Hugging Face `{"messages": [{role, content}]}`.
    HfMessages,
}

/// What a format holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Prompts without answers.
    Prompt,
    /// Chosen/rejected pairs.
    Preference,
    /// Conversations with answers.
    Chat,
}

impl Format {
    /// Every format, in CLI order.
    pub const ALL: [Format; 8] = [
        Format::HhRedTeam,
        Format::HhPairs,
        Format::Prompts,
        Format::Preference,
        Format::NemoRm,
        Format::Trl,
        Format::NemoChat,
        Format::HfMessages,
    ];

    /// The CLI name.
    pub fn name(self) -> &'static str {
        match self {
            Format::HhRedTeam => "hh-red-team",
            Format::HhPairs => "hh-pairs",
            Format::Prompts => "prompts",
            Format::Preference => "preference",
            Format::NemoRm => "nemo-rm",
            Format::Trl => "trl",
            Format::NemoChat => "nemo-chat",
            Format::HfMessages => "hf-messages",
        }
    }

    /// The kind of item the format holds.
    pub fn kind(self) -> Kind {
        match self {
            Format::HhRedTeam | Format::Prompts => Kind::Prompt,
            Format::HhPairs | Format::Preference | Format::NemoRm | Format::Trl => Kind::Preference,
            Format::NemoChat | Format::HfMessages => Kind::Chat,
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Format::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Format::ALL.iter().map(|f| f.name()).collect();
                Error::Convert(format!(
                    "unknown format `{s}` (known: {})",
                    names.join(", ")
                ))
            })
    }
}

/// True if items of kind `from` can be written as kind `to`.
pub fn can_convert(from: Kind, to: Kind) -> bool {
    match to {
        Kind::Prompt => true,
        Kind::Preference => from == Kind::Preference,
        Kind::Chat => from != Kind::Prompt,
    }
}

/// Options shared by all conversions.
#[derive(Clone, Debug)]
pub struct ConvertOptions {
    /// Chat template for NeMo RM files.
    pub template: PromptTemplate,
    /// How NeMo RM comparison texts end (normalised on write, accepted either way on read).
    pub end_style: EndStyle,
    /// Fail on the first bad record instead of dropping and counting it.
    pub strict: bool,
    /// Key names for the TRL/OpenRLHF layout.
    pub trl_keys: TrlKeys,
    /// Write TRL records as message lists instead of strings.
    pub trl_messages: bool,
    /// Name recorded as `source` / `dataset`; defaults to the input file's stem.
    pub source: Option<String>,
    /// Prefix of NeMo RM file names (`{prefix}_comparisons_with_chat_prompt.jsonl`).
    pub nemo_prefix: Option<String>,
}

impl ConvertOptions {
    /// NeMo's defaults: `<extra_id_*>` template, newline before the end token, lenient reading.
    pub fn nemo_defaults() -> Self {
        Self {
            template: PromptTemplate::extra_id(),
            end_style: EndStyle::Newline,
            strict: false,
            trl_keys: TrlKeys::trl(),
            trl_messages: false,
            source: None,
            nemo_prefix: None,
        }
    }
}

/// Counts from one conversion.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConvertReport {
    /// Records written.
    pub written: u64,
    /// Records dropped, per reason.
    pub skipped: BTreeMap<String, u64>,
}

impl ConvertReport {
    /// Counts one dropped record.
    pub fn skip(&mut self, reason: impl Into<String>) {
        *self.skipped.entry(reason.into()).or_default() += 1;
    }

    /// Total dropped records.
    pub fn skipped_total(&self) -> u64 {
        self.skipped.values().sum()
    }
}

impl fmt::Display for ConvertReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "wrote {} records, skipped {}",
            self.written,
            self.skipped_total()
        )?;
        if !self.skipped.is_empty() {
            let reasons: Vec<_> = self
                .skipped
                .iter()
                .map(|(r, n)| format!("{r}: {n}"))
                .collect();
            write!(f, " ({})", reasons.join("; "))?;
        }
        Ok(())
    }
}

/// One record in transit between a source and a sink.
#[derive(Clone, Debug)]
pub enum Item {
    /// A prompt.
    Prompt(RedTeamPrompt),
    /// A chosen/rejected pair.
    Preference(PreferenceRecord),
    /// A conversation.
    Chat(ChatSample),
}

impl Item {
    /// The prompt of the item: its first user turn (as NeMo extracts red-team prompts).
    fn into_prompt(self, id: &str) -> std::result::Result<RedTeamPrompt, &'static str> {
        match self {
            Item::Prompt(p) => Ok(p),
            Item::Preference(p) => {
                let first = p
                    .history
                    .iter()
                    .find(|m| m.role == Role::User)
                    .map(|m| m.content.clone());
                Ok(RedTeamPrompt {
                    id: p.id,
                    prompt: first.unwrap_or(p.prompt),
                    category: None,
                    source: Some(p.source),
                })
            }
            Item::Chat(c) => {
                let turn = c
                    .conversations
                    .iter()
                    .find(|t| Role::parse(&t.from) == Some(Role::User));
                let turn = turn.ok_or("no user turn")?;
                Ok(RedTeamPrompt {
                    id: id.to_string(),
                    prompt: turn.value.clone(),
                    category: None,
                    source: Some(c.dataset).filter(|d| !d.is_empty()),
                })
            }
        }
    }

    /// The conversation of the item (a preference gives its chosen side).
    fn into_chat(self, dataset: &str) -> std::result::Result<ChatSample, &'static str> {
        match self {
            Item::Chat(c) => Ok(c),
            Item::Preference(p) => {
                let mut messages = p.prompt_messages();
                messages.push(crate::records::Message::assistant(p.chosen));
                Ok(ChatSample::from_messages(&messages, dataset))
            }
            Item::Prompt(_) => Err("a prompt has no answer"),
        }
    }
}

/// Converts `input` (a file, or a directory for `nemo-rm`) from one format to another, writing `output` atomically.
pub fn convert(
    from: Format,
    to: Format,
    input: &Path,
    output: &Path,
    options: &ConvertOptions,
) -> Result<ConvertReport> {
    if !can_convert(from.kind(), to.kind()) {
        return Err(Error::Convert(format!(
            "cannot convert {from} ({:?}) to {to} ({:?})",
            from.kind(),
            to.kind()
        )));
    }
    options.template.validate()?;
    let source_name = options
        .source
        .clone()
        .unwrap_or_else(|| source::stem(input));
    let mut report = ConvertReport::default();
    let mut sink = sink::open(to, output, options, &source_name)?;
    source::for_each(
        from,
        input,
        options,
        &source_name,
        &mut report,
        &mut |id, item, report| sink.put(id, item, report),
    )?;
    sink.finish()?;
    Ok(report)
}
