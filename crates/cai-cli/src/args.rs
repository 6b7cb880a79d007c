//! The options every tool that loads or samples a model shares: `--model`, `--device`, `--dtype`,
//! `--chat-template`, and NeMo's sampling parameters.

use cai_model::{LoadOptions, LoadedModel, ModelSpec, Result};

use crate::progress::spinner;

/// The model options every tool accepts.
#[derive(Debug, Clone, clap::Args)]
pub struct ModelArgs {
    /// A `.gguf` file, a Hugging Face layout directory, or `hf:REPO[@REVISION]`; default: the
    /// embedded SmolLM2-135M-Instruct.
    #[arg(long, default_value = "default")]
    pub model: String,
    /// Device: `cpu` (burn flex) or, with the `cuda` feature, `cuda` / `cuda:N`.
    #[arg(long, default_value = if cfg!(feature = "cuda") { "cuda" } else { "cpu" })]
    pub device: String,
    /// Storage dtype of the weight matrices: f32, or half-size f16 / bf16 (decoding reads half the
    /// bytes; activations stay f32). Training computes in f32.
    #[arg(long, default_value = "f32")]
    pub dtype: String,
    /// Chat template override: `mistral`, `nemo`, `chatml`, or a Jinja file.
    #[arg(long)]
    pub chat_template: Option<String>,
}

impl ModelArgs {
    /// Loads the model these options describe, with a spinner.
    pub fn load(&self) -> Result<LoadedModel> {
        let spec = ModelSpec::parse(&self.model)?;
        let opts = LoadOptions {
            device: cai_model::device::parse_device(&self.device)?,
            dtype: cai_model::device::parse_dtype(&self.dtype)?,
            chat_template: self.chat_template.clone(),
        };
        let bar = spinner(&format!("loading {}", self.model));
        let model = LoadedModel::load(&spec, &opts);
        bar.finish_and_clear();
        model
    }
}

/// Sampling options shared by every tool that generates (NeMo `/generate` names).
#[derive(Debug, Clone, clap::Args)]
pub struct SamplingArgs {
    /// Argmax decoding.
    #[arg(long)]
    pub greedy: bool,
    /// Softmax temperature.
    #[arg(long, default_value_t = 1.0)]
    pub temperature: f32,
    /// Keep the K most likely tokens (0 = off).
    #[arg(long, default_value_t = 0)]
    pub top_k: usize,
    /// Nucleus sampling threshold (1.0 = off).
    #[arg(long, default_value_t = 1.0)]
    pub top_p: f32,
    /// Drop tokens below this fraction of the top token's probability (0 = off).
    #[arg(long, default_value_t = 0.0)]
    pub min_p: f32,
    /// Repetition penalty (1.0 = off).
    #[arg(long, default_value_t = 1.0)]
    pub repetition_penalty: f32,
    /// Do not stop (EOS or end strings) before this many new tokens.
    #[arg(long, default_value_t = 0)]
    pub min_tokens: usize,
    /// Maximum number of new tokens.
    #[arg(long, default_value_t = 128)]
    pub max_tokens: usize,
    /// Stop when this string appears (repeatable).
    #[arg(long = "end-string")]
    pub end_strings: Vec<String>,
    /// Sampler seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Ignore the end-of-sequence token.
    #[arg(long)]
    pub no_stop: bool,
}

impl SamplingArgs {
    /// The corresponding [`cai_model::SamplingParams`].
    pub fn params(&self) -> cai_model::SamplingParams {
        cai_model::SamplingParams {
            greedy: self.greedy,
            temperature: self.temperature,
            top_k: self.top_k,
            top_p: self.top_p,
            min_p: self.min_p,
            repetition_penalty: self.repetition_penalty,
            penalize_prompt: true,
            min_tokens_to_generate: self.min_tokens,
            tokens_to_generate: self.max_tokens,
            end_strings: self.end_strings.clone(),
            random_seed: self.seed,
            ignore_eos: self.no_stop,
        }
    }
}
