//! The panel fold behind `x · w` ([`super::matmul`]): one thread's slab of weight rows folded
//! into an `[m, n]` partial product, `P` weight rows per pass, each SIMD column of the panel held
//! in registers and multiplied into every batch row.
//!
//! Where a panel's columns come from is the [`PanelSource`]: f32 weights as stored, half-size
//! ones widened into a scratch block first ([`Widened`]), or f16 converted in registers as each
//! column is loaded, on AVX-512 ([`F16InRegisters`]), so the weights are read once and nothing
//! widened is written back.

use std::ops::Range;

use half::f16;

use super::widen::WeightElement;

/// Padding of each accumulator row, in floats (one cache line): rows of widths that are
/// multiples of 4 KiB / 4 B would otherwise all map to the same cache sets.
const ACC_PAD: usize = 16;

/// A panel of `P` weight rows, read one SIMD column at a time.
pub(super) trait Panel<S: pulp::Simd, const P: usize> {
    /// SIMD column `c` of every panel row (`c` below the row's whole vectors).
    fn column(&self, c: usize) -> [S::f32s; P];
    /// Element `j` of panel row `u`.
    fn scalar(&self, u: usize, j: usize) -> f32;
}

/// Hands out the panels of a slab.
pub(super) trait PanelSource<S: pulp::Simd, const P: usize> {
    /// A panel, borrowed from the source.
    type Panel<'p>: Panel<S, P>
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
            let w_c = panel.column(c);
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

/// The widened rows of a panel.
pub(super) struct WidenedPanel<'p, S: pulp::Simd, const P: usize> {
    rows: [&'p [f32]; P],
    columns: [&'p [S::f32s]; P],
}

impl<S: pulp::Simd, const P: usize> Panel<S, P> for WidenedPanel<'_, S, P> {
    #[inline(always)]
    fn column(&self, c: usize) -> [S::f32s; P] {
        // An index, not `self.columns.map(|column| column[c])`: that closure was not inlined
        // into the SIMD code and decoded f16 at 16 tok/s instead of 26 (2026-12-04).
        std::array::from_fn(|u| self.columns[u][c])
    }

    #[inline(always)]
    fn scalar(&self, u: usize, j: usize) -> f32 {
        self.rows[u][j]
    }
}

impl<S: pulp::Simd, const P: usize, W: WeightElement> PanelSource<S, P> for Widened<'_, W> {
    type Panel<'p>
        = WidenedPanel<'p, S, P>
    where
        Self: 'p;

    #[inline(always)]
    fn panel(&mut self, r: usize, step: usize) -> WidenedPanel<'_, S, P> {
        let n = self.n;
        let block = W::widen(&self.w[r * n..(r + step) * n], &mut self.scratch);
        let rows: [&[f32]; P] = std::array::from_fn(|u| &block[u.min(step - 1) * n..][..n]);
        WidenedPanel {
            rows,
            columns: rows.map(|row| S::as_simd_f32s(row).0),
        }
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

/// The f16 rows of a panel.
#[cfg(target_arch = "x86_64")]
pub(super) struct F16Panel<'p, const P: usize> {
    v4: pulp::x86::V4,
    rows: [&'p [f16]; P],
    blocks: [&'p [[f16; 16]]; P],
}

#[cfg(target_arch = "x86_64")]
impl<const P: usize> Panel<pulp::x86::V4, P> for F16Panel<'_, P> {
    #[inline(always)]
    fn column(&self, c: usize) -> [pulp::f32x16; P] {
        std::array::from_fn(|u| {
            let bits: [u16; 16] = self.blocks[u][c].map(f16::to_bits);
            pulp::bytemuck::cast(self.v4.avx512f._mm512_cvtph_ps(pulp::bytemuck::cast(bits)))
        })
    }

    #[inline(always)]
    fn scalar(&self, u: usize, j: usize) -> f32 {
        self.rows[u][j].to_f32()
    }
}

#[cfg(target_arch = "x86_64")]
impl<const P: usize> PanelSource<pulp::x86::V4, P> for F16InRegisters<'_> {
    type Panel<'p>
        = F16Panel<'p, P>
    where
        Self: 'p;

    #[inline(always)]
    fn panel(&mut self, r: usize, step: usize) -> F16Panel<'_, P> {
        let n = self.n;
        let rows: [&[f16]; P] = std::array::from_fn(|u| &self.w[(r + u.min(step - 1)) * n..][..n]);
        F16Panel {
            v4: self.v4,
            rows,
            blocks: rows.map(|row| row.as_chunks::<16>().0),
        }
    }
}
