//! `RemoteGenerator` against the real server: both APIs give the engine's greedy output,
//! round-robin skips a dead endpoint through retries, and failures come back counted.

use std::net::TcpListener;
use std::time::Duration;

use cai_model::{GenerationRequest, Generator, Prompt, SamplingParams};
use cai_serve::{ClientError, RemoteApi, RemoteConfig, RemoteGenerator};

use super::common::*;

fn requests() -> Vec<GenerationRequest> {
    let stop = SamplingParams {
        end_strings: vec![".".into()],
        ..SamplingParams::greedy(8)
    };
    vec![
        GenerationRequest {
            prompt: Prompt::Text("The capital of France is".into()),
            params: stop,
        },
        GenerationRequest {
            prompt: user("Say hello."),
            params: SamplingParams::greedy(6),
        },
    ]
}

fn config(api: RemoteApi, endpoints: Vec<String>) -> RemoteConfig {
    RemoteConfig {
        timeout: Duration::from_secs(60),
        connect_timeout: Duration::from_secs(2),
        max_retries: 2,
        backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(100),
        ..RemoteConfig::new(api, endpoints)
    }
}

/// A loopback address nothing listens on.
fn dead_endpoint() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

#[test]
fn both_apis_reproduce_the_engine() {
    let want = engine().generate(&requests()).unwrap();
    for api in [RemoteApi::OpenAi, RemoteApi::Nemo] {
        let remote = RemoteGenerator::new(config(api, vec![server().url()])).unwrap();
        let generator: &dyn Generator = &remote;
        let got = generator.generate(&requests()).unwrap();
        for (g, w) in got.iter().zip(&want) {
            assert_eq!(g.text, w.text, "{api:?}");
            assert_eq!(g.finish_reason, w.finish_reason, "{api:?}");
            assert_eq!(g.stop_string, w.stop_string, "{api:?}");
            assert_eq!(g.prompt_tokens, w.prompt_tokens, "{api:?}");
        }
        if api == RemoteApi::Nemo {
            assert_eq!(got[0].token_ids, want[0].token_ids);
        }
        assert!(generator.describe().contains(&server().url()));
    }
}

#[test]
fn penalize_prompt_travels_over_both_apis() {
    let request = |penalize_prompt| GenerationRequest {
        prompt: Prompt::Text("Say apple three times: apple, apple,".into()),
        params: SamplingParams {
            repetition_penalty: 1.5,
            penalize_prompt,
            ..SamplingParams::greedy(8)
        },
    };
    let want = engine().generate(&[request(false)]).unwrap();
    let penalized = engine().generate(&[request(true)]).unwrap();
    assert_ne!(
        want[0].text, penalized[0].text,
        "the prompt's penalty must matter here"
    );
    for api in [RemoteApi::OpenAi, RemoteApi::Nemo] {
        let remote = RemoteGenerator::new(config(api, vec![server().url()])).unwrap();
        let got = remote.try_generate(&[request(false)]).unwrap();
        assert_eq!(got[0].text, want[0].text, "{api:?}");
    }
}

#[test]
fn round_robin_retries_past_a_dead_endpoint() {
    let endpoints = vec![dead_endpoint(), server().url()];
    let remote = RemoteGenerator::new(config(RemoteApi::OpenAi, endpoints)).unwrap();
    let requests: Vec<_> = (0..4).flat_map(|_| requests()).collect();
    let got = remote.try_generate(&requests).unwrap();
    assert_eq!(got.len(), requests.len());
}

#[test]
fn failures_are_typed_and_counted() {
    let remote = RemoteGenerator::new(config(RemoteApi::OpenAi, vec![dead_endpoint()])).unwrap();
    match remote.try_generate(&requests()) {
        Err(ClientError::Batch {
            failed: 2,
            total: 2,
            first,
        }) => {
            assert!(
                matches!(*first, ClientError::RetriesExhausted { attempts: 3, .. }),
                "{first}"
            );
        }
        other => panic!("expected a batch failure, got {other:?}"),
    }
    // A 400 is not retried and names the problem.
    let remote = RemoteGenerator::new(config(RemoteApi::OpenAi, vec![server().url()])).unwrap();
    let too_long = GenerationRequest {
        prompt: Prompt::Text("Hi".into()),
        params: SamplingParams::greedy(100_000),
    };
    match remote.generate_each(&[too_long]).remove(0) {
        Err(ClientError::Status {
            status: 400, body, ..
        }) => assert!(body.contains("max_tokens"), "{body}"),
        other => panic!("expected a 400, got {other:?}"),
    }
    // Through the Generator trait the error keeps the counts.
    let remote = RemoteGenerator::new(config(RemoteApi::Nemo, vec![dead_endpoint()])).unwrap();
    let err = Generator::generate(&remote, &requests())
        .unwrap_err()
        .to_string();
    assert!(err.contains("2 of 2 remote generations failed"), "{err}");
}

#[test]
fn the_api_key_is_sent() {
    let mut with_key = config(RemoteApi::OpenAi, vec![secured().url()]);
    let without = RemoteGenerator::new(with_key.clone()).unwrap();
    match without.generate_each(&requests()[..1]).remove(0) {
        Err(ClientError::Status { status: 401, .. }) => {}
        other => panic!("expected a 401, got {other:?}"),
    }
    with_key.api_key = Some(KEY.into());
    let remote = RemoteGenerator::new(with_key).unwrap();
    assert!(remote.try_generate(&requests()[..1]).is_ok());
}
