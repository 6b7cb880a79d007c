//! Building a [`CausalLm`] from a [`WeightSource`] and exporting it back under Hugging Face names.

use burn::module::Param;
use burn::nn::{Embedding, Linear, RmsNorm};
use burn::tensor::{DType, Device, Tensor, TensorData};

use super::{Attention, CausalLm, DecoderLayer, Mlp};
use crate::config::ModelConfig;
use crate::error::{ModelError, Result};
use crate::weights::{WeightSource, WeightTensor, expected_tensors};

/// Transposes a row-major `[rows, cols]` matrix.
fn transpose(data: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut out = vec![0f32; data.len()];
    const BLOCK: usize = 32;
    for r0 in (0..rows).step_by(BLOCK) {
        for c0 in (0..cols).step_by(BLOCK) {
            for r in r0..(r0 + BLOCK).min(rows) {
                for c in c0..(c0 + BLOCK).min(cols) {
                    out[c * rows + r] = data[r * cols + c];
                }
            }
        }
    }
    out
}

struct Loader<'a> {
    source: &'a dyn WeightSource,
    expected: std::collections::HashMap<String, Vec<usize>>,
    device: &'a Device,
    dtype: DType,
}

impl Loader<'_> {
    /// Reads `name`, its shape checked against the config before any data is read (from the
    /// source's header) and again after.
    fn fetch(&self, name: &str) -> Result<WeightTensor> {
        let missing = || ModelError::MissingTensor {
            path: self.source.location().to_path_buf(),
            tensor: name.to_string(),
        };
        let check = |found: Vec<usize>| {
            let expected = &self.expected[name];
            if &found == expected {
                Ok(found)
            } else {
                Err(ModelError::ShapeMismatch {
                    path: self.source.location().to_path_buf(),
                    tensor: name.to_string(),
                    found,
                    expected: expected.clone(),
                })
            }
        };
        check(self.source.shape(name)?.ok_or_else(missing)?)?;
        let mut tensor = self.source.read(name)?.ok_or_else(missing)?;
        tensor.shape = check(tensor.shape)?;
        Ok(tensor)
    }

    /// A weight matrix (projection, embedding, LM head), stored in the model's dtype.
    fn tensor<const D: usize>(&self, data: Vec<f32>, shape: [usize; D]) -> Tensor<D> {
        let t = Tensor::from_data(TensorData::new(data, shape), self.device);
        if self.dtype == DType::F32 {
            t
        } else {
            t.cast(self.dtype)
        }
    }

    fn linear(&self, name: &str) -> Result<Linear> {
        let w = self.fetch(name)?;
        let (out_dim, in_dim) = (w.shape[0], w.shape[1]);
        let weight = self.tensor(transpose(&w.data, out_dim, in_dim), [in_dim, out_dim]);
        Ok(Linear {
            weight: Param::from_tensor(weight),
            bias: None,
        })
    }

    fn norm(&self, name: &str, eps: f64) -> Result<RmsNorm> {
        let w = self.fetch(name)?;
        let n = w.shape[0];
        Ok(RmsNorm {
            // Norm weights stay f32 whatever the dtype: they are tiny, and the activations
            // they scale are f32.
            gamma: Param::from_tensor(Tensor::from_data(TensorData::new(w.data, [n]), self.device)),
            epsilon: eps,
        })
    }
}

impl CausalLm {
    /// Builds the model from `source`, checking every tensor's presence and shape against `cfg`,
    /// and stores the weight matrices (projections, embedding, LM head) in `dtype` on `device`;
    /// norms and activations stay f32 (half-size weights halve the bytes decoding reads).
    pub fn from_weights(
        cfg: &ModelConfig,
        source: &dyn WeightSource,
        device: &Device,
        dtype: DType,
    ) -> Result<Self> {
        let loader = Loader {
            source,
            expected: expected_tensors(cfg).into_iter().collect(),
            device,
            dtype,
        };
        let emb = loader.fetch("model.embed_tokens.weight")?;
        let embed_tokens = Embedding {
            weight: Param::from_tensor(loader.tensor(emb.data, [emb.shape[0], emb.shape[1]])),
        };
        let eps = cfg.rms_norm_eps;
        let mut layers = Vec::with_capacity(cfg.num_hidden_layers);
        for i in 0..cfg.num_hidden_layers {
            let p = format!("model.layers.{i}");
            layers.push(DecoderLayer {
                self_attn: Attention {
                    q_proj: loader.linear(&format!("{p}.self_attn.q_proj.weight"))?,
                    k_proj: loader.linear(&format!("{p}.self_attn.k_proj.weight"))?,
                    v_proj: loader.linear(&format!("{p}.self_attn.v_proj.weight"))?,
                    o_proj: loader.linear(&format!("{p}.self_attn.o_proj.weight"))?,
                    num_heads: cfg.num_attention_heads,
                    num_kv_heads: cfg.num_key_value_heads,
                    head_dim: cfg.head_dim,
                    lora_dropout: 0.0,
                },
                mlp: Mlp {
                    gate_proj: loader.linear(&format!("{p}.mlp.gate_proj.weight"))?,
                    up_proj: loader.linear(&format!("{p}.mlp.up_proj.weight"))?,
                    down_proj: loader.linear(&format!("{p}.mlp.down_proj.weight"))?,
                    lora_dropout: 0.0,
                },
                input_layernorm: loader.norm(&format!("{p}.input_layernorm.weight"), eps)?,
                post_attention_layernorm: loader
                    .norm(&format!("{p}.post_attention_layernorm.weight"), eps)?,
            });
        }
        let lm_head = if cfg.tie_word_embeddings {
            None
        } else {
            match loader.linear("lm_head.weight") {
                Ok(head) => Some(head),
                // A sequence-classification checkpoint (a reward model) has a scalar head instead
                // of an LM head; its backbone loads, with logits through the embedding.
                Err(ModelError::MissingTensor { .. })
                    if source.read(super::SCORE_WEIGHT)?.is_some() =>
                {
                    tracing::info!("no lm_head.weight beside score.weight: a scalar-head model");
                    None
                }
                Err(e) => return Err(e),
            }
        };
        Ok(Self {
            embed_tokens,
            layers,
            norm: loader.norm("model.norm.weight", eps)?,
            lm_head,
            sliding_window: cfg.sliding_window.unwrap_or(0),
        })
    }

    /// Every weight under its Hugging Face name, in HF layout (`[out, in]` for linears), as `f32`.
    pub fn hf_tensors(&self) -> Vec<(String, WeightTensor)> {
        fn dense<const D: usize>(t: Tensor<D>) -> WeightTensor {
            let shape = t.dims().to_vec();
            let data = t
                .cast(DType::F32)
                .into_data()
                .try_to_vec::<f32>()
                .unwrap_or_default();
            WeightTensor { shape, data }
        }
        fn linear(l: &Linear) -> WeightTensor {
            let w = dense(l.weight.val());
            let (rows, cols) = (w.shape[0], w.shape[1]);
            WeightTensor {
                shape: vec![cols, rows],
                data: transpose(&w.data, rows, cols),
            }
        }
        let mut out = vec![(
            "model.embed_tokens.weight".to_string(),
            dense(self.embed_tokens.weight.val()),
        )];
        for (i, layer) in self.layers.iter().enumerate() {
            let p = format!("model.layers.{i}");
            let a = &layer.self_attn;
            let m = &layer.mlp;
            for (leaf, l) in [
                ("self_attn.q_proj", &a.q_proj),
                ("self_attn.k_proj", &a.k_proj),
                ("self_attn.v_proj", &a.v_proj),
                ("self_attn.o_proj", &a.o_proj),
                ("mlp.gate_proj", &m.gate_proj),
                ("mlp.up_proj", &m.up_proj),
                ("mlp.down_proj", &m.down_proj),
            ] {
                out.push((format!("{p}.{leaf}.weight"), linear(l)));
            }
            for (leaf, n) in [
                ("input_layernorm", &layer.input_layernorm),
                ("post_attention_layernorm", &layer.post_attention_layernorm),
            ] {
                out.push((format!("{p}.{leaf}.weight"), dense(n.gamma.val())));
            }
        }
        out.push((
            "model.norm.weight".to_string(),
            dense(self.norm.gamma.val()),
        ));
        if let Some(head) = &self.lm_head {
            out.push(("lm_head.weight".to_string(), linear(head)));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::transpose;

    #[test]
    fn transpose_is_an_involution() {
        let data: Vec<f32> = (0..35 * 70).map(|i| i as f32).collect();
        let t = transpose(&data, 35, 70);
        assert_eq!(t[1], data[70]);
        assert_eq!(transpose(&t, 70, 35), data);
    }
}
