//! Exposure (issue 19, point 6): bodies must be `application/json` (415 otherwise), loopback
//! servers answer only loopback Host headers, a public bind without an API key is refused, and
//! the log shows request paths without their query strings.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::common::*;
use super::raw::{connect, read_response, send, terminate};

#[test]
fn bodies_that_are_not_json_get_415() {
    let json_text = json!({"prompt": "Hi", "max_tokens": 1}).to_string();
    let cases = [
        ("POST", "/v1/completions", Some("text/plain")),
        (
            "POST",
            "/v1/chat/completions",
            Some("text/plain;charset=UTF-8"),
        ),
        (
            "POST",
            "/v1/completions",
            Some("application/x-www-form-urlencoded"),
        ),
        ("PUT", "/generate", Some("multipart/form-data; boundary=x")),
        ("PUT", "/generate", None),
    ];
    for (method, path, content_type) in cases {
        let mut req = http().request(method.parse().unwrap(), url(path));
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let (status, body) = read(req.body(json_text.clone()).send().unwrap());
        assert_eq!(status, 415, "{method} {path} {content_type:?}: {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("application/json"), "{message}");
    }
    let (status, body) = read(
        http()
            .post(url("/v1/completions"))
            .header("content-type", "application/json; charset=utf-8")
            .body(json_text)
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200, "{body}");
}

#[test]
fn loopback_servers_answer_only_loopback_host_headers() {
    let server = server();
    let port = server.addr().port();
    let get = |host: &str| {
        let mut stream = connect(server, Duration::from_secs(30));
        send(
            &mut stream,
            &format!("GET /v1/models HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"),
        );
        read_response(&mut stream).expect("no response")
    };
    for host in [
        format!("localhost:{port}"),
        format!("127.0.0.1:{port}"),
        format!("[::1]:{port}"),
    ] {
        assert_eq!(get(&host).0, 200, "{host}");
    }
    for host in [
        format!("evil.example:{port}"),
        format!("localhost.evil.example:{port}"),
        "localhost".to_string(),
    ] {
        let (status, body) = get(&host);
        assert_eq!(status, 403, "{host}: {body}");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert!(body["error"]["message"].as_str().unwrap().contains("Host"));
    }
}

#[test]
fn a_public_bind_without_a_key_is_refused_at_startup() {
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_cai-serve"))
        .args(["--host", "0.0.0.0", "--port", "0"])
        .env_remove("CAI_SERVE_API_KEY")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("without an API key"), "{stderr}");
    assert!(stderr.contains("--allow-public-without-key"), "{stderr}");
    // Refused before the model is loaded.
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[test]
fn the_log_has_paths_without_query_strings_and_sigterm_ends_a_half_open_connection() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_cai-serve"))
        .args([
            "--port",
            "0",
            "--header-timeout",
            "60",
            "--keep-alive-timeout",
            "60",
        ])
        .args(["--shutdown-timeout", "1"])
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let first = lines.next().expect("no startup line").unwrap();
    let url = first
        .strip_prefix("cai-serve listening on ")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("unexpected startup line: {first}"))
        .to_string();
    let (status, _) = read(
        http()
            .get(format!("{url}/v1/models?api_key=hunter2"))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 200);
    // Half a request head, then SIGTERM: the shutdown deadline ends it.
    let addr = url.trim_start_matches("http://");
    let mut half = std::net::TcpStream::connect(addr).unwrap();
    std::io::Write::write_all(&mut half, b"GET /health HTTP/1.1\r\nHost: ").unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let status = terminate(&mut child, Duration::from_secs(10));
    assert!(status.success(), "{status}");
    let mut log = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut log).unwrap();
    assert!(log.contains("/v1/models"), "{log}");
    assert!(!log.contains("hunter2"), "{log}");
}
