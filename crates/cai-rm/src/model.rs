//! The reward model: the decoder's final hidden states and a scalar head read at the last real
//! token of each sequence (Hugging Face's `*ForSequenceClassification` with one label).

use burn::module::Module;
use burn::tensor::Tensor;
use cai_model::model::rope::RopeTables;
use cai_model::{CausalLm, ScalarHead, TokenBatch};

/// Backbone and head, trained together (the head always trains; with LoRA the backbone's own
/// weights are frozen).
#[derive(Module, Debug)]
pub struct RewardModel {
    /// The decoder.
    pub lm: CausalLm,
    /// The scalar head on its final hidden state.
    pub head: ScalarHead,
}

impl RewardModel {
    /// One reward per sequence, `[seqs.len()]`. Sequences are right-padded, so with causal
    /// attention a reward depends neither on padding nor on the other sequences of the batch.
    pub fn rewards(&self, rope: &RopeTables, seqs: &[&[u32]], pad: u32) -> Tensor<1> {
        let owned: Vec<Vec<u32>> = seqs.iter().map(|s| s.to_vec()).collect();
        let batch = TokenBatch::right_padded(&owned, pad);
        let hidden = self.lm.forward_hidden(&batch, rope, None);
        self.head.at_positions(hidden, &batch.last_real_positions())
    }
}
