//! The `cai-serve` binary: prints where it listens, serves, and exits cleanly on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use super::common::*;
use super::raw::terminate;

#[test]
fn prints_its_address_serves_and_stops_on_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cai-serve"))
        .args(["--port", "0", "--model-name", "bin-test"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let first = rx
        .recv_timeout(Duration::from_secs(120))
        .expect("no startup line");
    let url = first
        .strip_prefix("cai-serve listening on ")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("unexpected startup line: {first}"))
        .to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    assert!(first.contains("(model bin-test, "), "{first}");
    let (status, models) = read(http().get(format!("{url}/v1/models")).send().unwrap());
    assert_eq!(status, 200);
    assert_eq!(models["data"][0]["id"], "bin-test");
    let body = serde_json::json!({"prompt": "Hi", "max_tokens": 2, "temperature": 0});
    let (status, _) = read(
        http()
            .post(format!("{url}/v1/completions"))
            .json(&body)
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200);
    let status = terminate(&mut child, Duration::from_secs(30));
    assert!(status.success(), "{status}");
    reader.join().unwrap();
    let rest: Vec<String> = rx.try_iter().collect();
    assert!(rest.iter().any(|l| l == "cai-serve stopped"), "{rest:?}");
}
