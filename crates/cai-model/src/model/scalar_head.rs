//! A scalar head on the decoder's final hidden states: a reward model's score (read at the last
//! real token of each sequence) or a critic's value (one per token).
//!
//! It is Hugging Face's `*ForSequenceClassification` head with `num_labels = 1`: one linear map
//! `hidden → 1` without bias, stored as `score.weight` `[1, hidden]` beside the backbone's
//! `model.*` tensors, so a directory saved with [`ScalarHead::save_hf`] loads in transformers as
//! `LlamaForSequenceClassification` / `MistralForSequenceClassification`.

use std::path::Path;

use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::tensor::{DType, Device, Distribution, Int, Tensor, TensorData};

use crate::error::{ModelError, Result};
use crate::weights::{SafetensorsWeights, WeightSource, WeightTensor};

/// The Hugging Face name of the head's weight.
pub const SCORE_WEIGHT: &str = "score.weight";

/// A linear map from the final hidden state to one number.
#[derive(Module, Debug)]
pub struct ScalarHead {
    /// `[hidden, 1]` (burn's layout), no bias.
    pub score: Linear,
}

impl ScalarHead {
    /// A fresh head for `hidden`-wide states: weights drawn from `N(0, std²)` with `device`'s
    /// generator (transformers initialises it with `initializer_range`, 0.02 for Llama/Mistral).
    pub fn init(hidden: usize, std: f64, device: &Device) -> Self {
        let weight = Tensor::<2>::random([hidden, 1], Distribution::Normal(0.0, std), device);
        Self::from_weight(weight)
    }

    /// Like [`ScalarHead::init`], drawn from a generator of its own seeded with `seed`: the same
    /// head whatever else draws from the device's generator (other threads, other models).
    pub fn init_seeded(hidden: usize, std: f64, seed: u64, device: &Device) -> Self {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        // Box-Muller: two uniforms in (0, 1] give a standard normal.
        let data: Vec<f32> = (0..hidden)
            .map(|_| {
                let u1: f64 = 1.0 - rng.random::<f64>();
                let u2: f64 = rng.random::<f64>();
                (std * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
            })
            .collect();
        let weight = TensorData::new(data, [hidden, 1]);
        Self::from_weight(Tensor::from_data(weight, device))
    }

    fn from_weight(weight: Tensor<2>) -> Self {
        Self {
            score: Linear {
                weight: Param::from_tensor(weight),
                bias: None,
            },
        }
    }

    /// A head from Hugging Face's `score.weight` `[1, hidden]`.
    pub fn from_hf(tensor: &WeightTensor, hidden: usize, device: &Device) -> Result<Self> {
        if tensor.shape != [1, hidden] {
            return Err(ModelError::Invalid(format!(
                "`{SCORE_WEIGHT}` has shape {:?}, expected [1, {hidden}] (a head with one label)",
                tensor.shape
            )));
        }
        let weight = TensorData::new(tensor.data.clone(), [hidden, 1]);
        Ok(Self::from_weight(Tensor::from_data(weight, device)))
    }

    /// The head of a Hugging Face directory (`score.weight`), or `None` when it has none.
    pub fn load_hf(dir: &Path, hidden: usize, device: &Device) -> Result<Option<Self>> {
        let weights = SafetensorsWeights::open(dir)?;
        match weights.read(SCORE_WEIGHT)? {
            Some(tensor) => Self::from_hf(&tensor, hidden, device).map(Some),
            None => Ok(None),
        }
    }

    /// The dtype the head computes in (its weight's; hidden states are cast to it, as NeMo's
    /// `force_head_dtype`).
    pub fn dtype(&self) -> DType {
        self.score.weight.val().dtype()
    }

    /// `score.weight` in Hugging Face's layout `[1, hidden]`, f32.
    pub fn hf_tensor(&self) -> WeightTensor {
        let w = self.score.weight.val();
        let hidden = w.dims()[0];
        let data = w
            .cast(DType::F32)
            .into_data()
            .try_to_vec::<f32>()
            .unwrap_or_default();
        WeightTensor {
            shape: vec![1, hidden],
            data,
        }
    }

    /// The head's output at every position of `hidden` `[batch, seq, hidden]`: `[batch, seq]`.
    pub fn forward(&self, hidden: Tensor<3>) -> Tensor<2> {
        let [b, t, d] = hidden.dims();
        let rows = hidden.reshape([b * t, d]).cast(self.dtype());
        self.score.forward(rows).reshape([b, t])
    }

    /// The head's output at one position per row, `positions[r]` of row `r`: `[batch]`. Only those
    /// rows of `hidden` go through the head.
    pub fn at_positions(&self, hidden: Tensor<3>, positions: &[usize]) -> Tensor<1> {
        assert_eq!(positions.len(), hidden.dims()[0], "one position per row");
        let picks: Vec<(usize, usize)> = positions.iter().copied().enumerate().collect();
        self.at(hidden, &picks)
    }

    /// The head's output at each `(row, position)` of `picks`, in order: `[picks.len()]` (a
    /// critic's values on the response tokens). Only those rows of `hidden` go through the head.
    pub fn at(&self, hidden: Tensor<3>, picks: &[(usize, usize)]) -> Tensor<1> {
        let [b, t, d] = hidden.dims();
        let flat: Vec<i64> = picks
            .iter()
            .map(|&(r, p)| {
                assert!(
                    r < b && p < t,
                    "position ({r}, {p}) outside a batch of {b}×{t}"
                );
                (r * t + p) as i64
            })
            .collect();
        let n = flat.len();
        let index = Tensor::<1, Int>::from_data(TensorData::new(flat, [n]), &hidden.device());
        let rows = hidden
            .reshape([b * t, d])
            .select(0, index)
            .cast(self.dtype());
        self.score.forward(rows).reshape([n])
    }
}
