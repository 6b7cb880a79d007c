//! AdamW as the stages configure it (NeMo `optim`: `lr`, `betas`, `eps`, `weight_decay`).
//!
//! Clipping is deliberately not burn's: it clips per tensor, while NeMo and PyTorch clip the global
//! norm, which [`clip_global_norm`](super::clip_global_norm) does before the step.
//!
//! The update is burn's AdamW, computed on flex f32 parameters by one fused pass
//! ([`fused::adamw`]) instead of burn's dozen tensor ops; its state is burn's [`AdamWState`], so
//! optimizer records are the same either way.

use burn::optim::{
    AdamW, AdamWConfig, AdamWState, AdaptiveMomentumState, LearningRate, ModuleOptimizer, Optimizer,
};
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use cai_model::kernels::fused::{self, AdamwStep};

/// AdamW hyper-parameters (decoupled weight decay, bias-corrected moments).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OptimizerSettings {
    /// First-moment decay.
    pub beta1: f64,
    /// Second-moment decay.
    pub beta2: f64,
    /// Added to the root of the second moment.
    pub eps: f64,
    /// Decoupled weight decay (multiplied by the learning rate each step).
    pub weight_decay: f64,
}

impl OptimizerSettings {
    /// A fresh AdamW optimizer over a whole module, without burn's per-tensor clipping.
    pub fn init(&self) -> ModuleOptimizer {
        ModuleOptimizer::from(FusedAdamw::new(*self))
    }
}

/// AdamW through the fused kernel where it applies, burn's otherwise.
#[derive(Clone)]
struct FusedAdamw {
    settings: OptimizerSettings,
    /// burn's AdamW with the same settings, for tensors the kernel does not take.
    burn: AdamW,
}

impl FusedAdamw {
    fn new(settings: OptimizerSettings) -> Self {
        let burn = AdamWConfig::new()
            .with_beta_1(settings.beta1 as f32)
            .with_beta_2(settings.beta2 as f32)
            .with_epsilon(settings.eps as f32)
            .with_weight_decay(settings.weight_decay as f32)
            .build();
        Self { settings, burn }
    }
}

impl Optimizer for FusedAdamw {
    type State<const D: usize> = AdamWState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        // (`burn` is built without AMSGrad, so no state carries a maximum second moment.)
        if !fused::adamw_applies(&tensor, &grad) {
            return self.burn.step(lr, tensor, grad, state);
        }
        // The moments are moved out of the state so the kernel can update them in place.
        let (time, m, v) = match state {
            Some(s) => (
                s.momentum.time + 1,
                s.momentum.moment_1,
                s.momentum.moment_2,
            ),
            None => (1, tensor.zeros_like(), tensor.zeros_like()),
        };
        let step = AdamwStep {
            lr: lr as f32,
            beta1: self.settings.beta1 as f32,
            beta2: self.settings.beta2 as f32,
            eps: self.settings.eps as f32,
            weight_decay: self.settings.weight_decay as f32,
            time: time as i32,
        };
        let [tensor, moment_1, moment_2] = fused::adamw(step, tensor, &grad, m, v);
        let momentum = AdaptiveMomentumState::new(time, moment_1, moment_2);
        (tensor, Some(AdamWState::new(momentum)))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        AdamW::to_device(state, device)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    fn filled(salt: f32) -> Tensor<2> {
        let data: Vec<f32> = (0..3 * 70_000)
            .map(|i| (i as f32 * 0.37 + salt).sin() * 0.5)
            .collect();
        Tensor::from_data(TensorData::new(data, [3, 70_000]), &Device::flex())
    }

    #[test]
    fn the_fused_update_is_burns_adamw() {
        let settings = OptimizerSettings {
            beta1: 0.9,
            beta2: 0.98,
            eps: 1e-8,
            weight_decay: 0.01,
        };
        let fused = FusedAdamw::new(settings);
        let (mut ours, mut theirs) = (filled(0.0), filled(0.0));
        let (mut our_state, mut their_state) = (None, None);
        for step in 0..3 {
            let grad = filled(1.0 + step as f32);
            let lr = 1e-3 * (step + 1) as f64;
            (ours, our_state) = fused.step(lr, ours, grad.clone(), our_state);
            (theirs, their_state) = fused.burn.step(lr, theirs, grad, their_state);
        }
        let (ours_s, theirs_s) = (our_state.unwrap().momentum, their_state.unwrap().momentum);
        assert_eq!(ours_s.time, theirs_s.time);
        let pairs = [
            (ours, theirs),
            (ours_s.moment_1, theirs_s.moment_1),
            (ours_s.moment_2, theirs_s.moment_2),
        ];
        for (i, (a, b)) in pairs.into_iter().enumerate() {
            let worst: f32 = (a - b).abs().max().into_scalar();
            assert!(worst < 1e-6, "tensor {i}: max |diff| {worst}");
        }
    }
}
