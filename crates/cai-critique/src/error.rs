//! The error type of the critique stage: every failure names the file, batch or field it concerns.

use std::path::PathBuf;

/// Result alias used across `cai-critique`.
pub type Result<T, E = CritiqueError> = std::result::Result<T, E>;

/// Everything that can go wrong while generating SL-CAI data.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CritiqueError {
    /// Reading or writing a record file, or loading a constitution, failed.
    #[error(transparent)]
    Data(#[from] cai_data::Error),
    /// The model or chat template failed outside a generation batch (loading, token counting).
    #[error(transparent)]
    Model(#[from] cai_model::ModelError),
    /// The generator backend could not be built (model, endpoints).
    #[error(transparent)]
    Backend(#[from] cai_backend::BackendError),
    /// A generator call failed; finished batches are kept, so re-running resumes.
    #[error("batch {batch} (prompts {first_id} … {last_id}), {step}: {error}")]
    Generation {
        /// 0-based index of the batch.
        batch: usize,
        /// Id of the first prompt of the batch.
        first_id: String,
        /// Id of the last prompt of the batch.
        last_id: String,
        /// Which call failed (`initial response`, `round 1 critique`, …).
        step: String,
        /// The generator's error (boxed: it is large; part of the message, not the `source()`).
        error: Box<cai_data::GenerationError>,
    },
    /// A configuration file or value is invalid.
    #[error("config {origin}: {reason}")]
    Config {
        /// The file (or `flags`, `defaults`) the bad value came from.
        origin: String,
        /// What is wrong.
        reason: String,
    },
    /// A plain file operation failed.
    #[error("{}: {error}", path.display())]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error (part of the message; not the `source()`, so a chain is not
        /// printed twice).
        error: std::io::Error,
    },
    /// The inputs cannot produce a run (no prompts, no principles, …).
    #[error("{0}")]
    Invalid(String),
}

impl CritiqueError {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, error: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            error,
        }
    }

    /// A configuration error from `origin`.
    pub fn config(origin: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Config {
            origin: origin.into(),
            reason: reason.into(),
        }
    }
}
