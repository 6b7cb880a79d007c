//! The error of the [`Generator`](super::Generator) trait, independent of the backend and its wire
//! format: each backend converts its own errors into it.

/// Why a batch of generations failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GenerationError {
    /// The request cannot be served as asked (bad sampling parameters, an unusable prompt).
    #[error("{0}")]
    Invalid(String),
    /// The in-process model failed (template, tokenizer, tensors).
    #[error("{0}")]
    Model(String),
    /// A remote backend failed (error answer, transport, exhausted retries, partial batch).
    #[error("remote generation: {0}")]
    Remote(String),
}
