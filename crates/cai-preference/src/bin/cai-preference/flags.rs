//! Command-line flags: those of a labelling run become a JSON object of the flags actually given,
//! which overrides the `--config` file (see `cai_preference::config`).

use std::path::PathBuf;

use clap::Args;
use serde::Serialize;

/// How the judge is reached and how questions are put to it: shared by labelling runs and
/// `calibrate`.
#[derive(Debug, Args, Serialize)]
pub struct JudgeFlags {
    /// An OpenAI-compatible judge endpoint (`/v1/completions` with log-probs for paper and cot,
    /// `/v1/chat/completions` for nemo); its key comes from `$CAI_JUDGE_API_KEY` or
    /// `--judge-api-key-file`.
    #[arg(long)]
    judge_endpoint: Option<String>,
    /// The `model` of judge endpoint requests.
    #[arg(long = "judge-model")]
    #[serde(rename = "judge_remote_model")]
    judge_remote_model: Option<String>,
    /// Environment variable holding the judge endpoint's API key.
    #[arg(long)]
    judge_api_key_env: Option<String>,
    /// File whose first line is the judge endpoint's API key.
    #[arg(long)]
    judge_api_key_file: Option<PathBuf>,
    /// Labelling mode: paper (default), cot or nemo (not for calibrate).
    #[arg(long)]
    mode: Option<String>,
    /// Labelling demonstrations shown before each question (paper, cot).
    #[arg(long)]
    few_shot: Option<usize>,
    /// `{"prompt", "good", "bad"}` demonstrations (default: the built-in ones).
    #[arg(long = "demonstrations")]
    #[serde(rename = "demonstrations_file")]
    demonstrations_file: Option<PathBuf>,
    /// Longest chain of thought in tokens (cot).
    #[arg(long)]
    cot_tokens: Option<usize>,
    /// Principles per pair, averaged (default 4).
    #[arg(long)]
    ensemble: Option<usize>,
    /// Wrap the judge prompt in the judge's chat template.
    #[arg(long)]
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    judge_chat_template: bool,
}

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
    #[command(flatten)]
    #[serde(flatten)]
    judging: JudgeFlags,
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
}

impl LabelFlags {
    /// The flags given, as a configuration layer.
    pub fn overrides(&self) -> anyhow::Result<serde_json::Value> {
        Ok(cai_cli::given_flags(self)?)
    }
}

/// Flags of `cai-preference calibrate`: the judge and how questions are put to it, as in a
/// labelling run.
#[derive(Debug, Args, Serialize)]
pub struct CalibrateFlags {
    /// The judge model (default: the default model).
    #[arg(long, conflicts_with = "judge_endpoint")]
    #[serde(skip)]
    pub judge: Option<String>,
    /// Labelled pairs, `{"prompt", "good", "bad"}` per line.
    #[arg(long)]
    #[serde(skip)]
    pub pairs: PathBuf,
    #[command(flatten)]
    #[serde(flatten)]
    judging: JudgeFlags,
    /// Constitution files (default: the built-in one).
    #[arg(long)]
    #[serde(skip_serializing_if = "Vec::is_empty")]
    constitution: Vec<PathBuf>,
    /// Device.
    #[arg(long)]
    device: Option<String>,
}

impl CalibrateFlags {
    /// The flags given, as a configuration layer (the judge model becomes the policy, which
    /// the judge defaults to).
    pub fn overrides(&self) -> anyhow::Result<serde_json::Value> {
        let mut layer = cai_cli::given_flags(self)?;
        if let Some(judge) = &self.judge {
            layer["policy"] = serde_json::json!(judge);
        }
        Ok(layer)
    }
}
