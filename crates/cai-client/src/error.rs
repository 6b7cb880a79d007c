//! The error type of the HTTP client: requests the API cannot express, error answers, transport
//! failures, exhausted retries and partly failed batches.

use cai_data::generation::GenerationError;

/// Result alias used across `cai-client`.
pub type Result<T, E = ClientError> = std::result::Result<T, E>;

/// Everything that can go wrong while calling a server.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The request cannot be expressed in the endpoint's API (a 400-type error, never retried).
    #[error("{0}")]
    BadRequest(String),
    /// A remote server answered with an error status.
    #[error("{endpoint}: HTTP {status}: {body}")]
    Status {
        /// The URL called.
        endpoint: String,
        /// The HTTP status.
        status: u16,
        /// The (possibly truncated) response body.
        body: String,
    },
    /// A remote server could not be reached, timed out, or sent something unreadable.
    #[error("{endpoint}: {reason}")]
    Transport {
        /// The URL called.
        endpoint: String,
        /// What went wrong.
        reason: String,
    },
    /// The last of several attempts failed.
    #[error("gave up after {attempts} attempts: {last}")]
    RetriesExhausted {
        /// How many attempts were made.
        attempts: u32,
        /// The error of the last attempt.
        last: Box<ClientError>,
    },
    /// Some requests of a remote batch failed (the others may have succeeded).
    #[error("{failed} of {total} remote generations failed; first: {first}")]
    Batch {
        /// Number of failed requests.
        failed: usize,
        /// Number of requests.
        total: usize,
        /// The first failure, in request order.
        first: Box<ClientError>,
    },
    /// The client could not be set up (no endpoint, bad URL, ...).
    #[error("{0}")]
    Setup(String),
    /// A bug on this side (a worker thread panicked).
    #[error("internal: {0}")]
    Internal(String),
}

impl ClientError {
    /// Whether to try again: 5xx answers, 429, and transport failures.
    pub fn is_retryable(&self) -> bool {
        match self {
            Self::Status { status, .. } => *status >= 500 || *status == 429,
            Self::Transport { .. } => true,
            _ => false,
        }
    }
}

impl From<ClientError> for GenerationError {
    /// For the [`Generator`](cai_data::generation::Generator) trait: a remote failure, its text
    /// prefixed with `remote generation:`.
    fn from(e: ClientError) -> Self {
        GenerationError::Remote(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(status: u16) -> ClientError {
        ClientError::Status {
            endpoint: "http://x".into(),
            status,
            body: String::new(),
        }
    }

    #[test]
    fn only_transient_failures_are_retried() {
        assert!(status(500).is_retryable());
        assert!(status(503).is_retryable());
        assert!(status(429).is_retryable());
        assert!(!status(400).is_retryable());
        assert!(!status(401).is_retryable());
        let transport = ClientError::Transport {
            endpoint: "http://x".into(),
            reason: "refused".into(),
        };
        assert!(transport.is_retryable());
        assert!(!ClientError::BadRequest("no".into()).is_retryable());
        let through_trait = GenerationError::from(status(503)).to_string();
        assert!(
            through_trait.contains("remote generation: http://x: HTTP 503"),
            "{through_trait}"
        );
    }
}
