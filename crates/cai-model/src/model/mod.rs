//! The Llama/Mistral decoder: embedding, `num_hidden_layers` × (RMSNorm → grouped-query attention
//! with RoPE → residual → RMSNorm → SwiGLU MLP → residual), final RMSNorm, LM head.
//!
//! Field names are Hugging Face's (`self_attn.q_proj`, `mlp.gate_proj`, …) so checkpoint names map
//! one to one and LoRA target names read as in PEFT. Linear weights are stored `[in, out]` (burn's
//! layout); loading and saving transpose from and to HF's `[out, in]`.

mod batch;
pub mod cache;
mod layers;
pub mod mask;
mod projection;
mod reward;
pub mod rope;
mod scalar_head;
mod weights_io;

use burn::module::Module;
use burn::nn::{Embedding, Linear, RmsNorm};
use burn::tensor::{DType, Device, Int, Tensor, TensorData};

use crate::kernels::skinny;

pub use batch::TokenBatch;
pub use cache::KvCache;
pub use layers::{Attention, DecoderLayer, LayerCache, Mlp};
use mask::{KeySlots, attention_mask};
pub use reward::RewardModel;
use rope::RopeTables;
pub use scalar_head::{SCORE_WEIGHT, ScalarHead};

/// A Llama/Mistral causal language model.
#[derive(Module, Debug)]
pub struct CausalLm {
    /// Token embedding `[vocab, hidden]`.
    pub embed_tokens: Embedding,
    /// Decoder layers.
    pub layers: Vec<DecoderLayer>,
    /// Final RMSNorm.
    pub norm: RmsNorm,
    /// Untied LM head; `None` when tied to `embed_tokens`.
    pub lm_head: Option<Linear>,
    /// Mistral sliding window (`0` = none).
    pub sliding_window: usize,
}

impl CausalLm {
    /// The device the weights live on.
    pub fn device(&self) -> Device {
        self.embed_tokens.weight.val().device()
    }

    /// A cache sized for this model.
    pub fn new_cache(&self, batch: usize, capacity: usize) -> KvCache {
        KvCache::new(self.layers.len(), batch, capacity)
    }

    /// Runs `batch` through the decoder and returns the final-norm hidden states
    /// `[batch, seq, hidden]`.
    ///
    /// With a cache, the batch continues the cached sequences (positions resume after each row's last
    /// real token) and its keys/values are appended; without one, the batch is a whole sequence.
    pub fn forward_hidden(
        &self,
        batch: &TokenBatch,
        rope: &RopeTables,
        mut cache: Option<&mut KvCache>,
    ) -> Tensor<3> {
        let device = self.device();
        let (b, t) = (batch.batch_size(), batch.seq_len());
        let window = (self.sliding_window > 0).then_some(self.sliding_window);
        let start = cache.as_ref().map_or(0, |c| c.len());
        let (positions, mask) = {
            let mut fresh = vec![KeySlots::default(); b];
            let rows: &mut [KeySlots] = match cache.as_deref_mut() {
                Some(c) => c.rows_mut(),
                None => &mut fresh,
            };
            let positions = batch.extend_slots(rows);
            (positions, attention_mask(rows, t, window, &device))
        };
        let positions = Tensor::<2, Int>::from_data(TensorData::new(positions, [b, t]), &device);
        let (cos, sin) = rope.gather(&positions);
        let mut x = self.embed_tokens.forward(batch.ids_tensor(&device));
        if x.dtype() != DType::F32 {
            x = x.cast(DType::F32);
        }
        for (index, layer) in self.layers.iter().enumerate() {
            let layer_cache = cache.as_deref_mut().map(|cache| LayerCache {
                cache,
                index,
                start,
            });
            x = layer.forward(x, &cos, &sin, &mask, layer_cache);
        }
        self.norm.forward(x)
    }

    /// Projects hidden states `[batch, seq, hidden]` to logits `[batch, seq, vocab]`.
    pub fn logits(&self, hidden: Tensor<3>) -> Tensor<3> {
        let [b, t, d] = hidden.dims();
        let flat = hidden.reshape([b * t, d]);
        let logits = match &self.lm_head {
            Some(head) => skinny::linear(head, flat),
            None => {
                let table = self.embed_tokens.weight.val();
                skinny::matmul_transposed(&flat, &table)
                    .unwrap_or_else(|| skinny::mixed_matmul(flat, table.transpose()))
            }
        };
        let vocab = logits.dims()[1];
        logits.reshape([b, t, vocab])
    }

    /// The model with dropout `p` on the LoRA adapters' input of every decoder projection (used
    /// only while gradients are tracked and a projection carries an adapter; `0` turns it off).
    pub fn with_lora_dropout(mut self, p: f64) -> Self {
        for layer in &mut self.layers {
            layer.self_attn.lora_dropout = p;
            layer.mlp.lora_dropout = p;
        }
        self
    }

    /// Logits at every position: `forward_hidden` then `logits`.
    pub fn forward(
        &self,
        batch: &TokenBatch,
        rope: &RopeTables,
        cache: Option<&mut KvCache>,
    ) -> Tensor<3> {
        self.logits(self.forward_hidden(batch, rope, cache))
    }
}
