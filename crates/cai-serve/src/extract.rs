//! `ApiJson<T>`: the JSON body extractor of every route. A body that is not declared
//! `application/json` is a 415 (so that a web page, whose form and `text/plain` posts need no
//! CORS preflight, cannot drive a keyless local server); a body slower than `--body-timeout` is a
//! 408; malformed JSON, wrong types and oversized bodies become 4xx JSON errors naming the field;
//! unknown fields are ignored with a log line (real OpenAI clients send extras).

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderValue, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::error::Category;

use crate::error::ServeError;
use crate::server::AppState;

/// A JSON request body of type `T`.
#[derive(Debug, Clone)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ServeError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let path = req.uri().path().to_string();
        check_json(req.headers().get(CONTENT_TYPE))?;
        let timeout = state.config.connections.body_timeout;
        let bytes = tokio::time::timeout(timeout, Bytes::from_request(req, state))
            .await
            .map_err(|_| ServeError::Timeout {
                what: "reading the request body",
                secs: timeout.as_secs_f64(),
                limit: "body-timeout",
            })?
            .map_err(|e: BytesRejection| match e.status() {
                StatusCode::PAYLOAD_TOO_LARGE => ServeError::PayloadTooLarge {
                    limit: state.config.max_body_bytes,
                },
                _ => ServeError::bad_request(e.body_text()),
            })?;
        let (value, unknown) = parse(&bytes)?;
        if !unknown.is_empty() {
            tracing::info!(%path, fields = ?unknown, "ignoring unknown request fields");
        }
        Ok(Self(value))
    }
}

/// Accepts `application/json`, with parameters (`; charset=utf-8`) or not; anything else, or no
/// Content-Type, is a 415.
pub fn check_json(content_type: Option<&HeaderValue>) -> Result<(), ServeError> {
    let Some(value) = content_type else {
        return Err(ServeError::UnsupportedMediaType("no Content-Type".into()));
    };
    let text = String::from_utf8_lossy(value.as_bytes());
    let essence = text.split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(ServeError::UnsupportedMediaType(
            text.chars().take(100).collect(),
        ))
    }
}

/// Parses `bytes` as `T`, returning the paths of the fields `T` does not know.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<(T, Vec<String>), ServeError> {
    let mut unknown = Vec::new();
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let mut record = |p: serde_ignored::Path<'_>| unknown.push(p.to_string());
    let ignoring = serde_ignored::Deserializer::new(&mut de, &mut record);
    let value = serde_path_to_error::deserialize(ignoring).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let syntax = matches!(
            inner.classify(),
            Category::Syntax | Category::Eof | Category::Io
        );
        if syntax || path.is_empty() || path == "." || path == "?" {
            ServeError::bad_request(format!("invalid JSON body: {inner}"))
        } else {
            ServeError::bad_param(&path, inner.to_string())
        }
    })?;
    de.end()
        .map_err(|e| ServeError::bad_request(format!("invalid JSON body: {e}")))?;
    Ok((value, unknown))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::nemo::GenerateRequest;

    #[test]
    fn names_the_bad_field_and_collects_unknown_ones() {
        let err = parse::<GenerateRequest>(br#"{"sentences": ["a"], "tokens_to_generate": -1}"#)
            .unwrap_err();
        assert!(err.to_string().starts_with("tokens_to_generate: "), "{err}");
        let (_, unknown) =
            parse::<GenerateRequest>(br#"{"sentences": ["a"], "frobnicate": 1}"#).unwrap();
        assert_eq!(unknown, ["frobnicate"]);
        assert!(parse::<GenerateRequest>(b"{\"sentences\": [\"a\"]} x").is_err());
    }

    #[test]
    fn only_json_content_types_pass() {
        let check = |v: &str| check_json(Some(&HeaderValue::from_str(v).unwrap())).is_ok();
        assert!(check("application/json"));
        assert!(check("Application/JSON; charset=utf-8"));
        assert!(!check("text/plain"));
        assert!(!check("application/x-www-form-urlencoded"));
        assert!(!check("multipart/form-data; boundary=x"));
        assert!(!check("application/jsonx"));
        assert!(check_json(None).is_err());
    }
}
