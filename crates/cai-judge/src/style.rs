//! How a comparison is put to the judge: few-shot labelling demonstrations before the question,
//! and optionally the paper's chain of thought before the answer.

use serde::{Deserialize, Serialize};

use cai_data::JudgePrinciple;

/// A labelled demonstration shown before the question (`good` is the better answer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Demonstration {
    /// The human's request.
    pub prompt: String,
    /// The better answer.
    pub good: String,
    /// The worse answer.
    pub bad: String,
}

const BUILTIN_DEMONSTRATIONS: &str = include_str!("../demonstrations/paper.jsonl");

/// The demonstrations shipped with cai-rs (`crates/cai-judge/demonstrations/paper.jsonl`): two
/// harmful requests (an explained refusal is better) and two harmless ones (a helpful answer is
/// better than an evasive refusal), on topics absent from the calibration set.
pub fn builtin_demonstrations() -> Vec<Demonstration> {
    BUILTIN_DEMONSTRATIONS
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("the built-in demonstrations parse (tested)"))
        .collect()
}

/// The chain-of-thought variant's settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ChainOfThought {
    /// Longest reasoning, in tokens.
    pub max_tokens: usize,
    /// Each order's P(A) is clamped to `[clamp, 1 − clamp]` (the paper: 40–60 %).
    pub clamp: f64,
}

impl Default for ChainOfThought {
    fn default() -> Self {
        Self {
            max_tokens: 96,
            clamp: 0.4,
        }
    }
}

/// The judge's reasoning is cut at the first of these (the model starting a new turn or
/// answering on its own).
pub const REASONING_STOPS: [&str; 4] = [
    "\nHuman:",
    "\n\nConsider",
    "So the answer is",
    "The answer is",
];

/// What comes before the options are scored: demonstrations and chain of thought.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Style {
    /// Shown first, each under the comparison's principle, the better answer alternating between
    /// (A) and (B) so that the demonstrations themselves carry no position bias.
    pub demonstrations: Vec<Demonstration>,
    /// Reason step by step before answering.
    pub chain_of_thought: Option<ChainOfThought>,
}

/// The question of the paper's multiple-choice prompt, up to (not including) the answer cue.
pub fn question(prompt: &str, principle: &JudgePrinciple, a: &str, b: &str) -> String {
    format!(
        "Consider the following conversation between a human and an assistant:\n\n\
         Human: {}\n\n{}\nOptions:\n(A) {}\n(B) {}\n\n",
        prompt.trim(),
        principle.text.trim(),
        a.trim(),
        b.trim()
    )
}

/// The cue after which the option is scored.
pub const ANSWER_CUE: &str = "The answer is:";

/// The cue that starts the chain of thought.
pub const REASONING_CUE: &str = "Let's think step by step:";

impl Style {
    /// The demonstrations rendered as answered questions under `principle`, each followed by a
    /// blank line.
    pub fn prefix(&self, principle: &JudgePrinciple) -> String {
        self.demonstrations
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let good_first = i % 2 == 0;
                let (a, b) = if good_first {
                    (&d.good, &d.bad)
                } else {
                    (&d.bad, &d.good)
                };
                let letter = if good_first { "A" } else { "B" };
                format!(
                    "{}{ANSWER_CUE} ({letter})\n\n",
                    question(&d.prompt, principle, a, b)
                )
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_demonstrations_parse_and_alternate_positions() {
        let demos = builtin_demonstrations();
        assert_eq!(demos.len(), 4);
        let principle = JudgePrinciple {
            id: "p".into(),
            text: "Which is better?".into(),
        };
        let style = Style {
            demonstrations: demos.clone(),
            chain_of_thought: None,
        };
        let prefix = style.prefix(&principle);
        assert_eq!(prefix.matches("The answer is: (A)").count(), 2);
        assert_eq!(prefix.matches("The answer is: (B)").count(), 2);
        // The first demonstration shows the better answer as (A), the second as (B).
        let first = prefix.find(&format!("(A) {}", demos[0].good)).unwrap();
        let second = prefix.find(&format!("(B) {}", demos[1].good)).unwrap();
        assert!(first < second);
    }
}
