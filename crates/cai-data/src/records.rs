//! Serde types for every artifact record; each has a JSON Schema in `data-schemas/`.
//!
//! Our own records (`RedTeamPrompt`, `SlCaiTrace`, `CandidateSet`, `PreferenceRecord`, `PpoPrompt`) reject
//! unknown fields so a typo fails loudly. The NeMo layouts (`ChatSample`, `TextLine`) accept extra keys, as NeMo does.

use serde::{Deserialize, Serialize};

/// Speaker of a [`Message`], serialised lowercase as in Hugging Face `messages`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// System instructions.
    System,
    /// The human.
    User,
    /// The model.
    Assistant,
}

impl Role {
    /// The capitalised name NeMo uses in chat samples and templates (`User`, `Assistant`, `System`).
    pub fn nemo_name(self) -> &'static str {
        match self {
            Role::System => "System",
            Role::User => "User",
            Role::Assistant => "Assistant",
        }
    }

    /// The lowercase name used in Hugging Face `messages` and chat templates (`system`, `user`, `assistant`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }

    /// Parses a role name case-insensitively, also accepting `human`, `gpt` and `model` aliases.
    pub fn parse(name: &str) -> Option<Role> {
        match name.to_ascii_lowercase().as_str() {
            "system" => Some(Role::System),
            "user" | "human" => Some(Role::User),
            "assistant" | "gpt" | "model" => Some(Role::Assistant),
            _ => None,
        }
    }
}

/// One chat message in Hugging Face layout: `{"role": "user", "content": "…"}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Message {
    /// Who speaks.
    pub role: Role,
    /// What is said.
    pub content: String,
}

impl Message {
    /// A message with the given role.
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Self {
            role,
            content: content.into(),
        }
    }

    /// A user message.
    pub fn user(content: impl Into<String>) -> Self {
        Self::new(Role::User, content)
    }

    /// An assistant message.
    pub fn assistant(content: impl Into<String>) -> Self {
        Self::new(Role::Assistant, content)
    }

    /// A system message.
    pub fn system(content: impl Into<String>) -> Self {
        Self::new(Role::System, content)
    }
}

/// A prompt to answer: red-team prompts, evaluation prompts and plain prompt lists (`data-schemas/red-team-prompt.json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedTeamPrompt {
    /// Stable identifier, unique within a file.
    pub id: String,
    /// The human's request.
    pub prompt: String,
    /// Harm category (or `benign-…` for evaluation prompts that must not be refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Where the prompt came from (`cai-rs`, `hh-rlhf/red-team-attempts`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// One turn of a NeMo chat sample.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatTurn {
    /// Speaker name (`User`, `Assistant`, or any role listed in the sample's `mask`).
    pub from: String,
    /// The text of the turn.
    pub value: String,
    /// Optional SteerLM-style label; NeMo writes `null`.
    #[serde(default)]
    pub label: Option<String>,
}

/// NeMo chat SFT sample (`GPTSFTChatDataset`; `data-schemas/chat-sample.json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatSample {
    /// System prompt (usually empty).
    pub system: String,
    /// Turns in order.
    pub conversations: Vec<ChatTurn>,
    /// Comma-separated roles that get no loss (normally `User`).
    pub mask: String,
    /// Free-form dataset name.
    pub dataset: String,
    /// Optional NeMo conversation type (`VALUE_TO_TEXT`, `TEXT_TO_VALUE`).
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

impl ChatSample {
    /// Builds a sample from messages; a leading system message becomes `system`, `mask` is `User`.
    pub fn from_messages(messages: &[Message], dataset: impl Into<String>) -> Self {
        let (system, rest) = match messages.split_first() {
            Some((first, rest)) if first.role == Role::System => (first.content.clone(), rest),
            _ => (String::new(), messages),
        };
        let conversations = rest
            .iter()
            .map(|m| ChatTurn {
                from: m.role.nemo_name().to_string(),
                value: m.content.clone(),
                label: None,
            })
            .collect();
        Self {
            system,
            conversations,
            mask: "User".into(),
            dataset: dataset.into(),
            kind: None,
        }
    }

    /// The conversation as messages (a non-empty `system` first); fails on a turn whose role is unknown.
    pub fn to_messages(&self) -> Result<Vec<Message>, String> {
        let mut out = Vec::with_capacity(self.conversations.len() + 1);
        if !self.system.is_empty() {
            out.push(Message::system(self.system.clone()));
        }
        for turn in &self.conversations {
            let role =
                Role::parse(&turn.from).ok_or_else(|| format!("unknown role `{}`", turn.from))?;
            out.push(Message::new(role, turn.value.clone()));
        }
        Ok(out)
    }
}

/// A Hugging Face chat record, `{"messages": [{"role": …, "content": …}]}`: the `hf-messages` layout
/// that converters and the critique stage write and the SFT stage reads. Serde reads it strictly
/// (lowercase roles, no other keys in a message); [`HfMessages::from_json`] reads it as training
/// sets found elsewhere write it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HfMessages {
    /// The conversation.
    pub messages: Vec<Message>,
}

impl HfMessages {
    /// The conversation of a NeMo chat sample ([`ChatSample::to_messages`]); fails on a turn whose
    /// role is unknown.
    pub fn from_chat_sample(sample: &ChatSample) -> Result<Self, String> {
        sample.to_messages().map(|messages| Self { messages })
    }

    /// Reads a record leniently: roles by [`Role::parse`] (any case, `human`/`gpt`/`model`
    /// aliases), other keys of the record and of its messages ignored; every `content` must be a
    /// string.
    pub fn from_json(record: &serde_json::Value) -> Result<Self, String> {
        let messages = record
            .get("messages")
            .and_then(serde_json::Value::as_array)
            .ok_or("expected `messages`, a list of {role, content}")?;
        let messages = messages
            .iter()
            .map(|m| {
                let role = m
                    .get("role")
                    .and_then(serde_json::Value::as_str)
                    .unwrap_or_default();
                let content = m
                    .get("content")
                    .and_then(serde_json::Value::as_str)
                    .ok_or("message without string `content`")?;
                let role = Role::parse(role).ok_or_else(|| format!("unknown role `{role}`"))?;
                Ok(Message::new(role, content))
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Self { messages })
    }
}

impl From<Vec<Message>> for HfMessages {
    fn from(messages: Vec<Message>) -> Self {
        Self { messages }
    }
}

/// One critique → revision round of an SL-CAI trace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CritiqueRound {
    /// Id of the constitution principle used in this round.
    pub principle_id: String,
    /// The critique request sent to the model.
    pub critique_request: String,
    /// The model's critique.
    pub critique: String,
    /// The revision request sent to the model.
    pub revision_request: String,
    /// The model's revised response (with several candidates, the one the model judged best).
    pub revision: String,
    /// The other revision candidates of a best-of-n round, ranked below `revision` by the model
    /// judging them against the principle; empty with one candidate.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rejected_revisions: Vec<String>,
}

/// Full record of SL-CAI generation for one prompt (`data-schemas/sl-cai-trace.json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlCaiTrace {
    /// Id of the prompt.
    pub id: String,
    /// The red-team prompt.
    pub prompt: String,
    /// The model's first answer.
    pub initial_response: String,
    /// Critique/revision rounds in order (NeMo runs exactly one).
    pub rounds: Vec<CritiqueRound>,
    /// The revision that becomes the SFT target.
    pub final_revision: String,
}

impl SlCaiTrace {
    /// The SFT sample NeMo trains on: the prompt and the final revision only (`generate_chat_prompt`).
    pub fn to_chat_sample(&self) -> ChatSample {
        ChatSample::from_messages(
            &[
                Message::user(self.prompt.clone()),
                Message::assistant(self.final_revision.clone()),
            ],
            "sl_cai_samples",
        )
    }
}

/// One sampled answer in a [`CandidateSet`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Candidate {
    /// Sampling temperature used.
    pub temperature: f64,
    /// The answer text.
    pub response: String,
}

/// Several answers to one prompt, to be ranked by the judge (`data-schemas/candidate-set.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CandidateSet {
    /// Id of the prompt.
    pub id: String,
    /// The prompt.
    pub prompt: String,
    /// Candidates in the order they were generated.
    pub candidates: Vec<Candidate>,
}

/// Judge output attached to a preference.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Judgement {
    /// Judge model name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Score (e.g. probability) of the chosen response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chosen_score: Option<f64>,
    /// Score of the rejected response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejected_score: Option<f64>,
    /// The judge's explanation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explanation: Option<String>,
}

/// A chosen/rejected pair for one prompt (`data-schemas/preference.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreferenceRecord {
    /// Stable identifier.
    pub id: String,
    /// Earlier turns before `prompt` (an optional system message, then alternating user/assistant).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<Message>,
    /// The final user turn.
    pub prompt: String,
    /// The preferred answer.
    pub chosen: String,
    /// The dispreferred answer.
    pub rejected: String,
    /// Ids of the judging principles applied, if any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub principles: Vec<String>,
    /// Judge scores and explanation, for AI-labelled pairs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judge: Option<Judgement>,
    /// Where the pair came from (`cai-rs`, `hh-rlhf/helpful-base`, `rl-cai`, …).
    pub source: String,
}

impl PreferenceRecord {
    /// History plus the final user prompt, as messages.
    pub fn prompt_messages(&self) -> Vec<Message> {
        let mut out = self.history.clone();
        out.push(Message::user(self.prompt.clone()));
        out
    }
}

/// A prompt for PPO rollouts, before any chat template is applied (`data-schemas/ppo-prompt.json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PpoPrompt {
    /// Stable identifier.
    pub id: String,
    /// Earlier turns, if the prompt is multi-turn.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<Message>,
    /// The final user turn.
    pub prompt: String,
    /// Where the prompt came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// A `{"text": …}` line: NeMo RM comparisons (chosen then rejected) and NeMo PPO prompts
/// (`data-schemas/nemo-rm-comparison.json`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextLine {
    /// Fully rendered text.
    pub text: String,
}
