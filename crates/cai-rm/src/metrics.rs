//! What a set of scored pairs says about a reward model: NeMo's metrics (loss, accuracy, reward
//! means and spread) plus the mean margin, accuracy per label kind (AI-labelled vs human pairs),
//! the expected calibration error of `σ(Δ)` against the soft labels, and the Spearman correlation
//! between reward and answer length — an alarm for a model that rewards length.

use serde::Serialize;

use crate::loss::LossSettings;

/// One scored pair.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoredPair {
    /// Reward of the chosen answer.
    pub chosen: f64,
    /// Reward of the rejected answer.
    pub rejected: f64,
    /// Probability that chosen is better.
    pub label: f64,
    /// Whether an AI judge labelled the pair.
    pub ai_labelled: bool,
    /// Answer lengths in tokens (chosen, rejected).
    pub answer_tokens: [usize; 2],
}

/// Metrics over a set of pairs (names as NeMo logs them where NeMo has them).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PairMetrics {
    /// Pairs.
    pub pairs: usize,
    /// Mean loss.
    pub loss: f64,
    /// Fraction of pairs with `r_chosen > r_rejected` (strict, as NeMo).
    pub acc: f64,
    /// Accuracy on AI-labelled pairs (`None` without any).
    pub acc_ai: Option<f64>,
    /// Accuracy on human pairs (`None` without any).
    pub acc_human: Option<f64>,
    /// Mean reward of chosen answers.
    pub rewards_chosen_mean: f64,
    /// Mean reward of rejected answers.
    pub rewards_rejected_mean: f64,
    /// Mean reward of all answers.
    pub rewards_all_mean: f64,
    /// Standard deviation of all rewards.
    pub rewards_all_std: f64,
    /// Mean of `r_chosen − r_rejected`.
    pub margin: f64,
    /// Expected calibration error of `σ(r_chosen − r_rejected)` against the labels (10 bins).
    pub calibration_error: f64,
    /// Spearman correlation between reward and answer length over all answers.
    pub length_spearman: f64,
}

fn mean(xs: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = xs.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    if n == 0 { 0.0 } else { sum / n as f64 }
}

fn ln_sigmoid(x: f64) -> f64 {
    if x >= 0.0 {
        -(-x).exp().ln_1p()
    } else {
        x - x.exp().ln_1p()
    }
}

/// The loss of one pair, as [`crate::loss::bradley_terry`] computes it.
pub fn pair_loss(pair: &ScoredPair, settings: LossSettings) -> f64 {
    let d = pair.chosen - pair.rejected - settings.margin;
    let p = pair.label;
    let s = pair.chosen + pair.rejected;
    -(p * ln_sigmoid(d) + (1.0 - p) * ln_sigmoid(-d)) + settings.centring * s * s
}

/// Average ranks (ties share the mean of their ranks).
fn ranks(xs: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..xs.len()).collect();
    order.sort_by(|&a, &b| xs[a].total_cmp(&xs[b]));
    let mut out = vec![0.0; xs.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && xs[order[j + 1]] == xs[order[i]] {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0;
        for &k in &order[i..=j] {
            out[k] = rank;
        }
        i = j + 1;
    }
    out
}

/// Spearman's rank correlation (0 when either side is constant).
pub fn spearman(a: &[f64], b: &[f64]) -> f64 {
    let (ra, rb) = (ranks(a), ranks(b));
    let (ma, mb) = (mean(ra.iter().copied()), mean(rb.iter().copied()));
    let cov: f64 = ra.iter().zip(&rb).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = ra.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = rb.iter().map(|y| (y - mb).powi(2)).sum();
    if va == 0.0 || vb == 0.0 {
        0.0
    } else {
        cov / (va * vb).sqrt()
    }
}

/// Expected calibration error of predicted probabilities against soft labels, in 10 equal bins.
pub fn calibration_error(predicted: &[f64], labels: &[f64]) -> f64 {
    let n = predicted.len();
    if n == 0 {
        return 0.0;
    }
    let mut bins = [(0.0f64, 0.0f64, 0usize); 10];
    for (&q, &p) in predicted.iter().zip(labels) {
        let bin = ((q * 10.0) as usize).min(9);
        bins[bin].0 += q;
        bins[bin].1 += p;
        bins[bin].2 += 1;
    }
    bins.iter()
        .filter(|b| b.2 > 0)
        .map(|&(q, p, k)| (k as f64 / n as f64) * ((q - p) / k as f64).abs())
        .sum()
}

/// The metrics of `pairs` under the loss `settings`.
pub fn summarise(pairs: &[ScoredPair], settings: LossSettings) -> PairMetrics {
    if pairs.is_empty() {
        return PairMetrics::default();
    }
    let right = |p: &&ScoredPair| p.chosen > p.rejected;
    let acc_of = |ai: bool| {
        let of: Vec<&ScoredPair> = pairs.iter().filter(|p| p.ai_labelled == ai).collect();
        (!of.is_empty()).then(|| {
            let right = of.iter().filter(|p| p.chosen > p.rejected).count();
            right as f64 / of.len() as f64
        })
    };
    let all: Vec<f64> = pairs.iter().flat_map(|p| [p.chosen, p.rejected]).collect();
    let lengths: Vec<f64> = pairs
        .iter()
        .flat_map(|p| p.answer_tokens.map(|n| n as f64))
        .collect();
    let all_mean = mean(all.iter().copied());
    let predicted: Vec<f64> = pairs
        .iter()
        .map(|p| ln_sigmoid(p.chosen - p.rejected).exp())
        .collect();
    let labels: Vec<f64> = pairs.iter().map(|p| p.label).collect();
    PairMetrics {
        pairs: pairs.len(),
        loss: mean(pairs.iter().map(|p| pair_loss(p, settings))),
        acc: pairs.iter().filter(right).count() as f64 / pairs.len() as f64,
        acc_ai: acc_of(true),
        acc_human: acc_of(false),
        rewards_chosen_mean: mean(pairs.iter().map(|p| p.chosen)),
        rewards_rejected_mean: mean(pairs.iter().map(|p| p.rejected)),
        rewards_all_mean: all_mean,
        rewards_all_std: mean(all.iter().map(|r| (r - all_mean).powi(2))).sqrt(),
        margin: mean(pairs.iter().map(|p| p.chosen - p.rejected)),
        calibration_error: calibration_error(&predicted, &labels),
        length_spearman: spearman(&all, &lengths),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(chosen: f64, rejected: f64, label: f64, ai: bool, lens: [usize; 2]) -> ScoredPair {
        ScoredPair {
            chosen,
            rejected,
            label,
            ai_labelled: ai,
            answer_tokens: lens,
        }
    }

    #[test]
    fn spearman_handles_ties_and_monotone_maps() {
        assert!((spearman(&[1.0, 2.0, 3.0, 4.0], &[10.0, 20.0, 30.0, 40.0]) - 1.0).abs() < 1e-12);
        assert!((spearman(&[1.0, 2.0, 3.0], &[9.0, 4.0, 1.0]) + 1.0).abs() < 1e-12);
        // x = [1, 2, 2, 3], y = [1, 2, 3, 4]: ranks [0, 1.5, 1.5, 3] vs [0, 1, 2, 3] → 0.9487.
        let rho = spearman(&[1.0, 2.0, 2.0, 3.0], &[1.0, 2.0, 3.0, 4.0]);
        assert!((rho - 0.948_683).abs() < 1e-5, "{rho}");
        assert_eq!(spearman(&[1.0, 1.0], &[1.0, 2.0]), 0.0);
    }

    #[test]
    fn metrics_of_a_small_set() {
        let settings = LossSettings {
            margin: 0.0,
            centring: 0.0,
        };
        let pairs = [
            pair(2.0, 0.0, 1.0, false, [10, 5]),
            pair(0.0, 1.0, 1.0, false, [3, 8]),
            pair(1.0, 0.5, 0.8, true, [4, 4]),
        ];
        let m = summarise(&pairs, settings);
        assert_eq!(m.pairs, 3);
        assert!((m.acc - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!((m.acc_ai, m.acc_human), (Some(1.0), Some(0.5)));
        assert!((m.rewards_chosen_mean - 1.0).abs() < 1e-12);
        assert!((m.margin - 1.5 / 3.0).abs() < 1e-12);
        // Loss of pair 0: −ln σ(2).
        let l0 = pair_loss(&pairs[0], settings);
        assert!((l0 - (1.0 + (-2f64).exp()).ln()).abs() < 1e-12);
        // Rewards and lengths rank together here: [2,0,0,1,1,0.5] vs [10,5,3,8,4,4].
        assert!(m.length_spearman > 0.0);
        // A perfectly calibrated prediction has no error; one confident and wrong has a large one.
        assert!(calibration_error(&[0.55, 0.95], &[0.55, 0.95]) < 1e-12);
        assert!(calibration_error(&[0.99], &[0.0]) > 0.9);
    }
}
