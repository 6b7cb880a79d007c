//! What a reward-model checkpoint holds and how a run is rebuilt from one.
//!
//! `ckpt-N/` has `model/` (Hugging Face `*ForSequenceClassification`: the merged backbone and
//! `score.weight`), `adapter.safetensors` with LoRA, `optimizer.bpk` and `state.json`
//! ([`RmState`]). Full fine-tuning resumes from `model/`; LoRA from the base model, the adapter and
//! the head in `model/`.

use std::path::{Path, PathBuf};

use burn::optim::ModuleOptimizer;
use cai_model::{LoadedModel, ScalarHead};
use cai_train::trainable::{ADAPTER_FILE, MODEL_DIR, OPTIMIZER_FILE, STATE_FILE, write_adapter};
use cai_train::{CheckpointDir, DataCursor, LoraSettings, save_optimizer, write_state};
use serde::{Deserialize, Serialize};

use crate::error::{Result, RmError};
use crate::model::RewardModel;

/// Progress of a run besides weights and optimizer moments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RmState {
    /// Optimizer steps done.
    pub step: u64,
    /// Steps of the whole run.
    pub max_steps: u64,
    /// Next position in the data stream.
    pub cursor: DataCursor,
    /// Seed of the data order.
    pub seed: u64,
    /// Training pairs (the data must not change under a run).
    pub pairs: usize,
    /// Pairs per optimizer step.
    pub global_batch_size: usize,
    /// Pairs consumed so far.
    pub consumed_samples: u64,
    /// Best validation loss so far and its step.
    pub best: Option<(f64, u64)>,
}

impl RmState {
    /// Fails if `other` (what the current config and data imply) cannot continue this state.
    pub fn check_compatible(&self, other: &RmState, path: &Path) -> Result<()> {
        let mismatch = [
            ("seed", self.seed != other.seed),
            ("pairs", self.pairs != other.pairs),
            (
                "global_batch_size",
                self.global_batch_size != other.global_batch_size,
            ),
            ("max_steps", self.max_steps != other.max_steps),
        ];
        if let Some((field, _)) = mismatch.iter().find(|(_, differs)| *differs) {
            return Err(RmError::Checkpoint {
                path: path.to_path_buf(),
                reason: format!("`{field}` differs from the run being resumed"),
            });
        }
        Ok(())
    }
}

/// `model` with `rm`'s backbone, LoRA merged when `lora`, saved with the head under `dir`.
pub fn save_reward_model(
    model: &mut LoadedModel,
    rm: &RewardModel,
    lora: bool,
    dir: &Path,
) -> Result<()> {
    let backbone = if lora {
        LoraSettings::merge(rm.lm.clone())
    } else {
        rm.lm.clone()
    };
    let previous = std::mem::replace(&mut model.lm, backbone);
    let saved = model.save_hf_with_score_head(dir, &rm.head);
    model.lm = previous;
    Ok(saved?)
}

/// Writes the checkpoint of `state.step` atomically and returns its directory.
pub fn save(
    dir: &CheckpointDir,
    model: &mut LoadedModel,
    rm: &RewardModel,
    optim: &ModuleOptimizer,
    state: &RmState,
    lora: bool,
) -> Result<PathBuf> {
    dir.save(state.step, |tmp| -> Result<()> {
        save_reward_model(model, rm, lora, &tmp.join(MODEL_DIR))?;
        if lora {
            write_adapter(&rm.lm, &tmp.join(ADAPTER_FILE))?;
        }
        save_optimizer(optim, &tmp.join(OPTIMIZER_FILE))?;
        write_state(&tmp.join(STATE_FILE), state)?;
        Ok(())
    })
}

/// The head saved in a model directory.
pub fn load_head(dir: &Path, hidden: usize, device: &burn::tensor::Device) -> Result<ScalarHead> {
    ScalarHead::load_hf(dir, hidden, device)?.ok_or_else(|| RmError::NoHead(dir.to_path_buf()))
}
