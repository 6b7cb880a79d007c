//! Preference pairs from any of the layouts the pipeline produces or users bring, detected from the
//! first record or named with `--format`:
//!
//! - `records`: cai-data [`PreferenceRecord`] lines (`prompt`, `chosen`, `rejected`, `source`, …).
//!   A judged record's soft label is the judge's normalised probability of the chosen answer,
//!   `chosen_score / (chosen_score + rejected_score)`; a record without judge scores (human) has
//!   label 1.
//! - `nemo`: NeMo's RM comparisons, `{"text"}` lines with pair `k` on lines `2k` (chosen) and
//!   `2k + 1` (rejected), already rendered with the chat template; label 1.
//! - `hh`: hh-rlhf `{"chosen", "rejected"}` transcripts that share their prompt; label 1.
//!
//! A pair with an empty side, an odd number of comparison lines or a label outside `[0, 1]` is an
//! error naming the file and line.

use std::path::Path;

use cai_data::hh::{HhPair, parse_pair};
use cai_data::{Message, PreferenceRecord, ReadOptions, TextLine, read_records};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Result, RmError};

/// The layout of a pair file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum PairFormat {
    /// Detect from the first record.
    #[default]
    Auto,
    /// cai-data preference records.
    Records,
    /// NeMo comparison lines (chosen, rejected, chosen, …).
    Nemo,
    /// hh-rlhf chosen/rejected transcripts.
    Hh,
}

impl std::str::FromStr for PairFormat {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "auto" => Ok(Self::Auto),
            "records" => Ok(Self::Records),
            "nemo" => Ok(Self::Nemo),
            "hh" => Ok(Self::Hh),
            other => Err(format!(
                "unknown pair format `{other}` (auto, records, nemo, hh)"
            )),
        }
    }
}

/// The two texts of a pair.
#[derive(Debug, Clone, PartialEq)]
pub enum PairTexts {
    /// A conversation and two final assistant answers, rendered with the model's chat template.
    Chat {
        /// The messages before the answer (ends with the user's turn).
        prompt: Vec<Message>,
        /// The preferred answer.
        chosen: String,
        /// The dispreferred answer.
        rejected: String,
    },
    /// Two full texts already rendered (NeMo comparisons).
    Rendered {
        /// The preferred text.
        chosen: String,
        /// The dispreferred text.
        rejected: String,
    },
}

/// One preference pair with its label and origin.
#[derive(Debug, Clone, PartialEq)]
pub struct Pair {
    /// The texts.
    pub texts: PairTexts,
    /// Probability that `chosen` is the better answer (1 for human pairs).
    pub label: f64,
    /// Whether an AI judge labelled the pair (`false`: a human preference).
    pub ai_labelled: bool,
    /// Where the pair came from (`rl-cai`, `hh-rlhf/helpful-base`, …).
    pub source: String,
    /// `file:line` of the record.
    pub at: String,
}

/// Reads every pair of `path` in `format`.
pub fn read_pairs(path: &Path, format: PairFormat) -> Result<Vec<Pair>> {
    match resolve(path, format)? {
        PairFormat::Records => read_preference_records(path),
        PairFormat::Nemo => read_comparisons(path),
        PairFormat::Hh => read_hh(path),
        PairFormat::Auto => unreachable!("resolved above"),
    }
}

/// `format`, or the one the first record of `path` shows.
fn resolve(path: &Path, format: PairFormat) -> Result<PairFormat> {
    if format != PairFormat::Auto {
        return Ok(format);
    }
    let first = read_records::<Value>(path, ReadOptions::strict())?
        .next_with_line()
        .transpose()?;
    let Some((line, first)) = first else {
        return Err(RmError::record(path, 1, "no pairs in the file"));
    };
    let has = |key: &str| first.get(key).is_some();
    if has("text") {
        Ok(PairFormat::Nemo)
    } else if has("prompt") && has("chosen") && has("rejected") {
        Ok(PairFormat::Records)
    } else if has("chosen") && has("rejected") {
        Ok(PairFormat::Hh)
    } else {
        Err(RmError::record(
            path,
            line,
            "not a preference pair: expected `text` (NeMo comparisons), `prompt`/`chosen`/\
             `rejected` (preference records) or `chosen`/`rejected` (hh-rlhf); or pass --format",
        ))
    }
}

fn at(path: &Path, line: u64) -> String {
    format!("{}:{line}", path.display())
}

fn nonempty(path: &Path, line: u64, field: &str, text: &str) -> Result<()> {
    if text.trim().is_empty() {
        return Err(RmError::record(
            path,
            line,
            format!("field `{field}`: empty"),
        ));
    }
    Ok(())
}

fn read_preference_records(path: &Path) -> Result<Vec<Pair>> {
    let mut records = read_records::<PreferenceRecord>(path, ReadOptions::strict())?;
    let mut out = Vec::new();
    while let Some(item) = records.next_with_line() {
        let (line, record) = item?;
        nonempty(path, line, "chosen", &record.chosen)?;
        nonempty(path, line, "rejected", &record.rejected)?;
        let label = soft_label(&record).map_err(|reason| RmError::record(path, line, reason))?;
        out.push(Pair {
            ai_labelled: record.judge.is_some(),
            label,
            source: record.source.clone(),
            texts: PairTexts::Chat {
                prompt: record.prompt_messages(),
                chosen: record.chosen,
                rejected: record.rejected,
            },
            at: at(path, line),
        });
    }
    Ok(out)
}

/// The probability that a record's chosen answer is better (see the module documentation).
pub fn soft_label(record: &PreferenceRecord) -> std::result::Result<f64, String> {
    let Some(judge) = &record.judge else {
        return Ok(1.0);
    };
    let p = match (judge.chosen_score, judge.rejected_score) {
        (Some(c), Some(r)) if c >= 0.0 && r >= 0.0 && c + r > 0.0 => c / (c + r),
        (Some(c), None) => c,
        (None, _) => 1.0,
        (Some(c), Some(r)) => {
            return Err(format!(
                "field `judge`: scores {c} and {r} are not probabilities"
            ));
        }
    };
    if !(0.0..=1.0).contains(&p) {
        return Err(format!("field `judge.chosen_score`: {p} is outside [0, 1]"));
    }
    Ok(p)
}

fn read_comparisons(path: &Path) -> Result<Vec<Pair>> {
    let mut lines = read_records::<TextLine>(path, ReadOptions::strict())?;
    let mut out = Vec::new();
    let mut pending: Option<(u64, String)> = None;
    while let Some(item) = lines.next_with_line() {
        let (line, TextLine { text }) = item?;
        nonempty(path, line, "text", &text)?;
        match pending.take() {
            None => pending = Some((line, text)),
            Some((first, chosen)) => out.push(Pair {
                texts: PairTexts::Rendered {
                    chosen,
                    rejected: text,
                },
                label: 1.0,
                ai_labelled: false,
                source: "nemo-comparisons".into(),
                at: at(path, first),
            }),
        }
    }
    if let Some((line, _)) = pending {
        return Err(RmError::record(
            path,
            line,
            "odd number of comparison lines: the last chosen text has no rejected line after it",
        ));
    }
    Ok(out)
}

fn read_hh(path: &Path) -> Result<Vec<Pair>> {
    let mut lines = read_records::<HhPair>(path, ReadOptions::strict())?;
    let mut out = Vec::new();
    while let Some(item) = lines.next_with_line() {
        let (line, pair) = item?;
        let parsed = parse_pair(&pair).map_err(|m| RmError::record(path, line, m.reason()))?;
        nonempty(path, line, "chosen", &parsed.chosen)?;
        nonempty(path, line, "rejected", &parsed.rejected)?;
        out.push(Pair {
            texts: PairTexts::Chat {
                prompt: parsed.prompt,
                chosen: parsed.chosen,
                rejected: parsed.rejected,
            },
            label: 1.0,
            ai_labelled: false,
            source: "hh-rlhf".into(),
            at: at(path, line),
        });
    }
    Ok(out)
}

/// One input of `cai-rm score`: `{"prompt", "response"}` or NeMo `{"text"}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum ScoreInput {
    /// A prompt and an answer, rendered with the chat template.
    Chat {
        /// The user's prompt.
        prompt: String,
        /// The answer to score.
        response: String,
    },
    /// A full rendered text.
    Text {
        /// The text.
        text: String,
    },
}

/// Reads the inputs of `cai-rm score` in file order.
pub fn read_score_inputs(path: &Path) -> Result<Vec<ScoreInput>> {
    Ok(read_records::<ScoreInput>(path, ReadOptions::strict())?.collect_all()?)
}
