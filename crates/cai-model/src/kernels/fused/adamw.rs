//! One AdamW update of a flex f32 parameter in a single parallel pass over the parameter, its
//! gradient and both moments (burn's AdamW makes about a dozen tensor passes).

use burn_flex::FlexTensor;
use rayon::prelude::*;

use super::math::vectorized;
use super::{dense, f32s};

/// Elements per task.
const CHUNK: usize = 1 << 15;

/// The scalars of one AdamW step.
#[derive(Debug, Clone, Copy)]
pub struct AdamwStep {
    /// Learning rate.
    pub lr: f32,
    /// First-moment decay.
    pub beta1: f32,
    /// Second-moment decay.
    pub beta2: f32,
    /// Added to the root of the bias-corrected second moment.
    pub eps: f32,
    /// Decoupled weight decay.
    pub weight_decay: f32,
    /// Step number, from 1 (for the bias corrections).
    pub time: i32,
}

/// Updates `param` and the moments `m`, `v` (zeros before the first step) by `grad`; returns the
/// new `(param, m, v)`. Each buffer is updated in place when nothing else shares it.
pub(super) fn step(
    s: AdamwStep,
    param: FlexTensor,
    grad: &FlexTensor,
    m: FlexTensor,
    v: FlexTensor,
) -> (FlexTensor, FlexTensor, FlexTensor) {
    let (mut param, mut m, mut v) = (owned(param), owned(m), owned(v));
    let grad = dense(grad.clone());
    let decay = 1.0 - s.lr * s.weight_decay;
    let correct1 = 1.0 / (1.0 - s.beta1.powi(s.time));
    let correct2 = 1.0 / (1.0 - s.beta2.powi(s.time));
    param
        .storage_mut::<f32>()
        .par_chunks_mut(CHUNK)
        .zip(m.storage_mut::<f32>().par_chunks_mut(CHUNK))
        .zip(v.storage_mut::<f32>().par_chunks_mut(CHUNK))
        .zip(f32s(&grad).par_chunks(CHUNK))
        .for_each(|(((p, m), v), g)| {
            vectorized(|| {
                for (((p, m), v), &g) in p.iter_mut().zip(m.iter_mut()).zip(v.iter_mut()).zip(g) {
                    *m = s.beta1 * *m + (1.0 - s.beta1) * g;
                    *v = s.beta2 * *v + (1.0 - s.beta2) * g * g;
                    let update = (*m * correct1) / ((*v * correct2).sqrt() + s.eps);
                    *p = *p * decay - s.lr * update;
                }
            })
        });
    (param, m, v)
}

/// `t` as a dense buffer owned by nobody else (a copy when it is shared or strided), so that
/// `storage_mut` neither copies again nor reaches outside the tensor.
fn owned(t: FlexTensor) -> FlexTensor {
    let exact = t.layout().contiguous_offsets() == Some((0, t.layout().num_elements()));
    let whole = exact && t.bytes().len() == t.layout().num_elements() * 4;
    if whole && t.is_unique() {
        t
    } else {
        FlexTensor::from_data(dense(t).into_data())
    }
}
