//! Pipeline profiles: named sets of settings in `xtask/profiles.toml` (`default`, `smoke`,
//! `mistral-7b`), overridden by a `--config FILE` with the same keys, then by flags. An unknown
//! profile or key is an error that names it, before any work starts.

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

/// The profiles file, relative to the project root.
pub const PROFILES_FILE: &str = "xtask/profiles.toml";

/// The settings of one pipeline run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// The helpful model the pipeline starts from (`default` = SmolLM2-135M-Instruct).
    pub policy: String,
    /// Device of every stage.
    pub device: String,
    /// Dtype of the trained weights.
    pub dtype: String,
    /// Red-team prompts of the SL-CAI stage.
    pub limit: usize,
    /// Tokens per SL-CAI answer, critique and revision.
    pub tokens: usize,
    /// SL-CAI demonstrations before each conversation; none: all of the constitution's (NeMo).
    #[serde(default)]
    pub critique_few_shot: Option<usize>,
    /// Apply the SL-CAI repetition penalty to the prompt's tokens too (NeMo) or only to
    /// generated ones.
    #[serde(default = "yes")]
    pub critique_penalize_prompt: bool,
    /// SL-CAI system prompt before the demonstrations; none: no system message (NeMo).
    #[serde(default)]
    pub critique_system_prompt: Option<String>,
    /// SL-CAI principle choice: `random` (NeMo) or `category` (matched to the prompt).
    #[serde(default = "random")]
    pub critique_principles: String,
    /// SL-CAI revision candidates per round, the best judged by the model (1: no selection).
    #[serde(default = "one")]
    pub critique_candidates: usize,
    /// Helpfulness samples per SL-CAI sample in the SFT blend; none: all of both (NeMo).
    #[serde(default)]
    pub helpfulness_ratio: Option<f64>,
    /// SFT optimizer steps.
    pub sft_steps: usize,
    /// SFT peak learning rate; none: `crates/cai-sft/sft.example.toml`'s (NeMo's 2e-5).
    #[serde(default)]
    pub sft_lr: Option<f64>,
    /// Red-team prompts labelled by AI feedback.
    pub preference_limit: usize,
    /// Candidate answers per labelled prompt.
    pub preference_candidates: usize,
    /// Tokens per candidate.
    pub preference_tokens: usize,
    /// Labelling mode: `paper` (the default), `cot` or `nemo` (needs `judge_endpoint`).
    #[serde(default = "paper")]
    pub preference_mode: String,
    /// Labelling demonstrations shown to the judge before each question.
    #[serde(default)]
    pub preference_few_shot: usize,
    /// An OpenAI-compatible judge endpoint for labelling, calibration and the evaluation's win
    /// rates; none: the SL-CAI model judges in process.
    #[serde(default)]
    pub judge_endpoint: Option<String>,
    /// The `model` of the judge endpoint's requests.
    #[serde(default)]
    pub judge_model: Option<String>,
    /// Reward-model optimizer steps.
    pub rm_steps: usize,
    /// Pairs per reward-model optimizer step.
    pub rm_batch: usize,
    /// PPO steps.
    pub ppo_steps: usize,
    /// Prompts per PPO step.
    pub ppo_rollout_batch: usize,
    /// New tokens per PPO sample.
    pub ppo_tokens: usize,
    /// Train the policy on PPO samples that did not end (NeMo excludes them).
    pub ppo_train_unfinished: bool,
    /// Prompts per evaluation set.
    pub eval_limit: usize,
    /// Tokens per evaluation answer.
    pub eval_tokens: usize,
    /// LoRA rank of the training stages (0 = full fine-tuning).
    pub lora_rank: usize,
}

fn paper() -> String {
    "paper".into()
}

fn random() -> String {
    "random".into()
}

fn yes() -> bool {
    true
}

fn one() -> usize {
    1
}

/// Reads profile `name` from `profiles` (the TOML text of the profiles file), then applies the
/// keys of the TOML file `config` and the flag `overrides`.
pub fn resolve(
    profiles: &str,
    name: &str,
    config: Option<&Path>,
    overrides: toml::Table,
) -> Result<Profile> {
    let all: toml::Table = toml::from_str(profiles).context("parsing the profiles file")?;
    let Some(toml::Value::Table(base)) = all.get(name) else {
        let known: Vec<&str> = all.keys().map(String::as_str).collect();
        bail!("unknown profile `{name}` (one of: {})", known.join(", "));
    };
    let mut merged = base.clone();
    if let Some(path) = config {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let file: toml::Table =
            toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
        merged.extend(file);
    }
    merged.extend(overrides);
    let origin = config.map_or(String::new(), |p| format!(" with {}", p.display()));
    toml::Value::Table(merged)
        .try_into()
        .with_context(|| format!("profile `{name}`{origin}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profiles() -> String {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        std::fs::read_to_string(root.join(PROFILES_FILE)).unwrap()
    }

    #[test]
    fn every_profile_parses_and_layers_apply_in_order() {
        for name in ["default", "smoke", "mistral-7b"] {
            resolve(&profiles(), name, None, toml::Table::new()).unwrap();
        }
        let smoke = resolve(&profiles(), "smoke", None, toml::Table::new()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("mine.toml");
        std::fs::write(&file, "ppo_steps = 5\nlimit = 3\n").unwrap();
        let mut flags = toml::Table::new();
        flags.insert("limit".into(), toml::Value::Integer(4));
        let p = resolve(&profiles(), "smoke", Some(&file), flags).unwrap();
        assert_eq!((p.ppo_steps, p.limit, p.tokens), (5, 4, smoke.tokens));
    }

    #[test]
    fn unknown_profiles_and_keys_are_named() {
        let err = resolve(&profiles(), "huge", None, toml::Table::new()).unwrap_err();
        assert!(
            format!("{err:#}").contains("unknown profile `huge`"),
            "{err:#}"
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bad.toml");
        std::fs::write(&file, "ppo_stepz = 5\n").unwrap();
        let err = resolve(&profiles(), "smoke", Some(&file), toml::Table::new()).unwrap_err();
        assert!(format!("{err:#}").contains("ppo_stepz"), "{err:#}");
    }
}
