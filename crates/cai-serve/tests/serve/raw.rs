//! Helpers for the limit tests: servers with their own limits (over the shared engine), and raw
//! HTTP/1.1 over a `TcpStream` for what a well-behaved client never does (half headers, stalled
//! bodies, foreign Host headers, hanging up mid-response).

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, ExitStatus};
use std::sync::Arc;
use std::time::{Duration, Instant};

use cai_model::Engine;
use cai_serve::{RunningServer, ServerConfig};
use serde_json::Value;

use super::common::{config, engine};

/// A server of its own over `engine` with the test limits changed by `change`.
pub fn start_with(engine: Arc<Engine>, change: impl FnOnce(&mut ServerConfig)) -> RunningServer {
    let mut config = config();
    change(&mut config);
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    RunningServer::start(engine, config, addr).unwrap()
}

/// [`start_with`] over the shared engine.
pub fn start(change: impl FnOnce(&mut ServerConfig)) -> RunningServer {
    start_with(engine().clone(), change)
}

/// A connection to `server` whose reads give up after `timeout`.
pub fn connect(server: &RunningServer, timeout: Duration) -> TcpStream {
    let stream = TcpStream::connect(server.addr()).unwrap();
    stream.set_read_timeout(Some(timeout)).unwrap();
    stream
}

/// A full request with a JSON body (`Host` names the server as a client would).
pub fn request(server: &RunningServer, method: &str, path: &str, body: &Value) -> String {
    let body = body.to_string();
    format!(
        "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        server.addr(),
        body.len()
    )
}

/// Reads one response: its status and body (by `Content-Length`; chunked bodies are returned
/// raw up to the first empty chunk). `None` when the connection closes or the read times out
/// before a whole response arrived.
pub fn read_response(stream: &mut TcpStream) -> Option<(u16, String)> {
    let mut data = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some((status, body)) = parse(&data) {
            return Some((status, body));
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => data.extend_from_slice(&chunk[..n]),
        }
    }
}

fn parse(data: &[u8]) -> Option<(u16, String)> {
    let text = String::from_utf8_lossy(data);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    let lower = head.to_ascii_lowercase();
    if let Some(len) = lower
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
    {
        return (body.len() >= len).then(|| (status, body[..len].to_string()));
    }
    body.contains("\r\n0\r\n\r\n")
        .then(|| (status, body.to_string()))
}

/// Whether the server closes `stream` within `within` (reads see EOF or a reset); bytes it sends
/// first (an error response) are skipped.
pub fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    let mut buf = [0u8; 1024];
    while Instant::now() < deadline {
        let left = deadline.saturating_duration_since(Instant::now());
        stream
            .set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .unwrap();
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return false;
            }
            Err(_) => return true,
        }
    }
    false
}

/// Sends `text` on `stream`.
pub fn send(stream: &mut TcpStream, text: &str) {
    stream.write_all(text.as_bytes()).unwrap();
}

/// The open server's `/health` counters, read with a fresh client.
pub fn health(server: &RunningServer) -> Value {
    let resp = reqwest::blocking::get(format!("{}/health", server.url())).unwrap();
    resp.json().unwrap()
}

/// Sends SIGTERM to `child` and waits for it to exit, panicking after `within`.
pub fn terminate(child: &mut Child, within: Duration) -> ExitStatus {
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + within;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "no exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}
