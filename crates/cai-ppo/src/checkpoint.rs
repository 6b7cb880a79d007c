//! What a PPO checkpoint holds, so that a resumed run continues bit for bit.
//!
//! `ckpt-N/` has `model/` (the actor in Hugging Face layout, LoRA merged), `adapter.safetensors`
//! with LoRA, `optimizer.bpk` (the actor's AdamW), `critic/` (the critic as a
//! `*ForSequenceClassification` model) and `critic-optimizer.bpk` with GAE, and `state.json`
//! ([`PpoState`]: step, data cursor, KL controller, guard events). Sampling seeds and shuffles are
//! pure functions of `(seed, step)`, so no RNG state needs saving.

use std::path::{Path, PathBuf};

use burn::optim::ModuleOptimizer;
use cai_model::{CausalLm, LoadedModel, RewardModel};
use cai_train::trainable::{ADAPTER_FILE, MODEL_DIR, OPTIMIZER_FILE, STATE_FILE, write_adapter};
use cai_train::{CheckpointDir, DataCursor, LoraSettings, save_optimizer, write_state};
use serde::{Deserialize, Serialize};

use crate::error::{PpoError, Result};
use crate::guard::GuardEvent;
use crate::kl::KlController;

/// The critic of a checkpoint.
pub const CRITIC_DIR: &str = "critic";
/// The critic's optimizer state of a checkpoint.
pub const CRITIC_OPTIMIZER_FILE: &str = "critic-optimizer.bpk";

/// Progress of a run besides weights and optimizer moments.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PpoState {
    /// PPO steps done.
    pub step: u64,
    /// Steps of the whole run.
    pub steps: u64,
    /// Next position in the prompt stream.
    pub cursor: DataCursor,
    /// The run's seed.
    pub seed: u64,
    /// Training prompts (they must not change under a run).
    pub prompts: usize,
    /// Samples per step.
    pub rollout_samples: usize,
    /// The KL coefficient's controller.
    pub kl: KlController,
    /// Mean response length of the first step (the guard-rails' baseline).
    pub first_response_length: Option<f64>,
    /// Guard-rail events so far.
    pub guard_events: Vec<GuardEvent>,
}

impl PpoState {
    /// Fails if `other` (what the current config and data imply) cannot continue this state.
    pub fn check_compatible(&self, other: &PpoState, path: &Path) -> Result<()> {
        let mismatch = [
            ("seed", self.seed != other.seed),
            ("prompts", self.prompts != other.prompts),
            (
                "rollout_samples",
                self.rollout_samples != other.rollout_samples,
            ),
            ("steps", self.steps != other.steps),
        ];
        if let Some((field, _)) = mismatch.iter().find(|(_, differs)| *differs) {
            return Err(PpoError::Checkpoint {
                path: path.to_path_buf(),
                reason: format!("`{field}` differs from the run being resumed"),
            });
        }
        Ok(())
    }
}

/// `shell` with `lm` (LoRA merged when `lora`) saved in Hugging Face layout under `dir`.
pub fn save_policy(shell: &mut LoadedModel, lm: &CausalLm, lora: bool, dir: &Path) -> Result<()> {
    let weights = if lora {
        LoraSettings::merge(lm.clone())
    } else {
        lm.clone()
    };
    let previous = std::mem::replace(&mut shell.lm, weights);
    let saved = shell.save_hf(dir);
    shell.lm = previous;
    Ok(saved?)
}

/// `shell` with the critic's backbone and head saved under `dir`.
pub fn save_critic(shell: &mut LoadedModel, critic: &RewardModel, dir: &Path) -> Result<()> {
    let previous = std::mem::replace(&mut shell.lm, critic.lm.clone());
    let saved = shell.save_hf_with_score_head(dir, &critic.head);
    shell.lm = previous;
    Ok(saved?)
}

/// The trained parts of a run, as a checkpoint saves them.
pub struct Trained<'a> {
    /// The policy's text side (saving needs it).
    pub policy: &'a mut LoadedModel,
    /// The actor.
    pub actor: &'a CausalLm,
    /// Its optimizer.
    pub actor_optim: &'a ModuleOptimizer,
    /// Whether the actor has LoRA adapters.
    pub lora: bool,
    /// The critic's text side, the critic and its optimizer (GAE only).
    pub critic: Option<(&'a mut LoadedModel, &'a RewardModel, &'a ModuleOptimizer)>,
}

/// Writes the checkpoint of `state.step` atomically and returns its directory.
pub fn save(dir: &CheckpointDir, trained: Trained<'_>, state: &PpoState) -> Result<PathBuf> {
    let Trained {
        policy,
        actor,
        actor_optim,
        lora,
        critic,
    } = trained;
    dir.save(state.step, |tmp| -> Result<()> {
        save_policy(policy, actor, lora, &tmp.join(MODEL_DIR))?;
        if lora {
            write_adapter(actor, &tmp.join(ADAPTER_FILE))?;
        }
        save_optimizer(actor_optim, &tmp.join(OPTIMIZER_FILE))?;
        if let Some((shell, critic, optim)) = critic {
            save_critic(shell, critic, &tmp.join(CRITIC_DIR))?;
            save_optimizer(optim, &tmp.join(CRITIC_OPTIMIZER_FILE))?;
        }
        write_state(&tmp.join(STATE_FILE), state)?;
        Ok(())
    })
}
