//! The SFT configuration: defaults after NeMo's `gpt_sft.yaml` (see `docs/stages/sft.md`),
//! overridden by a TOML file, overridden by the flags given on the command line (the binary's
//! flag layer); keys are the field names (`snake_case`, or `kebab-case` in the file).

use std::path::{Path, PathBuf};

use cai_train::{LoraSettings, LrSchedule, OptimizerSettings, TrainModelSpec};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Result, SftError};

/// Supervised fine-tuning with assistant-only loss: everything one run needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SftConfig {
    /// Model to fine-tune: `.gguf`, Hugging Face directory, `hf:REPO[@REV]`, or `default`.
    pub model: String,
    /// Device: `cpu` (burn flex) or, with the `cuda` feature, `cuda` / `cuda:N`.
    pub device: String,
    /// Dtype of the trained weights: f32, bf16 or f16.
    pub dtype: String,
    /// Chat template override: `mistral`, `nemo` (`<extra_id_*>`), `chatml`, or a Jinja file.
    pub chat_template: Option<String>,

    /// Training conversations: NeMo chat JSONL (`conversations`) or Hugging Face `messages`
    /// (required).
    pub train_file: PathBuf,
    /// Held-out conversations for the validation loss.
    pub validation_file: Option<PathBuf>,
    /// Without `validation_file`, the fraction of training conversations held out for validation
    /// (removed from training; `0` disables validation).
    pub validation_fraction: f64,
    /// Directory for checkpoints, metrics and the final model (`model/`, Hugging Face layout)
    /// (required).
    pub output_dir: PathBuf,

    /// Longest training sequence in tokens; longer conversations are cut on the right.
    pub max_seq_length: usize,
    /// Pack several conversations per sequence (attention stays inside each conversation).
    pub packing: bool,
    /// Sequences per forward/backward pass.
    pub micro_batch_size: usize,
    /// Sequences per optimizer step (a multiple of `micro_batch_size`).
    pub global_batch_size: usize,
    /// Passes over the training data (ignored when `max_steps` is set).
    pub max_epochs: u64,
    /// Optimizer steps to train for, cycling over the data as needed.
    pub max_steps: Option<u64>,
    /// End this invocation after this many steps (checkpointing first) without changing the
    /// schedule, to split one run across jobs; `resume` continues it.
    pub stop_after_steps: Option<u64>,
    /// Seed of shuffling, the held-out split and LoRA initialisation.
    pub seed: u64,

    /// Peak learning rate.
    pub lr: f64,
    /// Final learning rate of the cosine schedule.
    pub min_lr: f64,
    /// Linear warm-up steps.
    pub warmup_steps: u64,
    /// Steps held at `min_lr` at the end of the schedule (NeMo `constant_steps`).
    pub constant_steps: u64,
    /// AdamW β₁.
    pub beta1: f64,
    /// AdamW β₂.
    pub beta2: f64,
    /// AdamW ε.
    pub eps: f64,
    /// AdamW decoupled weight decay.
    pub weight_decay: f64,
    /// Clip the global gradient norm to this value (`0` disables).
    pub gradient_clip_val: f64,

    /// Compute the validation loss every this many steps (and at the end).
    pub val_check_interval: u64,
    /// Use at most this many validation micro-batches.
    pub limit_val_batches: Option<usize>,
    /// Write a checkpoint every this many steps (`0`: only when stopping early).
    pub save_interval: u64,
    /// Keep only the newest this many checkpoints.
    pub keep_checkpoints: usize,
    /// Continue from the newest checkpoint in `output_dir`.
    pub resume: bool,

    /// Parameter-efficient fine-tuning: `none` (full fine-tuning) or `lora`.
    pub peft: String,
    /// LoRA rank.
    pub lora_rank: usize,
    /// LoRA alpha (the update is scaled by alpha / rank).
    pub lora_alpha: f64,
    /// LoRA dropout on the adapters' input while training, in [0, 1).
    pub lora_dropout: f64,
    /// Linear layers LoRA adapts (HF names).
    pub lora_target_modules: Vec<String>,

    /// Hide the progress bar.
    pub quiet: bool,
}

impl Default for SftConfig {
    /// NeMo's `gpt_sft.yaml` defaults, with no training file or output directory yet.
    fn default() -> Self {
        Self {
            model: "default".into(),
            device: "cpu".into(),
            dtype: "f32".into(),
            chat_template: None,
            train_file: PathBuf::new(),
            validation_file: None,
            validation_fraction: 0.05,
            output_dir: PathBuf::new(),
            max_seq_length: 4096,
            packing: false,
            micro_batch_size: 1,
            global_batch_size: 128,
            max_epochs: 1,
            max_steps: None,
            stop_after_steps: None,
            seed: 1234,
            lr: 3e-5,
            min_lr: 9e-7,
            warmup_steps: 10,
            constant_steps: 1000,
            beta1: 0.9,
            beta2: 0.98,
            eps: 1e-8,
            weight_decay: 0.01,
            gradient_clip_val: 1.0,
            val_check_interval: 100,
            limit_val_batches: None,
            save_interval: 100,
            keep_checkpoints: 3,
            resume: false,
            peft: "none".into(),
            lora_rank: 32,
            lora_alpha: 32.0,
            lora_dropout: 0.0,
            lora_target_modules: ["q_proj", "k_proj", "v_proj"].map(String::from).to_vec(),
            quiet: false,
        }
    }
}

impl SftConfig {
    /// Defaults, then the TOML file at `file` (if any), then `overrides` (a JSON object of the
    /// flags given), checked. Unknown keys are errors naming the key and where it came from.
    pub fn load(file: Option<&Path>, overrides: Value) -> Result<Self> {
        let config = cai_cli::load_layered(&Self::default(), file, overrides)
            .map_err(|e| SftError::Config(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks the settings together; the message names the field.
    pub fn validate(&self) -> Result<()> {
        let fail = |m: String| Err(SftError::Config(m));
        if self.train_file.as_os_str().is_empty() {
            return fail("train_file is required".into());
        }
        if self.output_dir.as_os_str().is_empty() {
            return fail("output_dir is required".into());
        }
        cai_cli::check_output_dir("output_dir (--output-dir)", &self.output_dir)
            .map_err(|e| SftError::Config(e.to_string()))?;
        if self.micro_batch_size == 0
            || !self.global_batch_size.is_multiple_of(self.micro_batch_size)
        {
            return fail(format!(
                "global_batch_size {} must be a positive multiple of micro_batch_size {}",
                self.global_batch_size, self.micro_batch_size
            ));
        }
        if self.max_seq_length < 2 {
            return fail("max_seq_length must be at least 2".into());
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

    /// The learning-rate schedule for a run of `max_steps` optimizer steps.
    pub fn schedule(&self, max_steps: u64) -> LrSchedule {
        LrSchedule {
            lr: self.lr,
            min_lr: self.min_lr,
            warmup_steps: self.warmup_steps,
            constant_steps: self.constant_steps,
            max_steps,
        }
    }

    /// LoRA settings when `peft = "lora"`.
    pub fn lora(&self) -> Option<LoraSettings> {
        (self.peft == "lora").then(|| LoraSettings {
            rank: self.lora_rank,
            alpha: self.lora_alpha,
            dropout: self.lora_dropout,
            target_modules: self.lora_target_modules.clone(),
        })
    }

    /// The model to train, as `cai_train` loads it.
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

    /// Micro-batches per optimizer step.
    pub fn accumulation_steps(&self) -> usize {
        self.global_batch_size / self.micro_batch_size
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn flags_override_the_file_and_unknown_keys_fail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sft.toml");
        std::fs::write(
            &path,
            "train_file = \"a.jsonl\"\noutput-dir = \"out\"\nlr = 1e-4\npacking = true\n\
             lora_target_modules = [\"q_proj\", \"o_proj\"]\nglobal_batch_size = 8\n",
        )
        .unwrap();
        let cfg = SftConfig::load(Some(&path), json!({"lr": 2e-4})).unwrap();
        assert_eq!(cfg.lr, 2e-4);
        assert!(cfg.packing);
        assert_eq!(cfg.lora_target_modules, ["q_proj", "o_proj"]);
        assert_eq!(cfg.output_dir, PathBuf::from("out"));
        assert_eq!(cfg.accumulation_steps(), 8);
        assert_eq!(cfg.beta2, 0.98);

        std::fs::write(
            &path,
            "train_file = \"a\"\noutput_dir = \"o\"\nlearning_rate = 1\n",
        )
        .unwrap();
        let err = SftConfig::load(Some(&path), json!({})).unwrap_err();
        assert!(err.to_string().contains("learning_rate"), "{err}");
    }

    #[test]
    fn the_example_config_parses() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/sft.example.toml");
        let cfg = SftConfig::load(Some(Path::new(path)), json!({})).unwrap();
        assert_eq!(cfg.accumulation_steps(), 4);
        assert!(cfg.lora().is_none());
    }

    #[test]
    fn inconsistent_batches_are_rejected() {
        let err = SftConfig::load(
            None,
            json!({"train_file": "a", "output_dir": "o", "micro_batch_size": 3, "global_batch_size": 8}),
        );
        assert!(err.is_err());
    }

    #[test]
    fn the_training_file_and_output_directory_are_required() {
        let err = SftConfig::load(None, json!({"output_dir": "o"})).unwrap_err();
        assert!(err.to_string().contains("train_file"), "{err}");
        let err = SftConfig::load(None, json!({"train_file": "a"})).unwrap_err();
        assert!(err.to_string().contains("output_dir"), "{err}");
    }
}
