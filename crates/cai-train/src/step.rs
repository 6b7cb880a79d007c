//! One optimizer step over a global batch: a backward per micro-batch with the gradients summed
//! (burn has no `retain_graph`), global-norm clipping, then the optimizer at the scheduled rate.

use burn::module::Module;
use burn::optim::{GradientsAccumulator, GradientsParams, ModuleOptimizer};
use burn::tensor::Tensor;

use crate::clip_global_norm;

/// What one optimizer step did.
#[derive(Debug)]
pub struct StepOutcome<M> {
    /// The updated module.
    pub module: M,
    /// Mean of the micro-batch losses (each weighted `1 / micro-batches`).
    pub loss: f64,
    /// Global gradient norm before clipping.
    pub grad_norm: f64,
}

/// Runs `loss` on every micro-batch of `micro_batches`, back-propagates each scaled by
/// `1 / micro_batches.len()` and accumulates the gradients, clips their global norm to
/// `max_grad_norm` (`0` = off), and steps `optim` at learning rate `lr`.
///
/// # Panics
/// If `micro_batches` is empty.
pub fn accumulated_step<M, B>(
    module: M,
    optim: &mut ModuleOptimizer,
    micro_batches: &[B],
    lr: f64,
    max_grad_norm: f64,
    mut loss: impl FnMut(&M, &B) -> Tensor<1>,
) -> StepOutcome<M>
where
    M: Module,
{
    assert!(!micro_batches.is_empty(), "a step needs a micro-batch");
    let scale = 1.0 / micro_batches.len() as f64;
    let mut accumulator = GradientsAccumulator::<M>::new();
    let mut total = 0.0;
    for batch in micro_batches {
        let micro_loss = loss(&module, batch);
        total += micro_loss.clone().into_scalar::<f32>() as f64 * scale;
        let grads = micro_loss.mul_scalar(scale).backward();
        accumulator.accumulate(&module, GradientsParams::from_grads(grads, &module));
    }
    let (grads, grad_norm) = clip_global_norm(&module, accumulator.grads(), max_grad_norm);
    StepOutcome {
        module: optim.step(lr, module, grads),
        loss: total,
        grad_norm,
    }
}
