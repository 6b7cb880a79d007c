//! The fused CPU kernels against the same computation composed from burn's ops: values and
//! gradients, grouped KV heads, padding and fully hidden rows.

use cai_model::burn::tensor::activation::{silu, softmax};
use cai_model::burn::tensor::module::attention;
use cai_model::burn::tensor::ops::AttentionModuleOptions;
use cai_model::burn::tensor::{Bool, Device, Tensor, TensorData};
use cai_model::kernels::fused;

use super::common::values;

/// Deterministic, irregular values in about [-2, 2].
fn filled<const D: usize>(shape: [usize; D], salt: f32, device: &Device) -> Tensor<D> {
    let n = shape.iter().product::<usize>();
    let data: Vec<f32> = (0..n)
        .map(|i| 2.0 * ((i as f32 * 0.618 + salt).sin() * (i as f32 * 0.071 + salt).cos()))
        .collect();
    Tensor::from_data(TensorData::new(data, shape), device)
}

/// `[batch, 1, seq, keys]`: causal over the last `seq` of `keys` slots, the first `pad[b]` keys
/// of row `b` hidden as left padding, and query row `hidden_row` of batch 1 fully hidden.
fn mask(
    batch: usize,
    seq: usize,
    keys: usize,
    pad: &[usize],
    hidden_row: Option<usize>,
) -> Tensor<4, Bool> {
    assert_eq!(pad.len(), batch, "one padding length per row");
    let mut m = Vec::new();
    for (b, &pad) in pad.iter().enumerate() {
        for i in 0..seq {
            for j in 0..keys {
                let future = j > keys - seq + i;
                let fully = b == 1 && hidden_row == Some(i);
                m.push(future || j < pad || fully);
            }
        }
    }
    Tensor::from_data(TensorData::new(m, [batch, 1, seq, keys]), &Device::flex())
}

/// The reference: KV heads repeated, masked scores, softmax, product; hidden rows give zeros.
fn composite(q: Tensor<4>, k: Tensor<4>, v: Tensor<4>, mask: Tensor<4, Bool>) -> Tensor<4> {
    let [b, heads, seq, d] = q.dims();
    let [_, kv_heads, keys, _] = k.dims();
    let repeat = |x: Tensor<4>| {
        x.unsqueeze_dim::<5>(2)
            .expand([b, kv_heads, heads / kv_heads, keys, d])
            .reshape([b, heads, keys, d])
    };
    let mask = mask.to_device(&q.device()).expand([b, heads, seq, keys]);
    let scores = q
        .matmul(repeat(k).transpose())
        .div_scalar((d as f64).sqrt());
    let probs = softmax(scores.mask_fill(mask.clone(), -1e30), 3);
    // Rows with every key hidden: burn's softmax gives a uniform row, the kernels zeros.
    let all_hidden = mask.bool_not().int().sum_dim(3).equal_elem(0);
    let probs = probs.mask_fill(all_hidden.expand([b, heads, seq, keys]), 0.0);
    probs.matmul(repeat(v))
}

fn assert_close(what: &str, got: Tensor<4>, want: Tensor<4>, tol: f32) {
    let (got, want) = (values(got), values(want));
    assert_eq!(got.len(), want.len(), "{what}: sizes");
    let worst = got
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(worst < tol, "{what}: max |diff| {worst}");
    assert!(
        got.iter().all(|x| x.is_finite()),
        "{what}: non-finite values"
    );
}

#[test]
fn grouped_attention_matches_the_composite_op_and_its_gradients() {
    let device = Device::flex().autodiff();
    let (b, heads, kv_heads, seq, keys, d) = (2, 6, 2, 5, 7, 8);
    let q = filled([b, heads, seq, d], 0.1, &device).require_grad();
    let k = filled([b, kv_heads, keys, d], 0.7, &device).require_grad();
    let v = filled([b, kv_heads, keys, d], 1.3, &device).require_grad();
    let mask = mask(b, seq, keys, &[0, 2], Some(3));
    let weights = filled([b, heads, seq, d], 2.9, &device);
    let mut outputs = Vec::new();
    for fused_op in [true, false] {
        let out = if fused_op {
            fused::grouped_attention(&q, &k, &v, &mask.clone().to_device(&device))
                .expect("the kernels apply to f32 flex tensors")
        } else {
            composite(q.clone(), k.clone(), v.clone(), mask.clone())
        };
        let grads = (out.clone() * weights.clone()).sum().backward();
        let grad = |t: &Tensor<4>| t.grad(&grads).expect("a gradient");
        outputs.push([out.inner(), grad(&q), grad(&k), grad(&v)]);
    }
    let [fused_out, composite_out] = [outputs.remove(0), outputs.remove(0)];
    let pairs = fused_out.into_iter().zip(composite_out);
    for (name, (got, want)) in ["output", "dq", "dk", "dv"].iter().zip(pairs) {
        assert_close(name, got, want, 2e-5);
    }
}

#[test]
fn grouped_attention_matches_burns_op_without_autodiff() {
    let device = Device::flex();
    let (b, heads, kv_heads, seq, keys, d) = (3, 9, 3, 6, 10, 16);
    let q = filled([b, heads, seq, d], 0.2, &device);
    let k = filled([b, kv_heads, keys, d], 0.5, &device);
    let v = filled([b, kv_heads, keys, d], 0.9, &device);
    let mask = mask(b, seq, keys, &[1, 0, 4], None);
    let got = fused::grouped_attention(&q, &k, &v, &mask).expect("the kernels apply");
    let want = attention(q, k, v, Some(mask), None, AttentionModuleOptions::default());
    assert_close("output", got, want, 2e-5);
}

#[test]
fn fully_hidden_rows_give_zeros_and_no_nan_gradients() {
    let device = Device::flex().autodiff();
    let q = filled([2, 4, 5, 8], 0.3, &device).require_grad();
    let k = filled([2, 2, 5, 8], 0.4, &device).require_grad();
    let v = filled([2, 2, 5, 8], 0.6, &device).require_grad();
    let mask = mask(2, 5, 5, &[0, 0], Some(2)).to_device(&device);
    let out = fused::grouped_attention(&q, &k, &v, &mask).expect("the kernels apply");
    let row = out.clone().inner().slice([1..2, 0..4, 2..3, 0..8]);
    assert!(values(row).iter().all(|&x| x == 0.0));
    let grads = out.sum().backward();
    for t in [&q, &k, &v] {
        assert!(
            values(t.grad(&grads).unwrap())
                .iter()
                .all(|x| x.is_finite())
        );
    }
}

#[test]
fn swiglu_matches_silu_times_up_and_its_gradients() {
    let device = Device::flex().autodiff();
    // Wider than one task's chunk, with values far into both tails of the sigmoid.
    let gate = filled([3, 7000], 0.2, &device)
        .mul_scalar(12.0)
        .require_grad();
    let up = filled([3, 7000], 1.1, &device).require_grad();
    let weights = filled([3, 7000], 2.3, &device);
    let mut results = Vec::new();
    for fused_op in [true, false] {
        let out = if fused_op {
            fused::swiglu(&gate, &up).expect("the kernels apply")
        } else {
            silu(gate.clone()) * up.clone()
        };
        let grads = (out.clone() * weights.clone()).sum().backward();
        let [dg, du] = [&gate, &up].map(|t| t.grad(&grads).unwrap().unsqueeze::<4>());
        results.push([out.inner().unsqueeze::<4>(), dg, du]);
    }
    let [fused_out, composite_out] = [results.remove(0), results.remove(0)];
    let pairs = fused_out.into_iter().zip(composite_out);
    for (name, (got, want)) in ["output", "d gate", "d up"].iter().zip(pairs) {
        assert_close(name, got, want, 1e-5);
    }
}
