//! `stream: true`: chunks add up to the non-streamed answer, text that could start a stop string
//! is held back (never sent, then cut), the final token arrives, usage and `[DONE]` close it.

use cai_model::{Prompt, SamplingParams};
use serde_json::{Value, json};

use super::common::*;

fn stream(path: &str, body: &Value) -> Vec<Value> {
    let events = sse_events(http().post(url(path)).json(body).send().unwrap());
    assert_eq!(events.last().map(String::as_str), Some("[DONE]"));
    events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect()
}

#[test]
fn chat_stream_adds_up_to_the_greedy_answer_with_usage() {
    let chunks = stream(
        "/v1/chat/completions",
        &json!({"messages": [{"role": "user", "content": "Tell me about cats."}], "temperature": 0,
                "max_tokens": 12, "stream": true, "stream_options": {"include_usage": true}}),
    );
    let want = reference(user("Tell me about cats."), SamplingParams::greedy(12));
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    assert!(
        chunks
            .iter()
            .all(|c| c["object"] == "chat.completion.chunk")
    );
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, want.text);
    let finish: Vec<&Value> = chunks
        .iter()
        .filter(|c| !c["choices"][0]["finish_reason"].is_null())
        .collect();
    assert_eq!(finish.len(), 1);
    let usage = &chunks.last().unwrap()["usage"];
    assert_eq!(usage["prompt_tokens"], want.prompt_tokens);
    assert_eq!(usage["completion_tokens"], want.token_ids.len());
}

#[test]
fn stop_string_prefixes_are_held_back_and_the_last_token_arrives() {
    let prompt = "The capital of France is";
    let full = reference(Prompt::Text(prompt.into()), SamplingParams::greedy(16));
    // A multi-token stop string from the middle of the continuation: its first characters must not
    // be streamed before the engine knows whether the whole string follows.
    let start = full.text.len() / 2;
    let start = (start..full.text.len())
        .find(|&i| full.text.is_char_boundary(i))
        .unwrap();
    let stop: String = full.text[start..].chars().take(5).collect();
    let cut = &full.text[..full.text.find(&stop).unwrap()];
    let chunks = stream(
        "/v1/completions",
        &json!({"prompt": prompt, "max_tokens": 16, "temperature": 0, "stop": [stop], "stream": true}),
    );
    let texts: Vec<&str> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["text"].as_str())
        .collect();
    assert_eq!(texts.concat(), cut);
    // No stop string: the streamed text is the whole generation, last token included.
    let chunks = stream(
        "/v1/completions",
        &json!({"prompt": prompt, "max_tokens": 16, "temperature": 0, "stream": true}),
    );
    let texts: Vec<&str> = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["text"].as_str())
        .collect();
    assert_eq!(texts.concat(), full.text);
    assert!(chunks.last().unwrap()["choices"][0]["finish_reason"].is_string());
}

#[test]
fn several_streamed_choices_are_told_apart_by_index() {
    let chunks = stream(
        "/v1/completions",
        &json!({"prompt": ["Red is", "Blue is"], "max_tokens": 5, "temperature": 0, "stream": true}),
    );
    for (index, prompt) in ["Red is", "Blue is"].iter().enumerate() {
        let want = reference(Prompt::Text(prompt.to_string()), SamplingParams::greedy(5));
        let text: String = chunks
            .iter()
            .filter(|c| c["choices"][0]["index"] == index)
            .filter_map(|c| c["choices"][0]["text"].as_str())
            .collect();
        assert_eq!(text, want.text, "choice {index}");
    }
}
