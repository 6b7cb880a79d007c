//! Writers: whole files atomically (through [`crate::atomic`]) and fsync'd appends with a resume index for long jobs.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::pystyle::{JsonStyle, to_json_line};
use crate::atomic::AtomicFile;
use crate::error::{Error, Result};

/// Writes `records` as JSONL to `path` atomically: readers see the old file or the complete new one, never a part.
pub fn write_jsonl_atomic<T: Serialize>(path: impl AsRef<Path>, records: &[T]) -> Result<()> {
    write_jsonl_atomic_with(path, records, JsonStyle::Compact)
}

/// [`write_jsonl_atomic`] with a chosen [`JsonStyle`].
pub fn write_jsonl_atomic_with<'a, T: Serialize + 'a>(
    path: impl AsRef<Path>,
    records: impl IntoIterator<Item = &'a T>,
    style: JsonStyle,
) -> Result<()> {
    let mut writer = AtomicJsonl::create(path, style)?;
    for record in records {
        writer.write(record)?;
    }
    writer.commit()
}

/// Streaming atomic writer: records go to a temporary file in the target's directory, and [`AtomicJsonl::commit`]
/// fsyncs and renames it into place. Dropping it without committing leaves the target untouched.
pub struct AtomicJsonl {
    path: PathBuf,
    file: AtomicFile,
    style: JsonStyle,
    count: u64,
}

impl AtomicJsonl {
    /// Starts writing `path` (its directory must exist).
    pub fn create(path: impl AsRef<Path>, style: JsonStyle) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let file = AtomicFile::create(&path).map_err(|e| Error::io(&path, e))?;
        Ok(Self {
            path,
            file,
            style,
            count: 0,
        })
    }

    /// Appends one record.
    pub fn write<T: Serialize + ?Sized>(&mut self, record: &T) -> Result<()> {
        let line = to_json_line(record, self.style).map_err(|e| Error::io(&self.path, e.into()))?;
        self.file
            .write_all(line.as_bytes())
            .map_err(|e| Error::io(&self.path, e))?;
        self.file
            .write_all(b"\n")
            .map_err(|e| Error::io(&self.path, e))?;
        self.count += 1;
        Ok(())
    }

    /// Number of records written so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Flushes, fsyncs and renames the temporary file onto the target path, then fsyncs its
    /// directory.
    pub fn commit(self) -> Result<()> {
        let path = self.path;
        self.file.commit().map_err(|e| Error::io(&path, e))
    }
}

/// What [`JsonlWriter::open`] found in an existing file.
#[derive(Debug, Default)]
pub struct ResumeIndex {
    /// Complete records already in the file.
    pub records: u64,
    /// Values of the key field of those records.
    pub keys: HashSet<String>,
    /// Bytes of a torn final line (a crash mid-append) that were cut off.
    pub truncated_bytes: u64,
}

/// Append-only JSONL writer for long jobs.
///
/// Each record is written with one `write` call and fsync'd (every `sync_every` records). On open, an existing file
/// is scanned: complete lines are indexed by `key_field` so a restarted job can skip finished work, and a torn last
/// line is cut off.
pub struct JsonlWriter {
    path: PathBuf,
    file: File,
    key_field: Option<String>,
    index: ResumeIndex,
    style: JsonStyle,
    sync_every: u64,
    unsynced: u64,
}

impl JsonlWriter {
    /// Opens (or creates) `path` for appending; `key_field` names the top-level field used as the resume key.
    pub fn open(path: impl AsRef<Path>, key_field: Option<&str>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        let index = scan_existing(&path, &mut file, key_field)?;
        Ok(Self {
            path,
            file,
            key_field: key_field.map(str::to_string),
            index,
            style: JsonStyle::Compact,
            sync_every: 1,
            unsynced: 0,
        })
    }

    /// Fsync after every `n` appends (1 = every append, the default).
    pub fn with_sync_every(mut self, n: u64) -> Self {
        self.sync_every = n.max(1);
        self
    }

    /// Uses the given JSON layout for new lines.
    pub fn with_style(mut self, style: JsonStyle) -> Self {
        self.style = style;
        self
    }

    /// What was in the file when it was opened, plus everything appended since.
    pub fn index(&self) -> &ResumeIndex {
        &self.index
    }

    /// True if a record with this key is already in the file.
    pub fn contains(&self, key: &str) -> bool {
        self.index.keys.contains(key)
    }

    /// Number of complete records in the file.
    pub fn len(&self) -> u64 {
        self.index.records
    }

    /// True if the file holds no records.
    pub fn is_empty(&self) -> bool {
        self.index.records == 0
    }

    /// Appends one record as a single write.
    pub fn append<T: Serialize + ?Sized>(&mut self, record: &T) -> Result<()> {
        let mut line =
            to_json_line(record, self.style).map_err(|e| Error::io(&self.path, e.into()))?;
        let key = match self.key_field.as_deref() {
            Some(field) => serde_json::from_str::<serde_json::Value>(&line)
                .ok()
                .and_then(|v| key_of(&v, field)),
            None => None,
        };
        line.push('\n');
        self.file
            .write_all(line.as_bytes())
            .map_err(|e| Error::io(&self.path, e))?;
        self.index.records += 1;
        if let Some(key) = key {
            self.index.keys.insert(key);
        }
        self.unsynced += 1;
        if self.unsynced >= self.sync_every {
            self.sync()?;
        }
        Ok(())
    }

    /// Fsyncs everything appended so far.
    pub fn sync(&mut self) -> Result<()> {
        self.file
            .sync_data()
            .map_err(|e| Error::io(&self.path, e))?;
        self.unsynced = 0;
        Ok(())
    }
}

impl Drop for JsonlWriter {
    fn drop(&mut self) {
        if self.unsynced > 0 {
            let _ = self.file.sync_data();
        }
    }
}

fn key_of(value: &serde_json::Value, field: &str) -> Option<String> {
    match value.get(field)? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// Indexes complete lines and cuts off a torn tail; a complete line that is not JSON is an error.
fn scan_existing(path: &Path, file: &mut File, key_field: Option<&str>) -> Result<ResumeIndex> {
    let mut index = ResumeIndex::default();
    let mut reader = BufReader::new(&mut *file);
    let (mut good_end, mut offset, mut line_no) = (0u64, 0u64, 0u64);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        line_no += 1;
        offset += n as u64;
        let complete = buf.ends_with(b"\n");
        let body = buf.trim_ascii();
        if body.is_empty() {
            if complete {
                good_end = offset;
            }
            continue;
        }
        match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(value) => {
                index.records += 1;
                if let Some(key) = key_field.and_then(|k| key_of(&value, k)) {
                    index.keys.insert(key);
                }
                good_end = offset;
                if !complete {
                    drop(reader);
                    file.write_all(b"\n").map_err(|e| Error::io(path, e))?;
                    return Ok(index);
                }
            }
            Err(_) if !complete => break,
            Err(e) => {
                return Err(Error::record(
                    path,
                    line_no,
                    "(root)",
                    e.to_string(),
                    "syntax",
                ));
            }
        }
    }
    drop(reader);
    let len = file
        .seek(SeekFrom::End(0))
        .map_err(|e| Error::io(path, e))?;
    if len > good_end {
        file.set_len(good_end).map_err(|e| Error::io(path, e))?;
        file.sync_all().map_err(|e| Error::io(path, e))?;
        index.truncated_bytes = len - good_end;
    }
    Ok(index)
}
