//! Shared fixtures: the engine and servers (started once per test binary), an HTTP client, the
//! in-process greedy reference, and an SSE reader.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use cai_model::{
    Engine, Generation, GenerationRequest, LoadOptions, LoadedModel, ModelSpec, Prompt,
    SamplingParams,
};
use cai_serve::{RunningServer, ServerConfig};
use reqwest::blocking::{Client, Response};
use serde_json::Value;

/// The API key of [`secured`].
pub const KEY: &str = "test-key-0123";

/// The default SmolLM2 engine, loaded once.
pub fn engine() -> &'static Arc<Engine> {
    static ENGINE: OnceLock<Arc<Engine>> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let model = LoadedModel::load(&ModelSpec::Default, &LoadOptions::default()).unwrap();
        Arc::new(Engine::new(model))
    })
}

/// Limits used by the test servers.
pub fn config() -> ServerConfig {
    let mut config = ServerConfig::new("smollm2");
    config.default_max_tokens = 8;
    config.max_tokens_cap = 512;
    config.max_body_bytes = 1 << 20;
    config
}

fn start(config: ServerConfig) -> RunningServer {
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    RunningServer::start(engine().clone(), config, addr).unwrap()
}

/// The open test server.
pub fn server() -> &'static RunningServer {
    static SERVER: OnceLock<RunningServer> = OnceLock::new();
    SERVER.get_or_init(|| start(config()))
}

/// A server that requires [`KEY`].
pub fn secured() -> &'static RunningServer {
    static SERVER: OnceLock<RunningServer> = OnceLock::new();
    SERVER.get_or_init(|| {
        let mut config = config();
        config.api_key = Some(KEY.into());
        start(config)
    })
}

/// `http://127.0.0.1:PORT/PATH` on the open server.
pub fn url(path: &str) -> String {
    format!("{}{path}", server().url())
}

/// A blocking HTTP client with a bounded timeout.
pub fn http() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap()
}

/// POSTs JSON to the open server and returns (status, body).
pub fn post(path: &str, body: &Value) -> (u16, Value) {
    read(http().post(url(path)).json(body).send().unwrap())
}

/// PUTs JSON to the open server and returns (status, body).
pub fn put(path: &str, body: &Value) -> (u16, Value) {
    read(http().put(url(path)).json(body).send().unwrap())
}

/// Status and JSON body (panics if the body is not JSON).
pub fn read(resp: Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let text = resp.text().unwrap();
    let body =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("non-JSON body ({e}): {text}"));
    (status, body)
}

/// In-process greedy generation, one request at a time.
pub fn reference(prompt: Prompt, params: SamplingParams) -> Generation {
    engine()
        .generate(&[GenerationRequest { prompt, params }])
        .unwrap()
        .remove(0)
}

/// A chat prompt of one user message.
pub fn user(text: &str) -> Prompt {
    Prompt::Chat(vec![cai_model::Message::user(text)])
}

/// The `data:` payloads of an SSE response, up to and including `[DONE]`.
pub fn sse_events(resp: Response) -> Vec<String> {
    assert_eq!(resp.status().as_u16(), 200);
    let content_type = resp.headers()["content-type"].to_str().unwrap().to_string();
    assert!(
        content_type.starts_with("text/event-stream"),
        "{content_type}"
    );
    let mut out = Vec::new();
    for line in BufReader::new(resp).lines() {
        let line = line.unwrap();
        if let Some(data) = line.strip_prefix("data: ") {
            out.push(data.to_string());
            if data == "[DONE]" {
                break;
            }
        }
    }
    out
}
