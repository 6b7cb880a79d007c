//! The reward-model configuration: defaults sized to learn on the default 135M model in tens of
//! steps (NeMo's `training_rm.yaml` is for 7B: lr 9e-6, global batch 64–512), overridden by a
//! TOML file, overridden by the flags given (the binary's flag layer).

use std::path::{Path, PathBuf};

use cai_train::{LoraSettings, LrSchedule, OptimizerSettings, TrainModelSpec};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::data::PairFormat;
use crate::error::{Result, RmError};
use crate::loss::LossSettings;

/// Everything one reward-model training run needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RmConfig {
    /// Backbone: `.gguf`, Hugging Face directory (a reward model's continues with its head),
    /// `hf:REPO[@REV]`, or `default`.
    pub model: String,
    /// Device: `cpu` or, with the `cuda` feature, `cuda[:N]`.
    pub device: String,
    /// Dtype of the trained weights: f32, bf16 or f16.
    pub dtype: String,
    /// Chat template override for rendering chat pairs.
    pub chat_template: Option<String>,
    /// Training pairs (required): preference records, NeMo comparisons or hh-rlhf pairs.
    pub train_file: PathBuf,
    /// Validation pairs; without one, `validation_fraction` of the training pairs is held out.
    pub validation_file: Option<PathBuf>,
    /// Fraction of training pairs held out for validation when no file is given (0 = none).
    pub validation_fraction: f64,
    /// Layout of the pair files.
    pub format: PairFormat,
    /// Output directory (required): `model/`, `best/`, `checkpoints/`, `metrics.jsonl`,
    /// `summary.json`.
    pub output_dir: PathBuf,
    /// Longest sequence in tokens; pairs with a longer side are dropped (counted), never cut.
    pub max_seq_length: usize,
    /// Pairs per forward/backward pass (the batch holds both sides).
    pub micro_batch_size: usize,
    /// Pairs per optimizer step (a multiple of `micro_batch_size`).
    pub global_batch_size: usize,
    /// Passes over the training pairs (unless `max_steps` is set).
    pub max_epochs: u64,
    /// Optimizer steps, cycling over the data as needed.
    pub max_steps: Option<u64>,
    /// End this invocation after this many steps (checkpointing first) without changing the
    /// schedule; `resume` continues the run.
    pub stop_after_steps: Option<u64>,
    /// Seed of the data order, the held-out split and the head's initialisation.
    pub seed: u64,
    /// Peak learning rate.
    pub lr: f64,
    /// Final learning rate of the cosine schedule.
    pub min_lr: f64,
    /// Linear warm-up steps.
    pub warmup_steps: u64,
    /// Steps held at `min_lr` at the end.
    pub constant_steps: u64,
    /// AdamW β₁.
    pub beta1: f64,
    /// AdamW β₂.
    pub beta2: f64,
    /// AdamW ε.
    pub eps: f64,
    /// AdamW decoupled weight decay (NeMo's RM: 0.1).
    pub weight_decay: f64,
    /// Global gradient-norm clip (0 = off).
    pub gradient_clip_val: f64,
    /// Margin subtracted from the reward difference.
    pub margin: f64,
    /// Weight of the reward-centring penalty `(r_c + r_r)²`.
    pub centring: f64,
    /// Standard deviation of a fresh head's weights (transformers' `initializer_range`).
    pub head_init_std: f64,
    /// Validate every this many steps (and at the end).
    pub val_check_interval: u64,
    /// At most this many validation micro-batches.
    pub limit_val_batches: Option<usize>,
    /// Checkpoint every this many steps (0: only at the end of an early stop).
    pub save_interval: u64,
    /// Newest checkpoints kept.
    pub keep_checkpoints: usize,
    /// Continue from the newest checkpoint in `output_dir`.
    pub resume: bool,
    /// `none` (full fine-tuning) or `lora` (the head always trains).
    pub peft: String,
    /// LoRA rank.
    pub lora_rank: usize,
    /// LoRA alpha.
    pub lora_alpha: f64,
    /// Linear layers LoRA adapts.
    pub lora_target_modules: Vec<String>,
    /// Hide the progress bar.
    pub quiet: bool,
}

impl Default for RmConfig {
    fn default() -> Self {
        Self {
            model: "default".into(),
            device: "cpu".into(),
            dtype: "f32".into(),
            chat_template: None,
            train_file: PathBuf::new(),
            validation_file: None,
            validation_fraction: 0.1,
            format: PairFormat::Auto,
            output_dir: PathBuf::new(),
            max_seq_length: 1024,
            micro_batch_size: 2,
            global_batch_size: 8,
            max_epochs: 1,
            max_steps: None,
            stop_after_steps: None,
            seed: 1234,
            lr: 2e-5,
            min_lr: 2e-6,
            warmup_steps: 2,
            constant_steps: 0,
            beta1: 0.9,
            beta2: 0.98,
            eps: 1e-8,
            weight_decay: 0.1,
            gradient_clip_val: 1.0,
            margin: 0.0,
            centring: 0.0,
            head_init_std: 0.02,
            val_check_interval: 10,
            limit_val_batches: None,
            save_interval: 10,
            keep_checkpoints: 2,
            resume: false,
            peft: "none".into(),
            lora_rank: 16,
            lora_alpha: 32.0,
            lora_target_modules: ["q_proj", "k_proj", "v_proj", "o_proj"]
                .map(String::from)
                .to_vec(),
            quiet: false,
        }
    }
}

impl RmConfig {
    /// Defaults, then the TOML file at `file` (if any), then `overrides` (the flags given), checked.
    pub fn load(file: Option<&Path>, overrides: Value) -> Result<Self> {
        let config = cai_cli::load_layered(&Self::default(), file, overrides)
            .map_err(|e| RmError::Config(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks the settings together; the message names the field.
    pub fn validate(&self) -> Result<()> {
        let fail = |m: String| Err(RmError::Config(m));
        if self.train_file.as_os_str().is_empty() {
            return fail("train_file is required".into());
        }
        if self.output_dir.as_os_str().is_empty() {
            return fail("output_dir is required".into());
        }
        cai_cli::check_output_dir("output_dir (--out)", &self.output_dir)
            .map_err(|e| RmError::Config(e.to_string()))?;
        if self.micro_batch_size == 0
            || !self.global_batch_size.is_multiple_of(self.micro_batch_size)
        {
            return fail(format!(
                "global_batch_size {} must be a positive multiple of micro_batch_size {}",
                self.global_batch_size, self.micro_batch_size
            ));
        }
        if !(0.0..1.0).contains(&self.validation_fraction) {
            return fail("validation_fraction must be in [0, 1)".into());
        }
        if !matches!(self.peft.as_str(), "none" | "lora") {
            return fail(format!("peft `{}`: expected none or lora", self.peft));
        }
        if self.lr < self.min_lr {
            return fail("lr must be at least min_lr".into());
        }
        if self.max_seq_length < 2 {
            return fail("max_seq_length must be at least 2".into());
        }
        if self.centring < 0.0 {
            return fail("centring must be ≥ 0".into());
        }
        Ok(())
    }

    /// AdamW settings.
    pub fn optimizer(&self) -> OptimizerSettings {
        OptimizerSettings {
            beta1: self.beta1,
            beta2: self.beta2,
            eps: self.eps,
            weight_decay: self.weight_decay,
        }
    }

    /// The schedule of a run of `max_steps` steps.
    pub fn schedule(&self, max_steps: u64) -> LrSchedule {
        LrSchedule {
            lr: self.lr,
            min_lr: self.min_lr,
            warmup_steps: self.warmup_steps,
            constant_steps: self.constant_steps,
            max_steps,
        }
    }

    /// The loss settings.
    pub fn loss(&self) -> LossSettings {
        LossSettings {
            margin: self.margin,
            centring: self.centring,
        }
    }

    /// LoRA settings when `peft = "lora"` (dropout off: a reward model trains without it).
    pub fn lora(&self) -> Option<LoraSettings> {
        (self.peft == "lora").then(|| LoraSettings {
            rank: self.lora_rank,
            alpha: self.lora_alpha,
            dropout: 0.0,
            target_modules: self.lora_target_modules.clone(),
        })
    }

    /// The backbone to train.
    pub fn model_spec(&self) -> TrainModelSpec {
        TrainModelSpec {
            model: self.model.clone(),
            device: self.device.clone(),
            dtype: self.dtype.clone(),
            chat_template: self.chat_template.clone(),
            seed: self.seed,
            lora: self.lora(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn required_fields_and_bad_values_name_the_field() {
        let err = RmConfig::load(None, json!({"output_dir": "o"})).unwrap_err();
        assert!(err.to_string().contains("train_file"), "{err}");
        let err = RmConfig::load(
            None,
            json!({"train_file": "t", "output_dir": "o", "micro_batch_size": 3}),
        )
        .unwrap_err();
        assert!(err.to_string().contains("global_batch_size"), "{err}");
        let err = RmConfig::load(
            None,
            json!({"train_file": "t", "output_dir": "o", "formatt": "nemo"}),
        )
        .unwrap_err();
        assert!(err.to_string().contains("formatt"), "{err}");
        let ok = RmConfig::load(
            None,
            json!({"train_file": "t", "output_dir": "o", "format": "nemo"}),
        )
        .unwrap();
        assert_eq!(ok.format, PairFormat::Nemo);
    }
}
