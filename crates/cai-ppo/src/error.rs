//! The error type of `cai-ppo`.

use std::path::PathBuf;

/// Result alias used across `cai-ppo`.
pub type Result<T, E = PpoError> = std::result::Result<T, E>;

/// Everything that can go wrong while preparing or running PPO.
#[derive(Debug, thiserror::Error)]
pub enum PpoError {
    /// Loading, running or saving a model failed.
    #[error(transparent)]
    Model(#[from] cai_model::ModelError),
    /// Reading or writing a data file failed.
    #[error(transparent)]
    Data(#[from] cai_data::Error),
    /// The configuration is inconsistent or unusable.
    #[error("config: {0}")]
    Config(String),
    /// The models, prompts or reward do not fit together.
    #[error("{0}")]
    Mismatch(String),
    /// A checkpoint does not match the run being resumed.
    #[error("checkpoint {path}: {reason}")]
    Checkpoint {
        /// The checkpoint directory.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A guard-rail set to stop the run fired.
    #[error("stopped by a guard-rail at step {step}: {reason}")]
    Guard {
        /// The PPO step.
        step: u64,
        /// What fired.
        reason: String,
    },
}
