//! TRL/H4 preference layout (`{prompt, chosen, rejected}` as strings or message lists), with OpenRLHF-style key names.

use serde::Serialize;
use serde::ser::SerializeMap;
use serde_json::Value;

use crate::records::{Message, PreferenceRecord, Role};

/// Names of the prompt/chosen/rejected keys (TRL uses `prompt`, `chosen`, `rejected`; OpenRLHF makes them flags).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrlKeys {
    /// Prompt key.
    pub prompt: String,
    /// Chosen key.
    pub chosen: String,
    /// Rejected key.
    pub rejected: String,
}

impl TrlKeys {
    /// TRL's names.
    pub fn trl() -> Self {
        Self {
            prompt: "prompt".into(),
            chosen: "chosen".into(),
            rejected: "rejected".into(),
        }
    }
}

/// A string, or a list of messages.
enum Side {
    Text(String),
    Messages(Vec<Message>),
}

fn side(value: Option<&Value>, key: &str) -> Result<Option<Side>, String> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(Side::Text(s.clone()))),
        Some(v @ Value::Array(_)) => serde_json::from_value(v.clone())
            .map(|m| Some(Side::Messages(m)))
            .map_err(|e| format!("`{key}` is not a list of {{role, content}} messages: {e}")),
        Some(_) => Err(format!("`{key}` is neither a string nor a message list")),
    }
}

/// The final assistant answer of a chosen/rejected side.
fn answer(side: Side, key: &str) -> Result<String, String> {
    match side {
        Side::Text(s) => Ok(s),
        Side::Messages(m) => match m.last() {
            Some(last) if last.role == Role::Assistant => Ok(last.content.clone()),
            _ => Err(format!("`{key}` does not end with an assistant message")),
        },
    }
}

/// Parses one TRL record (explicit or implicit prompt).
pub(crate) fn parse_trl(
    value: &Value,
    keys: &TrlKeys,
    fallback_id: &str,
    source: &str,
) -> Result<PreferenceRecord, String> {
    let prompt = side(value.get(&keys.prompt), &keys.prompt)?;
    let chosen = side(value.get(&keys.chosen), &keys.chosen)?
        .ok_or_else(|| format!("missing `{}`", keys.chosen))?;
    let rejected = side(value.get(&keys.rejected), &keys.rejected)?
        .ok_or_else(|| format!("missing `{}`", keys.rejected))?;
    let (mut prompt_messages, chosen, rejected) = match (prompt, chosen, rejected) {
        (Some(Side::Text(p)), c, r) => (
            vec![Message::user(p)],
            answer(c, &keys.chosen)?,
            answer(r, &keys.rejected)?,
        ),
        (Some(Side::Messages(p)), c, r) => {
            (p, answer(c, &keys.chosen)?, answer(r, &keys.rejected)?)
        }
        (None, Side::Messages(mut c), Side::Messages(mut r)) => {
            let (Some(c_last), Some(r_last)) = (c.pop(), r.pop()) else {
                return Err("empty message list".into());
            };
            if c != r {
                return Err(
                    "implicit prompt: chosen and rejected conversations differ before the answer"
                        .into(),
                );
            }
            if c_last.role != Role::Assistant || r_last.role != Role::Assistant {
                return Err(
                    "implicit prompt: conversation does not end with an assistant message".into(),
                );
            }
            (c, c_last.content, r_last.content)
        }
        (None, _, _) => {
            return Err(format!(
                "missing `{}` (implicit prompts need message lists)",
                keys.prompt
            ));
        }
    };
    let prompt = match prompt_messages.pop() {
        Some(m) if m.role == Role::User => m.content,
        _ => return Err("prompt does not end with a user message".into()),
    };
    let id = value
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or(fallback_id)
        .to_string();
    Ok(PreferenceRecord {
        id,
        history: prompt_messages,
        prompt,
        chosen,
        rejected,
        principles: Vec::new(),
        judge: None,
        source: source.to_string(),
    })
}

/// A TRL field value: a string or a message list.
#[derive(Serialize)]
#[serde(untagged)]
pub(crate) enum TrlValue {
    /// Plain text.
    Text(String),
    /// Conversational form.
    Messages(Vec<Message>),
}

/// A TRL record with its keys in order (prompt, chosen, rejected, id).
pub(crate) struct TrlRecord(Vec<(String, TrlValue)>);

impl Serialize for TrlRecord {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// Renders one record in TRL layout; string mode cannot hold a multi-turn prompt.
pub(crate) fn to_trl(
    record: &PreferenceRecord,
    keys: &TrlKeys,
    messages: bool,
) -> Result<TrlRecord, &'static str> {
    let (prompt, chosen, rejected) = if messages {
        (
            TrlValue::Messages(record.prompt_messages()),
            TrlValue::Messages(vec![Message::assistant(record.chosen.clone())]),
            TrlValue::Messages(vec![Message::assistant(record.rejected.clone())]),
        )
    } else {
        if !record.history.is_empty() {
            return Err("multi-turn prompt needs message lists (--messages)");
        }
        (
            TrlValue::Text(record.prompt.clone()),
            TrlValue::Text(record.chosen.clone()),
            TrlValue::Text(record.rejected.clone()),
        )
    };
    Ok(TrlRecord(vec![
        (keys.prompt.clone(), prompt),
        (keys.chosen.clone(), chosen),
        (keys.rejected.clone(), rejected),
        ("id".into(), TrlValue::Text(record.id.clone())),
    ]))
}
