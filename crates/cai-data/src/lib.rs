//! Artifact records, readers/writers, converters, constitutions and a built-in sample corpus for cai-rs.
//!
//! Every pipeline stage reads and writes through this crate. The main entry points:
//! - [`records`]: the serde types of every artifact (`RedTeamPrompt`, `ChatSample`, `SlCaiTrace`, `CandidateSet`,
//!   `PreferenceRecord`, `PpoPrompt`), each with a JSON Schema in `data-schemas/`.
//! - [`read_records`] streams JSONL or JSON-array files, plain or gzip; [`write_jsonl_atomic`] and [`JsonlWriter`]
//!   write them; [`atomic`] is the one atomic file writer (temp file, fsync, rename, fsync of the directory).
//! - [`convert`] turns hh-rlhf, NeMo, TRL and Hugging Face layouts into ours and back.
//! - [`Constitution`] loads our TOML constitution or the Anthropic, NeMo and Hugging Face originals.
//! - [`corpus`] holds the embedded sample data.
//! - [`nemo_chat`]: NeMo's `<extra_id_*>` chat layout, rendered in this one place (with turn labels and the
//!   places of each turn for loss masks), and its Jinja form for saved models.
//! - [`run_dir`]: the pipeline's run directory ([`RunDir`], one directory per [`Stage`]), typed stage summaries
//!   and the run manifest ([`Manifest`], `manifest.json`).
//! - [`generation`]: the [`Generator`] trait and its wire-independent request, result and error types, and
//!   the one chat [`Message`]; the in-process engine and the HTTP client implement it.
//!
//! - [`answer`]: whether an answer refuses, redirects or stays on topic (plain phrase rules).
//!
//! cai-data knows nothing of models or tensors; it never depends on burn.
//!
//! Features (all on by default through `cli`): `schema` (JSON Schema validation), `hub` (Hugging Face Hub
//! downloads), `tokenizer` (token counts in `stats`) and `cli` (the `cai-data` binary). The readers, writers,
//! converters, constitutions and corpus need none of them.

pub mod answer;
pub mod atomic;
pub mod constitution;
pub mod convert;
pub mod corpus;
pub mod error;
pub mod generation;
pub mod hh;
#[cfg(feature = "hub")]
pub mod hub;
pub mod jsonl;
pub mod nemo;
pub mod nemo_chat;
pub mod prompts;
pub mod records;
pub mod reward_stats;
pub mod run_dir;
#[cfg(feature = "schema")]
pub mod schema;
pub mod split;
pub mod stats;
pub mod template;

pub use atomic::{AtomicFile, write_atomic, write_json_atomic};
pub use constitution::{Constitution, FewShotExample, JudgePrinciple, Principle};
pub use error::{Error, Result};
pub use generation::{
    FinishReason, Generation, GenerationError, GenerationRequest, Generator, Prompt,
    SamplingParams, StreamDelta,
};
pub use jsonl::{JsonlWriter, OnError, ReadOptions, Records, read_records, write_jsonl_atomic};
pub use records::{
    Candidate, CandidateSet, ChatSample, ChatTurn, CritiqueRound, HfMessages, Judgement, Message,
    PpoPrompt, PreferenceRecord, RedTeamPrompt, Role, SlCaiTrace, TextLine,
};
pub use run_dir::{
    CritiqueCounts, EncodeStats, InputFile, Manifest, RunDir, SftSummary, Stage, StageRecord,
    StageStatus,
};
