//! From judged pairs to preference records (the soft label as `judge.chosen_score = p`,
//! `rejected_score = 1 − p`, which `cai-rm` reads), blended with human helpful pairs and split.

use cai_data::{Judgement, PreferenceRecord};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde_json::json;

use crate::config::Mode;
use crate::error::{PreferenceError, Result};
use crate::worklog::{JudgedPair, PromptResult};

/// The `source` of AI-labelled records.
pub const AI_SOURCE: &str = "rl-cai";

/// The record of one judged pair, oriented so that `chosen` is the answer the judge preferred;
/// `None` for a tie.
pub fn record(
    result: &PromptResult,
    pair: &JudgedPair,
    judge: &str,
    mode: Mode,
) -> Option<PreferenceRecord> {
    if pair.orders.is_tie() {
        return None;
    }
    let p_first = pair.orders.p_first();
    let first_chosen = p_first > 0.5;
    let (chosen, rejected) = if first_chosen {
        (pair.first, pair.second)
    } else {
        (pair.second, pair.first)
    };
    let p = p_first.max(1.0 - p_first);
    let mut explanation = json!({
        "mode": mode,
        "principles": pair.principles,
        "per_principle": pair.per_principle,
        "p_ab": pair.orders.p_ab,
        "p_ba": pair.orders.p_ba,
        "chosen_was": if first_chosen { "first" } else { "second" },
        "candidates": [pair.first, pair.second],
    });
    if let Some(text) = &pair.explanation {
        explanation["judge_explanation"] = json!(text);
    }
    Some(PreferenceRecord {
        id: format!("{}-{}-{}", result.prompt.id, pair.first, pair.second),
        history: Vec::new(),
        prompt: result.prompt.prompt.clone(),
        chosen: result.candidates[chosen].clone(),
        rejected: result.candidates[rejected].clone(),
        principles: pair.principles.clone(),
        judge: Some(Judgement {
            model: Some(judge.to_string()),
            chosen_score: Some(p),
            rejected_score: Some(1.0 - p),
            explanation: Some(explanation.to_string()),
        }),
        source: AI_SOURCE.into(),
    })
}

/// `round(ratio × ai_count)` helpful pairs (at most those available), drawn with `seed`.
pub fn draw_helpful(
    mut helpful: Vec<PreferenceRecord>,
    ratio: f64,
    ai_count: usize,
    seed: u64,
) -> Vec<PreferenceRecord> {
    let want = ((ratio * ai_count as f64).round() as usize).min(helpful.len());
    helpful.shuffle(&mut StdRng::seed_from_u64(seed));
    helpful.truncate(want);
    helpful
}

/// The names of `n` splits: `train`/`test`, or `train`/`validation`/`test`, else `split{i}`.
pub fn split_names(n: usize) -> Vec<String> {
    match n {
        2 => vec!["train".into(), "test".into()],
        3 => vec!["train".into(), "validation".into(), "test".into()],
        _ => (0..n).map(|i| format!("split{i}")).collect(),
    }
}

/// Shuffles `records` with `seed` and splits them with NeMo's semantics (reference §5.4).
pub fn split(
    records: Vec<PreferenceRecord>,
    fractions: &[f64],
    seed: u64,
) -> Result<Vec<Vec<PreferenceRecord>>> {
    if records.len() < fractions.len() {
        return Err(PreferenceError::Input(format!(
            "{} preference pairs cannot fill {} splits (label more prompts)",
            records.len(),
            fractions.len()
        )));
    }
    let mut rng = StdRng::seed_from_u64(seed);
    Ok(cai_data::split::split_dataset(
        records,
        fractions,
        Some(&mut rng),
    )?)
}
