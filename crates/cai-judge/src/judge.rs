//! The CAI paper's multiple-choice feedback: the prompt (reference §11.4, rl-anchors §3) and a
//! local judge scoring the option tokens by teacher forcing, both orders in one batch.

use std::sync::Arc;

use cai_data::JudgePrinciple;
use cai_model::{LoadedModel, Message};

use crate::label::{BothOrders, normalised_first};
use cai_model::Result;

/// The option continuations scored after the prompt.
pub const OPTIONS: [&str; 2] = [" (A)", " (B)"];

/// Pairs per scoring forward (each pair is four sequences: two orders × two options).
const PAIRS_PER_BATCH: usize = 2;

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

/// The paper's multiple-choice prompt with `a` as option (A) and `b` as option (B).
pub fn paper_prompt(prompt: &str, principle: &JudgePrinciple, a: &str, b: &str) -> String {
    format!(
        "Consider the following conversation between a human and an assistant:\n\n\
         Human: {}\n\n{}\nOptions:\n(A) {}\n(B) {}\n\nThe answer is:",
        prompt.trim(),
        principle.text.trim(),
        a.trim(),
        b.trim()
    )
}

/// Something that gives P(option A) for judge prompts: a local model, or a fake in tests.
pub trait OptionScorer {
    /// P(A), normalised over (A) and (B), for each prompt.
    fn prob_a(&self, prompts: &[String]) -> Result<Vec<f64>>;
    /// The judge's name, for records.
    fn name(&self) -> String;
}

/// Judges every comparison in both orders, batched.
pub fn judge_both_orders(
    scorer: &dyn OptionScorer,
    comparisons: &[Comparison<'_>],
) -> Result<Vec<BothOrders>> {
    let prompts: Vec<String> = comparisons
        .iter()
        .flat_map(|c| {
            [
                paper_prompt(c.prompt, c.principle, c.first, c.second),
                paper_prompt(c.prompt, c.principle, c.second, c.first),
            ]
        })
        .collect();
    let probs = scorer.prob_a(&prompts)?;
    Ok(probs
        .chunks(2)
        .map(|p| BothOrders {
            p_ab: p[0],
            p_ba: p[1],
        })
        .collect())
}

/// A local model scoring the option tokens by teacher forcing.
pub struct LocalJudge {
    model: Arc<LoadedModel>,
    name: String,
    chat_template: bool,
}

impl LocalJudge {
    /// A judge on `model` (named `name` in records); with `chat_template` the prompt is the user
    /// turn of the model's chat template and the options follow its generation prompt.
    pub fn new(model: Arc<LoadedModel>, name: impl Into<String>, chat_template: bool) -> Self {
        Self {
            model,
            name: name.into(),
            chat_template,
        }
    }

    fn context_ids(&self, prompt: &str) -> Result<Vec<u32>> {
        Ok(if self.chat_template {
            self.model.encode_chat(&[Message::user(prompt)], true)?
        } else {
            self.model.tokenizer.encode(prompt)?
        })
    }
}

impl OptionScorer for LocalJudge {
    fn prob_a(&self, prompts: &[String]) -> Result<Vec<f64>> {
        let options: Vec<Vec<u32>> = OPTIONS
            .iter()
            .map(|o| {
                let text = if self.chat_template {
                    o.trim_start()
                } else {
                    o
                };
                self.model.tokenizer.encode_raw(text)
            })
            .collect::<Result<_>>()?;
        let mut out = Vec::with_capacity(prompts.len());
        for chunk in prompts.chunks(2 * PAIRS_PER_BATCH) {
            let mut batch = Vec::with_capacity(chunk.len() * 2);
            for prompt in chunk {
                let context = self.context_ids(prompt)?;
                for option in &options {
                    batch.push((context.clone(), option.clone()));
                }
            }
            let scored = self.model.score_continuations(&batch)?;
            let total = |lp: &Vec<f32>| lp.iter().map(|&v| f64::from(v)).sum::<f64>();
            out.extend(
                scored
                    .chunks(2)
                    .map(|ab| normalised_first(total(&ab[0]), total(&ab[1]))),
            );
        }
        Ok(out)
    }

    fn name(&self) -> String {
        self.name.clone()
    }
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
            (crate::label::seed_of(&key), p)
        })
        .collect();
    ranked.sort_by_key(|&(seed, _)| seed);
    ranked.into_iter().take(m.max(1)).map(|(_, p)| p).collect()
}
