//! `cai-judge`: AI feedback as the stages share it — RL-CAI preference labelling turns judgements
//! into soft labels, the evaluation into win rates between models.
//!
//! - [`judge`]: the CAI paper's multiple-choice prompt (`(A)` / `(B)` under a judging principle),
//!   [`judge::LocalJudge`] scoring the option tokens by teacher forcing, every comparison judged
//!   in both orders in one batch, and seeded principle draws.
//! - [`label`]: both orders combined into `P(first better)`, ties and position disagreements, and
//!   the seeds that make a run reproducible.

pub mod judge;
pub mod label;

pub use judge::{Comparison, LocalJudge, OptionScorer, judge_both_orders, paper_prompt};
pub use label::BothOrders;
