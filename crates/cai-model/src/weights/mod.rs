//! Weight sources: Hugging Face safetensors (single or sharded) and GGUF, both presented under
//! Hugging Face tensor names in row-major `f32`.

mod gguf_names;
mod safetensors_dir;
mod shards;

use std::path::Path;

pub use gguf_names::GgufWeights;
pub use safetensors_dir::SafetensorsWeights;
pub use shards::{check_shard_name, index_shards};

use crate::error::Result;

/// A dense row-major `f32` tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct WeightTensor {
    /// Row-major shape (PyTorch order).
    pub shape: Vec<usize>,
    /// Values.
    pub data: Vec<f32>,
}

/// Anything that can hand out tensors by Hugging Face name.
pub trait WeightSource {
    /// Where the weights come from (for error messages).
    fn location(&self) -> &Path;
    /// Reads one tensor, or `None` when the source has no tensor of that name.
    fn read(&self, hf_name: &str) -> Result<Option<WeightTensor>>;
    /// The shape of one tensor, or `None` when absent; sources that know shapes without reading
    /// the data (GGUF, safetensors) answer from their headers, so a loader can check a shape
    /// before any data is read or transformed. The default reads the tensor.
    fn shape(&self, hf_name: &str) -> Result<Option<Vec<usize>>> {
        Ok(self.read(hf_name)?.map(|t| t.shape))
    }
}

/// Hugging Face names of the tensors of a Llama/Mistral checkpoint, with their expected shapes.
pub fn expected_tensors(cfg: &crate::ModelConfig) -> Vec<(String, Vec<usize>)> {
    let (d, f, v) = (cfg.hidden_size, cfg.intermediate_size, cfg.vocab_size);
    let q = cfg.num_attention_heads * cfg.head_dim;
    let kv = cfg.num_key_value_heads * cfg.head_dim;
    let mut out = vec![("model.embed_tokens.weight".to_string(), vec![v, d])];
    for i in 0..cfg.num_hidden_layers {
        let p = format!("model.layers.{i}");
        out.extend([
            (format!("{p}.self_attn.q_proj.weight"), vec![q, d]),
            (format!("{p}.self_attn.k_proj.weight"), vec![kv, d]),
            (format!("{p}.self_attn.v_proj.weight"), vec![kv, d]),
            (format!("{p}.self_attn.o_proj.weight"), vec![d, q]),
            (format!("{p}.mlp.gate_proj.weight"), vec![f, d]),
            (format!("{p}.mlp.up_proj.weight"), vec![f, d]),
            (format!("{p}.mlp.down_proj.weight"), vec![d, f]),
            (format!("{p}.input_layernorm.weight"), vec![d]),
            (format!("{p}.post_attention_layernorm.weight"), vec![d]),
        ]);
    }
    out.push(("model.norm.weight".to_string(), vec![d]));
    if !cfg.tie_word_embeddings {
        out.push(("lm_head.weight".to_string(), vec![v, d]));
    }
    out
}
