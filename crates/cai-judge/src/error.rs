//! What can go wrong while judging: the local model, or the endpoint.

/// A judge that could not judge at all (a per-comparison failure is a [`crate::Failure`]).
#[derive(Debug, thiserror::Error)]
pub enum JudgeError {
    /// The local judge failed to tokenize, score or generate.
    #[error(transparent)]
    Model(#[from] cai_model::ModelError),
    /// The judge endpoint failed (the message names the endpoint).
    #[error(transparent)]
    Remote(#[from] cai_client::ClientError),
    /// The judge is unusable as configured (names the judge and why).
    #[error("judge {judge}: {reason}")]
    Setup {
        /// The judge (model or endpoint).
        judge: String,
        /// What is wrong.
        reason: String,
    },
}

/// Result with a [`JudgeError`].
pub type Result<T> = std::result::Result<T, JudgeError>;
