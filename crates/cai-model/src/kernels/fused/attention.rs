//! Grouped-query attention on flex tensors: forward and the closed-form backward.
//!
//! The `heads / kv_heads` query heads that share a KV head are stacked into one
//! `[group · seq, head_dim]` matrix (a free reshape of a dense `[batch, heads, seq, head_dim]`),
//! so each product is one batched GEMM over `[batch, kv_heads]` with no repeated keys or values,
//! and the key/value gradients come out summed over the group by the GEMM itself. The softmax and
//! its backward run in place, row-parallel and vectorized.

use burn_backend::ops::FloatTensorOps;
use burn_flex::{Flex, FlexTensor};
use rayon::prelude::*;

use super::math::{dot, exp_le0, row_max, row_sum, vectorized};
use super::{bools, dense, dims4, f32s};

/// What the backward pass needs: the grouped queries, keys, values and the probabilities.
#[derive(Debug, Clone)]
pub(super) struct Saved {
    /// Queries `[batch, kv_heads, group · seq, head_dim]`, dense.
    q: FlexTensor,
    /// Keys `[batch, kv_heads, keys, head_dim]`.
    k: FlexTensor,
    /// Values `[batch, kv_heads, keys, head_dim]`.
    v: FlexTensor,
    /// Attention probabilities `[batch, kv_heads, group · seq, keys]`, dense.
    p: FlexTensor,
    /// Query heads.
    heads: usize,
}

/// Rows of the score matrix handed to one task.
const ROWS_PER_TASK: usize = 64;

/// `softmax(q·kᵀ/√d + mask)·v` (see [`super::grouped_attention`]) and the state its backward needs.
pub(super) fn forward(
    q: FlexTensor,
    k: FlexTensor,
    v: FlexTensor,
    mask: &FlexTensor,
) -> (FlexTensor, Saved) {
    let [b, heads, seq, d] = dims4(&q);
    let [_, kv_heads, keys, _] = dims4(&k);
    let rows = heads / kv_heads * seq;
    let q = q.reshape([b, kv_heads, rows, d].into());
    let mut p = Flex::float_matmul(q.clone(), k.transpose(2, 3));
    let mask = dense(mask.clone());
    let mask_batches = dims4(&mask)[0];
    let mask = bools(&mask);
    let scale = 1.0 / (d as f32).sqrt();
    p.storage_mut::<f32>()
        .par_chunks_mut(keys * ROWS_PER_TASK)
        .enumerate()
        .for_each(|(task, block)| {
            for (r, row) in block.chunks_exact_mut(keys).enumerate() {
                let row_index = task * ROWS_PER_TASK + r;
                // Row `row_index` is query position `row_index % seq` of batch
                // `row_index / (kv_heads · rows)`.
                let batch = (row_index / (kv_heads * rows)) % mask_batches;
                let pos = row_index % seq;
                let hidden = &mask[(batch * seq + pos) * keys..][..keys];
                vectorized(|| masked_softmax(row, hidden, scale));
            }
        });
    let out = Flex::float_matmul(p.clone(), v.clone()).reshape([b, heads, seq, d].into());
    (out, Saved { q, k, v, p, heads })
}

/// The gradients of the queries, keys and values (each only where `needed`) from the gradient
/// of the output `[batch, heads, seq, head_dim]`.
pub(super) fn backward(
    saved: &Saved,
    grad_out: FlexTensor,
    needed: [bool; 3],
) -> [Option<FlexTensor>; 3] {
    let Saved { q, k, v, p, heads } = saved;
    let [b, kv_heads, rows, d] = dims4(q);
    let keys = dims4(k)[2];
    let seq = rows / (heads / kv_heads);
    let grad_out = grad_out.reshape([b, kv_heads, rows, d].into());
    let [need_q, need_k, need_v] = needed;
    let grad_v = need_v.then(|| Flex::float_matmul(p.transpose(2, 3), grad_out.clone()));
    if !need_q && !need_k {
        return [None, None, grad_v];
    }
    // dS = P ⊙ (dP − rowsum(P ⊙ dP)) / √d, computed in dP's memory.
    let mut grad_scores = Flex::float_matmul(grad_out, v.transpose(2, 3));
    let scale = 1.0 / (d as f32).sqrt();
    let probs = f32s(p);
    grad_scores
        .storage_mut::<f32>()
        .par_chunks_mut(keys * ROWS_PER_TASK)
        .zip(probs.par_chunks(keys * ROWS_PER_TASK))
        .for_each(|(grad_block, p_block)| {
            for (grad, p) in grad_block
                .chunks_exact_mut(keys)
                .zip(p_block.chunks_exact(keys))
            {
                vectorized(|| softmax_backward(grad, p, scale));
            }
        });
    let grad_q = need_q.then(|| {
        Flex::float_matmul(grad_scores.clone(), k.clone()).reshape([b, *heads, seq, d].into())
    });
    let grad_k = need_k.then(|| Flex::float_matmul(grad_scores.transpose(2, 3), q.clone()));
    [grad_q, grad_k, grad_v]
}

/// One row: scores → probabilities of `softmax(scale · s)` over the keys not `hidden`; zeros when
/// every key is hidden.
#[inline(always)]
fn masked_softmax(row: &mut [f32], hidden: &[u8], scale: f32) {
    for (z, &h) in row.iter_mut().zip(hidden) {
        *z = if h != 0 {
            f32::NEG_INFINITY
        } else {
            *z * scale
        };
    }
    let max = row_max(row);
    if max == f32::NEG_INFINITY {
        row.fill(0.0);
        return;
    }
    for (z, &h) in row.iter_mut().zip(hidden) {
        let e = exp_le0(*z - max);
        *z = if h != 0 { 0.0 } else { e };
    }
    let inv = 1.0 / row_sum(row) as f32;
    for z in row.iter_mut() {
        *z *= inv;
    }
}

/// One row: `grad` (`∂L/∂P`) becomes `∂L/∂S` for scores `S` scaled by `scale` before the softmax.
#[inline(always)]
fn softmax_backward(grad: &mut [f32], p: &[f32], scale: f32) {
    let dot = dot(grad, p) as f32;
    for (g, &p) in grad.iter_mut().zip(p) {
        *g = p * (*g - dot) * scale;
    }
}
