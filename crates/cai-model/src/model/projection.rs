//! The decoder's linear projections: one entry point that picks the skinny decode kernels, the
//! ordinary matmul, or, when training LoRA with dropout, the activation-space adapter path.

use burn::module::LoraAdapter;
use burn::nn::Linear;
use burn::tensor::{Distribution, Tensor};

use crate::kernels::skinny;

/// `linear(x)` for `x: [rows, in]`.
///
/// `lora_dropout` > 0 matters only while gradients are tracked and the weight carries a LoRA
/// adapter: the product is then `x·W₀ + s·(dropout(x)·A)·B` (PEFT's form; burn's own adapters act on
/// the weight, where there is no adapter-only input to drop). Everywhere else dropout is off.
pub fn project(linear: &Linear, x: Tensor<2>, lora_dropout: f64) -> Tensor<2> {
    if lora_dropout > 0.0
        && x.device().is_autodiff()
        && let Some(adapter) = linear.weight.reparameterization::<LoraAdapter>()
    {
        return lora_with_dropout(linear, adapter, x, lora_dropout);
    }
    skinny::linear(linear, x)
}

fn lora_with_dropout(linear: &Linear, adapter: &LoraAdapter, x: Tensor<2>, p: f64) -> Tensor<2> {
    // Inverted dropout: kept inputs are scaled by 1 / (1 - p) so the expected update is unchanged.
    let keep = x.random_like(Distribution::Bernoulli(1.0 - p));
    let dropped = (x.clone() * keep).div_scalar(1.0 - p);
    let update = dropped
        .matmul(adapter.a.val())
        .matmul(adapter.b.val())
        .mul_scalar(adapter.scale);
    skinny::with_bias(linear, x.matmul(linear.weight.base()) + update)
}
