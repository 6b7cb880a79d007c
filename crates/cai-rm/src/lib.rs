//! `cai-rm`: stage 5 of cai-rs, the reward model — Bradley-Terry on the blended preferences, as
//! NeMo-Aligner's `train_reward_model.py` does (reference: `nemo-cai.md` §7), with soft labels.
//!
//! # Inputs, outputs, invariants
//! - Pairs ([`data`]): cai-data preference records (soft labels from the judge's probabilities),
//!   NeMo comparison files (pairs on consecutive lines) or hh-rlhf pairs, detected or named with
//!   `format`. Over-long pairs are dropped and counted, never truncated ([`encode`]).
//! - Model ([`RewardModel`]): a backbone from any model source plus `cai_model::ScalarHead`, read
//!   at the last real token; every sequence ends in EOS (appended when missing), so training and
//!   scoring read the same token, and a score depends neither on padding nor on batch-mates.
//! - Loss ([`loss`]): `−[p·log σ(Δ) + (1 − p)·log σ(−Δ)]`, `Δ = r_c − r_r − margin`, optional
//!   centring; full fine-tuning or LoRA, the head always trains, no dropout.
//! - Training ([`trainer`]) on `cai-train`: accumulation, schedule, clipping, checkpoints with exact
//!   resume, `metrics.jsonl` + TensorBoard, validation every N steps (and before the first step),
//!   the best model by validation loss in `best/`.
//! - Outputs in `output_dir/`: `model/` (Hugging Face `*ForSequenceClassification`, one label,
//!   `reward_stats.json` beside it for PPO), `best/`, `checkpoints/`, `metrics.jsonl`,
//!   `summary.json` ([`Summary`]: final validation `acc` and `loss`, data counts).
//! - [`Scorer`] scores `{"prompt", "response"}` or `{"text"}` inputs with a trained model.

pub mod checkpoint;
pub mod config;
pub mod data;
pub mod dataset;
pub mod encode;
pub mod error;
pub mod loss;
pub mod metrics;
pub mod model;
pub mod score;
pub mod stats;
pub mod trainer;

pub use config::RmConfig;
pub use error::{Result, RmError};
pub use model::RewardModel;
pub use score::{Scored, Scorer};
pub use trainer::{Summary, train};
