//! `cai-serve`: an inference server over `cai-model` that speaks NeMo's text-generation API
//! (`PUT /generate`, as used by NeMo-Aligner's Constitutional AI tutorial) and the OpenAI API
//! (`/v1/chat/completions`, `/v1/completions`, `/v1/models`). The client that lets any stage
//! generate through such a server instead of in process, [`RemoteGenerator`], and the JSON shapes
//! of both APIs ([`wire`]) live in `cai-client` and are re-exported here.
//!
//! # Request flow
//! HTTP handlers ([`api`]) validate and convert requests, then queue [`queue::Job`]s. One engine
//! thread ([`queue`]) drains the queue into batches and runs them through
//! [`cai_model::Engine::generate_streaming`]; deltas and results flow back over per-request
//! channels. Handlers never touch tensors.
//!
//! See `docs/stages/serve.md` for the API details and deviations from NeMo and OpenAI.

pub mod api;
pub mod auth;
pub mod config;
pub mod conn;
pub mod error;
pub mod extract;
pub mod queue;
pub mod schedule;
pub mod scores;
pub mod server;

pub use cai_client::wire;

pub use cai_client::{ClientError, RemoteApi, RemoteConfig, RemoteGenerator};
pub use config::{ConnectionLimits, ServerConfig};
pub use error::{Result, ServeError};
pub use queue::BatchPolicy;
pub use server::{AppState, RunningServer, app, router, serve, shutdown_signal};
