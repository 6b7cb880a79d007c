//! Products with few left-hand rows ("skinny" GEMMs), as in batched decoding, on the flex CPU
//! backend.
//!
//! Decoding multiplies a handful of hidden-state rows by every weight matrix, so it is bound by
//! reading the weights, not by arithmetic. flex hands such products to `gemm` single-threaded
//! (below its parallel threshold) and, from 2 rows on, packs the weight matrix on every call. These
//! kernels stream each weight once, split across the rayon pool, with every row of the batch
//! accumulated per weight load, in the widest SIMD the CPU has (dispatched at run time by `pulp`).
//!
//! `x · w` ([`matmul`], the decoder's projections) folds a panel of weight rows at a time into
//! every batch row's accumulators, the panel's SIMD columns held in registers; `x · eᵀ`
//! ([`matmul_transposed`], the tied LM head) runs the dot products of 4 weight rows with up to 4
//! batch rows together, so each load of either side feeds several FMAs.
//!
//! Weights may be f32 or half-size (f16, bf16: `--dtype`): half-size weights are widened to f32 a
//! few rows at a time into a buffer that stays in cache, so decoding reads half the bytes and still
//! multiplies and accumulates in f32. f16 is widened with the CPU's conversion instruction
//! (AVX-512 or F16C), bf16 by a shift; on AVX-512 both kernels convert f16 in registers instead, as
//! they load each column. The kernels take a single row too, in any dtype.
//!
//! Anything else (autodiff, other devices or dtypes, more rows) returns `None` and the caller uses
//! [`mixed_matmul`]. `CAI_SKINNY_KERNELS=0` in the environment turns the kernels off (to compare
//! speed or numerics with the plain path).

use burn::nn::Linear;
use burn::tensor::{DType, Tensor, TensorData};
use burn_flex::{Flex, FlexTensor};
use half::{bf16, f16};
use rayon::prelude::*;

use super::switch::KernelSwitch;
use rows::{SimdRows, WideRows};
use widen::WeightElement;

mod panel;
mod rows;
mod widen;

/// Fewest left-hand rows the kernels take with f32 weights. One row went to `gemm`'s own GEMV until
/// 2026-12-04, when this kernel decoded f32 at batch 1 14 % faster on an AVX-512 host
/// (docs/performance.md, "In-register f16").
pub const MIN_ROWS: usize = 1;

/// Most left-hand rows the kernels take: at 16 they were level with `gemm`, whose packing pays off
/// beyond.
pub const MAX_ROWS: usize = 16;

/// Most left-hand rows the kernels take with half-size weights, [`MAX_ROWS`] at a time: widening a
/// whole weight for flex's GEMM costs more than reading it a few times (a 32-row rollout decoded
/// at 60 tok/s that way against 158 in f32, 2026-12-03).
pub const MAX_HALF_ROWS: usize = 64;

/// Weight rows per task of [`x_times_wt`].
const ROW_BLOCK: usize = 512;

/// `x · w` for `x: [m, k]` and a row-major `w: [k, n]` (burn's `Linear` weight), or `None` when
/// the fast path does not apply.
pub fn matmul(x: &Tensor<2>, w: &Tensor<2>) -> Option<Tensor<2>> {
    let [k, n] = w.dims();
    run(x, w, k, n, Layout::InOut)
}

/// `x · eᵀ` for `x: [m, k]` and a row-major `e: [n, k]` (a tied embedding used as the LM head), or
/// `None` when the fast path does not apply.
pub fn matmul_transposed(x: &Tensor<2>, e: &Tensor<2>) -> Option<Tensor<2>> {
    let [n, k] = e.dims();
    run(x, e, k, n, Layout::OutIn)
}

/// How the weight operand is laid out.
#[derive(Clone, Copy)]
enum Layout {
    /// `w: [k, n]`: [`x_times_w`].
    InOut,
    /// `e: [n, k]`: [`x_times_wt`].
    OutIn,
}

impl Layout {
    fn apply<W: WeightElement>(self, x: &[f32], w: &[W], m: usize, k: usize, n: usize) -> Vec<f32> {
        match self {
            Self::InOut => x_times_w(x, w, m, k, n),
            Self::OutIn => x_times_wt(x, w, m, k, n),
        }
    }
}

/// Runs the product of `x: [m, k]` with `w` when `m` is an allowed row count, `x` is a plain flex
/// f32 tensor and `w` a plain flex f32, f16 or bf16 tensor.
fn run(x: &Tensor<2>, w: &Tensor<2>, w_k: usize, n: usize, layout: Layout) -> Option<Tensor<2>> {
    let [m, k] = x.dims();
    let rows = if w.dtype() == DType::F32 {
        MIN_ROWS..=MAX_ROWS
    } else {
        1..=MAX_HALF_ROWS
    };
    if k != w_k || !rows.contains(&m) || x.dtype() != DType::F32 {
        return None;
    }
    let (xs, ws) = (plain_flex(x)?, plain_flex(w)?);
    let xs = xs.as_slice::<f32>()?;
    let mut out = Vec::with_capacity(m * n);
    for chunk in xs.chunks(MAX_ROWS * k) {
        let rows = chunk.len() / k;
        out.extend(match ws.dtype() {
            DType::F32 => layout.apply(chunk, ws.as_slice::<f32>()?, rows, k, n),
            DType::F16 => layout.apply(chunk, ws.as_slice::<f16>()?, rows, k, n),
            DType::BF16 => layout.apply(chunk, ws.as_slice::<bf16>()?, rows, k, n),
            _ => return None,
        });
    }
    Some(from_vec(out, m, n))
}

/// `linear.forward(x)` for `x: [m, in]`, through [`matmul`] when it applies, else
/// [`mixed_matmul`].
pub fn linear(linear: &Linear, x: Tensor<2>) -> Tensor<2> {
    let w = linear.weight.val();
    let y = matmul(&x, &w).unwrap_or_else(|| mixed_matmul(x, w));
    with_bias(linear, y)
}

/// `x · w` when `w` may be stored in another dtype than `x` (half-size weights under f32
/// activations); the result has `x`'s dtype. On the flex CPU backend the weight is widened to `x`'s
/// dtype for the product (flex's f32 GEMM beats its f16 one, and bf16 goes through f32 anyway);
/// elsewhere `x` is narrowed to the weight's dtype, as mixed precision does on a GPU.
pub fn mixed_matmul(x: Tensor<2>, w: Tensor<2>) -> Tensor<2> {
    let (x_dtype, w_dtype) = (x.dtype(), w.dtype());
    if x_dtype == w_dtype {
        x.matmul(w)
    } else if x.clone().try_into_primitive::<Flex>().is_ok() {
        x.matmul(w.cast(x_dtype))
    } else {
        x.cast(w_dtype).matmul(w).cast(x_dtype)
    }
}

/// `y` plus `linear`'s bias, if it has one (in `y`'s dtype).
pub(crate) fn with_bias(linear: &Linear, y: Tensor<2>) -> Tensor<2> {
    match &linear.bias {
        Some(bias) => {
            let bias = bias.val();
            let bias = if bias.dtype() == y.dtype() {
                bias
            } else {
                bias.cast(y.dtype())
            };
            y + bias.unsqueeze()
        }
        None => y,
    }
}

/// On unless `CAI_SKINNY_KERNELS=0`.
static SWITCH: KernelSwitch = KernelSwitch::new("CAI_SKINNY_KERNELS");

/// Turns the kernels on or off for the whole process (they start as `CAI_SKINNY_KERNELS` says).
pub fn set_enabled(on: bool) {
    SWITCH.set(on);
}

/// Whether the kernels are on.
pub fn enabled() -> bool {
    SWITCH.enabled()
}

/// The flex primitive of a contiguous, non-autodiff tensor, when the kernels are on.
fn plain_flex(t: &Tensor<2>) -> Option<FlexTensor> {
    if !enabled() || t.device().is_autodiff() {
        return None;
    }
    let flex = t.clone().try_into_primitive::<Flex>().ok()?;
    flex.is_contiguous().then_some(flex)
}

fn from_vec(values: Vec<f32>, m: usize, n: usize) -> Tensor<2> {
    Tensor::from_primitive::<Flex>(FlexTensor::from_data(TensorData::new(values, [m, n])))
}

/// `x [m, k] · w [k, n]`: the weight rows are split into one contiguous slab per thread (so each
/// streams its part of `w` front to back); each slab gives a partial `[m, n]` product, then the
/// partials are summed.
fn x_times_w<W: WeightElement>(x: &[f32], w: &[W], m: usize, k: usize, n: usize) -> Vec<f32> {
    let slabs = rayon::current_num_threads().clamp(1, k);
    let slab_rows = k.div_ceil(slabs);
    (0..k.div_ceil(slab_rows))
        .into_par_iter()
        .map(|slab| {
            let rows = slab * slab_rows..k.min((slab + 1) * slab_rows);
            W::fold_slab(RowSlab { x, w, k, n, rows })
        })
        .reduce_with(|mut total, part| {
            total.iter_mut().zip(&part).for_each(|(t, p)| *t += p);
            total
        })
        .unwrap_or_else(|| vec![0.0; m * n])
}

/// One task of [`x_times_w`]: `x[:, rows] · w[rows, :]`.
struct RowSlab<'a, W> {
    x: &'a [f32],
    w: &'a [W],
    k: usize,
    n: usize,
    rows: std::ops::Range<usize>,
}

/// Whether `S` has 512-bit vectors, and with them (on x86) 32 vector registers rather than AVX2's
/// 16. The kernels' register blocks are sized by it: blocks sized for 32 registers spilled to the
/// stack with 16 and ran at half the speed (2026-12-04).
fn has_32_registers<S: pulp::Simd>() -> bool {
    size_of::<S::f32s>() >= 64
}

impl<W: WeightElement> pulp::WithSimd for RowSlab<'_, W> {
    type Output = Vec<f32>;

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, simd: S) -> Vec<f32> {
        let Self { x, w, k, n, rows } = self;
        let source = panel::Widened::new(w, n);
        // Each SIMD column of the panel is held in registers and multiplied into every batch row.
        if has_32_registers::<S>() {
            panel::fold::<S, 16, _>(simd, x, k, n, rows, source)
        } else {
            panel::fold::<S, 8, _>(simd, x, k, n, rows, source)
        }
    }
}

/// `x [m, k] · e [n, k]ᵀ`: each task owns a block of `e`'s rows and takes their dot products with
/// every row of `x`; the result is assembled column-major, then transposed.
fn x_times_wt<W: WeightElement>(x: &[f32], e: &[W], m: usize, k: usize, n: usize) -> Vec<f32> {
    let mut transposed = vec![0.0f32; n * m];
    transposed
        .par_chunks_mut(ROW_BLOCK * m)
        .enumerate()
        .for_each(|(block, out)| {
            let rows = &e[block * ROW_BLOCK * k..][..out.len() / m * k];
            W::row_block(RowBlock { x, rows, k, out });
        });
    let mut out = vec![0.0f32; m * n];
    for (j, column) in transposed.chunks_exact(m).enumerate() {
        for (i, &value) in column.iter().enumerate() {
            out[i * n + j] = value;
        }
    }
    out
}

/// One task of [`x_times_wt`]: the dot products of a block of `e` rows with every row of `x`.
struct RowBlock<'a, W> {
    x: &'a [f32],
    rows: &'a [W],
    k: usize,
    /// `[block rows, m]`.
    out: &'a mut [f32],
}

/// `e` rows whose dot products run together, sharing each load of `x`.
const E_ROWS: usize = 4;

/// Most rows of `x` whose dot products run together, sharing each load of `e`.
const X_ROWS: usize = 4;

impl<W: WeightElement> pulp::WithSimd for RowBlock<'_, W> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, simd: S) {
        let Self { x, rows, k, out } = self;
        let m = x.len() / k;
        let mut scratch = Vec::new();
        for (e_rows, out_rows) in rows.chunks(E_ROWS * k).zip(out.chunks_mut(E_ROWS * m)) {
            let e_rows = W::widen(e_rows, &mut scratch);
            dot_products(simd, &WideRows::<S, E_ROWS>::new(e_rows, k), x, k, out_rows);
        }
    }
}

/// The dot products of the rows `e` with every row of `x` (rows of length `k`) into `out`
/// (`[e row, m]`), a group of `x` rows at a time.
#[inline(always)]
fn dot_products<S: pulp::Simd>(
    simd: S,
    e: &impl SimdRows<S, E_ROWS>,
    x: &[f32],
    k: usize,
    out: &mut [f32],
) {
    let m = x.len() / k;
    // 4 × 4 accumulators fit 32 registers; 16 registers hold 4 × 2.
    let group_rows = if has_32_registers::<S>() { X_ROWS } else { 2 };
    for (group, x_rows) in x.chunks(group_rows * k).enumerate() {
        let dots = match x_rows.len() / k {
            1 => dot_block::<S, 1>(simd, e, x_rows, k),
            2 => dot_block::<S, 2>(simd, e, x_rows, k),
            3 => dot_block::<S, 3>(simd, e, x_rows, k),
            _ => dot_block::<S, X_ROWS>(simd, e, x_rows, k),
        };
        let (start, end) = (group * group_rows, m.min((group + 1) * group_rows));
        for (dots, out_row) in dots.iter().zip(out.chunks_exact_mut(m)) {
            out_row[start..end].copy_from_slice(&dots[..end - start]);
        }
    }
}

/// [`RowBlock`] for f16 on AVX-512: the rows are converted in registers as they are loaded.
#[cfg(target_arch = "x86_64")]
fn f16_row_block(v4: pulp::x86::V4, block: RowBlock<'_, f16>) {
    v4.vectorize(
        #[inline(always)]
        || f16_dot_products(v4, block),
    );
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn f16_dot_products(v4: pulp::x86::V4, block: RowBlock<'_, f16>) {
    let RowBlock { x, rows, k, out } = block;
    let m = x.len() / k;
    for (e_rows, out_rows) in rows.chunks(E_ROWS * k).zip(out.chunks_mut(E_ROWS * m)) {
        dot_products(v4, &rows::F16Rows::new(v4, e_rows, k), x, k, out_rows);
    }
}

/// The dot products of up to [`E_ROWS`] rows of `e` with `M` rows of `x` (rows of length `k`),
/// `E_ROWS × M` accumulators in registers; `[e row][x row]`, zero past the rows given.
#[inline(always)]
fn dot_block<S: pulp::Simd, const M: usize>(
    simd: S,
    e: &impl SimdRows<S, E_ROWS>,
    x: &[f32],
    k: usize,
) -> [[f32; X_ROWS]; E_ROWS] {
    let x_rows: [&[f32]; M] = std::array::from_fn(|i| &x[i * k..][..k]);
    let x_simd = x_rows.map(|row| S::as_simd_f32s(row).0);
    let mut acc = [[simd.splat_f32s(0.0); M]; E_ROWS];
    // An index loop: `c` also picks `e`'s column, through `SimdRows::column`.
    #[allow(clippy::needless_range_loop)]
    for c in 0..x_simd[0].len() {
        let xs: [S::f32s; M] = std::array::from_fn(|i| x_simd[i][c]);
        for (r, acc_e) in acc.iter_mut().enumerate() {
            let ev = e.column(r, c);
            for (a, &xv) in acc_e.iter_mut().zip(&xs) {
                *a = simd.mul_add_e_f32s(ev, xv, *a);
            }
        }
    }
    let tail_start = k - S::as_simd_f32s(x_rows[0]).1.len();
    let mut dots = [[0.0f32; X_ROWS]; E_ROWS];
    for r in 0..e.count() {
        for i in 0..M {
            let tail: f32 = (tail_start..k).map(|j| e.scalar(r, j) * x_rows[i][j]).sum();
            dots[r][i] = simd.reduce_sum_f32s(acc[r][i]) + tail;
        }
    }
    dots
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    fn ramp(len: usize, scale: f32) -> Vec<f32> {
        (0..len)
            .map(|i| ((i * 7919 % 1000) as f32 / 1000.0 - 0.5) * scale)
            .collect()
    }

    fn close(a: &Tensor<2>, b: &Tensor<2>) -> f32 {
        let (a, b) = (
            a.to_data().try_to_vec::<f32>().unwrap(),
            b.to_data().try_to_vec::<f32>().unwrap(),
        );
        assert_eq!(a.len(), b.len());
        a.iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max)
    }

    #[test]
    fn both_layouts_match_the_ordinary_matmul() {
        let device = Device::flex();
        // Widths that are not multiples of the blocks or lanes, and 1 to MAX_ROWS rows.
        let (k, n) = (77, 600);
        let w = Tensor::<2>::from_data(TensorData::new(ramp(k * n, 1.0), [k, n]), &device);
        let e = Tensor::<2>::from_data(TensorData::new(ramp(n * k, 0.5), [n, k]), &device);
        for m in [MIN_ROWS, 3, 8, MAX_ROWS] {
            let x = Tensor::<2>::from_data(TensorData::new(ramp(m * k, 2.0), [m, k]), &device);
            let fast = matmul(&x, &w).expect("fast path");
            assert!(close(&fast, &x.clone().matmul(w.clone())) < 1e-4, "m = {m}");
            let fast = matmul_transposed(&x, &e).expect("fast path");
            assert!(close(&fast, &x.clone().matmul(e.clone().transpose())) < 1e-4);
        }
    }

    #[test]
    fn half_size_weights_match_the_widened_f32_product() {
        let device = Device::flex();
        let (k, n) = (77, 600);
        let w32 = Tensor::<2>::from_data(TensorData::new(ramp(k * n, 1.0), [k, n]), &device);
        let e32 = Tensor::<2>::from_data(TensorData::new(ramp(n * k, 0.5), [n, k]), &device);
        for dtype in [DType::F16, DType::BF16] {
            let (w, e) = (w32.clone().cast(dtype), e32.clone().cast(dtype));
            // The reference: the same rounded weights, widened to f32, through burn's matmul.
            let (w_wide, e_wide) = (w.clone().cast(DType::F32), e.clone().cast(DType::F32));
            // Past MAX_ROWS the rows go through the kernels MAX_ROWS at a time.
            for m in [1, 3, MAX_ROWS, 40] {
                let x = Tensor::<2>::from_data(TensorData::new(ramp(m * k, 2.0), [m, k]), &device);
                let fast = matmul(&x, &w).expect("fast path");
                assert_eq!(fast.dtype(), DType::F32);
                assert!(close(&fast, &x.clone().matmul(w_wide.clone())) < 1e-4);
                let fast = matmul_transposed(&x, &e).expect("fast path");
                assert!(close(&fast, &x.clone().matmul(e_wide.clone().transpose())) < 1e-4);
            }
            // More rows than the kernels take: the mixed product widens the weight.
            let rows = MAX_HALF_ROWS + 1;
            let tall =
                Tensor::<2>::from_data(TensorData::new(ramp(rows * k, 2.0), [rows, k]), &device);
            assert!(matmul(&tall, &w).is_none());
            let mixed = mixed_matmul(tall.clone(), w.clone());
            assert_eq!(mixed.dtype(), DType::F32);
            assert!(close(&mixed, &tall.matmul(w_wide)) < 1e-4);
        }
    }

    /// [`panel::fold`] with both panel heights, whichever this CPU's SIMD width picks.
    struct BothPanels<'a>(&'a [f32], &'a [f32], usize, usize);

    impl pulp::WithSimd for BothPanels<'_> {
        type Output = [Vec<f32>; 2];

        fn with_simd<S: pulp::Simd>(self, simd: S) -> [Vec<f32>; 2] {
            let Self(x, w, k, n) = self;
            let source = || panel::Widened::new(w, n);
            [
                panel::fold::<S, 8, _>(simd, x, k, n, 0..k, source()),
                panel::fold::<S, 16, _>(simd, x, k, n, 0..k, source()),
            ]
        }
    }

    #[test]
    fn both_panel_heights_match_the_ordinary_matmul() {
        let device = Device::flex();
        let (k, n) = (77, 600);
        let w = ramp(k * n, 1.0);
        let w_tensor = Tensor::<2>::from_data(TensorData::new(w.clone(), [k, n]), &device);
        for m in [1, 5, 9, MAX_ROWS] {
            let x = ramp(m * k, 2.0);
            let x_tensor = Tensor::<2>::from_data(TensorData::new(x.clone(), [m, k]), &device);
            let reference = x_tensor.matmul(w_tensor.clone());
            for product in pulp::Arch::new().dispatch(BothPanels(&x, &w, k, n)) {
                let product = from_vec(product, m, n);
                assert!(close(&product, &reference) < 1e-4, "m = {m}");
            }
        }
    }

    /// [`dot_block`] with 3 and 4 rows of `x` (AVX2 runs at most 2 at a time).
    struct WideGroups<'a>(&'a [f32], &'a [f32], usize);

    impl pulp::WithSimd for WideGroups<'_> {
        type Output = [[[f32; X_ROWS]; E_ROWS]; 2];

        fn with_simd<S: pulp::Simd>(self, simd: S) -> Self::Output {
            let Self(e, x, k) = self;
            [
                dot_block::<S, 3>(simd, &WideRows::<S, E_ROWS>::new(e, k), &x[..3 * k], k),
                dot_block::<S, 4>(simd, &WideRows::<S, E_ROWS>::new(e, k), x, k),
            ]
        }
    }

    #[test]
    fn dot_blocks_of_every_height_match_plain_dot_products() {
        let k = 77;
        let (e, x) = (ramp(E_ROWS * k, 0.5), ramp(X_ROWS * k, 2.0));
        let [three, four] = pulp::Arch::new().dispatch(WideGroups(&e, &x, k));
        for r in 0..E_ROWS {
            for i in 0..X_ROWS {
                let want: f32 = (0..k).map(|j| e[r * k + j] * x[i * k + j]).sum();
                assert!((four[r][i] - want).abs() < 1e-4, "row {r}, x row {i}");
                if i < 3 {
                    assert!((three[r][i] - want).abs() < 1e-4);
                }
            }
        }
    }

    #[test]
    fn declines_what_it_does_not_cover() {
        let device = Device::flex();
        let w = Tensor::<2>::zeros([8, 4], &device);
        let tall = Tensor::<2>::zeros([MAX_ROWS + 1, 8], &device);
        assert!(matmul(&tall, &w).is_none());
        assert!(matmul(&Tensor::<2>::zeros([2, 5], &device), &w).is_none());
        let autodiff = device.clone().autodiff();
        let (x, w_tracked) = (
            Tensor::<2>::zeros([2, 8], &autodiff),
            Tensor::<2>::zeros([8, 4], &autodiff),
        );
        assert!(matmul(&x, &w_tracked).is_none());
        assert!(matmul(&Tensor::<2>::zeros([2, 8], &device), &w.transpose()).is_none());
    }
}
