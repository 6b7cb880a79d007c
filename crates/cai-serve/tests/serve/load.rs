//! 64 concurrent clients × 3 requests each against one server: no errors, every greedy output
//! equals the sequential in-process one, within a bounded time.

use std::time::{Duration, Instant};

use cai_model::{Prompt, SamplingParams};
use serde_json::json;

use super::common::*;

const CLIENTS: usize = 64;
const REQUESTS_PER_CLIENT: usize = 3;
const MAX_TOKENS: usize = 6;
const PROMPTS: [&str; 8] = [
    "The capital of France is",
    "My favourite animal is",
    "Water boils at",
    "The first president of the United States was",
    "Rust is a programming language that",
    "In the morning I like to",
    "The largest planet in the solar system is",
    "A good way to learn is",
];

#[test]
fn concurrent_greedy_requests_match_sequential_ones() {
    let want: Vec<String> = PROMPTS
        .iter()
        .map(|p| {
            reference(
                Prompt::Text(p.to_string()),
                SamplingParams::greedy(MAX_TOKENS),
            )
            .text
        })
        .collect();
    let started = Instant::now();
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(150))
        .build()
        .unwrap();
    let results: Vec<(usize, Result<String, String>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..CLIENTS)
            .map(|c| {
                let client = client.clone();
                scope.spawn(move || {
                    (0..REQUESTS_PER_CLIENT)
                        .map(|r| {
                            let p = (c + r) % PROMPTS.len();
                            (p, one_request(&client, c + r, PROMPTS[p]))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let elapsed = started.elapsed();
    assert_eq!(results.len(), CLIENTS * REQUESTS_PER_CLIENT);
    let errors: Vec<&String> = results
        .iter()
        .filter_map(|(_, r)| r.as_ref().err())
        .collect();
    assert!(
        errors.is_empty(),
        "{} errors, first: {}",
        errors.len(),
        errors[0]
    );
    for (p, r) in &results {
        assert_eq!(r.as_ref().unwrap(), &want[*p], "prompt {p}");
    }
    let (_, health) = read(http().get(url("/health")).send().unwrap());
    let largest = health["largest_batch"].as_u64().unwrap();
    assert!(largest > 1, "requests were not batched together: {health}");
    eprintln!(
        "load: {} requests in {:.1}s, largest batch {largest}",
        results.len(),
        elapsed.as_secs_f32()
    );
    assert!(elapsed < Duration::from_secs(150), "took {elapsed:?}");
}

/// Alternates between the completions and the NeMo route.
fn one_request(
    client: &reqwest::blocking::Client,
    i: usize,
    prompt: &str,
) -> Result<String, String> {
    let nemo = !i.is_multiple_of(2);
    let builder = if nemo {
        client
            .put(url("/generate"))
            .json(&json!({"sentences": [prompt],
            "tokens_to_generate": MAX_TOKENS, "greedy": true, "end_strings": []}))
    } else {
        client
            .post(url("/v1/completions"))
            .json(&json!({"prompt": prompt,
            "max_tokens": MAX_TOKENS, "temperature": 0}))
    };
    let resp = builder.send().map_err(|e| e.to_string())?;
    let status = resp.status();
    let body: serde_json::Value = resp.json().map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("{status}: {body}"));
    }
    let text = if nemo {
        body["sentences"][0]
            .as_str()
            .and_then(|s| s.get(prompt.len()..))
    } else {
        body["choices"][0]["text"].as_str()
    };
    text.map(str::to_string)
        .ok_or_else(|| format!("malformed answer: {body}"))
}
