//! A PostgreSQL database of its own for a test, on the server `GATEWAY_TEST_POSTGRES` names
//! (default `postgres://postgres@127.0.0.1:5432/postgres`), created when made and dropped with
//! the value. Where no server answers, [`Postgres::why_unavailable`] says why, for the loud SKIP
//! line of a test that needs one.

use std::sync::atomic::{AtomicU64, Ordering};

/// The server the tests use, as a URL to its maintenance database.
fn server_url() -> String {
    std::env::var("GATEWAY_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A database of its own on the test server, dropped with this value.
pub struct Postgres {
    server: tokio_postgres::Config,
    name: String,
    /// Why the server cannot be used, found when the value was made.
    unavailable: Option<String>,
}

impl Postgres {
    pub fn new() -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "gw_test_{}_{}_{}",
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

impl Postgres {
    /// Connection settings for this database.
    pub fn config(&self) -> tokio_postgres::Config {
        let mut config = self.server.clone();
        config.dbname(&self.name);
        config
    }

    /// The database's name.
    pub fn name(&self) -> String {
        self.name.clone()
    }

    /// A `postgres://` URL of this database, as `DATABASE_URL` takes it (the server URL's query,
    /// `?sslmode=disable` say, kept).
    pub fn url(&self) -> String {
        let server = server_url();
        let (server, query) = server
            .split_once('?')
            .map_or((server.as_str(), None), |(s, q)| (s, Some(q)));
        let base = server.rsplit_once('/').map_or(server, |(b, _)| b);
        match query {
            Some(q) => format!("{base}/{}?{q}", self.name),
            None => format!("{base}/{}", self.name),
        }
    }

    /// Why the server cannot be used, with what to do about it; `None` when it can.
    pub fn why_unavailable(&self) -> Option<String> {
        self.unavailable.as_ref().map(|why| {
            format!("{why}; set GATEWAY_TEST_POSTGRES or start PostgreSQL on 127.0.0.1:5432")
        })
    }
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
