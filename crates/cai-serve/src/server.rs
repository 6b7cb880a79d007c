//! The HTTP server: shared state, the router (with the Host check of loopback servers), graceful
//! shutdown, and [`RunningServer`] (a server on its own thread and runtime, for tests and for
//! embedding in other tools). Connections are served by [`crate::conn`] under the configured
//! timeouts and cap.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::header::HOST;
use axum::middleware::{Next, from_fn_with_state};
use axum::response::Response;
use axum::routing::{get, post, put};
use cai_model::Engine;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::api;
use crate::config::ServerConfig;
use crate::error::{Result, ServeError};
use crate::queue::EngineQueue;

/// What every handler sees.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The engine queue.
    pub queue: EngineQueue,
    /// Limits and defaults.
    pub config: Arc<ServerConfig>,
    /// Unix time the server started.
    pub started: u64,
}

impl AppState {
    /// Starts the engine thread for `engine` and wraps it with `config`.
    pub fn new(engine: Arc<Engine>, config: ServerConfig) -> Result<Self> {
        let (queue, _thread) = EngineQueue::start(engine, config.batch)?;
        Ok(Self {
            queue,
            config: Arc::new(config),
            started: unix_now(),
        })
    }
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// All routes: NeMo's `PUT /generate`, the OpenAI routes, `/health`.
pub fn router(state: AppState) -> Router {
    let limit = state.config.max_body_bytes;
    Router::new()
        .route("/generate", put(api::nemo::generate))
        .route("/v1/chat/completions", post(api::openai::chat::complete))
        .route("/v1/completions", post(api::openai::completions::complete))
        .route("/v1/models", get(api::models))
        .route_layer(from_fn_with_state(state.clone(), crate::auth::require_key))
        .route("/health", get(api::health))
        .fallback(api::not_found)
        .method_not_allowed_fallback(api::method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        .layer(
            TraceLayer::new_for_http()
                // The path only: a query string may carry secrets and does not belong in logs.
                .make_span_with(|req: &Request| {
                    tracing::info_span!("request", method = %req.method(), path = %req.uri().path())
                })
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .with_state(state)
}

/// [`router`] as served on `local`: on a loopback address, only requests whose Host names a
/// loopback host with the server's port are answered (a web page that reached the server through
/// DNS rebinding sends its own host name).
pub fn app(state: AppState, local: SocketAddr) -> Router {
    let app = router(state);
    if local.ip().is_loopback() {
        app.layer(from_fn_with_state(local.port(), check_host))
    } else {
        app
    }
}

/// Middleware of [`app`] on loopback addresses.
async fn check_host(
    State(port): State<u16>,
    req: Request,
    next: Next,
) -> std::result::Result<Response, ServeError> {
    let host = req
        .uri()
        .authority()
        .map(|a| a.as_str().to_string())
        .or_else(|| {
            let value = req.headers().get(HOST)?;
            Some(String::from_utf8_lossy(value.as_bytes()).into_owned())
        })
        .unwrap_or_default();
    if !loopback_host(&host, port) {
        let shown = if host.is_empty() { "(none)" } else { &host };
        return Err(ServeError::ForbiddenHost(shown.chars().take(100).collect()));
    }
    Ok(next.run(req).await)
}

/// Whether `host` (a Host header) is `localhost`, `127.0.0.1` or `[::1]` with `port` (or with no
/// port when `port` is 80).
pub fn loopback_host(host: &str, port: u16) -> bool {
    let (name, given) = match host.rfind(':') {
        Some(colon) if !host[colon..].contains(']') => (&host[..colon], Some(&host[colon + 1..])),
        _ => (host, None),
    };
    let name_ok = name.eq_ignore_ascii_case("localhost") || name == "127.0.0.1" || name == "[::1]";
    let port_ok = match given {
        Some(given) => given.parse::<u16>() == Ok(port),
        None => port == 80,
    };
    name_ok && port_ok
}

/// Serves `state` on `listener` until `shutdown` resolves, then lets open requests finish within
/// the configured shutdown timeout. Refuses a non-loopback address without an API key
/// ([`ServerConfig::check_bind`]).
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let local = listener.local_addr()?;
    state
        .config
        .check_bind(local)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::PermissionDenied, e.to_string()))?;
    let limits = state.config.connections;
    crate::conn::serve_connections(listener, app(state, local), limits, shutdown).await
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!("cannot listen for Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing open requests");
}

/// A server running on its own thread; stopped (gracefully) by [`RunningServer::stop`] or on drop.
#[derive(Debug)]
pub struct RunningServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<std::io::Result<()>>>,
}

impl RunningServer {
    /// Binds `addr` (port 0 picks a free one) and serves `engine` with `config`.
    pub fn start(engine: Arc<Engine>, config: ServerConfig, addr: SocketAddr) -> Result<Self> {
        config.check_bind(addr)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| ServeError::Setup(format!("tokio runtime: {e}")))?;
        let listener = runtime
            .block_on(TcpListener::bind(addr))
            .map_err(|e| ServeError::Setup(format!("binding {addr}: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| ServeError::Setup(format!("local address: {e}")))?;
        let state = AppState::new(engine, config)?;
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("cai-serve-http".into())
            .spawn(move || {
                runtime.block_on(serve(listener, state, async {
                    let _ = stopped.await;
                }))
            })
            .map_err(|e| ServeError::Setup(format!("starting the server thread: {e}")))?;
        Ok(Self {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting connections, waits for open requests, and returns the server's result.
    pub fn stop(mut self) -> std::io::Result<()> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> std::io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.thread.take() {
            Some(thread) => thread
                .join()
                .unwrap_or_else(|_| Err(std::io::Error::other("server thread panicked"))),
            None => Ok(()),
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::loopback_host;

    #[test]
    fn only_loopback_names_with_the_port() {
        for ok in [
            "localhost:5555",
            "LocalHost:5555",
            "127.0.0.1:5555",
            "[::1]:5555",
        ] {
            assert!(loopback_host(ok, 5555), "{ok}");
        }
        for bad in [
            "evil.example:5555",
            "localhost:80",
            "localhost",
            "127.0.0.1.evil.example:5555",
            "[::1]",
            "",
        ] {
            assert!(!loopback_host(bad, 5555), "{bad}");
        }
        assert!(loopback_host("localhost", 80));
    }
}
