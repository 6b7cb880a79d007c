//! Hugging Face safetensors checkpoints: `model.safetensors`, or shards listed in
//! `model.safetensors.index.json`; f32, f16 and bf16 tensors.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use half::{bf16, f16};
use safetensors::{Dtype, SafeTensors};

use super::{WeightSource, WeightTensor};
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
    /// Opens `dir/model.safetensors` or the shards named by `dir/model.safetensors.index.json`.
    pub fn open(dir: &Path) -> Result<Self> {
        let index_path = dir.join("model.safetensors.index.json");
        let files: Vec<PathBuf> = if index_path.exists() {
            let text =
                std::fs::read_to_string(&index_path).map_err(|e| ModelError::io(&index_path, e))?;
            let json: serde_json::Value =
                serde_json::from_str(&text).map_err(|source| ModelError::Json {
                    path: index_path.clone(),
                    source,
                })?;
            let map = json
                .get("weight_map")
                .and_then(|m| m.as_object())
                .ok_or_else(|| ModelError::config(&index_path, "weight_map", "missing"))?;
            let mut files: Vec<PathBuf> = map
                .values()
                .filter_map(|f| f.as_str().map(|f| dir.join(f)))
                .collect();
            files.sort();
            files.dedup();
            files
        } else {
            vec![dir.join("model.safetensors")]
        };
        let mut shards = Vec::new();
        let mut index = HashMap::new();
        for file in files {
            let bytes = std::fs::read(&file).map_err(|e| ModelError::io(&file, e))?;
            let st = SafeTensors::deserialize(&bytes)
                .map_err(|e| ModelError::format(&file, format!("invalid safetensors: {e}")))?;
            for name in st.names() {
                index.insert(name.to_string(), shards.len());
            }
            shards.push((file, bytes));
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            shards,
            index,
        })
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

    fn read(&self, hf_name: &str) -> Result<Option<WeightTensor>> {
        let Some(&shard) = self.index.get(hf_name) else {
            return Ok(None);
        };
        let (file, bytes) = &self.shards[shard];
        let st = SafeTensors::deserialize(bytes)
            .map_err(|e| ModelError::format(file, format!("invalid safetensors: {e}")))?;
        let view = st
            .tensor(hf_name)
            .map_err(|e| ModelError::format(file, format!("tensor `{hf_name}`: {e}")))?;
        Ok(Some(WeightTensor {
            shape: view.shape().to_vec(),
            data: decode(file, hf_name, view.dtype(), view.data())?,
        }))
    }
}
