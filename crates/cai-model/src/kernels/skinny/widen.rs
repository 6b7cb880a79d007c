//! Half-size weights widened to f32 for the skinny kernels: f16 with the CPU's conversion
//! instruction (AVX-512's, or F16C's on AVX2-class CPUs) or exact bit arithmetic elsewhere, bf16
//! by a shift.
//!
//! Each call widens a whole block of rows in one pass. (`half`'s slice conversion checks the CPU
//! and calls out per 8 values: over half of a decode step went there, 2026-12-03.)

use half::{bf16, f16};

#[cfg(target_arch = "x86_64")]
use super::panel::F16InRegisters;
use super::{RowBlock, RowSlab, panel};

/// A weight element the kernels read: f32 as stored, or a half-size float widened to f32.
pub(super) trait WeightElement: Copy + Send + Sync {
    /// `src` as f32: itself for f32, else widened into `scratch` (resized to fit).
    fn widen<'a>(src: &'a [Self], scratch: &'a mut Vec<f32>) -> &'a [f32];

    /// A slab's product: the panel fold in the widest SIMD the CPU has, over widened panels.
    fn fold_slab(slab: RowSlab<'_, Self>) -> Vec<f32> {
        pulp::Arch::new().dispatch(slab)
    }

    /// A block of the LM head's dot products, over widened rows.
    fn row_block(block: RowBlock<'_, Self>) {
        pulp::Arch::new().dispatch(block)
    }
}

impl WeightElement for f32 {
    fn widen<'a>(src: &'a [f32], _scratch: &'a mut Vec<f32>) -> &'a [f32] {
        src
    }
}

impl WeightElement for f16 {
    /// On AVX-512, the panel fold converts each column in registers as it loads it: the weights
    /// are read once and no widened copy is written and read back.
    fn fold_slab(slab: RowSlab<'_, f16>) -> Vec<f32> {
        #[cfg(target_arch = "x86_64")]
        if let Some(v4) = pulp::x86::V4::try_new() {
            let RowSlab { x, w, k, n, rows } = slab;
            let source = F16InRegisters { v4, w, n };
            return v4.vectorize(
                #[inline(always)]
                || panel::fold::<_, 16, _>(v4, x, k, n, rows, source),
            );
        }
        pulp::Arch::new().dispatch(slab)
    }

    /// On AVX-512, the dot blocks convert each column of `e` in registers as they load it.
    fn row_block(block: RowBlock<'_, f16>) {
        #[cfg(target_arch = "x86_64")]
        if let Some(v4) = pulp::x86::V4::try_new() {
            return super::f16_row_block(v4, block);
        }
        pulp::Arch::new().dispatch(block)
    }

    #[inline(always)]
    fn widen<'a>(src: &'a [f16], scratch: &'a mut Vec<f32>) -> &'a [f32] {
        scratch.resize(src.len(), 0.0);
        #[cfg(target_arch = "x86_64")]
        if let Some(v4) = pulp::x86::V4::try_new() {
            widen_f16_avx512(v4, src, scratch);
            return scratch;
        }
        #[cfg(target_arch = "x86_64")]
        if f16c::widen(src, scratch) {
            return scratch;
        }
        for (out, h) in scratch.iter_mut().zip(src) {
            *out = f16_to_f32(h.to_bits());
        }
        scratch
    }
}

/// f16 to f32 with AVX-512's conversion instruction, 16 values at a time (the bit arithmetic of
/// [`f16_to_f32`] takes about eight vector instructions for what `vcvtph2ps` does in one).
#[cfg(target_arch = "x86_64")]
fn widen_f16_avx512(v4: pulp::x86::V4, src: &[f16], dst: &mut [f32]) {
    v4.vectorize(
        #[inline(always)]
        || {
            let (src_blocks, src_tail) = src.as_chunks::<16>();
            let (dst_blocks, dst_tail) = dst.as_chunks_mut::<16>();
            for (h, out) in src_blocks.iter().zip(dst_blocks) {
                *out = pulp::bytemuck::cast(f16x16(v4, h));
            }
            for (out, h) in dst_tail.iter_mut().zip(src_tail) {
                *out = f16_to_f32(h.to_bits());
            }
        },
    )
}

/// 16 f16 values as f32, by AVX-512's conversion instruction.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(super) fn f16x16(v4: pulp::x86::V4, h: &[f16; 16]) -> pulp::f32x16 {
    let bits: [u16; 16] = h.map(f16::to_bits);
    pulp::bytemuck::cast(v4.avx512f._mm512_cvtph_ps(pulp::bytemuck::cast(bits)))
}

/// f16 to f32 with the F16C instruction set of AVX2-class CPUs, which `pulp` does not wrap. (The
/// bit arithmetic ran at 5 GB/s of weights here, F16C at 10, 2026-12-04.)
#[cfg(target_arch = "x86_64")]
mod f16c {
    use half::f16;
    use std::arch::x86_64::{__m128i, _mm256_cvtph_ps};

    /// Widens `src` into `dst` (of the same length) 8 values at a time when the CPU has F16C;
    /// `false` (and `dst` untouched) when it does not.
    #[allow(unsafe_code)]
    pub(super) fn widen(src: &[f16], dst: &mut [f32]) -> bool {
        if !std::arch::is_x86_feature_detected!("f16c") {
            return false;
        }
        // SAFETY: the CPU has F16C (and so AVX), checked just above; `widen_with_f16c` touches
        // memory only through safe slices.
        unsafe { widen_with_f16c(src, dst) };
        true
    }

    #[target_feature(enable = "avx,f16c")]
    fn widen_with_f16c(src: &[f16], dst: &mut [f32]) {
        let (src_blocks, src_tail) = src.as_chunks::<8>();
        let (dst_blocks, dst_tail) = dst.as_chunks_mut::<8>();
        for (h, out) in src_blocks.iter().zip(dst_blocks) {
            let bits: __m128i = pulp::bytemuck::cast(h.map(f16::to_bits));
            *out = pulp::bytemuck::cast(_mm256_cvtph_ps(bits));
        }
        for (out, h) in dst_tail.iter_mut().zip(src_tail) {
            *out = super::f16_to_f32(h.to_bits());
        }
    }
}

impl WeightElement for bf16 {
    #[inline(always)]
    fn widen<'a>(src: &'a [bf16], scratch: &'a mut Vec<f32>) -> &'a [f32] {
        scratch.resize(src.len(), 0.0);
        for (out, b) in scratch.iter_mut().zip(src) {
            *out = f32::from_bits(u32::from(b.to_bits()) << 16);
        }
        scratch
    }
}

/// IEEE half-precision bits to f32, exactly, without branches the vectoriser cannot turn into
/// selects: normal numbers re-bias the exponent, subnormals are `mantissa · 2⁻²⁴`, infinities and
/// NaNs keep their mantissa under an all-ones exponent.
#[inline(always)]
fn f16_to_f32(h: u16) -> f32 {
    let h = u32::from(h);
    let sign = (h & 0x8000) << 16;
    let magnitude = h & 0x7fff;
    let normal = (magnitude << 13) + ((127 - 15) << 23);
    let special = (magnitude << 13) | 0x7f80_0000;
    // 2⁻²⁴ is 0x3380_0000.
    let subnormal = (magnitude as f32 * f32::from_bits(0x3380_0000)).to_bits();
    let bits = if magnitude >= 0x7c00 {
        special
    } else if magnitude < 0x0400 {
        subnormal
    } else {
        normal
    };
    f32::from_bits(sign | bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_widening_is_exact_for_every_bit_pattern() {
        let same = |ours: f32, theirs: f32| {
            ours.to_bits() == theirs.to_bits() || (ours.is_nan() && theirs.is_nan())
        };
        let all: Vec<f16> = (0..=u16::MAX).map(f16::from_bits).collect();
        // The path this CPU takes (AVX-512, F16C or the bit arithmetic), and the bit arithmetic.
        let mut scratch = Vec::new();
        let widened = f16::widen(&all, &mut scratch);
        for (h, &ours) in all.iter().zip(widened) {
            let (plain, theirs) = (f16_to_f32(h.to_bits()), h.to_f32());
            assert!(same(ours, theirs), "{h:?}: {ours} against {theirs}");
            assert!(same(plain, theirs), "{h:?}: {plain} against {theirs}");
        }
        let bf: Vec<bf16> = (0..=u16::MAX).map(bf16::from_bits).collect();
        for (b, &ours) in bf.iter().zip(bf16::widen(&bf, &mut scratch)) {
            assert!(same(ours, b.to_f32()), "{b:?}: {ours}");
        }
    }
}
