//! Pairs → token ids, both sides ending in the model's EOS token.
//!
//! A chat pair renders `prompt + [assistant(answer)]` with the model's chat template; a rendered
//! pair is tokenized as it is. Trailing whitespace after the template's end-of-turn is dropped and
//! EOS appended when the text does not already end in it, so training and scoring read the reward
//! at the same token. No truncation: a pair with a side longer than `max_seq_length` is dropped and
//! counted.

use cai_model::{LoadedModel, Message};
use serde::Serialize;

use crate::data::{Pair, PairTexts, ScoreInput};
use crate::error::Result;

/// A pair as token ids.
#[derive(Debug, Clone, PartialEq)]
pub struct EncodedPair {
    /// The preferred sequence.
    pub chosen: Vec<u32>,
    /// The dispreferred sequence.
    pub rejected: Vec<u32>,
    /// Probability that `chosen` is better.
    pub label: f64,
    /// Whether an AI judge labelled the pair.
    pub ai_labelled: bool,
    /// Tokens of the chosen and rejected answers alone (for the length-correlation alarm).
    pub answer_tokens: [usize; 2],
}

/// What encoding kept and dropped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct EncodeStats {
    /// Pairs kept.
    pub kept: usize,
    /// Pairs dropped because a side exceeds `max_seq_length` tokens.
    pub too_long: usize,
}

/// `text` as ids ending in EOS (trailing whitespace dropped first).
pub fn encode_text(model: &LoadedModel, text: &str) -> Result<Vec<u32>> {
    Ok(model.encode_scored_text(text)?)
}

/// `prompt` followed by the assistant's `answer`, rendered with the model's chat template.
pub fn render_chat(model: &LoadedModel, prompt: &[Message], answer: &str) -> Result<String> {
    Ok(model.render_answer(prompt, answer)?)
}

/// One scoring input as ids.
pub fn encode_input(model: &LoadedModel, input: &ScoreInput) -> Result<Vec<u32>> {
    match input {
        ScoreInput::Chat { prompt, response } => encode_text(
            model,
            &render_chat(model, &[Message::user(prompt)], response)?,
        ),
        ScoreInput::Text { text } => encode_text(model, text),
    }
}

fn encode_pair(model: &LoadedModel, pair: &Pair) -> Result<EncodedPair> {
    let (chosen, rejected, answers) = match &pair.texts {
        PairTexts::Chat {
            prompt,
            chosen,
            rejected,
        } => (
            encode_text(model, &render_chat(model, prompt, chosen)?)?,
            encode_text(model, &render_chat(model, prompt, rejected)?)?,
            [chosen, rejected].map(|a| model.tokenizer.encode_raw(a).map(|ids| ids.len())),
        ),
        PairTexts::Rendered { chosen, rejected } => {
            let (c, r) = (encode_text(model, chosen)?, encode_text(model, rejected)?);
            let lens = [Ok(c.len()), Ok(r.len())];
            (c, r, lens)
        }
    };
    let [a, b] = answers;
    Ok(EncodedPair {
        chosen,
        rejected,
        label: pair.label,
        ai_labelled: pair.ai_labelled,
        answer_tokens: [a?, b?],
    })
}

/// Encodes every pair, dropping (and counting) those with a side over `max_seq_length` tokens.
pub fn encode_pairs(
    model: &LoadedModel,
    pairs: &[Pair],
    max_seq_length: usize,
) -> Result<(Vec<EncodedPair>, EncodeStats)> {
    let mut stats = EncodeStats::default();
    let mut out = Vec::with_capacity(pairs.len());
    for pair in pairs {
        let encoded = encode_pair(model, pair)?;
        if encoded.chosen.len().max(encoded.rejected.len()) > max_seq_length {
            stats.too_long += 1;
            continue;
        }
        stats.kept += 1;
        out.push(encoded);
    }
    Ok((out, stats))
}
