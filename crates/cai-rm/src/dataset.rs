//! The training and validation pairs of a run: read, held-out split taken, encoded.

use cai_model::LoadedModel;
use cai_train::epoch_order;
use serde::Serialize;

use crate::config::RmConfig;
use crate::data::{Pair, read_pairs};
use crate::encode::{EncodeStats, EncodedPair, encode_pairs};
use crate::error::Result;

/// Encoded pairs ready for batching.
#[derive(Debug)]
pub struct PairSets {
    /// Training pairs.
    pub train: Vec<EncodedPair>,
    /// Validation pairs (empty when validation is off).
    pub validation: Vec<EncodedPair>,
    /// What encoding kept and dropped.
    pub stats: DataStats,
}

/// Counts of the data a run used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct DataStats {
    /// Training pairs read.
    pub train_read: usize,
    /// Training pairs kept and dropped as too long.
    pub train: EncodeStats,
    /// Validation pairs kept and dropped as too long.
    pub validation: EncodeStats,
    /// AI-labelled pairs among the kept training pairs.
    pub train_ai_labelled: usize,
}

/// Splits off `fraction` of the pairs (seeded) as a held-out set: `(train, held out)`.
fn hold_out(pairs: Vec<Pair>, fraction: f64, seed: u64) -> (Vec<Pair>, Vec<Pair>) {
    let held = (pairs.len() as f64 * fraction).round() as usize;
    let order = epoch_order(pairs.len(), seed ^ 0x5EED_0F5E_1EC7, 0);
    let held_out: std::collections::HashSet<usize> = order[..held].iter().copied().collect();
    let (mut train, mut validation) = (Vec::new(), Vec::new());
    for (i, pair) in pairs.into_iter().enumerate() {
        if held_out.contains(&i) {
            validation.push(pair);
        } else {
            train.push(pair);
        }
    }
    (train, validation)
}

/// The pairs of a run, read and split but not yet encoded: read before the model is loaded, so
/// bad input fails early.
#[derive(Debug)]
pub struct RawPairs {
    train: Vec<Pair>,
    validation: Vec<Pair>,
    train_read: usize,
}

impl RawPairs {
    /// Reads and splits the pairs `cfg` names.
    pub fn read(cfg: &RmConfig) -> Result<Self> {
        let pairs = read_pairs(&cfg.train_file, cfg.format)?;
        let train_read = pairs.len();
        let (train, validation) = match &cfg.validation_file {
            Some(path) => (pairs, read_pairs(path, cfg.format)?),
            None => hold_out(pairs, cfg.validation_fraction, cfg.seed),
        };
        Ok(Self {
            train,
            validation,
            train_read,
        })
    }

    /// Encodes the pairs with `model`'s template and tokenizer.
    pub fn encode(self, model: &LoadedModel, cfg: &RmConfig) -> Result<PairSets> {
        let (train, train_stats) = encode_pairs(model, &self.train, cfg.max_seq_length)?;
        let (validation, validation_stats) =
            encode_pairs(model, &self.validation, cfg.max_seq_length)?;
        let stats = DataStats {
            train_read: self.train_read,
            train: train_stats,
            validation: validation_stats,
            train_ai_labelled: train.iter().filter(|p| p.ai_labelled).count(),
        };
        tracing::info!(
            train = stats.train.kept,
            validation = stats.validation.kept,
            too_long = stats.train.too_long + stats.validation.too_long,
            "encoded pairs"
        );
        Ok(PairSets {
            train,
            validation,
            stats,
        })
    }
}
