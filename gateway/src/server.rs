//! Accept loops: HTTPS through rustls (default) or plain HTTP, with the limits a server facing
//! untrusted clients needs, and a graceful drain.
//!
//! * A connection cap: at most [`ConnLimits::max_connections`] are served at once. Past it a
//!   client is not left hanging: a few more connections at a time get one `503 busy /
//!   too_many_connections` answer with `Retry-After` and are closed; beyond those, the connection
//!   is closed at once.
//! * The TLS handshake must end within [`HANDSHAKE_TIMEOUT`]; an HTTP/1 request head within the
//!   header timeout (counted from the connection's start or the end of the previous answer, so
//!   it also ends idle keep-alive connections); a connection with no request in progress for the
//!   idle timeout is closed, HTTP/2 included. An answer still being sent (an event stream) is a
//!   request in progress: a viewer is never cut for being quiet.
//! * Shutdown stops accepting, asks every connection to finish what it is doing, and waits up to
//!   [`DRAIN_TIMEOUT`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use hyper::body::{Frame, SizeHint};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio_rustls::TlsAcceptor;

use crate::error::ApiError;
use crate::metrics::Metrics;

/// How long a client has to finish its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long open connections get to finish after shutdown is asked.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections past the cap that may be waiting for their `503` at once.
const OVERFLOW: usize = 64;
/// How long a connection past the cap is kept to answer it.
const OVERFLOW_LINGER: Duration = Duration::from_secs(2);
/// How long a connection asked to close gets before it is dropped.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// Limits on connections (PROTOCOL.md §3, ARCHITECTURE.md; set in [`crate::config::Limits`]).
#[derive(Debug, Clone, Copy)]
pub struct ConnLimits {
    pub max_connections: usize,
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
}

/// Serve `app` on `listener` until `shutdown` resolves; TLS when `tls` is given.
pub async fn run(
    app: Router,
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    limits: ConnLimits,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let acceptor = tls.map(TlsAcceptor::from);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let overflow = Arc::new(Semaphore::new(OVERFLOW));
    let (stop, stopping) = watch::channel(false);
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    builder.http2().timer(TokioTimer::new());
    let mut warned: Option<tokio::time::Instant> = None;
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = tcp.set_nodelay(true);
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            metrics.connection_refused();
            if warned.is_none_or(|t| t.elapsed() > Duration::from_secs(10)) {
                warned = Some(tokio::time::Instant::now());
                tracing::warn!(
                    limit = limits.max_connections,
                    "connection cap reached: new clients get 503 until connections close \
                     (GATEWAY_MAX_CONNECTIONS)"
                );
            }
            if let Ok(permit) = Arc::clone(&overflow).try_acquire_owned() {
                let acceptor = acceptor.clone();
                tokio::spawn(refuse(tcp, acceptor, limits.max_connections, permit));
            }
            continue;
        };
        let conn = Connection {
            peer,
            limits,
            builder: builder.clone(),
            stopping: stopping.clone(),
            _slot: OpenSlot::new(slot, Arc::clone(&metrics)),
        };
        let app = app.clone();
        match acceptor.clone() {
            Some(acceptor) => {
                tokio::spawn(async move {
                    if let Some(stream) = handshake(&acceptor, tcp, peer).await {
                        conn.serve(stream, app).await;
                    }
                });
            }
            None => {
                tokio::spawn(conn.serve(tcp, app));
            }
        }
    }
    drop(listener);
    let _ = stop.send(true);
    // Every connection holds a slot until it ends: all slots back means all connections ended.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    tokio::select! {
        _ = slots.acquire_many(all) => {}
        () = tokio::time::sleep(DRAIN_TIMEOUT) => tracing::info!("closing connections still open after the drain timeout"),
    }
    Ok(())
}

async fn handshake(
    acceptor: &TlsAcceptor,
    tcp: tokio::net::TcpStream,
    peer: std::net::SocketAddr,
) -> Option<tokio_rustls::server::TlsStream<tokio::net::TcpStream>> {
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(s)) => Some(s),
        Ok(Err(e)) => {
            tracing::debug!(%peer, error = %e, "TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::debug!(%peer, "TLS handshake timed out");
            None
        }
    }
}

/// A connection's hold on the cap, counted in the metrics while held.
struct OpenSlot {
    _permit: OwnedSemaphorePermit,
    metrics: Arc<Metrics>,
}

impl OpenSlot {
    fn new(permit: OwnedSemaphorePermit, metrics: Arc<Metrics>) -> Self {
        metrics.connection_opened();
        Self {
            _permit: permit,
            metrics,
        }
    }
}

impl Drop for OpenSlot {
    fn drop(&mut self) {
        self.metrics.connection_closed();
    }
}

/// One accepted connection within the cap.
struct Connection {
    peer: std::net::SocketAddr,
    limits: ConnLimits,
    builder: auto::Builder<TokioExecutor>,
    stopping: watch::Receiver<bool>,
    _slot: OpenSlot,
}

impl Connection {
    /// Serve requests until the client leaves, the connection stays idle too long, or the
    /// server stops.
    async fn serve<IO>(mut self, io: IO, app: Router)
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let peer = self.peer;
        let (busy, mut busy_rx) = watch::channel(0usize);
        let busy = Arc::new(busy);
        // Handlers that need the client's address (the sign-in rate limit) read `ConnectInfo`;
        // every request counts as in progress until its answer has been sent.
        let service = TowerToHyperService::new(tower::util::MapResponse::new(
            tower::util::MapRequest::new(
                app,
                move |mut req: hyper::Request<hyper::body::Incoming>| {
                    req.extensions_mut()
                        .insert(axum::extract::ConnectInfo(peer));
                    req
                },
            ),
            {
                let busy = Arc::clone(&busy);
                move |resp: Response| {
                    let guard = InProgress::new(Arc::clone(&busy));
                    resp.map(|body| {
                        Body::new(Tracked {
                            inner: body,
                            _guard: guard,
                        })
                    })
                }
            },
        ));
        let conn = self
            .builder
            .serve_connection_with_upgrades(TokioIo::new(io), service)
            .into_owned();
        tokio::pin!(conn);
        let mut closing: Option<Pin<Box<tokio::time::Sleep>>> = None;
        loop {
            tokio::select! {
                ended = conn.as_mut() => {
                    if let Err(e) = ended {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                    return;
                }
                () = idle(&mut busy_rx, self.limits.idle_timeout), if closing.is_none() => {
                    tracing::debug!(%peer, "closing an idle connection");
                    conn.as_mut().graceful_shutdown();
                    closing = Some(Box::pin(tokio::time::sleep(CLOSE_GRACE)));
                }
                _ = self.stopping.wait_for(|s| *s), if closing.is_none() => {
                    conn.as_mut().graceful_shutdown();
                    // The server's drain timeout bounds this one.
                    closing = Some(Box::pin(tokio::time::sleep(DRAIN_TIMEOUT + CLOSE_GRACE)));
                }
                () = async { closing.as_mut().expect("set").await }, if closing.is_some() => return,
            }
        }
    }
}

/// Resolves once no request has been in progress for `timeout`.
async fn idle(busy: &mut watch::Receiver<usize>, timeout: Duration) {
    loop {
        if *busy.borrow_and_update() == 0 {
            tokio::select! {
                () = tokio::time::sleep(timeout) => return,
                changed = busy.changed() => if changed.is_err() { return },
            }
        } else if busy.changed().await.is_err() {
            return;
        }
    }
}

/// A request in progress on its connection, until its answer's body is dropped.
struct InProgress(Arc<watch::Sender<usize>>);

impl InProgress {
    fn new(busy: Arc<watch::Sender<usize>>) -> Self {
        busy.send_modify(|n| *n += 1);
        Self(busy)
    }
}

impl Drop for InProgress {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// An answer's body that keeps its request counted as in progress while it is sent.
struct Tracked {
    inner: Body,
    _guard: InProgress,
}

impl hyper::body::Body for Tracked {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A connection past the cap: answer its requests `503 too_many_connections` for a moment, then
/// close it.
async fn refuse(
    tcp: tokio::net::TcpStream,
    acceptor: Option<TlsAcceptor>,
    limit: usize,
    _permit: OwnedSemaphorePermit,
) {
    let peer = tcp
        .peer_addr()
        .unwrap_or_else(|_| std::net::SocketAddr::from(([0, 0, 0, 0], 0)));
    let service = hyper::service::service_fn(move |_req: hyper::Request<hyper::body::Incoming>| {
        let mut resp = ApiError::Busy {
            reason: "too_many_connections",
            message: format!(
                "the gateway serves at most {limit} connections at once; retry shortly"
            ),
            retry_after: 1,
        }
        .into_response();
        resp.headers_mut().insert(
            axum::http::header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
        std::future::ready(Ok::<_, std::convert::Infallible>(resp))
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().keep_alive(false);
    let serve = async {
        match acceptor {
            Some(acceptor) => {
                if let Some(stream) = handshake(&acceptor, tcp, peer).await {
                    let _ = builder
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                }
            }
            None => {
                let _ = builder.serve_connection(TokioIo::new(tcp), service).await;
            }
        }
    };
    let _ = tokio::time::timeout(OVERFLOW_LINGER + HANDSHAKE_TIMEOUT, serve).await;
}
