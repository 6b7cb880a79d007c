//! The reward statistics saved beside a trained reward model, which PPO uses to standardise
//! rewards (NeMo's `reward_standardization`: `(r − mean) / std`).

use serde::{Deserialize, Serialize};

use crate::metrics::ScoredPair;

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

/// The statistics of both answers of every pair.
pub fn reward_stats(pairs: &[ScoredPair]) -> RewardStats {
    let all: Vec<f64> = pairs.iter().flat_map(|p| [p.chosen, p.rejected]).collect();
    let n = all.len();
    let mean = all.iter().sum::<f64>() / n.max(1) as f64;
    let var = all.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / n.max(1) as f64;
    RewardStats {
        mean,
        std: var.sqrt(),
        n,
    }
}
