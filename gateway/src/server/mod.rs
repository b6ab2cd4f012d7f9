//! Accept loops: HTTPS through rustls (default) or plain HTTP, with the limits a server facing
//! untrusted clients needs, and a graceful drain.
//!
//! * A connection cap: at most [`ConnLimits::max_connections`] are served at once, lowered to
//!   what the open-file limit allows ([`files`]). Past it a
//!   client is not left hanging: a few more connections at a time get one `503 busy /
//!   too_many_connections` answer with `Retry-After` and are closed; beyond those, the connection
//!   is closed at once.
//! * The TLS handshake must end within 10 s (`connection.rs`); an HTTP/1 request head within the
//!   header timeout (counted from the connection's start or the end of the previous answer, so
//!   it also ends idle keep-alive connections); a connection with no request in progress for the
//!   idle timeout is closed, HTTP/2 included. An answer still being sent (an event stream) is a
//!   request in progress: a viewer is never cut for being quiet.
//! * Shutdown stops accepting, asks every connection to finish what it is doing, and waits up to
//!   [`DRAIN_TIMEOUT`].

mod connection;
pub mod files;
pub mod tls;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio_rustls::TlsAcceptor;

pub use connection::ConnLimits;

use self::connection::{Connection, DRAIN_TIMEOUT, OVERFLOW, OpenSlot, handshake, refuse};
use crate::metrics::Metrics;

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
