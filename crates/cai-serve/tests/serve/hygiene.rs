//! Connection hygiene (issue 19, point 2), each against a server of its own with timeouts of about
//! a second: idle and half-header connections are closed, a stalled body gets a 408, connections
//! beyond the cap wait until one closes, and shutdown finishes with a half-open connection.

use std::time::{Duration, Instant};

use serde_json::json;

use super::raw::{self, closed_within, connect, read_response, send, start};

const SHORT: Duration = Duration::from_millis(800);

fn short_timeouts(c: &mut cai_serve::ServerConfig) {
    c.connections.header_timeout = SHORT;
    c.connections.body_timeout = SHORT;
    c.connections.keep_alive_timeout = SHORT;
}

#[test]
fn idle_connections_close_after_the_keep_alive_timeout() {
    let server = start(short_timeouts);
    // A connection that never sends anything.
    let mut silent = connect(&server, Duration::from_secs(5));
    let started = Instant::now();
    assert!(closed_within(&mut silent, Duration::from_secs(4)));
    assert!(started.elapsed() >= SHORT / 2, "{:?}", started.elapsed());
    // A kept-alive connection after its request.
    let mut kept = connect(&server, Duration::from_secs(5));
    send(
        &mut kept,
        &format!("GET /health HTTP/1.1\r\nHost: {}\r\n\r\n", server.addr()),
    );
    assert_eq!(read_response(&mut kept).map(|r| r.0), Some(200));
    assert!(closed_within(&mut kept, Duration::from_secs(4)));
}

#[test]
fn a_request_head_sent_byte_by_byte_is_cut_at_the_header_timeout() {
    let server = start(|c| {
        short_timeouts(c);
        // Long enough that only the header timeout can end it.
        c.connections.keep_alive_timeout = Duration::from_secs(60);
    });
    let mut slow = connect(&server, Duration::from_secs(5));
    send(
        &mut slow,
        &format!("GET /health HTTP/1.1\r\nHost: {}\r\n", server.addr()),
    );
    let started = Instant::now();
    // A header byte every 200 ms keeps the connection busy but never finishes the head.
    let mut closed = false;
    while started.elapsed() < Duration::from_secs(5) {
        if std::io::Write::write_all(&mut slow, b"X").is_err() {
            closed = true;
            break;
        }
        if closed_within(&mut slow, Duration::from_millis(200)) {
            closed = true;
            break;
        }
    }
    assert!(closed, "a slow head was not cut");
    assert!(started.elapsed() < Duration::from_secs(4));
}

#[test]
fn a_stalled_body_gets_408() {
    let server = start(short_timeouts);
    let mut stalled = connect(&server, Duration::from_secs(5));
    send(
        &mut stalled,
        &format!(
            "POST /v1/completions HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
             Content-Length: 100\r\n\r\n{{\"prompt\": ",
            server.addr()
        ),
    );
    let started = Instant::now();
    let (status, body) = read_response(&mut stalled).expect("no response");
    assert_eq!(status, 408, "{body}");
    assert!(body.contains("--body-timeout"), "{body}");
    assert!(started.elapsed() < Duration::from_secs(4));
}

#[test]
fn connections_beyond_the_cap_wait_until_one_closes() {
    let server = start(|c| {
        c.connections.max_connections = 2;
        c.connections.keep_alive_timeout = Duration::from_millis(1500);
    });
    let idle: Vec<_> = (0..2)
        .map(|_| connect(&server, Duration::from_secs(5)))
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    let mut third = connect(&server, Duration::from_millis(500));
    send(
        &mut third,
        &format!("GET /health HTTP/1.1\r\nHost: {}\r\n\r\n", server.addr()),
    );
    assert_eq!(read_response(&mut third), None, "served beyond the cap");
    // Once the idle connections time out, the waiting one is accepted and served.
    let mut fourth = connect(&server, Duration::from_secs(6));
    send(
        &mut fourth,
        &format!("GET /health HTTP/1.1\r\nHost: {}\r\n\r\n", server.addr()),
    );
    assert_eq!(read_response(&mut fourth).map(|r| r.0), Some(200));
    drop(idle);
}

#[test]
fn shutdown_finishes_despite_a_half_open_connection() {
    let server = start(|c| {
        // Neither timeout can end the connection; only the shutdown deadline can.
        c.connections.header_timeout = Duration::from_secs(60);
        c.connections.keep_alive_timeout = Duration::from_secs(60);
        c.connections.shutdown_timeout = Duration::from_millis(500);
    });
    let mut half = connect(&server, Duration::from_secs(5));
    send(
        &mut half,
        &format!("GET /health HTTP/1.1\r\nHost: {}\r\n", server.addr()),
    );
    let body = json!({"prompt": "Hi", "max_tokens": 1});
    let mut fine = connect(&server, Duration::from_secs(60));
    send(
        &mut fine,
        &raw::request(&server, "POST", "/v1/completions", &body),
    );
    assert_eq!(read_response(&mut fine).map(|r| r.0), Some(200));
    std::thread::sleep(Duration::from_millis(100));
    let started = Instant::now();
    server.stop().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(closed_within(&mut half, Duration::from_secs(2)));
}
