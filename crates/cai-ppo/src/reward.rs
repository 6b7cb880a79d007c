//! The reward of a sampled response: any [`Reward`] — the frozen reward model ([`ModelReward`],
//! read at the last real token, standardised with its saved statistics and clipped) or a rule
//! ([`RuleReward`], for tests and for checking that PPO learns).

use std::path::{Path, PathBuf};

use burn::module::Module;
use cai_data::reward_stats::RewardStats;
use cai_model::model::rope::RopeTables;
use cai_model::{LoadOptions, LoadedModel, ModelSpec, RewardModel, ScalarHead};

use crate::error::{PpoError, Result};

/// One response to score.
#[derive(Debug, Clone, Copy)]
pub struct Scoring<'a> {
    /// The prompt's token ids (chat-rendered, with the generation prompt).
    pub prompt: &'a [u32],
    /// The generated ids (the end token included when the sample ended).
    pub response: &'a [u32],
    /// The generated text (without the end token).
    pub text: &'a str,
    /// Whether the sample ended by itself.
    pub ended: bool,
}

impl Scoring<'_> {
    /// Generated tokens, the end token not counted.
    pub fn answer_tokens(&self) -> usize {
        self.response.len() - usize::from(self.ended && !self.response.is_empty())
    }
}

/// Anything that scores responses; higher is better.
pub trait Reward {
    /// One reward per response, in order.
    fn score(&self, batch: &[Scoring<'_>]) -> Result<Vec<f64>>;

    /// A short description for logs and the summary.
    fn describe(&self) -> String;
}

/// A rule reward (`rule:length=N`, `rule:contains=WORD`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleReward {
    /// `−|tokens − N| / N`: the answer's token count against a target.
    Length(usize),
    /// 1 when the answer contains the word (case-sensitive), else 0.
    Contains(String),
}

impl RuleReward {
    /// Parses `rule:length=N` or `rule:contains=WORD`.
    pub fn parse(spec: &str) -> Result<Self> {
        let bad = |why: &str| {
            PpoError::Config(format!(
                "reward `{spec}`: {why} (expected rule:length=N or rule:contains=WORD)"
            ))
        };
        let rule = spec
            .strip_prefix("rule:")
            .ok_or_else(|| bad("not a rule"))?;
        match rule.split_once('=') {
            Some(("length", n)) => match n.trim().parse::<usize>() {
                Ok(n) if n > 0 => Ok(Self::Length(n)),
                _ => Err(bad("the length must be a positive integer")),
            },
            Some(("contains", word)) if !word.is_empty() => Ok(Self::Contains(word.to_string())),
            Some(("contains", _)) => Err(bad("the word is empty")),
            _ => Err(bad("unknown rule")),
        }
    }
}

impl Reward for RuleReward {
    fn score(&self, batch: &[Scoring<'_>]) -> Result<Vec<f64>> {
        Ok(batch
            .iter()
            .map(|s| match self {
                Self::Length(n) => -((s.answer_tokens() as f64 - *n as f64).abs()) / *n as f64,
                Self::Contains(word) => f64::from(u8::from(s.text.contains(word.as_str()))),
            })
            .collect())
    }

    fn describe(&self) -> String {
        match self {
            Self::Length(n) => format!("rule:length={n}"),
            Self::Contains(w) => format!("rule:contains={w}"),
        }
    }
}

/// The frozen reward model: scores `prompt + response` (EOS appended when the sample did not end
/// in it, as the reward model was trained), then `(r − mean) / std` with the statistics saved
/// beside it, clipped to `±clip`.
#[derive(Debug)]
pub struct ModelReward {
    rm: RewardModel,
    rope: RopeTables,
    pad: u32,
    eos: u32,
    stats: Option<RewardStats>,
    clip: f64,
    batch: usize,
    dir: PathBuf,
}

impl ModelReward {
    /// Loads the reward model in `dir` for inference and checks it reads the policy's tokens.
    pub fn load(
        dir: &Path,
        opts: &LoadOptions,
        policy: &LoadedModel,
        clip: f64,
        batch: usize,
    ) -> Result<Self> {
        let model = LoadedModel::load(&ModelSpec::parse(&dir.to_string_lossy())?, opts)?;
        check_same_tokenizer(&model, policy, dir)?;
        let head = ScalarHead::load_hf(dir, model.config.hidden_size, &model.lm.device())?
            .ok_or_else(|| {
                PpoError::Mismatch(format!(
                    "{}: no reward head (`score.weight`); train one with `cai-rm train`",
                    dir.display()
                ))
            })?;
        let stats = RewardStats::read(dir)?;
        if stats.is_none() {
            tracing::warn!(dir = %dir.display(), "no reward_stats.json: rewards are not standardised");
        }
        Ok(Self {
            rm: RewardModel {
                lm: model.lm.valid(),
                head: head.valid(),
            },
            rope: model.rope.clone(),
            pad: model.config.pad_token_id.unwrap_or(0),
            eos: model.scored_eos_id(),
            stats,
            clip,
            batch: batch.max(1),
            dir: dir.to_path_buf(),
        })
    }

    /// The reward model's raw scores of `seqs` (each ending in EOS).
    fn raw(&self, seqs: &[Vec<u32>]) -> Vec<f64> {
        let mut out = Vec::with_capacity(seqs.len());
        for chunk in seqs.chunks(self.batch) {
            let refs: Vec<&[u32]> = chunk.iter().map(Vec::as_slice).collect();
            let rewards = self.rm.rewards(&self.rope, &refs, self.pad);
            out.extend(crate::rollout::f32s(rewards).into_iter().map(f64::from));
        }
        out
    }
}

impl Reward for ModelReward {
    fn score(&self, batch: &[Scoring<'_>]) -> Result<Vec<f64>> {
        let seqs: Vec<Vec<u32>> = batch
            .iter()
            .map(|s| {
                let mut ids = [s.prompt, s.response].concat();
                if ids.last() != Some(&self.eos) {
                    ids.push(self.eos);
                }
                ids
            })
            .collect();
        Ok(self
            .raw(&seqs)
            .into_iter()
            .map(|r| {
                let r = match self.stats {
                    Some(s) if s.std > 0.0 => (r - s.mean) / s.std,
                    _ => r,
                };
                if self.clip > 0.0 {
                    r.clamp(-self.clip, self.clip)
                } else {
                    r
                }
            })
            .collect())
    }

    fn describe(&self) -> String {
        format!("reward model {}", self.dir.display())
    }
}

/// Fails unless `rm` tokenizes text as `policy` does and ends sequences with the same EOS.
fn check_same_tokenizer(rm: &LoadedModel, policy: &LoadedModel, dir: &Path) -> Result<()> {
    let probe = "Hello, world! Ünïcode 123 — can you help?\n";
    let same_vocab = rm.config.vocab_size == policy.config.vocab_size;
    let same_ids = rm.tokenizer.encode_raw(probe)? == policy.tokenizer.encode_raw(probe)?;
    let same_eos = rm.scored_eos_id() == policy.scored_eos_id();
    if same_vocab && same_ids && same_eos {
        return Ok(());
    }
    Err(PpoError::Mismatch(format!(
        "reward model {} uses another tokenizer than the policy (vocabulary {} vs {}, same ids \
         for a probe text: {same_ids}, same EOS: {same_eos}); train the reward model from the \
         policy's family",
        dir.display(),
        rm.config.vocab_size,
        policy.config.vocab_size
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scoring<'a>(response: &'a [u32], text: &'a str, ended: bool) -> Scoring<'a> {
        Scoring {
            prompt: &[1, 2],
            response,
            text,
            ended,
        }
    }

    #[test]
    fn rules_parse_and_score_as_the_contract_says() {
        let length = RuleReward::parse("rule:length=4").unwrap();
        let ended = [5, 6, 7, 8, 2];
        let cut = [5, 6];
        let r = length
            .score(&[scoring(&ended, "", true), scoring(&cut, "", false)])
            .unwrap();
        assert_eq!(r, [0.0, -0.5]);
        let contains = RuleReward::parse("rule:contains=sorry").unwrap();
        let r = contains
            .score(&[
                scoring(&cut, "I am sorry.", true),
                scoring(&cut, "Sorry!", true),
            ])
            .unwrap();
        assert_eq!(r, [1.0, 0.0]);
        for bad in [
            "length=3",
            "rule:length=0",
            "rule:length=x",
            "rule:contains=",
            "rule:size=3",
        ] {
            assert!(RuleReward::parse(bad).is_err(), "{bad}");
        }
    }
}
