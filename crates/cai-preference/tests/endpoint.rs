//! Labelling through a judge endpoint: a scripted OpenAI-compatible server on loopback (real
//! HTTP) answers `/v1/completions` with log-probs (paper mode) and `/v1/chat/completions` with
//! NeMo's JSON (nemo mode). Checked: labels and their orientation, failures counted by reason,
//! the API key from a file sent as a bearer token, and a dead endpoint failing before any
//! candidate is sampled.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};

use cai_data::{Generator, PreferenceRecord};
use cai_judge::{NemoJudge, RemoteJudge};
use cai_preference::run::{Judge, judge_remote_config};
use cai_preference::{Config, Mode, run};
use common::FakePolicy;
use serde_json::{Value, json};

/// What the scripted server saw: path, `Authorization` header, body.
type Seen = Arc<Mutex<Vec<(String, String, Value)>>>;

/// Starts a scripted server; `answer(path, body)` gives the JSON to send back.
fn serve(answer: fn(&str, &Value) -> Value) -> (String, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen: Seen = Arc::default();
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let log = log.clone();
            std::thread::spawn(move || respond(stream, answer, &log));
        }
    });
    (url, seen)
}

/// Reads one HTTP/1.1 request and answers it, closing the connection.
fn respond(mut stream: TcpStream, answer: fn(&str, &Value) -> Value, seen: &Seen) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
    let (mut length, mut auth) = (0usize, String::new());
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).unwrap();
        if header.trim().is_empty() {
            break;
        }
        let (name, value) = header.split_once(':').unwrap_or(("", ""));
        match name.to_ascii_lowercase().as_str() {
            "content-length" => length = value.trim().parse().unwrap(),
            "authorization" => auth = value.trim().to_string(),
            _ => {}
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).unwrap();
    let body: Value = serde_json::from_slice(&body).unwrap();
    let reply = answer(&path, &body).to_string();
    seen.lock().unwrap().push((path, auth, body));
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        reply.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(reply.as_bytes()).unwrap();
}

/// `/v1/completions`: P(A) = 0.8 when option (A) is the good answer, else 0.2; prompts about
/// ties get neither letter among the alternatives.
fn completions(_: &str, body: &Value) -> Value {
    let prompt = body["prompt"].as_str().unwrap_or("");
    let a = prompt
        .lines()
        .rev()
        .find(|l| l.starts_with("(A) "))
        .unwrap_or("");
    let alternatives = if prompt.contains("tie") {
        json!({"The": -0.1, "It": -2.0})
    } else if a.contains("good") {
        json!({"A": 0.8f64.ln(), "B": 0.2f64.ln()})
    } else {
        json!({"A": 0.2f64.ln(), "B": 0.8f64.ln()})
    };
    json!({"id": "c", "object": "text_completion", "created": 0, "model": "judge",
           "choices": [{"index": 0, "text": "A", "finish_reason": "length", "logprobs": {
               "tokens": ["A"], "token_logprobs": [-0.2], "text_offset": [0],
               "top_logprobs": [alternatives]}}]})
}

/// `/v1/chat/completions`: NeMo's answer naming the good candidate chosen and the bad one
/// rejected; a prompt about ties gets prose, one about "question 3" names one candidate twice.
fn chat(_: &str, body: &Value) -> Value {
    let user = body["messages"][1]["content"].as_str().unwrap_or("");
    let number_of = |word: &str| {
        user.split("\n #")
            .skip(1)
            .find(|part| part.contains(word))
            .and_then(|part| part.split(':').next())
            .unwrap_or("0")
            .to_string()
    };
    let content = if user.contains("tie") {
        "I like both of them.".to_string()
    } else if user.contains("question 3") {
        format!("{{\"chosen\": {0}, \"rejected\": {0}}}", number_of("good"))
    } else if user.is_empty() {
        "OK".to_string()
    } else {
        format!(
            "{{\"chosen\": {}, \"rejected\": {}}} The first is kinder.",
            number_of("good"),
            number_of("bad")
        )
    };
    json!({"id": "c", "object": "chat.completion", "created": 0, "model": "judge",
           "choices": [{"index": 0, "finish_reason": "stop",
                        "message": {"role": "assistant", "content": content}}]})
}

fn write_prompts(path: &Path) {
    let lines: Vec<String> = ["question 0", "question 1", "a tie question", "question 3"]
        .iter()
        .enumerate()
        .map(|(i, p)| json!({"id": format!("p{i}"), "prompt": p}).to_string())
        .collect();
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
}

fn config(dir: &Path, url: &str, mode: Mode) -> Config {
    let key = dir.join("key.txt");
    std::fs::write(&key, "secret-judge-key\n").unwrap();
    write_prompts(&dir.join("prompts.jsonl"));
    Config {
        prompts_file: Some(dir.join("prompts.jsonl")),
        output_dir: dir.join("out"),
        judge_endpoint: Some(url.to_string()),
        judge_api_key_file: Some(key),
        mode,
        batch_size: 2,
        ensemble: 1,
        helpful_ratio: 0.0,
        ..Config::default()
    }
}

/// A run over the fake policy with `judge`.
fn label(cfg: &Config, judge: Judge<'_>) -> cai_preference::Summary {
    let inputs = cai_preference::read_inputs(cfg).unwrap();
    let policy = FakePolicy::default();
    run(
        cfg,
        inputs,
        &[&policy as &dyn Generator],
        judge,
        &mut |_| {},
    )
    .unwrap()
}

fn records(dir: &Path) -> Vec<PreferenceRecord> {
    std::fs::read_to_string(dir.join("out/ai_preferences.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn paper_mode_labels_from_the_endpoints_log_probs() {
    let (url, seen) = serve(completions);
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &url, Mode::Paper);
    let judge = RemoteJudge::new(judge_remote_config(&cfg, &url).unwrap()).unwrap();
    judge.probe().unwrap();
    let summary = label(&cfg, Judge::Options(&judge));
    // Four prompts, each with a good and a bad candidate: one pair each; the tie prompt's
    // judgements have no option among the alternatives (two orders, counted once per pair).
    assert_eq!(summary.counts.pairs_judged, 3, "{summary:?}");
    assert_eq!(summary.counts.dropped.no_option_probability, 1);
    let records = records(dir.path());
    assert_eq!(records.len(), 3);
    for r in &records {
        assert!(
            r.chosen.starts_with("good") && r.rejected.starts_with("bad"),
            "{r:?}"
        );
        let p = r.judge.as_ref().unwrap().chosen_score.unwrap();
        assert!((p - 0.8).abs() < 1e-6, "½(0.8 + 1 − 0.2) = 0.8, got {p}");
    }
    let seen = seen.lock().unwrap();
    assert!(
        seen.iter()
            .all(|(path, auth, _)| path == "/v1/completions" && auth == "Bearer secret-judge-key")
    );
    assert!(seen.iter().all(|(_, _, body)| {
        body["prompt"]
            .as_str()
            .unwrap()
            .ends_with("The answer is: (")
    }));
    let trl = std::fs::read_to_string(dir.path().join("out/train.trl.jsonl")).unwrap();
    let first: Value = serde_json::from_str(trl.lines().next().unwrap()).unwrap();
    assert_eq!(first["chosen"][0]["role"], "assistant");
}

#[test]
fn nemo_mode_takes_hard_labels_and_counts_what_it_drops() {
    let (url, seen) = serve(chat);
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &url, Mode::Nemo);
    let constitution = cai_data::Constitution::builtin();
    let remote = judge_remote_config(&cfg, &url).unwrap();
    let judge = NemoJudge::new(remote, &constitution.judge_principles, 64).unwrap();
    let summary = label(&cfg, Judge::Nemo(&judge));
    assert_eq!(summary.counts.pairs_judged, 2, "{summary:?}");
    assert_eq!(summary.counts.dropped.unparseable_answer, 1);
    assert_eq!(summary.counts.dropped.same_choice, 1);
    for r in records(dir.path()) {
        assert!(
            r.chosen.starts_with("good") && r.rejected.starts_with("bad"),
            "{r:?}"
        );
        assert_eq!(r.judge.as_ref().unwrap().chosen_score, Some(1.0));
        assert!(r.judge.unwrap().explanation.unwrap().contains("kinder"));
    }
    let seen = seen.lock().unwrap();
    let (path, auth, body) = &seen[0];
    assert_eq!(path, "/v1/chat/completions");
    assert_eq!(auth, "Bearer secret-judge-key");
    assert_eq!(body["messages"][0]["role"], "system");
    assert!(
        body["messages"][0]["content"]
            .as_str()
            .unwrap()
            .contains("CONSTITUTION")
    );
    assert_eq!(body["temperature"], 0.0);
}

#[test]
fn a_dead_judge_endpoint_fails_before_any_candidate_is_sampled() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path(), &url, Mode::Paper);
    cfg.request_timeout_secs = 5;
    let inputs = cai_preference::read_inputs(&cfg).unwrap();
    let err = cai_preference::load_and_run(&cfg, inputs, &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(err.contains(&url), "{err}");
    assert!(!dir.path().join("out/worklog.jsonl").exists());
}
