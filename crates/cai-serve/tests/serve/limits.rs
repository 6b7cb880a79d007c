//! Token budgets and cancellation (issue 19, points 1 and 3): requests over a budget get a 413
//! naming it, a request over the batch budget is split into several batches (with the prefill in
//! blocks of queries), and a client that hangs up stops costing the engine.

use std::sync::Arc;
use std::time::{Duration, Instant};

use cai_model::{Prompt, SamplingParams};
use serde_json::{Value, json};

use super::common::*;
use super::raw::{self, connect, read_response, send, start, start_with};

/// A prompt of about `n` tokens (`" hello"` is one SmolLM2 token).
fn long_text(n: usize) -> String {
    format!("Say{}", " hello".repeat(n))
}

fn error_message(body: &Value) -> String {
    body["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn sixteen_prompts_of_8000_tokens_get_413_instead_of_an_abort() {
    // The request that aborted the process (a 36.9 GB allocation for its attention scores), against
    // the default budgets.
    let sentence = long_text(8000);
    let tokens = engine()
        .model()
        .tokenizer
        .encode_raw(&sentence)
        .unwrap()
        .len()
        * 16;
    let started = Instant::now();
    let (status, body) = put(
        "/generate",
        &json!({"sentences": vec![sentence; 16], "tokens_to_generate": 4, "greedy": true}),
    );
    assert_eq!(status, 413, "{body}");
    let message = error_message(&body);
    assert!(message.contains("--max-prompt-tokens 65536"), "{message}");
    assert!(message.contains(&format!("{tokens} tokens")), "{message}");
    assert!(started.elapsed() < Duration::from_secs(20));
    let (status, body) = post(
        "/v1/completions",
        &json!({"prompt": "Hi", "max_tokens": 2, "temperature": 0}),
    );
    assert_eq!(status, 200, "{body}");
}

#[test]
fn budgets_are_checked_for_every_prompt_form() {
    let server = start(|c| {
        c.batch.max_prompt_tokens = 300;
        c.batch.max_batch_tokens = 200;
    });
    let url = |path: &str| format!("{}{path}", server.url());
    let call = |path: &str, body: Value| read(http().post(url(path)).json(&body).send().unwrap());
    // Token ids: refused in the handler, before the queue.
    let ids: Vec<u32> = vec![42; 301];
    let (status, body) = call("/v1/completions", json!({"prompt": ids, "max_tokens": 1}));
    assert_eq!(status, 413, "{body}");
    assert!(error_message(&body).contains("301 tokens, more than --max-prompt-tokens 300"));
    // A chat, counted once rendered and tokenized on the engine thread; n choices count each.
    let chat = json!({"messages": [{"role": "user", "content": long_text(100)}],
                      "max_tokens": 2, "n": 3});
    let (status, body) = call("/v1/chat/completions", chat);
    assert_eq!(status, 413, "{body}");
    assert!(error_message(&body).contains("--max-prompt-tokens 300"));
    // One prompt and its new tokens larger than a whole batch.
    let (status, body) = call(
        "/v1/completions",
        json!({"prompt": long_text(150), "max_tokens": 60}),
    );
    assert_eq!(status, 413, "{body}");
    let message = error_message(&body);
    assert!(
        message.contains("more than --max-batch-tokens 200"),
        "{message}"
    );
    let (status, body) = call("/v1/completions", json!({"prompt": "Hi", "max_tokens": 2}));
    assert_eq!(status, 200, "{body}");
}

#[test]
fn a_request_over_the_batch_budget_runs_in_several_blocked_batches() {
    let prompts: Vec<String> = (0..6)
        .map(|i| format!("List {i} fruits:{}", " apple".repeat(30 + i)))
        .collect();
    let ids: Vec<Vec<u32>> = prompts
        .iter()
        .map(|p| engine().model().tokenizer.encode_raw(p).unwrap())
        .collect();
    let longest = ids.iter().map(Vec::len).max().unwrap() + 4;
    // Two rows per batch, and prefill blocks of a few queries.
    let blocked = Arc::new(
        engine()
            .as_ref()
            .clone()
            .with_prefill_budget(2 * 9 * 8 * 48),
    );
    let server = start_with(blocked, |c| c.batch.max_batch_tokens = 2 * longest + 1);
    let body = json!({"sentences": prompts, "tokens_to_generate": 4, "greedy": true,
                      "end_strings": ["<|im_end|>"]});
    let resp = http()
        .put(format!("{}/generate", server.url()))
        .json(&body)
        .send()
        .unwrap();
    let (status, body) = read(resp);
    assert_eq!(status, 200, "{body}");
    for (i, prompt_ids) in ids.iter().enumerate() {
        let params = SamplingParams {
            end_strings: vec!["<|im_end|>".into()],
            ..SamplingParams::greedy(4)
        };
        let want = reference(Prompt::Tokens(prompt_ids.clone()), params);
        let got = &body["cai_completions"][i]["text"];
        assert_eq!(got, want.text.as_str(), "sentence {i}");
    }
    let health = raw::health(&server);
    assert!(health["batches"].as_u64().unwrap() >= 3, "{health}");
    assert!(health["largest_batch"].as_u64().unwrap() <= 2, "{health}");
}

/// A server for one cancellation test, and a request that would generate 400 tokens.
fn cancellation_case(stream: bool) -> (cai_serve::RunningServer, String) {
    let server = start(|_| {});
    let body = json!({"prompt": "Once upon a time", "max_tokens": 400, "temperature": 0,
                      "ignore_eos": true, "stream": stream});
    let request = raw::request(&server, "POST", "/v1/completions", &body);
    (server, request)
}

/// Runs a 5-token request after the hung-up one and checks that the engine dropped the first:
/// far fewer than its 400 tokens were generated, and the short request did not wait for them.
fn assert_cancelled(server: &cai_serve::RunningServer) {
    let started = Instant::now();
    let body = json!({"prompt": "1, 2, 3,", "max_tokens": 5, "temperature": 0, "ignore_eos": true});
    let (status, body) = read(
        http()
            .post(format!("{}/v1/completions", server.url()))
            .json(&body)
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200, "{body}");
    let health = raw::health(server);
    let tokens = health["new_tokens"].as_u64().unwrap();
    assert!(
        tokens < 200,
        "the hung-up request kept generating: {health}"
    );
    assert_eq!(health["cancelled"], 1, "{health}");
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[test]
fn a_streaming_client_that_hangs_up_leaves_the_batch() {
    let (server, request) = cancellation_case(true);
    let mut stream = connect(&server, Duration::from_secs(60));
    send(&mut stream, &request);
    // Read until two chunks of text have arrived, then hang up.
    let mut seen = String::new();
    let mut buf = [0u8; 4096];
    while seen.matches("\"text\"").count() < 3 {
        let n = std::io::Read::read(&mut stream, &mut buf).unwrap();
        assert!(n > 0, "closed early: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    drop(stream);
    assert_cancelled(&server);
}

#[test]
fn a_dropped_non_streaming_request_leaves_the_batch() {
    let (server, request) = cancellation_case(false);
    let mut stream = connect(&server, Duration::from_secs(60));
    send(&mut stream, &request);
    // Hang up once the engine has started on it.
    let deadline = Instant::now() + Duration::from_secs(30);
    while raw::health(&server)["batches"] == 0 {
        assert!(Instant::now() < deadline, "the request never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(stream);
    assert_cancelled(&server);
    // Nothing came back on a connection nobody reads; a fresh one is served normally.
    let mut again = connect(&server, Duration::from_secs(60));
    let short = json!({"prompt": "Hi", "max_tokens": 1});
    send(
        &mut again,
        &raw::request(&server, "POST", "/v1/completions", &short),
    );
    assert_eq!(read_response(&mut again).map(|r| r.0), Some(200));
}
