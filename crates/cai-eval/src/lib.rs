//! `cai-eval`: the evaluation stage of cai-rs — does a model become more harmless without becoming
//! evasive? Every model (base, SL-CAI, RL-CAI, …) answers held-out harmful prompts, the same
//! prompts inside a jailbreak wrapper, and harmless prompts that sound risky, by greedy decoding.
//!
//! Per model ([`run::ModelEval`]): the refusal rate on harmful prompts (harmlessness) and on
//! jailbroken ones, the answer rate on harmless prompts (it must not fall: evasiveness), the reward
//! model's mean score, and text statistics (mean length, distinct-2, the most frequent 4-grams —
//! the boilerplate over-trained policies collapse into). Refusals are a plain phrase match on an
//! answer's opening ([`cai_data::answer`]); `eval.json` lists the phrases and shows answers side by side so
//! that a reader can check the rates.
//!
//! With a `judge`, [`win_rate`] compares each model's answers with the previous model's by the
//! CAI paper's multiple-choice judge in both orders (`cai-judge`).
//!
//! Outputs in `output_dir/`: `eval.json` ([`run::EvalReport`]: `{"models": {NAME: {...}}}`) and
//! `answers/NAME.json` (reused by a re-run with the same model, prompts and settings).

pub mod config;
pub mod error;
pub mod run;
pub mod text_stats;
pub mod win_rate;

pub use config::{EvalConfig, NamedModel};
pub use error::{EvalError, Result};
pub use run::{EvalReport, ModelEval, evaluate, read_report};
