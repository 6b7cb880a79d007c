//! The typed stage summaries (`summary.json` of each stage directory) that the pipeline reads back.
//!
//! [`SftSummary`] is what `cai-sft` writes. `cai-critique` writes a larger summary (configuration,
//! generator, ratio, timing); [`CritiqueSummary`] is the typed part the pipeline reads, the other
//! fields are ignored. The later stages (preference labelling, reward model, PPO, evaluation) add
//! their summary types here when they land.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// What encoding a data set kept and dropped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncodeStats {
    /// Examples kept.
    pub kept: usize,
    /// Examples cut to `max_seq_length`.
    pub truncated: usize,
    /// Examples dropped because no trained token remained.
    pub dropped: usize,
}

/// What an SFT run did (`02-sft/summary.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SftSummary {
    /// Optimizer steps done in total (including those before a resume).
    pub steps: u64,
    /// Steps of the whole run.
    pub max_steps: u64,
    /// Training loss of the first step this invocation ran.
    pub first_loss: Option<f64>,
    /// Training loss of the last step.
    pub last_loss: Option<f64>,
    /// Last validation loss.
    pub validation_loss: Option<f64>,
    /// Validation loss before the first optimizer step (also `metrics.jsonl`'s step-0 record);
    /// `None` without validation data, and in summaries written before it was recorded.
    #[serde(default)]
    pub initial_validation_loss: Option<f64>,
    /// Encoding counts of the training data.
    pub train_data: EncodeStats,
    /// Encoding counts of the validation data.
    pub validation_data: EncodeStats,
    /// The final model (Hugging Face layout), when the run finished.
    pub model_dir: Option<PathBuf>,
}

impl SftSummary {
    /// Whether the run trained all `steps` steps of a run of `steps` steps and saved its model.
    pub fn finished(&self, steps: u64) -> bool {
        self.steps == steps && self.max_steps == steps && self.model_dir.is_some()
    }
}

/// Output counts of an SL-CAI run; every filter is counted, even when zero.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CritiqueCounts {
    /// Traces written (one per prompt used).
    pub traces: usize,
    /// SL-CAI SFT samples kept.
    pub sl_cai_samples: usize,
    /// Kept SL-CAI samples whose revision refuses or redirects (`cai_data::answer::declines`).
    #[serde(default)]
    pub declining_samples: usize,
    /// SL-CAI samples dropped, by reason.
    pub dropped: BTreeMap<String, usize>,
    /// Revisions whose "Here is a revised response:" prefix was stripped.
    pub prefix_stripped: usize,
    /// Final revisions that hit `tokens_to_generate` (cut off; dropped as `truncated` unless the
    /// stage keeps them).
    pub truncated_revisions: usize,
    /// How often each principle was drawn, over all rounds.
    pub principles_drawn: BTreeMap<String, usize>,
    /// Helpfulness samples read.
    pub helpfulness_available: usize,
    /// Helpfulness samples dropped for exceeding `max_seq_length`.
    pub helpfulness_too_long: usize,
    /// Helpfulness samples in the blend.
    pub helpfulness_used: usize,
    /// Samples in the blend.
    pub blend: usize,
}

/// The part of `01-critique/summary.json` the pipeline reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CritiqueSummary {
    /// What came out.
    pub counts: CritiqueCounts,
    /// Files written, relative to the stage directory.
    pub outputs: Vec<String>,
}

/// Reads a JSON file into `T`; errors name the file, line and field.
pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut de = serde_json::Deserializer::from_str(&text);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let field = match e.path().to_string() {
            p if p.is_empty() || p == "." => "(root)".to_string(),
            p => p,
        };
        let inner = e.into_inner();
        Error::record(path, inner.line() as u64, field, inner.to_string(), "shape")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_sft_summary_of_an_earlier_run_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("summary.json");
        let old = r#"{"steps": 2, "max_steps": 2, "first_loss": 2.5, "last_loss": 2.1,
            "validation_loss": null, "train_data": {"kept": 3, "truncated": 0, "dropped": 0},
            "validation_data": {"kept": 0, "truncated": 0, "dropped": 0}, "model_dir": "/r/02-sft/model"}"#;
        std::fs::write(&path, old).unwrap();
        let summary: SftSummary = read_json(&path).unwrap();
        assert!(summary.finished(2));
        assert_eq!(summary.initial_validation_loss, None);
        assert!(!summary.finished(4));
    }

    #[test]
    fn a_bad_field_is_named_with_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("summary.json");
        std::fs::write(&path, r#"{"counts": {"traces": "x"}, "outputs": []}"#).unwrap();
        let err = read_json::<CritiqueSummary>(&path).unwrap_err().to_string();
        assert!(err.contains("summary.json:1: counts.traces"), "{err}");
    }
}
