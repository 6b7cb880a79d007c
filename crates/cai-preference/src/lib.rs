//! `cai-preference`: stage 4 of cai-rs, RL-CAI preference labelling by AI feedback.
//!
//! For each red-team prompt the policy samples K candidates ([`candidates`]: NeMo's temperature
//! ladder or one temperature, through the shared generator backend); empty and duplicate answers
//! are skipped and counted. Every pair of distinct candidates is judged with the CAI paper's
//! multiple-choice prompt ([`judge`]) under a principle drawn from the constitution (seeded by the
//! prompt key); the label is the normalised probability of the option tokens, in both orders,
//! averaged: p = ½(p_AB + 1 − p_BA) ([`label`]). Ties (p = ½) are dropped and counted, never
//! replaced by a random pair. Each finished prompt is appended to a work log ([`worklog`]), so a
//! killed run resumes without loss or duplicates. The outputs ([`records`], [`nemo_files`]) are
//! preference records with the soft label in `judge.chosen_score` / `rejected_score` (what
//! `cai-rm` reads), blended with human helpfulness pairs and split with NeMo's semantics, plus
//! NeMo's reward-model files and a `summary.json` ([`summary`]). [`calibrate`] measures the judge
//! on labelled pairs.
//!
//! Modes: `paper` (the default, above), `cot` (the judge reasons step by step first; each order's
//! probability clamped to [0.4, 0.6]) and `nemo` (NeMo's judge: the constitution as system
//! prompt, all candidates numbered, a JSON answer from a chat endpoint, a hard label). The judge
//! is a local model or an OpenAI-compatible endpoint (`--judge-endpoint`); few-shot labelling
//! demonstrations are optional. Judgements without a label (an endpoint failure, an unparseable
//! answer) are dropped and counted by reason. The blend is also written in TRL's layout ([`trl`]).

pub mod calibrate;
pub mod candidates;
pub mod config;
pub mod error;
pub mod files;
pub mod input;
pub mod nemo_files;
pub mod records;
pub mod run;
pub mod summary;
pub mod trl;
pub mod worklog;

pub use cai_judge::{LocalJudge, OptionScorer};
/// The judge and its labels live in `cai-judge`, shared with the evaluation.
pub use cai_judge::{judge, label};
pub use calibrate::{CalibrationReport, calibrate};
pub use config::{Config, Mode, Sampling};
pub use error::{PreferenceError, Result};
pub use label::BothOrders;
pub use run::{Inputs, Judge, load_and_run, read_inputs, run};
pub use summary::Summary;
