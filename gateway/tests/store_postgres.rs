//! The store conformance suite (`store/conformance.rs`) on the PostgreSQL backend: each case
//! gets a database of its own, created on the server `GATEWAY_TEST_POSTGRES` names (default
//! `postgres://postgres@127.0.0.1:5432/postgres`) and dropped after the case. Where no server
//! answers, every case prints a loud SKIP line and passes: the suite needs a server, the
//! machine may have none.

mod store;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use gateway::store::Store;
use gateway::store::postgres::PgStore;
use store::conformance::{Database, Opening};

/// The server the tests use, as a URL to its maintenance database.
fn server_url() -> String {
    std::env::var("GATEWAY_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A database of its own on the test server, dropped with this value.
struct Postgres {
    server: tokio_postgres::Config,
    name: String,
    /// Why the server cannot be used, found when the value was made.
    unavailable: Option<String>,
}

impl Postgres {
    fn new() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "gw_conformance_{}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0)
        );
        let server = gateway::store::postgres::config(&server_url()).expect("a PostgreSQL URL");
        let unavailable = on_the_side({
            let server = server.clone();
            let name = name.clone();
            async move {
                let client = connect(&server).await?;
                client
                    .batch_execute(&format!("CREATE DATABASE {name}"))
                    .await
                    .map_err(|e| format!("cannot create a database: {e}"))
            }
        })
        .err();
        Self {
            server,
            name,
            unavailable,
        }
    }
}

/// Runs `work` on a runtime of its own on another thread: a test's runtime is busy running the
/// test (construction) or going away (drop).
fn on_the_side<T: Send + 'static>(
    work: impl std::future::Future<Output = T> + Send + 'static,
) -> T {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(work)
    })
    .join()
    .expect("the side thread")
}

async fn connect(config: &tokio_postgres::Config) -> Result<tokio_postgres::Client, String> {
    let connecting = config.connect(tokio_postgres::NoTls);
    let (client, connection) = tokio::time::timeout(std::time::Duration::from_secs(5), connecting)
        .await
        .map_err(|_| "no PostgreSQL server answered within 5 s".to_string())?
        .map_err(|e| format!("no PostgreSQL server to connect to ({e})"))?;
    tokio::spawn(connection);
    Ok(client)
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if self.unavailable.is_some() {
            return;
        }
        let server = self.server.clone();
        let name = self.name.clone();
        let dropped = on_the_side(async move {
            let client = connect(&server).await?;
            client
                .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await
                .map_err(|e| e.to_string())
        });
        if let Err(e) = dropped {
            eprintln!("could not drop test database {}: {e}", self.name);
        }
    }
}

impl Database for Postgres {
    fn open(&self) -> Opening<'_> {
        Box::pin(async move {
            let mut config = self.server.clone();
            config.dbname(&self.name);
            let store: Arc<dyn Store> = Arc::new(
                PgStore::open_config(config, 8)
                    .await
                    .expect("the database opens"),
            );
            store
        })
    }

    fn unavailable(&self) -> Option<String> {
        self.unavailable.as_ref().map(|why| {
            format!("{why}; set GATEWAY_TEST_POSTGRES or start PostgreSQL on 127.0.0.1:5432")
        })
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
            Ok(Some(Heard::Message(m))) => got.push(m),
            other => panic!("b heard {other:?}"),
        }
    }
    assert_eq!(got, ["one", "two", "three"], "in the order sent");
    cb.send("end".into());
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ha.recv()).await {
            Ok(Some(Heard::Message(m))) if m.starts_with("probe") => {}
            Ok(Some(Heard::Message(m))) => {
                assert_eq!(m, "end", "a never hears its own messages");
                break;
            }
            other => panic!("a heard {other:?}"),
        }
    }
}
