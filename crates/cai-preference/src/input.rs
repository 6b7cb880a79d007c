//! Reading the inputs: red-team prompts, human helpfulness pairs and calibration pairs. Any bad
//! record is an error naming `file:line`, raised before a model is loaded.

use std::path::Path;

use cai_data::hh::{self, HhPair};
use cai_data::{Message, PreferenceRecord, ReadOptions, RedTeamPrompt, Role, read_records};
use serde::Deserialize;
use serde_json::Value;

use crate::error::Result;

/// One labelled calibration pair: `good` is the better answer to `prompt`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalibrationPair {
    /// The user's request.
    pub prompt: String,
    /// The better answer.
    pub good: String,
    /// The worse answer.
    pub bad: String,
}

/// Reads red-team prompts: `{id?, prompt}` records, hh-rlhf `{transcript}` or `{chosen, rejected}`
/// (the first human turn, as NeMo), or `{messages}` (the first user turn). Ids default to
/// `{file stem}-{index}`.
pub fn read_prompts(path: &Path) -> Result<Vec<RedTeamPrompt>> {
    let stem = stem(path);
    read_each(path, |index, value| {
        let text = prompt_text(&value)?;
        let id = match value.get("id") {
            Some(Value::String(id)) => id.clone(),
            Some(other) => other.to_string(),
            None => format!("{stem}-{index:06}"),
        };
        Ok(RedTeamPrompt {
            id,
            prompt: text,
            category: None,
            source: Some(stem.clone()),
        })
    })
}

/// Reads human helpfulness pairs: preference records, or hh-rlhf `{chosen, rejected}` transcripts.
pub fn read_helpful_pairs(path: &Path) -> Result<Vec<PreferenceRecord>> {
    let stem = stem(path);
    read_each(path, |index, value| {
        if value.get("prompt").is_some() {
            return serde_json::from_value(value).map_err(|e| format!("preference record: {e}"));
        }
        let pair: HhPair =
            serde_json::from_value(value).map_err(|e| format!("hh-rlhf pair: {e}"))?;
        let parsed = hh::parse_pair(&pair).map_err(|m| m.reason().to_string())?;
        let mut history = parsed.prompt;
        let prompt = history.pop().map(|m| m.content).unwrap_or_default();
        Ok(PreferenceRecord {
            id: format!("{stem}-{index:06}"),
            history,
            prompt,
            chosen: parsed.chosen,
            rejected: parsed.rejected,
            principles: Vec::new(),
            judge: None,
            source: stem.clone(),
        })
    })
}

/// Reads `{"prompt", "good", "bad"}` calibration pairs.
pub fn read_calibration_pairs(path: &Path) -> Result<Vec<CalibrationPair>> {
    read_each(path, |_, value| {
        let pair: CalibrationPair =
            serde_json::from_value(value).map_err(|e| format!("calibration pair: {e}"))?;
        if [&pair.prompt, &pair.good, &pair.bad]
            .iter()
            .any(|t| t.trim().is_empty())
        {
            return Err("empty prompt, good or bad".into());
        }
        Ok(pair)
    })
}

/// The request of a prompt record in any supported layout.
fn prompt_text(value: &Value) -> std::result::Result<String, String> {
    let field = |key: &str| value.get(key).and_then(Value::as_str);
    let first_human = |t: &str| hh::first_human_turn(t).map_err(|m| m.reason().to_string());
    let text = if let Some(prompt) = field("prompt") {
        prompt.to_string()
    } else if let Some(transcript) = field("transcript").or(field("chosen")) {
        first_human(transcript)?
    } else if let Some(messages) = value.get("messages") {
        let messages: Vec<Message> =
            serde_json::from_value(messages.clone()).map_err(|e| format!("messages: {e}"))?;
        messages
            .into_iter()
            .find(|m| m.role == Role::User)
            .map(|m| m.content)
            .ok_or("messages: no user turn")?
    } else {
        return Err("no `prompt`, `transcript`, `chosen` or `messages` field".into());
    };
    if text.trim().is_empty() {
        return Err("empty prompt".into());
    }
    Ok(text.trim().to_string())
}

/// Reads `path` as JSON values and converts each; the first bad one is an error at its line.
fn read_each<T>(
    path: &Path,
    mut convert: impl FnMut(u64, Value) -> std::result::Result<T, String>,
) -> Result<Vec<T>> {
    let mut records = read_records::<Value>(path, ReadOptions::strict())?;
    let mut out = Vec::new();
    while let Some(next) = records.next_with_line() {
        let (line, value) = next?;
        let record = convert(out.len() as u64, value)
            .map_err(|reason| cai_data::Error::record(path, line, "(root)", reason, "shape"))?;
        out.push(record);
    }
    if out.is_empty() {
        return Err(crate::PreferenceError::Input(format!(
            "{}: no records",
            path.display()
        )));
    }
    Ok(out)
}

/// File name without directories and `.gz`/`.jsonl`/`.json`.
fn stem(path: &Path) -> String {
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
