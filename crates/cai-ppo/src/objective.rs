//! The per-token policy objective: PPO's clipped surrogate (optionally dual-clipped) and the KL
//! term, as values and as derivatives with respect to the new log-prob.
//!
//! The loss is not linear in the log-probs, so the update first takes the current log-probs
//! without a graph, computes `∂loss/∂logp` for every token here, and passes those (negated) as
//! the per-token weights of `cai_train::weighted_token_nll`, whose gradient is then exactly the
//! loss's.

use serde::{Deserialize, Serialize};

/// Clipping of the probability ratio.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClipSettings {
    /// ε: the ratio is clipped to `[1 − ε, 1 + ε]` (NeMo's `ratio_eps`, 0.2).
    pub eps: f64,
    /// Dual clip `c > 1` (Ye et al. 2020): for negative advantages the loss is at most `−c·A`.
    pub dual_clip: Option<f64>,
}

/// One token's part of the policy loss.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TokenTerm {
    /// `max(−A·ρ, −A·clip(ρ))` (then the dual clip).
    pub loss: f64,
    /// `∂ loss / ∂ log π(y)`.
    pub grad: f64,
    /// `ρ = exp(logp − logp_old)`.
    pub ratio: f64,
    /// `clip(ρ, 1 − ε, 1 + ε)`.
    pub clamped_ratio: f64,
    /// Whether clipping (either clip) took the gradient away.
    pub clipped: bool,
}

/// The clipped surrogate of one token with new log-prob `logp`, old log-prob `old` and advantage
/// `adv`.
pub fn clipped_term(logp: f64, old: f64, adv: f64, clip: ClipSettings) -> TokenTerm {
    let ratio = (logp - old).exp();
    let clamped_ratio = ratio.clamp(1.0 - clip.eps, 1.0 + clip.eps);
    let unclipped = -adv * ratio;
    let clipped_loss = -adv * clamped_ratio;
    // Inside the range both branches are equal and the gradient is the unclipped one's.
    let (mut loss, mut grad, mut clipped) = if unclipped >= clipped_loss {
        (unclipped, -adv * ratio, false)
    } else {
        (clipped_loss, 0.0, true)
    };
    if let Some(c) = clip.dual_clip
        && adv < 0.0
        && loss > -c * adv
    {
        (loss, grad, clipped) = (-c * adv, 0.0, true);
    }
    TokenTerm {
        loss,
        grad,
        ratio,
        clamped_ratio,
        clipped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLIP: ClipSettings = ClipSettings {
        eps: 0.2,
        dual_clip: None,
    };

    #[test]
    fn at_the_old_policy_the_ratio_is_one_and_the_gradient_minus_the_advantage() {
        let t = clipped_term(-1.3, -1.3, 0.7, CLIP);
        assert_eq!(
            (t.ratio, t.loss, t.grad, t.clipped),
            (1.0, -0.7, -0.7, false)
        );
    }

    #[test]
    fn clipping_stops_the_gradient_only_where_the_objective_would_gain() {
        let up = 0.5f64.ln();
        // Positive advantage, ratio above 1 + ε: clipped, no gradient.
        let t = clipped_term(1.5f64.ln() + up, up, 1.0, CLIP);
        assert!(t.clipped && t.grad == 0.0 && (t.loss + 1.2).abs() < 1e-12);
        // Positive advantage, ratio below 1 − ε: the unclipped branch is larger, gradient flows.
        let t = clipped_term(0.5f64.ln() + up, up, 1.0, CLIP);
        assert!(!t.clipped && (t.grad + 0.5).abs() < 1e-12);
        // Negative advantage, ratio above 1 + ε: gradient flows (the loss grows with ρ).
        let t = clipped_term(2f64.ln(), 0.0, -1.0, CLIP);
        assert!(!t.clipped && (t.grad - 2.0).abs() < 1e-12);
        // ... unless the dual clip caps it at −c·A.
        let dual = ClipSettings {
            dual_clip: Some(1.5),
            ..CLIP
        };
        let t = clipped_term(2f64.ln(), 0.0, -1.0, dual);
        assert!(t.clipped && t.grad == 0.0 && (t.loss - 1.5).abs() < 1e-12);
    }

    #[test]
    fn the_gradient_matches_finite_differences() {
        for (logp, old, adv) in [(-1.0, -1.1, 0.4), (-2.0, -1.9, -0.8), (-0.5, -0.52, 1.3)] {
            let h = 1e-6;
            let f = |x| clipped_term(x, old, adv, CLIP).loss;
            let numeric = (f(logp + h) - f(logp - h)) / (2.0 * h);
            let t = clipped_term(logp, old, adv, CLIP);
            assert!((numeric - t.grad).abs() < 1e-6, "{numeric} vs {}", t.grad);
        }
    }
}
