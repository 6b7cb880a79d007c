//! The SFT loss: mean negative log-likelihood of the target tokens of a micro-batch (NeMo's
//! `sum(nll · loss_mask) / sum(loss_mask)`).
//!
//! Only the positions that predict a target go through the LM head, so prompt tokens cost no
//! `[tokens, vocab]` logits — with chat data that is most of the head's work and memory.

use burn::tensor::activation::log_softmax;
use burn::tensor::{DType, Int, Tensor, TensorData};
use cai_model::CausalLm;
use cai_model::model::rope::RopeTables;

use crate::batches::MicroBatch;

/// Mean NLL of `batch`'s targets, a one-element tensor (differentiable on an autodiff device).
///
/// # Panics
/// If the micro-batch has no target (callers drop such examples when encoding).
pub fn mean_target_nll(lm: &CausalLm, rope: &RopeTables, batch: &MicroBatch) -> Tensor<1> {
    let n = batch.positions.len();
    assert!(n > 0, "micro-batch without targets");
    let device = lm.device();
    let hidden = lm.forward_hidden(&batch.tokens, rope, None);
    let [b, t, d] = hidden.dims();
    let index = Tensor::<1, Int>::from_data(TensorData::new(batch.positions.clone(), [n]), &device);
    let picked = hidden
        .reshape([b * t, d])
        .select(0, index)
        .reshape([1, n, d]);
    let logits = lm.logits(picked);
    let vocab = logits.dims()[2];
    let logp = log_softmax(logits.reshape([n, vocab]).cast(DType::F32), 1);
    let targets =
        Tensor::<2, Int>::from_data(TensorData::new(batch.targets.clone(), [n, 1]), &device);
    logp.gather(1, targets).mean().neg()
}
