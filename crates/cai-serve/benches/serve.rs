//! Server benchmark (not a test): 16 concurrent clients, each sending 4 greedy NeMo `PUT /generate`
//! requests one after another with mixed lengths (8 to 128 new tokens, exactly), against the real
//! HTTP server on the default model, once with static batching (a batch runs to completion before
//! the next) and once with continuous batching (waiting requests join as rows finish). Reports
//! requests/s, new tokens/s and the p50/p99 request latency of each. Run through
//! `cargo xtask bench serve`; alone: `cargo bench -p cai-serve --bench serve -- OUT.json`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cai_model::{Engine, LoadOptions, LoadedModel, ModelSpec};
use cai_serve::{RunningServer, ServerConfig};
use serde_json::{Value, json};

const CLIENTS: usize = 16;
const REQUESTS_PER_CLIENT: usize = 4;
/// New tokens per request, by request number: every client's requests are a mix of short and long.
const LENGTHS: [u64; 8] = [8, 96, 16, 48, 128, 24, 64, 32];
const PROMPTS: [&str; 4] = [
    "Tell me about the history of the bicycle.",
    "How do I bake bread at home?",
    "What should I pack for a week of hiking?",
    "Explain how a refrigerator works.",
];

/// Latency quantile `q` of sorted `times`, in milliseconds.
fn quantile_ms(sorted: &[f64], q: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i] * 1000.0
}

fn one_request(client: &reqwest::blocking::Client, url: &str, n: usize) -> (f64, u64) {
    let tokens = LENGTHS[n % LENGTHS.len()];
    let body = json!({
        "sentences": [PROMPTS[n % PROMPTS.len()]],
        "tokens_to_generate": tokens,
        "min_tokens_to_generate": tokens,
        "greedy": true,
    });
    let started = Instant::now();
    let response = client.put(url).json(&body).send().expect("request");
    assert!(response.status().is_success(), "{}", response.status());
    let _: Value = response.json().expect("a JSON answer");
    (started.elapsed().as_secs_f64(), tokens)
}

/// Runs the clients against a fresh server with `continuous` batching.
fn measure(engine: &Arc<Engine>, continuous: bool) -> Value {
    let mut config = ServerConfig::new("smollm2");
    config.max_tokens_cap = 512;
    config.batch.continuous = continuous;
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let server = RunningServer::start(engine.clone(), config, addr).expect("server");
    let url = format!("{}/generate", server.url());
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()
        .unwrap();
    one_request(&client, &url, 0);
    let started = Instant::now();
    let results: Vec<(f64, u64)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..CLIENTS)
            .map(|c| {
                let (client, url) = (client.clone(), url.clone());
                scope.spawn(move || {
                    (0..REQUESTS_PER_CLIENT)
                        .map(|r| one_request(&client, &url, c * REQUESTS_PER_CLIENT + r + c))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let wall = started.elapsed().as_secs_f64();
    server.stop().expect("stopping the server");
    let mut times: Vec<f64> = results.iter().map(|r| r.0).collect();
    times.sort_by(f64::total_cmp);
    let tokens: u64 = results.iter().map(|r| r.1).sum();
    let out = json!({
        "requests_per_s": results.len() as f64 / wall,
        "new_tokens_per_s": tokens as f64 / wall,
        "p50_ms": quantile_ms(&times, 0.5),
        "p99_ms": quantile_ms(&times, 0.99),
        "wall_s": wall,
    });
    eprintln!(
        "{}: {out}",
        if continuous { "continuous" } else { "static" }
    );
    out
}

fn main() {
    let out_path = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with("--"))
        .unwrap_or_else(|| "target/bench/serve.json".into());
    let model = LoadedModel::load(&ModelSpec::Default, &LoadOptions::default()).expect("model");
    let engine = Arc::new(Engine::new(model));
    let static_batching = measure(&engine, false);
    let continuous = measure(&engine, true);
    let ratio =
        |key: &str| continuous[key].as_f64().unwrap() / static_batching[key].as_f64().unwrap();
    let result = json!({
        "clients": CLIENTS,
        "requests": CLIENTS * REQUESTS_PER_CLIENT,
        "static": static_batching,
        "continuous": continuous,
        "continuous_over_static": {
            "requests_per_s": ratio("requests_per_s"),
            "p50_ms": ratio("p50_ms"),
            "p99_ms": ratio("p99_ms"),
        },
    });
    if let Some(dir) = std::path::Path::new(&out_path).parent() {
        std::fs::create_dir_all(dir).expect("creating the output directory");
    }
    std::fs::write(&out_path, serde_json::to_string_pretty(&result).unwrap()).expect("writing");
    println!("{}", serde_json::to_string_pretty(&result).unwrap());
}
