//! Command-line flags of `cai-rm train`: one per configuration field, turned into a JSON object of
//! the flags actually given, which overrides the `--config` file (see `cai_rm::config`).

use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

/// Flags of `cai-rm train`.
#[derive(Debug, Args, Serialize)]
pub struct TrainFlags {
    /// TOML file of options (keys are the flag names); flags override it.
    #[arg(long)]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Backbone: `.gguf`, Hugging Face directory, `hf:REPO[@REV]` or `default` (SmolLM2).
    #[arg(long)]
    model: Option<String>,
    /// Device: `cpu`, or `cuda[:N]` with the cuda feature.
    #[arg(long)]
    device: Option<String>,
    /// Dtype of the trained weights: f32, bf16 or f16.
    #[arg(long)]
    dtype: Option<String>,
    /// Chat template override for chat pairs.
    #[arg(long)]
    chat_template: Option<String>,
    /// Training pairs: preference records, NeMo comparisons or hh-rlhf pairs.
    #[arg(long = "train")]
    #[serde(rename = "train_file")]
    train_file: Option<PathBuf>,
    /// Validation pairs (default: 10% of the training pairs, held out).
    #[arg(long = "val")]
    #[serde(rename = "validation_file")]
    validation_file: Option<PathBuf>,
    /// Fraction held out for validation without --val (default 0.1).
    #[arg(long)]
    validation_fraction: Option<f64>,
    /// Layout of the pair files: auto, records, nemo or hh (default auto).
    #[arg(long)]
    format: Option<String>,
    /// Output directory: model/, best/, checkpoints/, metrics.jsonl, summary.json.
    #[arg(long = "out")]
    #[serde(rename = "output_dir")]
    output_dir: Option<PathBuf>,
    /// Longest sequence; longer pairs are dropped and counted (default 1024).
    #[arg(long)]
    max_seq_length: Option<usize>,
    /// Pairs per forward/backward (default 2).
    #[arg(long)]
    micro_batch_size: Option<usize>,
    /// Pairs per optimizer step (default 8).
    #[arg(long)]
    global_batch_size: Option<usize>,
    /// Passes over the training pairs unless --max-steps (default 1).
    #[arg(long)]
    max_epochs: Option<u64>,
    /// Optimizer steps.
    #[arg(long)]
    max_steps: Option<u64>,
    /// End this invocation after this many steps (checkpointing first); --resume continues.
    #[arg(long)]
    stop_after_steps: Option<u64>,
    /// Seed (default 1234).
    #[arg(long)]
    seed: Option<u64>,
    /// Peak learning rate (default 2e-5).
    #[arg(long)]
    lr: Option<f64>,
    /// Final learning rate (default 2e-6).
    #[arg(long)]
    min_lr: Option<f64>,
    /// Warm-up steps (default 2).
    #[arg(long)]
    warmup_steps: Option<u64>,
    /// AdamW weight decay (default 0.1).
    #[arg(long)]
    weight_decay: Option<f64>,
    /// Global gradient-norm clip, 0 = off (default 1).
    #[arg(long)]
    gradient_clip_val: Option<f64>,
    /// Margin subtracted from the reward difference (default 0).
    #[arg(long)]
    margin: Option<f64>,
    /// Weight of the reward-centring penalty (default 0).
    #[arg(long)]
    centring: Option<f64>,
    /// Validate every this many steps, and at the end (default 10).
    #[arg(long)]
    val_check_interval: Option<u64>,
    /// At most this many validation micro-batches.
    #[arg(long)]
    limit_val_batches: Option<usize>,
    /// Checkpoint every this many steps (default 10).
    #[arg(long)]
    save_interval: Option<u64>,
    /// Continue from the newest checkpoint in the output directory.
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    resume: Option<bool>,
    /// LoRA rank; given, trains LoRA adapters (the head always trains).
    #[arg(long)]
    #[serde(skip)]
    pub lora_rank: Option<usize>,
    /// Hide the progress bar.
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    quiet: Option<bool>,
}

impl TrainFlags {
    /// The flags given, as configuration overrides (`--lora-rank R` also sets `peft = "lora"`).
    pub fn overrides(&self) -> anyhow::Result<serde_json::Value> {
        let mut value = cai_cli::given_flags(self)?;
        if let Some(rank) = self.lora_rank {
            value["peft"] = "lora".into();
            value["lora_rank"] = rank.into();
        }
        Ok(value)
    }
}
