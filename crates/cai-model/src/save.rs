//! Writing a model in Hugging Face layout (`config.json`, `model.safetensors`, `tokenizer.json`,
//! `tokenizer_config.json` with the chat template, `generation_config.json`), so transformers or vLLM
//! can load what the stages produce. Every file is written atomically by `cai_data::atomic`.

use std::collections::HashMap;
use std::path::Path;

use safetensors::{Dtype, tensor::TensorView};
use serde_json::json;

use crate::error::{ModelError, Result};
use crate::loaded::LoadedModel;
use crate::model::{SCORE_WEIGHT, ScalarHead};

/// Writes `bytes` to `path` atomically with [`cai_data::atomic::write_atomic`] (temporary file in
/// the same directory, fsync, rename, fsync of the directory).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    cai_data::atomic::write_atomic(path, bytes).map_err(|e| ModelError::io(path, e))
}

fn write_json(path: &Path, value: &serde_json::Value) -> Result<()> {
    let text =
        serde_json::to_string_pretty(value).map_err(|e| ModelError::json(path.to_path_buf(), e))?;
    write_atomic(path, text.as_bytes())
}

impl LoadedModel {
    /// The padding id a saved sequence classifier declares. transformers scores each row at its
    /// last token that is not padding, and the sequences a reward model scores end in EOS, so the
    /// padding id must not be an EOS id (SmolLM2 pads with its EOS): the model's own padding id
    /// when it is not one, else the smallest id that is neither EOS nor BOS.
    fn classifier_pad_id(&self) -> u32 {
        let stops = self.stop_token_ids();
        let free = |id: &u32| !stops.contains(id) && Some(*id) != self.config.bos_token_id;
        self.config
            .pad_token_id
            .filter(free)
            .or_else(|| (0..).find(free))
            .unwrap_or(0)
    }

    /// Saves the model in Hugging Face layout under `dir` (created if needed), weights as `f32`.
    pub fn save_hf(&self, dir: &Path) -> Result<()> {
        self.write_hf(dir, None)
    }

    /// Saves the backbone with `head` as a Hugging Face `*ForSequenceClassification` model with
    /// one label (`score.weight`, no LM head), as transformers loads reward models.
    pub fn save_hf_with_score_head(&self, dir: &Path, head: &ScalarHead) -> Result<()> {
        self.write_hf(dir, Some(head))
    }

    fn write_hf(&self, dir: &Path, head: Option<&ScalarHead>) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| ModelError::io(dir, e))?;
        let mut tensors = self.lm.hf_tensors();
        if let Some(head) = head {
            tensors.retain(|(name, _)| name != "lm_head.weight");
            tensors.push((SCORE_WEIGHT.to_string(), head.hf_tensor()));
        }
        let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
            .into_iter()
            .map(|(name, t)| {
                let raw = t.data.iter().flat_map(|v| v.to_le_bytes()).collect();
                (name, t.shape, raw)
            })
            .collect();
        let weights_path = dir.join("model.safetensors");
        let views = bytes
            .iter()
            .map(|(name, shape, raw)| {
                TensorView::new(Dtype::F32, shape.clone(), raw)
                    .map(|v| (name.clone(), v))
                    .map_err(|e| ModelError::format(&weights_path, format!("tensor `{name}`: {e}")))
            })
            .collect::<Result<Vec<_>>>()?;
        let metadata = Some(HashMap::from([("format".to_string(), "pt".to_string())]));
        let serialized = safetensors::serialize(views, metadata)
            .map_err(|e| ModelError::format(&weights_path, e.to_string()))?;
        write_atomic(&weights_path, &serialized)?;

        let mut config = self.config.to_hf_json();
        if head.is_some() {
            config["architectures"] = json!([self.config.architecture.hf_sequence_class()]);
            config["id2label"] = json!({"0": "LABEL_0"});
            config["label2id"] = json!({"LABEL_0": 0});
            config["pad_token_id"] = json!(self.classifier_pad_id());
        }
        write_json(&dir.join("config.json"), &config)?;
        let tok_path = dir.join("tokenizer.json");
        let tok_json =
            self.tokenizer
                .inner()
                .to_string(true)
                .map_err(|e| ModelError::Tokenizer {
                    origin: tok_path.display().to_string(),
                    reason: e.to_string(),
                })?;
        write_atomic(&tok_path, tok_json.as_bytes())?;
        let special = &self.special_tokens;
        let mut tok_cfg = json!({
            "tokenizer_class": "PreTrainedTokenizerFast",
            "bos_token": special.bos,
            "eos_token": special.eos,
            "add_bos_token": self.tokenizer.add_bos(),
            "add_eos_token": false,
            "model_max_length": self.config.max_position_embeddings,
            "clean_up_tokenization_spaces": false,
        });
        if let Some(pad) = &special.pad {
            tok_cfg["pad_token"] = json!(pad);
        }
        if let Some(t) = &self.chat_template {
            tok_cfg["chat_template"] = json!(t.source());
        }
        write_json(&dir.join("tokenizer_config.json"), &tok_cfg)?;
        let eos = self.stop_token_ids();
        write_json(
            &dir.join("generation_config.json"),
            &json!({"bos_token_id": self.config.bos_token_id, "eos_token_id": eos,
                    "pad_token_id": self.config.pad_token_id}),
        )?;
        tracing::info!(dir = %dir.display(), "saved model in Hugging Face layout");
        Ok(())
    }
}
