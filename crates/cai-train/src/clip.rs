//! Global-norm gradient clipping (PyTorch's `clip_grad_norm_`): burn 0.22 clips each parameter
//! tensor on its own, which is a different operation.

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::{DType, Tensor};

/// Sums the squared gradient entries of every parameter of a module.
struct SquaredSums<'a> {
    grads: &'a GradientsParams,
    sums: Vec<Tensor<1>>,
}

impl ModuleVisitor for SquaredSums<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(grad) = self.grads.get::<D>(param.id) {
            self.sums.push(grad.cast(DType::F32).square().sum());
        }
    }
}

/// Multiplies every gradient of a module by one factor.
struct Scale<'a> {
    grads: &'a mut GradientsParams,
    factor: f64,
}

impl ModuleVisitor for Scale<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(grad) = self.grads.remove::<D>(param.id) {
            self.grads
                .register::<D>(param.id, grad.mul_scalar(self.factor));
        }
    }
}

/// The L2 norm of all gradients of `module`'s parameters taken together.
pub fn global_grad_norm<M: Module>(module: &M, grads: &GradientsParams) -> f64 {
    let mut visitor = SquaredSums {
        grads,
        sums: Vec::new(),
    };
    module.visit(&mut visitor);
    if visitor.sums.is_empty() {
        return 0.0;
    }
    let total: f32 = Tensor::cat(visitor.sums, 0).sum().sqrt().into_scalar();
    total as f64
}

/// Scales the gradients so that their global norm is at most `max_norm` (no-op when
/// `max_norm <= 0`), as `torch.nn.utils.clip_grad_norm_` does (factor `max_norm / (norm + 1e-6)`).
/// Returns the gradients and their norm before clipping.
pub fn clip_global_norm<M: Module>(
    module: &M,
    mut grads: GradientsParams,
    max_norm: f64,
) -> (GradientsParams, f64) {
    let norm = global_grad_norm(module, &grads);
    let factor = max_norm / (norm + 1e-6);
    if max_norm > 0.0 && factor < 1.0 {
        module.visit(&mut Scale {
            grads: &mut grads,
            factor,
        });
    }
    (grads, norm)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::LinearConfig;
    use burn::tensor::Device;

    #[test]
    fn clipping_uses_the_norm_over_all_tensors() {
        let device = Device::flex().autodiff();
        let linear = LinearConfig::new(3, 2).init(&device);
        let x = Tensor::<2>::ones([4, 3], &device);
        let loss = linear.forward(x).sum().mul_scalar(10.0);
        let grads = GradientsParams::from_grads(loss.backward(), &linear);
        // d/dW = 10 * 4 ones [3, 2]; d/db = 10 * 4 ones [2]: norm = 40 * sqrt(8).
        let expected = 40.0 * 8f64.sqrt();
        assert!((global_grad_norm(&linear, &grads) - expected).abs() < 1e-3);
        let (clipped, before) = clip_global_norm(&linear, grads, 1.0);
        assert!((before - expected).abs() < 1e-3);
        assert!((global_grad_norm(&linear, &clipped) - 1.0).abs() < 1e-4);
        // Each tensor keeps its share: the bias gradient is 2/8 of the squared total.
        let bias: Tensor<1> = clipped.get(linear.bias.as_ref().unwrap().id).unwrap();
        let bias_norm: f32 = bias.square().sum().sqrt().into_scalar();
        assert!((bias_norm as f64 - 0.5).abs() < 1e-4);
    }

    #[test]
    fn small_gradients_are_left_alone() {
        let device = Device::flex().autodiff();
        let linear = LinearConfig::new(2, 1).init(&device);
        let loss = linear.forward(Tensor::<2>::ones([1, 2], &device)).sum();
        let grads = GradientsParams::from_grads(loss.backward(), &linear);
        let norm = global_grad_norm(&linear, &grads);
        let (kept, _) = clip_global_norm(&linear, grads, 100.0);
        assert_eq!(global_grad_norm(&linear, &kept), norm);
    }
}
