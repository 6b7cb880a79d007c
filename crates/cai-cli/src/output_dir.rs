//! The check every stage makes of its output directory before it builds or loads anything.

use std::path::Path;

/// An output directory that cannot be one: it, or an ancestor, is a file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{flag} {dir}: {reason}")]
pub struct OutputDirError {
    /// The flag (or key) that named the directory, e.g. `--out`.
    pub flag: String,
    /// The directory as given.
    pub dir: String,
    /// What is in the way.
    pub reason: String,
}

/// Fails unless `dir` is a directory or can be created as one: it, or else the nearest of its
/// ancestors that exists, must be a directory. `flag` names the flag in the message
/// (`--out runs/x: exists and is not a directory`). An empty `dir` passes (whether one is required
/// is the configuration's business).
pub fn check_output_dir(flag: &str, dir: &Path) -> Result<(), OutputDirError> {
    let Some(existing) = dir
        .ancestors()
        .find(|a| !a.as_os_str().is_empty() && a.exists())
    else {
        return Ok(());
    };
    if existing.is_dir() {
        return Ok(());
    }
    let reason = if existing == dir {
        "exists and is not a directory".to_string()
    } else {
        format!("{} is a file, not a directory", existing.display())
    };
    Err(OutputDirError {
        flag: flag.to_string(),
        dir: dir.display().to_string(),
        reason,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_in_the_way_is_named_with_the_flag() {
        let work = tempfile::tempdir().unwrap();
        let file = work.path().join("notes.txt");
        std::fs::write(&file, "").unwrap();
        let err = check_output_dir("--out", &file).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("--out {}: exists and is not a directory", file.display())
        );
        let below = file.join("run");
        let err = check_output_dir("--output-dir", &below).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "--output-dir {}: {} is a file, not a directory",
                below.display(),
                file.display()
            )
        );
    }

    #[test]
    fn directories_new_or_existing_pass() {
        let work = tempfile::tempdir().unwrap();
        assert!(check_output_dir("--out", work.path()).is_ok());
        assert!(check_output_dir("--out", &work.path().join("a/b/c")).is_ok());
        assert!(check_output_dir("--out", Path::new("")).is_ok());
        assert!(check_output_dir("--out", Path::new("relative/new/run")).is_ok());
    }
}
