//! AdamW as the stages configure it (NeMo `optim`: `lr`, `betas`, `eps`, `weight_decay`).
//!
//! Clipping is deliberately not burn's: it clips per tensor, while NeMo and PyTorch clip the global
//! norm, which [`clip_global_norm`](super::clip_global_norm) does before the step.

use burn::optim::{AdamWConfig, ModuleOptimizer};
use serde::{Deserialize, Serialize};

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
        AdamWConfig::new()
            .with_beta_1(self.beta1 as f32)
            .with_beta_2(self.beta2 as f32)
            .with_epsilon(self.eps as f32)
            .with_weight_decay(self.weight_decay as f32)
            .init()
    }
}
