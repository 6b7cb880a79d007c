//! `silu(gate) ⊙ up` on flex tensors and its backward, element-wise in parallel chunks.

use burn_flex::FlexTensor;
use rayon::prelude::*;

use super::math::{sigmoid, vectorized};
use super::{dense, f32s};

/// Elements per task.
const CHUNK: usize = 1 << 14;

/// `silu(gate) ⊙ up`, dense, of `gate`'s shape.
pub(super) fn forward(gate: &FlexTensor, up: &FlexTensor) -> FlexTensor {
    let (gate, up) = (dense(gate.clone()), dense(up.clone()));
    let mut out = FlexTensor::empty(gate.layout().shape().clone(), gate.dtype());
    out.storage_mut::<f32>()
        .par_chunks_mut(CHUNK)
        .zip(f32s(&gate).par_chunks(CHUNK))
        .zip(f32s(&up).par_chunks(CHUNK))
        .for_each(|((out, gate), up)| {
            vectorized(|| {
                for ((o, &g), &u) in out.iter_mut().zip(gate).zip(up) {
                    *o = g * sigmoid(g) * u;
                }
            })
        });
    out
}

/// The gradients of `gate` and `up` from the output's: `grad · up · silu'(gate)` and
/// `grad · silu(gate)`, with `silu'(x) = σ(x)·(1 + x·(1 − σ(x)))`.
pub(super) fn backward(
    gate: &FlexTensor,
    up: &FlexTensor,
    grad: FlexTensor,
) -> (FlexTensor, FlexTensor) {
    let (gate, up, grad) = (dense(gate.clone()), dense(up.clone()), dense(grad));
    let shape = gate.layout().shape().clone();
    let mut grad_gate = FlexTensor::empty(shape.clone(), gate.dtype());
    let mut grad_up = FlexTensor::empty(shape, gate.dtype());
    grad_gate
        .storage_mut::<f32>()
        .par_chunks_mut(CHUNK)
        .zip(grad_up.storage_mut::<f32>().par_chunks_mut(CHUNK))
        .zip(f32s(&gate).par_chunks(CHUNK))
        .zip(f32s(&up).par_chunks(CHUNK))
        .zip(f32s(&grad).par_chunks(CHUNK))
        .for_each(|((((dg, du), gate), up), grad)| {
            vectorized(|| {
                let inputs = gate.iter().zip(up).zip(grad);
                for ((dg, du), ((&g, &u), &dy)) in dg.iter_mut().zip(du.iter_mut()).zip(inputs) {
                    let s = sigmoid(g);
                    *du = dy * g * s;
                    *dg = dy * u * s * (1.0 + g * (1.0 - s));
                }
            })
        });
    (grad_gate, grad_up)
}
