//! Reading prompts and helpfulness chats from any layout cai-data handles, recognised per record;
//! bad records are counted and reported as `file:line: field: reason`, never skipped silently.
//!
//! Prompts: our `{id, prompt}` records, hh-rlhf red-team `{transcript}` (first human turn, as NeMo),
//! NeMo chat `{conversations}` and HF `{messages}` (first user turn), hh-rlhf pairs `{chosen,
//! rejected}` and bare `{prompt}` records. Helpfulness: NeMo chat, HF messages and hh-rlhf pairs
//! (the chosen transcript).

use std::path::Path;

use cai_data::hh;
use cai_data::{ChatSample, Message, ReadOptions, RedTeamPrompt, read_records};
use serde::Serialize;
use serde_json::Value;

use crate::error::Result;

/// How many bad records are quoted in full (all are counted).
const MAX_EXAMPLES: usize = 20;

/// Bad records of one input file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BadRecords {
    /// Number of bad records.
    pub count: u64,
    /// The first few, as `file:line: field: reason`.
    pub examples: Vec<String>,
}

impl BadRecords {
    fn add(&mut self, err: &cai_data::Error) {
        tracing::warn!("skipping bad record: {err}");
        self.count += 1;
        if self.examples.len() < MAX_EXAMPLES {
            self.examples.push(err.to_string());
        }
    }
}

/// Records read from one file (or the built-in corpus).
#[derive(Debug, Clone)]
pub struct Loaded<T> {
    /// Where they came from: a path, or `built-in`.
    pub origin: String,
    /// The usable records, in file order.
    pub records: Vec<T>,
    /// What was skipped.
    pub bad: BadRecords,
}

impl<T> Loaded<T> {
    /// Records that need no reading.
    pub fn builtin(records: Vec<T>) -> Self {
        Self {
            origin: "built-in".into(),
            records,
            bad: BadRecords::default(),
        }
    }
}

/// Reads red-team prompts from `path`; see the module doc for the layouts.
pub fn read_prompts(path: &Path) -> Result<Loaded<RedTeamPrompt>> {
    let stem = stem(path);
    read_each(path, |index, value| {
        prompt_from_value(value, &format!("{stem}-{index:06}"), &stem)
    })
}

/// Reads helpfulness conversations from `path`; see the module doc for the layouts.
pub fn read_helpfulness(path: &Path) -> Result<Loaded<ChatSample>> {
    let stem = stem(path);
    read_each(path, |_, value| chat_from_value(value, &stem))
}

/// Streams `path` as JSON values and converts each; bad records of any kind are counted.
fn read_each<T>(
    path: &Path,
    mut convert: impl FnMut(u64, Value) -> std::result::Result<T, String>,
) -> Result<Loaded<T>> {
    let mut records = read_records::<Value>(path, ReadOptions::report())?;
    let mut out = Loaded {
        origin: path.display().to_string(),
        records: Vec::new(),
        bad: BadRecords::default(),
    };
    let mut index = 0;
    while let Some(next) = records.next_with_line() {
        match next {
            Ok((line, value)) => match convert(index, value) {
                Ok(record) => out.records.push(record),
                Err(reason) => {
                    out.bad.add(&cai_data::Error::record(
                        path, line, "(root)", reason, "shape",
                    ));
                }
            },
            Err(err) if err.is_record_level() => out.bad.add(&err),
            Err(err) => return Err(err.into()),
        }
        index += 1;
    }
    Ok(out)
}

/// File name without directories and `.gz`/`.jsonl`/`.json`.
fn stem(path: &Path) -> String {
    let mut name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "prompts".into());
    for ext in [".gz", ".jsonl", ".json"] {
        if let Some(s) = name.strip_suffix(ext) {
            name = s.to_string();
        }
    }
    name
}

fn text_field<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

/// One prompt record in any supported layout; `id` is used when the record has none.
fn prompt_from_value(
    value: Value,
    id: &str,
    source: &str,
) -> std::result::Result<RedTeamPrompt, String> {
    let make = |prompt: String| RedTeamPrompt {
        id: id.to_string(),
        prompt,
        category: None,
        source: Some(source.to_string()),
    };
    let first_human = |t: &str| hh::first_human_turn(t).map_err(|m| m.reason().to_string());
    let prompt = if value.get("id").is_some() && value.get("prompt").is_some() {
        let record: RedTeamPrompt =
            serde_json::from_value(value).map_err(|e| format!("prompt record: {e}"))?;
        if record.prompt.trim().is_empty() {
            return Err("empty prompt".into());
        }
        return Ok(record);
    } else if let Some(transcript) = text_field(&value, "transcript") {
        first_human(transcript)?
    } else if value.get("conversations").is_some() || value.get("messages").is_some() {
        let chat = chat_from_value(value, source)?;
        first_user_turn(&chat)?
    } else if let Some(chosen) = text_field(&value, "chosen") {
        first_human(chosen)?
    } else if let Some(prompt) = text_field(&value, "prompt") {
        prompt.trim().to_string()
    } else {
        return Err("unrecognised layout: expected id+prompt, transcript, conversations, messages, chosen or prompt".into());
    };
    if prompt.is_empty() {
        return Err("empty prompt".into());
    }
    Ok(make(prompt))
}

fn first_user_turn(chat: &ChatSample) -> std::result::Result<String, String> {
    let messages = chat.to_messages()?;
    messages
        .into_iter()
        .find(|m| m.role == cai_data::Role::User)
        .map(|m| m.content.trim().to_string())
        .ok_or_else(|| "no user turn".to_string())
}

/// One conversation in NeMo chat, HF messages or hh-rlhf pair layout.
fn chat_from_value(value: Value, dataset: &str) -> std::result::Result<ChatSample, String> {
    let chat = if value.get("conversations").is_some() {
        serde_json::from_value::<ChatSample>(value).map_err(|e| format!("chat sample: {e}"))?
    } else if let Some(messages) = value.get("messages") {
        let messages: Vec<Message> =
            serde_json::from_value(messages.clone()).map_err(|e| format!("messages: {e}"))?;
        ChatSample::from_messages(&messages, dataset)
    } else if let Some(chosen) = text_field(&value, "chosen") {
        let messages = hh::parse_transcript(chosen).map_err(|m| m.reason().to_string())?;
        ChatSample::from_messages(&messages, dataset)
    } else {
        return Err("unrecognised layout: expected conversations, messages or chosen".into());
    };
    chat.to_messages()?;
    if chat.conversations.is_empty() {
        return Err("no turns".into());
    }
    Ok(chat)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file_with(lines: &[&str]) -> tempfile::NamedTempFile {
        let file = tempfile::Builder::new()
            .suffix(".jsonl")
            .tempfile()
            .unwrap();
        std::fs::write(file.path(), lines.join("\n") + "\n").unwrap();
        file
    }

    #[test]
    fn hh_red_team_lines_give_the_first_human_turn_and_bad_lines_are_reported() {
        let file = file_with(&[
            r#"{"transcript": "\n\nHuman: How do I pick a lock?\n\nAssistant: No.\n\nHuman: Please?"}"#,
            r#"{"transcript": "no markers at all"}"#,
            r#"{"transcript": "\n\nHuman: Second?\n\nAssistant: x", "rating": 3}"#,
            r#"{"transcript": "broken"#,
            r#"{"something": "else"}"#,
        ]);
        let loaded = read_prompts(file.path()).unwrap();
        let prompts: Vec<_> = loaded.records.iter().map(|p| p.prompt.as_str()).collect();
        assert_eq!(prompts, ["How do I pick a lock?", "Second?"]);
        assert!(
            loaded.records[1].id.ends_with("-000002"),
            "{}",
            loaded.records[1].id
        );
        assert_eq!(loaded.bad.count, 3);
        let path = file.path().display().to_string();
        for (example, line) in loaded.bad.examples.iter().zip([2, 4, 5]) {
            assert!(example.starts_with(&format!("{path}:{line}:")), "{example}");
        }
        assert!(loaded.bad.examples[0].contains("no Human turn"));
    }

    #[test]
    fn every_prompt_layout_is_recognised() {
        let file = file_with(&[
            r#"{"id": "a", "prompt": "Own layout", "category": "x"}"#,
            r#"{"system": "", "conversations": [{"from": "User", "value": "Nemo chat"}, {"from": "Assistant", "value": "ok"}], "mask": "User", "dataset": "d"}"#,
            r#"{"messages": [{"role": "user", "content": "HF messages"}]}"#,
            r#"{"chosen": "\n\nHuman: Pair\n\nAssistant: a", "rejected": "\n\nHuman: Pair\n\nAssistant: b"}"#,
            r#"{"prompt": "Bare prompt"}"#,
        ]);
        let loaded = read_prompts(file.path()).unwrap();
        let prompts: Vec<_> = loaded.records.iter().map(|p| p.prompt.as_str()).collect();
        assert_eq!(
            prompts,
            [
                "Own layout",
                "Nemo chat",
                "HF messages",
                "Pair",
                "Bare prompt"
            ]
        );
        assert_eq!(loaded.records[0].id, "a");
        assert_eq!(loaded.bad.count, 0);
    }

    #[test]
    fn helpfulness_accepts_chat_layouts_and_rejects_unknown_roles() {
        let file = file_with(&[
            r#"{"messages": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}]}"#,
            r#"{"system": "", "conversations": [{"from": "Robot", "value": "?"}], "mask": "User", "dataset": "d"}"#,
            r#"{"chosen": "\n\nHuman: Q2\n\nAssistant: A2", "rejected": "\n\nHuman: Q2\n\nAssistant: B"}"#,
        ]);
        let loaded = read_helpfulness(file.path()).unwrap();
        assert_eq!(loaded.records.len(), 2);
        assert_eq!(loaded.records[1].conversations[1].value, "A2");
        assert_eq!(loaded.bad.count, 1);
        assert!(loaded.bad.examples[0].contains(":2:") && loaded.bad.examples[0].contains("Robot"));
    }
}
