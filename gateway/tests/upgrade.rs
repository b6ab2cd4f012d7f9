//! Upgrades. A database an earlier release wrote (`fixtures/schema-<version>.db`, made by
//! `examples/schema_fixture.rs` from `fixtures/content.rs`) opens, migrates and serves every run
//! exactly as the same content written by today's code is served; a database of a newer release
//! is refused and left alone. And the build says what it is.

#[path = "fixtures/content.rs"]
mod content;
mod support;

use std::path::Path;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use gateway::store::Store;
use gateway::store::sqlite::SqliteStore;
use serde_json::Value;

/// Every schema fixture kept, oldest first. Add one whenever a release changes the schema.
const FIXTURES: &[&str] = &["schema-6.db"];

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

async fn get(state: &gateway::state::AppState, path: &str) -> (StatusCode, Vec<u8>) {
    let req = Request::get(path)
        .header(
            header::AUTHORIZATION,
            format!("Bearer {}", content::ADMIN_TOKEN),
        )
        .body(Body::empty())
        .unwrap();
    let resp = support::send(state, req).await;
    let status = resp.status();
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, body.to_vec())
}

/// What the gateway in `dir` serves of its runs: every read route a person uses, with the answer.
async fn served(dir: &Path) -> Vec<(String, StatusCode, Vec<u8>)> {
    let gw = gateway::Gateway::open(
        support::plain_config(dir),
        "127.0.0.1:3100".parse().unwrap(),
    )
    .await
    .expect("the gateway opens");
    assert!(
        gw.new_admin_token.is_none(),
        "the stored admin token is kept"
    );
    let state = gw.state;
    let mut paths = vec!["/api/runs".to_string()];
    for id in content::RUNS {
        for tail in [
            "",
            "/events",
            "/events?after=3&limit=5",
            "/events?before=30&limit=4",
            "/artifacts",
            "/transcript",
            "/transcript.md",
        ] {
            paths.push(format!("/api/runs/{id}{tail}"));
        }
    }
    for name in ["latest.diff", "claude.log"] {
        paths.push(format!("/api/runs/{}/artifacts/{name}", content::RUNS[0]));
    }
    let mut out = Vec::new();
    for path in paths {
        let (status, body) = get(&state, &path).await;
        out.push((path, status, body));
    }
    out
}

/// What only the store shows: queued commands, sign-in sessions.
async fn kept(store: &dyn Store) -> (Vec<String>, usize) {
    let commands = store
        .pending_commands(content::RUNS[2].into())
        .await
        .unwrap()
        .into_iter()
        .map(|c| serde_json::to_string(&c.kind).unwrap())
        .collect();
    (commands, store.sessions().await.unwrap().len())
}

#[tokio::test]
async fn a_database_of_an_earlier_release_serves_every_run_unchanged() {
    // Read through the store before a gateway opens it (which forgets expired sessions).
    let fresh = tempfile::tempdir().unwrap();
    let expected_kept = {
        let store = SqliteStore::open(&fresh.path().join("gateway.db")).unwrap();
        content::fill(&store).await;
        kept(&store).await
    };
    let expected = served(fresh.path()).await;

    // The content is really there, so that the comparison below compares something.
    let runs: Value = serde_json::from_slice(&expected[0].2).unwrap();
    assert_eq!(runs.as_array().map(Vec::len), Some(3), "{runs}");
    let complete = &expected[1];
    let run: Value = serde_json::from_slice(&complete.2).unwrap();
    assert_eq!(run["status"], "finished", "{run}");
    assert_eq!(run["delivery"], "complete", "{run}");
    assert_eq!(run["last_sequence"], 41, "{run}");
    assert!(
        expected
            .iter()
            .all(|(p, s, _)| *s == StatusCode::OK || panic!("{p}: {s}"))
    );
    assert_eq!(expected_kept.0.len(), 1);
    assert_eq!(expected_kept.1, 1);

    for name in FIXTURES {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(fixture(name), dir.path().join("gateway.db")).unwrap();
        let store = SqliteStore::open(&dir.path().join("gateway.db")).unwrap();
        assert_eq!(kept(&store).await, expected_kept, "{name}");
        drop(store);
        let conn = rusqlite::Connection::open(dir.path().join("gateway.db")).unwrap();
        let auto_vacuum: i64 = conn
            .pragma_query_value(None, "auto_vacuum", |r| r.get(0))
            .unwrap();
        assert_eq!(
            auto_vacuum, 2,
            "{name}: switched to incremental vacuum once"
        );
        drop(conn);
        let got = served(dir.path()).await;
        for ((path, status, body), (_, want_status, want_body)) in got.iter().zip(&expected) {
            assert_eq!(status, want_status, "{name}: {path}");
            assert!(
                body == want_body,
                "{name}: {path} serves\n{}\ninstead of\n{}",
                String::from_utf8_lossy(body),
                String::from_utf8_lossy(want_body)
            );
        }
        assert_eq!(got.len(), expected.len());
    }
}

#[tokio::test]
async fn a_database_of_a_newer_release_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gateway.db");
    std::fs::copy(fixture(FIXTURES[FIXTURES.len() - 1]), &path).unwrap();
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 10_000).unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    let err = gateway::Gateway::open(
        support::plain_config(dir.path()),
        "127.0.0.1:3100".parse().unwrap(),
    )
    .await
    .expect_err("a newer schema is refused");
    let text = format!("{err:#}");
    assert!(
        text.contains("schema version 10000, written by a newer gateway release"),
        "{text}"
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the file is untouched"
    );
}

#[tokio::test]
async fn the_build_says_what_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let (state, _) = support::open(dir.path()).await;
    let (status, body) = support::send_json(
        &state,
        Request::get("/api/version").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(body["protocol"], common::wire::PROTOCOL_VERSION);
    match gateway::version::COMMIT {
        Some(commit) => {
            assert_eq!(body["commit"], commit);
            assert!(
                commit.len() >= 7 && commit.bytes().all(|b| b.is_ascii_hexdigit()),
                "{commit}"
            );
        }
        None => {
            eprintln!("built without a git commit (no repository): checking only its absence");
            assert_eq!(body["commit"], Value::Null);
        }
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_gateway"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        format!("gateway {}", gateway::version::describe())
    );
}
