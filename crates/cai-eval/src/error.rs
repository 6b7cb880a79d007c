//! The error type of `cai-eval`.

/// Result alias used across `cai-eval`.
pub type Result<T, E = EvalError> = std::result::Result<T, E>;

/// Everything that can go wrong while evaluating.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// Loading or running a model failed.
    #[error(transparent)]
    Model(#[from] cai_model::ModelError),
    /// The judge failed.
    #[error(transparent)]
    Judge(#[from] cai_judge::JudgeError),
    /// Reading or writing a data file failed.
    #[error(transparent)]
    Data(#[from] cai_data::Error),
    /// The configuration is inconsistent or unusable.
    #[error("config: {0}")]
    Config(String),
}
