//! Prompts in every layout the pipeline meets, read into [`PpoPrompt`]s: our prompt records
//! (`{id?, history?, prompt}`, which red-team prompts and preference records also are), hh-rlhf
//! transcripts (`{transcript}` or `{chosen, …}`: the first human turn, as NeMo takes it), chat
//! samples (`{messages}`: the first user turn, after any system message) and NeMo prompt files
//! (`{"text"}` rendered with the `<extra_id_*>` template and ending in the assistant header).
//!
//! Any bad record is an error naming `file:line`, raised before anything else happens.

use std::path::Path;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::records::{Message, PpoPrompt, Role};
use crate::template::PromptTemplate;
use crate::{ReadOptions, hh, read_records};

/// Reads every prompt of `path` (see the module documentation); ids default to
/// `{file stem}-{index}`. An empty file is an error.
pub fn read_prompts(path: &Path) -> Result<Vec<PpoPrompt>> {
    let stem = file_stem(path);
    read_each(path, |index, value| {
        let (history, prompt) = prompt_turns(&value)?;
        let id = match value.get("id") {
            Some(Value::String(id)) => id.clone(),
            Some(other) => other.to_string(),
            None => format!("{stem}-{index:06}"),
        };
        Ok(PpoPrompt {
            id,
            history,
            prompt,
            source: Some(stem.clone()),
        })
    })
}

/// The earlier turns and the final user request of one record in any supported layout.
fn prompt_turns(value: &Value) -> std::result::Result<(Vec<Message>, String), String> {
    let field = |key: &str| value.get(key).and_then(Value::as_str);
    let first_human = |t: &str| hh::first_human_turn(t).map_err(|m| m.reason().to_string());
    let (history, text) = if let Some(prompt) = field("prompt") {
        let history = match value.get("history") {
            Some(h) => serde_json::from_value(h.clone()).map_err(|e| format!("history: {e}"))?,
            None => Vec::new(),
        };
        (history, prompt.to_string())
    } else if let Some(transcript) = field("transcript").or(field("chosen")) {
        (Vec::new(), first_human(transcript)?)
    } else if let Some(messages) = value.get("messages") {
        let messages: Vec<Message> =
            serde_json::from_value(messages.clone()).map_err(|e| format!("messages: {e}"))?;
        first_user_turn(messages).ok_or("messages: no user turn")?
    } else if let Some(text) = field("text") {
        nemo_prompt(text)?
    } else {
        return Err("no `prompt`, `transcript`, `chosen`, `messages` or `text` field".into());
    };
    if text.trim().is_empty() {
        return Err("empty prompt".into());
    }
    Ok((history, text.trim().to_string()))
}

/// System messages before the first user turn, and that turn.
fn first_user_turn(messages: Vec<Message>) -> Option<(Vec<Message>, String)> {
    let at = messages.iter().position(|m| m.role == Role::User)?;
    let mut messages = messages;
    messages.truncate(at + 1);
    let prompt = messages.pop()?.content;
    let history = messages
        .into_iter()
        .filter(|m| m.role == Role::System)
        .collect();
    Some((history, prompt))
}

/// A NeMo prompt line: the conversation rendered with the `<extra_id_*>` template up to the
/// assistant header of the turn to generate.
fn nemo_prompt(text: &str) -> std::result::Result<(Vec<Message>, String), String> {
    let shape =
        "`text` is not a NeMo chat prompt (<extra_id_*> template ending in the assistant header)";
    let mut messages = PromptTemplate::extra_id()
        .parse_messages(text)
        .ok_or(shape)?;
    if messages
        .last()
        .is_some_and(|m| m.role == Role::Assistant && m.content.is_empty())
    {
        messages.pop();
    }
    let prompt = match messages.pop() {
        Some(m) if m.role == Role::User => m.content,
        _ => return Err(shape.into()),
    };
    // NeMo files always carry a system turn; an empty one means "none", so the policy's own
    // template applies its default.
    messages.retain(|m| !(m.role == Role::System && m.content.trim().is_empty()));
    Ok((messages, prompt))
}

/// Reads `path` as JSON values and converts each with `convert(index, value)`; the first bad one
/// is an error at its line, and a file without records is an error too.
pub fn read_each<T>(
    path: &Path,
    mut convert: impl FnMut(u64, Value) -> std::result::Result<T, String>,
) -> Result<Vec<T>> {
    let mut records = read_records::<Value>(path, ReadOptions::strict())?;
    let mut out = Vec::new();
    while let Some(next) = records.next_with_line() {
        let (line, value) = next?;
        let record = convert(out.len() as u64, value)
            .map_err(|reason| Error::record(path, line, "(root)", reason, "shape"))?;
        out.push(record);
    }
    if out.is_empty() {
        return Err(Error::record(path, 0, "(file)", "no records", "empty"));
    }
    Ok(out)
}

/// File name without directories and `.gz`/`.jsonl`/`.json`.
pub fn file_stem(path: &Path) -> String {
    let mut name = path
        .file_name()
        .map_or_else(|| "prompts".into(), |n| n.to_string_lossy().into_owned());
    for ext in [".gz", ".jsonl", ".json"] {
        if let Some(s) = name.strip_suffix(ext) {
            name = s.to_string();
        }
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_layout_gives_the_request_and_its_history() {
        let (h, p) = prompt_turns(&json!({"id": "a", "prompt": " How? "})).unwrap();
        assert!(h.is_empty());
        assert_eq!(p, "How?");
        let (_, p) =
            prompt_turns(&json!({"transcript": "\n\nHuman: Hi there\n\nAssistant: Hello"}))
                .unwrap();
        assert_eq!(p, "Hi there");
        let (h, p) = prompt_turns(&json!({"messages": [
            {"role": "system", "content": "Be kind."},
            {"role": "user", "content": "First"},
            {"role": "assistant", "content": "Sure"},
            {"role": "user", "content": "Second"}]}))
        .unwrap();
        assert_eq!((h.len(), p.as_str()), (1, "First"));
        let rendered = PromptTemplate::extra_id()
            .render_prompt(&[Message::system("Sys")], "What now?")
            .unwrap();
        let (h, p) = prompt_turns(&json!({ "text": rendered })).unwrap();
        assert_eq!(p, "What now?");
        assert_eq!(h, vec![Message::system("Sys")]);
    }

    #[test]
    fn bad_records_say_what_is_wrong() {
        for (value, needle) in [
            (json!({"prompt": "  "}), "empty"),
            (json!({"foo": 1}), "no `prompt`"),
            (json!({"text": "plain text"}), "NeMo chat prompt"),
            (
                json!({"messages": [{"role": "system", "content": "x"}]}),
                "no user",
            ),
        ] {
            let err = prompt_turns(&value).unwrap_err();
            assert!(err.contains(needle), "{value}: {err}");
        }
    }
}
