//! The `e` rows of a dot block of `x · eᵀ` ([`super::matmul_transposed`], the LM head), read one
//! SIMD column at a time: widened to f32 first ([`WideRows`]), or, for f16 on AVX-512, converted
//! in registers as each column is loaded ([`F16Rows`]), so nothing widened is written back.

use half::f16;

use super::E_ROWS;

/// Up to [`E_ROWS`] rows of `e` (rows past [`DotRows::count`] repeat the last one).
pub(super) trait DotRows<S: pulp::Simd> {
    /// Rows given.
    fn count(&self) -> usize;
    /// SIMD column `c` of row `r`.
    fn column(&self, r: usize, c: usize) -> S::f32s;
    /// Element `j` of row `r`.
    fn scalar(&self, r: usize, j: usize) -> f32;
}

/// Rows as f32.
pub(super) struct WideRows<'a, S: pulp::Simd> {
    rows: [&'a [f32]; E_ROWS],
    columns: [&'a [S::f32s]; E_ROWS],
    count: usize,
}

impl<'a, S: pulp::Simd> WideRows<'a, S> {
    /// The rows of `e` (whole rows of length `k`, at least one).
    pub(super) fn new(e: &'a [f32], k: usize) -> Self {
        let count = e.len() / k;
        let rows: [&[f32]; E_ROWS] = std::array::from_fn(|r| &e[r.min(count - 1) * k..][..k]);
        Self {
            rows,
            columns: rows.map(|row| S::as_simd_f32s(row).0),
            count,
        }
    }
}

impl<S: pulp::Simd> DotRows<S> for WideRows<'_, S> {
    fn count(&self) -> usize {
        self.count
    }

    #[inline(always)]
    fn column(&self, r: usize, c: usize) -> S::f32s {
        self.columns[r][c]
    }

    #[inline(always)]
    fn scalar(&self, r: usize, j: usize) -> f32 {
        self.rows[r][j]
    }
}

/// f16 rows, converted with AVX-512's `vcvtph2ps` as each column is loaded.
#[cfg(target_arch = "x86_64")]
pub(super) struct F16Rows<'a> {
    v4: pulp::x86::V4,
    rows: [&'a [f16]; E_ROWS],
    blocks: [&'a [[f16; 16]]; E_ROWS],
    count: usize,
}

#[cfg(target_arch = "x86_64")]
impl<'a> F16Rows<'a> {
    /// The rows of `e` (whole rows of length `k`, at least one).
    pub(super) fn new(v4: pulp::x86::V4, e: &'a [f16], k: usize) -> Self {
        let count = e.len() / k;
        let rows: [&[f16]; E_ROWS] = std::array::from_fn(|r| &e[r.min(count - 1) * k..][..k]);
        Self {
            v4,
            rows,
            blocks: rows.map(|row| row.as_chunks::<16>().0),
            count,
        }
    }
}

#[cfg(target_arch = "x86_64")]
impl DotRows<pulp::x86::V4> for F16Rows<'_> {
    fn count(&self) -> usize {
        self.count
    }

    #[inline(always)]
    fn column(&self, r: usize, c: usize) -> pulp::f32x16 {
        let bits: [u16; 16] = self.blocks[r][c].map(f16::to_bits);
        pulp::bytemuck::cast(self.v4.avx512f._mm512_cvtph_ps(pulp::bytemuck::cast(bits)))
    }

    #[inline(always)]
    fn scalar(&self, r: usize, j: usize) -> f32 {
        self.rows[r][j].to_f32()
    }
}
