//! File names in the preference stage's output directory (`03-preference` of a run directory).

/// The work log of finished prompts (resume state).
pub const WORK_LOG: &str = "worklog.jsonl";
/// The AI-labelled preference records, unblended.
pub const AI_PREFERENCES: &str = "ai_preferences.jsonl";

/// The blended preference records of `split`.
pub fn split_records(split: &str) -> String {
    format!("{split}.jsonl")
}

/// The blended pairs of `split` in TRL's conversational preference layout.
pub fn split_trl(split: &str) -> String {
    format!("{split}.trl.jsonl")
}
