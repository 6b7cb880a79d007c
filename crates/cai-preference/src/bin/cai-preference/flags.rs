//! Command-line flags: those of a labelling run become a JSON object of the flags actually given,
//! which overrides the `--config` file (see `cai_preference::config`).

use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

/// Flags of a labelling run.
#[derive(Debug, Args, Serialize)]
pub struct LabelFlags {
    /// TOML file of options (keys are the configuration fields); flags override it.
    #[arg(long)]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// The policy sampling candidates: `.gguf`, HF directory, `hf:REPO` or `default`.
    #[arg(long)]
    policy: Option<String>,
    /// The judge model (default: the policy).
    #[arg(long, conflicts_with = "judge_endpoint")]
    judge: Option<String>,
    /// A judge endpoint (not implemented yet).
    #[arg(long)]
    judge_endpoint: Option<String>,
    /// Labelling mode: paper (cot and nemo are not implemented yet).
    #[arg(long)]
    mode: Option<String>,
    /// Red-team prompts (default: the built-in corpus).
    #[arg(long = "prompts")]
    #[serde(rename = "prompts_file")]
    prompts_file: Option<PathBuf>,
    /// Output directory.
    #[arg(long = "out")]
    #[serde(rename = "output_dir")]
    output_dir: Option<PathBuf>,
    /// Candidates per prompt (default 4).
    #[arg(long)]
    candidates: Option<usize>,
    /// Use only the first N prompts.
    #[arg(long)]
    limit: Option<usize>,
    /// Candidate sampling: ladder (NeMo's temperatures) or fixed.
    #[arg(long)]
    sampling: Option<String>,
    /// Temperature with `--sampling fixed`.
    #[arg(long)]
    temperature: Option<f32>,
    /// Top-k of candidate sampling (0: off).
    #[arg(long)]
    top_k: Option<usize>,
    /// Top-p of candidate sampling.
    #[arg(long)]
    top_p: Option<f32>,
    /// Longest candidate in tokens.
    #[arg(long)]
    tokens_to_generate: Option<usize>,
    /// Prompts per generation batch.
    #[arg(long)]
    batch_size: Option<usize>,
    /// Endpoints generating candidates (repeatable; default: the in-process engine).
    #[arg(long = "endpoint")]
    #[serde(rename = "endpoints", skip_serializing_if = "Option::is_none")]
    endpoints: Option<Vec<String>>,
    /// Device of local models.
    #[arg(long)]
    device: Option<String>,
    /// Human helpfulness pairs to blend (default: the built-in corpus).
    #[arg(long)]
    helpful_file: Option<PathBuf>,
    /// Helpful pairs per AI-labelled pair.
    #[arg(long)]
    helpful_ratio: Option<f64>,
    /// Seed of sampling, principle draws, blending and splitting.
    #[arg(long)]
    seed: Option<u64>,
    /// Principles per pair, averaged (default 4).
    #[arg(long)]
    ensemble: Option<usize>,
    /// Wrap the judge prompt in the judge's chat template.
    #[arg(long)]
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    judge_chat_template: bool,
}

impl LabelFlags {
    /// The flags given, as a configuration layer.
    pub fn overrides(&self) -> anyhow::Result<serde_json::Value> {
        Ok(cai_cli::given_flags(self)?)
    }
}

/// Flags of `cai-preference calibrate`.
#[derive(Debug, Args)]
pub struct CalibrateFlags {
    /// The judge model.
    #[arg(long, default_value = "default")]
    pub judge: String,
    /// Labelled pairs, `{"prompt", "good", "bad"}` per line.
    #[arg(long)]
    pub pairs: PathBuf,
    /// Constitution files (default: the built-in one).
    #[arg(long)]
    pub constitution: Vec<PathBuf>,
    /// Wrap the judge prompt in the judge's chat template.
    #[arg(long)]
    pub judge_chat_template: bool,
    /// Principles per pair, averaged (as a labelling run's default).
    #[arg(long, default_value_t = 4)]
    pub ensemble: usize,
    /// Device.
    #[arg(long, default_value = if cfg!(feature = "cuda") { "cuda" } else { "cpu" })]
    pub device: String,
}
