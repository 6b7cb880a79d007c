//! The error of building a backend.

/// Result alias used across `cai-backend`.
pub type Result<T, E = BackendError> = std::result::Result<T, E>;

/// Why a backend could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BackendError {
    /// The model (or its text side) could not be loaded.
    #[error(transparent)]
    Model(#[from] cai_model::ModelError),
    /// The remote endpoints could not be set up (bad URL, …). The client error is part of the
    /// message, not the `source()`, so a chain is not printed twice.
    #[error("remote endpoints: {0}")]
    Remote(cai_client::ClientError),
    /// The settings do not make a backend.
    #[error("{0}")]
    Invalid(String),
}

impl From<cai_client::ClientError> for BackendError {
    fn from(e: cai_client::ClientError) -> Self {
        Self::Remote(e)
    }
}
