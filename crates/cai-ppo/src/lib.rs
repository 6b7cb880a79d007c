//! `cai-ppo`: stage 6 of cai-rs — PPO of the SL-CAI policy against the reward model, KL-penalised
//! to the reference, in one process (NeMo runs an actor job, a critic job and a PyTriton server;
//! reference: `nemo-cai.md` §8).
//!
//! # Roles ([`roles`])
//! The **actor** (trainable, full or LoRA), the **reference** (the frozen initial policy; with LoRA
//! the base weights, shared), the **critic** (GAE only; from the reward model, or the policy's
//! backbone with a fresh value head) and the **reward** ([`reward::Reward`]: the frozen reward
//! model, standardised with its `reward_stats.json` and clipped, or a rule).
//!
//! # One step ([`trainer`])
//! 1. [`rollout`]: `rollout_batch` prompts × `samples_per_prompt` samples through the KV-cache
//!    engine (NeMo's sampling defaults: temperature 1, top-k 0, top-p 1), each with its own seed;
//!    log-probs recomputed by teacher forcing at the sampling temperature, so they equal the
//!    sampler's (`logprob_mismatch_max` in the metrics).
//! 2. [`experience`]: per-token KL ([`kl`]: k1, abs, k2, k3) to the reference, in the reward or the
//!    loss, fixed or adaptive coefficient; the sequence reward on the last generated token (plus a
//!    penalty for samples that did not end); advantages ([`advantage`]): GAE with masked whitening,
//!    or RLOO / GRPO over the samples of a prompt.
//! 3. [`update`]: `ppo_epochs` × minibatches, each one AdamW step of the actor (clipped surrogate,
//!    [`objective`], optional dual clip and entropy bonus; samples that did not end excluded
//!    unless asked) and of the critic (clipped value loss), global-norm clipping, critic warm-up.
//! 4. [`guard`]: approximate KL, clip fraction, ratio outliers and response length against bounds.
//!
//! # Outputs in `output_dir/`
//! `metrics.jsonl` (one line per step, NeMo's metric names: `rewards`, `init_policy_kl`, …) and
//! TensorBoard events, `rollouts.jsonl` ([`log`]), `checkpoints/ckpt-N/` ([`checkpoint`], exact
//! resume), `model/` (the final policy, Hugging Face layout, LoRA merged; cai-serve serves it),
//! `config.json` and `summary.json` ([`Summary`]).

pub mod advantage;
pub mod checkpoint;
pub mod config;
pub mod error;
pub mod experience;
pub mod guard;
pub mod kl;
pub mod log;
pub mod objective;
pub mod prompts;
pub mod reward;
pub mod roles;
pub mod rollout;
pub mod trainer;
pub mod update;

pub use config::PpoConfig;
pub use error::{PpoError, Result};
pub use reward::{Reward, RuleReward, Scoring};
pub use trainer::{Summary, train};
