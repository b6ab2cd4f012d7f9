//! TLS to PostgreSQL as `DATABASE_URL`'s `sslmode` and `sslrootcert` ask, against the test
//! server (`GATEWAY_TEST_POSTGRES`, default `127.0.0.1:5432`): the server itself says whether
//! each connection of the gateway's store is encrypted (`pg_stat_ssl`), and its own certificate
//! (`ssl_cert_file`, Debian's self-signed one) is what the verifying modes are tried with. Each
//! case skips with a loud SKIP line where no server answers, the server has TLS off, or its
//! certificate cannot be read.

mod support;

use gateway::store::postgres::PgStore;
use support::postgres::Postgres;

/// `db`'s URL with `query` added (after the test server URL's own, which it overrides).
fn with_query(db: &Postgres, query: &str) -> String {
    let url = db.url();
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{query}")
}

/// The store's connections to `db` as the server sees them: `(encrypted, all)`.
async fn encrypted(db: &Postgres) -> (i64, i64) {
    let mut config = db.config();
    config.dbname("postgres");
    let (client, connection) = config.connect(tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    let row = client
        .query_one(
            "SELECT count(*) FILTER (WHERE s.ssl), count(*)
             FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
             WHERE a.datname = $1 AND a.pid <> pg_backend_pid()",
            &[&db.name()],
        )
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

/// The server's TLS setting and certificate file; `None` (after a SKIP line) when the case
/// cannot run.
async fn server_tls(db: &Postgres, case: &str) -> Option<String> {
    if let Some(why) = db.why_unavailable() {
        eprintln!("SKIP: {case} not run: {why}");
        return None;
    }
    let (client, connection) = db.config().connect(tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    let on: String = client.query_one("SHOW ssl", &[]).await.unwrap().get(0);
    if on != "on" {
        eprintln!("SKIP: {case} not run: the test server has TLS off (ssl = {on})");
        return None;
    }
    let cert: String = client
        .query_one("SHOW ssl_cert_file", &[])
        .await
        .unwrap()
        .get(0);
    Some(cert)
}

#[tokio::test]
async fn sslmode_require_encrypts_every_connection_and_disable_none() {
    let db = Postgres::new();
    if server_tls(&db, "sslmode_require_encrypts").await.is_none() {
        return;
    }
    for (mode, want_tls) in [("require", true), ("disable", false), ("prefer", true)] {
        let store = PgStore::open(&with_query(&db, &format!("sslmode={mode}")), 4)
            .await
            .unwrap_or_else(|e| panic!("sslmode={mode}: {e}"));
        gateway::store::Store::set_meta(&store, "tls".into(), mode.into())
            .await
            .unwrap();
        let (tls, all) = encrypted(&db).await;
        assert!(all >= 1, "sslmode={mode}: the store holds connections");
        assert_eq!(
            tls,
            if want_tls { all } else { 0 },
            "sslmode={mode}: {tls} of {all} connections encrypted"
        );
        drop(store);
        // The pool's connections close with the store; wait until the server saw them go.
        for _ in 0..100 {
            if encrypted(&db).await.1 == 0 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }
}

#[tokio::test]
async fn verify_full_checks_the_name_and_verify_ca_only_the_chain() {
    let db = Postgres::new();
    let Some(cert) = server_tls(&db, "verify_full_checks_the_name").await else {
        return;
    };
    if std::fs::read(&cert).is_err() {
        eprintln!("SKIP: verify_full_checks_the_name not run: cannot read {cert}");
        return;
    }
    let url = |mode: &str, root: Option<&str>| {
        let root = root.map_or(String::new(), |r| format!("&sslrootcert={r}"));
        with_query(&db, &format!("sslmode={mode}{root}"))
    };
    // The server's own self-signed certificate trusted: it names the machine, not 127.0.0.1.
    let err = PgStore::open(&url("verify-full", Some(&cert)), 2)
        .await
        .expect_err("a certificate for another name is refused");
    let err = err.to_string();
    assert!(
        err.contains("certificate") && err.contains("not valid for name"),
        "{err}"
    );
    assert!(
        !err.contains("postgres@"),
        "the URL stays out of the error: {err}"
    );
    // verify-ca takes the same certificate: it chains to the trusted one.
    let store = PgStore::open(&url("verify-ca", Some(&cert)), 2)
        .await
        .unwrap_or_else(|e| panic!("verify-ca with the server's own certificate: {e}"));
    let (tls, all) = encrypted(&db).await;
    assert!(all >= 1 && tls == all, "{tls} of {all} encrypted");
    drop(store);
    // Without sslrootcert the public roots are trusted, and a self-signed certificate is not.
    let err = PgStore::open(&url("verify-ca", None), 2)
        .await
        .expect_err("a self-signed certificate is not a public one");
    assert!(err.to_string().contains("UnknownIssuer"), "{err}");
}
