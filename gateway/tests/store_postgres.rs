//! The store conformance suite (`store/conformance.rs`) on the PostgreSQL backend: each case
//! gets a database of its own, created on the server `GATEWAY_TEST_POSTGRES` names (default
//! `postgres://postgres@127.0.0.1:5432/postgres`) and dropped after the case. Where no server
//! answers, every case prints a loud SKIP line and passes: the suite needs a server, the
//! machine may have none. (The database helper is `support/postgres.rs`.)

mod store;
mod support;

use std::sync::Arc;

use gateway::store::Store;
use gateway::store::postgres::PgStore;
use store::conformance::{Database, Opening};
use support::postgres::Postgres;

impl Database for Postgres {
    fn open(&self) -> Opening<'_> {
        Box::pin(async move {
            let store: Arc<dyn Store> = Arc::new(
                PgStore::open_with(
                    gateway::store::postgres::tls::Settings {
                        config: self.config(),
                        tls: gateway::store::postgres::tls::connector(
                            gateway::store::postgres::tls::Verify::Nothing,
                            None,
                        )
                        .unwrap(),
                    },
                    8,
                )
                .await
                .expect("the database opens"),
            );
            store
        })
    }

    fn unavailable(&self) -> Option<String> {
        self.why_unavailable()
    }
}

store::conformance_tests!(Postgres::new());

/// What only a shared store has: the channel between the processes on one database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_channel_carries_messages_in_order_to_the_other_processes_only() {
    use gateway::store::{Channel, Heard};
    use std::time::Duration;

    let db = Postgres::new();
    if store::conformance::skipped(&db, "the_channel_carries_messages") {
        return;
    }
    let (a, b) = (db.open().await, db.open().await);
    let (ca, cb) = (a.channel().expect("shared"), b.channel().expect("shared"));
    let (mut ha, mut hb) = (ca.listen(), cb.listen());
    /// Sends probes until the other side hears one: its listener is then in place.
    async fn until_heard(from: &Arc<dyn Channel>, to: &mut tokio::sync::mpsc::Receiver<Heard>) {
        for n in 0.. {
            from.send(format!("probe {n}"));
            if let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(100), to.recv()).await {
                return;
            }
            assert!(n < 100, "no probe heard in 10 s");
        }
    }
    until_heard(&ca, &mut hb).await;
    until_heard(&cb, &mut ha).await;
    let drain = |rx: &mut tokio::sync::mpsc::Receiver<Heard>| while rx.try_recv().is_ok() {};
    drain(&mut ha);
    drain(&mut hb);
    for word in ["one", "two", "three"] {
        ca.send(word.into());
    }
    let mut got = Vec::new();
    while got.len() < 3 {
        match tokio::time::timeout(Duration::from_secs(10), hb.recv()).await {
            Ok(Some(Heard::Message(m))) if m.starts_with("probe") => {}
            Ok(Some(Heard::Connected)) => {}
            Ok(Some(Heard::Message(m))) => got.push(m),
            other => panic!("b heard {other:?}"),
        }
    }
    assert_eq!(got, ["one", "two", "three"], "in the order sent");
    cb.send("end".into());
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ha.recv()).await {
            Ok(Some(Heard::Message(m))) if m.starts_with("probe") => {}
            Ok(Some(Heard::Connected)) => {}
            Ok(Some(Heard::Message(m))) => {
                assert_eq!(m, "end", "a never hears its own messages");
                break;
            }
            other => panic!("a heard {other:?}"),
        }
    }
}
