//! Reading training conversations: NeMo chat samples (`{system, conversations: [{from, value,
//! label}], mask, type}`, read through `cai-data`) or Hugging Face `{"messages": [{role, content}]}`
//! lines. Both become a [`Conversation`]: messages with lowercase roles plus the roles that get no
//! loss, and for NeMo samples their conversation `type`, turn labels and `file:line`.

use std::fmt;
use std::path::{Path, PathBuf};

use cai_data::{ChatSample, HfMessages, Message, ReadOptions, Role, read_records};
use serde_json::Value;

use crate::error::{Result, SftError};

pub use cai_data::nemo_chat::LabelType;

/// Where a conversation was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The file.
    pub path: PathBuf,
    /// 1-based line where the record starts.
    pub line: u64,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.path.display(), self.line)
    }
}

/// One conversation to train on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Conversation {
    /// Messages in order, roles `system`, `user` or `assistant`.
    pub messages: Vec<Message>,
    /// Roles whose turns get no loss (NeMo `mask`, lowercase); `system` never gets one.
    pub masked_roles: Vec<String>,
    /// NeMo's conversation `type`; `None` for `null`, a missing key and Hugging Face records.
    pub label_type: Option<LabelType>,
    /// NeMo's `label` of each message, aligned with `messages` (`None` for the system message and
    /// unlabelled turns); empty means no labels at all.
    pub labels: Vec<Option<String>>,
    /// Where the record was read (`None` for conversations built in code).
    pub origin: Option<Origin>,
}

fn parse_role(name: &str) -> std::result::Result<Role, String> {
    Role::parse(name).ok_or_else(|| format!("unknown role `{name}`"))
}

impl Conversation {
    /// A conversation from one JSON record in either layout.
    pub fn from_json(record: Value) -> std::result::Result<Self, String> {
        if record.get("conversations").is_some() {
            let sample: ChatSample = serde_json::from_value(record).map_err(|e| e.to_string())?;
            return Self::from_nemo(&sample);
        }
        if record.get("messages").and_then(Value::as_array).is_none() {
            return Err("expected `conversations` (NeMo chat) or `messages` (Hugging Face)".into());
        }
        Ok(Self {
            messages: HfMessages::from_json(&record)?.messages,
            masked_roles: vec!["user".into()],
            ..Self::default()
        })
    }

    /// A conversation from a NeMo chat sample; its comma-separated `mask` names the untrained
    /// roles, its `type` and turn `label`s are kept for the NeMo template.
    pub fn from_nemo(sample: &ChatSample) -> std::result::Result<Self, String> {
        let messages: Vec<Message> = sample.to_messages()?;
        let masked_roles = sample
            .mask
            .split(',')
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(|r| parse_role(r).map(|r| r.as_str().to_string()))
            .collect::<std::result::Result<Vec<_>, String>>()?;
        let label_type = sample.kind.as_deref().map(LabelType::parse).transpose()?;
        let mut labels = Vec::new();
        if sample.conversations.iter().any(|t| t.label.is_some()) {
            let system = messages.len() - sample.conversations.len();
            labels.resize(system, None);
            labels.extend(sample.conversations.iter().map(|t| t.label.clone()));
        }
        Ok(Self {
            messages,
            masked_roles,
            label_type,
            labels,
            origin: None,
        })
    }

    /// Whether turns of `role` get no loss (it is listed in [`Conversation::masked_roles`]).
    pub fn is_masked(&self, role: Role) -> bool {
        self.masked_roles.iter().any(|r| r == role.as_str())
    }

    /// The NeMo `label` of message `index`, if it has one.
    pub fn label(&self, index: usize) -> Option<&str> {
        self.labels.get(index).and_then(Option::as_deref)
    }

    /// The index in NeMo's `conversations` array of message `index` (the system message is not
    /// a turn there).
    pub fn turn_index(&self, index: usize) -> usize {
        index
            - usize::from(
                self.messages
                    .first()
                    .is_some_and(|m| m.role == Role::System),
            )
    }

    /// `file:line` of the record, or a stand-in for conversations built in code.
    pub fn location(&self) -> String {
        self.origin
            .as_ref()
            .map_or_else(|| "<conversation>".into(), Origin::to_string)
    }

    /// Whether message `index` is trained on: not a system message, its role not masked, and not
    /// the opening turn unless it is the assistant's (NeMo masks turn 0 of every conversation).
    /// This is the rule of conversations without a `type`; typed NeMo samples follow
    /// [`crate::nemo_chat`].
    pub fn is_trained(&self, index: usize) -> bool {
        let message = &self.messages[index];
        if message.role == Role::System || self.is_masked(message.role) {
            return false;
        }
        message.role == Role::Assistant || self.turn_index(index) > 0
    }
}

/// Every conversation of a JSONL / JSON-array file (plain or gzip).
pub fn read_conversations(path: &Path) -> Result<Vec<Conversation>> {
    let mut records = read_records::<Value>(path, ReadOptions::strict())?;
    let mut out = Vec::new();
    while let Some(record) = records.next_with_line() {
        let (line, record) = record?;
        let mut conv = Conversation::from_json(record).map_err(|reason| SftError::Record {
            path: path.to_path_buf(),
            line,
            reason,
        })?;
        conv.origin = Some(Origin {
            path: path.to_path_buf(),
            line,
        });
        out.push(conv);
    }
    Ok(out)
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
        assert_eq!((c.label_type, c.labels.len()), (None, 0));
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
    fn nemo_types_and_labels_are_kept_aligned_with_messages() {
        let c = Conversation::from_json(json!({
            "system": "S", "mask": "User", "dataset": "d", "type": "VALUE_TO_TEXT",
            "conversations": [{"from": "User", "value": "a", "label": null},
                              {"from": "Assistant", "value": "b", "label": "quality:4"}]}))
        .unwrap();
        assert_eq!(c.label_type, Some(LabelType::ValueToText));
        assert_eq!(c.labels, [None, None, Some("quality:4".to_string())]);
        assert_eq!(
            (c.label(2), c.label(1), c.label(7)),
            (Some("quality:4"), None, None)
        );
        assert_eq!(c.turn_index(2), 1);
        let c = Conversation::from_json(json!({
            "system": "", "mask": "User", "dataset": "d", "type": "TEXT_TO_VALUE",
            "conversations": [{"from": "User", "value": "a"}, {"from": "Assistant", "value": "b"}]}))
        .unwrap();
        assert_eq!(
            (c.label_type, c.labels.len()),
            (Some(LabelType::TextToValue), 0)
        );
        let err = Conversation::from_json(json!({
            "system": "", "mask": "User", "dataset": "d", "type": "VALUE_TO_VALUE",
            "conversations": [{"from": "User", "value": "a"}]}))
        .unwrap_err();
        assert!(
            err.contains("field `type`") && err.contains("VALUE_TO_VALUE"),
            "{err}"
        );
    }

    #[test]
    fn records_carry_their_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chat.jsonl");
        let ok = json!({"messages": [{"role": "user", "content": "q"}]}).to_string();
        std::fs::write(&path, format!("{ok}\n\n{ok}\n")).unwrap();
        let convs = read_conversations(&path).unwrap();
        assert_eq!(convs[1].location(), format!("{}:3", path.display()));
        std::fs::write(&path, format!("{ok}\n{}\n", json!({"text": "x"}))).unwrap();
        let err = read_conversations(&path).unwrap_err().to_string();
        assert!(err.starts_with(&format!("{}:2: ", path.display())), "{err}");
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
