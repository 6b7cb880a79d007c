//! Calibration of the judge on labelled pairs: accuracy of the both-order label, position bias,
//! and the expected calibration error of the soft labels.

use cai_data::Constitution;
use cai_judge::Style;
use serde::Serialize;

use crate::error::Result;
use crate::input::CalibrationPair;
use crate::judge::{Comparison, OptionScorer, draw_principles, judge_both_orders};
use crate::label::{BothOrders, TIE_TOLERANCE};

/// Equal-width confidence bins over [½, 1] of the calibration error.
pub const ECE_BINS: usize = 10;

/// What `cai-preference calibrate` prints.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CalibrationReport {
    /// Pairs scored.
    pub n: usize,
    /// Share of pairs whose both-order label prefers the good answer (a tie counts ½).
    pub accuracy: f64,
    /// Mean P(A) over both orders minus ½: 0 is none, +½ always picks (A), −½ always (B).
    pub position_bias: f64,
    /// Expected calibration error of the labels' confidence max(p, 1 − p) against being right.
    pub ece: f64,
    /// Pairs the judge gave no label for (an endpoint failure, no option among its top
    /// log-probs); not in `n`.
    pub failed: usize,
}

/// The metrics of judgements where the first answer is always the good one.
pub fn metrics(orders: &[BothOrders]) -> CalibrationReport {
    let n = orders.len();
    if n == 0 {
        return CalibrationReport {
            n,
            accuracy: 0.0,
            position_bias: 0.0,
            ece: 0.0,
            failed: 0,
        };
    }
    let correct = |o: &BothOrders| match o.p_first() {
        p if (p - 0.5).abs() <= TIE_TOLERANCE => 0.5,
        p if p > 0.5 => 1.0,
        _ => 0.0,
    };
    let accuracy = orders.iter().map(correct).sum::<f64>() / n as f64;
    let position_bias =
        orders.iter().map(|o| 0.5 * (o.p_ab + o.p_ba)).sum::<f64>() / n as f64 - 0.5;
    let mut bins = [(0usize, 0.0f64, 0.0f64); ECE_BINS];
    for o in orders {
        let p = o.p_first();
        let confidence = p.max(1.0 - p);
        let bin = (((confidence - 0.5) * 2.0 * ECE_BINS as f64) as usize).min(ECE_BINS - 1);
        bins[bin].0 += 1;
        bins[bin].1 += confidence;
        bins[bin].2 += correct(o);
    }
    let ece = bins
        .iter()
        .filter(|b| b.0 > 0)
        .map(|&(_, conf, right)| (conf - right).abs() / n as f64)
        .sum();
    CalibrationReport {
        n,
        accuracy,
        position_bias,
        ece,
        failed: 0,
    }
}

/// Scores every pair in both orders (good first, then good second) under `ensemble` principles
/// drawn per pair from `constitution` (averaged), put to the judge in `style`, and reports the
/// metrics.
pub fn calibrate(
    scorer: &dyn OptionScorer,
    constitution: &Constitution,
    pairs: &[CalibrationPair],
    ensemble: usize,
    style: &Style,
) -> Result<CalibrationReport> {
    crate::run::check_judge_principles(constitution, "the constitution")?;
    let principles = &constitution.judge_principles;
    let m = ensemble.clamp(1, principles.len());
    let comparisons: Vec<Comparison<'_>> = pairs
        .iter()
        .flat_map(|p| {
            draw_principles(principles, m, &[&p.prompt, "calibrate"])
                .into_iter()
                .map(|principle| Comparison {
                    prompt: &p.prompt,
                    first: &p.good,
                    second: &p.bad,
                    principle,
                })
        })
        .collect();
    let judged = judge_both_orders(scorer, &comparisons, style)?;
    let per_pair: Vec<std::result::Result<Vec<BothOrders>, _>> = judged
        .chunks(m)
        .map(|c| c.iter().copied().collect())
        .collect();
    let labelled: Vec<BothOrders> = per_pair
        .iter()
        .filter_map(|p| p.as_ref().ok().map(|all| BothOrders::mean(all)))
        .collect();
    let mut report = metrics(&labelled);
    report.failed = per_pair.len() - labelled.len();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn orders(p_ab: f64, p_ba: f64) -> BothOrders {
        BothOrders { p_ab, p_ba }
    }

    #[test]
    fn metrics_match_a_hand_computed_case() {
        // Labels p = 0.8 (right), 0.4 (wrong, confidence 0.6), 0.6 (right).
        let report = metrics(&[orders(0.9, 0.3), orders(0.6, 0.8), orders(0.7, 0.5)]);
        assert_eq!(report.n, 3);
        assert!((report.accuracy - 2.0 / 3.0).abs() < 1e-12);
        // Mean P(A): (0.6 + 0.7 + 0.6) / 3 − ½.
        assert!((report.position_bias - (1.9 / 3.0 - 0.5)).abs() < 1e-12);
        // Bins: {0.8: right} → |0.8 − 1| · 1/3; {0.6, 0.6: half right} → |0.6 − 0.5| · 2/3.
        assert!((report.ece - 0.4 / 3.0).abs() < 1e-12, "{}", report.ece);
    }

    #[test]
    fn a_judge_that_always_says_a_is_all_bias_and_no_skill() {
        let report = metrics(&[orders(0.75, 0.75), orders(0.75, 0.75)]);
        assert_eq!(report.accuracy, 0.5);
        assert!((report.position_bias - 0.25).abs() < 1e-12);
        assert!(report.ece.abs() < 1e-12);
    }
}
