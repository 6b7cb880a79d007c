//! The HTTP server: shared state, the router, graceful shutdown, and [`RunningServer`] (a server
//! on its own thread and runtime, for tests and for embedding in other tools).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::from_fn_with_state;
use axum::routing::{get, post, put};
use cai_model::Engine;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
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
                .make_span_with(DefaultMakeSpan::new().level(Level::INFO))
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .with_state(state)
}

/// Serves `state` on `listener` until `shutdown` resolves, then lets open requests finish.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
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
