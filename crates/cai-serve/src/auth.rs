//! Optional bearer-token authentication (`Authorization: Bearer <key>`), and reading the key from
//! a file or an environment variable (never from a command-line literal).

use std::path::Path;

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::Response;

use crate::error::{Result, ServeError};
use crate::server::AppState;

/// Environment variable holding the server's API key.
pub const API_KEY_ENV: &str = "CAI_SERVE_API_KEY";

/// The API key from `file` (trimmed), else from [`API_KEY_ENV`]; `None` when neither is set.
pub fn load_api_key(file: Option<&Path>) -> Result<Option<String>> {
    let key = match file {
        Some(path) => Some(std::fs::read_to_string(path).map_err(|e| {
            ServeError::Setup(format!("reading API key file {}: {e}", path.display()))
        })?),
        None => std::env::var(API_KEY_ENV).ok(),
    };
    match key.map(|k| k.trim().to_string()) {
        Some(k) if k.is_empty() => Err(ServeError::Setup("the API key is empty".into())),
        other => Ok(other),
    }
}

/// Middleware: rejects requests without the configured bearer token.
pub async fn require_key(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> std::result::Result<Response, ServeError> {
    if let Some(expected) = &state.config.api_key {
        let given = req
            .headers()
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !constant_time_eq(given.trim().as_bytes(), expected.as_bytes()) {
            return Err(ServeError::Unauthorized);
        }
    }
    Ok(next.run(req).await)
}

/// Compares without an early exit on the first differing byte.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_whole_keys() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
        assert!(!constant_time_eq(b"", b"secret"));
    }

    #[test]
    fn reads_and_trims_the_key_file() {
        let dir = std::env::temp_dir().join(format!("cai-serve-key-{}", std::process::id()));
        std::fs::write(&dir, "  k3y\n").unwrap();
        assert_eq!(load_api_key(Some(&dir)).unwrap().as_deref(), Some("k3y"));
        std::fs::write(&dir, "\n").unwrap();
        assert!(load_api_key(Some(&dir)).is_err());
        std::fs::remove_file(&dir).unwrap();
    }
}
