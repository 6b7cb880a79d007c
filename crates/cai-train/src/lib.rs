//! `cai-train`: what every training stage of cai-rs shares — SFT, the reward model and PPO each
//! build their loss and call into it, and none depends on another.
//!
//! - The loss core: [`logprob`], token log-probs through the LM head, chunked, with their
//!   gradient in closed form and per-token weights (SFT's mean NLL, DPO-style and PPO losses).
//! - The step: [`accumulated_step`] (micro-batches, summed gradients, [`clip_global_norm`], the
//!   optimizer from [`OptimizerSettings::init`] — AdamW through the fused kernel) at the rate of
//!   [`LrSchedule::lr_at`] (a pure function of the step, so resuming needs only the step).
//! - The data stream: [`DataCursor`], [`epoch_order`], [`next_global_batch`].
//! - The model: [`TrainModelSpec`] (source, device, dtype, LoRA) loads it for training; LoRA is
//!   [`LoraSettings`] (apply, merge, adapter files).
//! - Persistence: [`CheckpointDir`] (atomic `ckpt-N/` directories, pruning, the latest for resume),
//!   [`save_checkpoint`] / [`TrainModelSpec::load`], and [`MetricsLogger`] (`metrics.jsonl` and
//!   TensorBoard events).
//!
//! Exact resume rests on three facts: parameter ids are derived from parameter paths
//! ([`stable_param_ids`]), so an optimizer record saved in one process matches the parameters of
//! a model rebuilt in another; the schedule has no state; and the stage stores its data cursor in
//! the checkpoint's state file.

mod checkpoint;
mod clip;
pub mod data;
pub mod logprob;
mod lora;
mod metrics;
mod optimizer;
mod params;
mod schedule;
mod step;
mod tensorboard;
pub mod trainable;

pub use checkpoint::{CheckpointDir, load_optimizer, read_state, save_optimizer, write_state};
pub use clip::{clip_global_norm, global_grad_norm};
pub use data::{DataCursor, epoch_order, next_global_batch};
pub use logprob::{LogprobOptions, TokenNll, head_nll, token_logprobs, weighted_token_nll};
pub use lora::LoraSettings;
pub use metrics::{MetricsLogger, truncate_after};
pub use optimizer::OptimizerSettings;
pub use params::{load_named_tensors, named_trainable_tensors, stable_param_ids};
pub use schedule::LrSchedule;
pub use step::{StepOutcome, accumulated_step};
pub use tensorboard::EventWriter;
pub use trainable::{
    TrainModelSpec, load_checkpoint_state, merged, optimizer_for, save_checkpoint,
};
