//! `cai-judge`: AI feedback as the stages share it — RL-CAI preference labelling turns judgements
//! into soft labels, the evaluation into win rates between models.
//!
//! - [`judge`]: the CAI paper's multiple-choice prompt (`(A)` / `(B)` under a judging principle),
//!   the [`OptionScorer`] every judge implements, every comparison judged in both orders in one
//!   call, per-comparison [`Failure`]s counted by reason, and seeded principle draws.
//! - [`style`]: few-shot labelling demonstrations and the chain-of-thought variant (clamped).
//! - [`local`]: [`LocalJudge`], a local model scoring the option tokens by teacher forcing.
//! - [`remote`]: [`RemoteJudge`], an OpenAI-compatible completions endpoint, P(A) from its
//!   returned log-probs.
//! - [`nemo`]: NeMo's judge: the constitution as system prompt, numbered candidates, a JSON
//!   answer from a chat endpoint, parsed strictly.
//! - [`label`]: both orders combined into `P(first better)`, ties and position disagreements, and
//!   the seeds that make a run reproducible.

pub mod error;
pub mod judge;
pub mod label;
pub mod local;
pub mod nemo;
pub mod remote;
pub mod style;

pub use error::{JudgeError, Result};
pub use judge::{Comparison, Failure, OptionScorer, Verdict, judge_both_orders, paper_prompt};
pub use label::BothOrders;
pub use local::LocalJudge;
pub use nemo::{NemoJudge, Ranking};
pub use remote::RemoteJudge;
pub use style::{ChainOfThought, Demonstration, Style, builtin_demonstrations};
