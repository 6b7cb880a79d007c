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
    /// Chain of thought, then the answer (not implemented yet).
    Cot,
    /// NeMo's JSON-answer judge over an endpoint (not implemented yet).
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
    /// A judge endpoint (not implemented yet: rejected).
    pub judge_endpoint: Option<String>,
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

    /// Rejects settings that cannot work, and those not implemented yet.
    pub fn validate(&self) -> Result<()> {
        let bad = |field: &str, why: &str| Err(PreferenceError::Input(format!("{field}: {why}")));
        if self.mode != Mode::Paper {
            return bad("mode", "not implemented yet: only `paper` labels so far");
        }
        if self.judge_endpoint.is_some() {
            return bad(
                "judge_endpoint",
                "not implemented yet: give a local --judge",
            );
        }
        if self.candidates < 2 {
            return bad("candidates", "need at least 2 candidates to compare");
        }
        if self.batch_size == 0
            || self.ensemble == 0
            || self.concurrency == 0
            || self.tokens_to_generate == 0
        {
            return bad(
                "batch_size/ensemble/concurrency/tokens_to_generate",
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

    /// The judge model: `judge`, else the policy.
    pub fn judge_model(&self) -> &str {
        self.judge.as_deref().unwrap_or(&self.policy)
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
    pub fn result_settings(&self) -> Value {
        serde_json::json!({
            "policy": self.policy, "judge": self.judge_model(), "mode": self.mode,
            "chat_template": self.chat_template, "candidates": self.candidates,
            "temperatures": self.temperatures(), "top_k": self.top_k, "top_p": self.top_p,
            "tokens_to_generate": self.tokens_to_generate, "judge_chat_template": self.judge_chat_template, "ensemble": self.ensemble,
            "constitution": self.constitution, "seed": self.seed,
        })
    }
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
