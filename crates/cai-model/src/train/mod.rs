//! Training machinery shared by the SFT, reward-model and PPO stages: optimizer setup, learning-rate
//! schedule, global-norm clipping, checkpoints with exact resume, and metric logging.
//!
//! Nothing here knows about a particular stage: a stage builds its loss, calls
//! [`clip_global_norm`] and the optimizer from [`OptimizerSettings::init`], reads the learning rate
//! from [`LrSchedule::lr_at`] (a pure function of the step, so resuming needs only the step),
//! and persists its progress through [`CheckpointDir`] and [`MetricsLogger`].
//!
//! Exact resume rests on three facts: parameter ids are derived from parameter paths
//! ([`stable_param_ids`]), so an optimizer record saved in one process matches the parameters of
//! a model rebuilt in another; the schedule has no state; and the stage stores its data cursor in
//! the checkpoint's state file.

mod checkpoint;
mod clip;
mod lora;
mod metrics;
mod optimizer;
mod params;
mod schedule;
mod tensorboard;

pub use checkpoint::{CheckpointDir, load_optimizer, read_state, save_optimizer, write_state};
pub use clip::{clip_global_norm, global_grad_norm};
pub use lora::LoraSettings;
pub use metrics::MetricsLogger;
pub use optimizer::OptimizerSettings;
pub use params::{load_named_tensors, named_trainable_tensors, stable_param_ids};
pub use schedule::LrSchedule;
pub use tensorboard::EventWriter;
