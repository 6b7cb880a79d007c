//! `cai-backend`: what a stage generates with, shared by the stages that generate (SL-CAI critique,
//! and preference labelling and evaluation as they land).
//!
//! [`BackendSettings`] name a model and, optionally, remote endpoints. [`Backend`] turns them into
//! the [`Generator`](cai_data::Generator)s of a run — the in-process engine, or `cai-client`'s
//! `RemoteGenerator` once per endpoint — and a [`TokenCounter`]: the loaded model, or with
//! endpoints only the model's text side (`ChatCodec`: config, tokenizer, template), so no weights
//! are loaded. [`GeneratorInfo`] records the choice in stage summaries.

mod backend;
mod counter;
mod error;
mod settings;

pub use backend::{Backend, load_model, remote_config};
pub use counter::TokenCounter;
pub use error::{BackendError, Result};
pub use settings::{BackendSettings, GeneratorInfo};
