//! Guard-rails: after each step the trainer checks the update's approximate KL, its clip fraction,
//! ratio outliers and the response length against bounds; each event goes to the log and the
//! summary, and with `action = "stop"` ends the run (after a checkpoint).

use serde::{Deserialize, Serialize};

/// What a guard-rail does when it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GuardAction {
    /// Log a warning and go on.
    Warn,
    /// Checkpoint and stop with an error.
    Stop,
}

/// The bounds of the guard-rails.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuardSettings {
    /// What a firing guard does.
    pub action: GuardAction,
    /// Largest mean approximate KL (k3) between the rollout policy and the updated one.
    pub max_approx_kl: f64,
    /// Largest fraction of policy tokens whose gradient the clip removed.
    pub max_clip_fraction: f64,
    /// A ratio above this (or below its inverse) is an outlier.
    pub ratio_outlier: f64,
    /// Largest fraction of outlier ratios.
    pub max_outlier_fraction: f64,
    /// The mean response length may not fall below this fraction of the first step's.
    pub min_length_ratio: f64,
    /// ... nor grow above this multiple of it.
    pub max_length_ratio: f64,
}

impl Default for GuardSettings {
    fn default() -> Self {
        Self {
            action: GuardAction::Warn,
            max_approx_kl: 0.5,
            max_clip_fraction: 0.5,
            ratio_outlier: 10.0,
            max_outlier_fraction: 0.01,
            min_length_ratio: 0.25,
            max_length_ratio: 4.0,
        }
    }
}

/// One guard-rail firing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GuardEvent {
    /// The PPO step.
    pub step: u64,
    /// Which guard (`approx_kl`, `clip_fraction`, `ratio_outliers`, `length_collapse`,
    /// `length_blowup`).
    pub guard: String,
    /// The value seen.
    pub value: f64,
    /// The bound it crossed.
    pub bound: f64,
}

/// What the guards look at after one step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepSignals {
    /// Mean approximate KL of the updates.
    pub approx_kl: f64,
    /// Fraction of clipped policy tokens.
    pub clip_fraction: f64,
    /// Fraction of outlier ratios.
    pub outlier_fraction: f64,
    /// Mean response length of this step's rollouts.
    pub response_length: f64,
    /// Mean response length of the first step's rollouts.
    pub first_response_length: f64,
}

impl GuardSettings {
    /// The guards that fire on `signals` at `step`.
    pub fn check(&self, step: u64, s: &StepSignals) -> Vec<GuardEvent> {
        let length = s.response_length / s.first_response_length.max(1e-9);
        let checks = [
            (
                "approx_kl",
                s.approx_kl,
                self.max_approx_kl,
                s.approx_kl > self.max_approx_kl,
            ),
            (
                "clip_fraction",
                s.clip_fraction,
                self.max_clip_fraction,
                s.clip_fraction > self.max_clip_fraction,
            ),
            (
                "ratio_outliers",
                s.outlier_fraction,
                self.max_outlier_fraction,
                s.outlier_fraction > self.max_outlier_fraction,
            ),
            (
                "length_collapse",
                length,
                self.min_length_ratio,
                length < self.min_length_ratio,
            ),
            (
                "length_blowup",
                length,
                self.max_length_ratio,
                length > self.max_length_ratio,
            ),
        ];
        checks
            .into_iter()
            .filter(|c| c.3)
            .map(|(guard, value, bound, _)| GuardEvent {
                step,
                guard: guard.into(),
                value,
                bound,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_guard_fires_only_past_its_bound() {
        let g = GuardSettings::default();
        let calm = StepSignals {
            approx_kl: 0.01,
            clip_fraction: 0.1,
            outlier_fraction: 0.0,
            response_length: 30.0,
            first_response_length: 32.0,
        };
        assert!(g.check(3, &calm).is_empty());
        let wild = StepSignals {
            approx_kl: 2.0,
            clip_fraction: 0.9,
            outlier_fraction: 0.2,
            response_length: 4.0,
            ..calm
        };
        let fired: Vec<String> = g.check(3, &wild).into_iter().map(|e| e.guard).collect();
        assert_eq!(
            fired,
            [
                "approx_kl",
                "clip_fraction",
                "ratio_outliers",
                "length_collapse"
            ]
        );
        let long = StepSignals {
            response_length: 200.0,
            ..calm
        };
        assert_eq!(g.check(1, &long)[0].guard, "length_blowup");
    }
}
