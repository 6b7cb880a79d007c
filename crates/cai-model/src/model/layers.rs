//! The decoder layer and its two blocks: grouped-query attention and the SwiGLU MLP.

use burn::module::Module;
use burn::nn::{Linear, RmsNorm};
use burn::tensor::activation::silu;
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{Bool, Tensor};

use super::cache::KvCache;
use super::projection::project;
use super::rope::apply_rotary;
use crate::kernels::fused;

/// Where a layer writes its keys and values during cached decoding.
pub struct LayerCache<'a> {
    /// The batch's cache.
    pub cache: &'a mut KvCache,
    /// This layer's index.
    pub index: usize,
    /// Slots filled before this forward call.
    pub start: usize,
}

/// Multi-head attention with grouped KV heads, RoPE, and no biases.
#[derive(Module, Debug)]
pub struct Attention {
    /// Query projection.
    pub q_proj: Linear,
    /// Key projection.
    pub k_proj: Linear,
    /// Value projection.
    pub v_proj: Linear,
    /// Output projection.
    pub o_proj: Linear,
    /// Query heads.
    pub num_heads: usize,
    /// Key/value heads.
    pub num_kv_heads: usize,
    /// Width of a head.
    pub head_dim: usize,
    /// Dropout on the input of LoRA adapters while training (see [`project`]); 0 otherwise.
    pub(crate) lora_dropout: f64,
}

impl Attention {
    fn split_heads(&self, x: Tensor<2>, b: usize, t: usize, heads: usize) -> Tensor<4> {
        x.reshape([b, t, heads, self.head_dim]).swap_dims(1, 2)
    }

    /// Attends the `[batch, seq, hidden]` input over itself (and the cache).
    ///
    /// # Shapes
    /// `cos`/`sin`: `[batch, 1, seq, head_dim]`; `mask`: `[batch, 1, seq, keys]`, `true` = hidden.
    pub fn forward(
        &self,
        x: Tensor<3>,
        cos: &Tensor<4>,
        sin: &Tensor<4>,
        mask: &Tensor<4, Bool>,
        cache: Option<LayerCache<'_>>,
    ) -> Tensor<3> {
        let [b, t, d] = x.dims();
        // Projections on [b·t, d]: one GEMM per weight (a 3-D input would read it once per row).
        let x = x.reshape([b * t, d]);
        let q = self.split_heads(
            project(&self.q_proj, x.clone(), self.lora_dropout),
            b,
            t,
            self.num_heads,
        );
        let k = self.split_heads(
            project(&self.k_proj, x.clone(), self.lora_dropout),
            b,
            t,
            self.num_kv_heads,
        );
        let v = self.split_heads(
            project(&self.v_proj, x, self.lora_dropout),
            b,
            t,
            self.num_kv_heads,
        );
        let q = apply_rotary(q, cos, sin);
        let k = apply_rotary(k, cos, sin);
        let (k, v) = match cache {
            Some(LayerCache {
                cache,
                index,
                start,
            }) => cache.append(index, start, k, v),
            None => (k, v),
        };
        let out = fused::grouped_attention(&q, &k, &v, mask)
            .unwrap_or_else(|| self.burn_attention(q, k, v, mask));
        let out = out
            .swap_dims(1, 2)
            .reshape([b * t, self.num_heads * self.head_dim]);
        project(&self.o_proj, out, self.lora_dropout).reshape([b, t, d])
    }

    /// burn's attention op. It accepts fewer KV heads only outside autodiff (under autodiff it
    /// falls back to a composite op that silently yields NaN), so they are repeated when gradients
    /// are tracked.
    fn burn_attention(
        &self,
        q: Tensor<4>,
        k: Tensor<4>,
        v: Tensor<4>,
        mask: &Tensor<4, Bool>,
    ) -> Tensor<4> {
        let (k, v, mask) = if q.device().is_autodiff() {
            let [b, _, t, _] = q.dims();
            let keys = k.dims()[2];
            let mask = mask.clone().expand([b, self.num_heads, t, keys]);
            (self.repeat_kv(k), self.repeat_kv(v), mask)
        } else {
            (k, v, mask.clone())
        };
        attention(q, k, v, Some(mask), None, AttentionModuleOptions::default())
    }

    fn repeat_kv(&self, x: Tensor<4>) -> Tensor<4> {
        let groups = self.num_heads / self.num_kv_heads;
        if groups == 1 {
            return x;
        }
        let [b, h, t, d] = x.dims();
        x.unsqueeze_dim::<5>(2)
            .expand([b, h, groups, t, d])
            .reshape([b, h * groups, t, d])
    }
}

/// SwiGLU feed-forward block: `down(silu(gate(x)) * up(x))`.
#[derive(Module, Debug)]
pub struct Mlp {
    /// Gate projection.
    pub gate_proj: Linear,
    /// Up projection.
    pub up_proj: Linear,
    /// Down projection.
    pub down_proj: Linear,
    /// Dropout on the input of LoRA adapters while training (see [`project`]); 0 otherwise.
    pub(crate) lora_dropout: f64,
}

impl Mlp {
    /// Applies the block to `[batch, seq, hidden]` (as one `[batch·seq, hidden]` GEMM per weight).
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let [b, t, d] = x.dims();
        let x = x.reshape([b * t, d]);
        let gate = project(&self.gate_proj, x.clone(), self.lora_dropout);
        let up = project(&self.up_proj, x, self.lora_dropout);
        let hidden = fused::swiglu(&gate, &up).unwrap_or_else(|| silu(gate) * up);
        project(&self.down_proj, hidden, self.lora_dropout).reshape([b, t, d])
    }
}

/// One pre-norm decoder layer.
#[derive(Module, Debug)]
pub struct DecoderLayer {
    /// Attention block.
    pub self_attn: Attention,
    /// Feed-forward block.
    pub mlp: Mlp,
    /// Norm before attention.
    pub input_layernorm: RmsNorm,
    /// Norm before the MLP.
    pub post_attention_layernorm: RmsNorm,
}

impl DecoderLayer {
    /// Applies the layer to `[batch, seq, hidden]`.
    pub fn forward(
        &self,
        x: Tensor<3>,
        cos: &Tensor<4>,
        sin: &Tensor<4>,
        mask: &Tensor<4, Bool>,
        cache: Option<LayerCache<'_>>,
    ) -> Tensor<3> {
        let attn = self.self_attn.forward(
            self.input_layernorm.forward(x.clone()),
            cos,
            sin,
            mask,
            cache,
        );
        let x = x + attn;
        let mlp = self
            .mlp
            .forward(self.post_attention_layernorm.forward(x.clone()));
        x + mlp
    }
}
