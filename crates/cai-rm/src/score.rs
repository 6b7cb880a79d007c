//! `cai-rm score`: rewards of prompt/response pairs or rendered texts from a trained reward model,
//! in input order, batched.

use std::path::Path;

use cai_model::{LoadOptions, LoadedModel, ModelSpec};
use serde::Serialize;

use crate::checkpoint::load_head;
use crate::data::ScoreInput;
use crate::encode::encode_input;
use crate::error::Result;
use crate::model::RewardModel;

/// A loaded reward model for inference.
pub struct Scorer {
    model: LoadedModel,
    rm: RewardModel,
}

/// One scored input.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Scored {
    /// The reward.
    pub reward: f64,
    /// Tokens scored (EOS included).
    pub tokens: usize,
}

impl Scorer {
    /// Loads the reward model in `dir` (a `cai-rm train` output's `model/`, or any Hugging Face
    /// `*ForSequenceClassification` directory with one label).
    pub fn load(dir: &Path, opts: &LoadOptions) -> Result<Self> {
        let spec = ModelSpec::parse(&dir.to_string_lossy())?;
        let model = LoadedModel::load(&spec, opts)?;
        let head = load_head(dir, model.config.hidden_size, &model.lm.device())?;
        let rm = RewardModel {
            lm: model.lm.clone(),
            head,
        };
        Ok(Self { model, rm })
    }

    /// Rewards of `inputs` in order, `batch` sequences per forward.
    pub fn score(&self, inputs: &[ScoreInput], batch: usize) -> Result<Vec<Scored>> {
        let pad = self.model.config.pad_token_id.unwrap_or(0);
        let encoded = inputs
            .iter()
            .map(|input| encode_input(&self.model, input))
            .collect::<Result<Vec<_>>>()?;
        let mut out = Vec::with_capacity(inputs.len());
        for chunk in encoded.chunks(batch.max(1)) {
            let seqs: Vec<&[u32]> = chunk.iter().map(Vec::as_slice).collect();
            let rewards = self.rm.rewards(&self.model.rope, &seqs, pad);
            let values = rewards
                .into_data()
                .convert::<f32>()
                .try_to_vec::<f32>()
                .unwrap_or_default();
            out.extend(chunk.iter().zip(values).map(|(ids, r)| Scored {
                reward: r as f64,
                tokens: ids.len(),
            }));
        }
        Ok(out)
    }
}
