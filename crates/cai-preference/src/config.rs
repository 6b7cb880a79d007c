//! The configuration of a preference run: defaults ← TOML file ← flags (`cai_cli::load_layered`),
//! checked before any model is loaded.

use std::path::{Path, PathBuf};

use cai_backend::BackendSettings;
use cai_client::RemoteApi;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{PreferenceError, Result};

/// How the judge labels a pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// The CAI paper's multiple-choice prompt, scored by option-token probabilities.
    Paper,
    /// The judge reasons step by step, then answers; each order's P(A) clamped to [0.4, 0.6].
    Cot,
    /// NeMo's judge over a chat endpoint: the constitution as system prompt, all candidates
    /// numbered, a JSON answer `{"chosen": i, "rejected": j}` (a hard label).
    Nemo,
}

/// How the candidates of one prompt are sampled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sampling {
    /// NeMo's temperature ladder 0.01, 0.51, 1.01, 1.51, … (one candidate per rung).
    Ladder,
    /// All candidates at `temperature`.
    Fixed,
}

/// Everything a preference run needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// The policy sampling the candidates (a `.gguf`, HF directory, `hf:REPO` or `default`).
    pub policy: String,
    /// The judge model; `None`: the policy.
    pub judge: Option<String>,
    /// A judge endpoint (OpenAI-compatible): `/v1/completions` with log-probs for `paper` and
    /// `cot`, `/v1/chat/completions` for `nemo` (required there).
    pub judge_endpoint: Option<String>,
    /// The `model` of judge requests.
    pub judge_remote_model: String,
    /// Environment variable holding the judge endpoint's API key.
    pub judge_api_key_env: String,
    /// A file holding the judge endpoint's API key (first line); never a flag.
    pub judge_api_key_file: Option<PathBuf>,
    /// Labelled demonstrations shown before each question (`paper`, `cot`), from
    /// `demonstrations_file` or the built-in ones (0: none).
    pub few_shot: usize,
    /// `{"prompt", "good", "bad"}` demonstrations; `None`: the built-in ones.
    pub demonstrations_file: Option<PathBuf>,
    /// Longest chain of thought (`cot`), in tokens.
    pub cot_tokens: usize,
    /// Longest answer of the NeMo judge, in tokens (NeMo: 1024).
    pub nemo_max_tokens: usize,
    /// Labelling mode.
    pub mode: Mode,
    /// Device of the local models.
    pub device: String,
    /// Compute dtype of the local models.
    pub dtype: String,
    /// Chat template override of the policy.
    pub chat_template: Option<String>,
    /// Endpoints generating the candidates (empty: the in-process engine).
    pub endpoints: Vec<String>,
    /// Their API.
    pub api: RemoteApi,
    /// Environment variable holding their API key.
    pub api_key_env: String,
    /// The `model` of OpenAI requests.
    pub remote_model: String,
    /// Requests in flight per endpoint.
    pub concurrency: usize,
    /// Timeout of one request, in seconds.
    pub request_timeout_secs: u64,
    /// Red-team prompts; `None`: the built-in corpus.
    pub prompts_file: Option<PathBuf>,
    /// Output directory (a run directory's `03-preference`).
    pub output_dir: PathBuf,
    /// Constitution files; empty: the built-in one.
    pub constitution: Vec<PathBuf>,
    /// Candidates per prompt.
    pub candidates: usize,
    /// Ladder or fixed temperature.
    pub sampling: Sampling,
    /// Temperature of [`Sampling::Fixed`].
    pub temperature: f32,
    /// Top-k of candidate sampling (0: off).
    pub top_k: usize,
    /// Top-p of candidate sampling (1: off).
    pub top_p: f32,
    /// Longest candidate, in tokens.
    pub tokens_to_generate: usize,
    /// Use only the first N prompts.
    pub limit: Option<usize>,
    /// Prompts per generation batch (and per work-log flush).
    pub batch_size: usize,
    /// Wrap the judge prompt in the judge's chat template.
    pub judge_chat_template: bool,
    /// Principles per pair, averaged (a principle ensemble; 1: one drawn principle; default 4,
    /// chosen by calibration, see `docs/stages/preference.md`).
    pub ensemble: usize,
    /// Human helpfulness pairs (hh-rlhf or preference records); `None`: the built-in corpus.
    pub helpful_file: Option<PathBuf>,
    /// Helpful pairs blended in per AI-labelled pair (capped at those available; 0: none).
    pub helpful_ratio: f64,
    /// Train/test fractions (NeMo's split semantics).
    pub splits: Vec<f64>,
    /// Seed of sampling, principle draws, blending and splitting.
    pub seed: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            policy: "default".into(),
            judge: None,
            judge_endpoint: None,
            judge_remote_model: "default".into(),
            judge_api_key_env: "CAI_JUDGE_API_KEY".into(),
            judge_api_key_file: None,
            few_shot: 0,
            demonstrations_file: None,
            cot_tokens: 96,
            nemo_max_tokens: 1024,
            mode: Mode::Paper,
            device: if cfg!(feature = "cuda") {
                "cuda"
            } else {
                "cpu"
            }
            .into(),
            dtype: "f32".into(),
            chat_template: None,
            endpoints: Vec::new(),
            api: RemoteApi::Nemo,
            api_key_env: "CAI_API_KEY".into(),
            remote_model: "default".into(),
            concurrency: 8,
            request_timeout_secs: 600,
            prompts_file: None,
            output_dir: PathBuf::from("runs/preference"),
            constitution: Vec::new(),
            candidates: 4,
            sampling: Sampling::Ladder,
            temperature: 0.7,
            top_k: 0,
            top_p: 1.0,
            tokens_to_generate: 256,
            limit: None,
            batch_size: 4,
            judge_chat_template: false,
            ensemble: 4,
            helpful_file: None,
            helpful_ratio: 1.0,
            splits: vec![0.8, 0.2],
            seed: 1234,
        }
    }
}

impl Config {
    /// Defaults, then the TOML `file`, then `overrides` (the flags given), checked.
    pub fn load(file: Option<&Path>, overrides: Value) -> Result<Self> {
        let config: Self = cai_cli::load_layered(&Self::default(), file, overrides)
            .map_err(|e| PreferenceError::Input(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Rejects settings that cannot work.
    pub fn validate(&self) -> Result<()> {
        let bad = |field: &str, why: &str| Err(PreferenceError::Input(format!("{field}: {why}")));
        if self.judge_endpoint.is_some() && self.judge.is_some() {
            return bad(
                "judge/judge_endpoint",
                "give one judge: a model or an endpoint",
            );
        }
        if self.mode == Mode::Nemo && self.judge_endpoint.is_none() {
            return bad(
                "mode",
                "`nemo` needs --judge-endpoint (an OpenAI-compatible chat endpoint)",
            );
        }
        if self.mode == Mode::Nemo && self.few_shot > 0 {
            return bad("few_shot", "`nemo` shows no demonstrations");
        }
        if let Some(endpoint) = &self.judge_endpoint
            && !endpoint.starts_with("http://")
            && !endpoint.starts_with("https://")
        {
            return bad("judge_endpoint", "expected an http:// or https:// URL");
        }
        if self.limit == Some(0) {
            return bad("limit", "must be at least 1");
        }
        cai_cli::check_output_dir("output_dir (--out)", &self.output_dir)
            .map_err(|e| PreferenceError::Input(e.to_string()))?;
        if self.candidates < 2 {
            return bad("candidates", "need at least 2 candidates to compare");
        }
        if self.batch_size == 0
            || self.ensemble == 0
            || self.concurrency == 0
            || self.tokens_to_generate == 0
            || self.cot_tokens == 0
            || self.nemo_max_tokens == 0
        {
            return bad(
                "batch_size/ensemble/concurrency/tokens_to_generate/cot_tokens/nemo_max_tokens",
                "must be at least 1",
            );
        }
        if self.top_p.is_nan() || self.top_p <= 0.0 || self.top_p > 1.0 || self.temperature < 0.0 {
            return bad("top_p/temperature", "top_p in (0, 1], temperature >= 0");
        }
        if self.helpful_ratio.is_nan() || self.helpful_ratio < 0.0 {
            return bad("helpful_ratio", "must be >= 0");
        }
        cai_data::split::split_sizes(self.splits.len().max(1) * 1000, &self.splits)
            .map_err(|e| PreferenceError::Input(format!("splits: {e}")))?;
        Ok(())
    }

    /// The judge model: `judge`, else the policy (or the endpoint's model).
    pub fn judge_model(&self) -> &str {
        match &self.judge_endpoint {
            Some(_) => &self.judge_remote_model,
            None => self.judge.as_deref().unwrap_or(&self.policy),
        }
    }

    /// The judge endpoint's API key: the first line of `judge_api_key_file`, else the
    /// environment variable `judge_api_key_env`; `None` when neither holds one.
    pub fn judge_api_key(&self) -> Result<Option<String>> {
        if let Some(path) = &self.judge_api_key_file {
            let text = std::fs::read_to_string(path).map_err(|e| PreferenceError::io(path, e))?;
            let key = text.lines().next().unwrap_or("").trim().to_string();
            if key.is_empty() {
                return Err(PreferenceError::Input(format!(
                    "{}: judge_api_key_file: the first line is empty",
                    path.display()
                )));
            }
            return Ok(Some(key));
        }
        Ok(std::env::var(&self.judge_api_key_env)
            .ok()
            .filter(|k| !k.trim().is_empty()))
    }

    /// The temperatures of the candidates, one per candidate.
    pub fn temperatures(&self) -> Vec<f32> {
        (0..self.candidates)
            .map(|i| match self.sampling {
                Sampling::Ladder => cai_data::nemo::CANDIDATE_TEMPERATURES
                    .get(i)
                    .map_or(0.01 + 0.5 * i as f32, |&t| t as f32),
                Sampling::Fixed => self.temperature,
            })
            .collect()
    }

    /// What makes two runs' results interchangeable: everything that changes a prompt's result.
    /// Settings added after the first release enter only when they differ from their defaults,
    /// so that work logs written before them still resume.
    pub fn result_settings(&self) -> Value {
        let mut settings = serde_json::json!({
            "policy": self.policy, "judge": self.judge_model(), "mode": self.mode,
            "chat_template": self.chat_template, "candidates": self.candidates,
            "temperatures": self.temperatures(), "top_k": self.top_k, "top_p": self.top_p,
            "tokens_to_generate": self.tokens_to_generate, "judge_chat_template": self.judge_chat_template, "ensemble": self.ensemble,
            "constitution": self.constitution, "seed": self.seed,
        });
        let added = [
            ("judge_endpoint", serde_json::json!(self.judge_endpoint)),
            ("few_shot", serde_json::json!(self.few_shot)),
            (
                "demonstrations_file",
                serde_json::json!(self.demonstrations_file),
            ),
            ("cot_tokens", serde_json::json!(self.cot_tokens)),
            ("nemo_max_tokens", serde_json::json!(self.nemo_max_tokens)),
        ];
        let defaults = Self::default();
        let default_of = |key: &str| defaults_value(&defaults, key);
        for (key, value) in added {
            let relevant = match key {
                "cot_tokens" => self.mode == Mode::Cot,
                "nemo_max_tokens" => self.mode == Mode::Nemo,
                _ => true,
            };
            if relevant && value != default_of(key) {
                settings[key] = value;
            }
        }
        settings
    }
}

/// The default of `key` as JSON.
fn defaults_value(defaults: &Config, key: &str) -> Value {
    serde_json::to_value(defaults)
        .ok()
        .and_then(|v| v.get(key).cloned())
        .unwrap_or(Value::Null)
}

impl From<&Config> for BackendSettings {
    fn from(config: &Config) -> Self {
        BackendSettings {
            model: config.policy.clone(),
            chat_template: config.chat_template.clone(),
            device: config.device.clone(),
            dtype: config.dtype.clone(),
            endpoints: config.endpoints.clone(),
            api: config.api,
            api_key_env: config.api_key_env.clone(),
            remote_model: config.remote_model.clone(),
            concurrency: config.concurrency,
            request_timeout_secs: config.request_timeout_secs,
            count_tokens: false,
        }
    }
}
