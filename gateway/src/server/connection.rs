//! One accepted connection: its TLS handshake within a time limit, its hold on the connection
//! cap, its requests served until it leaves, idles too long or the server stops, and the short
//! `503` answer of a connection past the cap.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use hyper::body::{Frame, SizeHint};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{OwnedSemaphorePermit, watch};
use tokio_rustls::TlsAcceptor;

use crate::error::ApiError;
use crate::metrics::Metrics;

/// How long a client has to finish its TLS handshake.
pub(super) const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long open connections get to finish after shutdown is asked.
pub(super) const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);
/// Connections past the cap that may be waiting for their `503` at once.
pub(super) const OVERFLOW: usize = 64;
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

pub(super) async fn handshake(
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
pub(super) struct OpenSlot {
    _permit: OwnedSemaphorePermit,
    metrics: Arc<Metrics>,
}

impl OpenSlot {
    pub(super) fn new(permit: OwnedSemaphorePermit, metrics: Arc<Metrics>) -> Self {
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
pub(super) struct Connection {
    pub(super) peer: std::net::SocketAddr,
    pub(super) limits: ConnLimits,
    pub(super) builder: auto::Builder<TokioExecutor>,
    pub(super) stopping: watch::Receiver<bool>,
    pub(super) _slot: OpenSlot,
}

impl Connection {
    /// Serve requests until the client leaves, the connection stays idle too long, or the
    /// server stops.
    pub(super) async fn serve<IO>(mut self, io: IO, app: Router)
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
pub(super) async fn refuse(
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
