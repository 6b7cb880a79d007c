//! Reading side of the converters: each format's records become [`Item`]s, bad ones are counted by reason.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use super::trl::parse_trl;
use super::{ConvertOptions, ConvertReport, Format, Item};
use crate::error::{Error, Result};
use crate::hh::{self, HhPair, RedTeamAttempt};
use crate::jsonl::{ReadOptions, read_records};
use crate::records::{ChatSample, HfMessages, PreferenceRecord, RedTeamPrompt, Role, TextLine};
use crate::template::PromptTemplate;

/// Callback receiving each item with its id (the record's own or `{source}-{index}`).
pub(crate) type Emit<'a> = dyn FnMut(&str, Item, &mut ConvertReport) -> Result<()> + 'a;

/// File name without directories and `.gz`/`.jsonl`/`.json` extensions.
pub(crate) fn stem(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "input".into());
    let mut stem = name.as_str();
    for ext in [".gz", ".jsonl", ".json"] {
        stem = stem.strip_suffix(ext).unwrap_or(stem);
    }
    stem.to_string()
}

/// Reads every record of `path`; bad records become `Err(reason)` unless `strict`, which fails instead.
fn each<T: DeserializeOwned>(
    path: &Path,
    strict: bool,
    mut f: impl FnMut(u64, std::result::Result<T, String>) -> Result<()>,
) -> Result<()> {
    let mut records = read_records::<T>(path, ReadOptions::report())?;
    let mut index = 0;
    while let Some(next) = records.next_with_line() {
        let item = match next {
            Ok((_, value)) => Ok(value),
            Err(err) if err.is_record_level() && !strict => {
                tracing::warn!("{err}");
                Err(format!(
                    "invalid record ({})",
                    err.record_kind().unwrap_or("other")
                ))
            }
            Err(err) => return Err(err),
        };
        f(index, item)?;
        index += 1;
    }
    Ok(())
}

/// Streams the items of `input` in format `from` into `emit`.
pub(crate) fn for_each(
    from: Format,
    input: &Path,
    options: &ConvertOptions,
    source: &str,
    report: &mut ConvertReport,
    emit: &mut Emit<'_>,
) -> Result<()> {
    let id = |index: u64| format!("{source}-{index:06}");
    let strict = options.strict;
    let mut deliver = |index: u64,
                       item: std::result::Result<(Option<String>, Item), String>,
                       report: &mut ConvertReport| {
        match item {
            Ok((own_id, item)) => emit(own_id.as_deref().unwrap_or(&id(index)), item, report),
            Err(reason) if strict => Err(Error::Convert(format!(
                "{}: record {index}: {reason}",
                input.display()
            ))),
            Err(reason) => {
                report.skip(reason);
                Ok(())
            }
        }
    };
    match from {
        Format::HhRedTeam => each::<RedTeamAttempt>(input, strict, |i, r| {
            let item = r.and_then(|a| {
                hh::first_human_turn(&a.transcript).map_err(|m| m.reason().to_string())
            });
            let item = item.map(|prompt| {
                (
                    None,
                    Item::Prompt(RedTeamPrompt {
                        id: id(i),
                        prompt,
                        category: None,
                        source: Some(source.into()),
                    }),
                )
            });
            deliver(i, item, report)
        }),
        Format::HhPairs => each::<HhPair>(input, strict, |i, r| {
            let item = r
                .and_then(|pair| hh::parse_pair(&pair).map_err(|m| m.reason().to_string()))
                .map(|p| {
                    let mut history = p.prompt;
                    let prompt = history.pop().map(|m| m.content).unwrap_or_default();
                    let record = PreferenceRecord {
                        id: id(i),
                        history,
                        prompt,
                        chosen: p.chosen,
                        rejected: p.rejected,
                        principles: Vec::new(),
                        judge: None,
                        source: source.into(),
                    };
                    (None, Item::Preference(record))
                });
            deliver(i, item, report)
        }),
        Format::Prompts => each::<RedTeamPrompt>(input, strict, |i, r| {
            deliver(i, r.map(|p| (Some(p.id.clone()), Item::Prompt(p))), report)
        }),
        Format::Preference => each::<PreferenceRecord>(input, strict, |i, r| {
            deliver(
                i,
                r.map(|p| (Some(p.id.clone()), Item::Preference(p))),
                report,
            )
        }),
        Format::Trl => each::<serde_json::Value>(input, strict, |i, r| {
            let item = r.and_then(|v| parse_trl(&v, &options.trl_keys, &id(i), source));
            deliver(
                i,
                item.map(|p| (Some(p.id.clone()), Item::Preference(p))),
                report,
            )
        }),
        Format::NemoChat => each::<ChatSample>(input, strict, |i, r| {
            deliver(i, r.map(|c| (None, Item::Chat(c))), report)
        }),
        Format::HfMessages => each::<HfMessages>(input, strict, |i, r| {
            let item = r.map(|m| {
                (
                    None,
                    Item::Chat(ChatSample::from_messages(&m.messages, source)),
                )
            });
            deliver(i, item, report)
        }),
        Format::NemoRm => {
            let comparisons = comparisons_file(input)?;
            let mut pending: Option<std::result::Result<TextLine, String>> = None;
            let mut pair_index = 0;
            each::<TextLine>(&comparisons, strict, |_, r| {
                let Some(chosen) = pending.take() else {
                    pending = Some(r);
                    return Ok(());
                };
                let item = chosen
                    .and_then(|c| r.map(|rej| (c, rej)))
                    .and_then(|(c, rej)| {
                        parse_comparison(
                            &options.template,
                            &c.text,
                            &rej.text,
                            &id(pair_index),
                            source,
                        )
                    });
                let result = deliver(
                    pair_index,
                    item.map(|p| (None, Item::Preference(p))),
                    report,
                );
                pair_index += 1;
                result
            })?;
            if pending.is_some() {
                deliver(
                    pair_index,
                    Err("unpaired last comparison line".into()),
                    report,
                )?;
            }
            Ok(())
        }
    }
}

/// The comparisons file of a NeMo RM directory (or the file itself).
pub(crate) fn comparisons_file(input: &Path) -> Result<PathBuf> {
    if !input.is_dir() {
        return Ok(input.to_path_buf());
    }
    let entries = std::fs::read_dir(input).map_err(|e| Error::io(input, e))?;
    let mut found: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().contains("comparisons"))
        })
        .collect();
    found.sort();
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(Error::Convert(format!(
            "{}: no *comparisons* file in the directory",
            input.display()
        ))),
        _ => Err(Error::Convert(format!(
            "{}: several *comparisons* files; name one",
            input.display()
        ))),
    }
}

/// Parses one chosen/rejected pair of rendered texts back into a preference record.
fn parse_comparison(
    template: &PromptTemplate,
    chosen: &str,
    rejected: &str,
    id: &str,
    source: &str,
) -> std::result::Result<PreferenceRecord, String> {
    let no_pattern = || "no response marker (response_extract_pattern) in the text".to_string();
    let (prompt_c, chosen) = template.split_response(chosen).ok_or_else(no_pattern)?;
    let (prompt_r, rejected) = template.split_response(rejected).ok_or_else(no_pattern)?;
    if prompt_c != prompt_r {
        return Err("chosen and rejected prompts differ".into());
    }
    if chosen.is_empty() || rejected.is_empty() {
        return Err("empty response".into());
    }
    let mut messages = template
        .parse_messages(prompt_c)
        .ok_or("prompt does not match the chat template")?;
    // The template's own default system turn (or an empty one) is not part of the record.
    let default = template.system_default_message.as_deref().unwrap_or("");
    if messages
        .first()
        .is_some_and(|m| m.role == Role::System && (m.content.is_empty() || m.content == default))
    {
        messages.remove(0);
    }
    let prompt = match messages.pop() {
        Some(m) if m.role == Role::User => m.content,
        _ => return Err("prompt does not end with a user turn".into()),
    };
    Ok(PreferenceRecord {
        id: id.to_string(),
        history: messages,
        prompt,
        chosen,
        rejected,
        principles: Vec::new(),
        judge: None,
        source: source.to_string(),
    })
}
