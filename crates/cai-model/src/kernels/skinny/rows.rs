//! A few weight rows read one SIMD column at a time, as both kernels read them: a panel of
//! `x · w` ([`super::panel`]) and a dot block of `x · eᵀ`. The rows are f32 as stored or widened
//! first ([`WideRows`]), or, for f16 on AVX-512, converted in registers as each column is loaded
//! ([`F16Rows`]), so nothing widened is written back.

use half::f16;

/// `R` rows of equal length; rows past [`SimdRows::count`] repeat the last one given.
pub(super) trait SimdRows<S: pulp::Simd, const R: usize> {
    /// Rows given.
    fn count(&self) -> usize;
    /// SIMD column `c` of row `r`.
    fn column(&self, r: usize, c: usize) -> S::f32s;
    /// Element `j` of row `r`.
    fn scalar(&self, r: usize, j: usize) -> f32;
}

/// The rows of length `len` at the start of `block` (at least one), padded to `R` by repeating
/// the last.
fn rows_of<T, const R: usize>(block: &[T], len: usize) -> ([&[T]; R], usize) {
    let count = (block.len() / len).min(R);
    (
        std::array::from_fn(|r| &block[r.min(count - 1) * len..][..len]),
        count,
    )
}

/// f32 rows.
pub(super) struct WideRows<'a, S: pulp::Simd, const R: usize> {
    rows: [&'a [f32]; R],
    columns: [&'a [S::f32s]; R],
    count: usize,
}

impl<'a, S: pulp::Simd, const R: usize> WideRows<'a, S, R> {
    /// The rows of length `len` at the start of `block`.
    #[inline(always)]
    pub(super) fn new(block: &'a [f32], len: usize) -> Self {
        let (rows, count) = rows_of(block, len);
        Self {
            rows,
            columns: rows.map(|row| S::as_simd_f32s(row).0),
            count,
        }
    }
}

impl<S: pulp::Simd, const R: usize> SimdRows<S, R> for WideRows<'_, S, R> {
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
pub(super) struct F16Rows<'a, const R: usize> {
    v4: pulp::x86::V4,
    rows: [&'a [f16]; R],
    blocks: [&'a [[f16; 16]]; R],
    count: usize,
}

#[cfg(target_arch = "x86_64")]
impl<'a, const R: usize> F16Rows<'a, R> {
    /// The rows of length `len` at the start of `block`.
    #[inline(always)]
    pub(super) fn new(v4: pulp::x86::V4, block: &'a [f16], len: usize) -> Self {
        let (rows, count) = rows_of(block, len);
        Self {
            v4,
            rows,
            blocks: rows.map(|row| row.as_chunks::<16>().0),
            count,
        }
    }
}

#[cfg(target_arch = "x86_64")]
impl<const R: usize> SimdRows<pulp::x86::V4, R> for F16Rows<'_, R> {
    fn count(&self) -> usize {
        self.count
    }

    #[inline(always)]
    fn column(&self, r: usize, c: usize) -> pulp::f32x16 {
        super::widen::f16x16(self.v4, &self.blocks[r][c])
    }

    #[inline(always)]
    fn scalar(&self, r: usize, j: usize) -> f32 {
        self.rows[r][j].to_f32()
    }
}
