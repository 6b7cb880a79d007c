//! The reward statistics saved beside a trained reward model, which PPO uses to standardise
//! rewards; the type and file name are `cai-data`'s, shared with PPO.

pub use cai_data::reward_stats::{REWARD_STATS_FILE, RewardStats};

use crate::metrics::ScoredPair;

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
