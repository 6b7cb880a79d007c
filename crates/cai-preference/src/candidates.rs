//! Candidate answers: the sampling requests of a prompt (one per temperature, seeded by the prompt
//! key), and the filtering of empty and duplicate answers.

use cai_data::{GenerationRequest, Message, Prompt, SamplingParams};

use crate::config::Config;
use crate::label::seed_of;

/// The requests sampling the candidates of the prompt `text` with result key `key`.
pub fn requests(config: &Config, key: &str, text: &str) -> Vec<GenerationRequest> {
    config
        .temperatures()
        .into_iter()
        .enumerate()
        .map(|(i, temperature)| GenerationRequest {
            prompt: Prompt::Chat(vec![Message::user(text)]),
            params: SamplingParams {
                temperature,
                top_k: config.top_k,
                top_p: config.top_p,
                tokens_to_generate: config.tokens_to_generate,
                random_seed: Some(seed_of(&[key, &i.to_string()])),
                ..SamplingParams::default()
            },
        })
        .collect()
}

/// Kept candidates (trimmed, non-empty, first of each distinct text) and the numbers of empty and
/// duplicate ones skipped.
pub fn keep_distinct(texts: impl IntoIterator<Item = String>) -> (Vec<String>, usize, usize) {
    let (mut kept, mut empty, mut duplicate) = (Vec::<String>::new(), 0, 0);
    for text in texts {
        let text = text.trim().to_string();
        if text.is_empty() {
            empty += 1;
        } else if kept.contains(&text) {
            duplicate += 1;
        } else {
            kept.push(text);
        }
    }
    (kept, empty, duplicate)
}

/// The pairs `(i, j)`, `i < j`, of `n` candidates.
pub fn pairs(n: usize) -> Vec<(usize, usize)> {
    (0..n)
        .flat_map(|i| (i + 1..n).map(move |j| (i, j)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_duplicate_answers_are_counted_and_skipped() {
        let texts = ["Yes.", "  ", "No.", "Yes. ", ""].map(String::from);
        let (kept, empty, duplicate) = keep_distinct(texts);
        assert_eq!(kept, ["Yes.", "No."]);
        assert_eq!((empty, duplicate), (2, 1));
    }

    #[test]
    fn ladder_requests_follow_nemo_temperatures_with_distinct_seeds() {
        let reqs = requests(&Config::default(), "k", "Hi?");
        let temps: Vec<f32> = reqs.iter().map(|r| r.params.temperature).collect();
        assert_eq!(temps, [0.01, 0.51, 1.01, 1.51]);
        assert_ne!(reqs[0].params.random_seed, reqs[1].params.random_seed);
        assert_eq!(pairs(3), [(0, 1), (0, 2), (1, 2)]);
    }
}
