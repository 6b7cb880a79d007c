//! File names inside the run directory and its stage directories.

/// The run manifest, at the root of the run directory.
pub const MANIFEST: &str = "manifest.json";
/// Every stage's summary, in its stage directory.
pub const SUMMARY: &str = "summary.json";
/// A stage's resolved configuration, written before any work.
pub const CONFIG: &str = "config.json";
/// A trained model in Hugging Face layout, in its stage directory.
pub const MODEL_DIR: &str = "model";

/// The files of `01-critique/`.
pub mod critique {
    /// SL-CAI traces: prompt, initial response, every round, final revision.
    pub const TRACE: &str = "trace.jsonl";
    /// SL-CAI SFT samples (prompt → final revision), NeMo chat layout, before blending.
    pub const SL_CAI: &str = "sl_cai.jsonl";
    /// The blend with helpfulness data, NeMo chat layout: what SFT trains on.
    pub const SFT: &str = "sft.jsonl";
    /// Prompts whose sample was dropped, with the reason.
    pub const REJECTS: &str = "rejects.jsonl";
    /// [`SL_CAI`] as Hugging Face `{"messages": …}`.
    pub const SL_CAI_MESSAGES: &str = "sl_cai.messages.jsonl";
    /// [`SFT`] as Hugging Face `{"messages": …}`.
    pub const SFT_MESSAGES: &str = "sft.messages.jsonl";
}
