//! `cai-critique` generating through real `cai-serve` servers (no mocks): the SL-CAI stage's
//! library entry point with `endpoints` set gives schema-valid outputs identical to an in-process
//! run (greedy), shares batches among two servers, resumes without a single request, and fails on an
//! unreachable endpoint with an error naming its URL and no partial output.

use std::path::Path;
use std::time::Instant;

use cai_critique::{Backend, Config, Inputs, Summary};
use cai_data::schema::Schema;
use cai_e2e::{dead_endpoint, model, start_server};
use cai_serve::RemoteApi;
use serde_json::Value;

/// The final files of a run (`summary.json` aside, whose `run` differs).
const FILES: [&str; 4] = ["trace.jsonl", "sl_cai.jsonl", "sft.jsonl", "rejects.jsonl"];

/// Three built-in red-team prompts, one round, one demonstration, 24 greedy tokens, two helpfulness
/// samples per SL-CAI sample; batches of two prompts (so two batches).
fn config(out: &Path, endpoints: Vec<String>) -> Config {
    let mut config = Config {
        out: out.to_path_buf(),
        limit: Some(3),
        rounds: 1,
        batch_size: 2,
        few_shot: Some(1),
        helpfulness_ratio: Some(2.0),
        endpoints,
        ..Config::default()
    };
    config.sampling.tokens_to_generate = 24;
    assert!(config.sampling.greedy);
    config
}

/// Runs the stage through its library entry point, reusing the test binary's model for the engine
/// when there are no endpoints (with endpoints the stage reads only the model's tokenizer and
/// template, to count tokens).
fn run(config: &Config) -> cai_critique::Result<Summary> {
    let started = Instant::now();
    let inputs = Inputs::load(config)?;
    let model = Backend::loads_model(config).then(|| model().clone());
    let backend = Backend::with_model(config, model)?;
    let summary = cai_critique::run(config, &inputs, &backend.environment(), &mut ());
    eprintln!(
        "{} via {:?}: {:.1}s",
        config.out.display(),
        config.endpoints,
        started.elapsed().as_secs_f64()
    );
    summary
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn files(out: &Path) -> Vec<String> {
    FILES.iter().map(|f| read(&out.join(f))).collect()
}

fn summary_json(out: &Path) -> Value {
    serde_json::from_str(&read(&out.join("summary.json"))).unwrap()
}

/// Requests a server has generated (`/health`: `jobs`).
fn jobs(url: &str) -> u64 {
    let health: Value = reqwest::blocking::get(format!("{url}/health"))
        .and_then(|r| r.json())
        .unwrap();
    health["jobs"].as_u64().unwrap()
}

#[test]
fn two_endpoints_reproduce_the_engine_and_resume_without_requests() {
    let dir = tempfile::tempdir().unwrap();
    let (local_out, remote_out) = (dir.path().join("local"), dir.path().join("remote"));

    let local = run(&config(&local_out, Vec::new())).unwrap();
    assert_eq!(local.run.prompts_generated, 3);

    let servers = [start_server(), start_server()];
    let urls: Vec<String> = servers.iter().map(|s| s.url()).collect();
    let remote_config = config(&remote_out, urls.clone());
    let remote = run(&remote_config).unwrap();
    assert_eq!(remote.run.prompts_generated, 3);
    assert_eq!(remote.settings_hash, local.settings_hash);

    // Greedy: the same traces, samples, blend and rejects as in process, byte for byte.
    assert_eq!(files(&remote_out), files(&local_out));
    let counts = &remote.counts;
    assert_eq!(counts.traces, 3);
    for (schema, file, records) in [
        ("sl-cai-trace", "trace.jsonl", counts.traces),
        ("chat-sample", "sl_cai.jsonl", counts.sl_cai_samples),
        ("chat-sample", "sft.jsonl", counts.blend),
    ] {
        let report = Schema::load(schema)
            .and_then(|s| s.validate_file(&remote_out.join(file)))
            .unwrap();
        assert!(
            report.errors.is_empty() && report.records == records as u64,
            "{file} against {schema}: {} records, errors {:?}",
            report.records,
            report.errors
        );
    }
    assert_eq!(counts.helpfulness_used, 2 * counts.sl_cai_samples);

    // summary.json records the endpoints; the local run the model.
    let summary = summary_json(&remote_out);
    assert_eq!(summary["generator"]["kind"], "endpoints");
    assert_eq!(summary["generator"]["api"], "nemo");
    assert_eq!(summary["generator"]["endpoints"], serde_json::json!(urls));
    assert!(
        summary["generators"][0]
            .as_str()
            .unwrap()
            .contains(&urls[1])
    );
    let local_summary = summary_json(&local_out);
    assert_eq!(local_summary["generator"]["kind"], "local");
    assert_eq!(local_summary["generator"]["model"], "default");

    // Both servers took part: 2 batches × 3 calls, one request per conversation (3 prompts × 3).
    let served: Vec<u64> = urls.iter().map(|u| jobs(u)).collect();
    assert_eq!(served.iter().sum::<u64>(), 9, "{served:?}");
    assert!(served.iter().all(|&n| n > 0), "{served:?}");

    // Re-running resumes: nothing generated, no request sent, the same files.
    let again = run(&remote_config).unwrap();
    assert_eq!(
        (again.run.prompts_generated, again.run.prompts_resumed),
        (0, 3)
    );
    assert_eq!(urls.iter().map(|u| jobs(u)).collect::<Vec<_>>(), served);
    assert_eq!(files(&remote_out), files(&local_out));
}

#[test]
fn the_openai_api_gives_the_same_traces() {
    let dir = tempfile::tempdir().unwrap();
    let (nemo_out, openai_out) = (dir.path().join("nemo"), dir.path().join("openai"));
    let server = start_server();
    run(&config(&nemo_out, vec![server.url()])).unwrap();
    let mut openai = config(&openai_out, vec![format!("{}/v1", server.url())]);
    openai.api = RemoteApi::OpenAi;
    openai.remote_model = "smollm2".into();
    let summary = run(&openai).unwrap();
    assert_eq!(summary.run.prompts_generated, 3);
    assert_eq!(
        read(&openai_out.join("trace.jsonl")),
        read(&nemo_out.join("trace.jsonl"))
    );
    let generator = &summary_json(&openai_out)["generator"];
    assert_eq!(
        (&generator["api"], &generator["remote_model"]),
        (&"openai".into(), &"smollm2".into())
    );
}

#[test]
fn an_unreachable_endpoint_is_named_and_leaves_no_partial_output() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let dead = dead_endpoint();
    let mut config = config(&out, vec![dead.clone()]);
    // No token counting: nothing local is loaded, only the client is built.
    config.max_seq_length = 0;
    assert!(!Backend::loads_model(&config));
    let err = run(&config).unwrap_err().to_string();
    eprintln!("error: {err}");
    assert!(err.contains(&format!("{dead}/generate")), "{err}");
    assert!(err.contains("initial response"), "{err}");
    assert!(err.contains("gave up after 5 attempts"), "{err}");
    for file in FILES.iter().chain(&["summary.json"]) {
        assert!(
            !out.join(file).exists(),
            "{file} written after a failed run"
        );
    }
    let log = out.join("progress.jsonl");
    assert!(
        !log.exists() || read(&log).is_empty(),
        "the work log holds results"
    );
}
