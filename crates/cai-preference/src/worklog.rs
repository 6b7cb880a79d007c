//! The work log: one JSON line per finished prompt, appended and synced before the next prompt
//! counts as done, keyed by prompt hash + settings. A run killed at any point loses at most the
//! prompts in flight; a torn last line (a kill mid-write) is cut off on re-open, so re-running
//! neither loses nor duplicates a prompt.

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use cai_data::RedTeamPrompt;
use serde::{Deserialize, Serialize};

use crate::error::{PreferenceError, Result};
use crate::label::BothOrders;
use cai_judge::Failure;

/// One labelled comparison of two candidates of a prompt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JudgedPair {
    /// Index of the first answer in [`PromptResult::candidates`].
    pub first: usize,
    /// Index of the second answer.
    pub second: usize,
    /// Ids of the judging principles (one, or an ensemble).
    pub principles: Vec<String>,
    /// The judge's probabilities in both orders under each principle.
    pub per_principle: Vec<BothOrders>,
    /// Their mean: what labels the pair (NeMo mode: 1 and 0, a hard label).
    pub orders: BothOrders,
    /// What the judge wrote (NeMo mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explanation: Option<String>,
}

/// Everything a prompt produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromptResult {
    /// Hash of the prompt and the result settings.
    pub key: String,
    /// The prompt.
    pub prompt: RedTeamPrompt,
    /// The kept candidates (non-empty, distinct), in sampling order.
    pub candidates: Vec<String>,
    /// Candidates skipped as empty.
    pub empty: usize,
    /// Candidates skipped as duplicates of an earlier one.
    pub duplicate: usize,
    /// The judged pairs.
    pub pairs: Vec<JudgedPair>,
    /// Pairs (NeMo mode: prompts) the judge gave no label for, by reason; they are dropped.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub failures: BTreeMap<Failure, usize>,
}

/// An append-only JSONL log of [`PromptResult`]s.
pub struct WorkLog {
    path: PathBuf,
    file: File,
}

impl WorkLog {
    /// Opens (or creates) the log at `path` and returns the results already in it, by key.
    /// A last line cut short by a kill is removed; a bad line before it is an error.
    pub fn open(path: &Path) -> Result<(Self, HashMap<String, PromptResult>)> {
        let io = |e| PreferenceError::io(path, e);
        let text = match std::fs::read(path) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(io(e)),
        };
        let mut done = HashMap::new();
        let mut valid_len = 0;
        let lines: Vec<&str> = text.split_inclusive('\n').collect();
        for (index, line) in lines.iter().enumerate() {
            let last = index + 1 == lines.len();
            match serde_json::from_str::<PromptResult>(line.trim_end()) {
                Ok(result) if line.ends_with('\n') => {
                    done.insert(result.key.clone(), result);
                    valid_len += line.len();
                }
                Err(e) if !last => {
                    return Err(PreferenceError::Input(format!(
                        "{}:{}: bad work-log line: {e}",
                        path.display(),
                        index + 1
                    )));
                }
                _ => tracing::warn!("{}: dropping a torn last line", path.display()),
            }
        }
        if valid_len < text.len() {
            let file = OpenOptions::new().write(true).open(path).map_err(io)?;
            file.set_len(valid_len as u64).map_err(io)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(io)?;
        Ok((
            Self {
                path: path.to_path_buf(),
                file,
            },
            done,
        ))
    }

    /// Appends `result` as one line and syncs it to disk.
    pub fn append(&mut self, result: &PromptResult) -> Result<()> {
        let mut line = serde_json::to_string(result)
            .map_err(|e| PreferenceError::io(&self.path, std::io::Error::other(e)))?;
        line.push('\n');
        let io = |e| PreferenceError::io(&self.path, e);
        self.file.write_all(line.as_bytes()).map_err(io)?;
        self.file.sync_data().map_err(io)
    }
}
