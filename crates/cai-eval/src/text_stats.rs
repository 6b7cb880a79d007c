//! Text statistics of a model's answers: mean length in words, distinct-2 (distinct word bigrams
//! over all bigrams: low values mean repetitive answers) and the most frequent word 4-grams (the
//! boilerplate the CAI paper saw over-trained policies collapse into).

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

/// Statistics of a set of answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextStats {
    /// Mean words per answer.
    pub mean_words: f64,
    /// Distinct word bigrams / all bigrams (0 without bigrams).
    pub distinct_2: f64,
    /// The most frequent 4-grams with the number of answers they appear in (at least 2).
    pub top_4grams: Vec<(String, usize)>,
}

fn words(text: &str) -> Vec<String> {
    text.split_whitespace()
        .map(|w| {
            w.trim_matches(|c: char| !c.is_alphanumeric() && c != '\'')
                .to_lowercase()
        })
        .filter(|w| !w.is_empty())
        .collect()
}

/// The statistics of `answers`, with the `top` most frequent 4-grams.
pub fn text_stats(answers: &[&str], top: usize) -> TextStats {
    let tokenised: Vec<Vec<String>> = answers.iter().map(|a| words(a)).collect();
    let n = tokenised.len().max(1) as f64;
    let mean_words = tokenised.iter().map(Vec::len).sum::<usize>() as f64 / n;
    let bigrams: Vec<(&str, &str)> = tokenised
        .iter()
        .flat_map(|w| w.windows(2).map(|p| (p[0].as_str(), p[1].as_str())))
        .collect();
    let distinct: std::collections::HashSet<_> = bigrams.iter().collect();
    let distinct_2 = match bigrams.len() {
        0 => 0.0,
        total => distinct.len() as f64 / total as f64,
    };
    let mut counts: HashMap<String, usize> = HashMap::new();
    for w in &tokenised {
        let grams: std::collections::HashSet<String> = w.windows(4).map(|g| g.join(" ")).collect();
        for g in grams {
            *counts.entry(g).or_default() += 1;
        }
    }
    let mut top_4grams: Vec<(String, usize)> =
        counts.into_iter().filter(|(_, c)| *c >= 2).collect();
    top_4grams.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    top_4grams.truncate(top);
    TextStats {
        mean_words,
        distinct_2,
        top_4grams,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repetition_lowers_distinct_2_and_surfaces_boilerplate() {
        let varied = text_stats(&["the cat sat down", "a dog ran far away"], 3);
        assert_eq!(varied.distinct_2, 1.0);
        assert!(varied.top_4grams.is_empty());
        let same = "You are valid, valued and cared for.";
        let boiler = text_stats(&[same, same, "You are valid, valued and cared for!"], 2);
        assert!(boiler.distinct_2 < 0.5, "{boiler:?}");
        assert_eq!(boiler.top_4grams[0].1, 3);
        assert_eq!(boiler.mean_words, 7.0);
    }
}
