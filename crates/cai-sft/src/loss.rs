//! The SFT loss: mean negative log-likelihood of the target tokens of a micro-batch (NeMo's
//! `sum(nll · loss_mask) / sum(loss_mask)`).
//!
//! Only the rows of the hidden states that predict a target go through the LM head, so prompt
//! tokens cost no `[tokens, vocab]` logits — with chat data that is most of the head's work and
//! memory. The chunked head with its closed-form gradient is `cai_train::logprob`'s, which the
//! reward-model and PPO stages share.

use burn::tensor::{Int, Tensor, TensorData};
use cai_model::CausalLm;
use cai_model::model::rope::RopeTables;
pub use cai_train::logprob::{head_chunk_rows, head_nll, reference_head_nll};

use crate::batches::MicroBatch;

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
