//! The reward statistics saved beside a trained reward model (`reward_stats.json`), which PPO uses
//! to standardise rewards (NeMo's `reward_standardization`: `(r − mean) / std`).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::Result;

/// File name of the statistics in the model directory.
pub const REWARD_STATS_FILE: &str = "reward_stats.json";

/// Mean and standard deviation of the rewards of every answer of the training pairs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RewardStats {
    /// Mean reward.
    pub mean: f64,
    /// Standard deviation (population).
    pub std: f64,
    /// Answers scored.
    pub n: usize,
}

impl RewardStats {
    /// The statistics saved in model directory `dir`, if it has them.
    pub fn read(dir: &Path) -> Result<Option<Self>> {
        let path = dir.join(REWARD_STATS_FILE);
        if !path.exists() {
            return Ok(None);
        }
        crate::run_dir::read_json(&path).map(Some)
    }
}
