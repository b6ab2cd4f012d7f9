//! The behaviour every `Store` backend must show. Each case is a `pub async fn` taking a
//! [`Database`]; a backend's test file (`store_sqlite.rs`, `store_postgres.rs`) runs them all
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
use gateway::store::search::{HitField, Needle, RunSearch};
use gateway::store::{
    ActionToken, AppendOutcome, ArtifactBody, AttemptResult, AuditEntry, Invitation, NewOutbound,
    NewRun, NewWebhook, Nonce, NotifyEvent, OutboundState, Person, Purge, PushSubscription, Role,
    Store, StoreError, StoredPasskey, StoredSession, Target, WebhookFormat,
};
use serde_json::{Value, json};

pub use super::agents::*;

/// What [`Database::open`] returns.
pub type Opening<'a> = Pin<Box<dyn Future<Output = Arc<dyn Store>> + Send + 'a>>;

/// One case's database.
pub trait Database: Send + Sync {
    /// A store on this database: empty the first time; opened again, it holds what was stored
    /// before, as the database of a restarted gateway (or of another replica) does.
    fn open(&self) -> Opening<'_>;

    /// Why this backend cannot be tested here (no server answers, say); `None` when it can.
    fn unavailable(&self) -> Option<String> {
        None
    }
}

/// Whether `case` is skipped on `db`, saying so loudly on stderr: a skipped suite must never
/// pass unnoticed.
pub fn skipped(db: &dyn Database, case: &str) -> bool {
    match db.unavailable() {
        Some(why) => {
            eprintln!("SKIP: store conformance case {case} not run: {why}");
            true
        }
        None => false,
    }
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
            pinned: false,
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
        Some((info, ArtifactBody::Inline(b"abc".to_vec())))
    );
    assert!(
        store
            .artifact("r".into(), "b.log".into())
            .await
            .unwrap()
            .is_none()
    );
}

/// An artifact whose body is an object: its key leaves the deletion queue when the artifact is
/// recorded, and joins it (due at once) when the artifact is replaced, its run deleted or
/// purged; nothing else touches the queue.
pub async fn artifact_objects_are_queued_for_deletion_when_no_artifact_needs_them(
    db: &dyn Database,
) {
    let store = with_run(db, "r").await;
    let info = |name: &str, at: i64| ArtifactInfo {
        name: name.into(),
        size: 5,
        sha256: "ab".repeat(32),
        created_at: at,
    };
    let due = |now: i64| {
        let store = store.clone();
        async move { store.due_object_deletions(now, 100).await.unwrap() }
    };
    let later = 3_600_000;
    // An upload queues its key first, due after its grace; recording the artifact takes it off.
    store
        .queue_object_deletion("k1".into(), later)
        .await
        .unwrap();
    store
        .queue_object_deletion("orphan".into(), later)
        .await
        .unwrap();
    // Queued again, a key keeps its earlier time.
    store
        .queue_object_deletion("orphan".into(), later * 2)
        .await
        .unwrap();
    assert!(due(later - 1).await.is_empty());
    store
        .put_artifact_object("r".into(), info("claude.log", 1), "k1".into())
        .await
        .unwrap();
    assert_eq!(due(later).await, ["orphan"]);
    assert_eq!(
        store
            .artifact("r".into(), "claude.log".into())
            .await
            .unwrap(),
        Some((info("claude.log", 1), ArtifactBody::Object("k1".into())))
    );
    assert_eq!(
        store.list_artifacts("r".into()).await.unwrap(),
        [info("claude.log", 1)]
    );
    // Replaced by another object, then by a body in the database: each replaced object is due.
    store
        .put_artifact_object("r".into(), info("claude.log", 2), "k2".into())
        .await
        .unwrap();
    assert_eq!(due(0).await, ["k1"]);
    store
        .put_artifact("r".into(), "claude.log".into(), b"inline".to_vec(), 3)
        .await
        .unwrap();
    assert_eq!(due(0).await, ["k1", "k2"]);
    // Recording an object for a run that is gone fails and queues nothing.
    let gone = store
        .put_artifact_object("nope".into(), info("a.log", 4), "k9".into())
        .await;
    assert!(matches!(gone, Err(StoreError::NotFound)), "{gone:?}");
    // Deleting a run queues its objects.
    store
        .put_artifact_object("r".into(), info("x.log", 5), "k3".into())
        .await
        .unwrap();
    assert!(store.delete_run("r".into()).await.unwrap());
    assert_eq!(due(0).await, ["k1", "k2", "k3"]);
    // So does retention, step by step.
    store.create_run(new_run("old", 1)).await.unwrap();
    for (n, key) in ["k4", "k5", "k6"].into_iter().enumerate() {
        store
            .put_artifact_object("old".into(), info(&format!("{n}.log"), 6), key.into())
            .await
            .unwrap();
    }
    while store.purge_run("old".into(), 1).await.unwrap() != Purge::Gone {}
    assert_eq!(due(0).await, ["k1", "k2", "k3", "k4", "k5", "k6"]);
    assert_eq!(
        store.due_object_deletions(0, 2).await.unwrap(),
        ["k1", "k2"],
        "the limit holds"
    );
    store
        .forget_object_deletions(vec!["k1".into(), "k2".into(), "k4".into(), "never".into()])
        .await
        .unwrap();
    assert_eq!(due(0).await, ["k3", "k5", "k6"]);
    assert_eq!(due(later).await, ["k3", "k5", "k6", "orphan"]);
}

pub async fn sessions_are_saved_touched_and_deleted(db: &dyn Database) {
    let store = db.open().await;
    let s = StoredSession {
        id_hash: [7; 32],
        created_at: 1,
        last_seen: 2,
        person_id: None,
        device: String::new(),
    };
    store.save_session(s.clone()).await.unwrap();
    store
        .save_session(StoredSession {
            last_seen: 9,
            created_at: 100,
            person_id: Some("p_1".into()),
            device: "Firefox on Linux".into(),
            ..s.clone()
        })
        .await
        .unwrap();
    let want = StoredSession {
        last_seen: 9,
        person_id: Some("p_1".into()),
        device: "Firefox on Linux".into(),
        ..s
    };
    assert_eq!(
        store.sessions().await.unwrap(),
        vec![want.clone()],
        "saving again keeps created_at and sets the person and device"
    );
    drop(store);
    let store = db.open().await;
    assert_eq!(store.sessions().await.unwrap(), vec![want.clone()]);
    assert_eq!(store.session([7; 32]).await.unwrap(), Some(want));
    assert_eq!(store.session([8; 32]).await.unwrap(), None);
    assert!(store.delete_session([7; 32]).await.unwrap());
    assert!(!store.delete_session([7; 32]).await.unwrap());
    assert!(store.sessions().await.unwrap().is_empty());
    assert_eq!(store.session([7; 32]).await.unwrap(), None);
}

pub async fn counters_count_within_their_window(db: &dyn Database) {
    let store = db.open().await;
    let count = |key: &str, window: i64, delta: i64| store.count(key.into(), window, delta);
    assert_eq!(count("ip:a", 60, 1).await.unwrap(), 1);
    assert_eq!(count("ip:a", 60, 1).await.unwrap(), 2);
    assert_eq!(count("ip:b", 60, 1).await.unwrap(), 1, "keys count apart");
    assert_eq!(
        count("ip:a", 60, -1).await.unwrap(),
        1,
        "a refund takes one back"
    );
    assert_eq!(
        count("ip:a", 120, 1).await.unwrap(),
        1,
        "a new window starts at zero"
    );
    assert_eq!(
        count("ip:a", 120, 0).await.unwrap(),
        1,
        "zero reads the count"
    );
    drop(store);
    let store = db.open().await;
    assert_eq!(store.count("ip:a".into(), 120, 1).await.unwrap(), 2);
}

pub async fn a_touch_after_sign_out_does_not_revive_the_session(db: &dyn Database) {
    let store = db.open().await;
    let s = StoredSession {
        id_hash: [3; 32],
        created_at: 1,
        last_seen: 1,
        person_id: Some("p_1".into()),
        device: String::new(),
    };
    store.save_session(s.clone()).await.unwrap();
    assert!(store.touch_session([3; 32], 5).await.unwrap());
    assert_eq!(store.sessions().await.unwrap()[0].last_seen, 5);
    assert!(store.delete_session([3; 32]).await.unwrap());
    assert!(!store.touch_session([3; 32], 9).await.unwrap());
    assert!(store.sessions().await.unwrap().is_empty());
}

fn session_of(hash: u8, person: &str) -> StoredSession {
    StoredSession {
        id_hash: [hash; 32],
        created_at: 1,
        last_seen: 1,
        person_id: Some(person.into()),
        device: String::new(),
    }
}

pub async fn a_persons_sessions_end_together(db: &dyn Database) {
    let store = db.open().await;
    for (hash, person) in [(1, "p_a"), (2, "p_a"), (3, "p_b")] {
        store.save_session(session_of(hash, person)).await.unwrap();
    }
    assert_eq!(store.delete_sessions_of("p_a".into()).await.unwrap(), 2);
    assert_eq!(store.delete_sessions_of("p_a".into()).await.unwrap(), 0);
    assert_eq!(store.sessions().await.unwrap(), vec![session_of(3, "p_b")]);
}

fn person(id: &str, name: &str, role: Role, created_at: i64) -> Person {
    Person {
        id: id.into(),
        name: name.into(),
        role,
        created_at,
        disabled_at: None,
        password_hash: Some(format!("$argon2id$hash-of-{id}")),
    }
}

pub async fn people_have_unique_names_and_change(db: &dyn Database) {
    let store = db.open().await;
    assert!(store.people().await.unwrap().is_empty());
    let ada = person("p_a", "ada", Role::Admin, 1);
    let bob = person("p_b", "bob", Role::Viewer, 2);
    store.create_person(bob.clone()).await.unwrap();
    store.create_person(ada.clone()).await.unwrap();
    assert!(matches!(
        store
            .create_person(person("p_c", "ada", Role::Viewer, 3))
            .await,
        Err(StoreError::Conflict)
    ));
    assert!(matches!(
        store
            .create_person(person("p_a", "cy", Role::Viewer, 3))
            .await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(
        store.people().await.unwrap(),
        vec![ada.clone(), bob.clone()]
    );
    assert_eq!(store.person("p_b".into()).await.unwrap(), Some(bob.clone()));
    assert_eq!(
        store.person_by_name("ada".into()).await.unwrap(),
        Some(ada.clone())
    );
    assert_eq!(store.person("p_none".into()).await.unwrap(), None);
    assert_eq!(store.person_by_name("Ada".into()).await.unwrap(), None);
    let changed = Person {
        role: Role::Operator,
        disabled_at: Some(7),
        password_hash: None,
        ..bob.clone()
    };
    assert!(store.update_person(changed.clone()).await.unwrap());
    assert!(matches!(
        store
            .update_person(Person {
                name: "ada".into(),
                ..changed.clone()
            })
            .await,
        Err(StoreError::Conflict)
    ));
    assert!(
        !store
            .update_person(person("p_none", "x", Role::Viewer, 1))
            .await
            .unwrap()
    );
    drop(store);
    let store = db.open().await;
    assert_eq!(store.person("p_b".into()).await.unwrap(), Some(changed));
}

fn invitation(hash: u8, name: &str, expires_at: i64) -> Invitation {
    Invitation {
        token_hash: [hash; 32],
        name: name.into(),
        role: Role::Operator,
        created_by: "p_a".into(),
        created_at: 10,
        expires_at,
    }
}

pub async fn invitations_are_taken_once_until_they_expire(db: &dyn Database) {
    let store = db.open().await;
    let live = invitation(1, "cy", 1_000);
    let old = invitation(2, "di", 50);
    store.create_invitation(live.clone()).await.unwrap();
    store.create_invitation(old.clone()).await.unwrap();
    assert_eq!(
        store.open_invitations(100).await.unwrap(),
        vec![live.clone()]
    );
    assert_eq!(
        store.invitation([1; 32], 100).await.unwrap(),
        Some(live.clone()),
        "reading does not use it"
    );
    assert_eq!(
        store.invitation([2; 32], 100).await.unwrap(),
        None,
        "expired"
    );
    assert_eq!(store.take_invitation([2; 32], 100).await.unwrap(), None);
    assert_eq!(store.take_invitation([9; 32], 100).await.unwrap(), None);
    assert_eq!(
        store.take_invitation([1; 32], 100).await.unwrap(),
        Some(live)
    );
    assert_eq!(
        store.take_invitation([1; 32], 100).await.unwrap(),
        None,
        "once"
    );
    assert_eq!(store.invitation([1; 32], 100).await.unwrap(), None);
    assert!(
        store.open_invitations(0).await.unwrap().len() == 1,
        "the unused one"
    );
}

pub async fn two_stores_counting_one_key_lose_no_count(db: &dyn Database) {
    let stores = [db.open().await, db.open().await];
    let mut tasks = Vec::new();
    for n in 0..8 {
        let store = stores[n % 2].clone();
        tasks.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            for _ in 0..25 {
                seen.push(store.count("global".into(), 7, 1).await.unwrap());
            }
            seen
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    all.sort();
    assert_eq!(
        all,
        (1..=200).collect::<Vec<i64>>(),
        "each count answered once"
    );
}

pub async fn an_invitation_is_taken_by_one_of_many(db: &dyn Database) {
    let store = db.open().await;
    store
        .create_invitation(invitation(5, "eve", 1_000))
        .await
        .unwrap();
    let other = db.open().await;
    let takers: Vec<_> = (0..8)
        .map(|i| {
            let s = if i % 2 == 0 {
                store.clone()
            } else {
                other.clone()
            };
            tokio::spawn(async move { s.take_invitation([5; 32], 100).await.unwrap() })
        })
        .collect();
    let mut got = 0;
    for t in takers {
        got += usize::from(t.await.unwrap().is_some());
    }
    assert_eq!(got, 1, "exactly one caller joins");
}

fn audit_line(action: &str, run: Option<&str>) -> AuditEntry {
    AuditEntry {
        id: 0,
        at: 5,
        actor_id: "p_a".into(),
        actor_name: "ada".into(),
        action: action.into(),
        run_id: run.map(String::from),
        target: Some("c_1".into()),
        detail: json!({ "prompt": "fix it", "n": 1.5 }),
        source: Some("127.0.0.1".into()),
    }
}

pub async fn the_audit_log_grows_and_reads_both_ways(db: &dyn Database) {
    let store = with_run(db, "r").await;
    let mut ids = Vec::new();
    for (action, run) in [
        ("signed_in", None),
        ("run_started", Some("r")),
        ("prompt_sent", Some("r")),
        ("run_started", Some("other")),
    ] {
        ids.push(store.append_audit(audit_line(action, run)).await.unwrap());
    }
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ascending: {ids:?}");
    let newest = store.audit(None, 10).await.unwrap();
    assert_eq!(newest.len(), 4);
    assert_eq!(newest[0].id, ids[3]);
    assert_eq!(
        newest[3],
        AuditEntry {
            id: ids[0],
            ..audit_line("signed_in", None)
        }
    );
    let page = store.audit(Some(ids[2]), 1).await.unwrap();
    assert_eq!(page.iter().map(|e| e.id).collect::<Vec<_>>(), [ids[1]]);
    let forwards = store.audit_after(ids[0], 2).await.unwrap();
    assert_eq!(
        forwards.iter().map(|e| e.id).collect::<Vec<_>>(),
        [ids[1], ids[2]]
    );
    let of_run: Vec<_> = store.run_audit("r".into()).await.unwrap();
    assert_eq!(
        of_run.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
        ["run_started", "prompt_sent"]
    );
    // Deleting the run keeps its lines; a reopened store keeps them all.
    assert!(store.delete_run("r".into()).await.unwrap());
    drop(store);
    let store = db.open().await;
    assert_eq!(store.run_audit("r".into()).await.unwrap(), of_run);
    let next = store
        .append_audit(audit_line("signed_out", None))
        .await
        .unwrap();
    assert!(next > ids[3]);
}

fn passkey(id: u8, person: &str, created_at: i64) -> StoredPasskey {
    StoredPasskey {
        credential_id: vec![id; 16],
        person_id: person.into(),
        static_state: vec![1, 2, 3, id],
        dynamic_state: [0, 1, 0, 0, 0, 0, 1],
        created_at,
        last_used_at: None,
    }
}

pub async fn passkeys_are_kept_by_credential_and_count_their_uses(db: &dyn Database) {
    let store = db.open().await;
    let (a, b) = (passkey(1, "p_a", 1), passkey(2, "p_a", 2));
    store.add_passkey(b.clone()).await.unwrap();
    store.add_passkey(a.clone()).await.unwrap();
    store.add_passkey(passkey(3, "p_b", 3)).await.unwrap();
    assert!(matches!(
        store.add_passkey(passkey(1, "p_b", 4)).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(
        store.passkeys_of("p_a".into()).await.unwrap(),
        vec![a.clone(), b]
    );
    assert_eq!(store.passkey(vec![9; 16]).await.unwrap(), None);
    let counted = [0, 1, 7, 0, 0, 0, 1];
    assert!(store.use_passkey(vec![1; 16], counted, 50).await.unwrap());
    assert!(!store.use_passkey(vec![9; 16], counted, 50).await.unwrap());
    drop(store);
    let store = db.open().await;
    assert_eq!(
        store.passkey(vec![1; 16]).await.unwrap(),
        Some(StoredPasskey {
            dynamic_state: counted,
            last_used_at: Some(50),
            ..a
        })
    );
}

pub async fn a_pairing_code_signs_in_once_until_it_expires(db: &dyn Database) {
    let store = db.open().await;
    let now = gateway::clock::now_ms();
    store
        .create_pairing([1; 32], "p_a".into(), now + 60_000)
        .await
        .unwrap();
    store
        .create_pairing([2; 32], "p_b".into(), now + 10)
        .await
        .unwrap();
    assert_eq!(
        store.take_pairing([2; 32], now + 11).await.unwrap(),
        None,
        "expired"
    );
    assert_eq!(store.take_pairing([9; 32], now).await.unwrap(), None);
    let other = db.open().await;
    assert_eq!(
        other.take_pairing([1; 32], now).await.unwrap().as_deref(),
        Some("p_a")
    );
    assert_eq!(
        store.take_pairing([1; 32], now).await.unwrap(),
        None,
        "once"
    );
}

pub async fn a_passkey_ceremony_is_taken_once_by_any_opener_until_it_expires(db: &dyn Database) {
    let store = db.open().await;
    let now = gateway::clock::now_ms();
    let make = |challenge: u8, kind: &'static str, expires_at: i64, limit: u64| {
        store.create_ceremony(
            [challenge; 16],
            kind,
            vec![challenge; 40],
            expires_at,
            limit,
        )
    };
    assert!(make(1, "registration", now + 60_000, 10).await.unwrap());
    assert!(make(2, "sign_in", now + 60_000, 10).await.unwrap());
    assert!(make(3, "sign_in", now + 10, 10).await.unwrap());
    assert_eq!(
        store
            .take_ceremony([3; 16], "sign_in", now + 11)
            .await
            .unwrap(),
        None,
        "expired"
    );
    assert_eq!(
        store.take_ceremony([1; 16], "sign_in", now).await.unwrap(),
        None,
        "a registration is no sign-in"
    );
    let other = db.open().await;
    assert_eq!(
        other
            .take_ceremony([1; 16], "registration", now)
            .await
            .unwrap(),
        Some(vec![1; 40]),
        "another opener (another replica) finishes it"
    );
    assert_eq!(
        store
            .take_ceremony([1; 16], "registration", now)
            .await
            .unwrap(),
        None,
        "once"
    );
    // At the limit nothing more is stored until one is taken or expires.
    assert!(!make(4, "sign_in", now + 60_000, 1).await.unwrap());
    assert_eq!(
        store.take_ceremony([4; 16], "sign_in", now).await.unwrap(),
        None
    );
    assert!(
        store
            .take_ceremony([2; 16], "sign_in", now)
            .await
            .unwrap()
            .is_some()
    );
    assert!(make(4, "sign_in", now + 60_000, 1).await.unwrap());
}

pub async fn meta_or_insert_keeps_the_first_value_for_every_opener(db: &dyn Database) {
    let store = db.open().await;
    let other = db.open().await;
    let first = store.meta_or_insert("k".into(), "first".into());
    let second = other.meta_or_insert("k".into(), "second".into());
    let (first, second) = (first.await.unwrap(), second.await.unwrap());
    assert_eq!(first, second, "both get the winner's value");
    assert!(first == "first" || first == "second", "{first}");
    assert_eq!(
        store.get_meta("k".into()).await.unwrap(),
        Some(first.clone())
    );
    // A value set already is kept.
    assert_eq!(
        other
            .meta_or_insert("k".into(), "third".into())
            .await
            .unwrap(),
        first
    );
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
            for batch in 0..40 {
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
                if seen.len() == 2_000 {
                    break;
                }
                // Eight readers reading the whole run back to back starved the writer on a
                // loaded machine (72 s on PostgreSQL); a short pause keeps them interleaved.
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
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

/// Ends `id` with `status` at `at` (unix ms, the `finished` marker's `ts`).
async fn end_run(store: &Arc<dyn Store>, id: &str, status: RunStatus, at: i64) {
    let mut events = vec![line(1)];
    if status == RunStatus::Stopped {
        events.push(marker(
            2,
            json!({"event": "stop_requested", "reason": "command"}),
        ));
    }
    let code = if status == RunStatus::Finished { 0 } else { 1 };
    let mut end = finished(events.len() as u64 + 1, code);
    end.ts = at;
    events.push(end);
    store
        .append_events(id.into(), stored(events), None)
        .await
        .unwrap();
    assert_eq!(summary(store, id).await.status, status, "{id}");
}

/// Expired: ended (finished, failed, stopped), not pinned, ended before its status's cutoff.
pub async fn retention_chooses_ended_unpinned_runs_past_their_cutoff(db: &dyn Database) {
    let store = db.open().await;
    for (id, status, ended) in [
        ("old-finished", RunStatus::Finished, 100),
        ("older-finished", RunStatus::Finished, 50),
        ("new-finished", RunStatus::Finished, 10_000),
        ("old-failed", RunStatus::Failed, 100),
        ("mid-failed", RunStatus::Failed, 1_500),
        ("old-stopped", RunStatus::Stopped, 100),
        ("old-pinned", RunStatus::Finished, 100),
    ] {
        store.create_run(new_run(id, 1)).await.unwrap();
        end_run(&store, id, status, ended).await;
    }
    store.create_run(new_run("pending", 1)).await.unwrap();
    store.create_run(new_run("running", 1)).await.unwrap();
    store
        .append_events("running".into(), stored(lines(1, 2)), None)
        .await
        .unwrap();
    assert!(store.set_pinned("old-pinned".into(), true).await.unwrap());
    assert!(summary(&store, "old-pinned").await.pinned);
    assert!(!summary(&store, "old-finished").await.pinned);
    assert!(!store.set_pinned("nobody".into(), true).await.unwrap());

    let cutoffs = vec![
        (RunStatus::Finished, 1_000),
        (RunStatus::Failed, 2_000),
        // Never chosen, whatever the cutoff: the run may still be streaming.
        (RunStatus::Running, i64::MAX),
        (RunStatus::Pending, i64::MAX),
    ];
    let expired = store.expired_runs(cutoffs.clone(), 100).await.unwrap();
    assert_eq!(
        expired,
        ["older-finished", "old-finished", "old-failed", "mid-failed"],
        "oldest first; stopped runs have no cutoff here"
    );
    assert_eq!(
        store.expired_runs(cutoffs, 1).await.unwrap(),
        ["older-finished"]
    );
    assert!(store.expired_runs(vec![], 100).await.unwrap().is_empty());
    let stopped = store
        .expired_runs(vec![(RunStatus::Stopped, 101)], 100)
        .await
        .unwrap();
    assert_eq!(stopped, ["old-stopped"]);

    let store = db.open().await;
    assert!(
        summary(&store, "old-pinned").await.pinned,
        "a pin survives a reopen"
    );
}

/// The first step hides the run; the later ones delete events, then artifacts, then the run,
/// each at most `max_rows` rows; other runs are untouched.
pub async fn purging_hides_a_run_then_deletes_it_in_small_steps(db: &dyn Database) {
    let store = db.open().await;
    for id in ["doomed", "other"] {
        store.create_run(new_run(id, 1)).await.unwrap();
        for batch in 0..10 {
            let from = batch * 3 + 1;
            store
                .append_events(id.into(), stored(lines(from, from + 2)), None)
                .await
                .unwrap();
        }
        store
            .append_events(id.into(), stored([finished(31, 0)]), None)
            .await
            .unwrap();
        for name in ["a.log", "b.log", "c.log"] {
            store
                .put_artifact(id.into(), name.into(), vec![b'x'; 1000], 2)
                .await
                .unwrap();
        }
        store
            .enqueue_command(id.into(), CommandKind::Stop, 3)
            .await
            .unwrap();
    }
    let other_events = all_events(&store, "other").await;

    assert_eq!(
        store.purge_run("doomed".into(), 4).await.unwrap(),
        Purge::More
    );
    assert!(
        store.run("doomed".into()).await.unwrap().is_none(),
        "hidden at once"
    );
    let listed: Vec<String> = store
        .list_runs(10)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(listed, ["other"]);
    assert!(
        !store.set_pinned("doomed".into(), true).await.unwrap(),
        "too late to pin"
    );
    let counts = store.run_counts().await.unwrap();
    assert_eq!(counts, [(RunStatus::Finished, 1)]);
    // A restart in the middle: the purge is found again, before any other run.
    let store = db.open().await;
    assert_eq!(
        store.expired_runs(vec![], 10).await.unwrap(),
        ["doomed"],
        "a purge begun is finished"
    );
    let mut steps = 1;
    loop {
        steps += 1;
        match store.purge_run("doomed".into(), 4).await.unwrap() {
            Purge::More => assert!(steps < 20, "no progress"),
            Purge::Gone => break,
            Purge::Kept => panic!("the run is not pinned"),
        }
    }
    // 11 event chunks and 3 artifacts, 4 rows a step: 4 steps at least.
    assert!(steps >= 4, "{steps} steps");
    assert!(
        store
            .events("doomed".into(), 0, 100)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .list_artifacts("doomed".into())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .pending_commands("doomed".into())
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store.purge_run("doomed".into(), 4).await.unwrap(),
        Purge::Gone
    );
    assert!(store.expired_runs(vec![], 10).await.unwrap().is_empty());

    assert_eq!(all_events(&store, "other").await, other_events);
    assert_eq!(store.list_artifacts("other".into()).await.unwrap().len(), 3);
    assert_eq!(
        store.pending_commands("other".into()).await.unwrap().len(),
        1
    );
}

/// Search never answers with a run retention has begun deleting: not its name, prompt or
/// output, neither after the first step (the run is hidden) nor once it is gone.
pub async fn a_run_being_purged_is_not_found_by_search(db: &dyn Database) {
    let store = db.open().await;
    for id in ["doomed", "kept"] {
        let mut run = new_run(id, 1);
        run.name = Some(format!("{id} quarterly widget"));
        run.prompt = Some("rebuild the widget".into());
        store.create_run(run).await.unwrap();
        // Batches stored apart, so that deleting them takes several small steps.
        for batch in 0..5u64 {
            let from = batch * 2 + 1;
            let events: Vec<Event> = (from..from + 2)
                .map(|s| text_line(s, "widget line"))
                .collect();
            store
                .append_events(id.into(), stored(events), None)
                .await
                .unwrap();
        }
        store
            .append_events(id.into(), stored([finished(11, 0)]), None)
            .await
            .unwrap();
    }
    let found = |store: Arc<dyn Store>| async move {
        let mut ids: Vec<String> = store
            .search_runs(RunSearch {
                needle: needle("widget"),
                status: None,
                since: None,
                limit: 10,
            })
            .await
            .unwrap()
            .into_iter()
            .map(|h| h.run.id)
            .collect();
        ids.sort();
        let lines = store
            .search_run("doomed".into(), needle("widget"), 0, 10)
            .await
            .unwrap();
        (ids, lines.hits.len())
    };
    assert_eq!(
        found(store.clone()).await,
        (vec!["doomed".to_string(), "kept".to_string()], 10)
    );

    assert_eq!(
        store.purge_run("doomed".into(), 2).await.unwrap(),
        Purge::More
    );
    assert_eq!(found(store.clone()).await, (vec!["kept".to_string()], 0));
    while store.purge_run("doomed".into(), 2).await.unwrap() != Purge::Gone {}
    assert_eq!(found(store.clone()).await, (vec!["kept".to_string()], 0));
}

pub async fn a_pinned_run_is_kept_and_an_unpinned_one_purged(db: &dyn Database) {
    let store = db.open().await;
    store.create_run(new_run("r", 1)).await.unwrap();
    end_run(&store, "r", RunStatus::Finished, 100).await;
    assert!(store.set_pinned("r".into(), true).await.unwrap());
    assert_eq!(store.purge_run("r".into(), 100).await.unwrap(), Purge::Kept);
    assert_eq!(all_events(&store, "r").await.len(), 2, "nothing deleted");
    assert!(store.run("r".into()).await.unwrap().is_some());
    assert!(store.set_pinned("r".into(), false).await.unwrap());
    assert_eq!(store.purge_run("r".into(), 100).await.unwrap(), Purge::Gone);
    assert!(store.run("r".into()).await.unwrap().is_none());
}
fn needle(q: &str) -> Needle {
    Needle::new(q).expect("a query")
}

fn text_line(sequence: u64, text: &str) -> Event {
    Event {
        sequence,
        kind: EventKind::Stdout,
        data: json!(text),
        ts: 1_000 + sequence as i64,
    }
}

/// A run of 12,000 lines in batches of 3,000 with "needle" on every 1,000th line: searched page
/// by page, in order, whatever a backend has indexed yet.
pub async fn search_finds_a_runs_lines_page_by_page(db: &dyn Database) {
    let store = with_run(db, "r").await;
    store.create_run(new_run("other", 2)).await.unwrap();
    for b in 0..4u64 {
        let batch: Vec<Event> = (b * 3000 + 1..=(b + 1) * 3000)
            .map(|s| {
                if s % 1000 == 0 {
                    text_line(s, &format!("\x1b[31mNeedle\x1b[0m at {s}"))
                } else {
                    line(s)
                }
            })
            .collect();
        store
            .append_events("r".into(), stored(batch), None)
            .await
            .unwrap();
    }
    store
        .append_events(
            "other".into(),
            stored([text_line(1, "needle elsewhere")]),
            None,
        )
        .await
        .unwrap();

    let page = store
        .search_run("r".into(), needle("NEEDLE"), 0, 5)
        .await
        .unwrap();
    let seqs: Vec<u64> = page.hits.iter().map(|h| h.sequence).collect();
    assert_eq!(seqs, [1000, 2000, 3000, 4000, 5000]);
    assert_eq!(page.next_after, Some(5000));
    assert_eq!(page.hits[0].text, "Needle at 1000", "escapes removed");
    assert_eq!(page.hits[0].kind, EventKind::Stdout);
    assert_eq!(page.hits[0].ts, 2000);
    let rest = store
        .search_run("r".into(), needle("needle"), 5000, 100)
        .await
        .unwrap();
    let seqs: Vec<u64> = rest.hits.iter().map(|h| h.sequence).collect();
    assert_eq!(seqs, (6..=12).map(|k| k * 1000).collect::<Vec<_>>());
    assert_eq!(rest.next_after, None);

    // A substring inside a word, short queries, a line that is not there, an unknown run.
    let inner = store
        .search_run("r".into(), needle("ne 11999"), 0, 10)
        .await
        .unwrap();
    assert_eq!(
        inner.hits.iter().map(|h| h.sequence).collect::<Vec<_>>(),
        [11999]
    );
    let short = store
        .search_run("r".into(), needle("✓"), 11_990, 100)
        .await
        .unwrap();
    assert_eq!(
        short.hits.len(),
        9,
        "every plain line after 11,990 but 12,000"
    );
    let none = store
        .search_run("r".into(), needle("haystack"), 0, 10)
        .await
        .unwrap();
    assert!(none.hits.is_empty() && none.next_after.is_none());
    let unknown = store
        .search_run("nope".into(), needle("needle"), 0, 10)
        .await
        .unwrap();
    assert!(unknown.hits.is_empty());
}

/// Claude's stream-json and markers are searched as they read, not as JSON; assist links never.
pub async fn search_reads_claude_lines_and_markers_in_words(db: &dyn Database) {
    let store = with_run(db, "c").await;
    let call = json!({"type": "assistant", "message": {"content": [
        {"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": "cargo test --all"}}]}})
    .to_string();
    let result = json!({"type": "user", "message": {"content": [
        {"type": "tool_result", "tool_use_id": "t1", "content": "test result: FAILED", "is_error": false}]}})
    .to_string();
    let events = vec![
        text_line(1, &call),
        text_line(2, &result),
        marker(
            3,
            json!({"event": "turn_finished", "turn": 1, "outcome": "failed"}),
        ),
        Event {
            sequence: 4,
            kind: EventKind::Assist,
            data: json!({"type": "tmate", "url": "ssh secret-link@tmate.io"}),
            ts: 4,
        },
    ];
    store
        .append_events("c".into(), stored(events), None)
        .await
        .unwrap();
    let hits = |q: &'static str| {
        let store = store.clone();
        async move {
            let page = store
                .search_run("c".into(), needle(q), 0, 10)
                .await
                .unwrap();
            page.hits
                .iter()
                .map(|h| (h.sequence, h.text.clone()))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        hits("bash: cargo").await,
        [(1, "→ Bash: cargo test --all".to_string())]
    );
    assert_eq!(
        hits("← bash").await,
        [(2, "← Bash: test result: FAILED".to_string())]
    );
    assert_eq!(
        hits("turn 1: failed").await,
        [(3, "turn 1: failed".to_string())]
    );
    assert!(
        hits("tool_use").await.is_empty(),
        "JSON keys are not searched"
    );
    assert!(
        hits("tmate").await.is_empty(),
        "assist links are not searched"
    );
}

/// Across runs: names, prompts and output, newest first, each run once, with the filters.
pub async fn search_across_runs_by_name_prompt_and_output(db: &dyn Database) {
    let store = db.open().await;
    let run = |id: &str, at: i64, name: &str, prompt: &str| NewRun {
        name: Some(name.into()),
        prompt: Some(prompt.into()),
        ..new_run(id, at)
    };
    store
        .create_run(run("n", 10, "Deploy the Widget", "p"))
        .await
        .unwrap();
    store
        .create_run(run("p", 20, "x", "make the widget faster"))
        .await
        .unwrap();
    store.create_run(run("o", 30, "y", "q")).await.unwrap();
    store
        .create_run(run("z", 40, "nothing", "here"))
        .await
        .unwrap();
    store.create_run(run("f", 50, "done", "q")).await.unwrap();
    let mut out = lines(1, 2500);
    out.push(text_line(2501, "error: widget not found"));
    store
        .append_events("o".into(), stored(out), None)
        .await
        .unwrap();
    store
        .append_events(
            "f".into(),
            stored([text_line(1, "widget ok"), finished(2, 0)]),
            None,
        )
        .await
        .unwrap();
    store
        .append_events("z".into(), stored(lines(1, 10)), None)
        .await
        .unwrap();

    let search = |q: &str, status: Option<RunStatus>, since: Option<i64>, limit: usize| {
        let store = store.clone();
        let s = RunSearch {
            needle: needle(q),
            status,
            since,
            limit,
        };
        async move { store.search_runs(s).await.unwrap() }
    };
    let hits = search("WIDGET", None, None, 10).await;
    let got: Vec<(&str, HitField, Option<u64>)> = hits
        .iter()
        .map(|h| (h.run.id.as_str(), h.field, h.sequence))
        .collect();
    assert_eq!(
        got,
        [
            ("f", HitField::Output, Some(1)),
            ("o", HitField::Output, Some(2501)),
            ("p", HitField::Prompt, None),
            ("n", HitField::Name, None),
        ]
    );
    assert_eq!(hits[1].snippet, "error: widget not found");
    assert_eq!(
        hits[1].run.last_sequence, 2501,
        "the run as the list shows it"
    );
    assert_eq!(hits[3].snippet, "Deploy the Widget");

    let finished = search("widget", Some(RunStatus::Finished), None, 10).await;
    assert_eq!(
        finished
            .iter()
            .map(|h| h.run.id.as_str())
            .collect::<Vec<_>>(),
        ["f"]
    );
    let recent = search("widget", None, Some(20), 10).await;
    assert_eq!(
        recent.iter().map(|h| h.run.id.as_str()).collect::<Vec<_>>(),
        ["f", "o", "p"]
    );
    let two = search("widget", None, None, 2).await;
    assert_eq!(
        two.iter().map(|h| h.run.id.as_str()).collect::<Vec<_>>(),
        ["f", "o"]
    );
    assert!(search("no such text", None, None, 10).await.is_empty());

    assert!(store.delete_run("o".into()).await.unwrap());
    let after_delete = search("widget not found", None, None, 10).await;
    assert!(
        after_delete.is_empty(),
        "a deleted run's output is gone: {after_delete:?}"
    );
}

fn webhook(url: &str, events: Vec<NotifyEvent>) -> NewWebhook {
    NewWebhook {
        url: url.into(),
        secret: "whsec_abc".into(),
        events,
        format: WebhookFormat::Json,
        created_at: 10,
    }
}

fn delivery(target: Target, event: NotifyEvent, not_before: i64) -> NewOutbound {
    NewOutbound {
        target,
        event,
        run_id: Some("r".into()),
        body: format!("{{\"event\":\"{}\"}}", event.as_str()),
        not_before,
        created_at: not_before,
    }
}

fn subscription(endpoint: &str, session: u8) -> PushSubscription {
    PushSubscription {
        id: String::new(),
        endpoint: endpoint.into(),
        p256dh: vec![4; 65],
        auth: vec![1; 16],
        session_hash: [session; 32],
        events: vec![NotifyEvent::NeedsApproval, NotifyEvent::Finished],
        created_at: 20,
    }
}

/// Webhooks keep what they were given (the secret too: the gateway signs with it) under ids
/// of their own; deleting one deletes its deliveries.
pub async fn webhooks_are_created_listed_and_deleted(db: &dyn Database) {
    let store = db.open().await;
    let a = store
        .create_webhook(webhook(
            "https://example.com/a",
            vec![NotifyEvent::Finished, NotifyEvent::NeedsApproval],
        ))
        .await
        .unwrap();
    let mut slack = webhook("https://hooks.example.com/b", vec![NotifyEvent::Failed]);
    slack.format = WebhookFormat::Slack;
    let b = store.create_webhook(slack).await.unwrap();
    assert!(a.id.starts_with("wh_") && a.id.len() == 35, "{}", a.id);
    assert_ne!(a.id, b.id);
    assert_eq!(
        (a.url.as_str(), a.secret.as_str(), a.format),
        ("https://example.com/a", "whsec_abc", WebhookFormat::Json)
    );
    assert_eq!(
        a.events,
        vec![NotifyEvent::Finished, NotifyEvent::NeedsApproval]
    );
    assert_eq!(store.webhooks().await.unwrap(), vec![a.clone(), b.clone()]);

    let target = Target::Webhook(a.id.clone());
    store
        .enqueue_outbound(vec![delivery(target.clone(), NotifyEvent::Finished, 5)])
        .await
        .unwrap();
    assert!(store.delete_webhook(a.id.clone()).await.unwrap());
    assert!(!store.delete_webhook(a.id.clone()).await.unwrap());
    assert_eq!(store.webhooks().await.unwrap(), vec![b]);
    assert!(
        store
            .outbound_log(Some(target), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.claim_outbound(100, 200, 10).await.unwrap().is_empty());
}

/// A browser subscribing again (same endpoint) replaces its subscription.
pub async fn push_subscriptions_are_replaced_by_endpoint(db: &dyn Database) {
    let store = db.open().await;
    let first = store
        .save_push_subscription(subscription("https://push.example.com/1", 1))
        .await
        .unwrap();
    assert!(first.id.starts_with("ps_"), "{}", first.id);
    assert_eq!(
        (first.p256dh.len(), first.auth.len(), first.session_hash),
        (65, 16, [1; 32])
    );
    let other = store
        .save_push_subscription(subscription("https://push.example.com/2", 2))
        .await
        .unwrap();
    let again = store
        .save_push_subscription(subscription("https://push.example.com/1", 3))
        .await
        .unwrap();
    assert_ne!(again.id, first.id);
    let all = store.push_subscriptions().await.unwrap();
    assert_eq!(all.len(), 2);
    assert!(all.contains(&other) && all.contains(&again), "{all:?}");
    assert!(
        store
            .delete_push_subscription(other.id.clone())
            .await
            .unwrap()
    );
    assert!(!store.delete_push_subscription(other.id).await.unwrap());
    assert_eq!(store.push_subscriptions().await.unwrap(), vec![again]);
}

/// Deliveries wait for their time, are taken by one claim at a time (also across stores on
/// the same database), come back after their lease or a retry, and stay in the log.
pub async fn deliveries_are_claimed_once_retried_and_logged(db: &dyn Database) {
    let a = db.open().await;
    let b = db.open().await;
    let hook = a
        .create_webhook(webhook(
            "https://example.com/h",
            vec![NotifyEvent::Finished],
        ))
        .await
        .unwrap();
    let target = Target::Webhook(hook.id.clone());
    let ids = a
        .enqueue_outbound(vec![
            delivery(target.clone(), NotifyEvent::NeedsApproval, 100),
            delivery(target.clone(), NotifyEvent::Finished, 200),
        ])
        .await
        .unwrap();
    assert_eq!(ids.len(), 2);
    assert!(ids.iter().all(|id| id.starts_with("dl_")), "{ids:?}");

    assert!(a.claim_outbound(99, 1_000, 10).await.unwrap().is_empty());
    let first = a.claim_outbound(150, 1_000, 10).await.unwrap();
    assert_eq!(first.len(), 1);
    let d = &first[0];
    assert_eq!(
        (d.id.as_str(), &d.target, d.event, d.state, d.attempts),
        (
            ids[0].as_str(),
            &target,
            NotifyEvent::NeedsApproval,
            OutboundState::Pending,
            0
        )
    );
    assert_eq!(d.body, r#"{"event":"needs_approval"}"#);
    assert_eq!(d.run_id.as_deref(), Some("r"));
    // Leased: neither store takes it again before the lease ends; the other one is due.
    let second = b.claim_outbound(500, 1_000, 10).await.unwrap();
    assert_eq!(second.iter().map(|d| &d.id).collect::<Vec<_>>(), [&ids[1]]);
    assert!(a.claim_outbound(999, 2_000, 10).await.unwrap().is_empty());

    // The first attempt failed: retried at 1_500; the second was delivered.
    let failed = AttemptResult {
        state: OutboundState::Pending,
        next_at: 1_500,
        attempted: true,
        status: Some(500),
        error: Some("the receiver answered 500".into()),
        at: 1_000,
    };
    assert!(a.finish_attempt(ids[0].clone(), failed).await.unwrap());
    let delivered = AttemptResult {
        state: OutboundState::Delivered,
        next_at: 1_001,
        attempted: true,
        status: Some(204),
        error: None,
        at: 1_001,
    };
    assert!(b.finish_attempt(ids[1].clone(), delivered).await.unwrap());
    assert!(
        !a.finish_attempt(
            "dl_unknown".into(),
            AttemptResult {
                state: OutboundState::Failed,
                next_at: 0,
                attempted: true,
                status: None,
                error: None,
                at: 0,
            }
        )
        .await
        .unwrap()
    );
    assert!(a.claim_outbound(1_499, 9_000, 10).await.unwrap().is_empty());
    let retry = b.claim_outbound(1_500, 9_000, 10).await.unwrap();
    assert_eq!(retry.len(), 1);
    assert_eq!((retry[0].attempts, retry[0].last_status), (1, Some(500)));

    // The log: newest first, each with how it stands.
    let log = a.outbound_log(Some(target.clone()), 10).await.unwrap();
    assert_eq!(
        log.iter().map(|d| &d.id).collect::<Vec<_>>(),
        [&ids[1], &ids[0]]
    );
    assert_eq!(
        (
            log[0].state,
            log[0].attempts,
            log[0].last_status,
            log[0].updated_at
        ),
        (OutboundState::Delivered, 1, Some(204), 1_001)
    );
    assert_eq!(
        log[1].last_error.as_deref(),
        Some("the receiver answered 500")
    );
    assert_eq!(a.outbound_log(None, 1).await.unwrap().len(), 1);
    assert!(
        a.outbound_log(Some(Target::Push("ps_x".into())), 10)
            .await
            .unwrap()
            .is_empty()
    );

    // A skip is no attempt. Pruning forgets what is settled, never what is pending.
    let skipped = AttemptResult {
        state: OutboundState::Skipped,
        next_at: 1_600,
        attempted: false,
        status: None,
        error: None,
        at: 1_600,
    };
    assert!(a.finish_attempt(ids[0].clone(), skipped).await.unwrap());
    let log = a.outbound_log(Some(target.clone()), 10).await.unwrap();
    assert_eq!((log[1].state, log[1].attempts), (OutboundState::Skipped, 1));
    let pending = a
        .enqueue_outbound(vec![delivery(target.clone(), NotifyEvent::Failed, 1)])
        .await
        .unwrap();
    assert_eq!(a.prune_outbound(1_601).await.unwrap(), 2);
    let left = a.outbound_log(None, 10).await.unwrap();
    assert_eq!(
        left.iter().map(|d| &d.id).collect::<Vec<_>>(),
        [&pending[0]]
    );
    // Everything is still there after a reopen.
    assert_eq!(db.open().await.outbound_log(None, 10).await.unwrap(), left);
}

/// An action token is taken once, and not after it expires.
pub async fn action_tokens_are_taken_once(db: &dyn Database) {
    let store = db.open().await;
    let token = |hash: u8, expires_at: i64| ActionToken {
        hash: [hash; 32],
        run_id: "r".into(),
        request_id: "pr_0123456789abcdef".into(),
        session_hash: [9; 32],
        expires_at,
    };
    store.save_action_token(token(1, 1_000)).await.unwrap();
    store.save_action_token(token(2, 1_000)).await.unwrap();
    assert_eq!(
        store.take_action_token([1; 32], 999).await.unwrap(),
        Some(token(1, 1_000))
    );
    assert_eq!(store.take_action_token([1; 32], 999).await.unwrap(), None);
    assert_eq!(store.take_action_token([2; 32], 1_001).await.unwrap(), None);
    assert_eq!(store.take_action_token([2; 32], 999).await.unwrap(), None);
    assert_eq!(store.take_action_token([3; 32], 0).await.unwrap(), None);
}
