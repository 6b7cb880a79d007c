//! `cai-sft`: stage 2 of cai-rs, supervised fine-tuning of a chat model on conversations (the
//! SL-CAI revisions blended with helpfulness data), as NeMo-Aligner's `train_gpt_sft.py` does.
//!
//! # Inputs, outputs, invariants
//! - Reads NeMo chat JSONL (`{system, conversations: [{from, value, label}], mask, type}`) or
//!   Hugging Face `{"messages": […]}` files ([`conversation`]), renders them with the model's chat
//!   template (or `nemo`, `chatml`, `mistral`), and trains only on the trained turns — assistant
//!   content and end-of-turn token — found by incremental rendering ([`encode`]). NeMo samples
//!   with a `type` (`VALUE_TO_TEXT`, `TEXT_TO_VALUE`) get NeMo's label blocks and mask under the
//!   `nemo` template ([`nemo_chat`]).
//! - Writes `output_dir/{config.json, metrics.jsonl, tensorboard/, checkpoints/ckpt-N/,
//!   summary.json, model/}`; `model/` is Hugging Face layout with LoRA merged.
//! - Validation never uses the training file unless told to ([`dataset`]).
//! - `--resume` continues exactly: N steps straight and k + resume + (N − k) give the same
//!   weights ([`checkpoint`]).
//!
//! The shared machinery (the chunked loss core, schedule, clipping, optimizer, accumulation,
//! checkpoints, LoRA, metrics) lives in `cai-train` so the reward-model and PPO stages reuse it
//! without depending on this crate.

pub mod batches;
pub mod checkpoint;
pub mod config;
pub mod conversation;
pub mod dataset;
pub mod encode;
pub mod error;
pub mod loss;
pub mod nemo_chat;
pub mod trainer;

pub use config::SftConfig;
pub use error::{Result, SftError};
pub use trainer::{Summary, run};
