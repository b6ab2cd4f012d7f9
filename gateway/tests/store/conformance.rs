//! The behaviour every `Store` backend must show. Each case is a `pub async fn` taking a
//! [`Database`]; a backend's test file (`store_sqlite.rs`, later `store_postgres.rs`) runs them all
//! through [`super::conformance_tests!`], so a case added here runs on every backend.
//!
//! What no test can observe (the row lock of ingest's read-modify-write, durability at a power
//! cut) is written down in `gateway/src/store/mod.rs`, "What a backend must guarantee".

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use common::wire::{
    ArtifactInfo, CommandKind, Delivery, Event, EventKind, RawEvent, RunStatus, RunSummary,
};
use gateway::store::{AppendOutcome, NewRun, Nonce, Store, StoreError, StoredSession};
use serde_json::{Value, json};

pub use super::agents::*;

/// What [`Database::open`] returns.
pub type Opening<'a> = Pin<Box<dyn Future<Output = Arc<dyn Store>> + Send + 'a>>;

/// One case's database.
pub trait Database: Send + Sync {
    /// A store on this database: empty the first time; opened again, it holds what was stored
    /// before, as the database of a restarted gateway (or of another replica) does.
    fn open(&self) -> Opening<'_>;
}

/// Events as the ingest handler hands them to the store (data in canonical form).
fn stored(events: impl AsRef<[Event]>) -> Arc<[RawEvent]> {
    events.as_ref().iter().map(Event::to_raw).collect()
}

/// Stored events with their data parsed, to compare with what was sent.
fn parsed(events: Vec<RawEvent>) -> Vec<Event> {
    events.iter().map(RawEvent::parsed).collect()
}

fn new_run(id: &str, created_at: i64) -> NewRun {
    NewRun {
        id: id.into(),
        name: Some(format!("name of {id}")),
        prompt: Some("fix the tests".into()),
        cwd: None,
        key: [7; 32],
        created_at,
    }
}

async fn with_run(db: &dyn Database, id: &str) -> Arc<dyn Store> {
    let store = db.open().await;
    store.create_run(new_run(id, 1)).await.unwrap();
    store
}

fn line(sequence: u64) -> Event {
    Event {
        sequence,
        kind: EventKind::Stdout,
        data: json!(format!("line {sequence} ✓")),
        ts: 1_000 + sequence as i64,
    }
}

fn lines(from: u64, to: u64) -> Vec<Event> {
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

async fn summary(store: &Arc<dyn Store>, id: &str) -> RunSummary {
    store.run(id.into()).await.unwrap().unwrap().summary
}

async fn all_events(store: &Arc<dyn Store>, id: &str) -> Vec<Event> {
    parsed(store.events(id.into(), 0, usize::MAX).await.unwrap())
}

pub async fn create_get_and_list_runs(db: &dyn Database) {
    let store = db.open().await;
    for (id, at) in [("a", 10), ("b", 30), ("c", 20), ("d", 30)] {
        store.create_run(new_run(id, at)).await.unwrap();
    }
    let record = store.run("a".into()).await.unwrap().unwrap();
    assert_eq!(record.key, [7; 32]);
    assert_eq!(
        record.summary,
        RunSummary {
            id: "a".into(),
            name: Some("name of a".into()),
            status: RunStatus::Pending,
            prompt: Some("fix the tests".into()),
            cwd: None,
            created_at: 10,
            finished_at: None,
            exit_code: None,
            last_sequence: 0,
            last_event_at: None,
            delivery: None,
            claude: None,
            agent: None,
            agent_offline: false,
            reason: None,
        }
    );
    assert!(store.run("zz".into()).await.unwrap().is_none());

    let ids = |runs: Vec<RunSummary>| runs.into_iter().map(|r| r.id).collect::<Vec<_>>();
    // Newest first; of two created in the same millisecond the later insert comes first.
    assert_eq!(
        ids(store.list_runs(10).await.unwrap()),
        ["d", "b", "c", "a"]
    );
    assert_eq!(ids(store.list_runs(2).await.unwrap()), ["d", "b"]);
    assert!(store.list_runs(0).await.unwrap().is_empty());

    let again = store.create_run(new_run("b", 99)).await;
    assert!(matches!(again, Err(StoreError::Conflict)), "{again:?}");
    assert_eq!(summary(&store, "b").await.created_at, 30);
}

pub async fn unknown_runs(db: &dyn Database) {
    let store = db.open().await;
    let append = store
        .append_events("nope".into(), stored(lines(1, 1)), None)
        .await;
    assert!(matches!(append, Err(StoreError::NotFound)), "{append:?}");
    let empty = store
        .append_events("nope".into(), stored(vec![]), None)
        .await;
    assert!(matches!(empty, Err(StoreError::NotFound)), "{empty:?}");
    let cmd = store
        .enqueue_command("nope".into(), CommandKind::Stop, 1)
        .await;
    assert!(matches!(cmd, Err(StoreError::NotFound)), "{cmd:?}");
    let art = store
        .put_artifact("nope".into(), "a.log".into(), vec![1], 1)
        .await;
    assert!(matches!(art, Err(StoreError::NotFound)), "{art:?}");
    assert!(all_events(&store, "nope").await.is_empty());
    assert!(
        store
            .pending_commands("nope".into())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(!store.ack_command("nope".into(), "c".into()).await.unwrap());
    assert!(
        store
            .list_artifacts("nope".into())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .artifact("nope".into(), "a.log".into())
            .await
            .unwrap()
            .is_none()
    );
}

pub async fn events_round_trip_and_update_the_run(db: &dyn Database) {
    let store = with_run(db, "r").await;
    let batch = vec![
        line(1),
        Event {
            sequence: 2,
            kind: EventKind::Assist,
            data: json!({"type": "tmate", "url": "ssh x@y", "web": "https://t"}),
            ts: 1_500,
        },
        Event {
            sequence: 3,
            kind: EventKind::Stderr,
            data: json!("\u{1b}[31mboom\u{0}\"quoted\""),
            ts: 1_200,
        },
    ];
    let outcome = store
        .append_events("r".into(), stored(batch.clone()), None)
        .await
        .unwrap();
    assert_eq!(
        outcome,
        AppendOutcome {
            acked_through: 3,
            inserted: 3,
            status: RunStatus::Running,
            delivery: None
        }
    );
    assert_eq!(all_events(&store, "r").await, batch);
    let run = summary(&store, "r").await;
    assert_eq!(run.status, RunStatus::Running);
    assert_eq!(run.last_sequence, 3);
    assert_eq!(run.last_event_at, Some(1_500));
}

pub async fn resending_a_batch_is_idempotent(db: &dyn Database) {
    let store = with_run(db, "r").await;
    store
        .append_events("r".into(), stored(lines(1, 5)), None)
        .await
        .unwrap();
    let again = store
        .append_events("r".into(), stored(lines(1, 5)), None)
        .await
        .unwrap();
    assert_eq!(
        again,
        AppendOutcome {
            acked_through: 5,
            inserted: 0,
            status: RunStatus::Running,
            delivery: None
        }
    );
    let overlap = store
        .append_events("r".into(), stored(lines(3, 8)), None)
        .await
        .unwrap();
    assert_eq!((overlap.acked_through, overlap.inserted), (8, 3));
    let empty = store
        .append_events("r".into(), stored(vec![]), None)
        .await
        .unwrap();
    assert_eq!((empty.acked_through, empty.inserted), (8, 0));
    assert_eq!(all_events(&store, "r").await, lines(1, 8));
}

pub async fn a_gap_answers_expected_and_writes_nothing(db: &dyn Database) {
    let store = with_run(db, "r").await;
    store
        .append_events("r".into(), stored(lines(1, 4)), None)
        .await
        .unwrap();
    let before = summary(&store, "r").await;
    for batch in [lines(6, 9), vec![line(5), line(7)], vec![line(5), line(5)]] {
        let got = store.append_events("r".into(), stored(batch), None).await;
        assert!(
            matches!(got, Err(StoreError::Gap { expected: 5 })),
            "{got:?}"
        );
    }
    // A gap in the first batch of a run, with an end marker in it: still nothing stored.
    store.create_run(new_run("fresh", 2)).await.unwrap();
    let got = store
        .append_events("fresh".into(), stored(vec![line(2), finished(3, 0)]), None)
        .await;
    assert!(
        matches!(got, Err(StoreError::Gap { expected: 1 })),
        "{got:?}"
    );
    assert_eq!(summary(&store, "fresh").await.status, RunStatus::Pending);
    assert!(all_events(&store, "fresh").await.is_empty());

    assert_eq!(summary(&store, "r").await, before);
    assert_eq!(all_events(&store, "r").await, lines(1, 4));
    let resumed = store
        .append_events("r".into(), stored(lines(5, 6)), None)
        .await
        .unwrap();
    assert_eq!(resumed.acked_through, 6);
}

pub async fn a_batch_with_events_after_finished_is_refused_whole(db: &dyn Database) {
    let store = with_run(db, "r").await;
    let got = store
        .append_events(
            "r".into(),
            stored(vec![line(1), finished(2, 0), line(3)]),
            None,
        )
        .await;
    assert!(matches!(got, Err(StoreError::Invalid(_))), "{got:?}");
    assert!(all_events(&store, "r").await.is_empty());
    assert_eq!(summary(&store, "r").await.status, RunStatus::Pending);
}

pub async fn finished_marker_ends_the_run(db: &dyn Database) {
    let store = db.open().await;
    for (id, code, status) in [
        ("ok", 0, RunStatus::Finished),
        ("bad", 2, RunStatus::Failed),
        ("killed", 137, RunStatus::Failed),
    ] {
        store.create_run(new_run(id, 1)).await.unwrap();
        store
            .append_events(id.into(), stored(lines(1, 2)), None)
            .await
            .unwrap();
        let outcome = store
            .append_events(id.into(), stored(vec![line(3), finished(4, code)]), None)
            .await
            .unwrap();
        assert_eq!(outcome.status, status, "{id}");
        let run = summary(&store, id).await;
        assert_eq!(run.status, status, "{id}");
        assert_eq!(run.exit_code, Some(code), "{id}");
        assert_eq!(run.finished_at, Some(5_004), "{id}");
        assert_eq!(run.last_sequence, 4, "{id}");
    }
}

pub async fn a_terminal_run_takes_no_new_events(db: &dyn Database) {
    let store = with_run(db, "r").await;
    store
        .append_events("r".into(), stored(vec![line(1), finished(2, 0)]), None)
        .await
        .unwrap();
    let late = store
        .append_events("r".into(), stored(lines(3, 3)), None)
        .await;
    assert!(matches!(late, Err(StoreError::RunFinished)), "{late:?}");
    let mixed = store
        .append_events("r".into(), stored(vec![finished(2, 0), line(3)]), None)
        .await;
    assert!(matches!(mixed, Err(StoreError::RunFinished)), "{mixed:?}");
    // A resend of what is stored is still acknowledged.
    let resend = store
        .append_events("r".into(), stored(vec![line(1), finished(2, 0)]), None)
        .await
        .unwrap();
    assert_eq!(
        resend,
        AppendOutcome {
            acked_through: 2,
            inserted: 0,
            status: RunStatus::Finished,
            delivery: None
        }
    );
    assert_eq!(all_events(&store, "r").await.len(), 2);
}

pub async fn stop_requested_then_finished_is_stopped(db: &dyn Database) {
    let store = with_run(db, "r").await;
    let stop = marker(2, json!({"event": "stop_requested", "reason": "command"}));
    store
        .append_events("r".into(), stored(vec![line(1), stop]), None)
        .await
        .unwrap();
    assert_eq!(summary(&store, "r").await.status, RunStatus::Running);
    let outcome = store
        .append_events("r".into(), stored(vec![line(3), finished(4, 130)]), None)
        .await
        .unwrap();
    assert_eq!(outcome.status, RunStatus::Stopped);
    let run = summary(&store, "r").await;
    assert_eq!(
        (run.status, run.exit_code, run.finished_at),
        (RunStatus::Stopped, Some(130), Some(5_004))
    );
}

/// The `finished` marker's count and digest are judged against every event stored before it,
/// across batches and a reopen; the runner learns the verdict from the acknowledgement, of a
/// resend too.
pub async fn delivery_is_judged_across_batches_and_reopens(db: &dyn Database) {
    let store = db.open().await;
    for id in ["ok", "bad"] {
        store.create_run(new_run(id, 1)).await.unwrap();
        store
            .append_events(id.into(), stored(lines(1, 3)), None)
            .await
            .unwrap();
        store
            .append_events(id.into(), stored(lines(4, 5)), None)
            .await
            .unwrap();
    }
    let sha = common::digest::stream_sha256(&lines(1, 5));
    drop(store);
    let store = db.open().await;
    for (id, finish, want) in [
        (
            "ok",
            finished_claiming(6, 5, &sha),
            Some(Delivery::Complete),
        ),
        (
            "bad",
            finished_claiming(6, 5, &"0".repeat(64)),
            Some(Delivery::Incomplete),
        ),
    ] {
        let acked = store
            .append_events(id.into(), stored(vec![finish.clone()]), None)
            .await
            .unwrap();
        assert_eq!(summary(&store, id).await.delivery, want, "{id}");
        assert_eq!(acked.delivery, want, "{id}");
        let again = store
            .append_events(id.into(), stored(vec![finish]), None)
            .await
            .unwrap();
        assert_eq!((again.inserted, again.delivery), (0, want), "{id}");
    }
    let listed = store.list_runs(10).await.unwrap();
    assert!(
        listed
            .iter()
            .any(|r| r.id == "bad" && r.delivery == Some(Delivery::Incomplete))
    );
}

pub async fn claude_markers_are_recorded_on_the_run_and_deleting_a_run_removes_it(
    db: &dyn Database,
) {
    let store = with_run(db, "r1").await;
    let turn = |seq: u64, outcome: &str, cost: f64, file: &str| {
        marker(
            seq,
            json!({"event": "turn_finished", "turn": seq, "outcome": outcome, "exitCode": 0,
                   "numTurns": 2, "costUsd": cost, "durationMs": 5,
                   "usage": {"input_tokens": 100, "output_tokens": 7,
                             "cache_read_input_tokens": 0, "cache_creation_input_tokens": 0},
                   "filesWritten": [file]}),
        )
    };
    let batch = vec![
        marker(
            1,
            json!({"event": "session", "sessionId": "s-1", "model": "claude-x"}),
        ),
        turn(2, "success", 0.25, "/w/a.txt"),
    ];
    store
        .append_events("r1".into(), stored(batch), None)
        .await
        .unwrap();
    // A second batch: the totals carry over; the same file is listed once.
    store
        .append_events(
            "r1".into(),
            stored(vec![turn(3, "aborted", 0.5, "/w/a.txt")]),
            None,
        )
        .await
        .unwrap();
    let c = summary(&store, "r1").await.claude.expect("claude stats");
    assert_eq!(c.session_id.as_deref(), Some("s-1"));
    assert_eq!(c.model.as_deref(), Some("claude-x"));
    assert_eq!(
        (c.prompts, c.turns, c.input_tokens, c.output_tokens),
        (2, 4, 200, 14)
    );
    assert!((c.cost_usd - 0.75).abs() < 1e-9);
    assert_eq!(c.files_written, ["/w/a.txt"]);
    assert_eq!(c.last_outcome.as_deref(), Some("aborted"));
    assert!(c.between_turns, "a turn finished and none has started");
    // Between turns only from a turn's end to the next start or the session's end.
    let between = |seq: u64, m: serde_json::Value| {
        let store = &store;
        async move {
            store
                .append_events("r1".into(), stored(vec![marker(seq, m)]), None)
                .await
                .unwrap();
            summary(store, "r1").await.claude.unwrap().between_turns
        }
    };
    assert!(
        !between(
            4,
            json!({"event": "turn_started", "turn": 3, "prompt": "go"})
        )
        .await
    );
    store
        .append_events(
            "r1".into(),
            stored(vec![turn(5, "success", 0.0, "/w/b.txt")]),
            None,
        )
        .await
        .unwrap();
    assert!(summary(&store, "r1").await.claude.unwrap().between_turns);
    assert!(
        !between(
            6,
            json!({"event": "session_ended", "reason": "idle", "turns": 3})
        )
        .await
    );

    store
        .enqueue_command("r1".into(), CommandKind::File { path: "a".into() }, 1)
        .await
        .unwrap();
    assert!(store.delete_run("r1".into()).await.unwrap());
    assert!(store.run("r1".into()).await.unwrap().is_none());
    assert!(all_events(&store, "r1").await.is_empty());
    assert!(
        store
            .pending_commands("r1".into())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        !store.delete_run("r1".into()).await.unwrap(),
        "already gone"
    );
}

/// A nonce is recorded once for every store on the database, with or without a batch: seen
/// before, a batch carrying it stores nothing; a batch the rules refuse keeps its nonce
/// recorded, so its replay is refused as a replay; expired nonces are pruned.
pub async fn nonces_are_recorded_once_for_every_store(db: &dyn Database) {
    let nonce = |n: u8, expires_at| Nonce {
        hash: [n; 32],
        expires_at,
    };
    let a = with_run(db, "r").await;
    let b = db.open().await;
    assert!(a.record_nonce(nonce(1, 100)).await.unwrap());
    assert!(!a.record_nonce(nonce(1, 100)).await.unwrap());
    assert!(
        !b.record_nonce(nonce(1, 100)).await.unwrap(),
        "another store on the same database knows it"
    );

    let ok = a
        .append_events("r".into(), stored(lines(1, 2)), Some(nonce(2, 100)))
        .await
        .unwrap();
    assert_eq!((ok.acked_through, ok.inserted), (2, 2));
    let replayed = b
        .append_events("r".into(), stored(lines(3, 3)), Some(nonce(2, 100)))
        .await;
    assert!(
        matches!(replayed, Err(StoreError::Replayed)),
        "{replayed:?}"
    );
    let gap = a
        .append_events("r".into(), stored(lines(5, 5)), Some(nonce(3, 100)))
        .await;
    assert!(
        matches!(gap, Err(StoreError::Gap { expected: 3 })),
        "{gap:?}"
    );
    let again = b
        .append_events("r".into(), stored(lines(5, 5)), Some(nonce(3, 100)))
        .await;
    assert!(matches!(again, Err(StoreError::Replayed)), "{again:?}");
    assert!(!a.record_nonce(nonce(3, 100)).await.unwrap());
    assert_eq!(all_events(&a, "r").await, lines(1, 2));

    assert!(a.record_nonce(nonce(4, 300)).await.unwrap());
    assert_eq!(
        a.prune_nonces(200).await.unwrap(),
        3,
        "those expiring at 100"
    );
    assert!(a.record_nonce(nonce(1, 100)).await.unwrap(), "pruned");
    assert!(!a.record_nonce(nonce(4, 300)).await.unwrap(), "kept");
}

pub async fn events_page_by_after_and_limit(db: &dyn Database) {
    let store = with_run(db, "r").await;
    store
        .append_events("r".into(), stored(lines(1, 25)), None)
        .await
        .unwrap();
    store.create_run(new_run("other", 2)).await.unwrap();
    store
        .append_events("other".into(), stored(lines(1, 3)), None)
        .await
        .unwrap();

    let mut after = 0;
    let mut pages = Vec::new();
    loop {
        let page = store.events("r".into(), after, 10).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.sequence;
        pages.push(page.len());
    }
    assert_eq!(pages, [10, 10, 5]);
    assert_eq!(
        parsed(store.events("r".into(), 20, 3).await.unwrap()),
        lines(21, 23)
    );
    assert!(store.events("r".into(), 25, 10).await.unwrap().is_empty());
    assert!(
        store
            .events("r".into(), u64::MAX, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.events("r".into(), 0, 0).await.unwrap().is_empty());
}

pub async fn events_before_pages_backwards_from_the_tail(db: &dyn Database) {
    let store = with_run(db, "r").await;
    store
        .append_events("r".into(), stored(lines(1, 10)), None)
        .await
        .unwrap();
    let seqs = |page: Vec<RawEvent>| page.iter().map(|e| e.sequence).collect::<Vec<_>>();
    let cases: [(u64, usize, Vec<u64>); 5] = [
        (u64::MAX, 3, vec![8, 9, 10]),
        (11, 3, vec![8, 9, 10]),
        (8, 3, vec![5, 6, 7]),
        (3, 5, vec![1, 2]),
        (1, 5, vec![]),
    ];
    for (before, limit, want) in cases {
        let page = store
            .events_before("r".into(), before, limit)
            .await
            .unwrap();
        assert_eq!(seqs(page), want, "before {before} limit {limit}");
    }
    assert!(
        store
            .events_before("nope".into(), 5, 5)
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn pages_split_chunks_anywhere(db: &dyn Database) {
    let store = with_run(db, "r").await;
    // Chunks 1..=3, 4..=4, 5..=9, 10..=12.
    for (a, b) in [(1, 3), (4, 4), (5, 9), (10, 12)] {
        store
            .append_events("r".into(), stored(lines(a, b)), None)
            .await
            .unwrap();
    }
    // A resend overlapping a chunk stores nothing new.
    store
        .append_events("r".into(), stored(lines(8, 12)), None)
        .await
        .unwrap();
    for after in 0..=13 {
        for limit in [0, 1, 2, 3, 5, 20] {
            let want: Vec<Event> = (after + 1..=12).take(limit).map(line).collect();
            let got = parsed(store.events("r".into(), after, limit).await.unwrap());
            assert_eq!(got, want, "after {after} limit {limit}");
        }
    }
    for before in 0..=14 {
        for limit in [0, 1, 2, 4, 20] {
            let mut want: Vec<Event> = (1..before.min(13)).rev().take(limit).map(line).collect();
            want.reverse();
            let got = parsed(
                store
                    .events_before("r".into(), before, limit)
                    .await
                    .unwrap(),
            );
            assert_eq!(got, want, "before {before} limit {limit}");
        }
    }
}

pub async fn a_batch_of_ten_thousand_commits(db: &dyn Database) {
    let store = with_run(db, "r").await;
    let outcome = store
        .append_events("r".into(), stored(lines(1, 10_000)), None)
        .await
        .unwrap();
    assert_eq!(outcome.acked_through, 10_000);
    assert_eq!(outcome.inserted, 10_000);
    assert_eq!(all_events(&store, "r").await.len(), 10_000);
}

pub async fn commands_are_pending_until_acked(db: &dyn Database) {
    let store = with_run(db, "r").await;
    store.create_run(new_run("other", 2)).await.unwrap();
    let kinds = [
        CommandKind::Exec {
            command: "git status".into(),
        },
        CommandKind::Prompt {
            prompt: "and now the docs".into(),
            model: None,
            permission_mode: None,
        },
        CommandKind::Stop,
    ];
    let mut queued = Vec::new();
    // Later commands carry earlier clocks: the queue keeps the order they arrived in.
    for (i, kind) in kinds.iter().enumerate() {
        let cmd = store
            .enqueue_command("r".into(), kind.clone(), 100 - i as i64)
            .await
            .unwrap();
        assert_eq!(cmd.kind, *kind);
        assert_eq!(cmd.id.len(), 32);
        queued.push(cmd);
    }
    assert_ne!(queued[0].id, queued[1].id);
    assert_eq!(store.pending_commands("r".into()).await.unwrap(), queued);
    assert!(
        store
            .pending_commands("other".into())
            .await
            .unwrap()
            .is_empty()
    );

    let first = queued[0].id.clone();
    assert!(
        !store
            .ack_command("other".into(), first.clone())
            .await
            .unwrap()
    );
    assert!(store.ack_command("r".into(), first.clone()).await.unwrap());
    assert!(!store.ack_command("r".into(), first).await.unwrap());
    assert!(
        !store
            .ack_command("r".into(), "unknown".into())
            .await
            .unwrap()
    );
    assert_eq!(
        store.pending_commands("r".into()).await.unwrap(),
        queued[1..]
    );
}

pub async fn artifacts_are_replaced_by_name(db: &dyn Database) {
    let store = with_run(db, "r").await;
    let first = store
        .put_artifact("r".into(), "latest.diff".into(), b"old".to_vec(), 1)
        .await
        .unwrap();
    let info = store
        .put_artifact("r".into(), "latest.diff".into(), b"abc".to_vec(), 2)
        .await
        .unwrap();
    assert_ne!(first.sha256, info.sha256);
    assert_eq!(
        info,
        ArtifactInfo {
            name: "latest.diff".into(),
            size: 3,
            sha256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad".into(),
            created_at: 2,
        }
    );
    store
        .put_artifact("r".into(), "a.log".into(), Vec::new(), 3)
        .await
        .unwrap();
    let listed = store.list_artifacts("r".into()).await.unwrap();
    let names: Vec<_> = listed.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["a.log", "latest.diff"]);
    assert_eq!(listed[1], info);
    assert_eq!(
        store
            .artifact("r".into(), "latest.diff".into())
            .await
            .unwrap(),
        Some((info, b"abc".to_vec()))
    );
    assert!(
        store
            .artifact("r".into(), "b.log".into())
            .await
            .unwrap()
            .is_none()
    );
}

pub async fn sessions_are_saved_touched_and_deleted(db: &dyn Database) {
    let store = db.open().await;
    let s = StoredSession {
        id_hash: [7; 32],
        created_at: 1,
        last_seen: 2,
    };
    store.save_session(s.clone()).await.unwrap();
    store
        .save_session(StoredSession {
            last_seen: 9,
            created_at: 100,
            ..s.clone()
        })
        .await
        .unwrap();
    let want = StoredSession { last_seen: 9, ..s };
    assert_eq!(
        store.sessions().await.unwrap(),
        vec![want.clone()],
        "touch keeps created_at"
    );
    drop(store);
    let store = db.open().await;
    assert_eq!(store.sessions().await.unwrap(), vec![want]);
    assert!(store.delete_session([7; 32]).await.unwrap());
    assert!(!store.delete_session([7; 32]).await.unwrap());
    assert!(store.sessions().await.unwrap().is_empty());
}

pub async fn a_touch_after_sign_out_does_not_revive_the_session(db: &dyn Database) {
    let store = db.open().await;
    let s = StoredSession {
        id_hash: [3; 32],
        created_at: 1,
        last_seen: 1,
    };
    store.save_session(s.clone()).await.unwrap();
    assert!(store.touch_session([3; 32], 5).await.unwrap());
    assert_eq!(store.sessions().await.unwrap()[0].last_seen, 5);
    assert!(store.delete_session([3; 32]).await.unwrap());
    assert!(!store.touch_session([3; 32], 9).await.unwrap());
    assert!(store.sessions().await.unwrap().is_empty());
}

pub async fn meta_is_a_key_value_table(db: &dyn Database) {
    let store = db.open().await;
    assert_eq!(store.get_meta("admin".into()).await.unwrap(), None);
    store.set_meta("admin".into(), "h1".into()).await.unwrap();
    store.set_meta("admin".into(), "h2".into()).await.unwrap();
    assert_eq!(
        store.get_meta("admin".into()).await.unwrap().as_deref(),
        Some("h2")
    );
}

/// Runs, events, commands, artifacts and meta are all there when the database is opened again,
/// and a finished run still takes no new events.
pub async fn everything_survives_a_reopen(db: &dyn Database) {
    let store = with_run(db, "r").await;
    store
        .append_events("r".into(), stored(vec![line(1), finished(2, 1)]), None)
        .await
        .unwrap();
    let cmd = store
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
    for _ in 0..2 {
        let store = db.open().await;
        assert_eq!(store.run("r".into()).await.unwrap(), run);
        assert_eq!(all_events(&store, "r").await.len(), 2);
        assert_eq!(
            store.pending_commands("r".into()).await.unwrap(),
            std::slice::from_ref(&cmd)
        );
        assert_eq!(store.list_artifacts("r".into()).await.unwrap().len(), 1);
        assert_eq!(
            store.get_meta("k".into()).await.unwrap().as_deref(),
            Some("v")
        );
        let late = store
            .append_events("r".into(), stored(lines(3, 3)), None)
            .await;
        assert!(matches!(late, Err(StoreError::RunFinished)), "{late:?}");
    }
}

pub async fn concurrent_batches_commit_together_each_with_its_own_answer(db: &dyn Database) {
    let store = db.open().await;
    for r in 0..16 {
        store
            .create_run(new_run(&format!("r{r}"), 1))
            .await
            .unwrap();
    }
    let mut tasks = Vec::new();
    for r in 0..16 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let id = format!("r{r}");
            for b in 0..50u64 {
                // Every run also sends a batch with a gap: refused alone, nothing stored.
                let gap = store
                    .append_events(id.clone(), stored(lines(b * 10 + 5, b * 10 + 6)), None)
                    .await;
                assert!(matches!(gap, Err(StoreError::Gap { expected }) if expected == b * 10 + 1));
                let ok = store
                    .append_events(id.clone(), stored(lines(b * 10 + 1, b * 10 + 10)), None)
                    .await
                    .unwrap();
                assert_eq!((ok.acked_through, ok.inserted), (b * 10 + 10, 10));
            }
            let unknown = store
                .append_events("nope".into(), stored(lines(1, 1)), None)
                .await;
            assert!(matches!(unknown, Err(StoreError::NotFound)));
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    for r in 0..16 {
        assert_eq!(all_events(&store, &format!("r{r}")).await, lines(1, 500));
    }
}

pub async fn readers_see_whole_batches_while_ingest_runs(db: &dyn Database) {
    let store = with_run(db, "r").await;
    let writer = {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            for batch in 0..100 {
                let first = batch * 50 + 1;
                store
                    .append_events("r".into(), stored(lines(first, first + 49)), None)
                    .await
                    .unwrap();
            }
        })
    };
    let mut readers = Vec::new();
    for _ in 0..8 {
        let store = Arc::clone(&store);
        readers.push(tokio::spawn(async move {
            loop {
                let seen = store.events("r".into(), 0, usize::MAX).await.unwrap();
                assert_eq!(seen.len() % 50, 0, "a batch is visible whole or not at all");
                assert!(seen.iter().zip(1..).all(|(e, want)| e.sequence == want));
                if seen.len() == 5_000 {
                    break;
                }
            }
        }));
    }
    writer.await.unwrap();
    for reader in readers {
        reader.await.unwrap();
    }
}

/// Two stores on one database (two gateway processes) ingest the same run at once, each batch
/// sent to both as a runner resending through another replica would: every event is stored
/// exactly once, in order, and the delivery check sees every one of them.
pub async fn two_stores_ingesting_one_run_store_each_event_once(db: &dyn Database) {
    let a = with_run(db, "r").await;
    let b = db.open().await;
    let mut tasks = Vec::new();
    for store in [a.clone(), b.clone()] {
        tasks.push(tokio::spawn(async move {
            for batch in 0..40u64 {
                let events = stored(lines(batch * 5 + 1, batch * 5 + 5));
                // The other store may have stored this batch (a resend) or be mid-way.
                match store.append_events("r".into(), events, None).await {
                    Ok(ok) => assert!(ok.acked_through >= batch * 5 + 5, "{ok:?}"),
                    Err(e) => panic!("batch {batch}: {e:?}"),
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(all_events(&a, "r").await, lines(1, 200));
    let sha = common::digest::stream_sha256(&lines(1, 200));
    let done = b
        .append_events(
            "r".into(),
            stored(vec![finished_claiming(201, 200, &sha)]),
            None,
        )
        .await
        .unwrap();
    assert_eq!(done.delivery, Some(Delivery::Complete));
    assert_eq!(summary(&a, "r").await.last_sequence, 201);
}
