//! Combining the two orders of one comparison into a soft label, and the seeded choices that make
//! a run reproducible (principle draws, sampling seeds).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Labels within this distance of ½ are ties (dropped and counted).
pub const TIE_TOLERANCE: f64 = 1e-9;

/// The judge's P(option A) for one pair shown in both orders.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BothOrders {
    /// P(A) with the first answer as (A) and the second as (B).
    pub p_ab: f64,
    /// P(A) with the second answer as (A) and the first as (B).
    pub p_ba: f64,
}

impl BothOrders {
    /// P(first answer better), averaged over both orders: ½(p_AB + 1 − p_BA).
    pub fn p_first(&self) -> f64 {
        0.5 * (self.p_ab + 1.0 - self.p_ba)
    }

    /// The mean of several judgements of one pair (a principle ensemble); p averages with them.
    pub fn mean(all: &[BothOrders]) -> BothOrders {
        let n = all.len().max(1) as f64;
        BothOrders {
            p_ab: all.iter().map(|o| o.p_ab).sum::<f64>() / n,
            p_ba: all.iter().map(|o| o.p_ba).sum::<f64>() / n,
        }
    }

    /// Whether the label is a tie (exactly ½ up to [`TIE_TOLERANCE`]).
    pub fn is_tie(&self) -> bool {
        (self.p_first() - 0.5).abs() <= TIE_TOLERANCE
    }

    /// Whether the two orders disagree on the answer: the judge picked the same position (A or B)
    /// both times, so the content did not decide.
    pub fn positions_disagree(&self) -> bool {
        let decided = |p: f64| (p - 0.5).abs() > TIE_TOLERANCE;
        decided(self.p_ab) && decided(self.p_ba) && (self.p_ab > 0.5) == (self.p_ba > 0.5)
    }
}

/// Normalised probability of the first of two options from their log-probabilities.
pub fn normalised_first(logp_a: f64, logp_b: f64) -> f64 {
    1.0 / (1.0 + (logp_b - logp_a).exp())
}

/// Hex SHA-256 of `parts` joined by NUL bytes.
pub fn hash_hex(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            hasher.update([0u8]);
        }
        hasher.update(part.as_bytes());
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A 64-bit seed derived from `parts` (the first 8 bytes of their hash).
pub fn seed_of(parts: &[&str]) -> u64 {
    u64::from_str_radix(&hash_hex(parts)[..16], 16).expect("hex digits")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_orders_average_removes_a_constant_position_bias() {
        // A judge that adds +0.2 to whichever answer comes first, and prefers the first answer
        // with 0.6 on content: p_ab = 0.8, p_ba = 0.4 + 0.2 = 0.6.
        let orders = BothOrders {
            p_ab: 0.8,
            p_ba: 0.6,
        };
        assert!((orders.p_first() - 0.6).abs() < 1e-12);
        assert!(orders.positions_disagree(), "A was picked both times");
        assert!(!orders.is_tie());
    }

    #[test]
    fn symmetric_judgements_are_ties_and_consistent_ones_are_not() {
        let tie = BothOrders {
            p_ab: 0.7,
            p_ba: 0.7,
        };
        assert!(tie.is_tie());
        let consistent = BothOrders {
            p_ab: 0.9,
            p_ba: 0.2,
        };
        assert!((consistent.p_first() - 0.85).abs() < 1e-12);
        assert!(!consistent.positions_disagree());
    }

    #[test]
    fn an_ensemble_averages_the_labels() {
        let mean = BothOrders::mean(&[
            BothOrders {
                p_ab: 0.9,
                p_ba: 0.1,
            },
            BothOrders {
                p_ab: 0.5,
                p_ba: 0.7,
            },
        ]);
        // Labels 0.9 and 0.4 average to 0.65.
        assert!((mean.p_first() - 0.65).abs() < 1e-12);
    }

    #[test]
    fn option_probabilities_are_normalised() {
        assert!((normalised_first(0.0, 0.0) - 0.5).abs() < 1e-12);
        let p = normalised_first((0.75f64).ln(), (0.05f64).ln());
        assert!((p - 0.9375).abs() < 1e-12);
    }

    #[test]
    fn seeds_are_stable_and_distinct() {
        assert_eq!(seed_of(&["a", "b"]), seed_of(&["a", "b"]));
        assert_ne!(seed_of(&["a", "b"]), seed_of(&["ab"]));
    }
}
