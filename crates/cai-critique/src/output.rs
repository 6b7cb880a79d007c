//! The output directory's files, each written atomically (temporary file, then rename).

use std::path::Path;

use cai_data::{ChatSample, Message, write_jsonl_atomic};
use serde::Serialize;

use crate::assemble::Assembled;
use crate::error::{CritiqueError, Result};

/// SL-CAI traces: prompt, initial response, every round, final revision.
pub const TRACE: &str = "trace.jsonl";
/// SL-CAI SFT samples (prompt → final revision), NeMo chat layout, before blending.
pub const SL_CAI: &str = "sl_cai.jsonl";
/// The blend with helpfulness data, NeMo chat layout: what SFT trains on.
pub const SFT: &str = "sft.jsonl";
/// Prompts whose sample was dropped, with the reason.
pub const REJECTS: &str = "rejects.jsonl";
/// [`SL_CAI`] as Hugging Face `{"messages": …}` (with `hf_messages`).
pub const SL_CAI_MESSAGES: &str = "sl_cai.messages.jsonl";
/// [`SFT`] as Hugging Face `{"messages": …}` (with `hf_messages`).
pub const SFT_MESSAGES: &str = "sft.messages.jsonl";
/// The run summary.
pub const SUMMARY: &str = "summary.json";
/// The resolved configuration, written before any work.
pub const CONFIG: &str = "config.json";

/// A Hugging Face `messages` record.
#[derive(Serialize)]
struct HfMessages {
    messages: Vec<Message>,
}

fn hf_messages(samples: &[ChatSample]) -> Result<Vec<HfMessages>> {
    samples
        .iter()
        .map(|s| {
            s.to_messages()
                .map(|messages| HfMessages { messages })
                .map_err(CritiqueError::Invalid)
        })
        .collect()
}

/// Writes the record files of `assembled` into `dir`; returns their names.
pub fn write_records(dir: &Path, assembled: &Assembled, with_hf: bool) -> Result<Vec<String>> {
    write_jsonl_atomic(dir.join(TRACE), &assembled.traces)?;
    write_jsonl_atomic(dir.join(SL_CAI), &assembled.sl_cai)?;
    write_jsonl_atomic(dir.join(SFT), &assembled.blend)?;
    write_jsonl_atomic(dir.join(REJECTS), &assembled.rejects)?;
    let mut names = vec![TRACE, SL_CAI, SFT, REJECTS];
    if with_hf {
        write_jsonl_atomic(dir.join(SL_CAI_MESSAGES), &hf_messages(&assembled.sl_cai)?)?;
        write_jsonl_atomic(dir.join(SFT_MESSAGES), &hf_messages(&assembled.blend)?)?;
        names.extend([SL_CAI_MESSAGES, SFT_MESSAGES]);
    }
    names.push(SUMMARY);
    Ok(names.into_iter().map(String::from).collect())
}

/// Writes `value` as pretty JSON to `path` atomically.
pub fn write_json(path: &Path, value: &impl Serialize) -> Result<()> {
    let mut text = serde_json::to_string_pretty(value)
        .map_err(|e| CritiqueError::Invalid(format!("{}: {e}", path.display())))?;
    text.push('\n');
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text).map_err(|e| CritiqueError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| CritiqueError::io(path, e))
}
