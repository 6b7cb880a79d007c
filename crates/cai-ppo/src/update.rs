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

use crate::experience::Experience;
use crate::kl::{KlEstimator, KlPlacement};
use crate::objective::{ClipSettings, clipped_term};
use crate::rollout::{Packed, response_rows};

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
#[allow(clippy::too_many_arguments)]
pub fn critic_step(
    critic: RewardModel,
    optim: &mut ModuleOptimizer,
    rope: &RopeTables,
    exp: &Experience,
    mini: &[usize],
    micro: usize,
    lr: f64,
    max_grad_norm: f64,
    pad: u32,
    value_clip: f64,
    stats: &mut CriticStats,
) -> RewardModel {
    let tokens: usize = mini.iter().map(|&i| exp.samples[i].response.len()).sum();
    let micro_batches: Vec<&[usize]> = mini.chunks(micro.max(1)).collect();
    let scale = micro_batches.len() as f64 / tokens.max(1) as f64;
    let outcome = accumulated_step(
        critic,
        optim,
        &micro_batches,
        lr,
        max_grad_norm,
        |c, batch| critic_loss(c, rope, exp, batch, scale, pad, value_clip),
    );
    stats.steps += 1;
    stats.loss += outcome.loss;
    stats.grad_norm += outcome.grad_norm;
    outcome.module
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
    let device = v.device();
    let column = |f: &dyn Fn(usize) -> Vec<f32>| {
        let flat: Vec<f32> = batch.iter().flat_map(|&i| f(i)).collect();
        let n = flat.len();
        Tensor::<1>::from_data(TensorData::new(flat, [n]), &device)
    };
    let old = column(&|i| exp.values[i].clone());
    let returns = column(&|i| exp.returns[i].iter().map(|&r| r as f32).collect());
    let clipped = old.clone() + (v.clone() - old).clamp(-value_clip, value_clip);
    let loss = (clipped - returns.clone())
        .powi_scalar(2)
        .max_pair((v - returns).powi_scalar(2));
    loss.sum() * (0.5 * scale)
}
