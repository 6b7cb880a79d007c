//! Advantages: GAE with a critic (NeMo's `calculate_advantages_and_returns`, then masked
//! whitening), and the critic-free estimators RLOO (leave-one-out baseline) and GRPO (group
//! normalisation) over the `n` samples of each prompt.
//!
//! Every vector here is one sample's response tokens, in order: token `j` is the `j`-th generated
//! token, its value `V_j` the critic's estimate before it was sampled.

use serde::{Deserialize, Serialize};

/// How advantages are estimated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Estimator {
    /// Generalised advantage estimation with a learned critic (NeMo).
    Gae,
    /// REINFORCE with the leave-one-out mean of the other samples of the prompt as baseline.
    Rloo,
    /// Group-relative: the sample's reward standardised within its prompt's group.
    Grpo,
}

impl std::fmt::Display for Estimator {
    /// The name `--estimator` takes: `gae`, `rloo`, `grpo`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Gae => "gae",
            Self::Rloo => "rloo",
            Self::Grpo => "grpo",
        })
    }
}

impl Estimator {
    /// Whether the estimator needs a critic.
    pub fn needs_critic(self) -> bool {
        self == Self::Gae
    }
}

/// GAE over one response: `δ_j = r_j + γ·V_{j+1} − V_j` (`V_n := 0`), `A_j = δ_j + γλ·A_{j+1}`;
/// returns `(advantages, returns = A + V)`.
pub fn gae(rewards: &[f64], values: &[f64], gamma: f64, lambda: f64) -> (Vec<f64>, Vec<f64>) {
    assert_eq!(rewards.len(), values.len(), "one value per reward");
    let n = rewards.len();
    let mut adv = vec![0.0; n];
    let mut next_adv = 0.0;
    for j in (0..n).rev() {
        let next_value = if j + 1 < n { values[j + 1] } else { 0.0 };
        let delta = rewards[j] + gamma * next_value - values[j];
        next_adv = delta + gamma * lambda * next_adv;
        adv[j] = next_adv;
    }
    let returns = adv.iter().zip(values).map(|(a, v)| a + v).collect();
    (adv, returns)
}

/// Whitens every token's advantage with the mean and (uncorrected) variance over all tokens of
/// all samples: `(A − μ)/√(σ² + 1e-8)`, as NeMo's `normalize_tensor`. Returns `(μ, σ)`.
pub fn whiten(advantages: &mut [Vec<f64>]) -> (f64, f64) {
    let (mean, std) = mean_std(advantages.iter().flatten().copied());
    let scale = 1.0 / (std * std + 1e-8).sqrt();
    for a in advantages.iter_mut().flatten() {
        *a = (*a - mean) * scale;
    }
    (mean, std)
}

/// Mean and population standard deviation (0 and 0 when empty).
pub fn mean_std(values: impl Iterator<Item = f64> + Clone) -> (f64, f64) {
    let n = values.clone().count();
    if n == 0 {
        return (0.0, 0.0);
    }
    let mean = values.clone().sum::<f64>() / n as f64;
    let var = values.map(|v| (v - mean).powi(2)).sum::<f64>() / n as f64;
    (mean, var.sqrt())
}

/// RLOO: `A_i = R_i − mean_{k≠i} R_k` within each consecutive group of `group` samples.
///
/// # Panics
/// Unless `group ≥ 2` divides `rewards.len()`.
pub fn rloo(rewards: &[f64], group: usize) -> Vec<f64> {
    assert!(
        group >= 2 && rewards.len().is_multiple_of(group),
        "RLOO groups of ≥ 2"
    );
    rewards
        .chunks(group)
        .flat_map(|g| {
            let sum: f64 = g.iter().sum();
            g.iter()
                .map(move |r| r - (sum - r) / (group - 1) as f64)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// GRPO: `A_i = (R_i − mean(R_g)) / (std(R_g) + 1e-4)` within each consecutive group, with the
/// sample standard deviation (as TRL).
///
/// # Panics
/// Unless `group ≥ 2` divides `rewards.len()`.
pub fn grpo(rewards: &[f64], group: usize) -> Vec<f64> {
    assert!(
        group >= 2 && rewards.len().is_multiple_of(group),
        "GRPO groups of ≥ 2"
    );
    rewards
        .chunks(group)
        .flat_map(|g| {
            let mean = g.iter().sum::<f64>() / group as f64;
            let var = g.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (group - 1) as f64;
            let scale = 1.0 / (var.sqrt() + 1e-4);
            g.iter()
                .map(move |r| (r - mean) * scale)
                .collect::<Vec<_>>()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &[f64], b: &[f64]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-12)
    }

    #[test]
    fn estimators_print_as_their_flag_values() {
        for e in [Estimator::Gae, Estimator::Rloo, Estimator::Grpo] {
            assert_eq!(serde_json::to_string(&e).unwrap(), format!("\"{e}\""));
        }
    }

    /// nemo-cai.md §15.8 (NeMo's `ppo_utils_test.py`).
    #[test]
    fn gae_matches_the_reference_vector() {
        let values = [0.0, 1.0, 2.0, 3.0];
        let (adv, ret) = gae(&[0.0, 0.0, 1.0, 0.0], &values, 0.5, 0.0);
        assert!(close(&adv, &[0.5, 0.0, 0.5, -3.0]), "{adv:?}");
        assert!(close(&ret, &[0.5, 1.0, 2.5, 0.0]), "{ret:?}");
    }

    #[test]
    fn gae_with_lambda_one_and_gamma_one_is_the_return_minus_the_value() {
        let (adv, ret) = gae(&[0.1, -0.2, 1.0], &[0.3, 0.2, 0.5], 1.0, 1.0);
        assert!(close(&ret, &[0.9, 0.8, 1.0]), "{ret:?}");
        assert!(close(&adv, &[0.6, 0.6, 0.5]), "{adv:?}");
    }

    #[test]
    fn whitening_uses_every_token_of_every_sample() {
        let mut a = vec![vec![1.0, 2.0], vec![3.0]];
        let (mean, std) = whiten(&mut a);
        assert!((mean - 2.0).abs() < 1e-12 && (std - (2.0f64 / 3.0).sqrt()).abs() < 1e-12);
        let flat: Vec<f64> = a.concat();
        let (m, s) = mean_std(flat.iter().copied());
        assert!(m.abs() < 1e-9 && (s - 1.0).abs() < 1e-6, "{m} {s}");
    }

    #[test]
    fn rloo_and_grpo_baselines_are_per_group() {
        assert!(close(
            &rloo(&[1.0, 2.0, 3.0, 0.0, 0.0, 4.0], 3),
            &[-1.5, 0.0, 1.5, -2.0, -2.0, 4.0]
        ));
        // Group [1, 3]: deviations ±1, sample std √2; group [5, 5]: no signal.
        let s = 2f64.sqrt() + 1e-4;
        let g = grpo(&[1.0, 3.0, 5.0, 5.0], 2);
        assert!(close(&g, &[-1.0 / s, 1.0 / s, 0.0, 0.0]), "{g:?}");
    }
}
