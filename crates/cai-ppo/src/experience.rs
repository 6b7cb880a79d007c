//! From scored rollouts to training targets: per-token KL to the reference, token rewards (the
//! sequence reward at the last generated token, `−β·kl_t` everywhere when the penalty is in the
//! reward), advantages and returns, and the rollout metrics NeMo logs.

use serde::Serialize;

use crate::advantage::{self, Estimator, mean_std};
use crate::kl::{KlEstimator, KlPlacement};
use crate::rollout::Sample;

/// How rewards become advantages.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shaping {
    /// Advantage estimator.
    pub estimator: Estimator,
    /// Discount γ.
    pub gamma: f64,
    /// GAE λ.
    pub lambda: f64,
    /// Whiten GAE advantages.
    pub normalize: bool,
    /// KL estimator.
    pub kl_estimator: KlEstimator,
    /// Where the KL penalty goes.
    pub placement: KlPlacement,
    /// KL coefficient β of this step.
    pub beta: f64,
    /// Samples per prompt (consecutive in the rollout).
    pub group: usize,
    /// Added to the reward of samples that did not end.
    pub unfinished_penalty: f64,
}

/// A rollout ready to train on; per-sample vectors run over the response tokens.
#[derive(Debug, Clone)]
pub struct Experience {
    /// The samples.
    pub samples: Vec<Sample>,
    /// Log-probs under the rollout policy (teacher-forced).
    pub old_logprobs: Vec<Vec<f32>>,
    /// Log-probs under the reference policy.
    pub ref_logprobs: Vec<Vec<f32>>,
    /// The critic's values (empty without a critic).
    pub values: Vec<Vec<f32>>,
    /// The reward of each sample (penalty for not ending included).
    pub scores: Vec<f64>,
    /// Per-token KL estimate to the reference.
    pub kl: Vec<Vec<f64>>,
    /// Per-token rewards.
    pub token_rewards: Vec<Vec<f64>>,
    /// Per-token advantages (whitened with GAE when asked).
    pub advantages: Vec<Vec<f64>>,
    /// Per-token returns (GAE only).
    pub returns: Vec<Vec<f64>>,
}

/// NeMo's `train_rollouts/*` metrics of one rollout.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct RolloutStats {
    /// Samples.
    pub rollout_size: f64,
    /// Mean total length (prompt + response).
    pub response_lengths: f64,
    /// Mean prompt length.
    pub prompt_lengths: f64,
    /// Mean generated tokens.
    pub generation_length: f64,
    /// Mean reward.
    pub rewards: f64,
    /// Fraction of samples that ended.
    pub fraction_of_samples_properly_ended: f64,
    /// Per-sample mean KL to the reference, averaged.
    pub init_policy_kl: f64,
    /// Per-sample mean token reward, averaged.
    pub rewards_with_kl: f64,
    /// Advantages before whitening.
    pub advantages_mean: f64,
    /// Advantages before whitening.
    pub advantages_std: f64,
    /// Returns (GAE).
    pub returns_mean: f64,
    /// Returns (GAE).
    pub returns_std: f64,
    /// Critic values (GAE).
    pub values_mean: f64,
    /// Critic values (GAE).
    pub values_std: f64,
}

/// Token rewards of one sample: `−β·kl_t` on every token when the penalty is in the reward, plus
/// `score` on the last generated token.
pub fn token_rewards(score: f64, kl: &[f64], beta: f64, placement: KlPlacement) -> Vec<f64> {
    let mut r: Vec<f64> = match placement {
        KlPlacement::Reward => kl.iter().map(|k| -beta * k).collect(),
        KlPlacement::Loss => vec![0.0; kl.len()],
    };
    if let Some(last) = r.last_mut() {
        *last += score;
    }
    r
}

/// One sample's token rewards in NeMo's `[S − 1]` layout (index `t` is the log-prob of token
/// `t + 1`), for a sequence padded to `width + 1` tokens: response token `j` sits at
/// `prompt_len − 1 + j`, so the sequence reward lands at `response_length − 2`.
pub fn nemo_layout(prompt_len: usize, per_token: &[f64], width: usize) -> Vec<f64> {
    let mut row = vec![0.0; width];
    for (j, &r) in per_token.iter().enumerate() {
        row[prompt_len - 1 + j] = r;
    }
    row
}

/// A scored rollout's per-token KL to the reference, its scores (the penalty for not ending
/// added) and its token rewards, as [`assemble`] shapes them.
pub struct ShapedRewards {
    /// Per-token KL estimate to the reference.
    pub kl: Vec<Vec<f64>>,
    /// The reward of each sample (penalty for not ending included).
    pub scores: Vec<f64>,
    /// Per-token rewards.
    pub token_rewards: Vec<Vec<f64>>,
}

/// The KL, scores and token rewards of `samples` from their log-probs and raw scores.
pub fn shape_rewards(
    samples: &[Sample],
    old_logprobs: &[Vec<f32>],
    ref_logprobs: &[Vec<f32>],
    raw_scores: &[f64],
    s: Shaping,
) -> ShapedRewards {
    let kl: Vec<Vec<f64>> = old_logprobs
        .iter()
        .zip(ref_logprobs)
        .map(|(old, reference)| {
            old.iter()
                .zip(reference)
                .map(|(&o, &r)| s.kl_estimator.value(o as f64 - r as f64))
                .collect()
        })
        .collect();
    let scores: Vec<f64> = samples
        .iter()
        .zip(raw_scores)
        .map(|(sample, &r)| {
            if sample.ended {
                r
            } else {
                r + s.unfinished_penalty
            }
        })
        .collect();
    let token_rewards: Vec<Vec<f64>> = scores
        .iter()
        .zip(&kl)
        .map(|(&score, kl)| token_rewards(score, kl, s.beta, s.placement))
        .collect();
    ShapedRewards {
        kl,
        scores,
        token_rewards,
    }
}

/// Builds the experience of a scored rollout.
pub fn assemble(
    samples: Vec<Sample>,
    old_logprobs: Vec<Vec<f32>>,
    ref_logprobs: Vec<Vec<f32>>,
    values: Vec<Vec<f32>>,
    raw_scores: &[f64],
    s: Shaping,
) -> (Experience, RolloutStats) {
    let ShapedRewards {
        kl,
        scores,
        token_rewards,
    } = shape_rewards(&samples, &old_logprobs, &ref_logprobs, raw_scores, s);
    let (mut advantages, returns) = match s.estimator {
        Estimator::Gae => {
            let (a, r): (Vec<_>, Vec<_>) = token_rewards
                .iter()
                .zip(&values)
                .map(|(r, v)| {
                    let v: Vec<f64> = v.iter().map(|&x| x as f64).collect();
                    advantage::gae(r, &v, s.gamma, s.lambda)
                })
                .unzip();
            (a, r)
        }
        Estimator::Rloo | Estimator::Grpo => {
            let totals: Vec<f64> = token_rewards.iter().map(|r| r.iter().sum()).collect();
            let per_sample = match s.estimator {
                Estimator::Rloo => advantage::rloo(&totals, s.group),
                _ => advantage::grpo(&totals, s.group),
            };
            let a = per_sample
                .iter()
                .zip(&token_rewards)
                .map(|(&a, r)| vec![a; r.len()])
                .collect();
            (a, Vec::new())
        }
    };
    let flat = |v: &[Vec<f64>]| mean_std(v.iter().flatten().copied());
    let (advantages_mean, advantages_std) = flat(&advantages);
    let (returns_mean, returns_std) = flat(&returns);
    let (values_mean, values_std) = mean_std(values.iter().flatten().map(|&v| v as f64));
    if s.estimator == Estimator::Gae && s.normalize {
        advantage::whiten(&mut advantages);
    }
    let n = samples.len().max(1) as f64;
    let mean = |f: &dyn Fn(usize) -> f64| (0..samples.len()).map(f).sum::<f64>() / n;
    let per_token_mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let stats = RolloutStats {
        rollout_size: samples.len() as f64,
        response_lengths: mean(&|i| {
            (samples[i].prompt_ids.len() + samples[i].response.len()) as f64
        }),
        prompt_lengths: mean(&|i| samples[i].prompt_ids.len() as f64),
        generation_length: mean(&|i| samples[i].response.len() as f64),
        rewards: mean(&|i| raw_scores[i]),
        fraction_of_samples_properly_ended: mean(&|i| f64::from(u8::from(samples[i].ended))),
        init_policy_kl: mean(&|i| per_token_mean(&kl[i])),
        rewards_with_kl: mean(&|i| per_token_mean(&token_rewards[i])),
        advantages_mean,
        advantages_std,
        returns_mean,
        returns_std,
        values_mean,
        values_std,
    };
    let experience = Experience {
        samples,
        old_logprobs,
        ref_logprobs,
        values,
        scores,
        kl,
        token_rewards,
        advantages,
        returns,
    };
    (experience, stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// nemo-cai.md §15.9: response lengths 5 and 8 put the rewards at indices 3 and 6 of the
    /// `[B, S − 1]` tensor; every other response position carries `−β·kl`.
    #[test]
    fn the_sequence_reward_lands_on_the_last_generated_token() {
        let beta = 0.1;
        let rows: Vec<Vec<f64>> = [(2usize, 5usize, 1.0), (3, 8, -2.0)]
            .iter()
            .map(|&(prompt, total, rm)| {
                let kl = vec![0.5; total - prompt];
                nemo_layout(
                    prompt,
                    &token_rewards(rm, &kl, beta, KlPlacement::Reward),
                    7,
                )
            })
            .collect();
        assert_eq!(rows[0][3], 1.0 - 0.05);
        assert_eq!(rows[1][6], -2.0 - 0.05);
        assert_eq!(&rows[0][1..3], &[-0.05, -0.05]);
        assert_eq!(rows[0][0], 0.0);
        assert_eq!(rows[0][4..], [0.0; 3]);
        // With the penalty in the loss, only the sequence reward is left.
        assert_eq!(
            token_rewards(1.0, &[0.5, 0.5], beta, KlPlacement::Loss),
            [0.0, 1.0]
        );
    }
}
