//! Reading training conversations: NeMo chat samples (`{system, conversations: [{from, value}],
//! mask}`, read through `cai-data`) or Hugging Face `{"messages": [{role, content}]}` lines.
//! Both become a [`Conversation`]: messages with lowercase roles plus the roles that get no loss.

use std::path::Path;

use cai_data::{ChatSample, ReadOptions, Role, read_records};
use cai_model::Message;
use serde_json::Value;

use crate::error::{Result, SftError};

/// One conversation to train on.
#[derive(Debug, Clone, PartialEq)]
pub struct Conversation {
    /// Messages in order, roles `system`, `user` or `assistant`.
    pub messages: Vec<Message>,
    /// Roles whose turns get no loss (NeMo `mask`, lowercase); `system` never gets one.
    pub masked_roles: Vec<String>,
}

/// The lowercase role name templates expect.
fn role_name(role: Role) -> String {
    role.nemo_name().to_lowercase()
}

fn parse_role(name: &str) -> std::result::Result<String, String> {
    Role::parse(name)
        .map(role_name)
        .ok_or_else(|| format!("unknown role `{name}`"))
}

impl Conversation {
    /// A conversation from one JSON record in either layout.
    pub fn from_json(record: Value) -> std::result::Result<Self, String> {
        if record.get("conversations").is_some() {
            let sample: ChatSample = serde_json::from_value(record).map_err(|e| e.to_string())?;
            return Self::from_nemo(&sample);
        }
        let Some(messages) = record.get("messages").and_then(Value::as_array) else {
            return Err("expected `conversations` (NeMo chat) or `messages` (Hugging Face)".into());
        };
        let messages = messages
            .iter()
            .map(|m| {
                let role = m.get("role").and_then(Value::as_str).unwrap_or_default();
                let content = m
                    .get("content")
                    .and_then(Value::as_str)
                    .ok_or("message without string `content`")?;
                Ok(Message::new(&parse_role(role)?, content))
            })
            .collect::<std::result::Result<Vec<_>, String>>()?;
        Ok(Self {
            messages,
            masked_roles: vec!["user".into()],
        })
    }

    /// A conversation from a NeMo chat sample; its comma-separated `mask` names the untrained roles.
    pub fn from_nemo(sample: &ChatSample) -> std::result::Result<Self, String> {
        let messages = sample
            .to_messages()?
            .into_iter()
            .map(|m| Message::new(&role_name(m.role), m.content))
            .collect();
        let masked_roles = sample
            .mask
            .split(',')
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(parse_role)
            .collect::<std::result::Result<Vec<_>, String>>()?;
        Ok(Self {
            messages,
            masked_roles,
        })
    }

    /// Whether message `index` is trained on: not a system message, its role not masked, and not
    /// the opening turn unless it is the assistant's (NeMo masks turn 0 of every conversation).
    pub fn is_trained(&self, index: usize) -> bool {
        let message = &self.messages[index];
        if message.role == "system" || self.masked_roles.contains(&message.role) {
            return false;
        }
        let first_turn = usize::from(self.messages.first().is_some_and(|m| m.role == "system"));
        message.role == "assistant" || index > first_turn
    }
}

/// Every conversation of a JSONL / JSON-array file (plain or gzip).
pub fn read_conversations(path: &Path) -> Result<Vec<Conversation>> {
    let records = read_records::<Value>(path, ReadOptions::strict())?.collect_all()?;
    records
        .into_iter()
        .enumerate()
        .map(|(index, record)| {
            Conversation::from_json(record).map_err(|reason| SftError::Record {
                path: path.to_path_buf(),
                index,
                reason,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nemo_samples_keep_system_and_mask_roles() {
        let c = Conversation::from_json(json!({
            "system": "be nice", "mask": "User",  "dataset": "d",
            "conversations": [{"from": "User", "value": "P", "label": null},
                              {"from": "Assistant", "value": "R", "label": null}]}))
        .unwrap();
        assert_eq!(c.messages[0], Message::system("be nice"));
        assert_eq!(c.messages[2], Message::assistant("R"));
        assert_eq!(c.masked_roles, ["user"]);
        assert!(!c.is_trained(0) && !c.is_trained(1) && c.is_trained(2));
    }

    #[test]
    fn unmasked_user_turns_train_except_the_first() {
        let c = Conversation::from_json(json!({
            "system": "", "mask": "", "dataset": "d",
            "conversations": [{"from": "User", "value": "a"}, {"from": "Assistant", "value": "b"},
                              {"from": "User", "value": "c"}]}))
        .unwrap();
        assert_eq!(
            (0..3).map(|i| c.is_trained(i)).collect::<Vec<_>>(),
            [false, true, true]
        );
    }

    #[test]
    fn hf_messages_and_bad_records() {
        let c = Conversation::from_json(json!({"messages": [
            {"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}))
        .unwrap();
        assert_eq!(c.messages, [Message::user("q"), Message::assistant("a")]);
        assert!(Conversation::from_json(json!({"text": "x"})).is_err());
        assert!(
            Conversation::from_json(json!({"messages": [{"role": "robot", "content": "x"}]}))
                .is_err()
        );
    }
}
