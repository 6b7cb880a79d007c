//! Loading a model to train, and the files a policy checkpoint holds.
//!
//! A checkpoint directory `ckpt-N/` of a stage that trains a [`CausalLm`] contains `model/`
//! (Hugging Face layout, LoRA merged, loadable anywhere), `adapter.safetensors` (LoRA only: the
//! factors by module path), `optimizer.bpk` (AdamW moments, keyed by path-derived parameter ids)
//! and `state.json` (the stage's own resume state). Full fine-tuning resumes from `model/`; LoRA
//! resumes from the base model plus the saved factors.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use burn::optim::ModuleOptimizer;
use cai_model::save::write_atomic;
use cai_model::weights::WeightTensor;
use cai_model::{CausalLm, LoadOptions, LoadedModel, ModelError, ModelSpec, Result};
use serde::Serialize;

use crate::{
    CheckpointDir, LoraSettings, OptimizerSettings, load_named_tensors, load_optimizer,
    named_trainable_tensors, read_state, save_optimizer, stable_param_ids, write_state,
};

/// The merged model of a checkpoint (Hugging Face layout).
pub const MODEL_DIR: &str = "model";
/// The LoRA factors of a checkpoint.
pub const ADAPTER_FILE: &str = "adapter.safetensors";
/// The optimizer state of a checkpoint.
pub const OPTIMIZER_FILE: &str = "optimizer.bpk";
/// The stage's resume state in a checkpoint.
pub const STATE_FILE: &str = "state.json";

/// What model to train, where, and how.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainModelSpec {
    /// The model: `.gguf`, Hugging Face directory, `hf:REPO[@REV]` or `default`.
    pub model: String,
    /// Device (`cpu`, `cuda:N`); training runs on its autodiff form.
    pub device: String,
    /// Dtype of the trained weights (`f32`, `bf16`, `f16`).
    pub dtype: String,
    /// Chat template override.
    pub chat_template: Option<String>,
    /// Seeds the device's generator (LoRA initialisation, dropout).
    pub seed: u64,
    /// LoRA adapters to attach (`None`: full fine-tuning).
    pub lora: Option<LoraSettings>,
}

impl TrainModelSpec {
    /// Loads the model on the autodiff device with parameter ids derived from paths: from
    /// `self.model`, or from checkpoint `resume` (its `model/` for full fine-tuning; the base plus
    /// its adapter with LoRA).
    pub fn load(&self, resume: Option<&Path>) -> Result<LoadedModel> {
        let device = cai_model::device::parse_device(&self.device)?.autodiff();
        device.seed(self.seed);
        let opts = LoadOptions {
            device,
            dtype: cai_model::device::parse_dtype(&self.dtype)?,
            chat_template: self.chat_template.clone(),
        };
        let spec = match resume {
            Some(ckpt) if self.lora.is_none() => {
                ModelSpec::parse(&ckpt.join(MODEL_DIR).to_string_lossy())?
            }
            _ => ModelSpec::parse(&self.model)?,
        };
        let mut model = LoadedModel::load(&spec, &opts)?;
        let mut lm = stable_param_ids(model.lm);
        if let Some(settings) = &self.lora {
            lm = stable_param_ids(settings.apply(lm)?);
            if let Some(ckpt) = resume {
                lm = load_named_tensors(lm, read_adapter(&ckpt.join(ADAPTER_FILE))?)?;
            }
        }
        model.lm = lm;
        Ok(model)
    }
}

/// The optimizer of a fresh run, or the one saved in checkpoint `resume`.
pub fn optimizer_for(
    settings: &OptimizerSettings,
    resume: Option<&Path>,
) -> Result<ModuleOptimizer> {
    let fresh = settings.init();
    match resume {
        Some(ckpt) => load_optimizer(fresh, &ckpt.join(OPTIMIZER_FILE)),
        None => Ok(fresh),
    }
}

/// Writes the checkpoint of `step` (atomically: all files or none) and returns its directory:
/// the model, its adapter when `lora`, the optimizer and `state`.
pub fn save_checkpoint<S: Serialize>(
    dir: &CheckpointDir,
    step: u64,
    model: &LoadedModel,
    optim: &ModuleOptimizer,
    state: &S,
    lora: bool,
) -> Result<PathBuf> {
    dir.save(step, |tmp| -> Result<()> {
        model.save_hf(&tmp.join(MODEL_DIR))?;
        if lora {
            write_adapter(&model.lm, &tmp.join(ADAPTER_FILE))?;
        }
        save_optimizer(optim, &tmp.join(OPTIMIZER_FILE))?;
        write_state(&tmp.join(STATE_FILE), state)
    })
}

/// The resume state stored in checkpoint `path`.
pub fn load_checkpoint_state<S: serde::de::DeserializeOwned>(path: &Path) -> Result<S> {
    read_state(&path.join(STATE_FILE))
}

/// `model` with its LoRA adapters merged into the weights, if it has any.
pub fn merged(mut model: LoadedModel, lora: bool) -> LoadedModel {
    if lora {
        model.lm = LoraSettings::merge(model.lm);
    }
    model
}

/// Writes the trainable tensors of `lm` (the LoRA factors) as f32 safetensors, by module path.
pub fn write_adapter(lm: &CausalLm, path: &Path) -> Result<()> {
    let tensors = named_trainable_tensors(lm);
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .into_iter()
        .map(|(name, t)| {
            let raw = t.data.iter().flat_map(|v| v.to_le_bytes()).collect();
            (name, t.shape, raw)
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
        .map_err(|e| ModelError::format(path, e.to_string()))?;
    write_atomic(path, &views)
}

/// Reads an adapter file written by [`write_adapter`].
pub fn read_adapter(path: &Path) -> Result<HashMap<String, WeightTensor>> {
    let bytes = std::fs::read(path).map_err(|e| ModelError::io(path, e))?;
    let file = safetensors::SafeTensors::deserialize(&bytes)
        .map_err(|e| ModelError::format(path, e.to_string()))?;
    file.tensors()
        .into_iter()
        .map(|(name, view)| {
            if view.dtype() != safetensors::Dtype::F32 {
                return Err(ModelError::format(path, format!("`{name}` is not f32")));
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
