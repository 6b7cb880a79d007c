//! Streaming record reader: JSONL or a top-level JSON array, plain or gzip, with per-record error policy.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use super::scan::{Raw, Scanner, Shape};
use crate::error::{Error, Result};

/// Default limit on the size of one record (64 MiB).
pub const DEFAULT_MAX_RECORD_BYTES: usize = 64 << 20;

/// What to do with a record that cannot be read or has the wrong shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnError {
    /// Yield the error, then stop.
    Fail,
    /// Count it in [`Records::skipped`] and go on.
    Skip,
    /// Yield the error and go on (used by `cai-data validate`).
    Report,
}

/// Options for [`read_records`].
#[derive(Clone, Copy, Debug)]
pub struct ReadOptions {
    /// Policy for bad records.
    pub on_error: OnError,
    /// Records longer than this many bytes are rejected without being buffered.
    pub max_record_bytes: usize,
}

impl ReadOptions {
    /// Stop at the first bad record.
    pub fn strict() -> Self {
        Self {
            on_error: OnError::Fail,
            max_record_bytes: DEFAULT_MAX_RECORD_BYTES,
        }
    }

    /// Skip and count bad records.
    pub fn skip_bad() -> Self {
        Self {
            on_error: OnError::Skip,
            ..Self::strict()
        }
    }

    /// Yield every bad record as an error and go on.
    pub fn report() -> Self {
        Self {
            on_error: OnError::Report,
            ..Self::strict()
        }
    }

    /// Sets the per-record size limit.
    pub fn with_max_record_bytes(mut self, bytes: usize) -> Self {
        self.max_record_bytes = bytes;
        self
    }
}

/// Counts of records skipped under [`OnError::Skip`].
#[derive(Debug, Default)]
pub struct SkipStats {
    /// Number of skipped records.
    pub total: u64,
    /// Skipped records per category (`syntax`, `utf8`, `too-long`, `shape`).
    pub by_kind: BTreeMap<&'static str, u64>,
    /// The first few errors, for display.
    pub examples: Vec<Error>,
}

impl SkipStats {
    const MAX_EXAMPLES: usize = 10;

    fn add(&mut self, err: Error) {
        self.total += 1;
        *self
            .by_kind
            .entry(err.record_kind().unwrap_or("other"))
            .or_default() += 1;
        if self.examples.len() < Self::MAX_EXAMPLES {
            self.examples.push(err);
        }
    }
}

/// Streaming iterator over the records of one file; see [`read_records`].
pub struct Records<T> {
    path: PathBuf,
    scanner: Scanner<Box<dyn BufRead + Send>>,
    options: ReadOptions,
    skipped: SkipStats,
    finished: bool,
    _record: PhantomData<fn() -> T>,
}

/// Opens `path` and streams its records as `T`.
///
/// The file may be JSONL or one top-level JSON array, each plain or gzip-compressed (detected from the content, not
/// the name). Every error names the file, the line and the field.
pub fn read_records<T: DeserializeOwned>(
    path: impl AsRef<Path>,
    options: ReadOptions,
) -> Result<Records<T>> {
    let path = path.as_ref();
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    from_reader(path, file, options)
}

/// Streams records from any reader; `name` is used in error messages.
pub fn read_records_from<T: DeserializeOwned>(
    name: impl AsRef<Path>,
    reader: impl Read + Send + 'static,
    options: ReadOptions,
) -> Result<Records<T>> {
    from_reader(name.as_ref(), reader, options)
}

fn from_reader<T: DeserializeOwned>(
    path: &Path,
    reader: impl Read + Send + 'static,
    options: ReadOptions,
) -> Result<Records<T>> {
    let mut buffered = BufReader::with_capacity(1 << 16, reader);
    let gz = buffered
        .fill_buf()
        .map_err(|e| Error::io(path, e))?
        .starts_with(&[0x1f, 0x8b]);
    let inner: Box<dyn BufRead + Send> = if gz {
        Box::new(BufReader::with_capacity(
            1 << 16,
            flate2::bufread::MultiGzDecoder::new(buffered),
        ))
    } else {
        Box::new(buffered)
    };
    let scanner = Scanner::new(inner, options.max_record_bytes).map_err(|e| Error::Structure {
        path: path.to_path_buf(),
        line: 1,
        reason: format!("read error: {e}"),
    })?;
    Ok(Records {
        path: path.to_path_buf(),
        scanner,
        options,
        skipped: SkipStats::default(),
        finished: false,
        _record: PhantomData,
    })
}

impl<T: DeserializeOwned> Records<T> {
    /// The file being read.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// True if the file is a top-level JSON array rather than JSONL.
    pub fn is_array(&self) -> bool {
        self.scanner.shape() == Shape::Array
    }

    /// Records skipped so far under [`OnError::Skip`].
    pub fn skipped(&self) -> &SkipStats {
        &self.skipped
    }

    /// The next record together with the 1-based line where it starts.
    pub fn next_with_line(&mut self) -> Option<Result<(u64, T)>> {
        while !self.finished {
            let (line, result) = match self.scanner.next_raw()? {
                Raw::Record { line, bytes } => (line, parse_record(&self.path, line, &bytes)),
                Raw::Bad { line, reason, kind } => (
                    line,
                    Err(Error::record(&self.path, line, "(root)", reason, kind)),
                ),
                Raw::Fatal { line, reason } => {
                    self.finished = true;
                    return Some(Err(Error::Structure {
                        path: self.path.clone(),
                        line,
                        reason,
                    }));
                }
            };
            match result {
                Ok(value) => return Some(Ok((line, value))),
                Err(err) => match self.options.on_error {
                    OnError::Skip => self.skipped.add(err),
                    OnError::Report => return Some(Err(err)),
                    OnError::Fail => {
                        self.finished = true;
                        return Some(Err(err));
                    }
                },
            }
        }
        None
    }

    /// Reads everything into a vector, stopping at the first error that is yielded.
    pub fn collect_all(mut self) -> Result<Vec<T>> {
        let mut out = Vec::new();
        while let Some(item) = self.next_with_line() {
            out.push(item?.1);
        }
        Ok(out)
    }
}

impl<T: DeserializeOwned> Iterator for Records<T> {
    type Item = Result<T>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_with_line().map(|r| r.map(|(_, v)| v))
    }
}

/// Parses one raw record, naming the line and field on failure.
pub(crate) fn parse_record<T: DeserializeOwned>(path: &Path, line: u64, bytes: &[u8]) -> Result<T> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let at = e.valid_up_to();
        let extra_lines = bytes[..at].iter().filter(|&&b| b == b'\n').count() as u64;
        Error::record(
            path,
            line + extra_lines,
            "(root)",
            format!("invalid UTF-8 at byte {at}"),
            "utf8",
        )
    })?;
    let mut de = serde_json::Deserializer::from_str(text);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let field = field_name(&e.path().to_string());
        json_error(path, line, field, e.into_inner())
    })?;
    de.end()
        .map_err(|e| json_error(path, line, "(root)".into(), e))?;
    Ok(value)
}

/// Turns serde_path_to_error's `.` root into `(root)`.
fn field_name(path: &str) -> String {
    if path.is_empty() || path == "." {
        "(root)".to_string()
    } else {
        path.to_string()
    }
}

fn json_error(path: &Path, line: u64, field: String, err: serde_json::Error) -> Error {
    let kind = match err.classify() {
        serde_json::error::Category::Data => "shape",
        _ => "syntax",
    };
    let message = err.to_string();
    let reason = match message.rfind(" at line ") {
        Some(i) => format!("{} (column {})", &message[..i], err.column()),
        None => message,
    };
    let extra = err.line().saturating_sub(1) as u64;
    Error::record(path, line + extra, field, reason, kind)
}
