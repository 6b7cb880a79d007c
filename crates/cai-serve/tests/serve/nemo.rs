//! `PUT /generate`: NeMo's request and response shapes against the in-process engine.

use cai_model::{Message, Prompt, SamplingParams};
use serde_json::{Value, json};

use super::common::*;

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

fn ids(v: &Value) -> Vec<u32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u32)
        .collect()
}

#[test]
fn tutorial_request_returns_prompt_plus_greedy_answer() {
    let prompt =
        "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n";
    let (status, body) = put(
        "/generate",
        &json!({"sentences": [prompt], "tokens_to_generate": 12, "top_k": 1, "greedy": true,
                "end_strings": ["<|im_end|>"]}),
    );
    assert_eq!(status, 200, "{body}");
    let prompt_ids = engine().model().tokenizer.encode_raw(prompt).unwrap();
    let params = SamplingParams {
        end_strings: vec!["<|im_end|>".into()],
        ..SamplingParams::greedy(12)
    };
    let want = reference(Prompt::Tokens(prompt_ids.clone()), params);
    let sentence = body["sentences"][0].as_str().unwrap();
    let answer = &sentence[prompt.len()..];
    assert!(sentence.starts_with(prompt));
    assert_eq!(
        answer,
        format!(
            "{}{}",
            want.text,
            want.stop_string.clone().unwrap_or_default()
        )
    );
    let all_ids: Vec<u32> = prompt_ids.iter().chain(&want.token_ids).copied().collect();
    assert_eq!(ids(&body["token_ids"][0]), all_ids);
    let tokens = strings(&body["tokens"][0]);
    assert_eq!(tokens.len(), all_ids.len());
    let offsets: Vec<u64> = body["offsets"][0]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o.as_u64().unwrap())
        .collect();
    assert_eq!(offsets.len(), tokens.len());
    assert_eq!(offsets[0], 0);
    assert!(offsets.windows(2).all(|w| w[0] <= w[1]));
    assert!(body["logprob"].is_null());
    assert!(tokens.concat().starts_with(prompt));
}

#[test]
fn collated_chats_with_logprobs_match_the_engine() {
    let questions = ["Name a color.", "Name a fruit."];
    let (status, body) = put(
        "/generate",
        &json!({"sentences": [{"role": ["User", "User"], "content": questions}],
                "tokens_to_generate": 6, "greedy": true, "compute_logprob": true,
                "add_BOS": false, "all_probs": false}),
    );
    assert_eq!(status, 200, "{body}");
    let template = engine().model().template().unwrap().clone();
    for (i, q) in questions.iter().enumerate() {
        let messages = vec![Message::user(*q)];
        let rendered = template.render(&messages, true).unwrap();
        let params = SamplingParams {
            end_strings: vec!["<|endoftext|>".into()],
            ..SamplingParams::greedy(6)
        };
        let want = reference(Prompt::Chat(messages), params);
        let info = &body["cai_completions"][i];
        assert_eq!(info["text"], want.text.as_str());
        assert_eq!(info["prompt_tokens"], want.prompt_tokens);
        let sentence = body["sentences"][i].as_str().unwrap();
        assert_eq!(sentence, format!("{rendered}{}", want.text));
        let n_ids = body["token_ids"][i].as_array().unwrap().len();
        let logprob: Vec<f64> = body["logprob"][i]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect();
        assert_eq!(logprob.len(), n_ids - 1);
        assert!(logprob.iter().all(|&lp| lp <= 1e-6));
        // The generated tokens' teacher-forced log-probs agree with the decode's.
        let generated = &logprob[want.prompt_tokens - 1..];
        for (got, want) in generated.iter().zip(&want.logprobs) {
            assert!((got - *want as f64).abs() < 2e-3, "{got} vs {want}");
        }
    }
}

#[test]
fn add_bos_prepends_the_bos_token() {
    let Some(bos) = engine().model().config.bos_token_id else {
        return;
    };
    let (status, body) = put(
        "/generate",
        &json!({"sentences": ["Hello"], "tokens_to_generate": 1, "greedy": true, "add_BOS": true}),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_ids"][0][0], bos);
    assert!(body["sentences"][0].as_str().unwrap().starts_with("Hello"));
}

#[test]
fn more_than_128_sentences_is_a_400() {
    let sentences = vec!["hi"; 129];
    let (status, body) = put(
        "/generate",
        &json!({"sentences": sentences, "tokens_to_generate": 1}),
    );
    assert_eq!(status, 400);
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("Maximum number of sentences is 128"),
        "{message}"
    );
}
