//! The error type of `cai-sft`.

use std::path::PathBuf;

/// Result alias used across `cai-sft`.
pub type Result<T, E = SftError> = std::result::Result<T, E>;

/// Everything that can go wrong while preparing or running supervised fine-tuning.
#[derive(Debug, thiserror::Error)]
pub enum SftError {
    /// Loading, running or saving the model failed.
    #[error(transparent)]
    Model(#[from] cai_model::ModelError),
    /// Reading the chat data failed.
    #[error(transparent)]
    Data(#[from] cai_data::Error),
    /// A record of a chat file is not a usable conversation.
    #[error("{path}:{line}: {reason}")]
    Record {
        /// The file concerned.
        path: PathBuf,
        /// 1-based line where the record starts.
        line: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// A conversation cannot be rendered with the chosen chat template.
    #[error("{at}: field `{field}`: {reason}")]
    Encode {
        /// `file:line` of the record.
        at: String,
        /// The offending field (`type`, `conversations[1].label`, …).
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// The configuration is inconsistent or unusable.
    #[error("config: {0}")]
    Config(String),
    /// A file could not be read or written.
    #[error("{path}: {error}")]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The underlying error (part of the message; not the `source()`, so a chain is not
        /// printed twice).
        error: std::io::Error,
    },
    /// A checkpoint is missing a file or does not match the run.
    #[error("checkpoint {path}: {reason}")]
    Checkpoint {
        /// The checkpoint directory or file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

impl SftError {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, error: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            error,
        }
    }
}
