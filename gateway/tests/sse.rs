//! A commit the hub never hears of, through `Router::oneshot`: an ingest request dropped while its
//! append waits still publishes the batch, and a run stream still delivers a commit nobody
//! published (every event once, in order, then `event: end`).

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::Secret;
use common::wire::{CreatedRun, Event, EventKind};
use gateway::state::AppState;
use serde_json::json;
use support::{SseStream, send};

const ADMIN: &str = "admin-token-for-sse-tests";

/// The gateway's state and the path of its database.
async fn open(dir: &Path) -> (AppState, PathBuf) {
    let mut config = support::plain_config(dir);
    config.admin_token = Some(Secret::new(ADMIN));
    config.admin_password = Some(Secret::new("a password for the stream tests"));
    let gateway::store::Location::Sqlite(db) = &config.database else {
        unreachable!("the test configuration names a SQLite file")
    };
    let db = std::path::absolute(db).unwrap();
    let gateway = gateway::Gateway::open(config, "127.0.0.1:3100".parse().unwrap())
        .await
        .unwrap();
    (gateway.state, db)
}

fn admin(method: &str, path: &str) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {ADMIN}"))
        .body(Body::empty())
        .unwrap()
}

async fn create_run(state: &AppState) -> CreatedRun {
    let resp = send(state, admin("POST", "/api/runs")).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    serde_json::from_slice(&body).unwrap()
}

fn line(sequence: u64) -> Event {
    Event {
        sequence,
        kind: EventKind::Stdout,
        data: json!(format!("line {sequence}")),
        ts: 1000 + sequence as i64,
    }
}

/// The stream of `run`, once its replay of what is stored is done (it is subscribed and waiting).
async fn open_stream(state: &AppState, run: &CreatedRun) -> SseStream {
    let path = format!("/api/runs/{}/stream", run.run_id);
    let mut s = SseStream::new(send(state, admin("GET", &path)).await);
    s.read_until(|text| text.starts_with("retry: ")).await;
    s
}

/// Commit `events` straight into the store, as when the ingest request was dropped before its
/// publish: the hub never carries them.
async fn commit_unpublished(state: &AppState, run: &CreatedRun, events: Vec<Event>) {
    state
        .store
        .append_events(
            run.run_id.clone(),
            events.iter().map(Event::to_raw).collect(),
            None,
        )
        .await
        .unwrap();
}

fn finished(sequence: u64) -> Event {
    Event {
        sequence,
        kind: EventKind::Marker,
        data: json!({"event": "finished", "exitCode": 0, "durationMs": 5}),
        ts: 1000 + sequence as i64,
    }
}

#[tokio::test]
async fn a_commit_the_hub_never_heard_of_still_reaches_the_stream_and_ends_it() {
    let dir = tempfile::tempdir().unwrap();
    let (state, _) = open(dir.path()).await;
    let run = create_run(&state).await;
    let mut s = open_stream(&state, &run).await;

    commit_unpublished(&state, &run, (1..=5).map(line).collect()).await;
    commit_unpublished(&state, &run, vec![finished(6)]).await;

    s.read_to_close().await;
    assert_eq!(
        s.ids(),
        [1, 2, 3, 4, 5, 6],
        "each sequence once, in order:\n{}",
        s.text
    );
    let end = s.text.find("event: end").expect("an end event");
    assert!(
        end > s.text.find("id: 6").unwrap(),
        "end after the last event"
    );
}

#[tokio::test]
async fn a_late_publish_of_a_reconciled_commit_is_not_written_twice() {
    let dir = tempfile::tempdir().unwrap();
    let (state, _) = open(dir.path()).await;
    let run = create_run(&state).await;
    let mut s = open_stream(&state, &run).await;

    let first: Vec<Event> = (1..=3).map(line).collect();
    commit_unpublished(&state, &run, first.clone()).await;
    s.read_until(|text| text.contains("id: 3\n")).await;
    // The publish of that commit comes after all, then the run goes on through ingest.
    state.live.publish_events(
        &run.run_id,
        first.iter().map(Event::to_raw).collect::<Vec<_>>(),
    );
    let more = [line(4), line(5), finished(6)];
    let resp = send(&state, support::ingest_for(&state, &run, more.to_vec())).await;
    assert_eq!(resp.status(), StatusCode::OK);

    s.read_to_close().await;
    assert_eq!(s.ids(), [1, 2, 3, 4, 5, 6], "{}", s.text);
    assert_eq!(s.text.matches("event: end").count(), 1, "{}", s.text);
}

#[tokio::test]
async fn an_ingest_request_dropped_while_its_append_waits_still_publishes_the_batch() {
    let dir = tempfile::tempdir().unwrap();
    let (state, db) = open(dir.path()).await;
    let run = create_run(&state).await;
    let mut rx = state.live.subscribe_run(&run.run_id);
    let events: Vec<Event> = (1..=3).map(line).collect();
    let req = support::ingest_for(&state, &run, events.to_vec());

    // Another connection holds the write lock, so the append waits inside the store (the
    // gateway's writer retries for 5 s) while the request is dropped, as hyper drops a handler
    // whose client went away.
    let lock = rusqlite::Connection::open(&db).unwrap();
    lock.execute_batch("BEGIN IMMEDIATE").unwrap();
    let dropped = tokio::time::timeout(Duration::from_millis(500), send(&state, req)).await;
    assert!(dropped.is_err(), "the append waits for the write lock");
    lock.execute_batch("ROLLBACK").unwrap();

    let published = tokio::time::timeout(Duration::from_secs(5), rx.recv()).await;
    let stored = state.store.run(run.run_id.clone()).await.unwrap().unwrap();
    assert_eq!(stored.summary.last_sequence, 3, "the append committed");
    let batch = published
        .expect("the committed batch is published although its request is gone")
        .unwrap();
    let seqs: Vec<u64> = batch.iter().map(|e| e.sequence).collect();
    assert_eq!(seqs, [1, 2, 3]);
}
