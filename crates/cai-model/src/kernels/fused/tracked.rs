//! The fused kernels as burn autodiff operations: each forward registers one backward step that
//! calls the kernels' closed-form gradients.

use burn::tensor::Tensor;
use burn_autodiff::Autodiff;
use burn_autodiff::checkpoint::base::Checkpointer;
use burn_autodiff::checkpoint::strategy::NoCheckpointing;
use burn_autodiff::grads::Gradients;
use burn_autodiff::ops::{Backward, Ops, OpsKind};
use burn_backend::tensor::FloatTensor;
use burn_flex::{Flex, FlexTensor};

use super::{attention, swiglu as swiglu_kernel};

/// A float tensor of the flex autodiff backend: a flex primitive and its graph node.
pub(super) type AutodiffTensor = FloatTensor<Autodiff<Flex>>;

/// The autodiff primitive of a tensor on the flex autodiff device (without gradient
/// checkpointing), or `None` elsewhere.
pub(super) fn primitive<const D: usize>(t: &Tensor<D>) -> Option<AutodiffTensor> {
    t.clone().try_into_primitive::<Autodiff<Flex>>().ok()
}

/// Hands each gradient in `grads_out` to the parent it belongs to.
fn register<const N: usize>(
    grads: &mut Gradients,
    ops: &Ops<impl Sized, N>,
    grads_out: [Option<FlexTensor>; N],
) {
    for (parent, grad) in ops.parents.iter().zip(grads_out) {
        if let (Some(parent), Some(grad)) = (parent, grad) {
            grads.register::<Flex>(parent.id, grad);
        }
    }
}

/// Backward step of [`grouped_attention`].
#[derive(Debug)]
struct AttentionStep;

impl Backward<Flex, 3> for AttentionStep {
    type State = attention::Saved;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad_out = grads.consume::<Flex>(&ops.node);
        let needed = ops.parents.each_ref().map(Option::is_some);
        let grads_in = attention::backward(&ops.state, grad_out, needed);
        register(grads, &ops, grads_in);
    }
}

/// [`super::grouped_attention`] under autodiff.
pub(super) fn grouped_attention(
    q: AutodiffTensor,
    k: AutodiffTensor,
    v: AutodiffTensor,
    mask: FlexTensor,
) -> AutodiffTensor {
    let [q_in, k_in, v_in] = [&q, &k, &v].map(|t| t.primitive().clone());
    match AttentionStep
        .prepare::<NoCheckpointing>([q.node(), k.node(), v.node()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => {
            let (out, saved) = attention::forward(q_in, k_in, v_in, &mask);
            prep.finish(saved, out)
        }
        OpsKind::UnTracked(prep) => prep.finish(attention::forward(q_in, k_in, v_in, &mask).0),
    }
}

/// Backward step of [`swiglu`]; its state is `(gate, up)`.
#[derive(Debug)]
struct SwigluStep;

impl Backward<Flex, 2> for SwigluStep {
    type State = (FlexTensor, FlexTensor);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad_out = grads.consume::<Flex>(&ops.node);
        let (gate, up) = &ops.state;
        let (grad_gate, grad_up) = swiglu_kernel::backward(gate, up, grad_out);
        register(grads, &ops, [Some(grad_gate), Some(grad_up)]);
    }
}

/// [`super::swiglu`] under autodiff.
pub(super) fn swiglu(gate: AutodiffTensor, up: AutodiffTensor) -> AutodiffTensor {
    let (gate_in, up_in) = (gate.primitive().clone(), up.primitive().clone());
    let out = swiglu_kernel::forward(&gate_in, &up_in);
    match SwigluStep
        .prepare::<NoCheckpointing>([gate.node(), up.node()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => prep.finish((gate_in, up_in), out),
        OpsKind::UnTracked(prep) => prep.finish(out),
    }
}
