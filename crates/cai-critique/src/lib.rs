//! `cai-critique`: step 2 of the pipeline, supervised Constitutional AI (SL-CAI) data generation.
//!
//! For each red-team prompt the model answers; then, for each of `rounds` rounds, it is asked the
//! critique request of a principle drawn with a seeded RNG, critiques its answer, is asked the
//! matching revision request and revises. The constitution's demonstrations open every conversation,
//! and every turn goes through the chat template (see [`conversation`]). The last revision is the
//! answer kept.
//!
//! # Inputs and outputs
//! - Inputs ([`Inputs`]): red-team prompts in any layout [`input`] recognises (built-in corpus by
//!   default), helpfulness chats (built-in by default), a constitution (built-in by default), and
//!   one or more [`cai_data::Generator`]s: the in-process engine or remote endpoints (`cai-client`'s
//!   `RemoteGenerator`), chosen from the configuration by `cai-backend` (through [`Backend`]).
//! - Outputs in `out/` ([`output`]): `trace.jsonl` ([`cai_data::SlCaiTrace`]), `sl_cai.jsonl` and
//!   the blend `sft.jsonl` (NeMo chat [`cai_data::ChatSample`]; HF `messages` copies on request),
//!   `rejects.jsonl`, `summary.json` ([`Summary`]), `config.json`, and the work log
//!   `progress.jsonl` ([`progress`]).
//!
//! # Invariants
//! - Resumable and idempotent: each finished batch is appended to the work log under a key hashing
//!   (prompt, settings); a re-run skips finished batches and rebuilds the final files from the log,
//!   so an interrupted run ends with the same files as an uninterrupted one.
//! - A prompt's principles and sampler seeds derive from (seed, prompt hash) only, never from its
//!   position, the batch size or earlier runs; batches always have the same composition.
//! - The last partial batch is processed; bad input records are counted and reported with
//!   `file:line`; every quality filter ([`filter`], `max_seq_length`) is counted in the summary.
//!
//! The crate depends on `cai-backend` (the generator choice and token counting, shared with the
//! other generating stages), `cai-judge` (the model judging its own revision candidates, for
//! best-of-n), `cai-model` (the model types), `cai-client` (the endpoint settings)
//! and `cai-data` (the `Generator` trait, chat messages, records, readers, writers, constitutions,
//! corpus, run-directory names) only.

pub mod assemble;
pub mod backend;
pub mod blend;
pub mod config;
pub mod conversation;
pub mod error;
pub mod filter;
pub mod generate;
pub mod input;
pub mod key;
pub mod output;
pub mod plan;
pub mod progress;
pub mod run;
pub mod select;
pub mod summary;

#[cfg(test)]
mod tests;

pub use assemble::TokenCounter;
pub use backend::{Backend, GeneratorInfo};
pub use config::Config;
pub use error::{CritiqueError, Result};
pub use generate::{Observer, Step};
pub use run::{Environment, Inputs, run};
pub use summary::Summary;
