//! NeMo's `CosineAnnealing` learning-rate schedule (`nemo/core/optim/lr_scheduler.py`) as a pure
//! function of the optimizer step.
//!
//! With `constant_steps > 0` (NeMo's default) it is Megatron's variant: linear warm-up from 0
//! (`lr · step / warmup`, so step 0 uses lr 0), cosine from `lr` to `min_lr` over
//! `max_steps − warmup − constant` steps, then `min_lr` for the last `constant_steps`. If
//! `max_steps < warmup + constant` the rate falls to `min_lr` right after warm-up.
//! With `constant_steps == 0` it is the plain variant: warm-up `lr · (step + 1) / (warmup + 1)`,
//! then cosine over `max_steps − warmup` steps; `min_lr` after `max_steps`.

use serde::{Deserialize, Serialize};

/// Warm-up, cosine decay and hold, as NeMo configures it (`optim.sched`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LrSchedule {
    /// Peak learning rate (`optim.lr`).
    pub lr: f64,
    /// Final learning rate (`sched.min_lr`).
    pub min_lr: f64,
    /// Linear warm-up steps (`sched.warmup_steps`).
    pub warmup_steps: u64,
    /// Steps held at `min_lr` at the end (`sched.constant_steps`).
    pub constant_steps: u64,
    /// Total optimizer steps of the run.
    pub max_steps: u64,
}

impl LrSchedule {
    /// Learning rate for optimizer step `step` (0-based: the first update uses `lr_at(0)`).
    pub fn lr_at(&self, step: u64) -> f64 {
        let (step, warmup) = (step as f64, self.warmup_steps as f64);
        if self.constant_steps == 0 {
            if self.warmup_steps > 0 && step <= warmup {
                return self.lr * (step + 1.0) / (warmup + 1.0);
            }
            if step > self.max_steps as f64 {
                return self.min_lr;
            }
            let span = (self.max_steps as f64 - warmup).max(1.0);
            return self.cosine(((step - warmup) / span).clamp(0.0, 1.0));
        }
        let decay = self.max_steps as f64 - self.constant_steps as f64 - warmup;
        if self.warmup_steps > 0 && step <= warmup {
            return self.lr * step / warmup;
        }
        if step > warmup + decay {
            return self.min_lr;
        }
        self.cosine((step - warmup) / decay)
    }

    fn cosine(&self, ratio: f64) -> f64 {
        let coeff = 0.5 * ((std::f64::consts::PI * ratio).cos() + 1.0);
        self.min_lr + coeff * (self.lr - self.min_lr)
    }
}

#[cfg(test)]
mod tests {
    use super::LrSchedule;

    fn schedule(warmup: u64, constant: u64, max: u64) -> LrSchedule {
        LrSchedule {
            lr: 1e-3,
            min_lr: 1e-5,
            warmup_steps: warmup,
            constant_steps: constant,
            max_steps: max,
        }
    }

    #[test]
    fn megatron_variant_warms_up_from_zero_decays_then_holds() {
        let s = schedule(10, 20, 130);
        assert_eq!(s.lr_at(0), 0.0);
        assert!((s.lr_at(5) - 5e-4).abs() < 1e-12);
        assert!((s.lr_at(10) - 1e-3).abs() < 1e-12);
        // Half-way through the 100 decay steps the cosine is at the midpoint.
        assert!((s.lr_at(60) - (1e-5 + 0.5 * (1e-3 - 1e-5))).abs() < 1e-12);
        assert!((s.lr_at(110) - 1e-5).abs() < 1e-12);
        assert_eq!(s.lr_at(111), 1e-5);
        assert_eq!(s.lr_at(500), 1e-5);
    }

    #[test]
    fn short_runs_drop_to_min_lr_after_warmup() {
        // NeMo defaults (warmup 10, constant 1000) with a 50-step run.
        let s = schedule(10, 1000, 50);
        assert!((s.lr_at(10) - 1e-3).abs() < 1e-12);
        assert_eq!(s.lr_at(11), 1e-5);
    }

    #[test]
    fn plain_variant_has_no_zero_step() {
        let s = schedule(4, 0, 14);
        assert!((s.lr_at(0) - 2e-4).abs() < 1e-12);
        assert!((s.lr_at(4) - 1e-3).abs() < 1e-12);
        assert!((s.lr_at(9) - (1e-5 + 0.5 * (1e-3 - 1e-5))).abs() < 1e-12);
        assert!((s.lr_at(14) - 1e-5).abs() < 1e-12);
        assert_eq!(s.lr_at(15), 1e-5);
    }
}
