//! Per-step metrics: one JSON object per line in `metrics.jsonl`, and the same scalars in
//! TensorBoard event files under `tensorboard/` (tags `split/name`, e.g. `train/loss`).

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::tensorboard::{EventWriter, truncate_events_after};
use cai_model::save::write_atomic;
use cai_model::{ModelError, Result};

/// Writes metrics of a training run under one directory.
#[derive(Debug)]
pub struct MetricsLogger {
    path: PathBuf,
    jsonl: BufWriter<File>,
    events: EventWriter,
}

/// Keeps the lines of `path` whose `step` is at most `last_step` (a JSON-lines log of a run that
/// resumes from the checkpoint of `last_step`; a missing file is left missing).
pub fn truncate_after(path: &Path, last_step: u64) -> Result<()> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(());
    };
    let kept: String = text
        .lines()
        .filter(|line| {
            serde_json::from_str::<Value>(line)
                .ok()
                .and_then(|v| v.get("step").and_then(Value::as_u64))
                .is_some_and(|step| step <= last_step)
        })
        .flat_map(|line| [line, "\n"])
        .collect();
    write_atomic(path, kept.as_bytes())
}

impl MetricsLogger {
    /// Opens `dir/metrics.jsonl` and a new event file in `dir/tensorboard`.
    ///
    /// A fresh run (`resume_after = None`) starts an empty `metrics.jsonl`; a resumed run keeps
    /// the lines (and the earlier event files' events) up to the checkpoint's step and appends
    /// after them, so steps redone after the checkpoint are not logged twice in either sink.
    pub fn open(dir: &Path, resume_after: Option<u64>) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| ModelError::io(dir, e))?;
        let path = dir.join("metrics.jsonl");
        match resume_after {
            Some(step) => {
                truncate_after(&path, step)?;
                truncate_events_after(&dir.join("tensorboard"), step)?;
            }
            None => write_atomic(&path, b"")?,
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| ModelError::io(&path, e))?;
        Ok(Self {
            path,
            jsonl: BufWriter::new(file),
            events: EventWriter::create(&dir.join("tensorboard"))?,
        })
    }

    /// Records `values` of `split` (`train`, `validation`, …) at `step`, in both sinks.
    pub fn log(&mut self, split: &str, step: u64, values: &[(&str, f64)]) -> Result<()> {
        let mut object = Map::new();
        object.insert("split".into(), Value::from(split));
        object.insert("step".into(), Value::from(step));
        for (name, value) in values {
            object.insert(name.to_string(), Value::from(*value));
        }
        let line = Value::Object(object).to_string();
        writeln!(self.jsonl, "{line}").map_err(|e| ModelError::io(&self.path, e))?;
        let tagged: Vec<(String, f64)> = values
            .iter()
            .map(|(name, value)| (format!("{split}/{name}"), *value))
            .collect();
        self.events.scalars(step, &tagged)
    }

    /// Flushes both sinks (call at checkpoints and at the end).
    pub fn flush(&mut self) -> Result<()> {
        self.jsonl
            .flush()
            .map_err(|e| ModelError::io(&self.path, e))?;
        self.events.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn steps(dir: &Path) -> Vec<u64> {
        std::fs::read_to_string(dir.join("metrics.jsonl"))
            .unwrap()
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).unwrap()["step"]
                    .as_u64()
                    .unwrap()
            })
            .collect()
    }

    #[test]
    fn resuming_drops_steps_after_the_checkpoint() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = MetricsLogger::open(dir.path(), None).unwrap();
        for step in 1..=4 {
            log.log("train", step, &[("loss", 1.0 / step as f64)])
                .unwrap();
        }
        log.flush().unwrap();
        drop(log);
        let mut log = MetricsLogger::open(dir.path(), Some(2)).unwrap();
        log.log("train", 3, &[("loss", 0.3)]).unwrap();
        log.flush().unwrap();
        assert_eq!(steps(dir.path()), [1, 2, 3]);
        let files: Vec<PathBuf> = std::fs::read_dir(dir.path().join("tensorboard"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(files.len(), 2);
        // TensorBoard sees each step once: 1 and 2 from the first run, 3 from the resumed one
        // (each file also starts with its step-0 file-version record).
        let mut logged: Vec<u64> = files
            .iter()
            .flat_map(|f| crate::tensorboard::records(&std::fs::read(f).unwrap()))
            .map(|(_, step)| step)
            .filter(|&step| step > 0)
            .collect();
        logged.sort();
        assert_eq!(logged, [1, 2, 3]);
    }
}
