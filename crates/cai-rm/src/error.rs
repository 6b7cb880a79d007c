//! The error type of `cai-rm`.

use std::path::PathBuf;

/// Result alias used across `cai-rm`.
pub type Result<T, E = RmError> = std::result::Result<T, E>;

/// Everything that can go wrong while preparing, training or scoring a reward model.
#[derive(Debug, thiserror::Error)]
pub enum RmError {
    /// Loading, running or saving the model failed.
    #[error(transparent)]
    Model(#[from] cai_model::ModelError),
    /// Reading a data file failed.
    #[error(transparent)]
    Data(#[from] cai_data::Error),
    /// A record is not a usable pair or scoring input.
    #[error("{path}:{line}: {reason}")]
    Record {
        /// The file concerned.
        path: PathBuf,
        /// 1-based line of the record.
        line: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// The configuration is inconsistent or unusable.
    #[error("config: {0}")]
    Config(String),
    /// A model directory has no scalar head where one is needed.
    #[error("{0}: no reward head (`score.weight`); train one with `cai-rm train`")]
    NoHead(PathBuf),
    /// A checkpoint does not match the run being resumed.
    #[error("checkpoint {path}: {reason}")]
    Checkpoint {
        /// The checkpoint directory.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

impl RmError {
    /// A record error at `path:line`.
    pub fn record(path: impl Into<PathBuf>, line: u64, reason: impl Into<String>) -> Self {
        Self::Record {
            path: path.into(),
            line,
            reason: reason.into(),
        }
    }
}
