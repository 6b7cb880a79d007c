//! NeMo-Aligner artifact layouts that are not plain records: RL-CAI candidate files and the SL-CAI raw dump.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::records::{Candidate, CandidateSet, CritiqueRound, SlCaiTrace};

/// The temperatures NeMo samples RL-CAI candidates at (`np.arange(0.01, 2.01, 0.5)`).
pub const CANDIDATE_TEMPERATURES: [f64; 4] = [0.01, 0.51, 1.01, 1.51];

/// The key NeMo uses for a candidate: `response_t=` plus Python's `str(float)` of the temperature.
pub fn temperature_key(temperature: f64) -> String {
    format!("response_t={}", python_float(temperature))
}

/// Python's `str(float)` for ordinary values (`1.0`, `0.51`); Rust's shortest round-trip form plus `.0`.
fn python_float(x: f64) -> String {
    let s = format!("{x:?}");
    if s.contains(['.', 'e', 'n', 'i']) {
        s
    } else {
        format!("{s}.0")
    }
}

/// One generated answer before joining (NeMo's per-temperature result lists).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromptResponse {
    /// The prompt.
    pub prompt: String,
    /// The answer.
    pub response: String,
}

/// NeMo's `join_responses`: per-temperature lists (same prompts, same order) → one flat record per prompt:
/// `{"prompt": p, "response_t=0.01": a, …}`. Keys are the temperature labels as given.
pub fn join_responses(groups: &[(&str, Vec<PromptResponse>)]) -> Vec<Value> {
    let n = groups.iter().map(|(_, g)| g.len()).min().unwrap_or(0);
    (0..n)
        .map(|i| {
            let mut record = Map::new();
            record.insert(
                "prompt".into(),
                Value::String(groups[0].1[i].prompt.clone()),
            );
            for (label, group) in groups {
                record.insert(
                    format!("response_t={label}"),
                    Value::String(group[i].response.clone()),
                );
            }
            Value::Object(record)
        })
        .collect()
}

impl CandidateSet {
    /// NeMo's flat layout: `{"prompt": p, "response_t=<t>": answer, …}`.
    pub fn to_nemo(&self) -> Value {
        let mut record = Map::new();
        record.insert("prompt".into(), Value::String(self.prompt.clone()));
        for c in &self.candidates {
            record.insert(
                temperature_key(c.temperature),
                Value::String(c.response.clone()),
            );
        }
        Value::Object(record)
    }

    /// Reads NeMo's flat layout; candidates are ordered by the sorted keys, as NeMo's judge sees them.
    pub fn from_nemo(value: &Value, id: &str) -> Result<Self, String> {
        let map = value.as_object().ok_or("expected an object")?;
        let prompt = map
            .get("prompt")
            .and_then(Value::as_str)
            .ok_or("missing string `prompt`")?;
        let mut candidates = BTreeMap::new();
        for (key, v) in map.iter().filter(|(k, _)| k.starts_with("response")) {
            let t: f64 = key
                .trim_start_matches("response_t=")
                .parse()
                .map_err(|_| format!("bad key `{key}`"))?;
            let response = v.as_str().ok_or(format!("`{key}` is not a string"))?;
            candidates.insert(
                key.clone(),
                Candidate {
                    temperature: t,
                    response: response.into(),
                },
            );
        }
        Ok(Self {
            id: id.into(),
            prompt: prompt.into(),
            candidates: candidates.into_values().collect(),
        })
    }
}

/// One entry of NeMo's `cai_critique_revision_samples.json` (SL-CAI raw dump).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlRawSample {
    /// The red-team prompt.
    pub initial_prompt: String,
    /// The first answer.
    pub initial_response: String,
    /// The critique request.
    pub critique_prompt: String,
    /// The critique.
    pub critique_response: String,
    /// The revision request.
    pub revision_prompt: String,
    /// The revision.
    pub revision_response: String,
}

impl SlRawSample {
    /// Our trace for this one-round NeMo sample; the dump does not record the principle, so the caller names it.
    pub fn to_trace(&self, id: &str, principle_id: &str) -> SlCaiTrace {
        SlCaiTrace {
            id: id.into(),
            prompt: self.initial_prompt.clone(),
            initial_response: self.initial_response.clone(),
            rounds: vec![CritiqueRound {
                principle_id: principle_id.into(),
                critique_request: self.critique_prompt.clone(),
                critique: self.critique_response.clone(),
                revision_request: self.revision_prompt.clone(),
                revision: self.revision_response.clone(),
                rejected_revisions: Vec::new(),
            }],
            final_revision: self.revision_response.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_match_python_str() {
        let keys: Vec<_> = CANDIDATE_TEMPERATURES
            .iter()
            .map(|&t| temperature_key(t))
            .collect();
        assert_eq!(
            keys,
            [
                "response_t=0.01",
                "response_t=0.51",
                "response_t=1.01",
                "response_t=1.51"
            ]
        );
        assert_eq!(temperature_key(1.0), "response_t=1.0");
    }

    #[test]
    fn raw_sl_dump_becomes_a_one_round_trace() {
        let raw: SlRawSample = serde_json::from_value(serde_json::json!({
            "initial_prompt": "p", "initial_response": "i", "critique_prompt": "cr",
            "critique_response": "c", "revision_prompt": "rr", "revision_response": "r"
        }))
        .unwrap();
        let trace = raw.to_trace("t1", "harmful3");
        assert_eq!(trace.rounds.len(), 1);
        assert_eq!(trace.rounds[0].principle_id, "harmful3");
        assert_eq!(
            (trace.prompt.as_str(), trace.final_revision.as_str()),
            ("p", "r")
        );
        assert_eq!(trace.to_chat_sample().conversations[1].value, "r");
    }
}
