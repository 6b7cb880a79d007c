//! The pipeline's bookkeeping in `manifest.json`: opening it (or starting one in a run directory
//! made before manifests), recording inputs and configs, running a stage between `running` and
//! `done`/`failed`, and deciding whether SFT is already done.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result};
use cai_data::run_dir::{CritiqueSummary, read_json};
use cai_data::{InputFile, Manifest, RunDir, SftSummary, Stage, StageStatus};

use crate::project_root;

/// The manifest of a run directory, saved after every change.
pub struct RunRecord {
    run: RunDir,
    manifest: Manifest,
}

impl RunRecord {
    /// Opens the manifest of `run` (creating the directory), or starts one; a run directory with
    /// stage directories but no manifest was made before manifests existed, which is said once.
    pub fn open(run: RunDir) -> Result<Self> {
        std::fs::create_dir_all(run.root())
            .with_context(|| format!("creating {}", run.root().display()))?;
        let path = run.manifest();
        let mut manifest = match Manifest::load(&path)? {
            Some(m) => m,
            None => {
                if run.critique().exists() || run.sft().exists() {
                    eprintln!(
                        "{}: no manifest.json (run directory made before manifests); each stage \
                         is checked through its own files, and the manifest is written from now on",
                        run.root().display()
                    );
                }
                Manifest::new(env!("CARGO_PKG_VERSION"), None)
            }
        };
        manifest.cai_rs_version = env!("CARGO_PKG_VERSION").into();
        manifest.git_commit = git_commit();
        Ok(Self { run, manifest })
    }

    /// The run directory.
    pub fn run(&self) -> &RunDir {
        &self.run
    }

    /// Records the resolved configuration `name`.
    pub fn config(&mut self, name: &str, value: serde_json::Value) -> Result<()> {
        self.manifest.configs.insert(name.into(), value);
        self.save()
    }

    /// The configuration recorded under `name`, if any.
    pub fn config_of(&self, name: &str) -> Option<&serde_json::Value> {
        self.manifest.configs.get(name)
    }

    /// The recorded status of `stage`.
    pub fn status(&self, stage: Stage) -> StageStatus {
        self.manifest.stage(stage).status
    }

    /// Records the input file `path` under `role`, with its sha256.
    pub fn input(&mut self, role: &str, path: &Path) -> Result<()> {
        self.manifest
            .inputs
            .insert(role.into(), InputFile::hash(path)?);
        self.save()
    }

    /// Runs `stage` through `work`, marking it running, then done or failed, with its timings.
    pub fn stage(&mut self, stage: Stage, work: impl FnOnce() -> Result<()>) -> Result<()> {
        self.manifest.start(stage);
        self.save()?;
        let outcome = work();
        let reason = outcome.as_ref().map(|_| ()).map_err(|e| format!("{e:#}"));
        self.manifest.finish(stage, reason);
        self.save()?;
        outcome
    }

    /// Records `stage` as done without running it (found finished).
    pub fn mark_done(&mut self, stage: Stage) -> Result<()> {
        if self.manifest.stage(stage).status != StageStatus::Done {
            self.manifest.start(stage);
            self.manifest.finish(stage, Ok(()));
        }
        self.save()
    }

    fn save(&self) -> Result<()> {
        Ok(self.manifest.save(&self.run.manifest())?)
    }
}

/// Whether the run's SFT trained `steps` steps and saved its model, by its typed `summary.json`
/// (what earlier run directories have too). An unreadable summary is reported and SFT resumes.
pub fn sft_finished(run: &RunDir, steps: usize) -> bool {
    let path = run.sft_summary();
    if !path.exists() {
        return false;
    }
    match read_json::<SftSummary>(&path) {
        Ok(summary) => summary.finished(steps as u64) && run.sft_model().is_dir(),
        Err(e) => {
            eprintln!("{e}\n  (SFT resumes from its newest checkpoint and rewrites it)");
            false
        }
    }
}

/// The typed summary of the critique stage, which must have produced samples for SFT.
pub fn critique_summary(run: &RunDir) -> Result<CritiqueSummary> {
    let summary: CritiqueSummary = read_json(&run.critique_summary())?;
    anyhow::ensure!(
        summary.counts.blend > 0,
        "{}: the SL-CAI blend is empty (no sample for SFT); see its counts",
        run.critique_summary().display()
    );
    Ok(summary)
}

/// `git rev-parse HEAD` of the project, when it is a git checkout.
fn git_commit() -> Option<String> {
    let out = crate::clean_env(&mut Command::new("git"))
        .args(["rev-parse", "HEAD"])
        .current_dir(project_root())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A run directory as the pipeline wrote it before manifests: `01-critique/`, and `02-sft/`
    /// with an untyped-era `summary.json` and a model.
    fn old_layout(root: &Path, steps: u64) {
        std::fs::create_dir_all(root.join("01-critique")).unwrap();
        std::fs::create_dir_all(root.join("02-sft/model")).unwrap();
        let summary = serde_json::json!({
            "steps": steps, "max_steps": steps, "first_loss": 2.0, "last_loss": 1.5,
            "validation_loss": null,
            "train_data": {"kept": 4, "truncated": 0, "dropped": 0},
            "validation_data": {"kept": 0, "truncated": 0, "dropped": 0},
            "model_dir": root.join("02-sft/model"),
        });
        std::fs::write(root.join("02-sft/summary.json"), summary.to_string()).unwrap();
    }

    #[test]
    fn an_old_run_directory_resumes_and_gets_a_manifest() {
        let dir = tempfile::tempdir().unwrap();
        old_layout(dir.path(), 2);
        let run = RunDir::new(dir.path());
        assert!(sft_finished(&run, 2));
        assert!(!sft_finished(&run, 4), "more steps: SFT resumes");
        let mut record = RunRecord::open(run.clone()).unwrap();
        record.mark_done(Stage::Sft).unwrap();
        let manifest = Manifest::load(&run.manifest()).unwrap().unwrap();
        assert_eq!(manifest.stage(Stage::Sft).status, StageStatus::Done);
        assert_eq!(manifest.stage(Stage::Ppo).status, StageStatus::Pending);
    }

    #[test]
    fn a_failed_stage_is_recorded_with_its_reason() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::new(dir.path());
        let mut record = RunRecord::open(run.clone()).unwrap();
        let err = record
            .stage(Stage::Critique, || anyhow::bail!("no model"))
            .unwrap_err();
        assert_eq!(err.to_string(), "no model");
        let manifest = Manifest::load(&run.manifest()).unwrap().unwrap();
        let critique = manifest.stage(Stage::Critique);
        assert_eq!(critique.status, StageStatus::Failed);
        assert_eq!(critique.error.as_deref(), Some("no model"));
    }
}
