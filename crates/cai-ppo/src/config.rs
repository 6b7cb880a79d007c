//! The PPO configuration: NeMo's `gpt_ppo_actor.yaml` / `gpt_ppo_critic.yaml` where they apply
//! (sampling, clipping, GAE, KL), with learning rates, batch sizes and the KL coefficient sized to
//! move the default 135M model within tens of steps on a CPU. Defaults, then a TOML file, then the
//! flags given.

use std::path::{Path, PathBuf};

use cai_train::{LoraSettings, LrSchedule, OptimizerSettings, TrainModelSpec};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::advantage::Estimator;
use crate::error::{PpoError, Result};
use crate::guard::GuardSettings;
use crate::kl::{KlController, KlEstimator, KlPlacement};
use crate::objective::ClipSettings;

/// Everything one PPO run needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PpoConfig {
    /// The initial policy (the SL-CAI model): `.gguf`, Hugging Face directory, `hf:REPO` or
    /// `default`.
    pub policy: String,
    /// The reference policy of the KL penalty (default: the initial policy itself).
    pub reference: Option<String>,
    /// Device: `cpu` or, with the `cuda` feature, `cuda[:N]`.
    pub device: String,
    /// Dtype of the trained weights: f32, bf16 or f16.
    pub dtype: String,
    /// Chat template override.
    pub chat_template: Option<String>,
    /// Training prompts (required): prompt records, red-team or preference records, NeMo prompts.
    pub prompts_file: PathBuf,
    /// Validation prompts; without a file, `val_prompts` prompts are held out of the training ones.
    pub val_prompts_file: Option<PathBuf>,
    /// Prompts held out for validation when no file is given (0: no validation).
    pub val_prompts: usize,
    /// Validation rollouts every this many steps (and after the last).
    pub val_check_interval: u64,
    /// Output directory (required).
    pub output_dir: PathBuf,
    /// A trained reward model directory (`cai-rm train`'s `model/`); its `reward_stats.json`
    /// standardises the rewards.
    pub reward_model: Option<PathBuf>,
    /// A rule reward instead: `rule:length=N` or `rule:contains=WORD`.
    pub reward: Option<String>,
    /// Standardised rewards are clipped to `±reward_clip` (0: no clip).
    pub reward_clip: f64,
    /// Added to the reward of a sample that did not end (e.g. −1; 0 = none).
    pub unfinished_penalty: f64,
    /// Train the policy on samples that did not end too (NeMo excludes them).
    pub train_unfinished: bool,
    /// PPO steps (each: rollouts, then updates).
    pub steps: u64,
    /// End this invocation after this many steps (checkpointing first); `resume` continues.
    pub stop_after_steps: Option<u64>,
    /// Prompts per step.
    pub rollout_batch: usize,
    /// Samples per prompt (`None`: 1 with GAE, 4 with RLOO or GRPO).
    pub samples_per_prompt: Option<usize>,
    /// Sequences generated together.
    pub rollout_micro_batch: usize,
    /// New tokens per sample at most.
    pub max_new_tokens: usize,
    /// Sampling temperature (NeMo: 1.0); the log-probs are recomputed at it.
    pub temperature: f32,
    /// Top-k (0 = off, NeMo's default). Truncated sampling makes the recomputed log-probs those of
    /// the untruncated distribution (a warning is logged).
    pub top_k: usize,
    /// Top-p (1 = off, NeMo's default).
    pub top_p: f32,
    /// Advantage estimator.
    pub estimator: Estimator,
    /// Discount γ (NeMo: 1.0).
    pub gamma: f64,
    /// GAE λ (NeMo: 0.95).
    pub lambda: f64,
    /// Whiten GAE advantages over the rollout (NeMo: true).
    pub normalize_advantages: bool,
    /// KL estimator (NeMo: `abs`).
    pub kl_estimator: KlEstimator,
    /// Where the KL penalty goes.
    pub kl_placement: KlPlacement,
    /// Initial KL coefficient β (NeMo's `initial_policy_kl_penalty`).
    pub kl_coef: f64,
    /// Target per-sample KL of the adaptive controller (`None`: β stays fixed).
    pub kl_target: Option<f64>,
    /// Horizon of the adaptive controller, in samples.
    pub kl_horizon: f64,
    /// Ratio clip ε.
    pub clip_eps: f64,
    /// Dual clip `c > 1` for negative advantages (off by default).
    pub dual_clip: Option<f64>,
    /// Value clip of the critic loss (NeMo's `loss_clip_val`).
    pub value_clip: f64,
    /// Entropy bonus (NeMo: 0, entropy not computed).
    pub entropy_bonus: f64,
    /// Passes over each rollout.
    pub ppo_epochs: usize,
    /// Samples per optimizer step (a divisor of the rollout's samples).
    pub mini_batch_size: usize,
    /// Samples per forward/backward pass.
    pub micro_batch_size: usize,
    /// Steps at the start that train only the critic.
    pub critic_warmup_steps: u64,
    /// Actor peak learning rate.
    pub lr: f64,
    /// Actor final learning rate.
    pub min_lr: f64,
    /// Critic peak learning rate.
    pub critic_lr: f64,
    /// Critic final learning rate.
    pub critic_min_lr: f64,
    /// Warm-up optimizer steps of both schedules.
    pub warmup_steps: u64,
    /// AdamW β₁.
    pub beta1: f64,
    /// AdamW β₂.
    pub beta2: f64,
    /// AdamW ε.
    pub eps: f64,
    /// AdamW weight decay.
    pub weight_decay: f64,
    /// Global gradient-norm clip (0 = off).
    pub gradient_clip_val: f64,
    /// Guard-rails.
    pub guards: GuardSettings,
    /// Checkpoint every this many steps.
    pub save_interval: u64,
    /// Newest checkpoints kept.
    pub keep_checkpoints: usize,
    /// Continue from the newest checkpoint in `output_dir`.
    pub resume: bool,
    /// `none` (full fine-tuning) or `lora` (the actor's adapters train; the reference is the base).
    pub peft: String,
    /// LoRA rank.
    pub lora_rank: usize,
    /// LoRA alpha.
    pub lora_alpha: f64,
    /// Linear layers LoRA adapts.
    pub lora_target_modules: Vec<String>,
    /// Seed of sampling, data order and shuffles.
    pub seed: u64,
    /// Hide the progress bar.
    pub quiet: bool,
}

impl Default for PpoConfig {
    fn default() -> Self {
        Self {
            policy: "default".into(),
            reference: None,
            device: "cpu".into(),
            dtype: "f32".into(),
            chat_template: None,
            prompts_file: PathBuf::new(),
            val_prompts_file: None,
            val_prompts: 4,
            val_check_interval: 10,
            output_dir: PathBuf::new(),
            reward_model: None,
            reward: None,
            reward_clip: 10.0,
            unfinished_penalty: 0.0,
            train_unfinished: false,
            steps: 20,
            stop_after_steps: None,
            rollout_batch: 8,
            samples_per_prompt: None,
            rollout_micro_batch: 8,
            max_new_tokens: 64,
            temperature: 1.0,
            top_k: 0,
            top_p: 1.0,
            estimator: Estimator::Gae,
            gamma: 1.0,
            lambda: 0.95,
            normalize_advantages: true,
            kl_estimator: KlEstimator::Abs,
            kl_placement: KlPlacement::Reward,
            kl_coef: 0.02,
            kl_target: None,
            kl_horizon: 10_000.0,
            clip_eps: 0.2,
            dual_clip: None,
            value_clip: 0.2,
            entropy_bonus: 0.0,
            ppo_epochs: 2,
            mini_batch_size: 8,
            micro_batch_size: 4,
            critic_warmup_steps: 0,
            lr: 1e-5,
            min_lr: 1e-6,
            critic_lr: 5e-5,
            critic_min_lr: 5e-6,
            warmup_steps: 2,
            beta1: 0.9,
            beta2: 0.98,
            eps: 1e-8,
            weight_decay: 0.0,
            gradient_clip_val: 1.0,
            guards: GuardSettings::default(),
            save_interval: 10,
            keep_checkpoints: 2,
            resume: false,
            peft: "none".into(),
            lora_rank: 16,
            lora_alpha: 32.0,
            lora_target_modules: ["q_proj", "k_proj", "v_proj", "o_proj"]
                .map(String::from)
                .to_vec(),
            seed: 1234,
            quiet: false,
        }
    }
}

impl PpoConfig {
    /// Defaults, then the TOML file at `file` (if any), then `overrides` (the flags given), checked.
    pub fn load(file: Option<&Path>, overrides: Value) -> Result<Self> {
        let config = cai_cli::load_layered(&Self::default(), file, overrides)
            .map_err(|e| PpoError::Config(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Samples per prompt.
    pub fn group_size(&self) -> usize {
        self.samples_per_prompt
            .unwrap_or(if self.estimator.needs_critic() { 1 } else { 4 })
    }

    /// Samples per step.
    pub fn rollout_samples(&self) -> usize {
        self.rollout_batch * self.group_size()
    }

    /// Checks the settings together; the message names the field.
    pub fn validate(&self) -> Result<()> {
        let fail = |m: String| Err(PpoError::Config(m));
        if self.prompts_file.as_os_str().is_empty() {
            return fail("prompts_file (--prompts) is required".into());
        }
        if self.output_dir.as_os_str().is_empty() {
            return fail("output_dir (--out) is required".into());
        }
        cai_cli::check_output_dir("output_dir (--out)", &self.output_dir)
            .map_err(|e| PpoError::Config(e.to_string()))?;
        match (&self.reward_model, &self.reward) {
            (None, None) => {
                return fail("give a reward: --reward-model DIR or --reward rule:…".into());
            }
            (Some(_), Some(_)) => {
                return fail("--reward-model and --reward are exclusive".into());
            }
            (None, Some(rule)) => {
                crate::reward::RuleReward::parse(rule)?;
            }
            _ => {}
        }
        let samples = self.rollout_samples();
        if self.rollout_batch == 0 || self.steps == 0 || self.max_new_tokens == 0 {
            return fail("rollout_batch, steps and max_new_tokens must be at least 1".into());
        }
        if !self.estimator.needs_critic() && self.group_size() < 2 {
            return fail(format!(
                "estimator {} needs samples_per_prompt ≥ 2 (got {})",
                self.estimator,
                self.group_size()
            ));
        }
        if self.mini_batch_size == 0
            || !samples.is_multiple_of(self.mini_batch_size)
            || self.micro_batch_size == 0
            || !self.mini_batch_size.is_multiple_of(self.micro_batch_size)
        {
            return fail(format!(
                "mini_batch_size {} must divide the {samples} samples of a step (rollout_batch × \
                 samples_per_prompt) and be a multiple of micro_batch_size {}",
                self.mini_batch_size, self.micro_batch_size
            ));
        }
        if self.ppo_epochs == 0 || self.rollout_micro_batch == 0 {
            return fail("ppo_epochs and rollout_micro_batch must be at least 1".into());
        }
        if !self.temperature.is_finite() || self.temperature <= 0.0 {
            return fail(
                "temperature must be > 0 (PPO samples; greedy rollouts have no ratio)".into(),
            );
        }
        if !(0.0..1.0).contains(&self.clip_eps) || self.clip_eps == 0.0 {
            return fail("clip_eps must be in (0, 1)".into());
        }
        if self.dual_clip.is_some_and(|c| c <= 1.0) {
            return fail("dual_clip must be > 1".into());
        }
        if !matches!(self.peft.as_str(), "none" | "lora") {
            return fail(format!("peft `{}`: expected none or lora", self.peft));
        }
        if self.lr < self.min_lr || self.critic_lr < self.critic_min_lr {
            return fail(
                "lr must be at least min_lr (and critic_lr at least critic_min_lr)".into(),
            );
        }
        if self.kl_coef < 0.0 {
            return fail("kl_coef must be ≥ 0".into());
        }
        Ok(())
    }

    /// AdamW settings (actor and critic).
    pub fn optimizer(&self) -> OptimizerSettings {
        OptimizerSettings {
            beta1: self.beta1,
            beta2: self.beta2,
            eps: self.eps,
            weight_decay: self.weight_decay,
        }
    }

    /// Optimizer steps per PPO step.
    pub fn updates_per_step(&self) -> u64 {
        (self.ppo_epochs * self.rollout_samples() / self.mini_batch_size) as u64
    }

    /// The actor's schedule (counted in optimizer steps, as NeMo's).
    pub fn actor_schedule(&self) -> LrSchedule {
        self.schedule(self.lr, self.min_lr)
    }

    /// The critic's schedule.
    pub fn critic_schedule(&self) -> LrSchedule {
        self.schedule(self.critic_lr, self.critic_min_lr)
    }

    fn schedule(&self, lr: f64, min_lr: f64) -> LrSchedule {
        LrSchedule {
            lr,
            min_lr,
            warmup_steps: self.warmup_steps,
            constant_steps: 0,
            max_steps: self.steps * self.updates_per_step(),
        }
    }

    /// Clipping of the policy ratio.
    pub fn clip(&self) -> ClipSettings {
        ClipSettings {
            eps: self.clip_eps,
            dual_clip: self.dual_clip,
        }
    }

    /// The KL coefficient's controller at the start of a run.
    pub fn kl_controller(&self) -> KlController {
        KlController {
            coef: self.kl_coef,
            target: self.kl_target,
            horizon: self.kl_horizon,
        }
    }

    /// LoRA settings when `peft = "lora"` (dropout off: PPO's ratio must be 1 at the old policy).
    pub fn lora(&self) -> Option<LoraSettings> {
        (self.peft == "lora").then(|| LoraSettings {
            rank: self.lora_rank,
            alpha: self.lora_alpha,
            dropout: 0.0,
            target_modules: self.lora_target_modules.clone(),
        })
    }

    /// How to load `model` for training on this run's device (no LoRA: the stage applies it).
    pub fn train_spec(&self, model: &str) -> TrainModelSpec {
        TrainModelSpec {
            model: model.to_string(),
            device: self.device.clone(),
            dtype: self.dtype.clone(),
            chat_template: self.chat_template.clone(),
            seed: self.seed,
            lora: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base() -> Value {
        json!({"prompts_file": "p.jsonl", "output_dir": "o", "reward": "rule:length=8"})
    }

    #[test]
    fn defaults_are_valid_and_bad_values_name_the_field() {
        let ok = PpoConfig::load(None, base()).unwrap();
        assert_eq!(ok.group_size(), 1);
        assert_eq!(ok.updates_per_step(), 2);
        let mut v = base();
        v["reward"] = Value::Null;
        let err = PpoConfig::load(None, v).unwrap_err().to_string();
        assert!(err.contains("reward"), "{err}");
        let mut v = base();
        v["estimator"] = "rloo".into();
        v["samples_per_prompt"] = 1.into();
        let err = PpoConfig::load(None, v).unwrap_err().to_string();
        assert!(err.contains("samples_per_prompt"), "{err}");
        let mut v = base();
        v["mini_batch_size"] = 3.into();
        let err = PpoConfig::load(None, v).unwrap_err().to_string();
        assert!(err.contains("mini_batch_size"), "{err}");
        let mut v = base();
        v["reward"] = "rule:lenght=3".into();
        let err = PpoConfig::load(None, v).unwrap_err().to_string();
        assert!(err.contains("lenght"), "{err}");
        let mut v = base();
        v["kl_estimatr"] = "k3".into();
        let err = PpoConfig::load(None, v).unwrap_err().to_string();
        assert!(err.contains("kl_estimatr"), "{err}");
    }
}
