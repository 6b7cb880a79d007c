//! Command-line flags of `cai-ppo`: one per common configuration field, turned into a JSON object
//! of the flags actually given, which overrides the `--config` file (see `cai_ppo::config`). Every
//! other field is set in the TOML file.

use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

/// Flags of `cai-ppo`.
#[derive(Debug, Args, Serialize)]
pub struct Flags {
    /// TOML file of options (keys are the configuration field names); flags override it.
    #[arg(long)]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// The initial policy: `.gguf`, Hugging Face directory, `hf:REPO[@REV]` or `default` (SmolLM2).
    #[arg(long)]
    policy: Option<String>,
    /// The reference policy of the KL penalty (default: the initial policy).
    #[arg(long)]
    reference: Option<String>,
    /// Training prompts: prompt records, red-team or preference records, NeMo prompt files.
    #[arg(long = "prompts")]
    #[serde(rename = "prompts_file")]
    prompts_file: Option<PathBuf>,
    /// Validation prompts (default: hold out --val-prompts of the training prompts).
    #[arg(long = "val")]
    #[serde(rename = "val_prompts_file")]
    val_prompts_file: Option<PathBuf>,
    /// Prompts held out for validation without --val (default 4).
    #[arg(long)]
    val_prompts: Option<usize>,
    /// Validation rollouts every this many steps (default 10).
    #[arg(long)]
    val_check_interval: Option<u64>,
    /// Output directory: metrics.jsonl, rollouts.jsonl, checkpoints/, model/, summary.json.
    #[arg(long = "out")]
    #[serde(rename = "output_dir")]
    output_dir: Option<PathBuf>,
    /// A trained reward model (`cai-rm train`'s DIR/model).
    #[arg(long)]
    reward_model: Option<PathBuf>,
    /// A rule reward instead: rule:length=N or rule:contains=WORD.
    #[arg(long)]
    reward: Option<String>,
    /// PPO steps (default 20).
    #[arg(long)]
    steps: Option<u64>,
    /// End this invocation after this many steps (checkpointing first); --resume continues.
    #[arg(long)]
    stop_after_steps: Option<u64>,
    /// Prompts per step (default 8).
    #[arg(long)]
    rollout_batch: Option<usize>,
    /// Samples per prompt (default 1 with gae, 4 with rloo or grpo).
    #[arg(long)]
    samples_per_prompt: Option<usize>,
    /// New tokens per sample at most (default 64).
    #[arg(long)]
    max_new_tokens: Option<usize>,
    /// Train the policy on samples that did not end too (NeMo excludes them).
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    train_unfinished: Option<bool>,
    /// Added to the reward of samples that did not end (default 0).
    #[arg(long, allow_negative_numbers = true)]
    unfinished_penalty: Option<f64>,
    /// Sampling temperature (default 1).
    #[arg(long)]
    temperature: Option<f32>,
    /// Advantage estimator: gae, rloo or grpo (default gae).
    #[arg(long)]
    estimator: Option<String>,
    /// KL estimator: k1, abs, k2 or k3 (default abs).
    #[arg(long)]
    kl_estimator: Option<String>,
    /// Where the KL penalty goes: reward or loss (default reward).
    #[arg(long)]
    kl_placement: Option<String>,
    /// KL coefficient (default 0.02).
    #[arg(long)]
    kl_coef: Option<f64>,
    /// Target KL of the adaptive coefficient (default: fixed).
    #[arg(long)]
    kl_target: Option<f64>,
    /// Actor learning rate (default 1e-5).
    #[arg(long)]
    lr: Option<f64>,
    /// Critic learning rate (default 5e-5).
    #[arg(long)]
    critic_lr: Option<f64>,
    /// Passes over each rollout (default 2).
    #[arg(long)]
    ppo_epochs: Option<usize>,
    /// Samples per optimizer step (default 8).
    #[arg(long)]
    mini_batch_size: Option<usize>,
    /// Samples per forward/backward (default 4).
    #[arg(long)]
    micro_batch_size: Option<usize>,
    /// Checkpoint every this many steps (default 10).
    #[arg(long)]
    save_interval: Option<u64>,
    /// Seed (default 1234).
    #[arg(long)]
    seed: Option<u64>,
    /// Device: `cpu`, or `cuda[:N]` with the cuda feature.
    #[arg(long)]
    device: Option<String>,
    /// Continue from the newest checkpoint in the output directory.
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    resume: Option<bool>,
    /// LoRA rank; given, trains LoRA adapters on the actor (the reference is the base).
    #[arg(long)]
    #[serde(skip)]
    pub lora_rank: Option<usize>,
    /// Hide the progress bar.
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    quiet: Option<bool>,
}

impl Flags {
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
