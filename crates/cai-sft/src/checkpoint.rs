//! What an SFT checkpoint holds beyond the files every policy checkpoint has
//! (`cai_train::trainable`: `model/`, `adapter.safetensors` with LoRA, `optimizer.bpk`): its
//! `state.json`, a [`TrainState`].

use std::path::Path;

use cai_train::DataCursor;
use serde::{Deserialize, Serialize};

use crate::error::{Result, SftError};

/// Progress of a run: everything besides weights and optimizer moments that resuming needs.
///
/// The data order is a pure function of `(seed, epoch)`, and nothing else draws random numbers
/// after start-up, so `seed` and `cursor` are the whole RNG state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// Optimizer steps done.
    pub step: u64,
    /// Steps of the whole run (the schedule's length).
    pub max_steps: u64,
    /// Next position in the data stream.
    pub cursor: DataCursor,
    /// Seed of the data order.
    pub seed: u64,
    /// Training rows (checked on resume: the data must not change under a run).
    pub rows: usize,
    /// Rows per optimizer step.
    pub global_batch_size: usize,
    /// Conversations (rows) consumed so far.
    pub consumed_samples: u64,
    /// Validation loss before the first step, measured once at the start of the run (a resumed
    /// run carries it on instead of measuring it again; absent in checkpoints made before it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_validation_loss: Option<f64>,
}

impl TrainState {
    /// Fails if `other` (the state the current config and data imply) cannot continue this one.
    pub fn check_compatible(&self, other: &TrainState, path: &Path) -> Result<()> {
        let mismatch = [
            ("seed", self.seed != other.seed),
            ("rows", self.rows != other.rows),
            (
                "global_batch_size",
                self.global_batch_size != other.global_batch_size,
            ),
            ("max_steps", self.max_steps != other.max_steps),
        ];
        if let Some((field, _)) = mismatch.iter().find(|(_, differs)| *differs) {
            return Err(SftError::Checkpoint {
                path: path.to_path_buf(),
                reason: format!("`{field}` differs from the run being resumed"),
            });
        }
        Ok(())
    }
}
