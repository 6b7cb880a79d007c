//! `cai-model`: the shared model core of cai-rs — a Llama/Mistral decoder on burn 0.22 with weight
//! loading (Hugging Face safetensors, GGUF), tokenizer, chat templates and teacher-forced scoring.
//!
//! # Overview
//! - [`ModelSpec`] names a model (`.gguf`, HF directory, `hf:REPO`, or the default SmolLM2) and
//!   [`LoadedModel::load`] turns it into a [`LoadedModel`]: [`CausalLm`] weights, [`Tokenizer`],
//!   [`ChatTemplate`].
//! - [`CausalLm::forward`] runs a [`TokenBatch`] (left/right padding, explicit positions) with an
//!   optional [`KvCache`]; [`LoadedModel::token_logprobs`] scores continuations.
//! - [`LoadedModel::save_hf`] writes the model back in Hugging Face layout.
//!
//! The device is chosen at run time ([`device::parse_device`]): burn's `flex` CPU backend by
//! default, CUDA with the `cuda` feature.

pub mod chat;
pub mod config;
pub mod device;
pub mod error;
pub mod generate;
pub mod gguf;
pub mod kernels;
pub mod loaded;
pub mod loss_mask;
pub mod model;
pub mod save;
pub mod scoring;
pub mod source;
#[cfg(feature = "testing")]
pub mod testing;
pub mod tokenizer;
pub mod weights;

pub use chat::{ChatTemplate, Message, Role};
pub use config::{Architecture, ModelConfig};
pub use error::{ModelError, Result};
pub use generate::{
    Engine, FinishReason, Generation, GenerationError, GenerationRequest, Generator, Prompt,
    SamplingParams, StreamDelta,
};
pub use loaded::{ChatCodec, LoadOptions, LoadedModel, SpecialTokens};
pub use model::{CausalLm, KvCache, RewardModel, ScalarHead, TokenBatch};
pub use scoring::{ChatEncoding, masked_mean_nll};
pub use source::{LocalModel, ModelSpec};
pub use tokenizer::Tokenizer;

/// Re-export of burn so dependants use the same version.
pub use burn;
