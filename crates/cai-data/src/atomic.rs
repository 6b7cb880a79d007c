//! The one atomic file writer of cai-rs: a temporary file with a unique name in the target's
//! directory, written, fsync'd, renamed onto the target, then the directory fsync'd so the rename
//! itself survives a crash. Readers see the old file or the complete new one, never a part; on any
//! error (or a drop without [`AtomicFile::commit`]) the temporary file is removed and the target is
//! untouched.
//!
//! Errors are plain [`std::io::Error`]s so every crate can wrap them with the path in its own error
//! type; [`write_json_atomic`] returns this crate's [`Error`](crate::Error).

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};

/// A file being written atomically; [`AtomicFile::commit`] puts it in place.
pub struct AtomicFile {
    path: PathBuf,
    file: BufWriter<tempfile::NamedTempFile>,
}

impl AtomicFile {
    /// Starts writing `path` (its directory must exist).
    pub fn create(path: impl AsRef<Path>) -> io::Result<Self> {
        let path = path.as_ref().to_path_buf();
        let name = path
            .file_name()
            .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
        let mut builder = tempfile::Builder::new();
        let prefix = format!(".{name}.");
        builder.prefix(&prefix).suffix(".tmp");
        // Finished files are ordinary data files (tempfile's default would leave them 0600).
        #[cfg(unix)]
        builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644));
        let tmp = builder.tempfile_in(parent_dir(&path))?;
        Ok(Self {
            path,
            file: BufWriter::new(tmp),
        })
    }

    /// The target path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Flushes, fsyncs and renames the temporary file onto the target, then fsyncs the directory.
    pub fn commit(self) -> io::Result<()> {
        let tmp = self
            .file
            .into_inner()
            .map_err(io::IntoInnerError::into_error)?;
        tmp.as_file().sync_all()?;
        tmp.persist(&self.path).map_err(|e| e.error)?;
        File::open(parent_dir(&self.path))?.sync_all()
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// The directory holding `path` (`.` for a bare file name).
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: impl AsRef<Path>, bytes: &[u8]) -> io::Result<()> {
    let mut file = AtomicFile::create(path)?;
    file.write_all(bytes)?;
    file.commit()
}

/// Writes `value` as pretty JSON, with a final newline, to `path` atomically.
pub fn write_json_atomic(path: impl AsRef<Path>, value: &impl Serialize) -> Result<()> {
    let path = path.as_ref();
    let mut text =
        serde_json::to_string_pretty(value).map_err(|e| Error::io(path, io::Error::other(e)))?;
    text.push('\n');
    write_atomic(path, text.as_bytes()).map_err(|e| Error::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn commit_replaces_the_target_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.json");
        std::fs::write(&path, "old").unwrap();
        write_atomic(&path, b"new").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(entries(dir.path()), ["a.json"]);
    }

    #[test]
    fn a_dropped_writer_leaves_the_target_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.json");
        std::fs::write(&path, "old").unwrap();
        let mut file = AtomicFile::create(&path).unwrap();
        file.write_all(b"partial").unwrap();
        file.flush().unwrap();
        assert_eq!(
            entries(dir.path()).len(),
            2,
            "a temporary file exists while writing"
        );
        drop(file);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
        assert_eq!(entries(dir.path()), ["a.json"]);
    }

    #[test]
    fn concurrent_writers_use_distinct_temporary_names() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.json");
        let a = AtomicFile::create(&path).unwrap();
        let b = AtomicFile::create(&path).unwrap();
        assert_eq!(entries(dir.path()).len(), 2);
        a.commit().unwrap();
        b.commit().unwrap();
        assert_eq!(entries(dir.path()), ["a.json"]);
    }

    #[test]
    fn json_is_pretty_with_a_final_newline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        write_json_atomic(&path, &serde_json::json!({"a": 1})).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\n  \"a\": 1\n}\n"
        );
    }

    #[test]
    fn a_missing_directory_names_the_file() {
        let err = write_json_atomic("/nonexistent-dir-cai/s.json", &1).unwrap_err();
        assert!(
            err.to_string().contains("/nonexistent-dir-cai/s.json"),
            "{err}"
        );
    }
}
