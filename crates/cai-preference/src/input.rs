//! Reading the inputs: red-team prompts, human helpfulness pairs and calibration pairs. Any bad
//! record is an error naming `file:line`, raised before a model is loaded.

use std::path::Path;

use cai_data::hh::{self, HhPair};
use cai_data::prompts::{file_stem as stem, read_each};
use cai_data::{PreferenceRecord, RedTeamPrompt};
use serde::Deserialize;

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

/// Reads red-team prompts in any layout [`cai_data::prompts`] reads (the request alone: labelling
/// asks single-turn questions). Ids default to `{file stem}-{index}`.
pub fn read_prompts(path: &Path) -> Result<Vec<RedTeamPrompt>> {
    Ok(cai_data::prompts::read_prompts(path)?
        .into_iter()
        .map(|p| RedTeamPrompt {
            id: p.id,
            prompt: p.prompt,
            category: None,
            source: p.source,
        })
        .collect())
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
    .map_err(Into::into)
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
    .map_err(Into::into)
}
