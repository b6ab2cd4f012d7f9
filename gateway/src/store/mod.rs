//! Durable storage behind one trait: runs, their events, commands, artifacts, the nonces of
//! signed requests and a small key/value table.
//!
//! The server holds an `Arc<dyn Store>`. Every method takes owned arguments and returns a boxed
//! `'static` future, so the trait is object-safe and a backend is free to run its work on a blocking
//! pool (SQLite) or on an async driver (a future PostgreSQL backend). No backend type appears here.
//!
//! The ingest rules (duplicates, gaps, status transitions) live in [`plan_append`] so that every
//! backend applies exactly the same ones; a backend only has to run it inside one transaction.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use common::digest::StreamDigest;
use common::wire::{
    ArtifactInfo, ClaudeStats, Command, CommandKind, Delivery, EventKind, RawEvent, RunStatus,
    RunSummary,
};

pub mod sqlite;

/// What every [`Store`] method returns.
pub type StoreFuture<T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'static>>;

/// Why a storage call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no such run")]
    NotFound,
    /// The batch does not continue the stored stream; resend from `expected`.
    #[error("sequence gap: expected {expected}")]
    Gap { expected: u64 },
    /// The run is finished, failed or stopped and takes no new events.
    #[error("the run has finished")]
    RunFinished,
    #[error("already exists")]
    Conflict,
    /// The batch breaks a rule of the stream (for example, events after the `finished` marker);
    /// resending it cannot help.
    #[error("invalid event: {0}")]
    Invalid(String),
    /// The signed request's nonce was recorded before: a replay. Nothing was stored.
    #[error("replayed nonce")]
    Replayed,
    /// The database failed; the text is for the log, never for a client.
    #[error("storage failure: {0}")]
    Backend(String),
}

/// A run to create.
pub struct NewRun {
    pub id: String,
    pub name: Option<String>,
    pub prompt: Option<String>,
    pub cwd: Option<String>,
    /// `K_run`, the run's signing key.
    pub key: [u8; 32],
    /// Unix ms.
    pub created_at: i64,
}

impl fmt::Debug for NewRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewRun")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("prompt", &self.prompt)
            .field("cwd", &self.cwd)
            .field("key", &"********")
            .field("created_at", &self.created_at)
            .finish()
    }
}

/// A stored run with its signing key.
#[derive(Clone, PartialEq)]
pub struct RunRecord {
    pub summary: RunSummary,
    pub key: [u8; 32],
}

impl fmt::Debug for RunRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunRecord")
            .field("summary", &self.summary)
            .field("key", &"********")
            .finish()
    }
}

/// A sign-in session of the web UI, kept by the SHA-256 of its cookie value (never the value).
#[derive(Clone, PartialEq, Eq)]
pub struct StoredSession {
    pub id_hash: [u8; 32],
    /// Unix ms when the person signed in (the absolute expiry counts from here).
    pub created_at: i64,
    /// Unix ms of the last request seen (the idle expiry counts from here), to the minute.
    pub last_seen: i64,
}

impl fmt::Debug for StoredSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredSession")
            .field("id_hash", &"********")
            .field("created_at", &self.created_at)
            .field("last_seen", &self.last_seen)
            .finish()
    }
}

/// A signed request's nonce as replay protection keeps it: a hash (never the nonce itself is
/// needed) and the unix second after which the request's timestamp no longer passes the window
/// check, so a replay can no longer be accepted anyway. A replay carries the same signed
/// timestamp, hence the same expiry: a backend may key the record by both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Nonce {
    pub hash: [u8; 32],
    pub expires_at: i64,
}

/// The run's state after an ingest batch committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendOutcome {
    /// Every sequence up to this one is stored.
    pub acked_through: u64,
    /// How many events of the batch were new.
    pub inserted: usize,
    pub status: RunStatus,
    /// The run's delivery verdict once its `finished` marker is stored.
    pub delivery: Option<common::wire::Delivery>,
}

/// Durable storage of the gateway.
///
/// Reads of an unknown run answer empty (`events`, `pending_commands`, `list_artifacts`), `None`
/// (`run`, `artifact`) or `false` (`ack_command`); writes to an unknown run answer
/// [`StoreError::NotFound`].
pub trait Store: Send + Sync + 'static {
    /// Stores a new run in status `pending`; [`StoreError::Conflict`] if the id exists.
    fn create_run(&self, run: NewRun) -> StoreFuture<()>;

    fn run(&self, id: String) -> StoreFuture<Option<RunRecord>>;

    /// Deletes a run with its events, commands and artifacts; `false` if there was none.
    fn delete_run(&self, id: String) -> StoreFuture<bool>;

    /// At most `limit` runs, newest first.
    fn list_runs(&self, limit: usize) -> StoreFuture<Vec<RunSummary>>;

    /// Commits one ingest batch atomically under the rules of [`plan_append`]. The batch is shared
    /// (not copied) with whoever publishes it afterwards. `nonce`, the signed request's, is
    /// recorded in the same transaction, as [`Store::record_nonce`] would: seen before, the
    /// answer is [`StoreError::Replayed`] and nothing is stored; recorded, it stays recorded even
    /// when the rules refuse the batch (a gap, say), so a replay is refused as a replay.
    fn append_events(
        &self,
        run_id: String,
        events: Arc<[RawEvent]>,
        nonce: Option<Nonce>,
    ) -> StoreFuture<AppendOutcome>;

    /// Records a signed request's nonce: `true` if it is fresh, `false` if this nonce with this
    /// expiry is recorded already (a replay). Durable before it answers, and shared by every
    /// gateway process using the store (PostgreSQL: one `INSERT … ON CONFLICT DO NOTHING`).
    fn record_nonce(&self, nonce: Nonce) -> StoreFuture<bool>;

    /// Forgets the nonces that expired before `before` (unix s); how many there were.
    fn prune_nonces(&self, before: i64) -> StoreFuture<u64>;

    /// At most `limit` events with `sequence > after`, ascending, their data as stored (the
    /// canonical form the ingest handler gave it).
    fn events(&self, run_id: String, after: u64, limit: usize) -> StoreFuture<Vec<RawEvent>>;

    /// The `limit` events with the highest sequences below `before`, ascending: the tail of the
    /// run when `before` is past its end, the page above a window when paging backwards.
    fn events_before(
        &self,
        run_id: String,
        before: u64,
        limit: usize,
    ) -> StoreFuture<Vec<RawEvent>>;

    /// Stores a new sign-in session (or replaces one with the same hash).
    fn save_session(&self, session: StoredSession) -> StoreFuture<()>;

    /// Records activity on a stored session: sets `last_seen` only if the session still exists
    /// (a touch racing a sign-out must not bring the session back). `false` if there was none.
    fn touch_session(&self, id_hash: [u8; 32], last_seen: i64) -> StoreFuture<bool>;

    /// Every stored sign-in session.
    fn sessions(&self) -> StoreFuture<Vec<StoredSession>>;

    /// Forgets a sign-in session; `false` if there was none.
    fn delete_session(&self, id_hash: [u8; 32]) -> StoreFuture<bool>;

    /// Queues a command under a fresh unique id.
    fn enqueue_command(
        &self,
        run_id: String,
        kind: CommandKind,
        created_at: i64,
    ) -> StoreFuture<Command>;

    /// The commands not yet acknowledged, oldest first.
    fn pending_commands(&self, run_id: String) -> StoreFuture<Vec<Command>>;

    /// Marks a command taken; `true` if it was pending. Acking again answers `false`.
    fn ack_command(&self, run_id: String, command_id: String) -> StoreFuture<bool>;

    /// Stores an artifact, replacing one of the same name, with its size and hex SHA-256.
    fn put_artifact(
        &self,
        run_id: String,
        name: String,
        bytes: Vec<u8>,
        created_at: i64,
    ) -> StoreFuture<ArtifactInfo>;

    /// The run's artifacts by name.
    fn list_artifacts(&self, run_id: String) -> StoreFuture<Vec<ArtifactInfo>>;

    fn artifact(
        &self,
        run_id: String,
        name: String,
    ) -> StoreFuture<Option<(ArtifactInfo, Vec<u8>)>>;

    fn get_meta(&self, key: String) -> StoreFuture<Option<String>>;

    /// Inserts or replaces.
    fn set_meta(&self, key: String, value: String) -> StoreFuture<()>;

    /// How many runs are in each status (statuses with none may be left out); for `/metrics`.
    fn run_counts(&self) -> StoreFuture<Vec<(RunStatus, u64)>>;

    /// Calls that failed with [`StoreError::Backend`] since the store was opened.
    fn backend_errors(&self) -> u64 {
        0
    }
}

/// The part of a run that ingest reads and rewrites.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Progress {
    pub status: RunStatus,
    pub last_seq: u64,
    pub last_event_at: Option<i64>,
    pub exit_code: Option<i32>,
    pub finished_at: Option<i64>,
    /// A `stop_requested` marker is stored: the next `finished` marker means `stopped`.
    pub stop_requested: bool,
    /// The digest of every stored event, in sequence order.
    pub stream: StreamDigest,
    /// Set by the `finished` marker; see [`delivery_of`].
    pub delivery: Option<Delivery>,
    /// The run's Claude session, from `session` and `turn_finished` markers.
    pub claude: Option<ClaudeStats>,
}

/// Compares the count and SHA-256 a `finished` marker claims with the stream stored before it:
/// `None` if the marker claims neither (an older runner), else complete or incomplete.
pub(crate) fn delivery_of(stored: &StreamDigest, finished: &serde_json::Value) -> Option<Delivery> {
    let count = finished.get("eventCount");
    let sha = finished.get("streamSha256");
    if count.is_none() && sha.is_none() {
        return None;
    }
    let count_ok = count.and_then(|c| c.as_u64()) == Some(stored.events());
    let sha_ok = sha
        .and_then(|s| s.as_str())
        .is_some_and(|s| s.eq_ignore_ascii_case(&stored.hex()));
    Some(if count_ok && sha_ok {
        Delivery::Complete
    } else {
        Delivery::Incomplete
    })
}

/// Checks a batch against the stored `before` and works out what to write.
///
/// Returns the new events (in order) and the run's progress once they are stored. Events with
/// `sequence <= last_seq` are resends and are dropped. The rest must be `last_seq + 1, +2, …` or the
/// answer is [`StoreError::Gap`]; a terminal run refuses new events with [`StoreError::RunFinished`]
/// (checked first: resending would not help). The first event moves `pending` to `running`; a
/// `finished` marker ends the run as `finished` (exit code 0), `failed` (any other or no exit code) or
/// `stopped` (a `stop_requested` marker came before it), and its `eventCount`/`streamSha256` are checked
/// against the events stored before it ([`delivery_of`]). `finished` is the last event of a run: a
/// batch with new events after its `finished` marker is refused whole with [`StoreError::Invalid`].
/// Every stored event feeds the stream digest.
#[cfg(test)]
pub(crate) fn plan_append<'a>(
    before: &Progress,
    events: &'a [RawEvent],
) -> Result<(Vec<&'a RawEvent>, Progress), StoreError> {
    plan_append_with(before, events, |_, _| {})
}

/// [`plan_append`], handing each new event's canonical line (`common::digest`, the bytes the
/// stream digest hashes) to `on_line` as well. Every event's `data` must be in canonical form
/// (`common::canonical`; the ingest handler sees to it). On an error, what `on_line` saw must be
/// thrown away.
pub(crate) fn plan_append_with<'a>(
    before: &Progress,
    events: &'a [RawEvent],
    mut on_line: impl FnMut(&RawEvent, &[u8]),
) -> Result<(Vec<&'a RawEvent>, Progress), StoreError> {
    let fresh: Vec<&RawEvent> = events
        .iter()
        .filter(|e| e.sequence > before.last_seq)
        .collect();
    if fresh.is_empty() {
        return Ok((fresh, before.clone()));
    }
    if before.status.is_terminal() {
        return Err(StoreError::RunFinished);
    }
    // `fresh` is non-empty, so `last_seq < u64::MAX` and the addition cannot overflow.
    let expected = before.last_seq + 1;
    let contiguous = fresh
        .iter()
        .zip(expected..)
        .all(|(event, want)| event.sequence == want);
    if !contiguous {
        return Err(StoreError::Gap { expected });
    }

    let mut after = before.clone();
    let mut line = Vec::with_capacity(256);
    if after.status == RunStatus::Pending {
        after.status = RunStatus::Running;
    }
    for event in &fresh {
        if after.status.is_terminal() {
            return Err(StoreError::Invalid(format!(
                "event {}: events after finished",
                event.sequence
            )));
        }
        after.last_seq = event.sequence;
        after.last_event_at = Some(after.last_event_at.map_or(event.ts, |t| t.max(event.ts)));
        if event.kind == EventKind::Marker {
            apply_marker(&mut after, event);
        }
        line.clear();
        common::digest::canonical_raw_line(
            event.data.get(),
            event.sequence,
            event.kind.as_str(),
            &mut line,
        );
        after.stream.push_line(&line);
        on_line(event, &line);
    }
    Ok((fresh, after))
}

/// What a lifecycle marker does to a run that is not yet terminal.
fn apply_marker(after: &mut Progress, event: &RawEvent) {
    let data = event.data_value();
    match data["event"].as_str() {
        Some("stop_requested") => after.stop_requested = true,
        Some("finished") => {
            let code = data
                .get("exitCode")
                .and_then(|v| v.as_i64())
                .and_then(|c| i32::try_from(c).ok());
            after.exit_code = code;
            after.finished_at = Some(event.ts);
            after.status = if after.stop_requested {
                RunStatus::Stopped
            } else if code == Some(0) {
                RunStatus::Finished
            } else {
                RunStatus::Failed
            };
            after.delivery = delivery_of(&after.stream, &data);
            // Nothing waits for a decision once the run is over.
            if let Some(c) = after.claude.as_mut() {
                set_pending(c, Vec::new());
            }
        }
        Some("session") => {
            let c = after.claude.get_or_insert_with(ClaudeStats::default);
            if let Some(id) = data["sessionId"].as_str() {
                c.session_id = Some(id.to_string());
            }
            if let Some(m) = data["model"].as_str() {
                c.model = Some(m.to_string());
            }
        }
        Some("turn_finished") => {
            let c = after.claude.get_or_insert_with(ClaudeStats::default);
            add_turn(c, &data);
            c.between_turns = true;
            // A request cannot outlive the turn that asked it (the runner cancels it; a runner
            // that died did not).
            set_pending(c, Vec::new());
        }
        Some("permission_request") => {
            if let Some(id) = data["requestId"].as_str() {
                let c = after.claude.get_or_insert_with(ClaudeStats::default);
                let mut ids = std::mem::take(&mut c.pending_requests);
                if !ids.iter().any(|x| x == id) {
                    ids.push(id.to_string());
                }
                // Beyond the bound the oldest is forgotten rather than the run's row growing.
                if ids.len() > common::wire::MAX_PENDING_REQUESTS {
                    ids.remove(0);
                }
                set_pending(c, ids);
            }
        }
        Some("permission_decision") => {
            if let (Some(id), Some(c)) = (data["requestId"].as_str(), after.claude.as_mut()) {
                let mut ids = std::mem::take(&mut c.pending_requests);
                ids.retain(|x| x != id);
                set_pending(c, ids);
            }
        }
        Some("turn_started" | "session_ended") => {
            if let Some(c) = after.claude.as_mut() {
                c.between_turns = false;
            }
        }
        _ => {}
    }
}

/// The requests waiting for a decision, and their count.
fn set_pending(c: &mut ClaudeStats, ids: Vec<String>) {
    c.pending_approvals = ids.len() as u64;
    c.pending_requests = ids;
}

/// Add one `turn_finished` marker to a run's Claude totals.
fn add_turn(c: &mut ClaudeStats, m: &serde_json::Value) {
    let n = |v: &serde_json::Value| v.as_u64().unwrap_or(0);
    c.prompts += 1;
    c.turns += n(&m["numTurns"]);
    c.input_tokens += n(&m["usage"]["input_tokens"]);
    c.output_tokens += n(&m["usage"]["output_tokens"]);
    c.cost_usd += m["costUsd"]
        .as_f64()
        .filter(|x| x.is_finite() && *x >= 0.0)
        .unwrap_or(0.0);
    if let Some(s) = m["sessionId"].as_str() {
        c.session_id.get_or_insert_with(|| s.to_string());
    }
    if let Some(o) = m["outcome"].as_str() {
        c.last_outcome = Some(o.to_string());
    }
    for f in m["filesWritten"].as_array().into_iter().flatten() {
        if let Some(f) = f.as_str()
            && c.files_written.len() < common::wire::MAX_FILES_WRITTEN
            && !c.files_written.iter().any(|x| x == f)
        {
            c.files_written.push(f.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::wire::Event;
    use serde_json::{Value, json};

    fn ev(sequence: u64, kind: EventKind, data: Value) -> RawEvent {
        Event {
            sequence,
            kind,
            data,
            ts: 1000 + sequence as i64,
        }
        .to_raw()
    }

    fn out(sequence: u64) -> RawEvent {
        ev(sequence, EventKind::Stdout, json!("line"))
    }

    fn fin(sequence: u64, code: Value) -> RawEvent {
        ev(
            sequence,
            EventKind::Marker,
            json!({"event": "finished", "exitCode": code, "durationMs": 5}),
        )
    }

    fn stop(sequence: u64) -> RawEvent {
        ev(
            sequence,
            EventKind::Marker,
            json!({"event": "stop_requested", "reason": "command"}),
        )
    }

    fn fresh_run() -> Progress {
        Progress {
            status: RunStatus::Pending,
            last_seq: 0,
            last_event_at: None,
            exit_code: None,
            finished_at: None,
            stop_requested: false,
            stream: StreamDigest::new(),
            delivery: None,
            claude: None,
        }
    }

    fn seqs(events: &[&RawEvent]) -> Vec<u64> {
        events.iter().map(|e| e.sequence).collect()
    }

    #[test]
    fn statuses_after_one_batch() {
        let cases: Vec<(&str, Vec<RawEvent>, RunStatus, Option<i32>)> = vec![
            ("empty", vec![], RunStatus::Pending, None),
            ("output", vec![out(1), out(2)], RunStatus::Running, None),
            (
                "exit 0",
                vec![out(1), fin(2, json!(0))],
                RunStatus::Finished,
                Some(0),
            ),
            ("exit 3", vec![fin(1, json!(3))], RunStatus::Failed, Some(3)),
            ("no code", vec![fin(1, json!("x"))], RunStatus::Failed, None),
            (
                "huge code",
                vec![fin(1, json!(1u64 << 40))],
                RunStatus::Failed,
                None,
            ),
            (
                "stopped",
                vec![stop(1), fin(2, json!(130))],
                RunStatus::Stopped,
                Some(130),
            ),
            (
                "marker without event",
                vec![ev(1, EventKind::Marker, json!("finished"))],
                RunStatus::Running,
                None,
            ),
        ];
        for (name, batch, status, code) in cases {
            let (new, after) = plan_append(&fresh_run(), &batch).expect(name);
            assert_eq!(new.len(), batch.len(), "{name}");
            assert_eq!(after.status, status, "{name}");
            assert_eq!(after.exit_code, code, "{name}");
            assert_eq!(after.last_seq, batch.len() as u64, "{name}");
        }
    }

    #[test]
    fn events_after_finished_refuse_the_batch() {
        for batch in [
            vec![fin(1, json!(0)), stop(2)],
            vec![fin(1, json!(0)), fin(2, json!(9))],
            vec![out(1), fin(2, json!(0)), out(3)],
        ] {
            match plan_append(&fresh_run(), &batch) {
                Err(StoreError::Invalid(why)) => assert!(why.contains("after finished"), "{why}"),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn finish_records_time_and_latest_event() {
        let mut batch = vec![out(1), fin(2, json!(0))];
        batch[0].ts = 9_999; // clocks may step back; last_event_at keeps the maximum
        let (_, after) = plan_append(&fresh_run(), &batch).unwrap();
        assert_eq!(after.finished_at, Some(1002));
        assert_eq!(after.last_event_at, Some(9_999));
    }

    #[test]
    fn resends_are_dropped_and_gaps_refused() {
        let before = Progress {
            status: RunStatus::Running,
            last_seq: 5,
            last_event_at: Some(1005),
            ..fresh_run()
        };
        let ok: Vec<(Vec<u64>, Vec<u64>)> = vec![
            (vec![4, 5], vec![]),
            (vec![3, 4, 5, 6, 7], vec![6, 7]),
            (vec![6, 2, 7], vec![6, 7]),
        ];
        for (batch, new) in ok {
            let events: Vec<RawEvent> = batch.iter().map(|&s| out(s)).collect();
            let (got, _) = plan_append(&before, &events).unwrap();
            assert_eq!(seqs(&got), new, "{batch:?}");
        }
        for batch in [vec![7], vec![6, 8], vec![6, 6], vec![7, 6], vec![u64::MAX]] {
            let events: Vec<RawEvent> = batch.iter().map(|&s| out(s)).collect();
            match plan_append(&before, &events) {
                Err(StoreError::Gap { expected: 6 }) => {}
                other => panic!("{batch:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn terminal_runs_refuse_only_new_events() {
        let before = Progress {
            status: RunStatus::Finished,
            last_seq: 2,
            ..fresh_run()
        };
        let resend = [out(1), out(2)];
        let (new, after) = plan_append(&before, &resend).unwrap();
        assert!(new.is_empty());
        assert_eq!(after, before);
        for batch in [vec![out(3)], vec![out(2), out(3)], vec![out(9)]] {
            assert!(matches!(
                plan_append(&before, &batch),
                Err(StoreError::RunFinished)
            ));
        }
    }

    #[test]
    fn the_finished_marker_is_checked_against_the_stored_stream() {
        let lines = [out(1), out(2)];
        let sha =
            common::digest::stream_sha256(&lines.iter().map(RawEvent::parsed).collect::<Vec<_>>());
        let claim = |count: Value, sha: Value| {
            ev(
                3,
                EventKind::Marker,
                json!({"event": "finished", "exitCode": 0, "eventCount": count, "streamSha256": sha}),
            )
        };
        let cases = [
            (
                "match",
                claim(json!(2), json!(sha)),
                Some(Delivery::Complete),
            ),
            (
                "upper-case hex",
                claim(json!(2), json!(sha.to_uppercase())),
                Some(Delivery::Complete),
            ),
            (
                "count off",
                claim(json!(3), json!(sha)),
                Some(Delivery::Incomplete),
            ),
            (
                "hash off",
                claim(json!(2), json!("00")),
                Some(Delivery::Incomplete),
            ),
            ("no claim", fin(3, json!(0)), None),
        ];
        for (name, finish, want) in cases {
            // Split over two batches: the digest carries over in the progress.
            let (_, mid) = plan_append(&fresh_run(), &lines[..1]).unwrap();
            let (_, after) = plan_append(&mid, &[lines[1].clone(), finish]).unwrap();
            assert_eq!(after.delivery, want, "{name}");
            assert_eq!(after.stream.events(), 3, "{name}");
        }
    }

    #[test]
    fn pending_approvals_follow_requests_and_decisions() {
        let m = |seq: u64, data: Value| ev(seq, EventKind::Marker, data);
        let req = |seq, id: &str| {
            m(
                seq,
                json!({"event": "permission_request", "requestId": id, "tool": "Bash",
                          "input": {}, "expiresAt": 1}),
            )
        };
        let dec = |seq, id: &str| {
            m(
                seq,
                json!({"event": "permission_decision", "requestId": id,
                          "decision": "allow", "tool": "Bash", "by": "admin"}),
            )
        };
        let pending = |p: &Progress| {
            let c = p.claude.clone().unwrap_or_default();
            (c.pending_approvals, c.pending_requests)
        };
        let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let (_, p) = plan_append(
            &fresh_run(),
            &[req(1, "pr_a"), req(2, "pr_b"), req(3, "pr_a")],
        )
        .unwrap();
        assert_eq!(pending(&p), (2, ids(&["pr_a", "pr_b"])));
        // A decision for a request never seen (a remembered rule's) changes nothing.
        let (_, p) = plan_append(&p, &[dec(4, "pr_a"), dec(5, "pr_x")]).unwrap();
        assert_eq!(pending(&p), (1, ids(&["pr_b"])));
        let turn_end = m(
            6,
            json!({"event": "turn_finished", "turn": 1, "outcome": "aborted"}),
        );
        let (_, p) = plan_append(&p, &[turn_end, req(7, "pr_c")]).unwrap();
        assert_eq!(pending(&p), (1, ids(&["pr_c"])));
        let (_, p) = plan_append(&p, &[fin(8, json!(0))]).unwrap();
        assert_eq!(pending(&p), (0, vec![]));
        let many: Vec<RawEvent> = (1..=70).map(|i| req(i, &format!("pr_{i}"))).collect();
        let (_, p) = plan_append(&fresh_run(), &many).unwrap();
        let (n, kept) = pending(&p);
        assert_eq!((n, kept.first().map(String::as_str)), (64, Some("pr_7")));
    }

    #[test]
    fn record_debug_hides_key() {
        let key = [0xab; 32];
        let new = NewRun {
            id: "r".into(),
            name: None,
            prompt: None,
            cwd: None,
            key,
            created_at: 0,
        };
        let record = RunRecord {
            summary: RunSummary {
                id: "r".into(),
                name: None,
                status: RunStatus::Pending,
                prompt: None,
                cwd: None,
                created_at: 0,
                finished_at: None,
                exit_code: None,
                last_sequence: 0,
                last_event_at: None,
                delivery: None,
                claude: None,
            },
            key,
        };
        for text in [format!("{new:?}"), format!("{record:?}")] {
            assert!(!text.contains("171") && !text.contains("ab"), "{text}");
        }
    }
}
