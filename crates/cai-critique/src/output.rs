//! The output directory's files, each written atomically with `cai_data::atomic`.

use std::path::Path;

use cai_data::{ChatSample, HfMessages, write_jsonl_atomic};
use serde::Serialize;

use crate::assemble::Assembled;
use crate::error::{CritiqueError, Result};

pub use cai_data::run_dir::files::critique::{
    REJECTS, SFT, SFT_MESSAGES, SL_CAI, SL_CAI_MESSAGES, TRACE,
};
pub use cai_data::run_dir::files::{CONFIG, SUMMARY};

fn hf_messages(samples: &[ChatSample]) -> Result<Vec<HfMessages>> {
    samples
        .iter()
        .map(|s| HfMessages::from_chat_sample(s).map_err(CritiqueError::Invalid))
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
    Ok(cai_data::write_json_atomic(path, value)?)
}
