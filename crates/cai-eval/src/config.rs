//! The evaluation's configuration: the models to compare (by name), the reward model, the prompt
//! sets and how answers are generated (greedy, so a re-run gives the same answers).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{EvalError, Result};

/// One model to evaluate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedModel {
    /// Name in the report (`base`, `sl-cai`, `rl-cai`, …).
    pub name: String,
    /// Model source: `.gguf`, Hugging Face directory, `hf:REPO` or `default`.
    pub source: String,
}

impl NamedModel {
    /// Parses `NAME=SOURCE`.
    pub fn parse(spec: &str) -> Result<Self> {
        match spec.split_once('=') {
            Some((name, source)) if !name.is_empty() && !source.is_empty() => Ok(Self {
                name: name.to_string(),
                source: source.to_string(),
            }),
            _ => Err(EvalError::Config(format!(
                "model `{spec}`: expected NAME=SOURCE (e.g. rl-cai=runs/x/05-ppo/model)"
            ))),
        }
    }
}

/// Everything one evaluation needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalConfig {
    /// The models, in report order (at least one).
    pub models: Vec<NamedModel>,
    /// The reward model that scores every answer (`cai-rm train`'s `model/`); optional.
    pub reward_model: Option<PathBuf>,
    /// The AI judge of the pairwise win rates (a model source; `None`: no win rates).
    pub judge: Option<String>,
    /// Render the judge's prompt with its chat template.
    pub judge_chat_template: bool,
    /// An OpenAI-compatible judge endpoint (`/v1/completions` with log-probs) instead of a
    /// local judge.
    pub judge_endpoint: Option<String>,
    /// The `model` of judge endpoint requests.
    pub judge_remote_model: String,
    /// Environment variable holding the judge endpoint's API key.
    pub judge_api_key_env: String,
    /// Harmful prompts (default: the corpus's held-out red-team prompts).
    pub harmful_file: Option<PathBuf>,
    /// Harmless prompts that sound risky (default: the corpus's benign evaluation prompts).
    pub benign_file: Option<PathBuf>,
    /// At most this many prompts of each set.
    pub limit: Option<usize>,
    /// Also ask the harmful prompts inside a jailbreak wrapper.
    pub jailbreak: bool,
    /// New tokens per answer (greedy decoding).
    pub max_new_tokens: usize,
    /// Prompts generated together.
    pub batch_size: usize,
    /// Device: `cpu` or, with the `cuda` feature, `cuda[:N]`.
    pub device: String,
    /// Chat template override for every model.
    pub chat_template: Option<String>,
    /// Output directory (required): `eval.json`, `answers/`.
    pub output_dir: PathBuf,
    /// Hide progress bars.
    pub quiet: bool,
}

impl Default for EvalConfig {
    fn default() -> Self {
        Self {
            models: Vec::new(),
            reward_model: None,
            judge: None,
            judge_chat_template: false,
            judge_endpoint: None,
            judge_remote_model: "default".into(),
            judge_api_key_env: "CAI_JUDGE_API_KEY".into(),
            harmful_file: None,
            benign_file: None,
            limit: None,
            jailbreak: true,
            max_new_tokens: 96,
            batch_size: 8,
            device: "cpu".into(),
            chat_template: None,
            output_dir: PathBuf::new(),
            quiet: false,
        }
    }
}

impl EvalConfig {
    /// Defaults, then the TOML file at `file` (if any), then `overrides`, checked.
    pub fn load(file: Option<&Path>, overrides: Value) -> Result<Self> {
        let config = cai_cli::load_layered(&Self::default(), file, overrides)
            .map_err(|e| EvalError::Config(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks the settings together; the message names the field.
    pub fn validate(&self) -> Result<()> {
        let fail = |m: &str| Err(EvalError::Config(m.into()));
        if self.models.is_empty() {
            return fail("models: give at least one --model NAME=SOURCE");
        }
        let mut names: Vec<&str> = self.models.iter().map(|m| m.name.as_str()).collect();
        names.sort_unstable();
        if names.windows(2).any(|w| w[0] == w[1]) {
            return fail("models: two models share a name");
        }
        if self.output_dir.as_os_str().is_empty() {
            return fail("output_dir (--out) is required");
        }
        cai_cli::check_output_dir("output_dir (--out)", &self.output_dir)
            .map_err(|e| EvalError::Config(e.to_string()))?;
        if self.max_new_tokens == 0 || self.batch_size == 0 || self.limit == Some(0) {
            return fail("max_new_tokens, batch_size and limit must be at least 1");
        }
        Ok(())
    }
}
