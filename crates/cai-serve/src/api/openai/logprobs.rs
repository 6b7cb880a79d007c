//! Log-probs in OpenAI's two shapes. The sampled token's value comes from the decode step; the
//! alternatives come from the engine thread's teacher-forced pass ([`crate::scores`]).

use cai_model::Tokenizer;
use serde_json::{Map, Value};

use crate::queue::Finished;
use crate::wire::openai::{ChatLogprobs, CompletionLogprobs, TokenLogprob, TopLogprob};

/// The text of one token (a lone byte of a multi-byte character decodes as U+FFFD).
pub fn token_text(tokenizer: &Tokenizer, id: u32) -> String {
    tokenizer.decode(&[id], false).unwrap_or_default()
}

/// The alternatives at generated position `j`, as (text, log-prob).
fn alternatives(tokenizer: &Tokenizer, f: &Finished, j: usize) -> Vec<(String, f32)> {
    f.scores
        .as_ref()
        .and_then(|s| s.top.get(j))
        .map(|top| {
            top.iter()
                .map(|&(id, lp)| (token_text(tokenizer, id), lp))
                .collect()
        })
        .unwrap_or_default()
}

/// Chat `logprobs.content`: one entry per generated token.
pub fn chat(tokenizer: &Tokenizer, f: &Finished) -> ChatLogprobs {
    let g = &f.generation;
    let content = g
        .token_ids
        .iter()
        .zip(&g.logprobs)
        .enumerate()
        .map(|(j, (&id, &logprob))| {
            let token = token_text(tokenizer, id);
            TokenLogprob {
                bytes: token.as_bytes().to_vec(),
                token,
                logprob,
                top_logprobs: alternatives(tokenizer, f, j)
                    .into_iter()
                    .map(|(token, logprob)| TopLogprob {
                        bytes: token.as_bytes().to_vec(),
                        token,
                        logprob,
                    })
                    .collect(),
            }
        })
        .collect();
    ChatLogprobs { content }
}

/// Completions `logprobs`: parallel arrays; offsets count characters from `start` (the length of
/// the echoed prompt, or 0).
pub fn completion(tokenizer: &Tokenizer, f: &Finished, start: usize) -> CompletionLogprobs {
    let g = &f.generation;
    let tokens: Vec<String> = g
        .token_ids
        .iter()
        .map(|&id| token_text(tokenizer, id))
        .collect();
    let text_offset = tokens
        .iter()
        .scan(start, |at, t| {
            let here = *at;
            *at += t.chars().count();
            Some(here)
        })
        .collect();
    let top_logprobs = (0..tokens.len())
        .map(|j| {
            let mut map = Map::new();
            for (token, lp) in alternatives(tokenizer, f, j) {
                map.entry(token).or_insert(Value::from(lp));
            }
            map
        })
        .collect();
    CompletionLogprobs {
        token_logprobs: g.logprobs.clone(),
        tokens,
        top_logprobs,
        text_offset,
    }
}
