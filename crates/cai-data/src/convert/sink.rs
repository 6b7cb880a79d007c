//! Writing side of the converters: every output is written atomically (temp file + rename).

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::trl::{TrlRecord, to_trl};
use super::{ConvertOptions, ConvertReport, Format, Item};
use crate::error::{Error, Result};
use crate::hh;
use crate::jsonl::{AtomicJsonl, JsonStyle};
use crate::records::{ChatSample, HfMessages, Message, PreferenceRecord, RedTeamPrompt, TextLine};

/// A destination for converted items.
pub(crate) trait Sink {
    /// Writes one item, or counts it as skipped with a reason.
    fn put(&mut self, id: &str, item: Item, report: &mut ConvertReport) -> Result<()>;
    /// Commits the output files.
    fn finish(self: Box<Self>) -> Result<()>;
}

/// Opens the sink for `format` at `output`.
pub(crate) fn open(
    format: Format,
    output: &Path,
    options: &ConvertOptions,
    source: &str,
) -> Result<Box<dyn Sink>> {
    let style = match format {
        Format::NemoChat | Format::NemoRm => JsonStyle::Python,
        _ => JsonStyle::Compact,
    };
    if format == Format::NemoRm {
        return Ok(Box::new(NemoRmSink::create(output, options)?));
    }
    Ok(Box::new(LineSink {
        format,
        file: AtomicJsonl::create(output, style)?,
        options: options.clone(),
        source: source.into(),
    }))
}

/// Sinks that write one line per item into one file.
struct LineSink {
    format: Format,
    file: AtomicJsonl,
    options: ConvertOptions,
    source: String,
}

fn preference(item: Item) -> std::result::Result<PreferenceRecord, &'static str> {
    match item {
        Item::Preference(p) => Ok(p),
        _ => Err("not a preference pair"),
    }
}

/// One output line, serialised with its fields in declaration order.
#[derive(Serialize)]
#[serde(untagged)]
enum Line {
    Prompt(RedTeamPrompt),
    Preference(PreferenceRecord),
    Chat(ChatSample),
    Messages(HfMessages),
    RedTeam(hh::RedTeamAttempt),
    Pair(hh::HhPair),
    Trl(TrlRecord),
}

impl LineSink {
    fn render(&self, id: &str, item: Item) -> std::result::Result<Line, &'static str> {
        let value = match self.format {
            Format::Prompts => Line::Prompt(item.into_prompt(id)?),
            Format::HhRedTeam => {
                let p = item.into_prompt(id)?;
                let transcript = format!(
                    "{}\n\nAssistant:",
                    hh::to_transcript(&[Message::user(p.prompt)])
                );
                Line::RedTeam(hh::RedTeamAttempt { transcript })
            }
            Format::Preference => Line::Preference(preference(item)?),
            Format::HhPairs => {
                let p = preference(item)?;
                let base = p.prompt_messages();
                let full = |answer: &str| {
                    let mut m = base.clone();
                    m.push(Message::assistant(answer));
                    hh::to_transcript(&m)
                };
                Line::Pair(hh::HhPair {
                    chosen: full(&p.chosen),
                    rejected: full(&p.rejected),
                })
            }
            Format::Trl => Line::Trl(to_trl(
                &preference(item)?,
                &self.options.trl_keys,
                self.options.trl_messages,
            )?),
            Format::NemoChat => Line::Chat(item.into_chat(&self.source)?),
            Format::HfMessages => {
                let chat = item.into_chat(&self.source)?;
                Line::Messages(
                    HfMessages::from_chat_sample(&chat)
                        .map_err(|_| "unknown role in conversation")?,
                )
            }
            Format::NemoRm => unreachable!("NeMo RM output has its own sink"),
        };
        Ok(value)
    }
}

impl Sink for LineSink {
    fn put(&mut self, id: &str, item: Item, report: &mut ConvertReport) -> Result<()> {
        match self.render(id, item) {
            Ok(value) => {
                self.file.write(&value)?;
                report.written += 1;
            }
            Err(reason) => report.skip(reason),
        }
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<()> {
        self.file.commit()
    }
}

/// NeMo RM output: a directory with the comparisons file and the prompts file.
struct NemoRmSink {
    comparisons: AtomicJsonl,
    prompts: AtomicJsonl,
    options: ConvertOptions,
}

/// Paths of the two NeMo RM files inside `dir`.
pub fn nemo_rm_paths(dir: &Path, prefix: Option<&str>) -> (PathBuf, PathBuf) {
    let p = prefix.map(|p| format!("{p}_")).unwrap_or_default();
    (
        dir.join(format!("{p}comparisons_with_chat_prompt.jsonl")),
        dir.join(format!("{p}prompts_with_chat_prompt.jsonl")),
    )
}

impl NemoRmSink {
    fn create(dir: &Path, options: &ConvertOptions) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let (comparisons, prompts) = nemo_rm_paths(dir, options.nemo_prefix.as_deref());
        Ok(Self {
            comparisons: AtomicJsonl::create(comparisons, JsonStyle::Python)?,
            prompts: AtomicJsonl::create(prompts, JsonStyle::Python)?,
            options: options.clone(),
        })
    }
}

impl Sink for NemoRmSink {
    fn put(&mut self, _id: &str, item: Item, report: &mut ConvertReport) -> Result<()> {
        let Ok(p) = preference(item) else {
            report.skip("not a preference pair");
            return Ok(());
        };
        if p.chosen.trim().is_empty() || p.rejected.trim().is_empty() {
            report.skip("empty response");
            return Ok(());
        }
        let t = &self.options.template;
        let rendered = t.render_prompt(&p.history, &p.prompt).and_then(|prompt| {
            let chosen = t.render_full(&p.history, &p.prompt, &p.chosen, self.options.end_style)?;
            let rejected =
                t.render_full(&p.history, &p.prompt, &p.rejected, self.options.end_style)?;
            Ok((prompt, chosen, rejected))
        });
        match rendered {
            Ok((prompt, chosen, rejected)) => {
                self.prompts.write(&TextLine { text: prompt })?;
                self.comparisons.write(&TextLine { text: chosen })?;
                self.comparisons.write(&TextLine { text: rejected })?;
                report.written += 1;
            }
            Err(_) => report.skip("conversation does not fit the chat template"),
        }
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<()> {
        self.comparisons.commit()?;
        self.prompts.commit()
    }
}
