//! A PostgreSQL database of its own for an end-to-end test or a benchmark, on the server
//! `GATEWAY_TEST_POSTGRES` names (default `postgres://postgres@127.0.0.1:5432/postgres`),
//! created when made and dropped (with `FORCE`) with the value.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The server's URL, to its maintenance database.
fn server_url() -> String {
    std::env::var("GATEWAY_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A database on the test server, dropped with this value.
#[derive(Debug)]
pub struct Database {
    server: String,
    pub name: String,
}

impl Database {
    /// A new empty database; `Err` says why there is none (no server answers, say).
    pub async fn create(label: &str) -> Result<Self, String> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "gw_{label}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let server = server_url();
        execute(&server, &format!("CREATE DATABASE {name}")).await?;
        Ok(Self { server, name })
    }

    /// The database's URL, as `DATABASE_URL` takes it: the server's, with this database's name
    /// and the server URL's query (`?sslmode=disable`, say) kept.
    pub fn url(&self) -> String {
        let (server, query) = self
            .server
            .split_once('?')
            .map_or((self.server.as_str(), None), |(s, q)| (s, Some(q)));
        let base = server.rsplit_once('/').map_or(server, |(b, _)| b);
        match query {
            Some(q) => format!("{base}/{}?{q}", self.name),
            None => format!("{base}/{}", self.name),
        }
    }
}

async fn execute(url: &str, sql: &str) -> Result<(), String> {
    let connecting = tokio_postgres::connect(url, tokio_postgres::NoTls);
    let (client, connection) = tokio::time::timeout(Duration::from_secs(5), connecting)
        .await
        .map_err(|_| "no PostgreSQL server answered within 5 s".to_string())?
        .map_err(|e| format!("no PostgreSQL server to connect to ({e})"))?;
    tokio::spawn(connection);
    client.batch_execute(sql).await.map_err(|e| e.to_string())
}

impl Drop for Database {
    fn drop(&mut self) {
        let (server, name) = (self.server.clone(), self.name.clone());
        // On a thread of its own: the test's runtime may be busy or gone.
        let dropped = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?
                .block_on(execute(
                    &server,
                    &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                ))
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test database {}: {dropped:?}", self.name);
        }
    }
}
