//! The updates of one PPO step: for each epoch, the rollout shuffled into minibatches, one
//! optimizer step of the actor (clipped surrogate, KL term when it is in the loss, optional
//! entropy bonus) and one of the critic (clipped value loss) per minibatch, each accumulated over
//! micro-batches through `cai_train::accumulated_step`.
//!
//! Losses are token means over the minibatch (NeMo's `masked_mean`); tokens of samples that did
//! not end get no policy gradient unless asked, but the critic learns from every token.

use burn::optim::ModuleOptimizer;
use burn::tensor::activation::log_softmax;
use burn::tensor::{DType, Tensor, TensorData};
use cai_model::model::rope::RopeTables;
use cai_model::{CausalLm, RewardModel};
use cai_train::{LogprobOptions, accumulated_step, token_logprobs, weighted_token_nll};

use crate::advantage::gae;
use crate::experience::Experience;
use crate::kl::{KlEstimator, KlPlacement};
use crate::objective::{ClipSettings, clipped_term};
use crate::rollout::{Packed, Sample, f32s, response_rows};

/// What the actor's loss needs besides the experience.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ActorLoss {
    /// Ratio clipping.
    pub clip: ClipSettings,
    /// Sampling temperature (the log-probs are taken at it).
    pub temperature: f32,
    /// KL estimator (for the penalty as a loss term).
    pub kl_estimator: KlEstimator,
    /// Where the KL penalty goes.
    pub placement: KlPlacement,
    /// KL coefficient β.
    pub beta: f64,
    /// Entropy bonus (0 = entropy not computed).
    pub entropy_bonus: f64,
    /// Train on samples that did not end.
    pub train_unfinished: bool,
    /// A ratio above this (or below its inverse) counts as an outlier.
    pub ratio_outlier: f64,
}

/// Sums over the policy tokens of a step's actor updates (NeMo's `train_optim/*`).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ActorStats {
    /// Optimizer steps taken.
    pub steps: usize,
    /// Sum of minibatch losses.
    pub loss: f64,
    /// Sum of gradient norms.
    pub grad_norm: f64,
    /// Policy tokens seen.
    pub tokens: usize,
    /// Sum of ratios.
    pub ratio: f64,
    /// Sum of clamped ratios.
    pub ratio_clamped: f64,
    /// Tokens whose gradient a clip removed.
    pub clipped: usize,
    /// Ratios outside `[1/b, b]`.
    pub outliers: usize,
    /// Largest `|ρ − 1|`.
    pub ratio_max_deviation: f64,
    /// Sum of the k3 estimate of KL(old ‖ new).
    pub approx_kl: f64,
    /// Sum of the entropies (when computed).
    pub entropy: f64,
    /// Minibatches without a policy token (no step taken).
    pub skipped: usize,
}

impl ActorStats {
    /// Per-token (or per-step) means, named as NeMo logs them.
    pub fn metrics(&self) -> Vec<(&'static str, f64)> {
        let t = self.tokens.max(1) as f64;
        let s = self.steps.max(1) as f64;
        vec![
            ("loss", self.loss / s),
            ("grad_norm", self.grad_norm / s),
            ("ppo_ratio", self.ratio / t),
            ("ppo_ratio_clamped", self.ratio_clamped / t),
            ("ppo_ratio_max_deviation", self.ratio_max_deviation),
            ("clip_fraction", self.clipped as f64 / t),
            ("ratio_outlier_fraction", self.outliers as f64 / t),
            ("approx_kl", self.approx_kl / t),
            ("entropy", self.entropy / t),
            ("skipped_minibatches", self.skipped as f64),
        ]
    }
}

/// Sums over a step's critic updates.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CriticStats {
    /// Optimizer steps taken.
    pub steps: usize,
    /// Sum of minibatch losses.
    pub loss: f64,
    /// Sum of gradient norms.
    pub grad_norm: f64,
}

/// Whether sample `i` takes part in the policy loss.
fn trains_policy(exp: &Experience, i: usize, loss: &ActorLoss) -> bool {
    loss.train_unfinished || exp.samples[i].ended
}

/// One actor optimizer step on minibatch `mini` (sample indices), `micro` samples per pass.
/// Returns the updated actor; a minibatch without a policy token takes no step.
#[allow(clippy::too_many_arguments)]
pub fn actor_step(
    actor: CausalLm,
    optim: &mut ModuleOptimizer,
    rope: &RopeTables,
    exp: &Experience,
    mini: &[usize],
    micro: usize,
    lr: f64,
    max_grad_norm: f64,
    pad: u32,
    loss: &ActorLoss,
    stats: &mut ActorStats,
) -> CausalLm {
    let active: Vec<usize> = mini
        .iter()
        .copied()
        .filter(|&i| trains_policy(exp, i, loss))
        .collect();
    let tokens: usize = active.iter().map(|&i| exp.samples[i].response.len()).sum();
    if tokens == 0 {
        stats.skipped += 1;
        return actor;
    }
    let micro_batches: Vec<&[usize]> = active.chunks(micro.max(1)).collect();
    // accumulated_step scales each micro-batch by 1/len; the token mean is over the minibatch.
    let scale = micro_batches.len() as f64 / tokens as f64;
    let mut opts = LogprobOptions::for_model(&actor);
    opts.temperature = loss.temperature;
    let outcome = accumulated_step(
        actor,
        optim,
        &micro_batches,
        lr,
        max_grad_norm,
        |lm, batch| actor_loss(lm, rope, exp, batch, scale, opts, pad, loss, stats),
    );
    stats.steps += 1;
    stats.loss += outcome.loss;
    stats.grad_norm += outcome.grad_norm;
    outcome.module
}

/// The actor's loss on the samples `batch` of `exp`, each token weighted `scale` (`1 / tokens`
/// of the minibatch, times the micro-batches when accumulating), with its gradient exact; the
/// token statistics are added to `stats`.
#[allow(clippy::too_many_arguments)]
pub fn actor_loss(
    lm: &CausalLm,
    rope: &RopeTables,
    exp: &Experience,
    batch: &[usize],
    scale: f64,
    opts: LogprobOptions,
    pad: u32,
    loss: &ActorLoss,
    stats: &mut ActorStats,
) -> Tensor<1> {
    let samples: Vec<&_> = batch.iter().map(|&i| &exp.samples[i]).collect();
    let packed = Packed::new(&samples);
    let rows = response_rows(lm, rope, &packed, pad);
    let new = token_logprobs(lm, rows.clone(), &packed.targets, opts);
    let mut weights = Vec::with_capacity(new.len());
    let mut value = 0.0;
    let mut at = 0;
    for &i in batch.iter() {
        for j in 0..exp.samples[i].response.len() {
            let logp = new[at] as f64;
            let old = exp.old_logprobs[i][j] as f64;
            let term = clipped_term(logp, old, exp.advantages[i][j], loss.clip);
            let (mut l, mut g) = (term.loss, term.grad);
            if loss.placement == KlPlacement::Loss && loss.beta > 0.0 {
                let d = logp - exp.ref_logprobs[i][j] as f64;
                l += loss.beta * loss.kl_estimator.value(d);
                g += loss.beta * loss.kl_estimator.grad(d);
            }
            value += l;
            // weighted_token_nll differentiates Σ w·(−logp): w = −∂loss/∂logp.
            weights.push(-g * scale);
            stats.tokens += 1;
            stats.ratio += term.ratio;
            stats.ratio_clamped += term.clamped_ratio;
            stats.ratio_max_deviation = stats.ratio_max_deviation.max((term.ratio - 1.0).abs());
            stats.clipped += usize::from(term.clipped);
            let b = loss.ratio_outlier;
            stats.outliers += usize::from(term.ratio > b || term.ratio < 1.0 / b);
            stats.approx_kl += KlEstimator::K3.value(old - logp);
            at += 1;
        }
    }
    let nll = weighted_token_nll(lm, rows.clone(), &packed.targets, &weights, opts).loss;
    let mut total = nll.clone() - nll.inner() + value * scale;
    if loss.entropy_bonus > 0.0 {
        let (bonus, entropy) = entropy_term(lm, rows, loss.temperature);
        stats.entropy += entropy;
        total = total - bonus * (loss.entropy_bonus * scale);
    }
    total
}

/// The summed entropy of the policy at `rows` (differentiable, through full logits) and its value.
fn entropy_term(lm: &CausalLm, rows: Tensor<2>, temperature: f32) -> (Tensor<1>, f64) {
    let [n, d] = rows.dims();
    let logits = lm.logits(rows.reshape([1, n, d]));
    let vocab = logits.dims()[2];
    let logp = log_softmax(
        logits.reshape([n, vocab]).cast(DType::F32) / temperature as f64,
        1,
    );
    let entropy = -(logp.clone().exp() * logp).sum();
    let value = entropy.clone().into_scalar::<f32>() as f64;
    (entropy, value)
}

/// One critic optimizer step on minibatch `mini`: `0.5 · mean(max((V_c − R)², (V − R)²))` over
/// every response token, `V_c = V_old + clip(V − V_old, ±c)`.
pub fn critic_step(
    critic: RewardModel,
    optim: &mut ModuleOptimizer,
    rope: &RopeTables,
    exp: &Experience,
    mini: &[usize],
    update: &CriticUpdate,
    stats: &mut CriticStats,
) -> RewardModel {
    let tokens: usize = mini.iter().map(|&i| exp.samples[i].response.len()).sum();
    update.run(critic, optim, mini, tokens, stats, |c, batch, scale| {
        critic_loss(c, rope, exp, batch, scale, update.pad, update.value_clip)
    })
}

/// How a critic step is taken.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CriticUpdate {
    /// Samples per forward and backward pass.
    pub micro: usize,
    /// Learning rate of the step.
    pub lr: f64,
    /// Global-norm clipping of the gradients (0 = off).
    pub max_grad_norm: f64,
    /// Padding token id.
    pub pad: u32,
    /// Value clipping `c`.
    pub value_clip: f64,
}

impl CriticUpdate {
    /// One optimizer step over minibatch `mini` (`tokens` response tokens), micro-batch by
    /// micro-batch, each micro-batch's loss from `loss(critic, batch, scale)`; `scale` makes the
    /// accumulated loss a token mean over the minibatch.
    fn run(
        &self,
        critic: RewardModel,
        optim: &mut ModuleOptimizer,
        mini: &[usize],
        tokens: usize,
        stats: &mut CriticStats,
        mut loss: impl FnMut(&RewardModel, &[usize], f64) -> Tensor<1>,
    ) -> RewardModel {
        let micro_batches: Vec<&[usize]> = mini.chunks(self.micro.max(1)).collect();
        let scale = micro_batches.len() as f64 / tokens.max(1) as f64;
        let outcome = accumulated_step(
            critic,
            optim,
            &micro_batches,
            self.lr,
            self.max_grad_norm,
            |c, batch| loss(c, batch, scale),
        );
        stats.steps += 1;
        stats.loss += outcome.loss;
        stats.grad_norm += outcome.grad_norm;
        outcome.module
    }
}

/// The critic's clipped value loss on the samples `batch` of `exp`, each token weighted `scale`.
pub fn critic_loss(
    c: &RewardModel,
    rope: &RopeTables,
    exp: &Experience,
    batch: &[usize],
    scale: f64,
    pad: u32,
    value_clip: f64,
) -> Tensor<1> {
    let samples: Vec<&_> = batch.iter().map(|&i| &exp.samples[i]).collect();
    let packed = Packed::new(&samples);
    let v = c
        .values(rope, &packed.seq_refs(), pad, &packed.picks)
        .cast(DType::F32);
    let old: Vec<f32> = batch.iter().flat_map(|&i| exp.values[i].clone()).collect();
    let returns = batch.iter().flat_map(|&i| &exp.returns[i]);
    let returns: Vec<f32> = returns.map(|&r| r as f32).collect();
    clipped_value_loss(v, old, returns, scale, value_clip)
}

/// `0.5 · scale · Σ max((V_c − R)², (V − R)²)` with `V_c = V_old + clip(V − V_old, ±c)`, for the
/// values `v` (with their graph) against the old values and the returns, token by token.
fn clipped_value_loss(
    v: Tensor<1>,
    old: Vec<f32>,
    returns: Vec<f32>,
    scale: f64,
    value_clip: f64,
) -> Tensor<1> {
    let device = v.device();
    let column = |flat: Vec<f32>| {
        let n = flat.len();
        Tensor::<1>::from_data(TensorData::new(flat, [n]), &device)
    };
    let (old, returns) = (column(old), column(returns));
    let clipped = old.clone() + (v.clone() - old).clamp(-value_clip, value_clip);
    let loss = (clipped - returns.clone())
        .powi_scalar(2)
        .max_pair((v - returns).powi_scalar(2));
    loss.sum() * (0.5 * scale)
}

/// What the critic's first update of a step needs to give the rollout's values as well: the
/// samples' token rewards and GAE's γ and λ.
#[derive(Debug, Clone, Copy)]
pub struct ValueTargets<'a> {
    /// Per-token rewards of each sample ([`crate::experience::token_rewards`]).
    pub token_rewards: &'a [Vec<f64>],
    /// Discount γ.
    pub gamma: f64,
    /// GAE λ.
    pub lambda: f64,
}

/// [`rollout::values`](crate::rollout::values) and then [`critic_step`] on minibatch `mini`, in
/// one forward pass: when the critic's update runs at the weights the rollout's values are taken
/// under (its first minibatch of a step), each micro-batch's forward gives the values, GAE turns
/// them and the token rewards into returns, and the value loss (unclipped there, since `V` is
/// `V_old`) backpropagates through the same forward. Returns the updated critic and the values of
/// every sample of `samples` (`mini` must cover them all).
#[allow(clippy::too_many_arguments)]
pub fn critic_step_with_values(
    critic: RewardModel,
    optim: &mut ModuleOptimizer,
    rope: &RopeTables,
    samples: &[Sample],
    targets: ValueTargets<'_>,
    mini: &[usize],
    update: &CriticUpdate,
    stats: &mut CriticStats,
) -> (RewardModel, Vec<Vec<f32>>) {
    let mut values = vec![Vec::new(); samples.len()];
    let tokens: usize = mini.iter().map(|&i| samples[i].response.len()).sum();
    let (pad, value_clip) = (update.pad, update.value_clip);
    let critic = update.run(critic, optim, mini, tokens, stats, |c, batch, scale| {
        let chunk: Vec<&Sample> = batch.iter().map(|&i| &samples[i]).collect();
        let packed = Packed::new(&chunk);
        let v = c
            .values(rope, &packed.seq_refs(), pad, &packed.picks)
            .cast(DType::F32);
        let (mut old, mut returns) = (Vec::new(), Vec::new());
        for (&i, sample_values) in batch.iter().zip(packed.split(&f32s(v.clone()))) {
            let as_f64: Vec<f64> = sample_values.iter().map(|&x| x as f64).collect();
            let (_, r) = gae(
                &targets.token_rewards[i],
                &as_f64,
                targets.gamma,
                targets.lambda,
            );
            returns.extend(r.iter().map(|&r| r as f32));
            old.extend_from_slice(&sample_values);
            values[i] = sample_values;
        }
        clipped_value_loss(v, old, returns, scale, value_clip)
    });
    assert!(
        values
            .iter()
            .zip(samples)
            .all(|(v, s)| v.len() == s.response.len()),
        "the minibatch covers the rollout"
    );
    (critic, values)
}
