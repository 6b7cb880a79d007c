//! Stage configuration: NeMo's SL-CAI defaults, overridden by a TOML file, overridden by flags.
//!
//! Layers are merged as JSON values (defaults ← file ← flags, `cai_cli::layered`) and deserialised
//! once, so every field has exactly one definition here; a key that is not a field at any level is
//! an error naming it.

use std::path::{Path, PathBuf};

use cai_client::RemoteApi;
use cai_model::SamplingParams;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{CritiqueError, Result};
use crate::filter::PrefixRule;

/// Everything one run of the stage needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Model: `.gguf`, Hugging Face directory, `hf:REPO[@REV]` or `default` (SmolLM2).
    pub model: String,
    /// Chat template override (`mistral`, `nemo`, `chatml` or a Jinja file); none = the model's own.
    pub chat_template: Option<String>,
    /// Device of the in-process engine (`cpu`, `cuda:N`).
    pub device: String,
    /// Compute dtype of the in-process engine (`f32`, `bf16`, `f16`).
    pub dtype: String,
    /// Remote servers to generate with (cai-serve, vLLM, TGI, …); empty = the in-process engine.
    /// Batches are spread over them in parallel and requests go round-robin.
    pub endpoints: Vec<String>,
    /// The API the endpoints speak.
    pub api: RemoteApi,
    /// Environment variable holding the endpoints' bearer token (unset or empty: none).
    pub api_key_env: String,
    /// `model` field of OpenAI requests (ignored by cai-serve, needed by vLLM and hosted APIs).
    pub remote_model: String,
    /// Requests in flight per endpoint.
    pub concurrency: usize,
    /// Timeout of one HTTP request to an endpoint, in seconds (queueing included).
    pub request_timeout_secs: u64,
    /// Red-team prompts in any layout cai-data reads; none = the built-in corpus.
    pub prompts: Option<PathBuf>,
    /// Helpfulness chats (NeMo chat, HF messages or hh-rlhf pairs); none = the built-in corpus.
    pub helpfulness: Option<PathBuf>,
    /// Constitution files, merged in order; empty = the built-in constitution.
    pub constitution: Vec<PathBuf>,
    /// Output directory.
    pub out: PathBuf,
    /// Use only the first N prompts.
    pub limit: Option<usize>,
    /// Critique → revision rounds per prompt (NeMo: 1; the paper: up to 4).
    pub rounds: usize,
    /// How each round's principle is chosen: uniformly from all (`random`, NeMo and the paper) or
    /// from those whose `categories` list the prompt's category (`category`; all when none does).
    pub principle_choice: PrincipleChoice,
    /// Revisions generated per round; above 1 the model itself judges them against the principle
    /// (the CAI paper's (A)/(B) prompt, both orders, teacher-forced) and keeps the best. The first
    /// uses `sampling`, the others `candidate_temperature`. In-process engine only.
    pub revision_candidates: usize,
    /// Temperature of the extra revision candidates.
    pub candidate_temperature: f32,
    /// Leave out samples whose final revision hit `tokens_to_generate` (cut off mid-text).
    pub drop_truncated: bool,
    /// Leave out samples whose final revision shares no content word with the prompt
    /// (`cai_data::answer::on_topic`).
    pub drop_off_topic: bool,
    /// Seed of principle sampling, per-request sampler seeds and the blend shuffle.
    pub seed: u64,
    /// Prompts per generator call.
    pub batch_size: usize,
    /// Use only the first N demonstrations of the constitution; none = all (NeMo).
    pub few_shot: Option<usize>,
    /// System message put before the demonstrations; none = no system message.
    pub system_prompt: Option<String>,
    /// Drop SFT samples longer than this many tokens (rendered with the chat template); 0 = no limit.
    pub max_seq_length: usize,
    /// Helpfulness samples per SL-CAI sample in the blend; none = all of both (NeMo).
    pub helpfulness_ratio: Option<f64>,
    /// What to do with revisions that start with "Here is a revised response:"-style prefixes.
    pub prefix_rule: PrefixRule,
    /// Also write the SFT files as Hugging Face `{"messages": …}` JSONL.
    pub hf_messages: bool,
    /// Generation settings (every NeMo `/generate` parameter).
    pub sampling: SamplingParams,
}

impl Default for Config {
    /// NeMo-Aligner's `generate_sl_cai_dataset.py` defaults (§3.1 of the reference).
    fn default() -> Self {
        Self {
            model: "default".into(),
            chat_template: None,
            device: if cfg!(feature = "cuda") {
                "cuda"
            } else {
                "cpu"
            }
            .into(),
            dtype: "f32".into(),
            endpoints: Vec::new(),
            api: RemoteApi::Nemo,
            api_key_env: "CAI_API_KEY".into(),
            remote_model: "default".into(),
            concurrency: 8,
            request_timeout_secs: 600,
            prompts: None,
            helpfulness: None,
            constitution: Vec::new(),
            out: PathBuf::from("critique-out"),
            limit: None,
            rounds: 1,
            principle_choice: PrincipleChoice::Random,
            revision_candidates: 1,
            candidate_temperature: 0.7,
            drop_truncated: true,
            drop_off_topic: true,
            seed: 1234,
            batch_size: 32,
            few_shot: None,
            system_prompt: None,
            max_seq_length: 4096,
            helpfulness_ratio: None,
            prefix_rule: PrefixRule::Strip,
            hf_messages: false,
            sampling: nemo_sl_sampling(),
        }
    }
}

/// How a round's principle is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PrincipleChoice {
    /// Uniformly from every principle (NeMo, the paper).
    Random,
    /// Uniformly from the principles listing the prompt's category; all when none does.
    Category,
}

/// NeMo's SL-CAI generation settings: greedy, `top_k` 1, `top_p` 0.9, repetition penalty 1.2, at
/// least 1 and at most 1024 new tokens.
pub fn nemo_sl_sampling() -> SamplingParams {
    SamplingParams {
        greedy: true,
        temperature: 1.0,
        top_k: 1,
        top_p: 0.9,
        min_p: 0.0,
        repetition_penalty: 1.2,
        min_tokens_to_generate: 1,
        tokens_to_generate: 1024,
        end_strings: Vec::new(),
        random_seed: None,
        ignore_eos: false,
        penalize_prompt: true,
    }
}

impl Config {
    /// Defaults, then the TOML file at `path` (if any), then `overrides` (a JSON object of flags).
    pub fn load(path: Option<&Path>, overrides: Value) -> Result<Self> {
        let config = cai_cli::load_layered(&Self::default(), path, overrides)
            .map_err(|e| CritiqueError::config(e.origin, e.reason))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks ranges; the message names the field.
    pub fn validate(&self) -> Result<()> {
        let bad = |field: &str, reason: String| Err(CritiqueError::config(field, reason));
        if self.rounds == 0 {
            return bad("rounds", "must be at least 1".into());
        }
        if self.revision_candidates == 0 {
            return bad("revision_candidates", "must be at least 1".into());
        }
        if !(self.candidate_temperature > 0.0 && self.candidate_temperature.is_finite()) {
            return bad(
                "candidate_temperature",
                format!("must be > 0, got {}", self.candidate_temperature),
            );
        }
        if self.revision_candidates > 1 && !self.endpoints.is_empty() {
            return bad(
                "revision_candidates",
                "best-of-n revisions are judged by the in-process model: not with endpoints".into(),
            );
        }
        if self.batch_size == 0 {
            return bad("batch_size", "must be at least 1".into());
        }
        if self.concurrency == 0 {
            return bad("concurrency", "must be at least 1".into());
        }
        if self.request_timeout_secs == 0 {
            return bad("request_timeout_secs", "must be at least 1".into());
        }
        if let Some(e) = self.endpoints.iter().find(|e| e.trim().is_empty()) {
            return bad("endpoints", format!("empty endpoint `{e}`"));
        }
        if self.limit == Some(0) {
            return bad(
                "limit",
                "must be at least 1 (omit it for all prompts)".into(),
            );
        }
        if let Some(r) = self.helpfulness_ratio
            && !(r.is_finite() && r >= 0.0)
        {
            return bad("helpfulness_ratio", format!("must be ≥ 0, got {r}"));
        }
        if let Err(e) = cai_cli::check_output_dir("out (--out)", &self.out) {
            return bad("out", format!("{}: {}", e.dir, e.reason));
        }
        self.sampling
            .validate()
            .map_err(|e| CritiqueError::config("sampling", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn write_toml(text: &str) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), text).unwrap();
        file
    }

    #[test]
    fn defaults_are_nemo_sl_settings() {
        let c = Config::load(None, json!({})).unwrap();
        assert!(c.sampling.greedy);
        assert_eq!(c.sampling.repetition_penalty, 1.2);
        assert_eq!(c.sampling.tokens_to_generate, 1024);
        assert_eq!((c.rounds, c.seed, c.batch_size), (1, 1234, 32));
        assert_eq!(c.helpfulness_ratio, None);
    }

    #[test]
    fn flags_override_file_which_overrides_defaults_field_by_field() {
        let file = write_toml(
            "rounds = 3\nseed = 7\n[sampling]\ntokens_to_generate = 64\ntemperature = 0.5\n",
        );
        let flags = json!({"rounds": 2, "sampling": {"greedy": false}});
        let c = Config::load(Some(file.path()), flags).unwrap();
        assert_eq!((c.rounds, c.seed), (2, 7));
        assert_eq!(c.sampling.tokens_to_generate, 64);
        assert_eq!(c.sampling.temperature, 0.5);
        assert!(!c.sampling.greedy);
        // Untouched sampling fields keep NeMo's values, not SamplingParams::default().
        assert_eq!(c.sampling.repetition_penalty, 1.2);
    }

    #[test]
    fn unknown_keys_are_errors_at_every_level() {
        let file = write_toml("[sampling]\ntop_kk = 3\n");
        let err = Config::load(Some(file.path()), json!({}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("sampling.top_kk"), "{err}");
        let err = Config::load(None, json!({"roundz": 1}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("roundz") && err.contains("flags"), "{err}");
    }

    #[test]
    fn the_documented_config_is_valid_and_states_the_defaults() {
        let doc = include_str!("../../../docs/stages/critique.md");
        let start = doc.find("```toml\n").expect("a toml block") + "```toml\n".len();
        let block = &doc[start..start + doc[start..].find("```").unwrap()];
        let file = write_toml(block);
        assert_eq!(
            Config::load(Some(file.path()), json!({})).unwrap(),
            Config::default()
        );
    }

    #[test]
    fn invalid_values_name_the_field() {
        let err = Config::load(None, json!({"rounds": 0}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("rounds"), "{err}");
        let err = Config::load(None, json!({"sampling": {"top_p": 0.0}}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("top_p"), "{err}");
        let err = Config::load(None, json!({"concurrency": 0}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("concurrency"), "{err}");
    }

    #[test]
    fn endpoints_and_api_come_from_the_file_or_flags() {
        let file = write_toml(
            "endpoints = [\"http://a:5555\", \"http://b:5555\"]\napi = \"openai\"\nremote_model = \"m\"\n",
        );
        let c = Config::load(Some(file.path()), json!({"concurrency": 2})).unwrap();
        assert_eq!(c.endpoints, ["http://a:5555", "http://b:5555"]);
        assert_eq!((c.api, c.remote_model.as_str()), (RemoteApi::OpenAi, "m"));
        assert_eq!(c.concurrency, 2);
        let c = Config::load(
            Some(file.path()),
            json!({"endpoints": ["http://c"], "api": "nemo"}),
        )
        .unwrap();
        assert_eq!(
            (c.endpoints, c.api),
            (vec!["http://c".to_string()], RemoteApi::Nemo)
        );
        let err = Config::load(None, json!({"api": "tgi"}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("tgi"), "{err}");
    }
}
