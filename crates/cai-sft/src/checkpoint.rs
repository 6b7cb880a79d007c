//! What an SFT checkpoint holds and how a run is rebuilt from one.
//!
//! `ckpt-N/` contains `model/` (Hugging Face layout, LoRA merged, loadable anywhere),
//! `adapter.safetensors` (LoRA only: the factors by module path), `optimizer.bpk` (AdamW moments,
//! keyed by path-derived parameter ids) and `state.json` ([`TrainState`]). Full fine-tuning resumes
//! from `model/`; LoRA resumes from the base model plus the saved factors.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use burn::optim::ModuleOptimizer;
use cai_model::save::write_atomic;
use cai_model::train::{
    CheckpointDir, LoraSettings, load_named_tensors, load_optimizer, named_trainable_tensors,
    read_state, save_optimizer, stable_param_ids, write_state,
};
use cai_model::weights::WeightTensor;
use cai_model::{LoadOptions, LoadedModel, ModelSpec};
use serde::{Deserialize, Serialize};

use crate::batches::DataCursor;
use crate::config::SftConfig;
use crate::error::{Result, SftError};

const MODEL_DIR: &str = "model";
const ADAPTER_FILE: &str = "adapter.safetensors";
const OPTIMIZER_FILE: &str = "optimizer.bpk";
const STATE_FILE: &str = "state.json";

/// Progress of a run: everything besides weights and optimizer moments that resuming needs.
///
/// The data order is a pure function of `(seed, epoch)`, and nothing else draws random numbers
/// after start-up, so `seed` and `cursor` are the whole RNG state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainState {
    /// Optimizer steps done.
    pub step: u64,
    /// Steps of the whole run (the schedule's length).
    pub max_steps: u64,
    /// Next position in the data stream.
    pub cursor: DataCursor,
    /// Seed of the data order.
    pub seed: u64,
    /// Training rows (checked on resume: the data must not change under a run).
    pub rows: usize,
    /// Rows per optimizer step.
    pub global_batch_size: usize,
    /// Conversations (rows) consumed so far.
    pub consumed_samples: u64,
}

impl TrainState {
    /// Fails if `other` (the state the current config and data imply) cannot continue this one.
    pub fn check_compatible(&self, other: &TrainState, path: &Path) -> Result<()> {
        let mismatch = [
            ("seed", self.seed != other.seed),
            ("rows", self.rows != other.rows),
            (
                "global_batch_size",
                self.global_batch_size != other.global_batch_size,
            ),
            ("max_steps", self.max_steps != other.max_steps),
        ];
        if let Some((field, _)) = mismatch.iter().find(|(_, differs)| *differs) {
            return Err(SftError::Checkpoint {
                path: path.to_path_buf(),
                reason: format!("`{field}` differs from the run being resumed"),
            });
        }
        Ok(())
    }
}

fn write_adapter(model: &LoadedModel, path: &Path) -> Result<()> {
    let tensors = named_trainable_tensors(&model.lm);
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .into_iter()
        .map(|(name, t)| {
            (
                name,
                t.shape,
                t.data.iter().flat_map(|v| v.to_le_bytes()).collect(),
            )
        })
        .collect();
    let views = bytes
        .iter()
        .map(|(name, shape, raw)| {
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), raw)
                .map(|view| (name.clone(), view))
        })
        .collect::<std::result::Result<Vec<_>, _>>()
        .and_then(|views| safetensors::serialize(views, None))
        .map_err(|e| SftError::Checkpoint {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    Ok(write_atomic(path, &views)?)
}

fn read_adapter(path: &Path) -> Result<HashMap<String, WeightTensor>> {
    let bytes = std::fs::read(path).map_err(|e| SftError::io(path, e))?;
    let bad = |reason: String| SftError::Checkpoint {
        path: path.to_path_buf(),
        reason,
    };
    let file = safetensors::SafeTensors::deserialize(&bytes).map_err(|e| bad(e.to_string()))?;
    file.tensors()
        .into_iter()
        .map(|(name, view)| {
            if view.dtype() != safetensors::Dtype::F32 {
                return Err(bad(format!("`{name}` is not f32")));
            }
            let data = view
                .data()
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            let shape = view.shape().to_vec();
            Ok((name, WeightTensor { shape, data }))
        })
        .collect()
}

/// Writes the checkpoint of `state.step` (atomically) and returns its directory.
pub fn save(
    dir: &CheckpointDir,
    model: &LoadedModel,
    optim: &ModuleOptimizer,
    state: &TrainState,
    lora: bool,
) -> Result<PathBuf> {
    dir.save(state.step, |tmp| -> Result<()> {
        model.save_hf(&tmp.join(MODEL_DIR))?;
        if lora {
            write_adapter(model, &tmp.join(ADAPTER_FILE))?;
        }
        save_optimizer(optim, &tmp.join(OPTIMIZER_FILE))?;
        write_state(&tmp.join(STATE_FILE), state)?;
        Ok(())
    })
}

/// The resume state stored in checkpoint `path`.
pub fn load_state(path: &Path) -> Result<TrainState> {
    Ok(read_state(&path.join(STATE_FILE))?)
}

/// Loads the model to train on the autodiff device: from `cfg.model`, or from checkpoint
/// `resume` (full fine-tuning) — with LoRA adapters attached (and restored) when configured,
/// and parameter ids derived from paths.
pub fn load_model(cfg: &SftConfig, resume: Option<&Path>) -> Result<LoadedModel> {
    let device = cai_model::device::parse_device(&cfg.device)?.autodiff();
    device.seed(cfg.seed);
    let opts = LoadOptions {
        device,
        dtype: cai_model::device::parse_dtype(&cfg.dtype)?,
        chat_template: cfg.chat_template.clone(),
    };
    let lora = cfg.lora();
    let spec = match resume {
        Some(ckpt) if lora.is_none() => ModelSpec::parse(&ckpt.join(MODEL_DIR).to_string_lossy())?,
        _ => ModelSpec::parse(&cfg.model)?,
    };
    let mut model = LoadedModel::load(&spec, &opts)?;
    let mut lm = stable_param_ids(model.lm);
    if let Some(settings) = &lora {
        lm = stable_param_ids(settings.apply(lm)?);
        if let Some(ckpt) = resume {
            lm = load_named_tensors(lm, read_adapter(&ckpt.join(ADAPTER_FILE))?)?;
        }
    }
    model.lm = lm;
    Ok(model)
}

/// The optimizer of a fresh run, or the one saved in checkpoint `resume`.
pub fn load_optimizer_state(cfg: &SftConfig, resume: Option<&Path>) -> Result<ModuleOptimizer> {
    let fresh = cfg.optimizer().init();
    Ok(match resume {
        Some(ckpt) => load_optimizer(fresh, &ckpt.join(OPTIMIZER_FILE))?,
        None => fresh,
    })
}

/// Merges LoRA adapters into the weights, if any.
pub fn merged(mut model: LoadedModel, lora: bool) -> LoadedModel {
    if lora {
        model.lm = LoraSettings::merge(model.lm);
    }
    model
}
