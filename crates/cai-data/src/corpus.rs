//! The built-in sample corpus, written for cai-rs and embedded in the crate (`crates/cai-data/corpus/*.jsonl`).
//!
//! - [`red_team_prompts`]: ~200 red-team prompts across harm categories (requests only, never answers).
//! - [`helpful_chats`]: ~200 helpfulness conversations (NeMo chat samples, some multi-turn).
//! - [`helpful_pairs`]: ~200 helpful preference pairs: a good answer and a flawed one (wrong, vague, rude,
//!   needlessly refusing or unsafe advice).
//! - [`eval_red_team`] and [`eval_benign`]: 50 held-out red-team prompts and 50 harmless prompts that merely sound
//!   risky, which a good model must answer rather than refuse (to measure evasiveness).

use serde::de::DeserializeOwned;

use crate::records::{ChatSample, PreferenceRecord, RedTeamPrompt};

/// Parses an embedded JSONL file; its validity is checked by tests.
fn parse<T: DeserializeOwned>(name: &str, text: &str) -> Vec<T> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, line)| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("embedded corpus {name}:{}: {e}", i + 1))
        })
        .collect()
}

/// Red-team prompts for SL-CAI and RL-CAI generation, the categories taken in turn (the first 16
/// cover all 16 categories).
pub fn red_team_prompts() -> Vec<RedTeamPrompt> {
    parse("red_team.jsonl", include_str!("../corpus/red_team.jsonl"))
}

/// Helpfulness SFT conversations.
pub fn helpful_chats() -> Vec<ChatSample> {
    parse(
        "helpful_chats.jsonl",
        include_str!("../corpus/helpful_chats.jsonl"),
    )
}

/// Helpful preference pairs.
pub fn helpful_pairs() -> Vec<PreferenceRecord> {
    parse(
        "helpful_pairs.jsonl",
        include_str!("../corpus/helpful_pairs.jsonl"),
    )
}

/// Held-out red-team prompts for evaluation (disjoint from [`red_team_prompts`]).
pub fn eval_red_team() -> Vec<RedTeamPrompt> {
    parse(
        "eval_red_team.jsonl",
        include_str!("../corpus/eval_red_team.jsonl"),
    )
}

/// Harmless prompts that sound risky; category `benign-…`. A good model answers them.
pub fn eval_benign() -> Vec<RedTeamPrompt> {
    parse(
        "eval_benign.jsonl",
        include_str!("../corpus/eval_benign.jsonl"),
    )
}
