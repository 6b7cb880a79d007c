//! The SFT configuration: one flat set of options, each both a `--flag` and a key of the
//! `--config` TOML file (same name, `snake_case` or `kebab-case`). Flags on the command line win
//! over the file. Defaults follow NeMo's `gpt_sft.yaml` (see `docs/stages/sft.md`).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use cai_model::train::{LoraSettings, LrSchedule, OptimizerSettings};
use clap::Parser;
use serde::Serialize;

use crate::error::{Result, SftError};

/// Supervised fine-tuning with assistant-only loss.
#[derive(Debug, Clone, Parser, Serialize)]
#[command(name = "cai-sft", version, args_override_self = true)]
pub struct SftConfig {
    /// TOML file of options (keys are the long flag names); command-line flags override it.
    #[arg(long)]
    #[serde(skip)]
    pub config: Option<PathBuf>,

    /// Model to fine-tune: `.gguf`, Hugging Face directory, `hf:REPO[@REV]`, or `default`.
    #[arg(long, default_value = "default")]
    pub model: String,
    /// Device: `cpu` (burn flex) or, with the `cuda` feature, `cuda` / `cuda:N`.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Dtype of the trained weights: f32, bf16 or f16.
    #[arg(long, default_value = "f32")]
    pub dtype: String,
    /// Chat template override: `mistral`, `nemo` (`<extra_id_*>`), `chatml`, or a Jinja file.
    #[arg(long)]
    pub chat_template: Option<String>,

    /// Training conversations: NeMo chat JSONL (`conversations`) or Hugging Face `messages`.
    #[arg(long)]
    pub train_file: PathBuf,
    /// Held-out conversations for the validation loss.
    #[arg(long)]
    pub validation_file: Option<PathBuf>,
    /// Without `validation_file`, the fraction of training conversations held out for validation
    /// (removed from training; `0` disables validation).
    #[arg(long, default_value_t = 0.05)]
    pub validation_fraction: f64,
    /// Directory for checkpoints, metrics and the final model (`model/`, Hugging Face layout).
    #[arg(long)]
    pub output_dir: PathBuf,

    /// Longest training sequence in tokens; longer conversations are cut on the right.
    #[arg(long, default_value_t = 4096)]
    pub max_seq_length: usize,
    /// Pack several conversations per sequence (attention stays inside each conversation).
    #[arg(long, default_value_t = false, num_args = 0..=1, default_missing_value = "true")]
    pub packing: bool,
    /// Sequences per forward/backward pass.
    #[arg(long, default_value_t = 1)]
    pub micro_batch_size: usize,
    /// Sequences per optimizer step (a multiple of `micro_batch_size`).
    #[arg(long, default_value_t = 128)]
    pub global_batch_size: usize,
    /// Passes over the training data (ignored when `max_steps` is set).
    #[arg(long, default_value_t = 1)]
    pub max_epochs: u64,
    /// Optimizer steps to train for, cycling over the data as needed.
    #[arg(long)]
    pub max_steps: Option<u64>,
    /// End this invocation after this many steps (checkpointing first) without changing the
    /// schedule, to split one run across jobs; `--resume` continues it.
    #[arg(long)]
    pub stop_after_steps: Option<u64>,
    /// Seed of shuffling, the held-out split and LoRA initialisation.
    #[arg(long, default_value_t = 1234)]
    pub seed: u64,

    /// Peak learning rate.
    #[arg(long, default_value_t = 3e-5)]
    pub lr: f64,
    /// Final learning rate of the cosine schedule.
    #[arg(long, default_value_t = 9e-7)]
    pub min_lr: f64,
    /// Linear warm-up steps.
    #[arg(long, default_value_t = 10)]
    pub warmup_steps: u64,
    /// Steps held at `min_lr` at the end of the schedule (NeMo `constant_steps`).
    #[arg(long, default_value_t = 1000)]
    pub constant_steps: u64,
    /// AdamW β₁.
    #[arg(long, default_value_t = 0.9)]
    pub beta1: f64,
    /// AdamW β₂.
    #[arg(long, default_value_t = 0.98)]
    pub beta2: f64,
    /// AdamW ε.
    #[arg(long, default_value_t = 1e-8)]
    pub eps: f64,
    /// AdamW decoupled weight decay.
    #[arg(long, default_value_t = 0.01)]
    pub weight_decay: f64,
    /// Clip the global gradient norm to this value (`0` disables).
    #[arg(long, default_value_t = 1.0)]
    pub gradient_clip_val: f64,

    /// Compute the validation loss every this many steps (and at the end).
    #[arg(long, default_value_t = 100)]
    pub val_check_interval: u64,
    /// Use at most this many validation micro-batches.
    #[arg(long)]
    pub limit_val_batches: Option<usize>,
    /// Write a checkpoint every this many steps (`0`: only when stopping early).
    #[arg(long, default_value_t = 100)]
    pub save_interval: u64,
    /// Keep only the newest this many checkpoints.
    #[arg(long, default_value_t = 3)]
    pub keep_checkpoints: usize,
    /// Continue from the newest checkpoint in `output_dir`.
    #[arg(long, default_value_t = false, num_args = 0..=1, default_missing_value = "true")]
    pub resume: bool,

    /// Parameter-efficient fine-tuning: `none` (full fine-tuning) or `lora`.
    #[arg(long, default_value = "none")]
    pub peft: String,
    /// LoRA rank.
    #[arg(long, default_value_t = 32)]
    pub lora_rank: usize,
    /// LoRA alpha (the update is scaled by alpha / rank).
    #[arg(long, default_value_t = 32.0)]
    pub lora_alpha: f64,
    /// LoRA dropout on the adapters' input while training, in [0, 1).
    #[arg(long, default_value_t = 0.0)]
    pub lora_dropout: f64,
    /// Linear layers LoRA adapts (comma-separated HF names).
    #[arg(long, value_delimiter = ',', default_value = "q_proj,k_proj,v_proj")]
    pub lora_target_modules: Vec<String>,

    /// Hide the progress bar.
    #[arg(long, default_value_t = false, num_args = 0..=1, default_missing_value = "true")]
    pub quiet: bool,
}

/// Renders one TOML value as a command-line argument value.
fn toml_arg(key: &str, value: &toml::Value) -> Result<String> {
    Ok(match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Array(items) => items
            .iter()
            .map(|item| toml_arg(key, item))
            .collect::<Result<Vec<_>>>()?
            .join(","),
        other => {
            return Err(SftError::Config(format!(
                "key `{key}`: unsupported value {other}"
            )));
        }
    })
}

/// The `--config` path among raw arguments, if any.
fn config_path(args: &[OsString]) -> Option<PathBuf> {
    let mut iter = args.iter().filter_map(|a| a.to_str());
    while let Some(arg) = iter.next() {
        if arg == "--config" {
            return iter.next().map(PathBuf::from);
        }
        if let Some(path) = arg.strip_prefix("--config=") {
            return Some(PathBuf::from(path));
        }
    }
    None
}

/// The options of a TOML file as `--key value` arguments.
fn file_args(path: &Path) -> Result<Vec<OsString>> {
    let text = std::fs::read_to_string(path).map_err(|e| SftError::io(path, e))?;
    let table: toml::Table = text
        .parse()
        .map_err(|e| SftError::Config(format!("{}: {e}", path.display())))?;
    let mut out = Vec::new();
    for (key, value) in &table {
        if key == "config" {
            return Err(SftError::Config(format!(
                "{}: `config` cannot be nested",
                path.display()
            )));
        }
        out.push(format!("--{}", key.replace('_', "-")).into());
        out.push(toml_arg(key, value)?.into());
    }
    Ok(out)
}

impl SftConfig {
    /// Parses `args` (program name first), reading the `--config` file first so that flags given
    /// on the command line override its keys. Unknown keys are errors, as unknown flags are.
    pub fn from_args<I, T>(args: I) -> Result<Self>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString>,
    {
        let mut args: Vec<OsString> = args.into_iter().map(Into::into).collect();
        if let Some(path) = config_path(&args) {
            let from_file = file_args(&path)?;
            let rest = args.split_off(1.min(args.len()));
            args.extend(from_file);
            args.extend(rest);
        }
        let config = Self::try_parse_from(args)?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<()> {
        let fail = |m: String| Err(SftError::Config(m));
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

    /// Micro-batches per optimizer step.
    pub fn accumulation_steps(&self) -> usize {
        self.global_batch_size / self.micro_batch_size
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let cfg = SftConfig::from_args([
            "cai-sft",
            "--config",
            path.to_str().unwrap(),
            "--lr",
            "2e-4",
        ])
        .unwrap();
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
        let err = SftConfig::from_args(["cai-sft", "--config", path.to_str().unwrap()]);
        assert!(err.unwrap_err().to_string().contains("learning-rate"));
    }

    #[test]
    fn the_example_config_parses() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/sft.example.toml");
        let cfg = SftConfig::from_args(["cai-sft", "--config", path]).unwrap();
        assert_eq!(cfg.accumulation_steps(), 4);
        assert!(cfg.lora().is_none());
    }

    #[test]
    fn inconsistent_batches_are_rejected() {
        let err = SftConfig::from_args([
            "cai-sft",
            "--train-file=a",
            "--output-dir=o",
            "--micro-batch-size=3",
            "--global-batch-size=8",
        ]);
        assert!(err.is_err());
    }
}
