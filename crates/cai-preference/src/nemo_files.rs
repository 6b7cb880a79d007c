//! NeMo's reward-model files (reference §5.5): `{split}_prompts_with_chat_prompt.jsonl` (one
//! `{"text"}` prompt per pair) and `{split}_comparisons_with_chat_prompt.jsonl` (the chosen then
//! the rejected conversation on consecutive lines). AI and human pairs end in one normalised form,
//! `"…{response}\n<extra_id_1>"` (§13.2), so the reward model cannot key on the source.

use std::path::Path;

use cai_data::template::{EndStyle, PromptTemplate};
use cai_data::{PreferenceRecord, write_jsonl_atomic};
use serde_json::{Value, json};

use crate::error::Result;

/// The prompts and comparisons file names of `split`.
pub fn file_names(split: &str) -> (String, String) {
    (
        format!("{split}_prompts_with_chat_prompt.jsonl"),
        format!("{split}_comparisons_with_chat_prompt.jsonl"),
    )
}

/// The `{"text"}` lines of both files for `records`, rendered with NeMo's `<extra_id_*>` template.
pub fn lines(records: &[PreferenceRecord]) -> Result<(Vec<Value>, Vec<Value>)> {
    let template = PromptTemplate::extra_id();
    let (mut prompts, mut comparisons) = (Vec::new(), Vec::new());
    for r in records {
        prompts.push(json!({"text": template.render_prompt(&r.history, &r.prompt)?}));
        for answer in [&r.chosen, &r.rejected] {
            let full = template.render_full(&r.history, &r.prompt, answer, EndStyle::Newline)?;
            comparisons.push(json!({ "text": full }));
        }
    }
    Ok((prompts, comparisons))
}

/// Writes both files of `split` into `dir`.
pub fn write(dir: &Path, split: &str, records: &[PreferenceRecord]) -> Result<()> {
    let (prompts, comparisons) = lines(records)?;
    let (prompts_name, comparisons_name) = file_names(split);
    write_jsonl_atomic(dir.join(prompts_name), &prompts)?;
    write_jsonl_atomic(dir.join(comparisons_name), &comparisons)?;
    Ok(())
}
