//! The error type of the model core: every failure names the file (and tensor or field) it concerns.
//!
//! An underlying error is written into the message and not also returned by `source()` (the
//! field is `error`, not `source`), so a report that walks the chain (`anyhow`'s `{:#}`) prints
//! it once, not twice.

use std::path::PathBuf;

/// Result alias used across `cai-model`.
pub type Result<T> = std::result::Result<T, ModelError>;

/// Everything that can go wrong while loading, running or saving a model.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// A file could not be read or written.
    #[error("{path}: {error}")]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The underlying error (part of the message; not the `source()`).
        error: std::io::Error,
    },
    /// A JSON file (config, tokenizer, chat) is malformed.
    #[error("{path}: invalid JSON: {error}")]
    Json {
        /// The file concerned.
        path: PathBuf,
        /// The underlying error (part of the message; not the `source()`).
        error: serde_json::Error,
    },
    /// A configuration field is missing or has an unusable value.
    #[error("{path}: field `{field}`: {reason}")]
    Config {
        /// The file concerned (a config.json or a GGUF file).
        path: PathBuf,
        /// The field at fault.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A weights file is not a valid GGUF / safetensors file.
    #[error("{path}: {reason}")]
    Format {
        /// The file concerned.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A tensor uses a quantisation type this crate does not dequantise.
    #[error("{path}: tensor `{tensor}`: unsupported GGUF tensor type {ggml_type}")]
    UnsupportedQuant {
        /// The file concerned.
        path: PathBuf,
        /// The tensor at fault.
        tensor: String,
        /// The numeric or named ggml type.
        ggml_type: String,
    },
    /// A tensor the architecture needs is absent from the weights.
    #[error("{path}: missing tensor `{tensor}`")]
    MissingTensor {
        /// The weights location.
        path: PathBuf,
        /// The tensor name (Hugging Face naming).
        tensor: String,
    },
    /// A tensor's shape disagrees with the configuration.
    #[error("{path}: tensor `{tensor}` has shape {found:?}, config expects {expected:?}")]
    ShapeMismatch {
        /// The weights location.
        path: PathBuf,
        /// The tensor name (Hugging Face naming).
        tensor: String,
        /// Shape found in the file.
        found: Vec<usize>,
        /// Shape the configuration implies.
        expected: Vec<usize>,
    },
    /// The tokenizer could not be built or failed on an input.
    #[error("tokenizer ({origin}): {reason}")]
    Tokenizer {
        /// Where the tokenizer came from.
        origin: String,
        /// What went wrong.
        reason: String,
    },
    /// A chat template failed to parse or render.
    #[error("chat template ({origin}): {reason}")]
    Template {
        /// Where the template came from.
        origin: String,
        /// What went wrong.
        reason: String,
    },
    /// The model could not be obtained (Hub unreachable, pip failed, ...).
    #[error("cannot obtain model `{spec}`: {reason}")]
    Fetch {
        /// The model specification as given.
        spec: String,
        /// Why every way of getting it failed.
        reason: String,
    },
    /// Invalid argument passed to an API.
    #[error("{0}")]
    Invalid(String),
}

impl ModelError {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, error: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            error,
        }
    }

    /// A JSON error for `path`.
    pub fn json(path: impl Into<PathBuf>, error: serde_json::Error) -> Self {
        Self::Json {
            path: path.into(),
            error,
        }
    }

    /// A format error for `path`.
    pub fn format(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Self::Format {
            path: path.into(),
            reason: reason.into(),
        }
    }

    /// A config error for `field` of `path`.
    pub fn config(
        path: impl Into<PathBuf>,
        field: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Self::Config {
            path: path.into(),
            field: field.into(),
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn underlying_errors_are_in_the_message_not_the_source() {
        // A report that walks the chain (`anyhow`'s `{:#}`) would print them twice otherwise.
        let io = ModelError::io(
            "/full/model.safetensors",
            std::io::Error::from_raw_os_error(28),
        );
        assert!(io.source().is_none() && io.to_string().contains("os error 28"));
        let json = serde_json::from_str::<serde_json::Value>("{").unwrap_err();
        let json = ModelError::json("config.json", json);
        assert!(
            json.source().is_none() && json.to_string().contains("EOF"),
            "{json}"
        );
    }
}
