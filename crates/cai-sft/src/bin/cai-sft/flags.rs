//! Command-line flags: one per configuration field, turned into a JSON object of the flags
//! actually given, which overrides the `--config` file (see `cai_sft::config`).

use std::path::PathBuf;

use clap::Parser;
use serde::Serialize;

/// Supervised fine-tuning with assistant-only loss. Every flag is also a key of the `--config`
/// TOML file; flags win over the file, the file over NeMo's defaults (docs/stages/sft.md).
#[derive(Debug, Parser, Serialize)]
#[command(name = "cai-sft", version)]
pub struct Flags {
    /// TOML file of options (keys are the flag names); command-line flags override it.
    #[arg(long)]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Model to fine-tune: `.gguf`, Hugging Face directory, `hf:REPO[@REV]`, or `default`.
    #[arg(long)]
    model: Option<String>,
    /// Device: `cpu` (burn flex) or, with the `cuda` feature, `cuda` / `cuda:N` (default cpu).
    #[arg(long)]
    device: Option<String>,
    /// Dtype of the trained weights: f32, bf16 or f16 (default f32).
    #[arg(long)]
    dtype: Option<String>,
    /// Chat template override: `mistral`, `nemo` (`<extra_id_*>`), `chatml`, or a Jinja file.
    #[arg(long)]
    chat_template: Option<String>,
    /// Training conversations: NeMo chat JSONL (`conversations`) or Hugging Face `messages`.
    #[arg(long)]
    train_file: Option<PathBuf>,
    /// Held-out conversations for the validation loss.
    #[arg(long)]
    validation_file: Option<PathBuf>,
    /// Without a validation file, the fraction of training conversations held out (default 0.05).
    #[arg(long)]
    validation_fraction: Option<f64>,
    /// Directory for checkpoints, metrics and the final model (`model/`).
    #[arg(long)]
    output_dir: Option<PathBuf>,
    /// Longest training sequence in tokens (default 4096).
    #[arg(long)]
    max_seq_length: Option<usize>,
    /// Pack several conversations per sequence.
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    packing: Option<bool>,
    /// Sequences per forward/backward pass (default 1).
    #[arg(long)]
    micro_batch_size: Option<usize>,
    /// Sequences per optimizer step, a multiple of the micro-batch size (default 128).
    #[arg(long)]
    global_batch_size: Option<usize>,
    /// Passes over the training data, unless --max-steps is given (default 1).
    #[arg(long)]
    max_epochs: Option<u64>,
    /// Optimizer steps to train for, cycling over the data as needed.
    #[arg(long)]
    max_steps: Option<u64>,
    /// End this invocation after this many steps (checkpointing first); --resume continues.
    #[arg(long)]
    stop_after_steps: Option<u64>,
    /// Seed of shuffling, the held-out split and LoRA initialisation (default 1234).
    #[arg(long)]
    seed: Option<u64>,
    /// Peak learning rate (default 3e-5).
    #[arg(long)]
    lr: Option<f64>,
    /// Final learning rate of the cosine schedule (default 9e-7).
    #[arg(long)]
    min_lr: Option<f64>,
    /// Linear warm-up steps (default 10).
    #[arg(long)]
    warmup_steps: Option<u64>,
    /// Steps held at the final rate at the end of the schedule (default 1000).
    #[arg(long)]
    constant_steps: Option<u64>,
    /// AdamW β₁ (default 0.9).
    #[arg(long)]
    beta1: Option<f64>,
    /// AdamW β₂ (default 0.98).
    #[arg(long)]
    beta2: Option<f64>,
    /// AdamW ε (default 1e-8).
    #[arg(long)]
    eps: Option<f64>,
    /// AdamW decoupled weight decay (default 0.01).
    #[arg(long)]
    weight_decay: Option<f64>,
    /// Clip the global gradient norm to this value, 0 = off (default 1.0).
    #[arg(long)]
    gradient_clip_val: Option<f64>,
    /// Compute the validation loss every this many steps, and at the end (default 100).
    #[arg(long)]
    val_check_interval: Option<u64>,
    /// Use at most this many validation micro-batches.
    #[arg(long)]
    limit_val_batches: Option<usize>,
    /// Write a checkpoint every this many steps, 0 = only when stopping early (default 100).
    #[arg(long)]
    save_interval: Option<u64>,
    /// Keep only the newest this many checkpoints (default 3).
    #[arg(long)]
    keep_checkpoints: Option<usize>,
    /// Continue from the newest checkpoint in the output directory.
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    resume: Option<bool>,
    /// Parameter-efficient fine-tuning: `none` or `lora` (default none).
    #[arg(long)]
    peft: Option<String>,
    /// LoRA rank (default 32).
    #[arg(long)]
    lora_rank: Option<usize>,
    /// LoRA alpha; the update is scaled by alpha / rank (default 32).
    #[arg(long)]
    lora_alpha: Option<f64>,
    /// LoRA dropout on the adapters' input while training, in [0, 1) (default 0).
    #[arg(long)]
    lora_dropout: Option<f64>,
    /// Linear layers LoRA adapts, comma-separated HF names (default q_proj,k_proj,v_proj).
    #[arg(long, value_delimiter = ',')]
    lora_target_modules: Vec<String>,
    /// Hide the progress bar.
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    quiet: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_given_flags_override() {
        let flags = Flags::parse_from([
            "cai-sft",
            "--lr",
            "2e-4",
            "--resume",
            "--lora-target-modules",
            "q_proj,o_proj",
            "--output-dir",
            "out",
        ]);
        assert_eq!(
            cai_cli::given_flags(&flags).unwrap(),
            json!({"lr": 2e-4, "resume": true, "lora_target_modules": ["q_proj", "o_proj"], "output_dir": "out"})
        );
        assert_eq!(
            cai_cli::given_flags(&Flags::parse_from(["cai-sft"])).unwrap(),
            json!({})
        );
    }

    #[test]
    fn unknown_flags_are_errors() {
        assert!(Flags::try_parse_from(["cai-sft", "--learning-rate", "1"]).is_err());
    }
}
