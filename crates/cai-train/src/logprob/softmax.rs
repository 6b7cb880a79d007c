//! One chunk of rows: per-row NLL of the target under `softmax(z / T)` and, on request, the
//! gradient of `Σ w_i · nll_i` with respect to the logits `z`.

use burn::tensor::{Device, IndexingUpdateOp, Int, Tensor, TensorData};
use cai_model::kernels::fused::math::{exp_le0, row_max, row_sum, vectorized};

/// The targets, weights and temperature of a chunk of logit rows.
pub(super) struct Rows<'a> {
    /// Target token of each row.
    pub targets: &'a [i64],
    /// Weight of each row's NLL in the loss.
    pub weights: &'a [f64],
    /// `1 / T`.
    pub inv_temperature: f32,
    /// Whether the gradient is wanted.
    pub grad: bool,
}

impl Rows<'_> {
    /// Each row's NLL, and `w_i · (softmax(z_i / T) − onehot(y_i)) / T` (`[rows, vocab]` f32;
    /// scratch values when no gradient is wanted). On the CPU the work is done in place on the
    /// logits' memory; elsewhere as tensor operations.
    pub fn nll_and_grad(&self, logits: Tensor<2>) -> (Vec<f64>, Tensor<2>) {
        let device = logits.device();
        if device != Device::flex() {
            return self.with_tensor_ops(logits);
        }
        let vocab = logits.dims()[1];
        let mut data = logits.into_data();
        let values = data
            .as_mut_slice::<f32>()
            .expect("f32 logits are contiguous f32 data");
        let nll = self.in_place(values, vocab);
        (nll, Tensor::<2>::from_data(data, &device))
    }

    /// The CPU path: rows in parallel, each overwritten by its gradient. The exponentials use
    /// [`exp_le0`], which, unlike the scalar libm `exp` of burn's CPU backend, vectorises (in the
    /// widest SIMD, through [`vectorized`]).
    fn in_place(&self, logits: &mut [f32], vocab: usize) -> Vec<f64> {
        use rayon::prelude::*;
        logits
            .par_chunks_mut(vocab)
            .zip(self.targets.par_iter().zip(self.weights.par_iter()))
            .map(|(row, (&target, &weight))| vectorized(|| self.row(row, target as usize, weight)))
            .collect()
    }

    /// One row: its NLL, and the row overwritten.
    #[inline(always)]
    fn row(&self, row: &mut [f32], target: usize, weight: f64) -> f64 {
        let inv_t = self.inv_temperature;
        if inv_t != 1.0 {
            for z in row.iter_mut() {
                *z *= inv_t;
            }
        }
        let target_logit = row[target];
        let max = row_max(row);
        for z in row.iter_mut() {
            *z = exp_le0(*z - max);
        }
        let sum = row_sum(row);
        if self.grad {
            let w = weight * inv_t as f64;
            let scale = (w / sum) as f32;
            for z in row.iter_mut() {
                *z *= scale;
            }
            row[target] -= w as f32;
        }
        sum.ln() + (max - target_logit) as f64
    }

    /// The same as tensor operations, for devices whose memory is not the host's.
    fn with_tensor_ops(&self, logits: Tensor<2>) -> (Vec<f64>, Tensor<2>) {
        let device = logits.device();
        let rows = self.targets.len();
        let t =
            Tensor::<2, Int>::from_data(TensorData::new(self.targets.to_vec(), [rows, 1]), &device);
        let w: Vec<f32> = self
            .weights
            .iter()
            .map(|&w| (w * self.inv_temperature as f64) as f32)
            .collect();
        let w = Tensor::<2>::from_data(TensorData::new(w, [rows, 1]), &device);
        let logits = if self.inv_temperature != 1.0 {
            logits.mul_scalar(self.inv_temperature as f64)
        } else {
            logits
        };
        let max = logits.clone().max_dim(1);
        let target_logit = logits.clone().gather(1, t.clone());
        let exp = (logits - max.clone()).exp();
        let sum = exp.clone().sum_dim(1);
        let nll = (sum.clone().log() + max - target_logit)
            .into_data()
            .try_to_vec::<f32>()
            .expect("f32 rows")
            .into_iter()
            .map(f64::from)
            .collect();
        let g = (exp / sum * w.clone()).scatter(1, t, w.neg(), IndexingUpdateOp::Add);
        (nll, g)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two rows of 37 logits (not a multiple of the SIMD lanes), targets 3 and 36.
    fn rows() -> Vec<Vec<f64>> {
        (0..2)
            .map(|r| {
                (0..37)
                    .map(|j| ((j * 7 + r * 5) % 11) as f64 * 0.9 - 3.0)
                    .collect()
            })
            .collect()
    }

    /// The NLL and gradient of each row, in f64, the textbook way.
    fn want(rows: &[Vec<f64>], targets: &[i64], weights: &[f64], t: f64) -> (Vec<f64>, Vec<f64>) {
        let (mut nll, mut grad) = (Vec::new(), Vec::new());
        for (r, row) in rows.iter().enumerate() {
            let z: Vec<f64> = row.iter().map(|z| z / t).collect();
            let max = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let sum: f64 = z.iter().map(|z| (z - max).exp()).sum();
            nll.push(sum.ln() + max - z[targets[r] as usize]);
            for (j, zj) in z.iter().enumerate() {
                let onehot = if j == targets[r] as usize { 1.0 } else { 0.0 };
                grad.push(weights[r] * ((zj - max).exp() / sum - onehot) / t);
            }
        }
        (nll, grad)
    }

    #[test]
    fn the_cpu_backend_is_recognised_under_autodiff() {
        // The in-place path is taken when the inner device equals flex.
        let t = Tensor::<2>::zeros([1, 1], &Device::flex().autodiff());
        assert_eq!(t.inner().device(), Device::flex());
    }

    #[test]
    fn both_paths_give_the_nll_and_its_weighted_tempered_gradient() {
        let targets = [3i64, 36];
        let weights = [0.25, -1.5];
        for t in [1.0f32, 0.7] {
            let chunk = Rows {
                targets: &targets,
                weights: &weights,
                inv_temperature: 1.0 / t,
                grad: true,
            };
            let (want_nll, want_grad) = want(&rows(), &targets, &weights, t as f64);
            let mut flat: Vec<f32> = rows().iter().flatten().map(|&z| z as f32).collect();
            let nll = chunk.in_place(&mut flat, 37);
            let logits = Tensor::<2>::from_data(
                TensorData::new(
                    rows()
                        .iter()
                        .flatten()
                        .map(|&z| z as f32)
                        .collect::<Vec<_>>(),
                    [2, 37],
                ),
                &Device::flex(),
            );
            let (tensor_nll, tensor_grad) = chunk.with_tensor_ops(logits);
            let tensor_grad = tensor_grad.into_data().try_to_vec::<f32>().unwrap();
            for r in 0..2 {
                assert!((nll[r] - want_nll[r]).abs() < 1e-5, "T {t} row {r}");
                assert!((tensor_nll[r] - want_nll[r]).abs() < 1e-5, "T {t} row {r}");
            }
            for (i, &g) in want_grad.iter().enumerate() {
                assert!((flat[i] as f64 - g).abs() < 1e-6, "T {t} entry {i}");
                assert!((tensor_grad[i] as f64 - g).abs() < 1e-6, "T {t} entry {i}");
            }
        }
    }
}
