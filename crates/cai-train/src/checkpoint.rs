//! Checkpoint directories written atomically (`ckpt-N.tmp/` filled, then renamed to `ckpt-N/`),
//! plus the optimizer-state and JSON-state files a stage puts in them.
//!
//! The stage decides the contents (model in HF layout, adapters, optimizer, its own state file);
//! this module guarantees that a `ckpt-N` directory is always complete, finds the latest one, and
//! keeps only the newest few. A checkpoint is deleted by renaming it to `ckpt-N.trash` first, so a
//! kill mid-deletion never leaves a half-deleted `ckpt-N`; leftovers of killed runs (`*.tmp`,
//! `*.trash`) are removed when a run starts ([`CheckpointDir::resume_point`]).

use std::path::{Path, PathBuf};

use burn::optim::ModuleOptimizer;
use serde::Serialize;
use serde::de::DeserializeOwned;

use cai_model::save::write_atomic;
use cai_model::{ModelError, Result};

/// The directory holding a run's `ckpt-N` subdirectories.
#[derive(Debug, Clone)]
pub struct CheckpointDir {
    root: PathBuf,
    keep: Option<usize>,
}

impl CheckpointDir {
    /// Checkpoints under `root`; after each save only the newest `keep` are kept (`None`: all).
    pub fn new(root: impl Into<PathBuf>, keep: Option<usize>) -> Self {
        Self {
            root: root.into(),
            keep,
        }
    }

    /// Where the checkpoint of `step` lives.
    pub fn path_for(&self, step: u64) -> PathBuf {
        self.root.join(format!("ckpt-{step}"))
    }

    /// Writes the checkpoint of `step`: `write` fills a temporary directory, which is then renamed
    /// into place, so a crash never leaves a partial `ckpt-N`. Returns the final path. `write` may
    /// use the caller's error type.
    pub fn save<E: From<ModelError>>(
        &self,
        step: u64,
        write: impl FnOnce(&Path) -> std::result::Result<(), E>,
    ) -> std::result::Result<PathBuf, E> {
        let done = self.path_for(step);
        let tmp = self.root.join(format!("ckpt-{step}.tmp"));
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(|e| ModelError::io(&tmp, e))?;
        }
        std::fs::create_dir_all(&tmp).map_err(|e| ModelError::io(&tmp, e))?;
        write(&tmp)?;
        if done.exists() {
            self.delete(step, &done)?;
        }
        std::fs::rename(&tmp, &done).map_err(|e| ModelError::io(&done, e))?;
        sync_dir(&self.root)?;
        self.prune()?;
        tracing::info!(step, dir = %done.display(), "checkpoint saved");
        Ok(done)
    }

    /// Complete checkpoints, oldest first.
    pub fn list(&self) -> Result<Vec<(u64, PathBuf)>> {
        let entries = match std::fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(ModelError::io(&self.root, e)),
        };
        let mut found = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| ModelError::io(&self.root, e))?;
            let name = entry.file_name();
            let step = name
                .to_str()
                .and_then(|n| n.strip_prefix("ckpt-"))
                .and_then(|n| n.parse::<u64>().ok());
            if let Some(step) = step
                && entry.path().is_dir()
            {
                found.push((step, entry.path()));
            }
        }
        found.sort();
        Ok(found)
    }

    /// The newest complete checkpoint.
    pub fn latest(&self) -> Result<Option<(u64, PathBuf)>> {
        Ok(self.list()?.pop())
    }

    /// The checkpoint a run starts from: the newest one when `resume`, none for a fresh run. A fresh
    /// run over existing checkpoints is refused, so a run is never silently restarted on top of
    /// another one's files.
    ///
    /// Either way it first removes what killed runs leave behind: `ckpt-N.tmp` directories (a
    /// checkpoint being written) and `ckpt-N.trash` ones (a checkpoint being deleted).
    pub fn resume_point(&self, resume: bool) -> Result<Option<(u64, PathBuf)>> {
        self.remove_leftovers()?;
        match (resume, self.latest()?) {
            (true, latest) => Ok(latest),
            (false, None) => Ok(None),
            (false, Some(_)) => Err(ModelError::Invalid(format!(
                "{} already holds checkpoints; pass --resume or use another output directory",
                self.root.display()
            ))),
        }
    }

    fn prune(&self) -> Result<()> {
        let Some(keep) = self.keep else {
            return Ok(());
        };
        let all = self.list()?;
        for (step, path) in all.iter().take(all.len().saturating_sub(keep.max(1))) {
            self.delete(*step, path)?;
        }
        Ok(())
    }

    /// Deletes the checkpoint of `step` at `path`: renamed out of the `ckpt-N` namespace first
    /// (one atomic step), then removed.
    fn delete(&self, step: u64, path: &Path) -> Result<()> {
        let trash = self.root.join(format!("ckpt-{step}.trash"));
        if trash.exists() {
            std::fs::remove_dir_all(&trash).map_err(|e| ModelError::io(&trash, e))?;
        }
        std::fs::rename(path, &trash).map_err(|e| ModelError::io(path, e))?;
        sync_dir(&self.root)?;
        std::fs::remove_dir_all(&trash).map_err(|e| ModelError::io(&trash, e))
    }

    /// Removes `ckpt-N.tmp` and `ckpt-N.trash` directories left by killed runs.
    fn remove_leftovers(&self) -> Result<()> {
        let entries = match std::fs::read_dir(&self.root) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(ModelError::io(&self.root, e)),
        };
        for entry in entries {
            let entry = entry.map_err(|e| ModelError::io(&self.root, e))?;
            let name = entry.file_name();
            let leftover = name.to_str().is_some_and(|n| {
                n.strip_prefix("ckpt-")
                    .and_then(|n| n.strip_suffix(".tmp").or_else(|| n.strip_suffix(".trash")))
                    .is_some_and(|step| step.parse::<u64>().is_ok())
            });
            if leftover && entry.path().is_dir() {
                let path = entry.path();
                tracing::info!(dir = %path.display(), "removing a checkpoint left by a killed run");
                std::fs::remove_dir_all(&path).map_err(|e| ModelError::io(&path, e))?;
            }
        }
        Ok(())
    }
}

/// Flushes `dir`'s entries (renames into and out of it) to disk.
fn sync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| ModelError::io(dir, e))
}

/// Saves the optimizer state (burnpack, keyed by parameter id).
pub fn save_optimizer(optim: &ModuleOptimizer, path: &Path) -> Result<()> {
    optim
        .save(path)
        .map_err(|e| ModelError::format(path, format!("cannot save optimizer state: {e:?}")))
}

/// Restores optimizer state saved by [`save_optimizer`] into a fresh optimizer.
pub fn load_optimizer(optim: ModuleOptimizer, path: &Path) -> Result<ModuleOptimizer> {
    optim
        .load(path)
        .map_err(|e| ModelError::format(path, format!("cannot load optimizer state: {e:?}")))
}

/// Writes a stage's resume state as pretty JSON, atomically.
pub fn write_state<S: Serialize>(path: &Path, state: &S) -> Result<()> {
    let text =
        serde_json::to_string_pretty(state).map_err(|e| ModelError::json(path.to_path_buf(), e))?;
    write_atomic(path, text.as_bytes())
}

/// Reads a state file written by [`write_state`].
pub fn read_state<S: DeserializeOwned>(path: &Path) -> Result<S> {
    let text = std::fs::read_to_string(path).map_err(|e| ModelError::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| ModelError::json(path.to_path_buf(), e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::Module;
    use burn::nn::LinearConfig;
    use burn::optim::GradientsParams;
    use burn::tensor::{Device, Tensor};

    use crate::{OptimizerSettings, stable_param_ids};

    #[test]
    fn failed_writes_leave_no_checkpoint_and_old_ones_are_pruned() {
        let dir = tempfile::tempdir().unwrap();
        let ckpts = CheckpointDir::new(dir.path(), Some(2));
        for step in [1, 2, 3] {
            ckpts
                .save(step, |d| write_state(&d.join("state.json"), &step))
                .unwrap();
        }
        let failed: Result<PathBuf> =
            ckpts.save(4, |_| Err(ModelError::Invalid("disk full".into())));
        assert!(failed.is_err());
        let steps: Vec<u64> = ckpts.list().unwrap().iter().map(|(s, _)| *s).collect();
        assert_eq!(steps, [2, 3]);
        let (step, path) = ckpts.latest().unwrap().unwrap();
        assert_eq!(step, 3);
        assert_eq!(read_state::<u64>(&path.join("state.json")).unwrap(), 3);
    }

    /// Saves a checkpoint of `step` whose state is `value`.
    fn save_value(ckpts: &CheckpointDir, step: u64, value: u64) {
        ckpts
            .save(step, |d| write_state(&d.join("state.json"), &value))
            .unwrap();
    }

    #[test]
    fn leftovers_of_killed_runs_are_removed_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let ckpts = CheckpointDir::new(dir.path(), Some(2));
        save_value(&ckpts, 1, 1);
        // A kill while writing step 2, and one while deleting step 0.
        for leftover in ["ckpt-2.tmp", "ckpt-0.trash"] {
            std::fs::create_dir_all(dir.path().join(leftover).join("model")).unwrap();
            std::fs::write(dir.path().join(leftover).join("model/x"), b"partial").unwrap();
        }
        std::fs::create_dir(dir.path().join("notes")).unwrap();
        let (step, _) = ckpts.resume_point(true).unwrap().unwrap();
        assert_eq!(step, 1);
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["ckpt-1", "notes"]);
    }

    #[test]
    fn pruning_never_leaves_a_partial_checkpoint_under_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let ckpts = CheckpointDir::new(dir.path(), Some(1));
        save_value(&ckpts, 1, 1);
        // A previous deletion of step 1 was killed half-way: its trash is still there.
        std::fs::create_dir(dir.path().join("ckpt-1.trash")).unwrap();
        save_value(&ckpts, 2, 2);
        let steps: Vec<u64> = ckpts.list().unwrap().iter().map(|(s, _)| *s).collect();
        assert_eq!(steps, [2]);
        assert!(!dir.path().join("ckpt-1.trash").exists());
        // Re-saving an existing step replaces it through the trash name as well.
        save_value(&ckpts, 2, 22);
        let (_, path) = ckpts.latest().unwrap().unwrap();
        assert_eq!(read_state::<u64>(&path.join("state.json")).unwrap(), 22);
    }

    /// What loading a model in a new process does: new random parameter ids.
    struct RandomIds;

    impl burn::module::ModuleMapper for RandomIds {
        fn map_float<const D: usize>(
            &mut self,
            mut param: burn::module::Param<Tensor<D>>,
        ) -> burn::module::Param<Tensor<D>> {
            param.id = burn::module::ParamId::new();
            param
        }
    }

    #[test]
    fn optimizer_state_applies_to_a_rebuilt_model() {
        let device = Device::flex().autodiff();
        let settings = OptimizerSettings {
            beta1: 0.9,
            beta2: 0.99,
            eps: 1e-8,
            weight_decay: 0.01,
        };
        let step = |model: burn::nn::Linear, optim: &mut ModuleOptimizer| {
            let out = model.forward(Tensor::<2>::ones([2, 3], &device));
            let loss = (out.clone() * out).sum();
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            optim.step(1e-2, model, grads)
        };
        let init = stable_param_ids(LinearConfig::new(3, 2).init(&device));
        let mut optim = settings.init();
        let one = step(init.clone(), &mut optim);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("optim.bpk");
        save_optimizer(&optim, &path).unwrap();
        let straight = step(one.clone(), &mut optim);

        // Another "process": the same weights under freshly derived ids, optimizer from disk.
        let rebuilt = stable_param_ids(one.clone().map(&mut RandomIds));
        let mut resumed_optim = load_optimizer(settings.init(), &path).unwrap();
        let resumed = step(rebuilt, &mut resumed_optim);
        let values = |m: &burn::nn::Linear| m.weight.val().into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(values(&straight), values(&resumed));

        // Without the saved state the second step differs (Adam's moments matter).
        let fresh = step(one, &mut settings.init());
        assert_ne!(values(&straight), values(&fresh));
    }
}
