//! The append-only work log (`progress.jsonl`): one record per finished prompt, keyed by its resume
//! key, fsync'd as each batch finishes. A torn last line (a crash mid-append) is cut off on open;
//! records of other settings are ignored. The final files are rebuilt from this log.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use cai_data::{JsonlWriter, ReadOptions, SlCaiTrace, read_records};
use serde::{Deserialize, Serialize};

use crate::error::Result;

/// File name of the work log inside the output directory.
pub const FILE: &str = "progress.jsonl";

/// One finished prompt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Completed {
    /// Resume key (hash of prompt and settings).
    pub key: String,
    /// The raw trace; `final_revision` is the last round's revision as generated.
    pub trace: SlCaiTrace,
    /// True if the last revision stopped at `tokens_to_generate`.
    pub truncated: bool,
}

/// The open work log.
pub struct ProgressLog {
    path: PathBuf,
    writer: JsonlWriter,
}

impl ProgressLog {
    /// Opens (or creates) the log in `dir`.
    pub fn open(dir: &Path) -> Result<Self> {
        let path = dir.join(FILE);
        let writer = JsonlWriter::open(&path, Some("key"))?;
        let index = writer.index();
        if index.truncated_bytes > 0 {
            tracing::warn!(
                bytes = index.truncated_bytes,
                "{}: cut off a torn last line from an interrupted run",
                path.display()
            );
        }
        Ok(Self { path, writer })
    }

    /// True if the prompt with this key is finished.
    pub fn contains(&self, key: &str) -> bool {
        self.writer.contains(key)
    }

    /// Appends finished prompts (skipping keys already present) and fsyncs.
    pub fn append(&mut self, done: &[Completed]) -> Result<()> {
        for record in done {
            if !self.writer.contains(&record.key) {
                self.writer.append(record)?;
            }
        }
        Ok(())
    }

    /// Every record in the log by key (the first one wins).
    pub fn read_all(&self) -> Result<HashMap<String, Completed>> {
        let mut out = HashMap::new();
        for record in read_records::<Completed>(&self.path, ReadOptions::strict())? {
            let record = record?;
            out.entry(record.key.clone()).or_insert(record);
        }
        Ok(out)
    }
}
