//! `manifest.json`: what a run was made from and how far it got. The pipeline writes it atomically
//! after every change of a stage's status and reads it on a re-run to decide what is done.
//!
//! A run directory made before manifests existed has none; the pipeline then falls back to the
//! stage summaries ([`super::summary`]).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Stage;
use super::summary::read_json;
use crate::atomic::write_json_atomic;
use crate::error::{Error, Result};

/// The manifest layout this code writes; a manifest with another one is refused.
pub const MANIFEST_FORMAT: u32 = 1;

/// Where a stage stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StageStatus {
    /// Not started.
    #[default]
    Pending,
    /// Started and not finished (or interrupted: a re-run resumes it).
    Running,
    /// Finished.
    Done,
    /// Failed; `error` says why.
    Failed,
}

/// Status and timings of one stage.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StageRecord {
    /// Where the stage stands.
    pub status: StageStatus,
    /// When the last attempt started, seconds since the Unix epoch.
    pub started_unix: Option<u64>,
    /// When the last attempt ended, seconds since the Unix epoch.
    pub finished_unix: Option<u64>,
    /// Wall time of the last attempt, in seconds.
    pub wall_secs: Option<f64>,
    /// Why the last attempt failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// An input file and its content hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputFile {
    /// The file, as given.
    pub path: PathBuf,
    /// Lowercase hex sha256 of its content.
    pub sha256: String,
}

impl InputFile {
    /// Hashes `path`.
    pub fn hash(path: impl Into<PathBuf>) -> Result<Self> {
        let path = path.into();
        let sha256 = sha256_file(&path)?;
        Ok(Self { path, sha256 })
    }
}

/// The run manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Layout version ([`MANIFEST_FORMAT`]).
    pub format: u32,
    /// The cai-rs version that last wrote it.
    pub cai_rs_version: String,
    /// The git commit of that cai-rs checkout, when known.
    pub git_commit: Option<String>,
    /// Input files by role (`sft-config`, `sft-train-file`, …), with their sha256.
    pub inputs: BTreeMap<String, InputFile>,
    /// Resolved configuration of the pipeline and of each stage, by name.
    pub configs: BTreeMap<String, serde_json::Value>,
    /// Status and timings of every stage.
    pub stages: BTreeMap<Stage, StageRecord>,
}

impl Manifest {
    /// A manifest of a new run: every stage pending.
    pub fn new(cai_rs_version: impl Into<String>, git_commit: Option<String>) -> Self {
        Self {
            format: MANIFEST_FORMAT,
            cai_rs_version: cai_rs_version.into(),
            git_commit,
            inputs: BTreeMap::new(),
            configs: BTreeMap::new(),
            stages: Stage::ALL
                .iter()
                .map(|&s| (s, StageRecord::default()))
                .collect(),
        }
    }

    /// Reads `path`; `None` when there is no such file. A malformed manifest, or one of another
    /// [`MANIFEST_FORMAT`], is an error naming the file (and field).
    pub fn load(path: &Path) -> Result<Option<Self>> {
        if !path.exists() {
            return Ok(None);
        }
        let manifest: Self = read_json(path)?;
        if manifest.format != MANIFEST_FORMAT {
            return Err(Error::record(
                path,
                1,
                "format",
                format!(
                    "manifest format {} (this cai-rs reads format {MANIFEST_FORMAT}); \
                     use another run directory or the cai-rs that made it",
                    manifest.format
                ),
                "shape",
            ));
        }
        Ok(Some(manifest))
    }

    /// Writes the manifest to `path` atomically.
    pub fn save(&self, path: &Path) -> Result<()> {
        write_json_atomic(path, self)
    }

    /// The record of `stage`.
    pub fn stage(&self, stage: Stage) -> StageRecord {
        self.stages.get(&stage).cloned().unwrap_or_default()
    }

    /// Marks `stage` running, now.
    pub fn start(&mut self, stage: Stage) {
        self.stages.insert(
            stage,
            StageRecord {
                status: StageStatus::Running,
                started_unix: Some(unix_now()),
                ..StageRecord::default()
            },
        );
    }

    /// Marks `stage` done (`Ok`) or failed (`Err` with the reason), with its wall time.
    pub fn finish(&mut self, stage: Stage, outcome: std::result::Result<(), String>) {
        let record = self.stages.entry(stage).or_default();
        let now = unix_now();
        record.finished_unix = Some(now);
        record.wall_secs = record.started_unix.map(|s| now.saturating_sub(s) as f64);
        match outcome {
            Ok(()) => {
                record.status = StageStatus::Done;
                record.error = None;
            }
            Err(reason) => {
                record.status = StageStatus::Failed;
                record.error = Some(reason);
            }
        }
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Lowercase hex sha256 of the content of `path`.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_round_trips_with_status_and_timings() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("manifest.json");
        assert_eq!(Manifest::load(&path).unwrap(), None);
        let mut m = Manifest::new("0.1.0", Some("abc".into()));
        let input = dir.path().join("in.txt");
        std::fs::write(&input, "abc").unwrap();
        m.inputs
            .insert("sft-config".into(), InputFile::hash(&input).unwrap());
        m.start(Stage::Critique);
        m.finish(Stage::Critique, Ok(()));
        m.start(Stage::Sft);
        m.finish(Stage::Sft, Err("out of memory".into()));
        m.save(&path).unwrap();
        let back = Manifest::load(&path).unwrap().unwrap();
        assert_eq!(back, m);
        assert_eq!(back.stage(Stage::Critique).status, StageStatus::Done);
        assert_eq!(back.stage(Stage::Sft).status, StageStatus::Failed);
        assert_eq!(back.stage(Stage::Ppo).status, StageStatus::Pending);
        assert_eq!(
            back.inputs["sft-config"].sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"reward-model\""), "{text}");
        assert!(text.contains("\"status\": \"failed\""), "{text}");
    }

    #[test]
    fn another_format_is_refused_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("manifest.json");
        let mut m = Manifest::new("9.0.0", None);
        m.format = 99;
        m.save(&path).unwrap();
        let err = Manifest::load(&path).unwrap_err().to_string();
        assert!(
            err.contains("manifest.json:1: format: manifest format 99"),
            "{err}"
        );
    }
}
