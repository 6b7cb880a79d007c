//! Train/test splitting exactly as NeMo's `split_dataset` (reference §5.4).

use rand::RngCore;
use rand::seq::SliceRandom;

use crate::error::{Error, Result};

/// Python's `round`: halves go to the even neighbour.
pub fn round_half_even(x: f64) -> f64 {
    let r = x.round();
    if (x - x.trunc()).abs() == 0.5 && r % 2.0 != 0.0 {
        r - x.signum()
    } else {
        r
    }
}

/// Split sizes for `n` items: each split first gets one item, then of the remaining `n - k` split `i` gets
/// `max(1, round(rest * p_i))` and the last split the remainder.
pub fn split_sizes(n: usize, fractions: &[f64]) -> Result<Vec<usize>> {
    let sum: f64 = fractions.iter().sum();
    if fractions.is_empty()
        || (sum - 1.0).abs() > 1e-9
        || fractions.iter().any(|&p| p <= 0.0 || p > 1.0)
    {
        return Err(Error::Convert(format!(
            "split fractions must be in (0, 1] and sum to 1, got {fractions:?}"
        )));
    }
    if n < fractions.len() {
        return Err(Error::Convert(format!(
            "{n} items cannot fill {} splits",
            fractions.len()
        )));
    }
    let rest = n - fractions.len();
    let mut sizes = Vec::with_capacity(fractions.len());
    let mut used = 0;
    for &p in &fractions[..fractions.len() - 1] {
        let take = (round_half_even(rest as f64 * p) as usize)
            .max(1)
            .min(rest - used);
        sizes.push(1 + take);
        used += take;
    }
    sizes.push(1 + rest - used);
    Ok(sizes)
}

/// Splits `items` into parts of [`split_sizes`], shuffling first with `rng` when given.
pub fn split_dataset<T>(
    mut items: Vec<T>,
    fractions: &[f64],
    rng: Option<&mut dyn RngCore>,
) -> Result<Vec<Vec<T>>> {
    let sizes = split_sizes(items.len(), fractions)?;
    if let Some(rng) = rng {
        items.shuffle(rng);
    }
    let mut out = Vec::with_capacity(sizes.len());
    let mut rest = items.into_iter();
    for size in sizes {
        out.push(rest.by_ref().take(size).collect());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_rounding() {
        assert_eq!(round_half_even(2.5), 2.0);
        assert_eq!(round_half_even(3.5), 4.0);
        assert_eq!(round_half_even(-2.5), -2.0);
        assert_eq!(round_half_even(798.4), 798.0);
        assert_eq!(round_half_even(6.6), 7.0);
    }

    #[test]
    fn rejects_bad_fractions() {
        assert!(split_sizes(10, &[0.5, 0.4]).is_err());
        assert!(split_sizes(10, &[1.5, -0.5]).is_err());
        assert!(split_sizes(1, &[0.5, 0.5]).is_err());
    }
}
