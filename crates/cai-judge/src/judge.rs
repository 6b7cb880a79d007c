//! The CAI paper's multiple-choice feedback (reference §11.4, rl-anchors §3): the prompt, the
//! [`OptionScorer`] a judge implements (a local model, an endpoint, a fake in tests), and every
//! comparison judged in both orders in one call.

use cai_data::{Generation, JudgePrinciple, SamplingParams};
use serde::{Deserialize, Serialize};

use crate::error::{JudgeError, Result};
use crate::label::{BothOrders, seed_of};
use crate::style::{ANSWER_CUE, REASONING_CUE, Style, question};

/// The option continuations scored after the prompt.
pub const OPTIONS: [&str; 2] = [" (A)", " (B)"];

/// One comparison to judge: a request and two answers, under a principle.
#[derive(Debug, Clone, Copy)]
pub struct Comparison<'a> {
    /// The human's request.
    pub prompt: &'a str,
    /// The first answer.
    pub first: &'a str,
    /// The second answer.
    pub second: &'a str,
    /// The judging principle.
    pub principle: &'a JudgePrinciple,
}

/// The paper's multiple-choice prompt with `a` as option (A) and `b` as option (B), ending in
/// the answer cue.
pub fn paper_prompt(prompt: &str, principle: &JudgePrinciple, a: &str, b: &str) -> String {
    format!("{}{ANSWER_CUE}", question(prompt, principle, a, b))
}

/// Why one judgement gave no label; counted by reason, and the pair is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Failure {
    /// Neither option was among the endpoint's most likely next tokens.
    NoOptionProbability,
    /// The endpoint failed on this request after its retries.
    EndpointFailure,
    /// The judge's answer could not be parsed (NeMo mode).
    UnparseableAnswer,
    /// The judge named the same answer as chosen and rejected (NeMo mode).
    SameChoice,
}

impl Failure {
    /// The name used in summaries.
    pub fn name(self) -> &'static str {
        match self {
            Self::NoOptionProbability => "no_option_probability",
            Self::EndpointFailure => "endpoint_failure",
            Self::UnparseableAnswer => "unparseable_answer",
            Self::SameChoice => "same_choice",
        }
    }
}

/// P(option A) of one judgement, or why there is none.
pub type Verdict = std::result::Result<f64, Failure>;

/// Something that gives P(option A) for judge prompts: a local model, an endpoint, or a fake.
pub trait OptionScorer {
    /// P(A), normalised over (A) and (B), for each prompt (each ends in an answer cue).
    fn prob_a(&self, prompts: &[String]) -> Result<Vec<Verdict>>;
    /// Greedy continuations of `prompts`, up to `max_tokens` tokens each, cut at
    /// [`crate::style::REASONING_STOPS`]: the chain of thought. Judges that cannot generate
    /// refuse.
    fn reason(&self, prompts: &[String], max_tokens: usize) -> Result<Vec<String>> {
        let _ = (prompts, max_tokens);
        Err(JudgeError::Setup {
            judge: self.name(),
            reason: "this judge cannot generate a chain of thought".into(),
        })
    }
    /// The judge's name, for records.
    fn name(&self) -> String;
}

/// The sampling of a chain of thought: greedy, up to `max_tokens`, ending at a reasoning stop.
pub fn reasoning_params(max_tokens: usize) -> SamplingParams {
    SamplingParams {
        end_strings: crate::style::REASONING_STOPS.map(String::from).to_vec(),
        ..SamplingParams::greedy(max_tokens)
    }
}

/// The reasoning of each generation, cut at the first reasoning stop.
pub fn reasoning_texts(generations: &[Generation]) -> Vec<String> {
    generations
        .iter()
        .map(|g| cut_reasoning(&g.text).to_string())
        .collect()
}

/// Cuts `text` at the first reasoning stop string.
pub fn cut_reasoning(text: &str) -> &str {
    let end = crate::style::REASONING_STOPS
        .iter()
        .filter_map(|s| text.find(s))
        .min()
        .unwrap_or(text.len());
    text[..end].trim()
}

/// Judges every comparison in both orders (one call to the scorer, and one more for the
/// chain of thought); each result is the pair's [`BothOrders`] or the first order's failure.
pub fn judge_both_orders(
    scorer: &dyn OptionScorer,
    comparisons: &[Comparison<'_>],
    style: &Style,
) -> Result<Vec<std::result::Result<BothOrders, Failure>>> {
    let questions: Vec<String> = comparisons
        .iter()
        .flat_map(|c| {
            let prefix = style.prefix(c.principle);
            [
                format!(
                    "{prefix}{}",
                    question(c.prompt, c.principle, c.first, c.second)
                ),
                format!(
                    "{prefix}{}",
                    question(c.prompt, c.principle, c.second, c.first)
                ),
            ]
        })
        .collect();
    let prompts: Vec<String> = match style.chain_of_thought {
        None => questions
            .iter()
            .map(|q| format!("{q}{ANSWER_CUE}"))
            .collect(),
        Some(cot) => {
            let cued: Vec<String> = questions
                .iter()
                .map(|q| format!("{q}{REASONING_CUE}"))
                .collect();
            let reasoning = scorer.reason(&cued, cot.max_tokens)?;
            cued.iter()
                .zip(reasoning)
                .map(|(q, r)| format!("{q} {}\n\nSo the answer is:", cut_reasoning(&r)))
                .collect()
        }
    };
    let clamp = |p: f64| match style.chain_of_thought {
        Some(cot) => p.clamp(cot.clamp, 1.0 - cot.clamp),
        None => p,
    };
    let verdicts = scorer.prob_a(&prompts)?;
    Ok(verdicts
        .chunks(2)
        .map(|v| {
            Ok(BothOrders {
                p_ab: clamp(v[0]?),
                p_ba: clamp(v[1]?),
            })
        })
        .collect())
}

/// The principles of a comparison: `m` distinct ones (all when `m` is at least their number;
/// at least one), in an order seeded by `parts`.
pub fn draw_principles<'a>(
    principles: &'a [JudgePrinciple],
    m: usize,
    parts: &[&str],
) -> Vec<&'a JudgePrinciple> {
    let mut ranked: Vec<(u64, &JudgePrinciple)> = principles
        .iter()
        .map(|p| {
            let mut key = parts.to_vec();
            key.push(&p.id);
            (seed_of(&key), p)
        })
        .collect();
    ranked.sort_by_key(|&(seed, _)| seed);
    ranked.into_iter().take(m.max(1)).map(|(_, p)| p).collect()
}
