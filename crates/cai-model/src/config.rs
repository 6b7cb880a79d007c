//! Model hyper-parameters, read from a Hugging Face `config.json` or from GGUF metadata.
//!
//! Two layers, as in candle: [`HfConfig`] mirrors the JSON file (every field optional), and
//! [`ModelConfig`] is the resolved, validated configuration the decoder is built from.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::error::{ModelError, Result};

pub mod limits;

use limits::{at_most, positive, token_id};

/// Decoder family; both share one implementation, Mistral adds the sliding window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Architecture {
    /// `LlamaForCausalLM` (also SmolLM2, TinyLlama, Llama 2/3 without rope scaling).
    Llama,
    /// `MistralForCausalLM`.
    Mistral,
}

impl Architecture {
    /// The Hugging Face class name.
    pub fn hf_class(self) -> &'static str {
        match self {
            Self::Llama => "LlamaForCausalLM",
            Self::Mistral => "MistralForCausalLM",
        }
    }

    /// The Hugging Face class of the same backbone with a sequence-classification (scalar) head.
    pub fn hf_sequence_class(self) -> &'static str {
        match self {
            Self::Llama => "LlamaForSequenceClassification",
            Self::Mistral => "MistralForSequenceClassification",
        }
    }

    /// The Hugging Face `model_type`.
    pub fn model_type(self) -> &'static str {
        match self {
            Self::Llama => "llama",
            Self::Mistral => "mistral",
        }
    }
}

/// Resolved configuration of a Llama/Mistral decoder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    /// Decoder family.
    pub architecture: Architecture,
    /// Width of the residual stream.
    pub hidden_size: usize,
    /// Width of the SwiGLU hidden layer.
    pub intermediate_size: usize,
    /// Number of decoder layers.
    pub num_hidden_layers: usize,
    /// Number of query heads.
    pub num_attention_heads: usize,
    /// Number of key/value heads (grouped-query attention when smaller than the query heads).
    pub num_key_value_heads: usize,
    /// Width of one attention head.
    pub head_dim: usize,
    /// RMSNorm epsilon.
    pub rms_norm_eps: f64,
    /// RoPE base frequency.
    pub rope_theta: f64,
    /// Longest context the model was trained for.
    pub max_position_embeddings: usize,
    /// Mistral sliding window: query `i` sees key `j` iff `0 <= i - j < W`; `None` = full causal.
    pub sliding_window: Option<usize>,
    /// Whether the LM head shares the token-embedding matrix.
    pub tie_word_embeddings: bool,
    /// Vocabulary size (rows of the embedding).
    pub vocab_size: usize,
    /// Beginning-of-sequence token id.
    pub bos_token_id: Option<u32>,
    /// End-of-sequence token ids (Llama 3 style configs list several).
    pub eos_token_ids: Vec<u32>,
    /// Padding token id, if the model defines one.
    pub pad_token_id: Option<u32>,
}

/// `config.json` as Hugging Face writes it; only the fields this crate uses.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct HfConfig {
    /// e.g. `["MistralForCausalLM"]`.
    pub architectures: Option<Vec<String>>,
    /// e.g. `"mistral"`.
    pub model_type: Option<String>,
    /// Residual width.
    pub hidden_size: Option<usize>,
    /// MLP width.
    pub intermediate_size: Option<usize>,
    /// Layer count.
    pub num_hidden_layers: Option<usize>,
    /// Query heads.
    pub num_attention_heads: Option<usize>,
    /// KV heads (defaults to the query heads).
    pub num_key_value_heads: Option<usize>,
    /// Head width (defaults to hidden / heads).
    pub head_dim: Option<usize>,
    /// RMSNorm epsilon.
    pub rms_norm_eps: Option<f64>,
    /// transformers ≤ 4 top-level RoPE base.
    pub rope_theta: Option<f64>,
    /// transformers 5 `{"rope_theta": …, "rope_type": …}`.
    pub rope_parameters: Option<Value>,
    /// RoPE scaling (unsupported unless null or `default`).
    pub rope_scaling: Option<Value>,
    /// Context length.
    pub max_position_embeddings: Option<usize>,
    /// Mistral sliding window, or null.
    pub sliding_window: Option<usize>,
    /// Qwen-style switch for the window; when false the window is ignored.
    pub use_sliding_window: Option<bool>,
    /// Tied LM head.
    pub tie_word_embeddings: Option<bool>,
    /// Vocabulary size.
    pub vocab_size: Option<usize>,
    /// BOS id.
    pub bos_token_id: Option<Value>,
    /// EOS id or ids.
    pub eos_token_id: Option<Value>,
    /// PAD id.
    pub pad_token_id: Option<Value>,
    /// Activation (must be silu).
    pub hidden_act: Option<String>,
    /// Attention bias (must be false).
    pub attention_bias: Option<bool>,
    /// MLP bias (must be false).
    pub mlp_bias: Option<bool>,
}

/// The non-negative integer ids of a token-id field (a number or an array; others are ignored),
/// each checked against the `vocab`-row embedding.
fn ids_of(value: &Option<Value>, path: &Path, field: &str, vocab: usize) -> Result<Vec<u32>> {
    let ids: Vec<u64> = match value {
        Some(Value::Number(n)) => n.as_u64().into_iter().collect(),
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_u64).collect(),
        _ => Vec::new(),
    };
    ids.into_iter()
        .map(|id| token_id(path, field, id, vocab))
        .collect()
}

impl ModelConfig {
    /// Reads and resolves a Hugging Face `config.json`.
    pub fn from_hf_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| ModelError::io(path, e))?;
        let hf: HfConfig =
            serde_json::from_str(&text).map_err(|e| ModelError::json(path.to_path_buf(), e))?;
        Self::from_hf(&hf, path)
    }

    /// Resolves a parsed [`HfConfig`]; `path` is only used in error messages.
    pub fn from_hf(hf: &HfConfig, path: &Path) -> Result<Self> {
        let need = |v: Option<usize>, field: &str, max: usize| {
            let v = v
                .filter(|&v| v > 0)
                .ok_or_else(|| ModelError::config(path, field, "missing or zero"))?;
            at_most(path, field, v, max)
        };
        let class = hf
            .architectures
            .as_ref()
            .and_then(|a| a.first().cloned())
            .unwrap_or_default();
        let model_type = hf.model_type.clone().unwrap_or_default();
        let architecture = if class == "MistralForCausalLM" || model_type == "mistral" {
            Architecture::Mistral
        } else if class == "LlamaForCausalLM" || model_type == "llama" {
            Architecture::Llama
        } else {
            return Err(ModelError::config(
                path,
                "architectures",
                format!(
                    "unsupported architecture `{class}` (model_type `{model_type}`); \
                     expected LlamaForCausalLM or MistralForCausalLM"
                ),
            ));
        };
        if let Some(act) = &hf.hidden_act
            && act != "silu"
        {
            return Err(ModelError::config(
                path,
                "hidden_act",
                format!("`{act}` unsupported, expected silu"),
            ));
        }
        if hf.attention_bias == Some(true) || hf.mlp_bias == Some(true) {
            return Err(ModelError::config(
                path,
                "attention_bias",
                "biased projections are not supported",
            ));
        }
        if let Some(scaling) = &hf.rope_scaling
            && !scaling.is_null()
            && scaling.get("rope_type").and_then(Value::as_str) != Some("default")
        {
            return Err(ModelError::config(
                path,
                "rope_scaling",
                format!("RoPE scaling {scaling} is not supported"),
            ));
        }
        let hidden_size = need(hf.hidden_size, "hidden_size", limits::MAX_HIDDEN)?;
        let num_attention_heads = need(
            hf.num_attention_heads,
            "num_attention_heads",
            limits::MAX_HEADS,
        )?;
        let num_key_value_heads = hf.num_key_value_heads.unwrap_or(num_attention_heads);
        if num_key_value_heads == 0 || num_attention_heads % num_key_value_heads != 0 {
            return Err(ModelError::config(
                path,
                "num_key_value_heads",
                format!("{num_key_value_heads} does not divide {num_attention_heads} query heads"),
            ));
        }
        let head_dim = hf.head_dim.unwrap_or(hidden_size / num_attention_heads);
        if head_dim == 0 || !head_dim.is_multiple_of(2) {
            return Err(ModelError::config(path, "head_dim", "must be even and > 0"));
        }
        let head_dim = at_most(path, "head_dim", head_dim, limits::MAX_HEAD_DIM)?;
        let vocab_size = need(hf.vocab_size, "vocab_size", limits::MAX_VOCAB)?;
        let max_position_embeddings = need(
            Some(hf.max_position_embeddings.unwrap_or(4096)),
            "max_position_embeddings",
            limits::MAX_POSITIONS,
        )?;
        let nested_theta = hf
            .rope_parameters
            .as_ref()
            .and_then(|p| p.get("rope_theta"))
            .and_then(Value::as_f64);
        let rope_theta = hf.rope_theta.or(nested_theta).unwrap_or(10_000.0);
        let sliding_window = match (architecture, hf.use_sliding_window) {
            (_, Some(false)) => None,
            (Architecture::Mistral, _) => hf.sliding_window,
            (Architecture::Llama, _) => None,
        };
        let ids = |value: &Option<Value>, field: &str| ids_of(value, path, field, vocab_size);
        Ok(Self {
            architecture,
            hidden_size,
            intermediate_size: need(
                hf.intermediate_size,
                "intermediate_size",
                limits::MAX_INTERMEDIATE,
            )?,
            num_hidden_layers: need(
                hf.num_hidden_layers,
                "num_hidden_layers",
                limits::MAX_LAYERS,
            )?,
            num_attention_heads,
            num_key_value_heads,
            head_dim,
            rms_norm_eps: positive(path, "rms_norm_eps", hf.rms_norm_eps.unwrap_or(1e-6))?,
            rope_theta: positive(path, "rope_theta", rope_theta)?,
            max_position_embeddings,
            sliding_window,
            tie_word_embeddings: hf.tie_word_embeddings.unwrap_or(false),
            vocab_size,
            bos_token_id: ids(&hf.bos_token_id, "bos_token_id")?.first().copied(),
            eos_token_ids: ids(&hf.eos_token_id, "eos_token_id")?,
            pad_token_id: ids(&hf.pad_token_id, "pad_token_id")?.first().copied(),
        })
    }

    /// Reads the configuration from GGUF metadata (`{arch}.*` and `tokenizer.ggml.*` keys).
    pub fn from_gguf(file: &crate::gguf::GgufFile) -> Result<Self> {
        let path = file.path();
        let arch = file
            .str("general.architecture")
            .ok_or_else(|| ModelError::config(path, "general.architecture", "missing"))?;
        let architecture = match arch {
            "llama" => Architecture::Llama,
            "mistral" => Architecture::Mistral,
            other => {
                return Err(ModelError::config(
                    path,
                    "general.architecture",
                    format!("`{other}` unsupported (llama or mistral)"),
                ));
            }
        };
        let key = |k: &str| format!("{arch}.{k}");
        let size = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
        let bounded = |k: &str, v: u64, max: usize| at_most(path, &key(k), size(v), max);
        let need = |k: &str, max: usize| {
            let v = file
                .u64(&key(k))
                .filter(|&v| v > 0)
                .ok_or_else(|| ModelError::config(path, key(k), "missing or zero"))?;
            bounded(k, v, max)
        };
        let hidden_size = need("embedding_length", limits::MAX_HIDDEN)?;
        let num_attention_heads = need("attention.head_count", limits::MAX_HEADS)?;
        let num_key_value_heads = match file.u64(&key("attention.head_count_kv")) {
            Some(v) => bounded("attention.head_count_kv", v, limits::MAX_HEADS)?,
            None => num_attention_heads,
        };
        if num_key_value_heads == 0 || num_attention_heads % num_key_value_heads != 0 {
            return Err(ModelError::config(
                path,
                key("attention.head_count_kv"),
                "must divide the query head count",
            ));
        }
        let head_dim = file
            .u64(&key("attention.key_length"))
            .or_else(|| file.u64(&key("rope.dimension_count")))
            .map_or(hidden_size / num_attention_heads, size);
        if head_dim == 0 || !head_dim.is_multiple_of(2) {
            return Err(ModelError::config(
                path,
                key("attention.key_length"),
                format!("head width {head_dim} must be even and > 0"),
            ));
        }
        let head_dim = at_most(
            path,
            &key("attention.key_length"),
            head_dim,
            limits::MAX_HEAD_DIM,
        )?;
        let vocab_size = file
            .u64(&key("vocab_size"))
            .map(size)
            .or_else(|| {
                file.metadata
                    .get("tokenizer.ggml.tokens")
                    .and_then(|t| t.as_array())
                    .map(<[_]>::len)
            })
            .filter(|&v| v > 0)
            .ok_or_else(|| {
                ModelError::config(path, key("vocab_size"), "missing (and no token list)")
            })?;
        let vocab_size = at_most(path, &key("vocab_size"), vocab_size, limits::MAX_VOCAB)?;
        let id = |k: &str| {
            file.u64(k)
                .map(|v| token_id(path, k, v, vocab_size))
                .transpose()
        };
        let max_position_embeddings = match file.u64(&key("context_length")) {
            Some(0) => return Err(ModelError::config(path, key("context_length"), "zero")),
            Some(v) => bounded("context_length", v, limits::MAX_POSITIONS)?,
            None => 4096,
        };
        Ok(Self {
            architecture,
            hidden_size,
            intermediate_size: need("feed_forward_length", limits::MAX_INTERMEDIATE)?,
            num_hidden_layers: need("block_count", limits::MAX_LAYERS)?,
            num_attention_heads,
            num_key_value_heads,
            head_dim,
            rms_norm_eps: positive(
                path,
                &key("attention.layer_norm_rms_epsilon"),
                file.f64(&key("attention.layer_norm_rms_epsilon"))
                    .unwrap_or(1e-5),
            )?,
            rope_theta: positive(
                path,
                &key("rope.freq_base"),
                file.f64(&key("rope.freq_base")).unwrap_or(10_000.0),
            )?,
            max_position_embeddings,
            sliding_window: file
                .u64(&key("attention.sliding_window"))
                .map(size)
                .filter(|&w| w > 0),
            tie_word_embeddings: file.tensor_info("output.weight").is_none(),
            vocab_size,
            bos_token_id: id("tokenizer.ggml.bos_token_id")?,
            eos_token_ids: id("tokenizer.ggml.eos_token_id")?.into_iter().collect(),
            pad_token_id: id("tokenizer.ggml.padding_token_id")?,
        })
    }

    /// Number of query heads sharing one KV head.
    pub fn kv_groups(&self) -> usize {
        self.num_attention_heads / self.num_key_value_heads
    }

    /// Parameter count (the tied LM head counted once).
    pub fn parameter_count(&self) -> usize {
        let (d, f, v) = (self.hidden_size, self.intermediate_size, self.vocab_size);
        let q = self.num_attention_heads * self.head_dim;
        let kv = self.num_key_value_heads * self.head_dim;
        let attn = d * q + 2 * d * kv + q * d;
        let layer = attn + 3 * d * f + 2 * d;
        let head = if self.tie_word_embeddings { 0 } else { v * d };
        v * d + self.num_hidden_layers * layer + d + head
    }

    /// The `config.json` Hugging Face transformers would write for this model.
    pub fn to_hf_json(&self) -> Value {
        let eos = match self.eos_token_ids.as_slice() {
            [] => Value::Null,
            [one] => json!(one),
            many => json!(many),
        };
        let mut cfg = json!({
            "architectures": [self.architecture.hf_class()],
            "model_type": self.architecture.model_type(),
            "hidden_size": self.hidden_size,
            "intermediate_size": self.intermediate_size,
            "num_hidden_layers": self.num_hidden_layers,
            "num_attention_heads": self.num_attention_heads,
            "num_key_value_heads": self.num_key_value_heads,
            "head_dim": self.head_dim,
            "rms_norm_eps": self.rms_norm_eps,
            "rope_theta": self.rope_theta,
            "max_position_embeddings": self.max_position_embeddings,
            "tie_word_embeddings": self.tie_word_embeddings,
            "vocab_size": self.vocab_size,
            "bos_token_id": self.bos_token_id,
            "eos_token_id": eos,
            "pad_token_id": self.pad_token_id,
            "hidden_act": "silu",
            "attention_bias": false,
            "mlp_bias": false,
            "torch_dtype": "float32",
        });
        if self.architecture == Architecture::Mistral {
            cfg["sliding_window"] = json!(self.sliding_window);
        }
        cfg
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ModelConfig> {
        let hf: HfConfig = serde_json::from_str(text).unwrap();
        ModelConfig::from_hf(&hf, Path::new("config.json"))
    }

    const BASE: &str = r#"{"architectures":["MistralForCausalLM"],"hidden_size":64,
        "intermediate_size":128,"num_hidden_layers":2,"num_attention_heads":4,
        "num_key_value_heads":2,"vocab_size":512,"sliding_window":16,"eos_token_id":2"#;

    #[test]
    fn reads_nested_and_top_level_rope_theta() {
        let nested = parse(&format!(
            r#"{BASE},"rope_parameters":{{"rope_theta":500.0}}}}"#
        ))
        .unwrap();
        assert_eq!(nested.rope_theta, 500.0);
        let top = parse(&format!(r#"{BASE},"rope_theta":1000000.0}}"#)).unwrap();
        assert_eq!(top.rope_theta, 1e6);
        assert_eq!(top.head_dim, 16);
        assert_eq!(top.sliding_window, Some(16));
        assert_eq!(top.eos_token_ids, vec![2]);
    }

    #[test]
    fn missing_field_names_file_and_field() {
        let err = parse(r#"{"architectures":["LlamaForCausalLM"],"hidden_size":64}"#).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("config.json") && msg.contains("num_attention_heads"),
            "{msg}"
        );
    }

    #[test]
    fn rejects_unknown_architecture_and_bad_gqa() {
        assert!(parse(r#"{"architectures":["GPT2LMHeadModel"]}"#).is_err());
        let bad = BASE.replace(r#""num_key_value_heads":2"#, r#""num_key_value_heads":3"#);
        assert!(parse(&format!("{bad}}}")).is_err());
    }

    #[test]
    fn hf_json_round_trips() {
        let cfg = parse(&format!("{BASE}}}")).unwrap();
        let hf: HfConfig = serde_json::from_value(cfg.to_hf_json()).unwrap();
        assert_eq!(ModelConfig::from_hf(&hf, Path::new("x")).unwrap(), cfg);
    }
}
