//! OpenAI routes with reqwest: greedy outputs equal the engine's, exact usage, stop strings,
//! seeds, `n`, log-probs, token prompts, `/v1/models`, `/health` and the API key.

use cai_model::{FinishReason, Prompt, SamplingParams};
use serde_json::json;

use super::common::*;

#[test]
fn chat_greedy_matches_the_engine_with_exact_usage() {
    let (status, body) = post(
        "/v1/chat/completions",
        &json!({"model": "smollm2", "messages": [{"role": "user", "content": "What is 2+2?"}],
                "temperature": 0, "max_tokens": 10}),
    );
    assert_eq!(status, 200, "{body}");
    let want = reference(user("What is 2+2?"), SamplingParams::greedy(10));
    let choice = &body["choices"][0];
    assert_eq!(choice["message"]["role"], "assistant");
    assert_eq!(choice["message"]["content"], want.text.as_str());
    let reason = if want.finish_reason == FinishReason::Length {
        "length"
    } else {
        "stop"
    };
    assert_eq!(choice["finish_reason"], reason);
    assert_eq!(body["object"], "chat.completion");
    assert_eq!(body["usage"]["prompt_tokens"], want.prompt_tokens);
    assert_eq!(body["usage"]["completion_tokens"], want.token_ids.len());
    assert_eq!(
        body["usage"]["total_tokens"],
        want.prompt_tokens + want.token_ids.len()
    );
}

#[test]
fn stop_strings_cut_the_text_and_are_reported() {
    let prompt = "The capital of France is";
    let full = reference(Prompt::Text(prompt.into()), SamplingParams::greedy(12));
    // A stop string taken from the middle of the greedy continuation.
    let stop: String = full.text.chars().skip(4).take(4).collect();
    let (status, body) = post(
        "/v1/completions",
        &json!({"prompt": prompt, "max_tokens": 12, "temperature": 0, "stop": [stop]}),
    );
    assert_eq!(status, 200, "{body}");
    let choice = &body["choices"][0];
    let cut = &full.text[..full.text.find(&stop).unwrap()];
    assert_eq!(choice["text"], cut);
    assert_eq!(choice["finish_reason"], "stop");
    assert_eq!(choice["stop_reason"], stop.as_str());
}

#[test]
fn seeds_make_sampling_repeatable_and_n_gives_distinct_choices() {
    let body = json!({"prompt": "Once upon a time", "max_tokens": 6, "temperature": 1.0,
                      "seed": 1234, "n": 3});
    let (status, first) = post("/v1/completions", &body);
    assert_eq!(status, 200, "{first}");
    let (_, second) = post("/v1/completions", &body);
    let texts = |b: &serde_json::Value| -> Vec<String> {
        b["choices"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["text"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(texts(&first), texts(&second));
    assert_eq!(texts(&first).len(), 3);
    let indexes: Vec<u64> = first["choices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["index"].as_u64().unwrap())
        .collect();
    assert_eq!(indexes, [0, 1, 2]);
    // Choice i samples with seed + i, exactly like the engine.
    let want = reference(
        Prompt::Text("Once upon a time".into()),
        SamplingParams {
            random_seed: Some(1235),
            tokens_to_generate: 6,
            ..SamplingParams::default()
        },
    );
    assert_eq!(texts(&first)[1], want.text);
    // n choices count the prompt once.
    assert_eq!(first["usage"]["prompt_tokens"], want.prompt_tokens);
}

#[test]
fn chat_top_logprobs_are_sorted_and_contain_the_greedy_token() {
    let (status, body) = post(
        "/v1/chat/completions",
        &json!({"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
                "temperature": 0, "max_tokens": 5, "logprobs": true, "top_logprobs": 3}),
    );
    assert_eq!(status, 200, "{body}");
    let content = body["choices"][0]["logprobs"]["content"]
        .as_array()
        .unwrap();
    assert_eq!(
        content.len(),
        body["usage"]["completion_tokens"].as_u64().unwrap() as usize
    );
    for entry in content {
        let top = entry["top_logprobs"].as_array().unwrap();
        assert_eq!(top.len(), 3);
        let values: Vec<f64> = top.iter().map(|t| t["logprob"].as_f64().unwrap()).collect();
        assert!(values.windows(2).all(|w| w[0] >= w[1]), "{values:?}");
        assert_eq!(top[0]["token"], entry["token"]);
        assert!((values[0] - entry["logprob"].as_f64().unwrap()).abs() < 2e-3);
    }
}

#[test]
fn completions_take_several_prompts_token_ids_echo_and_logprobs() {
    let tokenizer = &engine().model().tokenizer;
    let ids = tokenizer.encode("The sky is").unwrap();
    let (status, body) = post(
        "/v1/completions",
        &json!({"prompt": [ids.clone(), tokenizer.encode("Water is").unwrap()], "max_tokens": 4,
                "temperature": 0, "n": 2, "logprobs": 2}),
    );
    assert_eq!(status, 200, "{body}");
    let choices = body["choices"].as_array().unwrap();
    assert_eq!(choices.len(), 4);
    let want = reference(Prompt::Tokens(ids), SamplingParams::greedy(4));
    assert_eq!(choices[0]["text"], want.text.as_str());
    assert_eq!(choices[1]["text"], want.text.as_str());
    let lp = &choices[0]["logprobs"];
    assert_eq!(lp["tokens"].as_array().unwrap().len(), want.token_ids.len());
    assert_eq!(lp["top_logprobs"][0].as_object().unwrap().len(), 2);
    let (status, echoed) = post(
        "/v1/completions",
        &json!({"prompt": "The sky is", "max_tokens": 4, "temperature": 0, "echo": true}),
    );
    assert_eq!(status, 200, "{echoed}");
    assert_eq!(
        echoed["choices"][0]["text"],
        format!("The sky is{}", want.text)
    );
}

#[test]
fn models_and_health() {
    let (status, models) = read(http().get(url("/v1/models")).send().unwrap());
    assert_eq!(status, 200);
    assert_eq!(models["object"], "list");
    assert_eq!(models["data"][0]["id"], "smollm2");
    let (status, health) = read(http().get(url("/health")).send().unwrap());
    assert_eq!(status, 200);
    assert_eq!(health["status"], "ok");
}

#[test]
fn api_key_is_required_except_for_health() {
    let base = secured().url();
    let body = json!({"prompt": "Hi", "max_tokens": 1});
    let (status, err) = read(
        http()
            .post(format!("{base}/v1/completions"))
            .json(&body)
            .send()
            .unwrap(),
    );
    assert_eq!(status, 401);
    assert_eq!(err["error"]["type"], "authentication_error");
    let wrong = http()
        .get(format!("{base}/v1/models"))
        .bearer_auth("nope")
        .send()
        .unwrap();
    assert_eq!(wrong.status().as_u16(), 401);
    let (status, _) = read(
        http()
            .post(format!("{base}/v1/completions"))
            .bearer_auth(KEY)
            .json(&body)
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200);
    let (status, _) = read(http().get(format!("{base}/health")).send().unwrap());
    assert_eq!(status, 200);
}
