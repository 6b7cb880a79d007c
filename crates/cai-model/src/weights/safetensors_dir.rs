//! Hugging Face safetensors checkpoints: `model.safetensors`, or shards listed in
//! `model.safetensors.index.json`; f32, f16 and bf16 tensors.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use half::{bf16, f16};
use safetensors::{Dtype, SafeTensors};

use super::{WeightSource, WeightTensor, index_shards};
use crate::error::{ModelError, Result};

/// The safetensors files of a checkpoint directory, read into memory once.
pub struct SafetensorsWeights {
    dir: PathBuf,
    /// (file name, bytes) per shard.
    shards: Vec<(PathBuf, Vec<u8>)>,
    /// Tensor name → shard index.
    index: HashMap<String, usize>,
}

impl SafetensorsWeights {
    /// Opens `dir/model.safetensors` or the shards named by `dir/model.safetensors.index.json`
    /// (each name checked to stay inside `dir`, see [`index_shards`]).
    pub fn open(dir: &Path) -> Result<Self> {
        let index_path = dir.join("model.safetensors.index.json");
        let files: Vec<PathBuf> = if index_path.exists() {
            let text =
                std::fs::read_to_string(&index_path).map_err(|e| ModelError::io(&index_path, e))?;
            index_shards(&index_path, &text)?
                .iter()
                .map(|name| dir.join(name))
                .collect()
        } else {
            vec![dir.join("model.safetensors")]
        };
        let shards = files
            .into_iter()
            .map(|file| {
                let bytes = std::fs::read(&file).map_err(|e| ModelError::io(&file, e))?;
                Ok((file, bytes))
            })
            .collect::<Result<Vec<_>>>()?;
        Self::from_shards(dir, shards)
    }

    /// Indexes shards already in memory: `(file name for errors, bytes)` each; `dir` is the
    /// location reported in errors. Every header is validated here.
    pub fn from_shards(dir: &Path, shards: Vec<(PathBuf, Vec<u8>)>) -> Result<Self> {
        let mut index = HashMap::new();
        for (i, (file, bytes)) in shards.iter().enumerate() {
            let st = SafeTensors::deserialize(bytes)
                .map_err(|e| ModelError::format(file, format!("invalid safetensors: {e}")))?;
            for name in st.names() {
                index.insert(name.to_string(), i);
            }
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            shards,
            index,
        })
    }

    /// The parsed header of the shard holding `hf_name`.
    fn view(&self, hf_name: &str) -> Result<Option<(&Path, SafeTensors<'_>)>> {
        let Some(&shard) = self.index.get(hf_name) else {
            return Ok(None);
        };
        let (file, bytes) = &self.shards[shard];
        let st = SafeTensors::deserialize(bytes)
            .map_err(|e| ModelError::format(file, format!("invalid safetensors: {e}")))?;
        Ok(Some((file, st)))
    }
}

fn decode(file: &Path, name: &str, dtype: Dtype, bytes: &[u8]) -> Result<Vec<f32>> {
    Ok(match dtype {
        Dtype::F32 => bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        Dtype::F16 => bytes
            .chunks_exact(2)
            .map(|c| f16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
        Dtype::BF16 => bytes
            .chunks_exact(2)
            .map(|c| bf16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
        other => {
            return Err(ModelError::format(
                file,
                format!("tensor `{name}`: dtype {other:?} unsupported (need f32, f16 or bf16)"),
            ));
        }
    })
}

impl WeightSource for SafetensorsWeights {
    fn location(&self) -> &Path {
        &self.dir
    }

    fn shape(&self, hf_name: &str) -> Result<Option<Vec<usize>>> {
        let Some((file, st)) = self.view(hf_name)? else {
            return Ok(None);
        };
        let view = st
            .tensor(hf_name)
            .map_err(|e| ModelError::format(file, format!("tensor `{hf_name}`: {e}")))?;
        Ok(Some(view.shape().to_vec()))
    }

    fn read(&self, hf_name: &str) -> Result<Option<WeightTensor>> {
        let Some((file, st)) = self.view(hf_name)? else {
            return Ok(None);
        };
        let view = st
            .tensor(hf_name)
            .map_err(|e| ModelError::format(file, format!("tensor `{hf_name}`: {e}")))?;
        Ok(Some(WeightTensor {
            shape: view.shape().to_vec(),
            data: decode(file, hf_name, view.dtype(), view.data())?,
        }))
    }
}
