//! Connection hygiene: the accept loop behind [`crate::serve`]. Every connection is served by
//! hyper's HTTP/1 machinery under four limits ([`ConnectionLimits`]):
//!
//! - at most `max_connections` at once: beyond that the server stops accepting, and new
//!   connections wait in the kernel's backlog until one closes;
//! - a connection with no request in flight is closed after `keep_alive_timeout` without a byte,
//!   and a request's head (request line and headers) must arrive within `header_timeout` of its
//!   first byte ([`Watched`]); request bodies are bounded by `body_timeout` in
//!   [`crate::extract::ApiJson`];
//! - on shutdown, idle connections close at once, the others may finish their request within
//!   `shutdown_timeout`, and whatever is still open then is dropped.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker, ready};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::http::Request;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio::time::{Instant, Sleep};
use tower::ServiceExt;

/// Limits on connections; each has a `cai-serve` flag of the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Most time from a request's first byte to the end of its headers.
    pub header_timeout: Duration,
    /// Most time to receive a whole request body.
    pub body_timeout: Duration,
    /// Most time a connection may wait, with no request in flight, for its next request's first
    /// byte (the first request of a new connection included).
    pub keep_alive_timeout: Duration,
    /// Most connections open at once.
    pub max_connections: usize,
    /// Most time open requests get to finish after shutdown starts.
    pub shutdown_timeout: Duration,
}

impl Default for ConnectionLimits {
    /// Headers within 10 s, bodies within 30 s, idle connections closed after 15 s, 256
    /// connections, 30 s to finish on shutdown.
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            keep_alive_timeout: Duration::from_secs(15),
            max_connections: 256,
            shutdown_timeout: Duration::from_secs(30),
        }
    }
}

/// Serves `app` on `listener` under `limits` until `shutdown` resolves, then shuts down as the
/// module docs say.
pub async fn serve_connections(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let (closing_tx, closing) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        while connections.try_join_next().is_some() {}
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => permit.map_err(io::Error::other)?,
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!("accepting a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let closing = closing.clone();
        connections.spawn(async move {
            serve_one(stream, app, limits, closing).await;
            drop(permit);
        });
    }
    drop(listener);
    let _ = closing_tx.send(true);
    let open = connections.len();
    if open > 0 {
        tracing::info!(open, "waiting for open connections");
    }
    let drained = tokio::time::timeout(limits.shutdown_timeout, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            dropped = connections.len(),
            "connections still open after --shutdown-timeout; closing them"
        );
        connections.shutdown().await;
    }
    Ok(())
}

/// Serves one connection until it closes, starting a graceful close when `closing` turns true.
async fn serve_one(
    stream: TcpStream,
    app: Router,
    limits: ConnectionLimits,
    mut closing: watch::Receiver<bool>,
) {
    let activity = Arc::new(Activity::default());
    let io = TokioIo::new(Watched::new(stream, limits, activity.clone()));
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let guard = InFlight::start(activity.clone());
        let app = app.clone();
        async move {
            let response = app.oneshot(req.map(Body::new)).await?;
            Ok::<_, Infallible>(response.map(|body| Body::new(Tracked { body, guard })))
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    // The head's timeouts are Watched's (hyper's would count the idle wait before the head too).
    builder.header_read_timeout(None);
    let connection = builder.serve_connection(io, service);
    let mut connection = std::pin::pin!(connection);
    let mut graceful = false;
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!("connection closed: {e}");
                }
                return;
            }
            _ = closing.changed(), if !graceful => {
                graceful = true;
                connection.as_mut().graceful_shutdown();
            }
        }
    }
}

/// What a connection's service tells its I/O: requests in flight and requests finished, and
/// the reader to wake when a request finishes (so that its idle wait starts then).
#[derive(Debug, Default)]
struct Activity {
    in_flight: AtomicUsize,
    finished: AtomicU64,
    reader: Mutex<Option<Waker>>,
}

/// Counts one request as in flight until the response body is dropped (written or abandoned).
#[derive(Debug)]
struct InFlight(Arc<Activity>);

impl InFlight {
    fn start(activity: Arc<Activity>) -> Self {
        activity.in_flight.fetch_add(1, Ordering::SeqCst);
        Self(activity)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.finished.fetch_add(1, Ordering::SeqCst);
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
        let reader = self.0.reader.lock().ok().and_then(|mut w| w.take());
        if let Some(reader) = reader {
            reader.wake();
        }
    }
}

/// A response body that holds its request's [`InFlight`] guard.
struct Tracked {
    body: Body,
    guard: InFlight,
}

impl HttpBody for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let _ = &self.guard;
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// Where a connection without a request in flight stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wait {
    /// Waiting for the first byte of a request (deadline: keep-alive timeout).
    Idle,
    /// Bytes of a request's head have arrived (deadline: header timeout).
    Head,
}

/// A TCP stream that fails its reads with `TimedOut` when, with no request in flight, no byte
/// arrives within the keep-alive timeout, or a begun request head is not complete within the
/// header timeout. hyper then closes the connection.
struct Watched {
    stream: TcpStream,
    limits: ConnectionLimits,
    activity: Arc<Activity>,
    /// Requests finished when the current wait began.
    seen: u64,
    wait: Wait,
    deadline: Pin<Box<Sleep>>,
}

impl Watched {
    fn new(stream: TcpStream, limits: ConnectionLimits, activity: Arc<Activity>) -> Self {
        Self {
            stream,
            limits,
            activity,
            seen: 0,
            wait: Wait::Idle,
            deadline: Box::pin(tokio::time::sleep(limits.keep_alive_timeout)),
        }
    }

    fn set_wait(&mut self, wait: Wait) {
        let timeout = match wait {
            Wait::Idle => self.limits.keep_alive_timeout,
            Wait::Head => self.limits.header_timeout,
        };
        self.wait = wait;
        self.deadline.as_mut().reset(Instant::now() + timeout);
    }

    /// Whether a request is in flight; a request finished since the last look starts a new
    /// idle wait.
    fn busy(&mut self) -> bool {
        let finished = self.activity.finished.load(Ordering::SeqCst);
        if finished != self.seen {
            self.seen = finished;
            self.set_wait(Wait::Idle);
        }
        self.activity.in_flight.load(Ordering::SeqCst) > 0
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.stream).poll_read(cx, buf);
        let busy = this.busy();
        match polled {
            Poll::Ready(Ok(())) => {
                if !busy && this.wait == Wait::Idle && buf.filled().len() > before {
                    this.set_wait(Wait::Head);
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending if busy => {
                if let Ok(mut reader) = this.activity.reader.lock() {
                    *reader = Some(cx.waker().clone());
                }
                Poll::Pending
            }
            Poll::Pending => {
                ready!(this.deadline.as_mut().poll(cx));
                let (what, flag) = match this.wait {
                    Wait::Idle => ("no request", "keep-alive-timeout"),
                    Wait::Head => ("incomplete request headers", "header-timeout"),
                };
                tracing::debug!("closing a connection: {what} within --{flag}");
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("{what} within --{flag}"),
                )))
            }
        }
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, data)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}
