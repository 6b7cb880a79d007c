//! The KL penalty to the reference policy: per-token estimators of `KL(π ‖ π_ref)` from the
//! log-ratio `d = log π(y) − log π_ref(y)` of the sampled token, where the penalty goes, and its
//! coefficient (fixed, as NeMo, or adaptive, as Ziegler et al. 2019).

use serde::{Deserialize, Serialize};

/// A per-token estimator of the KL divergence from samples of the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KlEstimator {
    /// `d` (unbiased, can be negative).
    K1,
    /// `|d|` (NeMo's `use_absolute_kl`, its default).
    Abs,
    /// `d² / 2`.
    K2,
    /// `e^{−d} − 1 + d` (unbiased and non-negative; Schulman's k3, GRPO's).
    K3,
}

/// Log-ratios beyond this are clamped before `exp` in k3 (NeMo-RL's input clamp).
const K3_CLAMP: f64 = 20.0;

impl KlEstimator {
    /// The estimate for log-ratio `d`.
    pub fn value(self, d: f64) -> f64 {
        match self {
            Self::K1 => d,
            Self::Abs => d.abs(),
            Self::K2 => 0.5 * d * d,
            Self::K3 => {
                let d = d.clamp(-K3_CLAMP, K3_CLAMP);
                (-d).exp() - 1.0 + d
            }
        }
    }

    /// `∂ value / ∂ log π(y)` at log-ratio `d` (for the penalty as a loss term).
    pub fn grad(self, d: f64) -> f64 {
        match self {
            Self::K1 => 1.0,
            Self::Abs if d > 0.0 => 1.0,
            Self::Abs if d < 0.0 => -1.0,
            Self::Abs => 0.0,
            Self::K2 => d,
            Self::K3 => 1.0 - (-d.clamp(-K3_CLAMP, K3_CLAMP)).exp(),
        }
    }
}

/// Where the KL penalty acts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KlPlacement {
    /// Subtracted from each token's reward, `r_t − β·kl_t` (NeMo, Ziegler et al.).
    Reward,
    /// Added to the policy loss, `+ β·mean(kl_t)`, differentiated through the current policy
    /// (GRPO's choice).
    Loss,
}

/// The KL coefficient β: fixed, or adapted towards a target KL (Ziegler et al. 2019:
/// `β ← β·(1 + clip(KL/target − 1, ±0.2)·n/horizon)` after each step of `n` samples).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KlController {
    /// The current coefficient.
    pub coef: f64,
    /// Target per-sample KL; `None` keeps `coef` fixed.
    pub target: Option<f64>,
    /// Samples over which the coefficient may move by the clipped error.
    pub horizon: f64,
}

impl KlController {
    /// Updates the coefficient from the mean per-sample KL `observed` of a step of `samples`.
    pub fn update(&mut self, observed: f64, samples: usize) {
        if let Some(target) = self.target.filter(|t| *t > 0.0) {
            let error = (observed / target - 1.0).clamp(-0.2, 0.2);
            self.coef *= 1.0 + error * samples as f64 / self.horizon.max(1.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimators_vanish_at_zero_and_their_gradients_match_finite_differences() {
        for est in [
            KlEstimator::K1,
            KlEstimator::Abs,
            KlEstimator::K2,
            KlEstimator::K3,
        ] {
            assert_eq!(est.value(0.0), 0.0, "{est:?}");
            for d in [-0.7, -0.1, 0.2, 1.3] {
                let h = 1e-6;
                let numeric = (est.value(d + h) - est.value(d - h)) / (2.0 * h);
                assert!((numeric - est.grad(d)).abs() < 1e-6, "{est:?} at {d}");
            }
        }
        assert!(KlEstimator::K3.value(-0.5) > 0.0 && KlEstimator::K3.value(0.5) > 0.0);
        assert!(KlEstimator::K3.value(-1e6).is_finite());
    }

    #[test]
    fn the_adaptive_coefficient_moves_towards_the_target_and_a_fixed_one_does_not() {
        let mut c = KlController {
            coef: 0.1,
            target: Some(1.0),
            horizon: 100.0,
        };
        c.update(3.0, 10);
        assert!((c.coef - 0.1 * 1.02).abs() < 1e-12, "{}", c.coef);
        c.update(0.0, 10);
        assert!(c.coef < 0.102);
        let mut fixed = KlController { target: None, ..c };
        fixed.update(5.0, 10);
        assert_eq!(fixed.coef, c.coef);
    }
}
