//! The Python clients CAI users have: the tutorial's `requests.put(".../generate")` snippet and the
//! official `openai` package (pinned in `scripts/serve/requirements.txt`, installed into a venv by
//! `scripts/serve/setup-venv.sh` on first use).

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use cai_model::{Prompt, SamplingParams};
use serde_json::Value;

use super::common::*;

fn scripts() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/serve")
}

/// The venv's python (created once per test binary).
fn python() -> &'static str {
    static PYTHON: OnceLock<String> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let out = Command::new("bash")
            .arg(scripts().join("setup-venv.sh"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "setup-venv.sh failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .trim()
            .lines()
            .last()
            .unwrap()
            .to_string()
    })
}

/// Runs a script with a 120 s limit and parses its JSON output.
fn run(script: &str, args: &[String]) -> Value {
    let mut child = Command::new(python())
        .arg(scripts().join(script))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("{script} timed out");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{script} failed:\n{stderr}");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{script}: {e}\n{stderr}"))
}

#[test]
fn tutorial_snippet_runs_unchanged() {
    let port = server().addr().port().to_string();
    let out = run(
        "nemo_tutorial.py",
        &[port, "What is 2+2?".into(), "8".into()],
    );
    let prompt = out["prompt"].as_str().unwrap();
    let ids = engine().model().tokenizer.encode_raw(prompt).unwrap();
    let params = SamplingParams {
        end_strings: vec!["<extra_id_1>".into()],
        ..SamplingParams::greedy(8)
    };
    let want = reference(Prompt::Tokens(ids), params);
    let answer = format!("{}{}", want.text, want.stop_string.unwrap_or_default());
    assert_eq!(out["answer"], answer.as_str());
}

#[test]
fn openai_package_chats_streams_and_lists_models() {
    let question = "What is the capital of Italy?";
    let out = run(
        "openai_client.py",
        &[secured().url(), KEY.into(), question.into(), "8".into()],
    );
    let want = reference(user(question), SamplingParams::greedy(8));
    assert_eq!(out["models"], serde_json::json!(["smollm2"]));
    assert_eq!(out["chat"], want.text.as_str());
    assert_eq!(out["stream"], want.text.as_str());
    assert_eq!(out["chat_usage"]["prompt_tokens"], want.prompt_tokens);
    assert_eq!(out["chat_usage"]["completion_tokens"], want.token_ids.len());
    assert_eq!(out["stream_usage"], out["chat_usage"]);
    assert_eq!(out["chat_finish"], out["stream_finish"]);
    assert_eq!(
        out["chat_logprob_tokens"].as_array().unwrap().len(),
        want.token_ids.len()
    );
    let completion = reference(
        Prompt::Text("The capital of France is".into()),
        SamplingParams::greedy(8),
    );
    assert_eq!(out["completion"], completion.text.as_str());
}
