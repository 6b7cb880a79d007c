//! The panel fold behind `x · w` ([`super::matmul`]): one thread's slab of weight rows folded
//! into an `[m, n]` partial product, `P` weight rows per pass, each SIMD column of the panel held
//! in registers and multiplied into every batch row.
//!
//! Where a panel's rows come from is the [`PanelSource`]: f32 weights as stored, half-size ones
//! widened into a scratch block first ([`Widened`]), or f16 converted in registers as each column
//! is loaded, on AVX-512 ([`F16InRegisters`]); either way a panel is read as [`SimdRows`].

use std::ops::Range;

use half::f16;

#[cfg(target_arch = "x86_64")]
use super::rows::F16Rows;
use super::rows::{SimdRows, WideRows};
use super::widen::WeightElement;

/// Padding of each accumulator row, in floats (one cache line): rows of widths that are
/// multiples of 4 KiB / 4 B would otherwise all map to the same cache sets.
const ACC_PAD: usize = 16;

/// Hands out the panels of a slab.
pub(super) trait PanelSource<S: pulp::Simd, const P: usize> {
    /// A panel, borrowed from the source.
    type Panel<'p>: SimdRows<S, P>
    where
        Self: 'p;
    /// Weight rows `r..r + step` of `w: [k, n]` (`step` ≤ `P`; rows past `step` repeat the last
    /// one, and get a zero factor).
    fn panel(&mut self, r: usize, step: usize) -> Self::Panel<'_>;
}

/// `x[:, rows] · w[rows, :]` for `x: [m, k]` and `w: [k, n]` (read through `source`), as `[m, n]`.
#[inline(always)]
pub(super) fn fold<S: pulp::Simd, const P: usize, Src: PanelSource<S, P>>(
    simd: S,
    x: &[f32],
    k: usize,
    n: usize,
    rows: Range<usize>,
    mut source: Src,
) -> Vec<f32> {
    let m = x.len() / k;
    let stride = n + ACC_PAD;
    let mut acc = vec![0.0f32; m * stride];
    let mut factors = vec![[0.0f32; P]; m];
    let vectors = n / (size_of::<S::f32s>() / size_of::<f32>());
    let mut r = rows.start;
    while r < rows.end {
        let step = P.min(rows.end - r);
        for (i, f) in factors.iter_mut().enumerate() {
            *f = std::array::from_fn(|u| if u < step { x[i * k + r + u] } else { 0.0 });
        }
        let panel = source.panel(r, step);
        for c in 0..vectors {
            let w_c: [S::f32s; P] = std::array::from_fn(|u| panel.column(u, c));
            for (f, acc_row) in factors.iter().zip(acc.chunks_exact_mut(stride)) {
                let out = &mut S::as_mut_simd_f32s(&mut acc_row[..n]).0[c];
                // Two chains, so consecutive FMAs do not wait on each other.
                let (mut even, mut odd) = (*out, simd.splat_f32s(0.0));
                for u in (0..P).step_by(2) {
                    even = simd.mul_add_e_f32s(simd.splat_f32s(f[u]), w_c[u], even);
                    odd = simd.mul_add_e_f32s(simd.splat_f32s(f[u + 1]), w_c[u + 1], odd);
                }
                *out = simd.add_f32s(even, odd);
            }
        }
        let tail_start = n - S::as_simd_f32s(&acc[..n]).1.len();
        for (f, acc_row) in factors.iter().zip(acc.chunks_exact_mut(stride)) {
            for (j, out) in acc_row[..n].iter_mut().enumerate().skip(tail_start) {
                *out += (0..P).map(|u| f[u] * panel.scalar(u, j)).sum::<f32>();
            }
        }
        r += step;
    }
    acc.chunks_exact(stride)
        .flat_map(|row| &row[..n])
        .copied()
        .collect()
}

/// Panels of any weight element, widened into a scratch block first (f32 is read as stored).
pub(super) struct Widened<'a, W> {
    w: &'a [W],
    n: usize,
    scratch: Vec<f32>,
}

impl<'a, W> Widened<'a, W> {
    /// Panels of `w: [k, n]`.
    pub(super) fn new(w: &'a [W], n: usize) -> Self {
        Self {
            w,
            n,
            scratch: Vec::new(),
        }
    }
}

impl<S: pulp::Simd, const P: usize, W: WeightElement> PanelSource<S, P> for Widened<'_, W> {
    type Panel<'p>
        = WideRows<'p, S, P>
    where
        Self: 'p;

    #[inline(always)]
    fn panel(&mut self, r: usize, step: usize) -> WideRows<'_, S, P> {
        let n = self.n;
        WideRows::new(
            W::widen(&self.w[r * n..(r + step) * n], &mut self.scratch),
            n,
        )
    }
}

/// Panels of f16 weights converted to f32 in registers as each SIMD column is loaded
/// (AVX-512's `vcvtph2ps`, 16 values an instruction).
#[cfg(target_arch = "x86_64")]
pub(super) struct F16InRegisters<'a> {
    /// The CPU's AVX-512 token.
    pub(super) v4: pulp::x86::V4,
    /// `[k, n]`.
    pub(super) w: &'a [f16],
    pub(super) n: usize,
}

#[cfg(target_arch = "x86_64")]
impl<const P: usize> PanelSource<pulp::x86::V4, P> for F16InRegisters<'_> {
    type Panel<'p>
        = F16Rows<'p, P>
    where
        Self: 'p;

    #[inline(always)]
    fn panel(&mut self, r: usize, step: usize) -> F16Rows<'_, P> {
        let n = self.n;
        F16Rows::new(self.v4, &self.w[r * n..(r + step) * n], n)
    }
}
