//! The crate's error type: every failure names the file, and record failures also name the line and field.

use std::path::{Path, PathBuf};

/// Result alias used throughout `cai-data`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in `cai-data`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Opening, reading, writing or renaming a file failed.
    #[error("{}: {error}", path.display())]
    Io {
        /// The file involved.
        path: PathBuf,
        /// The underlying error (part of the message; not the `source()`, so a chain is not
        /// printed twice).
        error: std::io::Error,
    },
    /// One record (a JSONL line or a JSON array element) is bad; the rest of the file may be fine.
    #[error("{}:{line}: {field}: {reason}", path.display())]
    Record {
        /// The file the record came from.
        path: PathBuf,
        /// 1-based line where the record starts (plus the offending line inside it, for multi-line records).
        line: u64,
        /// Dotted path of the offending field (`conversations[0].from`), or `(root)` for the whole record.
        field: String,
        /// Human-readable reason, lowercase, no trailing period.
        reason: String,
        /// Short, stable category used to count skipped records (`syntax`, `utf8`, `too-long`, `shape`, …).
        kind: &'static str,
    },
    /// The file as a whole cannot be read as records (broken array structure, corrupt gzip stream).
    #[error("{}:{line}: {reason}", path.display())]
    Structure {
        /// The file involved.
        path: PathBuf,
        /// 1-based line where reading stopped.
        line: u64,
        /// What is wrong.
        reason: String,
    },
    /// A JSON Schema name or file is unknown or not a valid schema.
    #[error("schema {name}: {reason}")]
    Schema {
        /// Schema name or path.
        name: String,
        /// What is wrong.
        reason: String,
    },
    /// A constitution file could not be understood.
    #[error("{}: {reason}", path.display())]
    Constitution {
        /// The constitution file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A chat template is malformed or a conversation does not fit it.
    #[error("template: {0}")]
    Template(String),
    /// A conversion between two formats is not possible or its options are inconsistent.
    #[error("convert: {0}")]
    Convert(String),
    /// Downloading from the Hugging Face Hub failed.
    #[error("hub: {0}")]
    Hub(String),
    /// A tokenizer file could not be loaded or used.
    #[error("{}: tokenizer: {reason}", path.display())]
    Tokenizer {
        /// The tokenizer.json file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub fn io(path: impl AsRef<Path>, error: std::io::Error) -> Self {
        Self::Io {
            path: path.as_ref().to_path_buf(),
            error,
        }
    }

    /// Builds a record-level error.
    pub fn record(
        path: impl AsRef<Path>,
        line: u64,
        field: impl Into<String>,
        reason: impl Into<String>,
        kind: &'static str,
    ) -> Self {
        Self::Record {
            path: path.as_ref().to_path_buf(),
            line,
            field: field.into(),
            reason: reason.into(),
            kind,
        }
    }

    /// True for errors that concern a single record, after which reading the file can go on.
    pub fn is_record_level(&self) -> bool {
        matches!(self, Self::Record { .. })
    }

    /// The skip category of a record-level error (`None` for whole-file errors).
    pub fn record_kind(&self) -> Option<&'static str> {
        match self {
            Self::Record { kind, .. } => Some(kind),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_os_error_is_printed_once() {
        // `anyhow`'s `{:#}` prints the message, then each `source()`: the OS error is in the
        // message, so it must not be a source as well.
        let e = Error::io("/full/out.jsonl", std::io::Error::from_raw_os_error(28));
        assert!(std::error::Error::source(&e).is_none());
        let shown = e.to_string();
        assert!(
            shown.starts_with("/full/out.jsonl: ") && shown.contains("os error 28"),
            "{shown}"
        );
    }
}
