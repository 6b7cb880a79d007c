//! `cai-client`: generation through an inference server over HTTP.
//!
//! [`RemoteGenerator`] implements [`cai_data::Generator`] against cai-serve or any server that
//! speaks NeMo's `PUT /generate` or the OpenAI API (vLLM, TGI, a hosted judge), so a stage can
//! generate remotely through the same trait as with the in-process engine. [`wire`] holds the JSON
//! shapes of both APIs, shared with the server (`cai-serve`), which reads what this crate writes.
//!
//! This is a library crate, not a stage: stages depend on it, never on one another.
//! See `docs/stages/serve.md` for the client's behaviour (round-robin, retries, failures).

mod client;
mod convert;
pub mod error;
pub mod wire;

pub use client::{RemoteApi, RemoteConfig, RemoteGenerator};
pub use error::{ClientError, Result};
