//! A ready-to-run model: decoder weights, RoPE tables, tokenizer and chat template together.

use std::path::Path;

use burn::tensor::{DType, Device};

use crate::chat::{ChatTemplate, Message};
use crate::config::{HfConfig, ModelConfig};
use crate::error::{ModelError, Result};
use crate::gguf::GgufFile;
use crate::model::CausalLm;
use crate::model::rope::RopeTables;
use crate::source::{LocalModel, ModelSpec};
use crate::tokenizer::Tokenizer;
use crate::weights::{GgufWeights, SafetensorsWeights};

/// How to load a model.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Device to run on.
    pub device: Device,
    /// Storage dtype of the weight matrices (projections, embedding, LM head): f32, or f16 / bf16
    /// to halve what decoding reads. Norms, activations and accumulation stay f32.
    pub dtype: DType,
    /// Chat template override: a built-in name (`mistral`, `nemo`, `chatml`) or a Jinja file.
    pub chat_template: Option<String>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self {
            device: crate::device::default_device(),
            dtype: DType::F32,
            chat_template: None,
        }
    }
}

/// Decoder, tokenizer and chat template of one model.
#[derive(Debug)]
pub struct LoadedModel {
    /// Resolved configuration.
    pub config: ModelConfig,
    /// The decoder.
    pub lm: CausalLm,
    /// RoPE tables for the model's context length.
    pub rope: RopeTables,
    /// Tokenizer.
    pub tokenizer: Tokenizer,
    /// Chat template, when the model has one (or one was given).
    pub chat_template: Option<ChatTemplate>,
    /// Token strings the template uses for BOS and EOS.
    pub special_tokens: SpecialTokens,
    /// Where the model was loaded from.
    pub origin: LocalModel,
}

/// BOS/EOS/PAD strings of a model.
#[derive(Debug, Clone, Default)]
pub struct SpecialTokens {
    /// Beginning-of-sequence string.
    pub bos: String,
    /// End-of-sequence string.
    pub eos: String,
    /// Padding string, if any.
    pub pad: Option<String>,
}

fn read_json(path: &Path) -> Result<serde_json::Value> {
    let text = std::fs::read_to_string(path).map_err(|e| ModelError::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| ModelError::json(path.to_path_buf(), e))
}

/// A special-token entry of `tokenizer_config.json`: a string or `{"content": …}`.
fn token_string(v: &serde_json::Value) -> Option<String> {
    v.as_str()
        .map(String::from)
        .or_else(|| v.get("content").and_then(|c| c.as_str()).map(String::from))
}

impl LoadedModel {
    /// Resolves and loads `spec`.
    pub fn load(spec: &ModelSpec, opts: &LoadOptions) -> Result<Self> {
        let local = spec.resolve()?;
        let _span = tracing::info_span!("load", model = %local.path().display()).entered();
        let started = std::time::Instant::now();
        let mut model = match &local {
            LocalModel::Gguf(path) => Self::load_gguf(path, opts)?,
            LocalModel::HfDir(dir) => Self::load_hf_dir(dir, opts)?,
        };
        model.origin = local;
        if let Some(name) = &opts.chat_template {
            model.chat_template = Some(template_override(&model.special_tokens, name)?);
        }
        tracing::info!(
            params = model.config.parameter_count(),
            secs = started.elapsed().as_secs_f32(),
            "model loaded"
        );
        Ok(model)
    }

    fn finish(text: ChatCodec, lm: CausalLm, device: &Device) -> Result<Self> {
        let ChatCodec {
            config,
            tokenizer,
            chat_template,
            special_tokens,
            origin,
        } = text;
        let rope = RopeTables::try_new(
            config.head_dim,
            config.rope_theta,
            config.max_position_embeddings,
            device,
        )?;
        Ok(Self {
            config,
            lm,
            rope,
            tokenizer,
            chat_template,
            special_tokens,
            origin,
        })
    }

    /// Loads a GGUF file: config and tokenizer from its metadata, weights dequantised.
    pub fn load_gguf(path: &Path, opts: &LoadOptions) -> Result<Self> {
        let file = GgufFile::open(path)?;
        let text = ChatCodec::from_gguf(&file, path)?;
        let weights = GgufWeights::new(
            &file,
            text.config.num_attention_heads,
            text.config.num_key_value_heads,
        );
        let lm = CausalLm::from_weights(&text.config, &weights, &opts.device, opts.dtype)?;
        Self::finish(text, lm, &opts.device)
    }

    /// Loads an HF-layout directory.
    pub fn load_hf_dir(dir: &Path, opts: &LoadOptions) -> Result<Self> {
        let text = ChatCodec::from_hf_dir(dir)?;
        let weights = SafetensorsWeights::open(dir)?;
        let lm = CausalLm::from_weights(&text.config, &weights, &opts.device, opts.dtype)?;
        Self::finish(text, lm, &opts.device)
    }

    /// The chat template, or an error saying the model has none.
    pub fn template(&self) -> Result<&ChatTemplate> {
        template_or_error(self.chat_template.as_ref(), &self.origin)
    }

    /// Renders and tokenizes a conversation (special tokens in the rendered text are matched
    /// verbatim; no BOS is added beyond what the template writes).
    pub fn encode_chat(&self, messages: &[Message], generation_prompt: bool) -> Result<Vec<u32>> {
        encode_chat_with(
            self.template(),
            &self.tokenizer,
            messages,
            generation_prompt,
        )
    }

    /// Token ids that end a generation: the config's EOS ids plus the template's EOS token.
    pub fn stop_token_ids(&self) -> Vec<u32> {
        let mut ids = self.config.eos_token_ids.clone();
        if let Some(id) = self.tokenizer.token_to_id(&self.special_tokens.eos)
            && !ids.contains(&id)
        {
            ids.push(id);
        }
        ids
    }
}

/// The text side of a model: configuration, tokenizer, chat template and special tokens, read
/// without the weights (e.g. to count tokens for a model that is served elsewhere).
#[derive(Debug)]
pub struct ChatCodec {
    /// Resolved configuration.
    pub config: ModelConfig,
    /// Tokenizer.
    pub tokenizer: Tokenizer,
    /// Chat template, when the model has one (or one was given).
    pub chat_template: Option<ChatTemplate>,
    /// Token strings the template uses for BOS and EOS.
    pub special_tokens: SpecialTokens,
    /// Where the model was read from.
    pub origin: LocalModel,
}

impl ChatCodec {
    /// Resolves `spec` and reads its text side; `chat_template` overrides the model's template
    /// (a built-in name or a Jinja file, as [`LoadOptions::chat_template`]).
    pub fn load(spec: &ModelSpec, chat_template: Option<&str>) -> Result<Self> {
        let local = spec.resolve()?;
        let mut codec = match &local {
            LocalModel::Gguf(path) => Self::from_gguf(&GgufFile::open(path)?, path)?,
            LocalModel::HfDir(dir) => Self::from_hf_dir(dir)?,
        };
        if let Some(name) = chat_template {
            codec.chat_template = Some(template_override(&codec.special_tokens, name)?);
        }
        Ok(codec)
    }

    /// From a GGUF file's metadata.
    fn from_gguf(file: &GgufFile, path: &Path) -> Result<Self> {
        let config = ModelConfig::from_gguf(file)?;
        let tokenizer = Tokenizer::from_gguf(file)?;
        tokenizer.check_fits(config.vocab_size, &path.display().to_string())?;
        let token = |key: &str| {
            file.u64(key)
                .and_then(|id| tokenizer.id_to_token(id as u32))
                .unwrap_or_default()
        };
        let special = SpecialTokens {
            bos: token("tokenizer.ggml.bos_token_id"),
            eos: token("tokenizer.ggml.eos_token_id"),
            pad: file
                .u64("tokenizer.ggml.padding_token_id")
                .and_then(|id| tokenizer.id_to_token(id as u32)),
        };
        let template = match file.str("tokenizer.chat_template") {
            Some(src) => Some(ChatTemplate::new(
                src,
                &format!("{} (tokenizer.chat_template)", path.display()),
                &special.bos,
                &special.eos,
            )?),
            None => None,
        };
        Ok(Self {
            config,
            tokenizer,
            chat_template: template,
            special_tokens: special,
            origin: LocalModel::Gguf(path.to_path_buf()),
        })
    }

    /// From an HF-layout directory's `config.json`, `tokenizer.json` and `tokenizer_config.json`.
    fn from_hf_dir(dir: &Path) -> Result<Self> {
        let config_path = dir.join("config.json");
        let hf: HfConfig = serde_json::from_value(read_json(&config_path)?)
            .map_err(|e| ModelError::json(config_path.clone(), e))?;
        let config = ModelConfig::from_hf(&hf, &config_path)?;
        let tok_cfg_path = dir.join("tokenizer_config.json");
        let tok_cfg = if tok_cfg_path.is_file() {
            read_json(&tok_cfg_path)?
        } else {
            serde_json::Value::Null
        };
        let special = SpecialTokens {
            bos: tok_cfg
                .get("bos_token")
                .and_then(token_string)
                .unwrap_or_default(),
            eos: tok_cfg
                .get("eos_token")
                .and_then(token_string)
                .unwrap_or_default(),
            pad: tok_cfg.get("pad_token").and_then(token_string),
        };
        let add_bos = tok_cfg
            .get("add_bos_token")
            .and_then(|v| v.as_bool())
            .unwrap_or(matches!(config.architecture, crate::Architecture::Mistral));
        let tokenizer =
            Tokenizer::from_file(&dir.join("tokenizer.json"), add_bos, config.bos_token_id)?;
        tokenizer.check_fits(
            config.vocab_size,
            &format!("{} vocab_size", config_path.display()),
        )?;
        let jinja_path = dir.join("chat_template.jinja");
        let template_src = match tok_cfg.get("chat_template").and_then(|v| v.as_str()) {
            Some(src) => Some((src.to_string(), tok_cfg_path.display().to_string())),
            None if jinja_path.is_file() => Some((
                std::fs::read_to_string(&jinja_path).map_err(|e| ModelError::io(&jinja_path, e))?,
                jinja_path.display().to_string(),
            )),
            None => None,
        };
        let template = template_src
            .map(|(src, origin)| ChatTemplate::new(&src, &origin, &special.bos, &special.eos))
            .transpose()?;
        Ok(Self {
            config,
            tokenizer,
            chat_template: template,
            special_tokens: special,
            origin: LocalModel::HfDir(dir.to_path_buf()),
        })
    }

    /// Renders and tokenizes a conversation, as [`LoadedModel::encode_chat`].
    pub fn encode_chat(&self, messages: &[Message], generation_prompt: bool) -> Result<Vec<u32>> {
        let template = template_or_error(self.chat_template.as_ref(), &self.origin);
        encode_chat_with(template, &self.tokenizer, messages, generation_prompt)
    }
}

/// `messages` rendered with `template` and tokenized verbatim.
fn encode_chat_with(
    template: Result<&ChatTemplate>,
    tokenizer: &Tokenizer,
    messages: &[Message],
    generation_prompt: bool,
) -> Result<Vec<u32>> {
    let text = template?.render(messages, generation_prompt)?;
    tokenizer.encode_raw(&text)
}

/// `template`, or an error saying that the model at `origin` has none.
fn template_or_error<'a>(
    template: Option<&'a ChatTemplate>,
    origin: &LocalModel,
) -> Result<&'a ChatTemplate> {
    template.ok_or_else(|| {
        ModelError::Invalid(format!(
            "{} has no chat template; pass one (mistral, nemo, chatml or a .jinja file)",
            origin.path().display()
        ))
    })
}

/// A chat template given by name: a Jinja file, or a built-in (`mistral`, `nemo`, `chatml`).
fn template_override(special: &SpecialTokens, name: &str) -> Result<ChatTemplate> {
    let (bos, eos) = (&special.bos, &special.eos);
    let path = Path::new(name);
    if path.is_file() {
        let source = std::fs::read_to_string(path).map_err(|e| ModelError::io(path, e))?;
        ChatTemplate::new(&source, name, bos, eos)
    } else {
        ChatTemplate::builtin(name, bos, eos)
    }
}
