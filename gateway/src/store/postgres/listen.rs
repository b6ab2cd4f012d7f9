//! The channel between the gateway processes on one database: PostgreSQL's LISTEN/NOTIFY.
//!
//! Sending: one task takes messages from an unbounded queue and sends whatever has queued as one
//! `SELECT pg_notify(…) FROM unnest(…)` on a pooled connection, so a burst costs one round trip
//! and messages leave in the order they were queued; `send` never waits for the database.
//! Listening: a dedicated connection (not the pool's: it must stay open and idle in `LISTEN`)
//! forwards every notification; it says [`Heard::Connected`] once it listens, and when the
//! connection breaks it reconnects with backoff and says so again: what was sent meanwhile is
//! lost. Each message carries the
//! sending process's random origin, so a process does not hear itself.

use std::time::Duration;

use deadpool_postgres::Pool;
use tokio::sync::mpsc;
use tokio_postgres::AsyncMessage;

use crate::store::{Channel, Heard};

/// The PostgreSQL channel name.
const CHANNEL: &str = "gateway_live";
/// Most messages sent in one statement.
const SEND_BATCH: usize = 256;
/// Longest wait between two attempts to reconnect the listener.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// LISTEN/NOTIFY on the store's database.
pub(super) struct PgChannel {
    origin: String,
    outbox: mpsc::UnboundedSender<String>,
    config: tokio_postgres::Config,
    tls: super::tls::Tls,
}

impl PgChannel {
    /// A channel that sends on `pool`'s connections and listens on connections of its own to
    /// `config`. Needs a tokio runtime.
    pub(super) fn start(
        pool: Pool,
        config: tokio_postgres::Config,
        tls: super::tls::Tls,
    ) -> Result<Self, String> {
        let origin = super::codec::random_id("").map_err(|e| e.to_string())?;
        let (outbox, queue) = mpsc::unbounded_channel();
        tokio::spawn(send_forever(pool, queue));
        Ok(Self {
            origin,
            outbox,
            config,
            tls,
        })
    }
}

impl Channel for PgChannel {
    fn send(&self, message: String) {
        // Fails only when the sending task is gone with the runtime.
        let _ = self.outbox.send(format!("{} {message}", self.origin));
    }

    fn listen(&self) -> mpsc::Receiver<Heard> {
        let (tx, rx) = mpsc::channel(1024);
        tokio::spawn(listen_forever(
            self.config.clone(),
            self.tls.clone(),
            self.origin.clone(),
            tx,
        ));
        rx
    }
}

async fn send_forever(pool: Pool, mut queue: mpsc::UnboundedReceiver<String>) {
    let mut batch = Vec::with_capacity(SEND_BATCH);
    while queue.recv_many(&mut batch, SEND_BATCH).await > 0 {
        let sent = match pool.get().await {
            Ok(conn) => conn
                .execute(
                    "SELECT pg_notify($1, m) FROM unnest($2::text[]) WITH ORDINALITY AS t (m, n)
                     ORDER BY n",
                    &[&CHANNEL, &batch],
                )
                .await
                .map(|_| ())
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = sent {
            // The receivers catch up from the store (streams reconcile, long polls time out).
            tracing::warn!(error = %e, lost = batch.len(), "could not notify the other gateways");
        }
        batch.clear();
    }
}

async fn listen_forever(
    mut config: tokio_postgres::Config,
    tls: super::tls::Tls,
    origin: String,
    heard: mpsc::Sender<Heard>,
) {
    // A server that vanished without closing the connection is noticed within a minute.
    config.keepalives_idle(Duration::from_secs(20));
    let mut backoff = Duration::from_millis(100);
    loop {
        match config.connect(tls.clone()).await {
            Ok((client, mut connection)) => {
                let (tx, mut rx) = mpsc::unbounded_channel();
                let pump = tokio::spawn(async move {
                    loop {
                        match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                            Some(Ok(AsyncMessage::Notification(n))) => {
                                if tx.send(n.payload().to_string()).is_err() {
                                    return None;
                                }
                            }
                            Some(Ok(_)) => {}
                            Some(Err(e)) => return Some(e.to_string()),
                            None => return Some("the server closed the connection".into()),
                        }
                    }
                });
                if let Err(e) = client.batch_execute(&format!("LISTEN {CHANNEL}")).await {
                    tracing::warn!(error = %e, "could not listen to the other gateways");
                } else {
                    backoff = Duration::from_millis(100);
                    if heard.send(Heard::Connected).await.is_err() {
                        return;
                    }
                    tracing::info!("listening to the other gateways");
                    while let Some(payload) = rx.recv().await {
                        let Some((from, message)) = payload.split_once(' ') else {
                            continue;
                        };
                        if from != origin
                            && heard
                                .send(Heard::Message(message.to_string()))
                                .await
                                .is_err()
                        {
                            return;
                        }
                    }
                }
                drop(client);
                if let Ok(Some(why)) = pump.await {
                    tracing::warn!(error = %why, "lost the connection that hears the other gateways");
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not connect to hear the other gateways"),
        }
        if heard.is_closed() {
            return;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}
