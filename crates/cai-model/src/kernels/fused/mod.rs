//! Fused CPU kernels for training and prefill on the flex backend, with their own backward passes.
//!
//! Under autodiff, burn composes attention from a matmul, a mask fill, a softmax (scalar `exp`)
//! and a second matmul, each recorded and differentiated separately, single-threaded, and it needs
//! the KV heads repeated to the query heads' count; SiLU is likewise a chain of scalar element-wise
//! ops. The kernels here compute each block in a few multi-threaded, vectorized passes and
//! register one backward step that computes the closed-form gradients:
//!
//! * [`grouped_attention`]: `softmax(q·kᵀ/√d + mask)·v` with fewer KV heads than query heads,
//!   without repeating them;
//! * [`swiglu`]: `silu(gate) ⊙ up`.
//!
//! [`adamw`] is the optimizer's update in one pass over the parameter, its gradient and moments.
//!
//! They apply to f32 tensors on flex, with or without autodiff (without gradient checkpointing).
//! Elsewhere they return `None` and the caller runs burn's ops. `CAI_FUSED_KERNELS=0` turns them
//! off.

mod adamw;
mod attention;
pub mod math;
mod swiglu;
mod tracked;

use burn::tensor::{Bool, DType, Device, Tensor};
use burn_autodiff::Autodiff;
use burn_flex::{Flex, FlexTensor};

pub use adamw::AdamwStep;

use super::switch::KernelSwitch;

/// On unless `CAI_FUSED_KERNELS=0`.
static SWITCH: KernelSwitch = KernelSwitch::new("CAI_FUSED_KERNELS");

/// Turns the fused kernels on or off for the whole process.
pub fn set_enabled(on: bool) {
    SWITCH.set(on);
}

/// Whether the fused kernels are on.
pub fn enabled() -> bool {
    SWITCH.enabled()
}

/// Scaled dot-product attention of `q` `[batch, heads, seq, head_dim]` over `k`, `v`
/// `[batch, kv_heads, keys, head_dim]` (query head `i` reads KV head `i / (heads / kv_heads)`, as
/// Hugging Face's `repeat_kv`), with `mask` `[batch, 1, seq, keys]` (`true` = hidden) and scale
/// `1/√head_dim`. A query row whose keys are all hidden gets zeros. `None` when the kernels do not
/// apply; then use burn's `attention`.
pub fn grouped_attention(
    q: &Tensor<4>,
    k: &Tensor<4>,
    v: &Tensor<4>,
    mask: &Tensor<4, Bool>,
) -> Option<Tensor<4>> {
    let [b, heads, seq, _] = q.dims();
    let [kb, kv_heads, keys, _] = k.dims();
    let [mb, mh, ms, mk] = mask.dims();
    let shapes_fit = kb == b
        && kv_heads > 0
        && heads % kv_heads == 0
        && v.dims() == k.dims()
        && (mb == b || mb == 1)
        && mh == 1
        && ms == seq
        && mk == keys;
    if !shapes_fit || !applies(&[q, k, v]) {
        return None;
    }
    let mask = bool_primitive(mask)?;
    if q.device().is_autodiff() {
        let [q, k, v] = [q, k, v].map(tracked::primitive);
        let out = tracked::grouped_attention(q?, k?, v?, mask);
        Some(Tensor::from_primitive::<Autodiff<Flex>>(out))
    } else {
        let [q, k, v] = [q, k, v].map(plain_primitive);
        let (out, _) = attention::forward(q?, k?, v?, &mask);
        Some(Tensor::from_primitive::<Flex>(out))
    }
}

/// `silu(gate) ⊙ up` for two tensors of one shape, or `None` when the kernels do not apply.
pub fn swiglu(gate: &Tensor<2>, up: &Tensor<2>) -> Option<Tensor<2>> {
    if gate.dims() != up.dims() || !applies(&[gate, up]) {
        return None;
    }
    if gate.device().is_autodiff() {
        let out = tracked::swiglu(tracked::primitive(gate)?, tracked::primitive(up)?);
        Some(Tensor::from_primitive::<Autodiff<Flex>>(out))
    } else {
        let out = swiglu::forward(&plain_primitive(gate)?, &plain_primitive(up)?);
        Some(Tensor::from_primitive::<Flex>(out))
    }
}

/// Whether [`adamw`] takes this parameter and gradient: the kernels are on and both are f32 on
/// the plain flex device.
pub fn adamw_applies<const D: usize>(param: &Tensor<D>, grad: &Tensor<D>) -> bool {
    let flex = Device::flex();
    param.dims() == grad.dims()
        && applies(&[param, grad])
        && param.device() == flex
        && grad.device() == flex
}

/// One AdamW step of `param` with `grad` and the moments `m`, `v` (zeros before the first step):
/// the new `[param, m, v]`. Buffers nothing else holds are updated in place.
///
/// # Panics
/// Unless [`adamw_applies`] to `param` and `grad` and the moments are flex f32 tensors of their
/// shape.
pub fn adamw<const D: usize>(
    step: AdamwStep,
    param: Tensor<D>,
    grad: &Tensor<D>,
    m: Tensor<D>,
    v: Tensor<D>,
) -> [Tensor<D>; 3] {
    assert!(adamw_applies(&param, grad), "adamw: not flex f32 tensors");
    let moments_fit = m.dims() == param.dims() && v.dims() == param.dims() && applies(&[&m, &v]);
    assert!(
        moments_fit,
        "adamw: moments must be f32 of the parameter's shape"
    );
    let primitive = |t: Tensor<D>| {
        t.try_into_primitive::<Flex>()
            .expect("adamw: moments on the flex device")
    };
    let grad = primitive(grad.clone());
    let (param, m, v) = adamw::step(step, primitive(param), &grad, primitive(m), primitive(v));
    [param, m, v].map(Tensor::from_primitive::<Flex>)
}

/// Whether the kernels are on and every tensor is f32.
fn applies<const D: usize>(tensors: &[&Tensor<D>]) -> bool {
    enabled() && tensors.iter().all(|t| t.dtype() == DType::F32)
}

/// The flex primitive of a tensor on the plain flex device.
fn plain_primitive<const D: usize>(t: &Tensor<D>) -> Option<FlexTensor> {
    t.clone().try_into_primitive::<Flex>().ok()
}

/// The flex primitive of a mask on flex, with or without autodiff.
fn bool_primitive(mask: &Tensor<4, Bool>) -> Option<FlexTensor> {
    let mask = mask.clone();
    if mask.device().is_autodiff() {
        mask.try_into_primitive::<Autodiff<Flex>>().ok()
    } else {
        mask.try_into_primitive::<Flex>().ok()
    }
}

/// `t` with a dense row-major layout (a copy only when it is not already).
fn dense(t: FlexTensor) -> FlexTensor {
    if t.layout().contiguous_offsets().is_some() {
        t
    } else {
        t.to_contiguous()
    }
}

/// The values of a dense f32 tensor.
fn f32s(t: &FlexTensor) -> &[f32] {
    t.as_slice().expect("a dense f32 tensor")
}

/// The bytes (0 or 1) of a dense bool tensor.
fn bools(t: &FlexTensor) -> &[u8] {
    let (start, end) = t
        .layout()
        .contiguous_offsets()
        .expect("a dense bool tensor");
    &t.storage::<u8>()[start..end]
}

/// The dimensions of a 4-D flex tensor.
fn dims4(t: &FlexTensor) -> [usize; 4] {
    let shape = t.layout().shape();
    [shape[0], shape[1], shape[2], shape[3]]
}
