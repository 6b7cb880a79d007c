//! What a run writes as it goes besides `metrics.jsonl`: `rollouts.jsonl` (one line per sample of
//! every step: prompt, response, reward, KL), appended and flushed at checkpoints; a resumed run
//! drops the lines after its checkpoint so no step is logged twice.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Value, json};

use crate::error::Result;
use crate::experience::Experience;
use crate::prompts::EncodedPrompt;

/// File name of the rollout log.
pub const ROLLOUTS_FILE: &str = "rollouts.jsonl";

/// The rollout log of a run.
pub struct RolloutLog {
    path: PathBuf,
    out: BufWriter<File>,
}

impl RolloutLog {
    /// Opens `dir/rollouts.jsonl`: empty for a fresh run, cut after step `resume_after` otherwise.
    pub fn open(dir: &Path, resume_after: Option<u64>) -> Result<Self> {
        let path = dir.join(ROLLOUTS_FILE);
        match resume_after {
            Some(step) => cai_train::truncate_after(&path, step)?,
            None => {
                cai_data::write_atomic(&path, b"").map_err(|e| cai_data::Error::io(&path, e))?
            }
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| cai_data::Error::io(&path, e))?;
        Ok(Self {
            path,
            out: BufWriter::new(file),
        })
    }

    /// Appends every sample of step `step`.
    pub fn write(&mut self, step: u64, exp: &Experience, prompts: &[EncodedPrompt]) -> Result<()> {
        for (i, s) in exp.samples.iter().enumerate() {
            let record = &prompts[s.prompt].record;
            let line = json!({
                "step": step,
                "prompt_id": record.id,
                "prompt": record.prompt,
                "response": s.text,
                "reward": exp.scores[i],
                "kl": exp.kl[i].iter().sum::<f64>(),
                "tokens": s.response.len(),
                "ended": s.ended,
            });
            writeln!(self.out, "{line}").map_err(|e| cai_data::Error::io(&self.path, e))?;
        }
        Ok(())
    }

    /// Flushes the log (at checkpoints and at the end).
    pub fn flush(&mut self) -> Result<()> {
        self.out
            .flush()
            .map_err(|e| cai_data::Error::io(&self.path, e).into())
    }
}

/// The named scalars of one step's `metrics.jsonl` line.
#[derive(Debug, Default)]
pub struct StepLine {
    values: Vec<(String, f64)>,
}

impl StepLine {
    /// Adds `(name, value)` pairs.
    pub fn extend(&mut self, values: &[(&str, f64)]) {
        self.values
            .extend(values.iter().map(|(k, v)| (k.to_string(), *v)));
    }

    /// Adds the numeric fields of a serializable struct.
    pub fn extend_serialized(&mut self, value: &impl Serialize) {
        if let Ok(Value::Object(map)) = serde_json::to_value(value) {
            for (k, v) in map {
                if let Some(x) = v.as_f64() {
                    self.values.push((k, x));
                }
            }
        }
    }

    /// The pairs, for `MetricsLogger::log`.
    pub fn values(&self) -> Vec<(&str, f64)> {
        self.values.iter().map(|(k, v)| (k.as_str(), *v)).collect()
    }
}
