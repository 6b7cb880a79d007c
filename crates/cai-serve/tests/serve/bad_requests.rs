//! Bad requests get a 4xx with a JSON error naming the problem, and the server keeps serving;
//! unknown fields are ignored, not rejected.

use serde_json::json;

use super::common::*;

/// (method, route, body, expected status, text the message must contain).
#[rustfmt::skip]
const CASES: &[(&str, &str, &str, u16, &str)] = &[
    ("PUT", "/generate", "{not json", 400, "invalid JSON"),
    ("PUT", "/generate", "", 400, "invalid JSON"),
    ("PUT", "/generate", r#"{"sentences": "hi"}"#, 400, "sentences"),
    ("PUT", "/generate", r#"{"sentences": []}"#, 400, "sentences"),
    ("PUT", "/generate", r#"{"sentences": [""]}"#, 400, "empty"),
    ("PUT", "/generate", r#"{"sentences": ["hi"], "tokens_to_generate": -5}"#, 400, "tokens_to_generate"),
    ("PUT", "/generate", r#"{"sentences": ["hi"], "tokens_to_generate": "ten"}"#, 400, "tokens_to_generate"),
    ("PUT", "/generate", r#"{"sentences": ["hi"], "tokens_to_generate": 100000000000}"#, 400, "tokens_to_generate"),
    ("PUT", "/generate", r#"{"sentences": ["hi"], "temperature": -1}"#, 400, "temperature"),
    ("PUT", "/generate", r#"{"sentences": ["hi"], "top_p": 2}"#, 400, "top_p"),
    ("PUT", "/generate", r#"{"sentences": ["hi"], "all_probs": true}"#, 400, "all_probs"),
    ("PUT", "/generate", r#"{"sentences": ["hi"], "end_strings": [""]}"#, 400, "end_strings"),
    ("PUT", "/generate", r#"{"sentences": [{"role": ["User"], "content": []}]}"#, 400, "sentences[0]"),
    ("POST", "/v1/chat/completions", r#"{"messages": []}"#, 400, "messages"),
    ("POST", "/v1/chat/completions", r#"{"messages": [{"role": "tool", "content": "x"}]}"#, 400, "role"),
    ("POST", "/v1/chat/completions", r#"{"messages": [{"role": "user", "content": 5}]}"#, 400, "messages"),
    ("POST", "/v1/chat/completions", r#"{"messages": [{"role": "user", "content": "x"}], "n": 0}"#, 400, "n"),
    ("POST", "/v1/chat/completions", r#"{"messages": [{"role": "user", "content": "x"}], "max_tokens": 1e9}"#, 400, "max_tokens"),
    ("POST", "/v1/chat/completions", r#"{"messages": [{"role": "user", "content": "x"}], "top_logprobs": 50, "logprobs": true}"#, 400, "top_logprobs"),
    ("POST", "/v1/chat/completions", r#"{"messages": [{"role": "user", "content": "x"}], "stream": "yes"}"#, 400, "stream"),
    ("POST", "/v1/completions", r#"{"prompt": "x", "max_tokens": 600}"#, 400, "max_tokens"),
    ("POST", "/v1/completions", r#"{"prompt": [], "max_tokens": 1}"#, 400, "prompt"),
    ("POST", "/v1/completions", r#"{"prompt": [[]], "max_tokens": 1}"#, 400, "empty"),
    ("POST", "/v1/completions", r#"{"prompt": [99999999], "max_tokens": 1}"#, 400, "vocabulary"),
    ("POST", "/v1/completions", r#"{"max_tokens": 1}"#, 400, "prompt"),
    ("POST", "/v1/completions", r#"{"prompt": "x", "temperature": null, "seed": "1"}"#, 400, "seed"),
    ("GET", "/v1/completions", "", 405, "not allowed"),
    ("POST", "/v2/nothing", "{}", 404, "no route"),
];

#[test]
fn bad_requests_get_4xx_json_and_the_server_keeps_serving() {
    let client = http();
    for &(method, route, body, status, needle) in CASES {
        let builder = match method {
            "PUT" => client.put(url(route)),
            "POST" => client.post(url(route)),
            _ => client.get(url(route)),
        };
        let resp = builder
            .header("content-type", "application/json")
            .body(body)
            .send()
            .unwrap();
        let (got, json) = read(resp);
        assert_eq!(got, status, "{method} {route} {body}: {json}");
        let message = json["error"]["message"].as_str().unwrap();
        assert!(
            message.contains(needle),
            "{method} {route} {body}: `{message}` lacks `{needle}`"
        );
    }
    // Prompt + max tokens beyond the context is the caller's fault too.
    let long = "word ".repeat(9000);
    let (status, json) = post("/v1/completions", &json!({"prompt": long, "max_tokens": 8}));
    assert_eq!(status, 400, "{json}");
    // Too large a body.
    let huge = "x".repeat(2 << 20);
    let (status, json) = post("/v1/completions", &json!({"prompt": huge}));
    assert_eq!(status, 413, "{json}");
    // Still serving.
    let (status, body) = post(
        "/v1/completions",
        &json!({"prompt": "Hi", "max_tokens": 2, "temperature": 0}),
    );
    assert_eq!(status, 200, "{body}");
}

#[test]
fn unknown_fields_are_ignored() {
    let (status, body) = post(
        "/v1/chat/completions",
        &json!({"messages": [{"role": "user", "content": "Hi", "name": "bob"}], "max_tokens": 2,
                "temperature": 0, "user": "someone", "frequency_penalty": 0, "metadata": {"a": 1}}),
    );
    assert_eq!(status, 200, "{body}");
    let (status, body) = put(
        "/generate",
        &json!({"sentences": ["Hi"], "tokens_to_generate": 2, "greedy": true, "task_ids": [0]}),
    );
    assert_eq!(status, 200, "{body}");
}
