//! The error type of the server: request validation and engine failures, rendered as an
//! OpenAI-shaped JSON body (`IntoResponse`). The HTTP client has its own, `cai_client::ClientError`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cai_model::ModelError;

/// Result alias used across `cai-serve`.
pub type Result<T> = std::result::Result<T, ServeError>;

/// Everything that can go wrong while serving.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The request is malformed or out of range (HTTP 400).
    #[error("{message}")]
    BadRequest {
        /// The field at fault, when there is one.
        param: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// The request body is larger than the configured limit (HTTP 413).
    #[error("request body exceeds {limit} bytes")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// A request needs more tokens than a budget of the server allows (HTTP 413); the message
    /// names the budget's flag and both numbers.
    #[error("{what} need {got} tokens, more than --{limit} {max}")]
    TooManyTokens {
        /// What was counted.
        what: &'static str,
        /// The tokens it needs.
        got: usize,
        /// The budget's command-line flag, without the dashes.
        limit: &'static str,
        /// The budget.
        max: usize,
    },
    /// A body that is not `application/json` (HTTP 415).
    #[error("expected Content-Type application/json, got {0}")]
    UnsupportedMediaType(String),
    /// The client took longer than a configured timeout (HTTP 408).
    #[error("{what} took longer than {secs} s (--{limit})")]
    Timeout {
        /// What timed out.
        what: &'static str,
        /// The timeout in seconds.
        secs: f64,
        /// The timeout's command-line flag, without the dashes.
        limit: &'static str,
    },
    /// A Host header that a loopback server does not answer to (HTTP 403): a web page reaching a
    /// local server through DNS rebinding sends its own host name.
    #[error(
        "Host {0} is not allowed on a loopback server (use localhost, 127.0.0.1 or [::1] with the port)"
    )]
    ForbiddenHost(String),
    /// No such route (HTTP 404).
    #[error("{0}")]
    NotFound(String),
    /// The route exists but not with this method (HTTP 405).
    #[error("{0}")]
    MethodNotAllowed(String),
    /// Missing or wrong bearer token (HTTP 401).
    #[error("missing or invalid API key")]
    Unauthorized,
    /// The engine queue is full (HTTP 503); retry later.
    #[error("server busy: {queued} requests queued")]
    Busy {
        /// Requests waiting when this one was refused.
        queued: usize,
    },
    /// The engine failed on a request it had accepted (HTTP 500), or its thread is gone.
    #[error("engine: {0}")]
    Engine(String),
    /// The server could not be set up (unreadable key file, port in use, ...).
    #[error("{0}")]
    Setup(String),
}

impl ServeError {
    /// A 400 error about `param`.
    pub fn bad_param(param: &str, message: impl Into<String>) -> Self {
        Self::BadRequest {
            param: Some(param.to_string()),
            message: format!("{param}: {}", message.into()),
        }
    }

    /// A 400 error not tied to one field.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::BadRequest {
            param: None,
            message: message.into(),
        }
    }

    /// The HTTP status this error is served with.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::PayloadTooLarge { .. } | Self::TooManyTokens { .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Timeout { .. } => StatusCode::REQUEST_TIMEOUT,
            Self::ForbiddenHost(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<ModelError> for ServeError {
    /// Bad input (template, tokenizer, invalid argument such as a prompt longer than the context)
    /// is the caller's fault; anything else is the server's.
    fn from(e: ModelError) -> Self {
        match e {
            ModelError::Invalid(_) | ModelError::Template { .. } | ModelError::Tokenizer { .. } => {
                Self::bad_request(e.to_string())
            }
            other => Self::Engine(other.to_string()),
        }
    }
}

impl IntoResponse for ServeError {
    fn into_response(self) -> Response {
        let status = self.status();
        let kind = match status {
            StatusCode::UNAUTHORIZED => "authentication_error",
            StatusCode::SERVICE_UNAVAILABLE => "overloaded_error",
            s if s.is_client_error() => "invalid_request_error",
            _ => "server_error",
        };
        let param = match &self {
            Self::BadRequest { param, .. } => param.clone(),
            _ => None,
        };
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        } else {
            tracing::info!(status = status.as_u16(), error = %self, "request rejected");
        }
        let body = serde_json::json!({
            "error": {
                "message": self.to_string(),
                "type": kind,
                "param": param,
                "code": status.as_u16(),
            }
        });
        (status, Json(body)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        assert_eq!(
            ServeError::Busy { queued: 3 }.status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            ServeError::from(ModelError::Invalid("x".into())).status(),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(ServeError::Unauthorized.status(), StatusCode::UNAUTHORIZED);
    }
}
