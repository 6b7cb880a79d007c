//! The errors of preference labelling.

/// What can go wrong in a preference run or a calibration.
#[derive(Debug, thiserror::Error)]
pub enum PreferenceError {
    /// Bad input: a missing or malformed file (the message names file and line), or bad settings.
    #[error("{0}")]
    Input(String),
    /// The model failed to load, tokenize or score.
    #[error(transparent)]
    Model(#[from] cai_model::ModelError),
    /// The judge failed (its model, or its endpoint: the message names it).
    #[error(transparent)]
    Judge(#[from] cai_judge::JudgeError),
    /// Reading or writing data failed.
    #[error(transparent)]
    Data(#[from] cai_data::Error),
    /// The generator backend could not be built.
    #[error(transparent)]
    Backend(#[from] cai_backend::BackendError),
    /// Generating candidates failed.
    #[error("generating candidates for prompts {first_id}..{last_id}: {message}")]
    Generation {
        /// First prompt of the failed batch.
        first_id: String,
        /// Last prompt of the failed batch.
        last_id: String,
        /// What the generator said.
        message: String,
    },
    /// A file could not be read or written (the OS error is part of the message, not a
    /// `source()`, so that it is printed once).
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        error: std::io::Error,
    },
}

impl PreferenceError {
    /// An I/O error on `path`.
    pub fn io(path: &std::path::Path, error: std::io::Error) -> Self {
        Self::Io {
            path: path.display().to_string(),
            error,
        }
    }
}

/// Result with a [`PreferenceError`].
pub type Result<T> = std::result::Result<T, PreferenceError>;
