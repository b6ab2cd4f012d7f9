//! Tests of what only the SQLite backend has: the checkpoint thread, `synchronous=FULL`, the
//! migrations, what a clean close leaves, rows damaged by hand, the in-memory database, group
//! commit. What every backend must do is the conformance suite, `gateway/tests/store/`, which
//! `gateway/tests/store_sqlite.rs` runs on this backend.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::wire::{CommandKind, Delivery, Event, EventKind, RawEvent};
use rusqlite::{Connection, OptionalExtension};
use serde_json::{Value, json};
use tempfile::TempDir;

use super::checkpoint::WAL_BACKSTOP_PAGES;
use super::schema::{MIGRATIONS, migrate_with};
use super::{SqliteStore, lock};
use crate::store::{NewRun, Store, StoreError};

/// Events as the ingest handler hands them to the store (data in canonical form).
fn stored(events: impl AsRef<[Event]>) -> Arc<[RawEvent]> {
    events.as_ref().iter().map(Event::to_raw).collect()
}

/// Stored events with their data parsed, to compare with what was sent.
fn parsed(events: Vec<RawEvent>) -> Vec<Event> {
    events.iter().map(RawEvent::parsed).collect()
}

fn open_temp() -> (TempDir, PathBuf, Arc<dyn Store>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gateway.db");
    let store = SqliteStore::open(&path).unwrap();
    (dir, path, Arc::new(store))
}

pub(super) fn new_run(id: &str, created_at: i64) -> NewRun {
    NewRun {
        id: id.into(),
        name: Some(format!("name of {id}")),
        prompt: Some("fix the tests".into()),
        cwd: None,
        key: [7; 32],
        created_at,
    }
}

async fn with_run(id: &str) -> (TempDir, PathBuf, Arc<dyn Store>) {
    let (dir, path, store) = open_temp();
    store.create_run(new_run(id, 1)).await.unwrap();
    (dir, path, store)
}

pub(super) fn line(sequence: u64) -> Event {
    Event {
        sequence,
        kind: EventKind::Stdout,
        data: json!(format!("line {sequence} ✓")),
        ts: 1_000 + sequence as i64,
    }
}

pub(super) fn lines(from: u64, to: u64) -> Vec<Event> {
    (from..=to).map(line).collect()
}

fn marker(sequence: u64, data: Value) -> Event {
    Event {
        sequence,
        kind: EventKind::Marker,
        data,
        ts: 5_000 + sequence as i64,
    }
}

fn finished(sequence: u64, code: i32) -> Event {
    marker(
        sequence,
        json!({"event": "finished", "exitCode": code, "durationMs": 10}),
    )
}

fn finished_claiming(sequence: u64, count: u64, sha: &str) -> Event {
    marker(
        sequence,
        json!({"event": "finished", "exitCode": 0, "durationMs": 1,
               "eventCount": count, "streamSha256": sha}),
    )
}

async fn summary(store: &Arc<dyn Store>, id: &str) -> common::wire::RunSummary {
    store.run(id.into()).await.unwrap().unwrap().summary
}

async fn all_events(store: &Arc<dyn Store>, id: &str) -> Vec<Event> {
    parsed(store.events(id.into(), 0, usize::MAX).await.unwrap())
}

/// Ingest commits leave copying the WAL into the database file to the checkpoint thread: the
/// file grows while the writer, whose own threshold is far off, does not checkpoint.
#[tokio::test]
async fn the_wal_is_checkpointed_beside_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gateway.db");
    let sqlite = SqliteStore::open(&path).unwrap();
    let own: i64 = lock(&sqlite.inner.writer)
        .pragma_query_value(None, "wal_autocheckpoint", |r| r.get(0))
        .unwrap();
    assert_eq!(own, WAL_BACKSTOP_PAGES);
    let store: Arc<dyn Store> = Arc::new(sqlite);
    store.create_run(new_run("r1", 1)).await.unwrap();
    let db_len = || std::fs::metadata(&path).unwrap().len();
    let before = db_len();
    let text = "x".repeat(1000);
    for b in 0..10u64 {
        let events: Vec<Event> = (1..=500)
            .map(|i| Event {
                data: json!(text),
                ..line(b * 500 + i)
            })
            .collect();
        store
            .append_events("r1".into(), stored(events), None)
            .await
            .unwrap();
    }
    // ~5 MB committed: past SQLite's usual 1,000-page checkpoint, far below the backstop.
    let t0 = Instant::now();
    while db_len() < before + 4_000_000 {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "the database file stayed at {} bytes",
            db_len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(all_events(&store, "r1").await.len(), 5000);
}

/// A run stored before migration 3 has no digest state: it is rebuilt from its events once, and
/// the delivery check judges the `finished` marker against it.
#[tokio::test]
async fn a_run_without_a_saved_digest_is_judged_from_its_events() {
    let (_dir, path, store) = with_run("legacy").await;
    store
        .append_events("legacy".into(), stored(lines(1, 3)), None)
        .await
        .unwrap();
    store
        .append_events("legacy".into(), stored(lines(4, 5)), None)
        .await
        .unwrap();
    let sha = common::digest::stream_sha256(&lines(1, 5));
    Connection::open(&path)
        .unwrap()
        .execute_batch(
            "UPDATE runs SET stream_state = NULL WHERE id = 'legacy';
             UPDATE event_chunks SET stream_state = NULL WHERE run_id = 'legacy';",
        )
        .unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
    let finish = finished_claiming(6, 5, &sha);
    let want = Some(Delivery::Complete);
    let acked = store
        .append_events("legacy".into(), stored(vec![finish.clone()]), None)
        .await
        .unwrap();
    assert_eq!(summary(&store, "legacy").await.delivery, want);
    assert_eq!(acked.delivery, want);
    let again = store
        .append_events("legacy".into(), stored(vec![finish]), None)
        .await
        .unwrap();
    assert_eq!((again.inserted, again.delivery), (0, want));
}

/// A run's progress is read from its last chunk, or, for chunks written before migration 20
/// (which carry none), from its row, which every batch rewrote then. Runs of both kinds, the
/// database reopened, take their next lines and are judged complete by their `finished` marker.
#[tokio::test]
async fn progress_is_read_from_the_last_chunk_or_from_the_row_before_it() {
    let (_dir, path, store) = with_run("old").await;
    store.create_run(new_run("new", 2)).await.unwrap();
    for id in ["old", "new"] {
        for (from, to) in [(1, 3), (4, 5)] {
            store
                .append_events(id.into(), stored(lines(from, to)), None)
                .await
                .unwrap();
        }
    }
    drop(store);
    let raw = Connection::open(&path).unwrap();
    assert_eq!(
        row_last_seq(&raw, "new"),
        3,
        "the second batch left the row alone"
    );
    // "old" as a gateway before migration 20 left it.
    raw.execute_batch(
        "UPDATE runs SET (last_seq, last_event_at, stream_state) = (
             SELECT last_seq, last_event_at, stream_state FROM event_chunks
             WHERE run_id = 'old' ORDER BY first_seq DESC LIMIT 1) WHERE id = 'old';
         UPDATE event_chunks SET last_event_at = NULL, stream_state = NULL WHERE run_id = 'old';",
    )
    .unwrap();
    assert_eq!(row_last_seq(&raw, "old"), 5);
    drop(raw);

    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
    let sha = common::digest::stream_sha256(&lines(1, 6));
    for id in ["old", "new"] {
        let run = summary(&store, id).await;
        assert_eq!(
            (run.last_sequence, run.last_event_at),
            (5, Some(1_005)),
            "{id}"
        );
        let acked = store
            .append_events(id.into(), stored(lines(5, 6)), None)
            .await
            .unwrap();
        assert_eq!((acked.acked_through, acked.inserted), (6, 1), "{id}");
        let acked = store
            .append_events(id.into(), stored(vec![finished_claiming(7, 6, &sha)]), None)
            .await
            .unwrap();
        assert_eq!(acked.delivery, Some(Delivery::Complete), "{id}");
        assert_eq!(summary(&store, id).await.last_sequence, 7, "{id}");
    }
}

/// Run `r` with lines 1-3 and 4-5 stored in two chunks, and a connection of its own to the
/// database (its row still says 3: a batch of lines leaves the row alone).
async fn run_r_in_two_chunks() -> (TempDir, Connection, Arc<dyn Store>) {
    let (dir, path, store) = with_run("r").await;
    for (from, to) in [(1, 3), (4, 5)] {
        store
            .append_events("r".into(), stored(lines(from, to)), None)
            .await
            .unwrap();
    }
    (dir, Connection::open(&path).unwrap(), store)
}

/// The last sequence run `id`'s row holds.
fn row_last_seq(raw: &Connection, id: &str) -> u64 {
    raw.query_row("SELECT last_seq FROM runs WHERE id = ?1", [id], |r| {
        r.get(0)
    })
    .unwrap()
}

/// A run that ends without its stream's end (lost with its agent) has its row brought up to
/// its chunks, so the search indexer, which asks the chunks only for live runs, indexes it all.
#[tokio::test]
async fn a_lost_runs_row_is_brought_up_to_its_chunks() {
    let (_dir, raw, store) = run_r_in_two_chunks().await;
    raw.execute("UPDATE runs SET agent_id = 'a' WHERE id = 'r'", [])
        .unwrap();
    assert_eq!(row_last_seq(&raw, "r"), 3);
    let lost = store
        .lose_runs("a".into(), Vec::new(), "gone".into(), 9_000)
        .await
        .unwrap();
    assert_eq!(lost, ["r"]);
    assert_eq!(row_last_seq(&raw, "r"), 5);
    let run = summary(&store, "r").await;
    assert_eq!((run.last_sequence, run.last_event_at), (5, Some(1_005)));
}

/// A run hidden for its purge has its row brought up to its chunks before they go, so a late
/// resend of lines it stored is still a resend, not lines stored again.
#[tokio::test]
async fn a_purged_runs_row_is_brought_up_to_its_chunks_first() {
    let (_dir, raw, store) = run_r_in_two_chunks().await;
    assert_eq!(row_last_seq(&raw, "r"), 3);
    // One step deletes the first chunk; the second, with the run's progress, is left.
    assert!(matches!(
        store.purge_run("r".into(), 1).await.unwrap(),
        crate::store::Purge::More
    ));
    assert_eq!(row_last_seq(&raw, "r"), 5);
}

#[tokio::test]
async fn migration_5_moves_event_rows_into_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    {
        // A database at schema 4 with events stored one row each.
        let mut raw = Connection::open(&path).unwrap();
        let tx = raw.transaction().unwrap();
        for sql in &MIGRATIONS[..4] {
            tx.execute_batch(sql).unwrap();
        }
        tx.pragma_update(None, "user_version", 4).unwrap();
        tx.execute(
            "INSERT INTO runs (id, key, status, created_at, last_seq) VALUES ('r', ?1, 'running', 1, 2500)",
            [vec![7u8; 32]],
        )
        .unwrap();
        tx.execute(
            "INSERT INTO runs (id, key, status, created_at, last_seq) VALUES ('m', ?1, 'running', 1, 1)",
            [vec![7u8; 32]],
        )
        .unwrap();
        for e in lines(1, 2500) {
            tx.execute(
                "INSERT INTO events (run_id, seq, kind, data, ts) VALUES ('r', ?1, ?2, ?3, ?4)",
                rusqlite::params![
                    e.sequence,
                    e.kind.as_str(),
                    serde_json::to_string(&e.data).unwrap(),
                    e.ts
                ],
            )
            .unwrap();
        }
        tx.execute(
            "INSERT INTO events (run_id, seq, kind, data, ts)
             VALUES ('m', 1, 'marker', '{\"event\":\"x\",\"n\":[1,2.5,\"a\\\"b\"]}', 9)",
            [],
        )
        .unwrap();
        tx.commit().unwrap();
    }
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
    assert_eq!(all_events(&store, "r").await, lines(1, 2500));
    assert_eq!(
        all_events(&store, "m").await,
        vec![Event {
            sequence: 1,
            kind: EventKind::Marker,
            data: json!({"event": "x", "n": [1, 2.5, "a\"b"]}),
            ts: 9
        }]
    );
    let raw = Connection::open(&path).unwrap();
    let chunks: i64 = raw
        .query_row(
            "SELECT count(*) FROM event_chunks WHERE run_id = 'r'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(chunks, 3, "1,000 events to a chunk");
    let old: i64 = raw
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE name = 'events'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(old, 0);
    // The digest is rebuilt from the chunks and ingest continues.
    store
        .append_events("r".into(), stored(lines(2501, 2502)), None)
        .await
        .unwrap();
    let sha = common::digest::stream_sha256(&lines(1, 2502));
    store
        .append_events(
            "r".into(),
            stored(vec![marker(
                2503,
                json!({"event": "finished", "exitCode": 0, "eventCount": 2502, "streamSha256": sha}),
            )]), None,
        )
        .await
        .unwrap();
    assert_eq!(
        summary(&store, "r").await.delivery,
        Some(Delivery::Complete)
    );
    assert!(store.delete_run("r".into()).await.unwrap());
    let left: i64 = raw
        .query_row(
            "SELECT count(*) FROM event_chunks WHERE run_id = 'r'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(left, 0, "deleting a run deletes its chunks");
}

#[test]
fn synchronous_is_full() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("s.db")).unwrap();
    let level: i64 = lock(&store.inner.writer)
        .pragma_query_value(None, "synchronous", |r| r.get(0))
        .unwrap();
    assert_eq!(level, 2, "FULL");
}

/// A clean close checkpoints and removes the WAL, and leaves the schema version and WAL mode
/// recorded in the file (what every store keeps across a reopen is in the conformance suite).
#[tokio::test]
async fn a_clean_close_removes_the_wal_and_keeps_the_schema_version() {
    let (_dir, path, store) = with_run("r").await;
    store
        .append_events("r".into(), stored(vec![line(1), finished(2, 1)]), None)
        .await
        .unwrap();
    store
        .enqueue_command("r".into(), CommandKind::Stop, 5)
        .await
        .unwrap();
    store
        .put_artifact("r".into(), "out.txt".into(), b"x".to_vec(), 6)
        .await
        .unwrap();
    store.set_meta("k".into(), "v".into()).await.unwrap();
    let run = store.run("r".into()).await.unwrap();
    drop(store);
    let wal = path.with_extension("db-wal");
    assert!(
        !wal.exists(),
        "a clean close checkpoints and removes the WAL"
    );

    let raw = Connection::open(&path).unwrap();
    let version: i64 = raw
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .unwrap();
    assert_eq!(version, MIGRATIONS.len() as i64);
    let mode: String = raw
        .pragma_query_value(None, "journal_mode", |row| row.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    drop(raw);
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
    assert_eq!(store.run("r".into()).await.unwrap(), run);
}

#[tokio::test]
async fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("future.db");
    let raw = Connection::open(&path).unwrap();
    raw.pragma_update(None, "user_version", MIGRATIONS.len() as i64 + 1)
        .unwrap();
    drop(raw);
    let got = SqliteStore::open(&path);
    let Err(StoreError::Backend(why)) = got else {
        panic!("{got:?}")
    };
    assert!(why.contains("newer gateway release"), "{why}");
    assert!(
        why.contains(&format!("knows versions up to {}", MIGRATIONS.len())),
        "{why}"
    );
    let raw = Connection::open(&path).unwrap();
    let tables: i64 = raw
        .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
        .unwrap();
    assert_eq!(tables, 0, "nothing was written");
}

#[test]
fn a_failed_migration_leaves_the_database_as_it_was_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gateway.db");
    let mut conn = Connection::open(&path).unwrap();
    let steps = [
        "CREATE TABLE a (x INTEGER); INSERT INTO a VALUES (1);",
        "CREATE TABLE b (y INTEGER); INSERT INTO a VALUES (2);",
        "INSERT INTO a VALUES (3); ALTER TABLE nowhere ADD COLUMN z;",
    ];
    migrate_with(&mut conn, &steps[..1]).unwrap();
    let got = migrate_with(&mut conn, &steps);
    let Err(StoreError::Backend(why)) = got else {
        panic!("{got:?}")
    };
    assert!(why.contains("migration 3 of 3 failed"), "{why}");
    assert!(why.contains("as it was, at schema version 1"), "{why}");
    assert!(
        why.contains("no such table: nowhere"),
        "SQLite's reason: {why}"
    );
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .unwrap();
    assert_eq!(version, 1);
    let rows: Vec<i64> = conn
        .prepare("SELECT x FROM a")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows, [1], "step 2 and the start of step 3 were rolled back");
    let b: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE name = 'b'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(b, 0);
}

#[tokio::test]
async fn bad_stored_data_is_an_error_not_a_panic() {
    let (_dir, path, store) = with_run("r").await;
    store
        .append_events("r".into(), stored(lines(1, 1)), None)
        .await
        .unwrap();
    store
        .append_events("r".into(), stored(lines(2, 3)), None)
        .await
        .unwrap();
    let raw = Connection::open(&path).unwrap();
    raw.execute(
        "UPDATE event_chunks SET body = '{not json' WHERE first_seq = 2",
        [],
    )
    .unwrap();
    let got = store.events("r".into(), 0, 10).await;
    assert!(matches!(got, Err(StoreError::Backend(_))), "{got:?}");
    assert_eq!(
        parsed(store.events("r".into(), 0, 1).await.unwrap()),
        lines(1, 1)
    );
    // A chunk whose range and events disagree is refused too.
    raw.execute(
        "UPDATE event_chunks SET body = '[[\"stdout\",1,\"x\"]]' WHERE first_seq = 2",
        [],
    )
    .unwrap();
    let got = store.events("r".into(), 1, 10).await;
    assert!(matches!(got, Err(StoreError::Backend(_))), "{got:?}");
    // Past the CHECK constraints, as a hand edit or another program might leave it.
    raw.execute_batch(
        "PRAGMA ignore_check_constraints = ON;
         UPDATE runs SET status = 'zombie';",
    )
    .unwrap();
    let got = store.run("r".into()).await;
    assert!(matches!(got, Err(StoreError::Backend(_))), "{got:?}");
    let got = store
        .append_events("r".into(), stored(lines(3, 3)), None)
        .await;
    assert!(matches!(got, Err(StoreError::Backend(_))), "{got:?}");
}

#[tokio::test]
async fn in_memory_store_works() {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open_in_memory().unwrap());
    store.create_run(new_run("r", 1)).await.unwrap();
    store
        .append_events("r".into(), stored(lines(1, 3)), None)
        .await
        .unwrap();
    assert_eq!(all_events(&store, "r").await, lines(1, 3));
}

/// Not an assertion: prints where ingest stands (the target is 100k events/s).
#[tokio::test]
async fn ingest_throughput() {
    let (_dir, _path, store) = with_run("r").await;
    let batches: Vec<Vec<Event>> = (0..200u64)
        .map(|b| {
            (b * 500 + 1..=b * 500 + 500)
                .map(|sequence| Event {
                    sequence,
                    kind: EventKind::Stdout,
                    data: json!("2024-01-01T00:00:00Z compiling crate foo v0.1.0 (/src/foo) ..."),
                    ts: 1_000 + sequence as i64,
                })
                .collect()
        })
        .collect();
    let start = Instant::now();
    for batch in batches {
        store
            .append_events("r".into(), stored(batch), None)
            .await
            .unwrap();
    }
    let elapsed = start.elapsed();
    let rate = 100_000.0 / elapsed.as_secs_f64();
    println!("ingest: 200 batches x 500 events in {elapsed:?} = {rate:.0} events/s");
    assert_eq!(summary(&store, "r").await.last_sequence, 100_000);
}

#[tokio::test]
async fn the_agents_migration_rebuilds_runs_and_keeps_what_hangs_on_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    {
        // A database at the schema before the agents step with two runs (one pinned), events,
        // a command and an artifact.
        let agents_step = MIGRATIONS
            .iter()
            .position(|step| step.contains("CREATE TABLE agents"))
            .unwrap();
        let mut raw = Connection::open(&path).unwrap();
        raw.pragma_update(None, "foreign_keys", "ON").unwrap();
        let tx = raw.transaction().unwrap();
        for sql in &MIGRATIONS[..agents_step] {
            tx.execute_batch(sql).unwrap();
        }
        tx.pragma_update(None, "user_version", agents_step).unwrap();
        for (id, at, pinned) in [("old", 1, true), ("new", 2, false)] {
            tx.execute(
                "INSERT INTO runs (id, key, status, created_at, last_seq, pinned) VALUES (?1, ?2, 'running', ?3, 0, ?4)",
                rusqlite::params![id, vec![7u8; 32], at, pinned],
            )
            .unwrap();
        }
        tx.execute(
            "INSERT INTO event_chunks (run_id, first_seq, last_seq, body)
             VALUES ('old', 1, 2, '[[\"stdout\",5,\"a\"],[\"stderr\",6,\"b\"]]')",
            [],
        )
        .unwrap();
        tx.execute(
            "INSERT INTO commands (id, run_id, kind, body, created_at) VALUES ('c', 'old', 'stop', '{\"kind\":\"stop\"}', 3)",
            [],
        )
        .unwrap();
        tx.execute(
            "INSERT INTO artifacts (run_id, name, size, sha256, created_at, data) VALUES ('old', 'a.log', 1, 'x', 4, x'78')",
            [],
        )
        .unwrap();
        tx.commit().unwrap();
    }
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
    let events = all_events(&store, "old").await;
    assert_eq!(
        events
            .iter()
            .map(|e| (e.sequence, e.kind, e.data.clone()))
            .collect::<Vec<_>>(),
        [
            (1, EventKind::Stdout, json!("a")),
            (2, EventKind::Stderr, json!("b"))
        ]
    );
    assert_eq!(store.pending_commands("old".into()).await.unwrap().len(), 1);
    assert_eq!(store.list_artifacts("old".into()).await.unwrap().len(), 1);
    let ids: Vec<_> = store
        .list_runs(10)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(ids, ["new", "old"]);
    assert!(
        store
            .run("old".into())
            .await
            .unwrap()
            .unwrap()
            .summary
            .pinned
    );
    assert!(
        !store
            .run("new".into())
            .await
            .unwrap()
            .unwrap()
            .summary
            .pinned
    );
    // Foreign keys hold again after the migration: deleting cascades.
    assert!(store.delete_run("old".into()).await.unwrap());
    assert!(all_events(&store, "old").await.is_empty());
    let raw = Connection::open(&path).unwrap();
    let left: i64 = raw
        .query_row("SELECT count(*) FROM commands", [], |r| r.get(0))
        .unwrap();
    assert_eq!(left, 0);
}

/// Waits (polling, with a deadline) until the indexer thread has indexed every stored line.
async fn indexed(store: &SqliteStore) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let behind: Option<String> = lock(&store.inner.writer)
            .query_row(super::search::BEHIND, [], |row| row.get(0))
            .optional()
            .unwrap();
        if behind.is_none() {
            return;
        }
        assert!(Instant::now() < deadline, "the indexer never caught up");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn count(store: &SqliteStore, sql: &str) -> i64 {
    lock(&store.inner.writer)
        .query_row(sql, [], |row| row.get(0))
        .unwrap()
}

/// The indexer catches up with what ingest stored, in stretches; the index narrows a search
/// to the stretches holding every trigram of the query; deleting the run deletes its index.
#[tokio::test]
async fn the_search_index_follows_ingest_and_narrows_searches() {
    use crate::store::search::Needle;
    let store = SqliteStore::open_in_memory().unwrap();
    store.create_run(new_run("r", 1)).await.unwrap();
    for b in 0..5u64 {
        let mut batch = lines(b * 1000 + 1, b * 1000 + 1000);
        if b == 3 {
            batch[499].data = json!("panic: the rare needle");
        }
        store
            .append_events("r".into(), stored(batch), None)
            .await
            .unwrap();
    }
    indexed(&store).await;
    {
        let conn = lock(&store.inner.writer);
        let stretches = |q: &str| {
            super::search::candidate_stretches(&conn, "r", &Needle::new(q).unwrap(), 0).unwrap()
        };
        // Too short to narrow: every stretch, which together hold every line once, in order (how
        // they are cut depends on when the indexer ran; none is longer than a stretch may be).
        let all = stretches("ne");
        assert!(all.len() >= 3, "{all:?}");
        assert_eq!(all[0].0, 1);
        assert_eq!(all.last().unwrap().1, 5000);
        for pair in all.windows(2) {
            assert_eq!(pair[0].1 + 1, pair[1].0, "{all:?}");
        }
        for (first, last) in &all {
            assert!(
                last - first < super::search::STRETCH_EVENTS as u64,
                "{all:?}"
            );
        }
        let rare = stretches("RARE needle");
        assert_eq!(rare.len(), 1, "{rare:?}");
        assert!((rare[0].0..=rare[0].1).contains(&3500), "{rare:?}");
        assert_eq!(stretches("not there"), []);
    }
    let page = store
        .search_run("r".into(), Needle::new("rare needle").unwrap(), 0, 10)
        .await
        .unwrap();
    assert_eq!(
        page.hits.iter().map(|h| h.sequence).collect::<Vec<_>>(),
        [3500]
    );

    assert!(store.delete_run("r".into()).await.unwrap());
    assert_eq!(count(&store, "SELECT count(*) FROM search_chunks"), 0);
    assert_eq!(
        count(
            &store,
            "SELECT count(*) FROM search_text WHERE search_text MATCH '\"pan\"'"
        ),
        0,
        "the trigger removed the stretch's text"
    );
}

/// A database from before the search migration gets its stored runs indexed after the upgrade.
#[tokio::test]
async fn runs_stored_before_the_index_are_indexed_after_the_upgrade() {
    let (dir, path, store) = with_run("old").await;
    store
        .append_events("old".into(), stored(lines(1, 10)), None)
        .await
        .unwrap();
    drop(store);
    {
        let conn = Connection::open(&path).unwrap();
        // Back to the schema before the search step: undo it, and the steps after it (artifact
        // bodies in object storage; API tokens' person, expiry and first use; passkey
        // ceremonies; progress kept with each chunk), which the upgrade then runs again.
        let search_step = MIGRATIONS
            .iter()
            .position(|step| step.contains("CREATE TABLE search_chunks"))
            .unwrap();
        assert_eq!(
            MIGRATIONS.len(),
            search_step + 5,
            "a step after search: undo it here too"
        );
        conn.execute_batch(&format!(
            "DROP TRIGGER search_chunks_deleted; DROP TABLE search_text; DROP TABLE search_chunks;
             ALTER TABLE runs DROP COLUMN indexed_seq;
             DROP TRIGGER artifact_object_deleted; DROP TRIGGER artifact_object_replaced;
             DROP TABLE object_deletions; ALTER TABLE artifacts DROP COLUMN object_key;
             DROP INDEX api_tokens_by_person; ALTER TABLE api_tokens DROP COLUMN person_id;
             ALTER TABLE api_tokens DROP COLUMN expires_at;
             ALTER TABLE api_tokens DROP COLUMN first_used_at;
             DROP TABLE passkey_ceremonies;
             ALTER TABLE event_chunks DROP COLUMN last_event_at;
             ALTER TABLE event_chunks DROP COLUMN stream_state;
             PRAGMA user_version = {search_step};"
        ))
        .unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    indexed(&store).await;
    assert_eq!(count(&store, "SELECT count(*) FROM search_chunks"), 1);
    assert_eq!(
        count(&store, "SELECT indexed_seq FROM runs WHERE id = 'old'"),
        10
    );
    drop(dir);
}
