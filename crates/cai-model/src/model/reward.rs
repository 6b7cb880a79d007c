//! A decoder with a scalar head: the reward model (read at the last real token of each sequence,
//! Hugging Face's `*ForSequenceClassification` with one label) and, read at every response token,
//! PPO's critic.

use std::path::Path;

use burn::module::Module;
use burn::tensor::Tensor;

use super::rope::RopeTables;
use super::{CausalLm, ScalarHead, TokenBatch};
use crate::error::Result;
use crate::loaded::{LoadOptions, LoadedModel};
use crate::source::ModelSpec;

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
    /// Loads the reward model saved in `dir` (a Hugging Face `*ForSequenceClassification` with
    /// one label, as `cai-rm train` writes) with its text side; `None` when `dir` has no scalar
    /// head.
    pub fn load(dir: &Path, opts: &LoadOptions) -> Result<Option<(LoadedModel, RewardModel)>> {
        let model = LoadedModel::load(&ModelSpec::parse(&dir.to_string_lossy())?, opts)?;
        let Some(head) = ScalarHead::load_hf(dir, model.config.hidden_size, &model.lm.device())?
        else {
            return Ok(None);
        };
        let rm = RewardModel {
            lm: model.lm.clone(),
            head,
        };
        Ok(Some((model, rm)))
    }

    /// One reward per sequence, `[seqs.len()]`. Sequences are right-padded, so with causal
    /// attention a reward depends neither on padding nor on the other sequences of the batch.
    pub fn rewards(&self, rope: &RopeTables, seqs: &[&[u32]], pad: u32) -> Tensor<1> {
        let batch = Self::batch(seqs, pad);
        let hidden = self.lm.forward_hidden(&batch, rope, None);
        self.head.at_positions(hidden, &batch.last_real_positions())
    }

    /// The head's output at each `(sequence, position)` of `picks`, in order (a value per
    /// response token for PPO's critic).
    pub fn values(
        &self,
        rope: &RopeTables,
        seqs: &[&[u32]],
        pad: u32,
        picks: &[(usize, usize)],
    ) -> Tensor<1> {
        let batch = Self::batch(seqs, pad);
        let hidden = self.lm.forward_hidden(&batch, rope, None);
        self.head.at(hidden, picks)
    }

    fn batch(seqs: &[&[u32]], pad: u32) -> TokenBatch {
        let owned: Vec<Vec<u32>> = seqs.iter().map(|s| s.to_vec()).collect();
        TokenBatch::right_padded(&owned, pad)
    }
}
