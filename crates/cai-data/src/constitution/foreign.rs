//! Original constitution layouts: Anthropic's, NeMo's and Hugging Face's files.

use serde_json::Value;

use super::{Constitution, FewShotExample, JudgePrinciple, Principle};
use crate::hh;
use crate::records::{Message, Role};

/// Recognises and parses a foreign JSON layout.
pub(super) fn parse(value: &Value, name: String) -> Result<Constitution, String> {
    let mut out = Constitution {
        name,
        critique_revision: vec![],
        judge_principles: vec![],
        few_shot: vec![],
    };
    match value {
        Value::Object(map) if map.contains_key("samples") => {
            out.few_shot = nemo_samples(&map["samples"], "samples")?;
        }
        Value::Object(map) if map.contains_key("constitutions") => {
            out.critique_revision = hf_constitutions(&map["constitutions"])?;
            if let Some(chat) = map.get("system_chat") {
                out.few_shot = nemo_samples(chat, "system_chat")?;
            }
        }
        Value::Object(map) if !map.is_empty() && map.keys().all(|k| k.starts_with("harmful")) => {
            out.critique_revision = anthropic_instructions(map)?;
        }
        Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_string) => {
            let texts: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
            if texts.iter().all(|t| t.contains("CritiqueRequest:")) {
                out.few_shot = texts
                    .iter()
                    .enumerate()
                    .map(|(i, t)| anthropic_few_shot(t, i))
                    .collect::<Result<_, _>>()?;
            } else {
                out.judge_principles = texts
                    .iter()
                    .enumerate()
                    .map(|(i, t)| JudgePrinciple {
                        id: format!("rl{i}"),
                        text: t.trim().trim_end_matches("Options:").trim().to_string(),
                    })
                    .collect();
            }
        }
        _ => {
            return Err(
                "not a known constitution layout (ours, Anthropic, NeMo few-shot or Hugging Face)"
                    .into(),
            );
        }
    }
    Ok(out)
}

/// Anthropic's `{"harmfulN": {"prompt": [critique], "edit_request": revision}}`, ordered by N.
fn anthropic_instructions(map: &serde_json::Map<String, Value>) -> Result<Vec<Principle>, String> {
    let mut entries = Vec::new();
    for (key, entry) in map {
        let n: u32 = key["harmful".len()..]
            .parse()
            .map_err(|_| format!("unexpected key `{key}`"))?;
        let prompt = entry
            .get("prompt")
            .and_then(Value::as_array)
            .filter(|p| p.len() == 1);
        let critique = prompt
            .and_then(|p| p[0].as_str())
            .ok_or(format!("{key}.prompt: expected a list of one string"))?;
        let revision = entry
            .get("edit_request")
            .and_then(Value::as_str)
            .ok_or(format!("{key}.edit_request: expected a string"))?;
        let critique = critique.strip_suffix("\n\nCritique:").unwrap_or(critique);
        let critique = critique
            .strip_prefix("\n\nCritiqueRequest: ")
            .unwrap_or(critique);
        let revision = revision.strip_suffix("\n\nRevision:").unwrap_or(revision);
        let revision = revision
            .strip_prefix("\n\nRevisionRequest: ")
            .unwrap_or(revision);
        entries.push((
            n,
            Principle {
                id: key.clone(),
                critique_request: critique.into(),
                revision_request: revision.into(),
                categories: Vec::new(),
            },
        ));
    }
    entries.sort_by_key(|(n, _)| *n);
    Ok(entries.into_iter().map(|(_, p)| p).collect())
}

/// Hugging Face's `[{critic, revision}]`.
fn hf_constitutions(value: &Value) -> Result<Vec<Principle>, String> {
    let items = value.as_array().ok_or("constitutions: expected a list")?;
    items
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let field = |k: &str| {
                c.get(k)
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .ok_or(format!("constitutions[{i}].{k}: expected a string"))
            };
            Ok(Principle {
                id: format!("hf{i}"),
                critique_request: field("critic")?,
                revision_request: field("revision")?,
                categories: Vec::new(),
            })
        })
        .collect()
}

/// NeMo's `samples` / Hugging Face's `system_chat`: lists of `{role, content}` conversations.
fn nemo_samples(value: &Value, key: &str) -> Result<Vec<FewShotExample>, String> {
    let samples = value
        .as_array()
        .ok_or(format!("{key}: expected a list of conversations"))?;
    samples
        .iter()
        .enumerate()
        .map(|(i, sample)| {
            let turns = sample
                .as_array()
                .ok_or(format!("{key}[{i}]: expected a list of messages"))?;
            let messages = turns
                .iter()
                .enumerate()
                .map(|(j, m)| {
                    let role = m.get("role").and_then(Value::as_str).and_then(Role::parse);
                    let content = m.get("content").and_then(Value::as_str);
                    match (role, content) {
                        (Some(role), Some(content)) => Ok(Message::new(role, content)),
                        _ => Err(format!("{key}[{i}][{j}]: expected {{role, content}}")),
                    }
                })
                .collect::<Result<Vec<_>, _>>()?;
            FewShotExample::from_messages(&messages).map_err(|e| format!("{key}[{i}]: {e}"))
        })
        .collect()
}

/// One of Anthropic's few-shot transcripts:
/// `"\n\nHuman: …\n\nAssistant: …\n\nCritiqueRequest: …\n\nCritique: …\n\nRevisionRequest: …\n\nRevision: …"`.
fn anthropic_few_shot(text: &str, i: usize) -> Result<FewShotExample, String> {
    let err = |what: &str| format!("[{i}]: missing {what}");
    let (dialogue, rest) = text
        .split_once("\n\nCritiqueRequest:")
        .ok_or_else(|| err("CritiqueRequest"))?;
    let (critique_request, rest) = rest
        .split_once("\n\nCritique:")
        .ok_or_else(|| err("Critique"))?;
    let (critique, rest) = rest
        .split_once("\n\nRevisionRequest:")
        .ok_or_else(|| err("RevisionRequest"))?;
    let (revision_request, revision) = rest
        .split_once("\n\nRevision:")
        .ok_or_else(|| err("Revision"))?;
    let revision = revision.trim_end();
    let revision = revision.strip_suffix("Human:").unwrap_or(revision);
    let conversation =
        hh::parse_transcript(dialogue).map_err(|m| format!("[{i}]: {}", m.reason()))?;
    Ok(FewShotExample {
        principle_id: None,
        conversation,
        critique_request: critique_request.trim().into(),
        critique: critique.trim().into(),
        revision_request: revision_request.trim().into(),
        revision: revision.trim().into(),
    })
}
