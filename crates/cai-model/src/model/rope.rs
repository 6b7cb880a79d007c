//! Rotary position embedding in Hugging Face's `rotate_half` convention.
//!
//! burn's `RotaryEncoding` rotates interleaved pairs `(x0,x1),(x2,x3)…` (the Meta/llama.cpp layout);
//! Hugging Face checkpoints expect the two halves `(x_i, x_{i+d/2})` to rotate together. Mixing the
//! two silently ruins the logits, so this crate keeps HF order everywhere and un-permutes GGUF
//! `attn_q`/`attn_k` rows on load instead.

use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::error::{ModelError, Result};

/// Precomputed `cos`/`sin` tables, one row per position.
#[derive(Debug, Clone)]
pub struct RopeTables {
    cos: Tensor<2>,
    sin: Tensor<2>,
    max_positions: usize,
}

impl RopeTables {
    /// Tables for positions `0..max_positions` of heads `head_dim` wide with base `theta`.
    ///
    /// As in transformers, the inverse frequencies, angles and their cos/sin are computed in `f32`.
    ///
    /// # Panics
    /// When the tables cannot be allocated; [`RopeTables::try_new`] returns an error instead.
    pub fn new(head_dim: usize, theta: f64, max_positions: usize, device: &Device) -> Self {
        Self::try_new(head_dim, theta, max_positions, device)
            .unwrap_or_else(|e| panic!("RoPE tables: {e}"))
    }

    /// [`RopeTables::new`], failing with [`ModelError::Invalid`] (naming the sizes) when the
    /// `max_positions × head_dim` tables overflow or cannot be allocated.
    pub fn try_new(
        head_dim: usize,
        theta: f64,
        max_positions: usize,
        device: &Device,
    ) -> Result<Self> {
        let half = head_dim / 2;
        let inv_freq: Vec<f32> = (0..half)
            .map(|i| 1.0 / (theta as f32).powf((2 * i) as f32 / head_dim as f32))
            .collect();
        let too_big = || {
            ModelError::Invalid(format!(
                "RoPE tables for {max_positions} positions × {head_dim} dims do not fit in memory"
            ))
        };
        let n = max_positions.checked_mul(head_dim).ok_or_else(too_big)?;
        let (mut cos, mut sin) = (Vec::new(), Vec::new());
        cos.try_reserve_exact(n).map_err(|_| too_big())?;
        sin.try_reserve_exact(n).map_err(|_| too_big())?;
        for pos in 0..max_positions {
            for _half in 0..2 {
                for &f in &inv_freq {
                    let angle = pos as f32 * f;
                    cos.push(angle.cos());
                    sin.push(angle.sin());
                }
            }
        }
        let shape = [max_positions, head_dim];
        Ok(Self {
            cos: Tensor::from_data(TensorData::new(cos, shape), device),
            sin: Tensor::from_data(TensorData::new(sin, shape), device),
            max_positions,
        })
    }

    /// Number of positions covered.
    pub fn max_positions(&self) -> usize {
        self.max_positions
    }

    /// `cos` and `sin` gathered for `positions` `[batch, seq]`, shaped `[batch, 1, seq, head_dim]`.
    pub fn gather(&self, positions: &Tensor<2, Int>) -> (Tensor<4>, Tensor<4>) {
        let [batch, seq] = positions.dims();
        let flat = positions.clone().reshape([batch * seq]);
        let head_dim = self.cos.dims()[1];
        let pick = |table: &Tensor<2>| {
            table
                .clone()
                .select(0, flat.clone())
                .reshape([batch, 1, seq, head_dim])
        };
        (pick(&self.cos), pick(&self.sin))
    }
}

/// Applies the rotation to `x` `[batch, heads, seq, head_dim]`.
pub fn apply_rotary(x: Tensor<4>, cos: &Tensor<4>, sin: &Tensor<4>) -> Tensor<4> {
    let [b, h, t, d] = x.dims();
    let half = d / 2;
    let x1 = x.clone().slice([0..b, 0..h, 0..t, 0..half]);
    let x2 = x.clone().slice([0..b, 0..h, 0..t, half..d]);
    let rotated = Tensor::cat(vec![x2.neg(), x1], 3);
    x * cos.clone() + rotated * sin.clone()
}
