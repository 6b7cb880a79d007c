//! Token log-probabilities through the LM head, chunked, with their gradient in closed form — the
//! loss core that SFT (mean NLL of the target tokens), DPO-style losses (weighted sums of sequence
//! log-probs) and PPO (per-token log-probs of sampled tokens) share.
//!
//! The caller picks the hidden rows `h_i` `[n, hidden]` that predict a target `y_i` (so prompt
//! positions cost no `[tokens, vocab]` logits) and a weight `w_i` per row. [`weighted_token_nll`]
//! returns `Σ w_i · nll_i` with `nll_i = −log softmax(z_i / T)[y_i]`, `z_i = head(h_i)`, and every
//! row's log-prob. The rows go through the head in chunks ([`HEAD_CHUNK_ELEMENTS`]) outside the
//! autodiff graph: each chunk's logits give its NLL and, in closed form, the gradient with respect
//! to the logits, `w_i · (softmax − onehot(y_i)) / T`, which two GEMMs turn into the gradients of
//! the hidden rows and of the head. The returned loss carries them into the graph through a linear
//! surrogate, so `loss.backward()` goes on into the decoder as usual. No `[n, vocab]` tensor
//! outlives its chunk and the backward does no softmax work. On the CPU the softmax runs in place
//! on the logits' memory, row-parallel, with a vectorised `exp` ([`kernels`](cai_model::kernels)).
//!
//! A loss that is not linear in the log-probs (PPO's clipped ratio, DPO's sigmoid) first takes the
//! values with [`token_logprobs`] (no graph), computes `∂loss/∂logp_i`, and passes its negation as
//! the weights: the gradient is then exact.

mod head;
mod softmax;

use burn::tensor::activation::log_softmax;
use burn::tensor::{DType, Int, Tensor, TensorData};
use cai_model::CausalLm;

use head::Head;

/// Logits computed at once: chunks of the rows are `HEAD_CHUNK_ELEMENTS / vocab` rows tall (1365
/// rows for SmolLM2's 49152-token vocabulary), so the `[rows, vocab]` f32 buffer is at most
/// 256 MiB whatever the batch. Smaller chunks cost time: the head weight's gradient is then a sum
/// of thinner GEMMs.
pub const HEAD_CHUNK_ELEMENTS: usize = 1 << 26;

/// Rows per chunk for a vocabulary of `vocab` tokens.
pub fn head_chunk_rows(vocab: usize) -> usize {
    (HEAD_CHUNK_ELEMENTS / vocab.max(1)).max(1)
}

/// How the head's logits become log-probs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LogprobOptions {
    /// Rows per chunk ([`head_chunk_rows`] of the vocabulary by default).
    pub chunk_rows: usize,
    /// Softmax temperature: log-probs of `z / T` (PPO recomputes the sampler's with it); 1 = none.
    pub temperature: f32,
}

impl LogprobOptions {
    /// Default chunks for `lm`'s vocabulary, temperature 1.
    pub fn for_model(lm: &CausalLm) -> Self {
        Self {
            chunk_rows: head_chunk_rows(lm.embed_tokens.weight.dims()[0]),
            temperature: 1.0,
        }
    }
}

/// A weighted NLL and the log-probs it was made of.
#[derive(Debug, Clone)]
pub struct TokenNll {
    /// `Σ w_i · nll_i`, one element; differentiable on an autodiff device.
    pub loss: Tensor<1>,
    /// `log p(y_i | h_i)` of every row (at the options' temperature).
    pub logprobs: Vec<f32>,
}

/// `Σ w_i · nll(y_i | h_i)` through `lm`'s LM head (see the module documentation). On an autodiff
/// device the loss back-propagates exactly its gradient into `hidden` and the head.
///
/// # Panics
/// Unless `hidden` has one row per target and per weight, and at least one.
pub fn weighted_token_nll(
    lm: &CausalLm,
    hidden: Tensor<2>,
    targets: &[i64],
    weights: &[f64],
    opts: LogprobOptions,
) -> TokenNll {
    let [n, _] = hidden.dims();
    assert_eq!(n, targets.len(), "one target per hidden row");
    assert_eq!(n, weights.len(), "one weight per hidden row");
    assert!(n > 0, "no targets");
    let chunk_rows = opts.chunk_rows.max(1);
    let head = Head::of(lm);
    let constant = head.constant();
    let dtype = hidden.dtype();
    let input_grad = hidden.is_tracked();
    let weight_grad = head.weight.is_tracked();
    let bias_grad = head.bias.as_ref().is_some_and(Tensor::is_tracked);
    let any_grad = input_grad || weight_grad || bias_grad;
    let h = hidden.clone().inner();
    let mut total = 0.0f64;
    let mut logprobs = Vec::with_capacity(n);
    let mut grad_h = Vec::new();
    let mut grad_w: Option<Tensor<2>> = None;
    let mut grad_b: Option<Tensor<1>> = None;
    for start in (0..n).step_by(chunk_rows) {
        let rows = chunk_rows.min(n - start);
        let h_c = h.clone().narrow(0, start, rows);
        let logits = constant.logits(h_c.clone()).cast(DType::F32);
        let vocab = logits.dims()[1];
        let chunk = softmax::Rows {
            targets: &targets[start..start + rows],
            weights: &weights[start..start + rows],
            inv_temperature: 1.0 / opts.temperature,
            grad: any_grad,
        };
        let (nll, g) = chunk.nll_and_grad(logits);
        total += nll
            .iter()
            .zip(chunk.weights)
            .map(|(&l, &w)| l * w)
            .sum::<f64>();
        logprobs.extend(nll.iter().map(|&l| -l as f32));
        if !any_grad {
            continue;
        }
        let g = g.cast(dtype);
        if bias_grad {
            let db = g.clone().sum_dim(0).reshape([vocab]);
            grad_b = Some(grad_b.map_or(db.clone(), |acc| acc + db));
        }
        if weight_grad {
            let dw = constant.grad_weight(h_c, g.clone());
            grad_w = Some(grad_w.map_or(dw.clone(), |acc| acc + dw));
        }
        if input_grad {
            grad_h.push(constant.grad_input(g));
        }
    }
    let loss = Tensor::<1>::from_data(TensorData::new(vec![total as f32], [1]), &hidden.device());
    // A surrogate whose gradients are the ones computed above; its value is cancelled out.
    let mut terms = Vec::new();
    if input_grad {
        terms.push((hidden * Tensor::cat(grad_h, 0)).sum());
    }
    if let Some(dw) = grad_w {
        terms.push((head.weight.clone() * dw).sum());
    }
    if let (Some(db), Some(b)) = (grad_b, &head.bias) {
        terms.push((b.clone() * db).sum());
    }
    let loss = match terms.into_iter().reduce(|a, b| a + b) {
        Some(surrogate) => {
            let value = surrogate.clone().inner().cast(DType::F32);
            surrogate.cast(DType::F32) - value + loss
        }
        None => loss,
    };
    TokenNll { loss, logprobs }
}

/// Mean NLL of `targets` predicted from the rows `hidden` (NeMo's SFT loss, `Σ nll / n`),
/// `chunk_rows` rows at a time: [`weighted_token_nll`] with weights `1/n`.
pub fn head_nll(lm: &CausalLm, hidden: Tensor<2>, targets: &[i64], chunk_rows: usize) -> Tensor<1> {
    let n = targets.len().max(1);
    let weights = vec![1.0 / n as f64; targets.len()];
    let opts = LogprobOptions {
        chunk_rows,
        temperature: 1.0,
    };
    weighted_token_nll(lm, hidden, targets, &weights, opts).loss
}

/// `log p(y_i | h_i)` of every row, without a graph (the rows are detached).
pub fn token_logprobs(
    lm: &CausalLm,
    hidden: Tensor<2>,
    targets: &[i64],
    opts: LogprobOptions,
) -> Vec<f32> {
    let weights = vec![0.0; targets.len()];
    weighted_token_nll(lm, hidden.inner(), targets, &weights, opts).logprobs
}

/// [`head_nll`] the straightforward way, differentiated by autodiff: LM head on the rows,
/// `log_softmax`, `gather`. It computes the same value and gradients with more memory and work,
/// and is kept as the reference for tests and profiling.
pub fn reference_head_nll(lm: &CausalLm, hidden: Tensor<2>, targets: &[i64]) -> Tensor<1> {
    let [n, _] = hidden.dims();
    let weights = vec![1.0 / n as f64; n];
    reference_weighted_nll(lm, hidden, targets, &weights, 1.0)
}

/// [`weighted_token_nll`]'s loss the straightforward way (see [`reference_head_nll`]).
pub fn reference_weighted_nll(
    lm: &CausalLm,
    hidden: Tensor<2>,
    targets: &[i64],
    weights: &[f64],
    temperature: f32,
) -> Tensor<1> {
    let [n, d] = hidden.dims();
    let device = hidden.device();
    let logits = lm.logits(hidden.reshape([1, n, d]));
    let vocab = logits.dims()[2];
    let scaled = logits.reshape([n, vocab]).cast(DType::F32) / temperature as f64;
    let logp = log_softmax(scaled, 1);
    let targets = Tensor::<2, Int>::from_data(TensorData::new(targets.to_vec(), [n, 1]), &device);
    let w: Vec<f32> = weights.iter().map(|&w| w as f32).collect();
    let w = Tensor::<2>::from_data(TensorData::new(w, [n, 1]), &device);
    (logp.gather(1, targets) * w).sum().neg()
}
