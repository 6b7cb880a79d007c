//! The SFT loss: mean negative log-likelihood of the target tokens of a micro-batch (NeMo's
//! `sum(nll · loss_mask) / sum(loss_mask)`).
//!
//! Only the rows of the hidden states that predict a target go through the LM head, so prompt
//! tokens cost no `[tokens, vocab]` logits — with chat data that is most of the head's work and
//! memory. Those rows are then processed in chunks ([`HEAD_CHUNK_ELEMENTS`]), outside the autodiff
//! graph: each chunk's logits give its NLL and, in closed form, the gradient of the mean NLL with
//! respect to the logits, `(softmax − onehot(target)) / n`, which two GEMMs turn into the
//! gradients of the hidden rows and of the head weight. The returned loss carries these gradients
//! into the graph through a linear surrogate, so `loss.backward()` goes on into the decoder as
//! usual. Compared with differentiating `log_softmax` + `gather` through autodiff, no `[n, vocab]`
//! tensor outlives its chunk and the backward does no softmax work. On the CPU the softmax runs in
//! place on the logits' memory, row-parallel, with a vectorizable `exp` (burn's CPU backend calls
//! the scalar libm one: 4 ns an element, a quarter of a second per 1024 × 49152 logits).

use burn::tensor::activation::log_softmax;
use burn::tensor::{DType, Device, IndexingUpdateOp, Int, Tensor, TensorData};
use cai_model::CausalLm;
use cai_model::model::fused::math::{exp_le0, row_max, row_sum, vectorized};
use cai_model::model::rope::RopeTables;

use crate::batches::MicroBatch;

/// Logits computed at once: chunks of the target rows are `HEAD_CHUNK_ELEMENTS / vocab` rows tall
/// (1365 rows for SmolLM2's 49152-token vocabulary), so the `[rows, vocab]` f32 buffer the loss
/// holds is at most 256 MiB whatever the micro-batch size. Smaller chunks cost time: the head
/// weight's gradient is then a sum of thinner GEMMs.
pub const HEAD_CHUNK_ELEMENTS: usize = 1 << 26;

/// Rows per chunk for a vocabulary of `vocab` tokens.
pub fn head_chunk_rows(vocab: usize) -> usize {
    (HEAD_CHUNK_ELEMENTS / vocab.max(1)).max(1)
}

/// Mean NLL of `batch`'s targets, a one-element tensor (differentiable on an autodiff device).
///
/// # Panics
/// If the micro-batch has no target (callers drop such examples when encoding).
pub fn mean_target_nll(lm: &CausalLm, rope: &RopeTables, batch: &MicroBatch) -> Tensor<1> {
    let picked = target_rows(lm, rope, batch);
    let vocab = lm.embed_tokens.weight.dims()[0];
    head_nll(lm, picked, &batch.targets, head_chunk_rows(vocab))
}

/// The final hidden states of the positions of `batch` that predict a target, `[n, hidden]`.
pub fn target_rows(lm: &CausalLm, rope: &RopeTables, batch: &MicroBatch) -> Tensor<2> {
    let n = batch.positions.len();
    assert!(n > 0, "micro-batch without targets");
    let hidden = lm.forward_hidden(&batch.tokens, rope, None);
    let [b, t, d] = hidden.dims();
    let index =
        Tensor::<1, Int>::from_data(TensorData::new(batch.positions.clone(), [n]), &lm.device());
    hidden.reshape([b * t, d]).select(0, index)
}

/// The LM head's parameters as used by [`CausalLm::logits`].
struct Head {
    /// Tied: the embedding `[vocab, hidden]` (`logits = h · Eᵀ`); else the linear weight
    /// `[hidden, vocab]` (burn's layout, `logits = h · W + b`).
    weight: Tensor<2>,
    /// The linear layer's bias `[vocab]`, if any.
    bias: Option<Tensor<1>>,
    /// Whether the head is the embedding.
    tied: bool,
}

impl Head {
    fn of(lm: &CausalLm) -> Self {
        match &lm.lm_head {
            Some(linear) => Head {
                weight: linear.weight.val(),
                bias: linear.bias.as_ref().map(|bias| bias.val()),
                tied: false,
            },
            None => Head {
                weight: lm.embed_tokens.weight.val(),
                bias: None,
                tied: true,
            },
        }
    }

    /// The same head detached from the graph (constants for the chunk computations).
    fn constant(&self) -> Self {
        Head {
            weight: self.weight.clone().inner(),
            bias: self.bias.clone().map(Tensor::inner),
            tied: self.tied,
        }
    }

    fn logits(&self, h: Tensor<2>) -> Tensor<2> {
        let z = if self.tied {
            h.matmul(self.weight.clone().transpose())
        } else {
            h.matmul(self.weight.clone())
        };
        match &self.bias {
            Some(b) => z + b.clone().unsqueeze_dim(0),
            None => z,
        }
    }

    /// `∂/∂h` of `Σ g ⊙ logits(h)`.
    fn grad_input(&self, g: Tensor<2>) -> Tensor<2> {
        if self.tied {
            g.matmul(self.weight.clone())
        } else {
            g.matmul(self.weight.clone().transpose())
        }
    }

    /// `∂/∂W` of `Σ g ⊙ logits(h)`, in the weight's own layout.
    fn grad_weight(&self, h: Tensor<2>, g: Tensor<2>) -> Tensor<2> {
        if self.tied {
            g.transpose().matmul(h)
        } else {
            h.transpose().matmul(g)
        }
    }
}

/// Mean NLL of `targets` predicted from the hidden rows `hidden` `[n, hidden]` through `lm`'s LM
/// head, `chunk_rows` rows at a time (see the module documentation). On an autodiff device the
/// result back-propagates exactly the gradient of the mean NLL into `hidden` and the head.
pub fn head_nll(lm: &CausalLm, hidden: Tensor<2>, targets: &[i64], chunk_rows: usize) -> Tensor<1> {
    let [n, _] = hidden.dims();
    assert_eq!(n, targets.len(), "one target per hidden row");
    assert!(n > 0, "no targets");
    let chunk_rows = chunk_rows.max(1);
    let head = Head::of(lm);
    let constant = head.constant();
    let dtype = hidden.dtype();
    let input_grad = hidden.is_tracked();
    let weight_grad = head.weight.is_tracked();
    let bias_grad = head.bias.as_ref().is_some_and(Tensor::is_tracked);
    let any_grad = input_grad || weight_grad || bias_grad;
    let h = hidden.clone().inner();
    let device = h.device();
    // On the CPU the softmax runs in place on the logits' memory; elsewhere as tensor ops.
    let on_host = device == Device::flex();
    let mut total_nll = 0.0f64;
    let mut grad_h = Vec::new();
    let mut grad_w: Option<Tensor<2>> = None;
    let mut grad_b: Option<Tensor<1>> = None;
    for start in (0..n).step_by(chunk_rows) {
        let rows = chunk_rows.min(n - start);
        let h_c = h.clone().narrow(0, start, rows);
        let logits = constant.logits(h_c.clone()).cast(DType::F32);
        let vocab = logits.dims()[1];
        let chunk_targets = &targets[start..start + rows];
        // ∂ mean NLL / ∂ logits = (softmax − onehot) / n.
        let (nll, g) = if on_host {
            let mut data = logits.into_data();
            let values = data
                .as_mut_slice::<f32>()
                .expect("f32 logits are contiguous f32 data");
            let nll = softmax_nll(values, vocab, chunk_targets, n, any_grad);
            (nll, Tensor::<2>::from_data(data, &device))
        } else {
            tensor_softmax_nll(logits, chunk_targets, n)
        };
        total_nll += nll;
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
    let loss = Tensor::<1>::from_data(
        TensorData::new(vec![(total_nll / n as f64) as f32], [1]),
        &hidden.device(),
    );
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
    let Some(surrogate) = terms.into_iter().reduce(|a, b| a + b) else {
        return loss;
    };
    let value = surrogate.clone().inner().cast(DType::F32);
    surrogate.cast(DType::F32) - value + loss
}

/// For each row of `logits` (`vocab` wide) and its target, the NLL `log Σ exp(z) − z[target]`,
/// summed over the rows. Each row is overwritten: by `(softmax − onehot) / n` with `grad`, else by
/// scratch values. Rows are processed in parallel; the exponentials use [`exp_le0`], which, unlike
/// the scalar libm `exp` of burn's CPU backend, vectorizes (in the widest SIMD, through
/// [`vectorized`]).
fn softmax_nll(logits: &mut [f32], vocab: usize, targets: &[i64], n: usize, grad: bool) -> f64 {
    use rayon::prelude::*;
    let inv_n = 1.0 / n as f64;
    logits
        .par_chunks_mut(vocab)
        .zip(targets.par_iter())
        .map(|(row, &target)| vectorized(|| row_nll(row, target as usize, inv_n, grad)))
        .sum()
}

/// One row of [`softmax_nll`]: the NLL of `target`, and the row overwritten.
#[inline(always)]
fn row_nll(row: &mut [f32], target: usize, inv_n: f64, grad: bool) -> f64 {
    let target_logit = row[target];
    let max = row_max(row);
    for z in row.iter_mut() {
        *z = exp_le0(*z - max);
    }
    let sum = row_sum(row);
    if grad {
        let scale = (inv_n / sum) as f32;
        for z in row.iter_mut() {
            *z *= scale;
        }
        row[target] -= inv_n as f32;
    }
    sum.ln() + (max - target_logit) as f64
}

/// [`softmax_nll`] as tensor operations, for devices whose memory is not the host's: the summed
/// NLL of the rows of `logits` `[rows, vocab]` (f32) and `(softmax − onehot) / n`.
fn tensor_softmax_nll(logits: Tensor<2>, targets: &[i64], n: usize) -> (f64, Tensor<2>) {
    let device = logits.device();
    let rows = targets.len();
    let t = Tensor::<2, Int>::from_data(TensorData::new(targets.to_vec(), [rows, 1]), &device);
    let max = logits.clone().max_dim(1);
    let target_logit = logits.clone().gather(1, t.clone());
    let exp = (logits - max.clone()).exp();
    let sum = exp.clone().sum_dim(1);
    let nll: f32 = (sum.clone().log() + max - target_logit).sum().into_scalar();
    let g = (exp / sum.mul_scalar(n as f64)).scatter(
        1,
        t,
        Tensor::full([rows, 1], -1.0 / n as f64, &device),
        IndexingUpdateOp::Add,
    );
    (nll as f64, g)
}

/// The straightforward loss, differentiated by autodiff: LM head on the target rows,
/// `log_softmax`, `gather`. [`mean_target_nll`] computes the same value and gradients with less
/// memory and work; this one is kept as the reference for tests and profiling.
pub fn reference_mean_target_nll(
    lm: &CausalLm,
    rope: &RopeTables,
    batch: &MicroBatch,
) -> Tensor<1> {
    let picked = target_rows(lm, rope, batch);
    reference_head_nll(lm, picked, &batch.targets)
}

/// [`head_nll`] the straightforward way (see [`reference_mean_target_nll`]).
pub fn reference_head_nll(lm: &CausalLm, hidden: Tensor<2>, targets: &[i64]) -> Tensor<1> {
    let [n, d] = hidden.dims();
    let device = hidden.device();
    let logits = lm.logits(hidden.reshape([1, n, d]));
    let vocab = logits.dims()[2];
    let logp = log_softmax(logits.reshape([n, vocab]).cast(DType::F32), 1);
    let targets = Tensor::<2, Int>::from_data(TensorData::new(targets.to_vec(), [n, 1]), &device);
    logp.gather(1, targets).mean().neg()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cpu_backend_is_recognised_under_autodiff() {
        // `head_nll` takes the in-place softmax path when the inner device equals flex.
        let t = Tensor::<2>::zeros([1, 1], &Device::flex().autodiff());
        assert_eq!(t.inner().device(), Device::flex());
    }

    #[test]
    fn softmax_rows_give_the_nll_and_its_gradient() {
        // Two rows of 37 logits (not a multiple of the lanes), targets 3 and 36, mean over n = 4.
        let rows: Vec<Vec<f64>> = (0..2)
            .map(|r| {
                (0..37)
                    .map(|j| ((j * 7 + r * 5) % 11) as f64 * 0.9 - 3.0)
                    .collect()
            })
            .collect();
        let targets = [3i64, 36];
        let mut flat: Vec<f32> = rows.iter().flatten().map(|&z| z as f32).collect();
        let nll = softmax_nll(&mut flat, 37, &targets, 4, true);
        let mut want_nll = 0.0;
        for (r, row) in rows.iter().enumerate() {
            let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let sum: f64 = row.iter().map(|z| (z - max).exp()).sum();
            want_nll += sum.ln() + max - row[targets[r] as usize];
            for (j, z) in row.iter().enumerate() {
                let onehot = if j == targets[r] as usize { 1.0 } else { 0.0 };
                let want = ((z - max).exp() / sum - onehot) / 4.0;
                assert!(
                    (flat[r * 37 + j] as f64 - want).abs() < 1e-7,
                    "row {r} col {j}"
                );
            }
        }
        assert!((nll - want_nll).abs() < 1e-5, "{nll} vs {want_nll}");
        // The tensor formulation (other devices) agrees.
        let logits: Vec<f32> = rows.iter().flatten().map(|&z| z as f32).collect();
        let logits = Tensor::<2>::from_data(TensorData::new(logits, [2, 37]), &Device::flex());
        let (tensor_nll, g) = tensor_softmax_nll(logits, &targets, 4);
        assert!((tensor_nll - nll).abs() < 1e-5, "{tensor_nll} vs {nll}");
        let g = g.into_data().try_to_vec::<f32>().unwrap();
        assert!(g.iter().zip(&flat).all(|(a, b)| (a - b).abs() < 1e-7));
    }
}
