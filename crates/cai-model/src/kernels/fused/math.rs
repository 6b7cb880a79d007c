//! Branch-free scalar math that vectorizes, and a way to run a loop in the widest SIMD the CPU has.
//!
//! burn's CPU backend calls the scalar libm `exp` (about 4 ns an element); [`exp_le0`] is a
//! polynomial that LLVM turns into SIMD code inside [`vectorized`].

/// Runs `f` compiled for the best instruction set found at run time (AVX-512, AVX2, …), so the
/// plain loops it contains are auto-vectorized with it (`pulp` dispatch; `f` is inlined into the
/// dispatched function).
#[inline(always)]
pub fn vectorized<R>(f: impl FnOnce() -> R) -> R {
    pulp::Arch::new().dispatch(Vectorized(f))
}

/// [`vectorized`]'s adapter: a closure as a `pulp` SIMD operation.
struct Vectorized<F>(F);

impl<R, F: FnOnce() -> R> pulp::WithSimd for Vectorized<F> {
    type Output = R;

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) -> R {
        (self.0)()
    }
}

/// `e^x` for `x ≤ 0` (e.g. logits minus their row maximum), to about 1e-7 relative: Cephes'
/// `expf` (Cody–Waite reduction by `ln 2`, degree-5 polynomial), branch-free so loops over it
/// vectorize. Inputs below −87 give about 1.6e-38 instead of a smaller or zero value.
#[inline(always)]
pub fn exp_le0(x: f32) -> f32 {
    let x = x.clamp(-87.0, 0.0);
    // Round x·log2(e) to the nearest integer k with the 1.5·2²³ trick; k sits in the low bits.
    let shifted = x * std::f32::consts::LOG2_E + 12_582_912.0;
    let k = shifted - 12_582_912.0;
    let r = x - k * 0.693_359_4 - k * -2.121_944_4e-4;
    let mut p = 1.987_569_1e-4f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 0.166_666_65;
    p = p * r + 0.5;
    let e = p * r * r + r + 1.0;
    let k_bits = shifted.to_bits().wrapping_sub(0x4B40_0000);
    e * f32::from_bits(k_bits.wrapping_add(127) << 23)
}

/// The logistic function `1 / (1 + e^-x)`, branch-free through [`exp_le0`] of `−|x|`.
#[inline(always)]
pub fn sigmoid(x: f32) -> f32 {
    let e = exp_le0(-x.abs());
    let positive = 1.0 / (1.0 + e);
    if x >= 0.0 { positive } else { e * positive }
}

/// Lanes of the vectorizable reductions below.
const LANES: usize = 16;

/// The largest value of `xs` (NaNs ignored), over independent lanes so it vectorizes.
#[inline(always)]
pub fn row_max(xs: &[f32]) -> f32 {
    let mut lanes = [f32::NEG_INFINITY; LANES];
    let blocks = xs.chunks_exact(LANES);
    let rest = blocks.remainder();
    for block in blocks {
        for (lane, &x) in lanes.iter_mut().zip(block) {
            *lane = lane.max(x);
        }
    }
    lanes
        .into_iter()
        .chain(rest.iter().copied())
        .fold(f32::NEG_INFINITY, f32::max)
}

/// The sum of `xs` in f64, from f32 lane sums over blocks of 1024 (vectorizable, and accurate to
/// well under 1e-6 relative for values of one sign).
#[inline(always)]
pub fn row_sum(xs: &[f32]) -> f64 {
    xs.chunks(1024).map(|block| lane_dot(block, None)).sum()
}

/// `Σ exp((xᵢ − shift)·scale)` in f64 for `xᵢ ≤ shift` and `scale > 0` (a softmax denominator at
/// temperature `1 / scale`): [`exp_le0`] in f32 lanes, summed per block of 1024 in f64.
#[inline(always)]
pub fn sum_exp(xs: &[f32], shift: f32, scale: f32) -> f64 {
    xs.chunks(1024)
        .map(|block| {
            let mut lanes = [0.0f32; LANES];
            let blocks = block.chunks_exact(LANES);
            let rest = blocks.remainder();
            for part in blocks {
                for (lane, &x) in lanes.iter_mut().zip(part) {
                    *lane += exp_le0((x - shift) * scale);
                }
            }
            let rest: f64 = rest
                .iter()
                .map(|&x| exp_le0((x - shift) * scale) as f64)
                .sum();
            lanes.iter().map(|&x| x as f64).sum::<f64>() + rest
        })
        .sum()
}

/// `Σ aᵢ·bᵢ` in f64, from f32 lane sums over blocks of 1024.
#[inline(always)]
pub fn dot(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len(), "dot product of unequal lengths");
    a.chunks(1024)
        .zip(b.chunks(1024))
        .map(|(a, b)| lane_dot(a, Some(b)))
        .sum()
}

/// `Σ aᵢ·bᵢ` (or `Σ aᵢ` without `b`) of one block, in independent f32 lanes.
#[inline(always)]
fn lane_dot(a: &[f32], b: Option<&[f32]>) -> f64 {
    let mut lanes = [0.0f32; LANES];
    let whole = a.len() / LANES * LANES;
    let factor = |i: usize| b.map_or(1.0, |b| b[i]);
    for (base, part) in a[..whole].chunks_exact(LANES).enumerate() {
        for (l, (lane, &x)) in lanes.iter_mut().zip(part).enumerate() {
            *lane += x * factor(base * LANES + l);
        }
    }
    let rest: f64 = (whole..a.len()).map(|i| (a[i] * factor(i)) as f64).sum();
    lanes.iter().map(|&x| x as f64).sum::<f64>() + rest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_exp_is_accurate_on_its_domain() {
        let mut worst = 0.0f64;
        for i in 0..=400_000 {
            let x = -(i as f32) * 87.0 / 400_000.0;
            let want = (x as f64).exp();
            worst = worst.max(((exp_le0(x) as f64 - want) / want).abs());
        }
        assert!(worst < 3e-7, "relative error {worst}");
        assert_eq!(exp_le0(0.0), 1.0);
        assert!(exp_le0(-1e4) < 2e-38 && exp_le0(f32::NEG_INFINITY) < 2e-38);
    }

    #[test]
    fn sigmoid_matches_the_definition() {
        for i in -4000..=4000 {
            let x = i as f32 * 0.01;
            let want = 1.0 / (1.0 + (-(x as f64)).exp());
            let got = vectorized(|| sigmoid(x)) as f64;
            assert!(
                (got - want).abs() < 2e-7,
                "sigmoid({x}) = {got}, want {want}"
            );
        }
        assert!(sigmoid(200.0) == 1.0 && sigmoid(-200.0) < 1e-37);
    }

    #[test]
    fn reductions_match_plain_loops() {
        let xs: Vec<f32> = (0..3001)
            .map(|i| ((i * 37) % 101) as f32 * 0.01 - 0.3)
            .collect();
        let ys: Vec<f32> = (0..3001).map(|i| ((i * 13) % 17) as f32 * 0.1).collect();
        let plain_max = xs.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        assert_eq!(row_max(&xs), plain_max);
        assert_eq!(row_max(&[1.0, f32::NAN, 3.0]), 3.0);
        let plain_sum: f64 = xs.iter().map(|&x| x as f64).sum();
        assert!((row_sum(&xs) - plain_sum).abs() < 1e-3);
        assert_eq!(row_sum(&vec![0.5; 3001]), 1500.5);
        let plain_dot: f64 = xs.iter().zip(&ys).map(|(&x, &y)| x as f64 * y as f64).sum();
        assert!((dot(&xs, &ys) - plain_dot).abs() < 1e-3);
    }
}
