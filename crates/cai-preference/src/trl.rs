//! The blended pairs in the layout TRL's `RewardTrainer` and `DPOTrainer` read (conversational,
//! explicit prompt, as in HuggingFaceH4's preference sets): `prompt` is the conversation up to
//! the answer, `chosen` and `rejected` the assistant turn alone; `score_chosen` and
//! `score_rejected` carry the soft label where there is one.

use std::path::Path;

use cai_data::{Message, PreferenceRecord, write_jsonl_atomic};
use serde_json::{Value, json};

use crate::error::Result;
use crate::files::split_trl;

/// The TRL line of one record.
pub fn line(record: &PreferenceRecord) -> Value {
    let mut prompt: Vec<&Message> = record.history.iter().collect();
    let request = Message::user(record.prompt.clone());
    prompt.push(&request);
    let answer = |text: &str| json!([{"role": "assistant", "content": text}]);
    let mut line = json!({
        "prompt": prompt,
        "chosen": answer(&record.chosen),
        "rejected": answer(&record.rejected),
        "source": record.source,
    });
    if let Some(judge) = &record.judge
        && let (Some(c), Some(r)) = (judge.chosen_score, judge.rejected_score)
    {
        line["score_chosen"] = json!(c);
        line["score_rejected"] = json!(r);
    }
    line
}

/// Writes `{split}.trl.jsonl` into `dir`.
pub fn write(dir: &Path, split: &str, records: &[PreferenceRecord]) -> Result<()> {
    let lines: Vec<Value> = records.iter().map(line).collect();
    write_jsonl_atomic(dir.join(split_trl(split)), &lines)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_becomes_a_conversational_pair() {
        let record = PreferenceRecord {
            id: "x".into(),
            history: vec![Message::user("Hi"), Message::assistant("Hello.")],
            prompt: "Help?".into(),
            chosen: "Sure.".into(),
            rejected: "No.".into(),
            principles: Vec::new(),
            judge: Some(cai_data::Judgement {
                model: None,
                chosen_score: Some(0.7),
                rejected_score: Some(0.3),
                explanation: None,
            }),
            source: "rl-cai".into(),
        };
        let line = line(&record);
        assert_eq!(line["prompt"][2]["role"], "user");
        assert_eq!(line["prompt"][2]["content"], "Help?");
        assert_eq!(line["prompt"][1]["content"], "Hello.");
        assert_eq!(line["chosen"][0]["role"], "assistant");
        assert_eq!(line["chosen"][0]["content"], "Sure.");
        assert_eq!(line["rejected"][0]["content"], "No.");
        assert_eq!(line["score_chosen"], 0.7);
    }
}
