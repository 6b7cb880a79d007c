//! Constitutions: critique/revision principles, judging principles and few-shot demonstrations.
//!
//! Our own layout is TOML (`constitutions/default.toml`, documented in `docs/constitutions.md`); the same fields in
//! JSON also load. [`Constitution::load`] also accepts the original files users may drop in: Anthropic's
//! `CritiqueRevisionInstructions.json`, `CritiqueRevisionFewShotPrompts.json` and `RLMadisonInstructions.json`,
//! NeMo's few-shot `{"samples": …}` and Hugging Face's `{constitutions, system_chat}`.

mod foreign;

use std::collections::HashSet;
use std::path::Path;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::records::{Message, Role};

/// The built-in constitution, written for cai-rs.
const BUILTIN: &str = include_str!("../../../../constitutions/default.toml");

/// A critique/revision principle pair.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Principle {
    /// Stable id (`harmful3` for Anthropic's file).
    pub id: String,
    /// Asks the model to critique its last answer.
    pub critique_request: String,
    /// Asks the model to rewrite its answer.
    pub revision_request: String,
    /// Red-team categories (`violence`, `cybercrime`, …) this principle fits; a critique stage that
    /// matches principles to prompts draws among the ones listing the prompt's category.
    #[serde(default)]
    pub categories: Vec<String>,
}

/// A preference-judging principle ("Which of these responses is more …?").
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JudgePrinciple {
    /// Stable id.
    pub id: String,
    /// The question put to the judge.
    pub text: String,
}

/// One critique/revision demonstration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FewShotExample {
    /// Id of the principle it demonstrates, when known.
    pub principle_id: Option<String>,
    /// The dialogue being critiqued: alternating user/assistant, ending with the assistant answer.
    pub conversation: Vec<Message>,
    /// The critique request.
    pub critique_request: String,
    /// The critique.
    pub critique: String,
    /// The revision request.
    pub revision_request: String,
    /// The revised answer.
    pub revision: String,
}

impl FewShotExample {
    /// The demonstration as one conversation: dialogue, then request/critique and request/revision turns
    /// (six messages for a single-turn dialogue, NeMo's few-shot layout).
    pub fn to_messages(&self) -> Vec<Message> {
        let mut out = self.conversation.clone();
        out.extend([
            Message::user(self.critique_request.clone()),
            Message::assistant(self.critique.clone()),
            Message::user(self.revision_request.clone()),
            Message::assistant(self.revision.clone()),
        ]);
        out
    }

    /// Inverse of [`FewShotExample::to_messages`].
    pub fn from_messages(messages: &[Message]) -> std::result::Result<Self, String> {
        if messages.len() < 6 || !messages.len().is_multiple_of(2) {
            return Err(format!(
                "a demonstration needs an even number (≥ 6) of messages, got {}",
                messages.len()
            ));
        }
        for (i, m) in messages.iter().enumerate() {
            let expected = if i % 2 == 0 {
                Role::User
            } else {
                Role::Assistant
            };
            if m.role != expected {
                return Err(format!(
                    "message {i} should be {expected:?}, is {:?}",
                    m.role
                ));
            }
        }
        let n = messages.len();
        Ok(Self {
            principle_id: None,
            conversation: messages[..n - 4].to_vec(),
            critique_request: messages[n - 4].content.clone(),
            critique: messages[n - 3].content.clone(),
            revision_request: messages[n - 2].content.clone(),
            revision: messages[n - 1].content.clone(),
        })
    }
}

/// A full constitution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Constitution {
    /// Display name.
    pub name: String,
    /// Critique/revision principles (SL-CAI).
    pub critique_revision: Vec<Principle>,
    /// Judging principles (RL-CAI).
    pub judge_principles: Vec<JudgePrinciple>,
    /// Demonstrations prepended to SL-CAI prompts.
    pub few_shot: Vec<FewShotExample>,
}

/// Our file layout (TOML or JSON).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConstitutionFile {
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    critique_revision: Vec<Principle>,
    #[serde(default)]
    judge_principles: Vec<JudgePrinciple>,
    #[serde(default)]
    few_shot: Vec<FewShotFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FewShotFile {
    #[serde(default)]
    principle: Option<String>,
    conversation: Vec<Message>,
    #[serde(default)]
    critique_request: Option<String>,
    critique: String,
    #[serde(default)]
    revision_request: Option<String>,
    revision: String,
}

impl Constitution {
    /// The constitution shipped with cai-rs (`constitutions/default.toml`).
    pub fn builtin() -> Self {
        Self::from_toml_str(BUILTIN, Path::new("constitutions/default.toml"))
            .expect("the built-in constitution is valid (checked by tests)")
    }

    /// Loads any supported layout; the format is recognised from the content.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let json = path.extension().is_some_and(|e| e == "json")
            || text.trim_start().starts_with(['{', '[']);
        if !json {
            return Self::from_toml_str(&text, path);
        }
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| constitution_error(path, e.to_string()))?;
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let constitution = if value.get("critique_revision").is_some()
            || value.get("judge_principles").is_some()
        {
            let file: ConstitutionFile = serde_json::from_value(value)
                .map_err(|e| constitution_error(path, e.to_string()))?;
            Self::from_file(file).map_err(|e| constitution_error(path, e))?
        } else {
            foreign::parse(&value, name).map_err(|e| constitution_error(path, e))?
        };
        constitution
            .validate()
            .map_err(|e| constitution_error(path, e))?;
        Ok(constitution)
    }

    /// Loads several files and merges them in order (e.g. Anthropic's instructions plus a few-shot file).
    pub fn load_all<P: AsRef<Path>>(paths: &[P]) -> Result<Self> {
        let mut out: Option<Self> = None;
        for path in paths {
            let next = Self::load(path)?;
            out = Some(match out {
                None => next,
                Some(acc) => acc
                    .merge(next)
                    .map_err(|e| constitution_error(path.as_ref(), e))?,
            });
        }
        out.ok_or_else(|| Error::Constitution {
            path: "".into(),
            reason: "no constitution files given".into(),
        })
    }

    /// Parses our TOML layout.
    pub fn from_toml_str(text: &str, path: &Path) -> Result<Self> {
        let file: ConstitutionFile =
            toml::from_str(text).map_err(|e| constitution_error(path, e.to_string()))?;
        let constitution = Self::from_file(file).map_err(|e| constitution_error(path, e))?;
        constitution
            .validate()
            .map_err(|e| constitution_error(path, e))?;
        Ok(constitution)
    }

    fn from_file(file: ConstitutionFile) -> std::result::Result<Self, String> {
        let _ = file.description;
        let mut few_shot = Vec::with_capacity(file.few_shot.len());
        for (i, f) in file.few_shot.into_iter().enumerate() {
            let principle = match &f.principle {
                Some(id) => Some(
                    file.critique_revision
                        .iter()
                        .find(|p| &p.id == id)
                        .ok_or_else(|| format!("few_shot[{i}]: unknown principle `{id}`"))?,
                ),
                None => None,
            };
            let request = |own: Option<String>, from: fn(&Principle) -> &String, what: &str| {
                own.or_else(|| principle.map(|p| from(p).clone()))
                    .ok_or_else(|| format!("few_shot[{i}]: needs `{what}` or `principle`"))
            };
            few_shot.push(FewShotExample {
                critique_request: request(
                    f.critique_request,
                    |p| &p.critique_request,
                    "critique_request",
                )?,
                revision_request: request(
                    f.revision_request,
                    |p| &p.revision_request,
                    "revision_request",
                )?,
                principle_id: f.principle,
                conversation: f.conversation,
                critique: f.critique,
                revision: f.revision,
            });
        }
        Ok(Self {
            name: file.name,
            critique_revision: file.critique_revision,
            judge_principles: file.judge_principles,
            few_shot,
        })
    }

    /// Appends another constitution's parts; ids must stay unique.
    pub fn merge(mut self, other: Self) -> std::result::Result<Self, String> {
        self.name = format!("{} + {}", self.name, other.name);
        self.critique_revision.extend(other.critique_revision);
        self.judge_principles.extend(other.judge_principles);
        self.few_shot.extend(other.few_shot);
        self.validate()?;
        Ok(self)
    }

    /// Checks unique non-empty ids, non-empty texts and well-formed demonstrations.
    pub fn validate(&self) -> std::result::Result<(), String> {
        let mut ids = HashSet::new();
        for p in &self.critique_revision {
            if p.id.is_empty() || !ids.insert(p.id.as_str()) {
                return Err(format!(
                    "critique_revision: empty or duplicate id `{}`",
                    p.id
                ));
            }
            if p.critique_request.trim().is_empty() || p.revision_request.trim().is_empty() {
                return Err(format!("critique_revision `{}`: empty request", p.id));
            }
        }
        let mut ids = HashSet::new();
        for p in &self.judge_principles {
            if p.id.is_empty() || !ids.insert(p.id.as_str()) {
                return Err(format!(
                    "judge_principles: empty or duplicate id `{}`",
                    p.id
                ));
            }
            if p.text.trim().is_empty() {
                return Err(format!("judge_principles `{}`: empty text", p.id));
            }
        }
        for (i, f) in self.few_shot.iter().enumerate() {
            FewShotExample::from_messages(&f.to_messages())
                .map_err(|e| format!("few_shot[{i}]: {e}"))?;
        }
        Ok(())
    }

    /// A critique/revision principle by id.
    pub fn principle(&self, id: &str) -> Option<&Principle> {
        self.critique_revision.iter().find(|p| p.id == id)
    }

    /// All demonstrations flattened into one conversation prefix, as NeMo prepends them.
    pub fn few_shot_messages(&self) -> Vec<Message> {
        self.few_shot
            .iter()
            .flat_map(FewShotExample::to_messages)
            .collect()
    }
}

fn constitution_error(path: &Path, reason: impl Into<String>) -> Error {
    Error::Constitution {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}
