//! The embedded SQLite backend of [`Store`]: one WAL database file, one writer, a few readers.
//!
//! Every call runs on tokio's blocking pool. Writes go through a single connection behind a mutex:
//! SQLite admits one writer at a time anyway, and one connection keeps its prepared statements hot.
//! Reads take a connection from a small pool of read-only connections. In WAL mode a reader sees the
//! last committed snapshot and neither blocks nor waits for the writer, so a long event replay for a
//! browser never holds up ingest; a single mutexed reader would queue every UI read behind the
//! others. An in-memory database has no WAL and cannot be shared between connections, so there the
//! writer serves the reads too.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use common::digest::StreamDigest;
use common::wire::{
    ArtifactInfo, ClaudeStats, Command, CommandKind, Delivery, Event, EventKind, RawEvent,
    RunStatus, RunSummary,
};
use rusqlite::types::Type;
use rusqlite::{Connection, ErrorCode, OptionalExtension, Row, TransactionBehavior};
use sha2::{Digest, Sha256};

mod pool;

use self::pool::ReadPool;
use super::rules::{self, Progress};
use super::{
    AppendOutcome, NewRun, Nonce, RunRecord, Store, StoreError, StoreFuture, StoredSession,
};
use crate::clock::now_ms;

/// The schema, one step per entry; `PRAGMA user_version` counts the steps applied. Append only:
/// never edit a step that has shipped.
const MIGRATIONS: &[&str] = &[
    // 1: the first schema. Large artifact blobs sit in the last column so listing skips them.
    "CREATE TABLE runs (
        id TEXT PRIMARY KEY NOT NULL,
        name TEXT,
        prompt TEXT,
        cwd TEXT,
        key BLOB NOT NULL CHECK (length(key) = 32),
        status TEXT NOT NULL
            CHECK (status IN ('pending', 'running', 'finished', 'failed', 'stopped')),
        created_at INTEGER NOT NULL,
        finished_at INTEGER,
        exit_code INTEGER,
        last_seq INTEGER NOT NULL DEFAULT 0 CHECK (last_seq >= 0),
        last_event_at INTEGER,
        stop_requested INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX runs_by_created ON runs (created_at);
    CREATE TABLE events (
        run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        kind TEXT NOT NULL,
        data TEXT NOT NULL,
        ts INTEGER NOT NULL,
        PRIMARY KEY (run_id, seq)
    ) WITHOUT ROWID;
    CREATE TABLE commands (
        id TEXT PRIMARY KEY NOT NULL,
        run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        kind TEXT NOT NULL,
        body TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        acked_at INTEGER
    );
    CREATE INDEX commands_pending ON commands (run_id) WHERE acked_at IS NULL;
    CREATE TABLE artifacts (
        run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        size INTEGER NOT NULL,
        sha256 TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        data BLOB NOT NULL,
        PRIMARY KEY (run_id, name)
    );
    CREATE TABLE meta (
        key TEXT PRIMARY KEY NOT NULL,
        value TEXT NOT NULL
    ) WITHOUT ROWID;",
    // 2: web UI sign-in sessions, by the SHA-256 of the cookie value.
    "CREATE TABLE sessions (
        id_hash BLOB PRIMARY KEY NOT NULL CHECK (length(id_hash) = 32),
        created_at INTEGER NOT NULL,
        last_seen INTEGER NOT NULL
    ) WITHOUT ROWID;",
    // 3: delivery check. `stream_state` is the running digest of the stored events
    // (`common::digest`), `delivery` the verdict of the `finished` marker's count and SHA-256.
    "ALTER TABLE runs ADD COLUMN stream_state TEXT;
    ALTER TABLE runs ADD COLUMN delivery TEXT CHECK (delivery IN ('complete', 'incomplete'));",
    // 4: the run's Claude session (`common::wire::ClaudeStats` as JSON), kept up to date from
    // the `session` and `turn_finished` markers at ingest.
    "ALTER TABLE runs ADD COLUMN claude TEXT;",
    // 5: events in chunks, one row per committed batch instead of one per event. `body` is a
    // JSON array with one `[type, ts, data]` per event, sequences `first_seq..=last_seq` in order
    // (see `encode_chunk`). A rowid table: rows are appended, and large bodies go to overflow
    // pages without weighing on the key index. The old rows move over 1,000 to a chunk.
    "CREATE TABLE event_chunks (
        run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        first_seq INTEGER NOT NULL CHECK (first_seq >= 1),
        last_seq INTEGER NOT NULL CHECK (last_seq >= first_seq),
        body TEXT NOT NULL,
        PRIMARY KEY (run_id, first_seq)
    );
    INSERT INTO event_chunks (run_id, first_seq, last_seq, body)
        SELECT run_id, min(seq), max(seq),
            '[' || group_concat('[\"' || kind || '\",' || ts || ',' || data || ']', ',' ORDER BY seq)
                || ']'
        FROM events GROUP BY run_id, (seq - 1) / 1000;
    DROP TABLE events;",
    // 6: replay protection. The nonce of every signed request (its SHA-256), until its timestamp
    // leaves the window; keyed by expiry first so pruning is a range delete, and a replay, which
    // carries the same signed timestamp, finds the same key.
    "CREATE TABLE nonces (
        expires_at INTEGER NOT NULL,
        hash BLOB NOT NULL CHECK (length(hash) = 32),
        PRIMARY KEY (expires_at, hash)
    ) WITHOUT ROWID;",
];

/// How long a statement waits for a lock held by another process before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Enough for every statement this file prepares.
const STATEMENT_CACHE: usize = 32;

const RUN_COLUMNS: &str = "id, name, status, prompt, cwd, created_at, finished_at, exit_code, \
                           last_seq, last_event_at, key, delivery, claude";

/// [`Store`] on a SQLite database.
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    /// `None` for an in-memory database: the writer serves reads. Declared before the writer so it
    /// is dropped first: the last connection to close checkpoints the WAL and deletes it, which a
    /// read-only connection cannot do.
    readers: Option<ReadPool>,
    /// `None` for an in-memory database. Before the writer too, for the same reason.
    checkpointer: Option<Checkpointer>,
    writer: Mutex<Connection>,
    /// Ingest batches waiting for the writer (see [`append_group`]).
    appends: Mutex<Vec<PendingAppend>>,
    path: Option<PathBuf>,
    /// Calls that failed in the database, for `/metrics`.
    errors: std::sync::atomic::AtomicU64,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database file at `path` and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let writer =
            Connection::open(path).map_err(|e| backend(format!("open {}", path.display()), e))?;
        let mode: String = writer
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(|e| backend("enable WAL", e))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Backend(format!(
                "{} refused WAL mode (journal_mode = {mode})",
                path.display()
            )));
        }
        Self::start(writer, Some(path.to_owned()))
    }

    /// A private database in memory that disappears with the store; for tests.
    pub fn open_in_memory() -> Result<Self, StoreError> {
        let writer = Connection::open_in_memory().map_err(|e| backend("open in memory", e))?;
        Self::start(writer, None)
    }

    fn start(mut writer: Connection, path: Option<PathBuf>) -> Result<Self, StoreError> {
        // FULL in WAL mode syncs the WAL at every commit, so a committed ingest batch survives a
        // power loss or kernel crash, not only the process being killed. That is what
        // `acked_through` promises (PROTOCOL.md): the runner deletes spool segments the gateway
        // acknowledged. (NORMAL would sync only at checkpoints and could lose the last
        // acknowledged batches to a power cut.) With one row per batch the cost is one fsync of
        // the WAL per batch.
        writer
            .pragma_update(None, "synchronous", "FULL")
            .and_then(|()| writer.pragma_update(None, "foreign_keys", "ON"))
            .and_then(|()| writer.busy_timeout(BUSY_TIMEOUT))
            .map_err(|e| backend("configure connection", e))?;
        writer.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        migrate(&mut writer)?;
        let readers = path.clone().map(ReadPool::new);
        let checkpointer = match &path {
            Some(p) => {
                // The writer checkpoints only if the checkpointer falls far behind (a backstop
                // that bounds the WAL); the WAL file is cut back after it restarts.
                writer
                    .pragma_update(None, "wal_autocheckpoint", WAL_BACKSTOP_PAGES)
                    .and_then(|()| writer.pragma_update(None, "journal_size_limit", WAL_KEEP_BYTES))
                    .map_err(|e| backend("configure checkpoints", e))?;
                Some(Checkpointer::start(p)?)
            }
            None => None,
        };
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                readers,
                checkpointer,
                writer: Mutex::new(writer),
                appends: Mutex::new(Vec::new()),
                path,
                errors: Default::default(),
            }),
        })
    }

    /// Runs `work` on the writer connection on the blocking pool.
    fn write<T, F>(&self, work: F) -> StoreFuture<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        blocking(move || inner.count(work(&mut lock(&inner.writer))))
    }

    /// Runs `work` on a reader connection (the writer for an in-memory database).
    fn read<T, F>(&self, work: F) -> StoreFuture<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        blocking(move || {
            let result = match &inner.readers {
                Some(pool) => pool.get().and_then(|conn| work(&conn)),
                None => work(&lock(&inner.writer)),
            };
            inner.count(result)
        })
    }
}

impl Inner {
    /// Count a database failure on its way out.
    fn count<T>(&self, result: Result<T, StoreError>) -> Result<T, StoreError> {
        if let Err(StoreError::Backend(_)) = &result {
            self.errors
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        result
    }
}

fn blocking<T, F>(work: F) -> StoreFuture<T>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, StoreError> + Send + 'static,
{
    Box::pin(async move {
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| StoreError::Backend(format!("storage task failed: {e}")))?
    })
}

/// A panic while the lock was held cannot leave a transaction half-applied (dropping a rusqlite
/// transaction rolls it back), so a poisoned lock is safe to take over.
fn lock(conn: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    conn.lock().unwrap_or_else(PoisonError::into_inner)
}

fn lock_queue(queue: &Mutex<Vec<PendingAppend>>) -> MutexGuard<'_, Vec<PendingAppend>> {
    queue.lock().unwrap_or_else(PoisonError::into_inner)
}

fn backend(context: impl fmt::Display, err: rusqlite::Error) -> StoreError {
    StoreError::Backend(format!("{context}: {err}"))
}

/// Applies the migrations `user_version` has not seen yet, all in one transaction.
fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| backend("begin migration", e))?;
    let current: i64 = tx
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(|e| backend("read schema version", e))?;
    let known = MIGRATIONS.len();
    let applied = usize::try_from(current)
        .ok()
        .filter(|&v| v <= known)
        .ok_or_else(|| {
            StoreError::Backend(format!(
                "database schema version {current} is not one this gateway knows (0..={known})"
            ))
        })?;
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        tx.execute_batch(sql)
            .map_err(|e| backend(format!("apply migration {}", index + 1), e))?;
    }
    if applied < known {
        tx.pragma_update(None, "user_version", known as i64)
            .map_err(|e| backend("record schema version", e))?;
    }
    tx.commit().map_err(|e| backend("commit migration", e))
}

/// A conversion failure of column `index`, reported like rusqlite's own.
fn bad_column(index: usize, ty: Type, why: impl Into<String>) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(index, ty, why.into().into())
}

/// Reads a row selected with [`RUN_COLUMNS`].
fn run_record(row: &Row<'_>) -> rusqlite::Result<RunRecord> {
    let status: String = row.get(2)?;
    let status = RunStatus::parse(&status)
        .ok_or_else(|| bad_column(2, Type::Text, format!("unknown run status {status:?}")))?;
    Ok(RunRecord {
        summary: RunSummary {
            id: row.get(0)?,
            name: row.get(1)?,
            status,
            prompt: row.get(3)?,
            cwd: row.get(4)?,
            created_at: row.get(5)?,
            finished_at: row.get(6)?,
            exit_code: row.get(7)?,
            last_sequence: row.get(8)?,
            last_event_at: row.get(9)?,
            delivery: match row.get_ref(11)?.as_str_or_null()? {
                None => None,
                Some(d) => Some(Delivery::parse(d).ok_or_else(|| {
                    bad_column(11, Type::Text, format!("unknown delivery {d:?}"))
                })?),
            },
            claude: claude_stats(row.get_ref(12)?.as_str_or_null()?),
        },
        key: row.get(10)?,
    })
}

/// The stored Claude session of a run; a value this gateway cannot read counts as none.
fn claude_stats(text: Option<&str>) -> Option<ClaudeStats> {
    serde_json::from_str(text?).ok()
}

/// Appends one event to the body of a chunk (consecutive sequences): a JSON array with one
/// `[type, ts, data]` per event, the sequence being the chunk's `first_seq` plus the index.
/// `data` is the event's canonical text, copied as it is. Close the array with `]`.
fn push_chunk_event(out: &mut Vec<u8>, event: &RawEvent) {
    use std::io::Write as _;
    out.push(if out.is_empty() { b'[' } else { b',' });
    out.extend_from_slice(b"[\"");
    out.extend_from_slice(event.kind.as_str().as_bytes());
    out.extend_from_slice(b"\",");
    let _ = write!(out, "{}", event.ts);
    out.push(b',');
    out.extend_from_slice(event.data.get().as_bytes());
    out.push(b']');
}

/// Reads a chunk row `first_seq, last_seq, body` into its events, their data as stored.
fn chunk(row: &Row<'_>) -> rusqlite::Result<Vec<RawEvent>> {
    let first: u64 = row.get(0)?;
    let last: u64 = row.get(1)?;
    let items: Vec<(&str, i64, Box<serde_json::value::RawValue>)> =
        serde_json::from_str(row.get_ref(2)?.as_str()?)
            .map_err(|e| bad_column(2, Type::Text, format!("event chunk is not JSON: {e}")))?;
    if last.checked_sub(first).and_then(|d| d.checked_add(1)) != Some(items.len() as u64) {
        return Err(bad_column(
            2,
            Type::Text,
            format!("event chunk {first}..={last} holds {} events", items.len()),
        ));
    }
    items
        .into_iter()
        .zip(first..)
        .map(|((kind, ts, data), sequence)| {
            let kind = EventKind::parse(kind)
                .ok_or_else(|| bad_column(2, Type::Text, format!("unknown event kind {kind:?}")))?;
            Ok(Event {
                sequence,
                kind,
                data,
                ts,
            })
        })
        .collect()
}

/// Reads `id, body, created_at`.
fn command(row: &Row<'_>) -> rusqlite::Result<Command> {
    let kind = serde_json::from_str(row.get_ref(1)?.as_str()?)
        .map_err(|e| bad_column(1, Type::Text, format!("command body: {e}")))?;
    Ok(Command {
        id: row.get(0)?,
        kind,
        created_at: row.get(2)?,
    })
}

/// Reads `name, size, sha256, created_at`.
fn artifact_info(row: &Row<'_>) -> rusqlite::Result<ArtifactInfo> {
    Ok(ArtifactInfo {
        name: row.get(0)?,
        size: row.get(1)?,
        sha256: row.get(2)?,
        created_at: row.get(3)?,
    })
}

fn command_kind_name(kind: &CommandKind) -> &'static str {
    match kind {
        CommandKind::Exec { .. } => "exec",
        CommandKind::Prompt { .. } => "prompt",
        CommandKind::Stop => "stop",
        CommandKind::Assist { .. } => "assist",
        CommandKind::Interrupt => "interrupt",
        CommandKind::EndSession => "end_session",
        CommandKind::File { .. } => "file",
        CommandKind::Permission { .. } => "permission",
    }
}

fn is_primary_key_conflict(err: &rusqlite::Error) -> bool {
    matches!(
        err,
        rusqlite::Error::SqliteFailure(e, _)
            if e.code == ErrorCode::ConstraintViolation
                && e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
    )
}

/// Clamps a count to SQLite's integer range.
fn sql_limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn sql_seq(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// WAL pages past which a commit checkpoints by itself (SQLite's own default is 1,000): only
/// reached if the [`Checkpointer`] falls behind.
const WAL_BACKSTOP_PAGES: i64 = 16_000;
/// Bytes of WAL file kept after it restarts.
const WAL_KEEP_BYTES: i64 = 64 << 20;
/// Least time between two background checkpoints.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(200);

/// Copies the WAL into the database file on its own thread and connection, so that ingest
/// commits do not. SQLite's automatic checkpoint runs inside the commit that takes the WAL past
/// 1,000 pages: while a flood was ingested that was 13 % of the gateway's CPU, plus an fsync of
/// the database file, all on the path of an ingest answer. A `PASSIVE` checkpoint here runs
/// beside the writer and never blocks it; it runs at most every [`CHECKPOINT_EVERY`], and only
/// after commits.
struct Checkpointer {
    shared: Arc<(Mutex<CheckpointState>, std::sync::Condvar)>,
    thread: Option<std::thread::JoinHandle<()>>,
}

#[derive(Default)]
struct CheckpointState {
    commits: bool,
    stop: bool,
}

impl Checkpointer {
    fn start(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path)
            .map_err(|e| backend(format!("open {} for checkpoints", path.display()), e))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| backend("configure the checkpoint connection", e))?;
        let shared = Arc::new((
            Mutex::new(CheckpointState::default()),
            std::sync::Condvar::new(),
        ));
        let thread = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn({
                let shared = Arc::clone(&shared);
                move || Self::run(&conn, &shared)
            })
            .map_err(|e| StoreError::Backend(format!("start the checkpoint thread: {e}")))?;
        Ok(Self {
            shared,
            thread: Some(thread),
        })
    }

    fn run(conn: &Connection, shared: &(Mutex<CheckpointState>, std::sync::Condvar)) {
        let (state, wake) = shared;
        let mut last: Option<std::time::Instant> = None;
        loop {
            {
                let mut s = state.lock().unwrap_or_else(PoisonError::into_inner);
                loop {
                    if s.stop {
                        return;
                    }
                    let due = last.map_or(Duration::ZERO, |t| {
                        CHECKPOINT_EVERY.saturating_sub(t.elapsed())
                    });
                    if s.commits && due.is_zero() {
                        break;
                    }
                    s = if s.commits {
                        wake.wait_timeout(s, due)
                            .unwrap_or_else(PoisonError::into_inner)
                            .0
                    } else {
                        wake.wait(s).unwrap_or_else(PoisonError::into_inner)
                    };
                }
                s.commits = false;
            }
            last = Some(std::time::Instant::now());
            if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                tracing::warn!(error = %e, "background checkpoint failed; commits will checkpoint");
            }
        }
    }

    /// Something was committed.
    fn nudge(&self) {
        let (state, wake) = &*self.shared;
        let mut s = state.lock().unwrap_or_else(PoisonError::into_inner);
        if !s.commits {
            s.commits = true;
            wake.notify_one();
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        {
            let (state, wake) = &*self.shared;
            state.lock().unwrap_or_else(PoisonError::into_inner).stop = true;
            wake.notify_one();
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// An ingest batch waiting for the writer, and where its answer goes.
struct PendingAppend {
    run_id: String,
    events: Arc<[RawEvent]>,
    nonce: Option<Nonce>,
    answer: std::sync::mpsc::SyncSender<Result<AppendOutcome, StoreError>>,
}

/// Most batches committed together.
const GROUP_MAX: usize = 64;

/// Group commit: the batches that queued while the writer was busy are written in one
/// transaction, each inside its own savepoint (a batch that fails, a gap say, leaves the others
/// alone), and committed with one sync of the WAL; every answer is sent after that commit.
fn append_group(conn: &mut Connection, group: Vec<PendingAppend>) {
    let mut answers = Vec::with_capacity(group.len());
    let result = (|| {
        let mut tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| backend("begin ingest", e))?;
        for item in &group {
            // The nonce outside the batch's savepoint: it stays recorded if the rules refuse
            // the batch, and goes with it if the group fails to commit.
            if let Some(nonce) = item.nonce
                && !insert_nonce(&tx, nonce)?
            {
                answers.push(Err(StoreError::Replayed));
                continue;
            }
            let sp = tx.savepoint().map_err(|e| backend("begin savepoint", e))?;
            let outcome = append(&sp, &item.run_id, &item.events);
            if outcome.is_ok() {
                sp.commit().map_err(|e| backend("release savepoint", e))?;
            } // else dropping it rolls the batch back
            answers.push(outcome);
        }
        tx.commit().map_err(|e| backend("commit ingest", e))
    })();
    // A group that failed to commit stored nothing: its batches get the failure, except those
    // the rules refused (that answer holds either way).
    let failed = result.err().map(|e| e.to_string());
    let mut answers = answers.into_iter();
    for item in group {
        let answer = match (answers.next(), &failed) {
            (Some(answer), None) => answer,
            (Some(Err(e)), Some(_)) if !matches!(e, StoreError::Backend(_)) => Err(e),
            (_, why) => {
                Err(StoreError::Backend(why.clone().unwrap_or_else(|| {
                    "the ingest batch was not written".into()
                })))
            }
        };
        let _ = item.answer.send(answer);
    }
}

/// Records `nonce` inside the caller's transaction; `false` if it was recorded before.
fn insert_nonce(conn: &Connection, nonce: Nonce) -> Result<bool, StoreError> {
    conn.prepare_cached("INSERT OR IGNORE INTO nonces (expires_at, hash) VALUES (?1, ?2)")
        .and_then(|mut stmt| stmt.execute(rusqlite::params![nonce.expires_at, &nonce.hash[..]]))
        .map(|n| n == 1)
        .map_err(|e| backend("record nonce", e))
}

/// One ingest batch inside the caller's transaction; see [`rules::plan_append_with`].
fn append(
    conn: &Connection,
    run_id: &str,
    events: &[RawEvent],
) -> Result<AppendOutcome, StoreError> {
    let tx = conn;
    let before = tx
        .prepare_cached(
            "SELECT status, last_seq, last_event_at, exit_code, finished_at, stop_requested,
                 stream_state, delivery, claude
             FROM runs WHERE id = ?1",
        )
        .and_then(|mut stmt| {
            stmt.query_row([run_id], |row| {
                let status: String = row.get(0)?;
                let status = RunStatus::parse(&status).ok_or_else(|| {
                    bad_column(0, Type::Text, format!("unknown run status {status:?}"))
                })?;
                Ok(Progress {
                    status,
                    last_seq: row.get(1)?,
                    last_event_at: row.get(2)?,
                    exit_code: row.get(3)?,
                    finished_at: row.get(4)?,
                    stop_requested: row.get(5)?,
                    // Parsed below: an absent state is rebuilt from the stored events.
                    stream: StreamDigest::restore(row.get_ref(6)?.as_str_or_null()?.unwrap_or(""))
                        .unwrap_or_default(),
                    delivery: row.get_ref(7)?.as_str_or_null()?.and_then(Delivery::parse),
                    claude: claude_stats(row.get_ref(8)?.as_str_or_null()?),
                })
            })
            .optional()
        })
        .map_err(|e| backend(format!("read run {run_id}"), e))?
        .ok_or(StoreError::NotFound)?;
    let mut before = before;
    if before.stream.events() != before.last_seq {
        // A run from before migration 3 (or a damaged state): hash what is stored, once.
        before.stream = stored_digest(tx, run_id, before.last_seq)?;
    }

    let mut body = Vec::new();
    let (fresh, after) = rules::plan_append_with(&before, events, |event, _| {
        push_chunk_event(&mut body, event)
    })?;
    if fresh.is_empty() {
        return Ok(AppendOutcome {
            acked_through: before.last_seq,
            inserted: 0,
            status: before.status,
            delivery: before.delivery,
        });
    }
    {
        // The new events are one row: one chunk, whatever the batch's size.
        body.push(b']');
        let body = String::from_utf8(body)
            .map_err(|e| StoreError::Backend(format!("encode events of {run_id}: {e}")))?;
        let (first, last) = (fresh[0].sequence, after.last_seq);
        tx.prepare_cached(
            "INSERT INTO event_chunks (run_id, first_seq, last_seq, body) VALUES (?1, ?2, ?3, ?4)",
        )
        .and_then(|mut stmt| stmt.execute(rusqlite::params![run_id, first, last, body]))
        .map_err(|e| backend(format!("insert events {run_id}/{first}..={last}"), e))?;
    }
    tx.prepare_cached(
        "UPDATE runs SET status = ?2, last_seq = ?3, last_event_at = ?4, exit_code = ?5,
             finished_at = ?6, stop_requested = ?7, stream_state = ?8, delivery = ?9,
             claude = ?10
         WHERE id = ?1",
    )
    .and_then(|mut stmt| {
        stmt.execute(rusqlite::params![
            run_id,
            after.status.as_str(),
            after.last_seq,
            after.last_event_at,
            after.exit_code,
            after.finished_at,
            after.stop_requested,
            after.stream.save(),
            after.delivery.map(Delivery::as_str),
            after
                .claude
                .as_ref()
                .and_then(|c| serde_json::to_string(c).ok())
        ])
    })
    .map_err(|e| backend(format!("update run {run_id}"), e))?;
    Ok(AppendOutcome {
        acked_through: after.last_seq,
        inserted: fresh.len(),
        status: after.status,
        delivery: after.delivery,
    })
}

/// The digest of a run's stored events `1..=last_seq`, read in sequence order.
fn stored_digest(
    conn: &Connection,
    run_id: &str,
    last_seq: u64,
) -> Result<StreamDigest, StoreError> {
    let mut digest = StreamDigest::new();
    let mut stmt = conn
        .prepare_cached(
            "SELECT first_seq, last_seq, body FROM event_chunks
             WHERE run_id = ?1 AND first_seq <= ?2 ORDER BY first_seq",
        )
        .map_err(|e| backend("prepare digest read", e))?;
    let rows = stmt
        .query_map(rusqlite::params![run_id, sql_seq(last_seq)], chunk)
        .map_err(|e| backend(format!("read events of {run_id}"), e))?;
    for row in rows {
        let events = row.map_err(|e| backend(format!("read events of {run_id}"), e))?;
        let mut line = Vec::with_capacity(256);
        for event in events.iter().filter(|e| e.sequence <= last_seq) {
            line.clear();
            common::digest::canonical_raw_line(
                event.data.get(),
                event.sequence,
                event.kind.as_str(),
                &mut line,
            );
            digest.push_line(&line);
        }
    }
    Ok(digest)
}

fn run_exists(conn: &Connection, run_id: &str) -> Result<bool, StoreError> {
    conn.prepare_cached("SELECT 1 FROM runs WHERE id = ?1")
        .and_then(|mut stmt| stmt.exists([run_id]))
        .map_err(|e| backend(format!("look up run {run_id}"), e))
}

impl Store for SqliteStore {
    fn create_run(&self, run: NewRun) -> StoreFuture<()> {
        self.write(move |conn| {
            conn.prepare_cached(
                "INSERT INTO runs (id, name, prompt, cwd, key, status, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6)",
            )
            .and_then(|mut stmt| {
                stmt.execute(rusqlite::params![
                    run.id,
                    run.name,
                    run.prompt,
                    run.cwd,
                    run.key,
                    run.created_at
                ])
            })
            .map_err(|e| {
                if is_primary_key_conflict(&e) {
                    StoreError::Conflict
                } else {
                    backend(format!("create run {}", run.id), e)
                }
            })?;
            Ok(())
        })
    }

    fn delete_run(&self, id: String) -> StoreFuture<bool> {
        self.write(move |conn| {
            // Events, commands and artifacts go with it (ON DELETE CASCADE).
            conn.prepare_cached("DELETE FROM runs WHERE id = ?1")
                .and_then(|mut stmt| stmt.execute([&id]))
                .map(|n| n > 0)
                .map_err(|e| backend(format!("delete run {id}"), e))
        })
    }

    fn run(&self, id: String) -> StoreFuture<Option<RunRecord>> {
        self.read(move |conn| {
            conn.prepare_cached(&format!("SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1"))
                .and_then(|mut stmt| stmt.query_row([&id], run_record).optional())
                .map_err(|e| backend(format!("read run {id}"), e))
        })
    }

    fn list_runs(&self, limit: usize) -> StoreFuture<Vec<RunSummary>> {
        self.read(move |conn| {
            conn.prepare_cached(&format!(
                "SELECT {RUN_COLUMNS} FROM runs ORDER BY created_at DESC, rowid DESC LIMIT ?1"
            ))
            .and_then(|mut stmt| {
                stmt.query_map([sql_limit(limit)], |row| run_record(row).map(|r| r.summary))?
                    .collect()
            })
            .map_err(|e| backend("list runs", e))
        })
    }

    fn append_events(
        &self,
        run_id: String,
        events: Arc<[RawEvent]>,
        nonce: Option<Nonce>,
    ) -> StoreFuture<AppendOutcome> {
        let inner = Arc::clone(&self.inner);
        blocking(move || {
            let (answer, answered) = std::sync::mpsc::sync_channel(1);
            lock_queue(&inner.appends).push(PendingAppend {
                run_id,
                events,
                nonce,
                answer,
            });
            {
                // Whoever holds the writer next writes every batch queued by then, this one
                // included unless a writer before took it already (then its answer is sent).
                let mut conn = lock(&inner.writer);
                loop {
                    let group: Vec<PendingAppend> = {
                        let mut queue = lock_queue(&inner.appends);
                        let n = queue.len().min(GROUP_MAX);
                        queue.drain(..n).collect()
                    };
                    if group.is_empty() {
                        break;
                    }
                    append_group(&mut conn, group);
                    if let Some(c) = &inner.checkpointer {
                        c.nudge();
                    }
                    if let Ok(result) = answered.try_recv() {
                        return inner.count(result);
                    }
                }
            }
            let result = answered
                .recv()
                .unwrap_or_else(|_| Err(StoreError::Backend("ingest writer went away".into())));
            inner.count(result)
        })
    }

    fn record_nonce(&self, nonce: Nonce) -> StoreFuture<bool> {
        self.write(move |conn| insert_nonce(conn, nonce))
    }

    fn prune_nonces(&self, before: i64) -> StoreFuture<u64> {
        self.write(move |conn| {
            conn.prepare_cached("DELETE FROM nonces WHERE expires_at < ?1")
                .and_then(|mut stmt| stmt.execute([before]))
                .map(|n| n as u64)
                .map_err(|e| backend("prune nonces", e))
        })
    }

    fn events(&self, run_id: String, after: u64, limit: usize) -> StoreFuture<Vec<RawEvent>> {
        self.read(move |conn| {
            let mut out = Vec::new();
            if limit == 0 {
                return Ok(out);
            }
            // From the chunk holding `after + 1` (the last one starting at or below it) on.
            let mut stmt = conn
                .prepare_cached(
                    "SELECT first_seq, last_seq, body FROM event_chunks
                     WHERE run_id = ?1 AND last_seq > ?2 AND first_seq >= (
                         SELECT ifnull(max(first_seq), 0) FROM event_chunks
                         WHERE run_id = ?1 AND first_seq <= ?2 + 1)
                     ORDER BY first_seq",
                )
                .map_err(|e| backend("prepare event read", e))?;
            let rows = stmt
                .query_map(rusqlite::params![run_id, sql_seq(after)], chunk)
                .map_err(|e| backend(format!("read events of {run_id}"), e))?;
            for row in rows {
                let events = row.map_err(|e| backend(format!("read events of {run_id}"), e))?;
                let wanted = limit - out.len();
                out.extend(
                    events
                        .into_iter()
                        .filter(|e| e.sequence > after)
                        .take(wanted),
                );
                if out.len() >= limit {
                    break;
                }
            }
            Ok(out)
        })
    }

    fn enqueue_command(
        &self,
        run_id: String,
        kind: CommandKind,
        created_at: i64,
    ) -> StoreFuture<Command> {
        self.write(move |conn| {
            let body = serde_json::to_string(&kind)
                .map_err(|e| StoreError::Backend(format!("encode command: {e}")))?;
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(|e| backend("begin enqueue", e))?;
            if !run_exists(&tx, &run_id)? {
                return Err(StoreError::NotFound);
            }
            // 128 random bits from SQLite's own CSPRNG: unique without a shared counter.
            let id: String = tx
                .prepare_cached(
                    "INSERT INTO commands (id, run_id, kind, body, created_at)
                     VALUES (lower(hex(randomblob(16))), ?1, ?2, ?3, ?4) RETURNING id",
                )
                .and_then(|mut stmt| {
                    stmt.query_row(
                        rusqlite::params![run_id, command_kind_name(&kind), body, created_at],
                        |row| row.get(0),
                    )
                })
                .map_err(|e| backend(format!("enqueue command for {run_id}"), e))?;
            tx.commit().map_err(|e| backend("commit enqueue", e))?;
            Ok(Command {
                id,
                kind,
                created_at,
            })
        })
    }

    fn pending_commands(&self, run_id: String) -> StoreFuture<Vec<Command>> {
        self.read(move |conn| {
            conn.prepare_cached(
                "SELECT id, body, created_at FROM commands
                 WHERE run_id = ?1 AND acked_at IS NULL ORDER BY rowid",
            )
            .and_then(|mut stmt| stmt.query_map([&run_id], command)?.collect())
            .map_err(|e| backend(format!("read commands of {run_id}"), e))
        })
    }

    fn ack_command(&self, run_id: String, command_id: String) -> StoreFuture<bool> {
        self.write(move |conn| {
            let changed = conn
                .prepare_cached(
                    "UPDATE commands SET acked_at = ?3
                     WHERE id = ?1 AND run_id = ?2 AND acked_at IS NULL",
                )
                .and_then(|mut stmt| stmt.execute(rusqlite::params![command_id, run_id, now_ms()]))
                .map_err(|e| backend(format!("ack command {command_id}"), e))?;
            Ok(changed == 1)
        })
    }

    fn put_artifact(
        &self,
        run_id: String,
        name: String,
        bytes: Vec<u8>,
        created_at: i64,
    ) -> StoreFuture<ArtifactInfo> {
        self.write(move |conn| {
            let info = ArtifactInfo {
                sha256: hex::encode(Sha256::digest(&bytes)),
                size: bytes.len() as u64,
                name,
                created_at,
            };
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(|e| backend("begin artifact", e))?;
            if !run_exists(&tx, &run_id)? {
                return Err(StoreError::NotFound);
            }
            tx.prepare_cached(
                "INSERT INTO artifacts (run_id, name, size, sha256, created_at, data)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (run_id, name) DO UPDATE SET size = excluded.size,
                     sha256 = excluded.sha256, created_at = excluded.created_at,
                     data = excluded.data",
            )
            .and_then(|mut stmt| {
                stmt.execute(rusqlite::params![
                    run_id,
                    info.name,
                    info.size,
                    info.sha256,
                    info.created_at,
                    bytes
                ])
            })
            .map_err(|e| backend(format!("store artifact {run_id}/{}", info.name), e))?;
            tx.commit().map_err(|e| backend("commit artifact", e))?;
            Ok(info)
        })
    }

    fn list_artifacts(&self, run_id: String) -> StoreFuture<Vec<ArtifactInfo>> {
        self.read(move |conn| {
            conn.prepare_cached(
                "SELECT name, size, sha256, created_at FROM artifacts
                 WHERE run_id = ?1 ORDER BY name",
            )
            .and_then(|mut stmt| stmt.query_map([&run_id], artifact_info)?.collect())
            .map_err(|e| backend(format!("list artifacts of {run_id}"), e))
        })
    }

    fn artifact(
        &self,
        run_id: String,
        name: String,
    ) -> StoreFuture<Option<(ArtifactInfo, Vec<u8>)>> {
        self.read(move |conn| {
            conn.prepare_cached(
                "SELECT name, size, sha256, created_at, data FROM artifacts
                 WHERE run_id = ?1 AND name = ?2",
            )
            .and_then(|mut stmt| {
                stmt.query_row([&run_id, &name], |row| {
                    Ok((artifact_info(row)?, row.get(4)?))
                })
                .optional()
            })
            .map_err(|e| backend(format!("read artifact {run_id}/{name}"), e))
        })
    }

    fn run_counts(&self) -> StoreFuture<Vec<(RunStatus, u64)>> {
        self.read(|conn| {
            let mut stmt = conn
                .prepare_cached("SELECT status, count(*) FROM runs GROUP BY status")
                .map_err(|e| backend("prepare run counts", e))?;
            let rows = stmt
                .query_map([], |row| {
                    let status: String = row.get(0)?;
                    Ok((RunStatus::parse(&status), row.get::<_, u64>(1)?))
                })
                .map_err(|e| backend("count runs", e))?;
            let mut counts = Vec::new();
            for row in rows {
                if let (Some(status), n) = row.map_err(|e| backend("count runs", e))? {
                    counts.push((status, n));
                }
            }
            Ok(counts)
        })
    }

    fn backend_errors(&self) -> u64 {
        self.inner.errors.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn get_meta(&self, key: String) -> StoreFuture<Option<String>> {
        self.read(move |conn| {
            conn.prepare_cached("SELECT value FROM meta WHERE key = ?1")
                .and_then(|mut stmt| stmt.query_row([&key], |row| row.get(0)).optional())
                .map_err(|e| backend(format!("read meta {key}"), e))
        })
    }

    fn set_meta(&self, key: String, value: String) -> StoreFuture<()> {
        self.write(move |conn| {
            conn.prepare_cached(
                "INSERT INTO meta (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            )
            .and_then(|mut stmt| stmt.execute([&key, &value]))
            .map_err(|e| backend(format!("write meta {key}"), e))?;
            Ok(())
        })
    }

    fn events_before(
        &self,
        run_id: String,
        before: u64,
        limit: usize,
    ) -> StoreFuture<Vec<RawEvent>> {
        self.read(move |conn| {
            // Newest first, each chunk's events reversed, until `limit`; then turned around.
            let mut page: Vec<RawEvent> = Vec::new();
            if limit == 0 {
                return Ok(page);
            }
            let mut stmt = conn
                .prepare_cached(
                    "SELECT first_seq, last_seq, body FROM event_chunks
                     WHERE run_id = ?1 AND first_seq < ?2 ORDER BY first_seq DESC",
                )
                .map_err(|e| backend("prepare event read", e))?;
            let rows = stmt
                .query_map(rusqlite::params![run_id, sql_seq(before)], chunk)
                .map_err(|e| backend(format!("read events of {run_id}"), e))?;
            for row in rows {
                let events = row.map_err(|e| backend(format!("read events of {run_id}"), e))?;
                let wanted = limit - page.len();
                page.extend(
                    events
                        .into_iter()
                        .rev()
                        .filter(|e| e.sequence < before)
                        .take(wanted),
                );
                if page.len() >= limit {
                    break;
                }
            }
            page.reverse();
            Ok(page)
        })
    }

    fn save_session(&self, session: StoredSession) -> StoreFuture<()> {
        self.write(move |conn| {
            conn.prepare_cached(
                "INSERT INTO sessions (id_hash, created_at, last_seen) VALUES (?1, ?2, ?3)
                 ON CONFLICT (id_hash) DO UPDATE SET last_seen = excluded.last_seen",
            )
            .and_then(|mut stmt| {
                stmt.execute(rusqlite::params![
                    &session.id_hash[..],
                    session.created_at,
                    session.last_seen
                ])
            })
            .map_err(|e| backend("save session", e))?;
            Ok(())
        })
    }

    fn touch_session(&self, id_hash: [u8; 32], last_seen: i64) -> StoreFuture<bool> {
        self.write(move |conn| {
            conn.prepare_cached("UPDATE sessions SET last_seen = ?2 WHERE id_hash = ?1")
                .and_then(|mut stmt| stmt.execute(rusqlite::params![&id_hash[..], last_seen]))
                .map(|n| n > 0)
                .map_err(|e| backend("touch session", e))
        })
    }

    fn sessions(&self) -> StoreFuture<Vec<StoredSession>> {
        self.read(move |conn| {
            conn.prepare_cached("SELECT id_hash, created_at, last_seen FROM sessions")
                .and_then(|mut stmt| {
                    stmt.query_map([], |row| {
                        let hash: Vec<u8> = row.get(0)?;
                        Ok(StoredSession {
                            id_hash: hash.try_into().map_err(|_| {
                                bad_column(0, Type::Blob, "a session hash is not 32 bytes")
                            })?,
                            created_at: row.get(1)?,
                            last_seen: row.get(2)?,
                        })
                    })?
                    .collect()
                })
                .map_err(|e| backend("read sessions", e))
        })
    }

    fn delete_session(&self, id_hash: [u8; 32]) -> StoreFuture<bool> {
        self.write(move |conn| {
            conn.prepare_cached("DELETE FROM sessions WHERE id_hash = ?1")
                .and_then(|mut stmt| stmt.execute([&id_hash[..]]))
                .map(|n| n > 0)
                .map_err(|e| backend("delete session", e))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    /// Events as the ingest handler hands them to the store (data in canonical form).
    fn stored(events: impl AsRef<[Event]>) -> Arc<[RawEvent]> {
        events.as_ref().iter().map(Event::to_raw).collect()
    }

    /// Stored events with their data parsed, to compare with what was sent.
    fn parsed(events: Vec<RawEvent>) -> Vec<Event> {
        events.iter().map(RawEvent::parsed).collect()
    }
    use std::time::Instant;
    use tempfile::TempDir;

    fn open_temp() -> (TempDir, PathBuf, Arc<dyn Store>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gateway.db");
        let store = SqliteStore::open(&path).unwrap();
        (dir, path, Arc::new(store))
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

    async fn with_run(id: &str) -> (TempDir, PathBuf, Arc<dyn Store>) {
        let (dir, path, store) = open_temp();
        store.create_run(new_run(id, 1)).await.unwrap();
        (dir, path, store)
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

    async fn summary(store: &Arc<dyn Store>, id: &str) -> RunSummary {
        store.run(id.into()).await.unwrap().unwrap().summary
    }

    async fn all_events(store: &Arc<dyn Store>, id: &str) -> Vec<Event> {
        parsed(store.events(id.into(), 0, usize::MAX).await.unwrap())
    }

    fn finished_claiming(sequence: u64, count: u64, sha: &str) -> Event {
        marker(
            sequence,
            json!({"event": "finished", "exitCode": 0, "durationMs": 1,
                   "eventCount": count, "streamSha256": sha}),
        )
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

    #[tokio::test]
    async fn delivery_is_judged_across_batches_reopens_and_legacy_runs() {
        let (_dir, path, store) = open_temp();
        for id in ["ok", "bad", "legacy"] {
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
        // A run stored before migration 3 has no digest state: it is rebuilt from its events.
        Connection::open(&path)
            .unwrap()
            .execute(
                "UPDATE runs SET stream_state = NULL WHERE id = 'legacy'",
                [],
            )
            .unwrap();
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
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
            (
                "legacy",
                finished_claiming(6, 5, &sha),
                Some(Delivery::Complete),
            ),
        ] {
            let acked = store
                .append_events(id.into(), stored(vec![finish.clone()]), None)
                .await
                .unwrap();
            assert_eq!(summary(&store, id).await.delivery, want, "{id}");
            // The runner learns the verdict from the acknowledgement, of a resend too.
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

    #[tokio::test]
    async fn claude_markers_are_recorded_on_the_run_and_deleting_a_run_removes_it() {
        let (_dir, _path, store) = with_run("r1").await;
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

    #[tokio::test]
    async fn create_get_and_list_runs() {
        let (_dir, _path, store) = open_temp();
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

    #[tokio::test]
    async fn unknown_runs() {
        let (_dir, _path, store) = open_temp();
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

    #[tokio::test]
    async fn events_round_trip_and_update_the_run() {
        let (_dir, _path, store) = with_run("r").await;
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

    #[tokio::test]
    async fn resending_a_batch_is_idempotent() {
        let (_dir, _path, store) = with_run("r").await;
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

    #[tokio::test]
    async fn a_gap_answers_expected_and_writes_nothing() {
        let (_dir, _path, store) = with_run("r").await;
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

    #[tokio::test]
    async fn finished_marker_ends_the_run() {
        let (_dir, _path, store) = open_temp();
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

    #[tokio::test]
    async fn a_terminal_run_takes_no_new_events() {
        let (_dir, _path, store) = with_run("r").await;
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

    #[tokio::test]
    async fn stop_requested_then_finished_is_stopped() {
        let (_dir, _path, store) = with_run("r").await;
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

    #[tokio::test]
    async fn events_page_by_after_and_limit() {
        let (_dir, _path, store) = with_run("r").await;
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

    #[tokio::test]
    async fn commands_are_pending_until_acked() {
        let (_dir, _path, store) = with_run("r").await;
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

    #[tokio::test]
    async fn artifacts_are_replaced_by_name() {
        let (_dir, _path, store) = with_run("r").await;
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

    #[tokio::test]
    async fn events_before_pages_backwards_from_the_tail() {
        let (_dir, _path, store) = with_run("r").await;
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

    #[tokio::test]
    async fn pages_split_chunks_anywhere() {
        let (_dir, _path, store) = with_run("r").await;
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
                let mut want: Vec<Event> =
                    (1..before.min(13)).rev().take(limit).map(line).collect();
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_batches_commit_together_each_with_its_own_answer() {
        let (_dir, _path, store) = open_temp();
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
                    assert!(
                        matches!(gap, Err(StoreError::Gap { expected }) if expected == b * 10 + 1)
                    );
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

    #[tokio::test]
    async fn a_touch_after_sign_out_does_not_revive_the_session() {
        let (_dir, _path, store) = open_temp();
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

    #[tokio::test]
    async fn a_batch_with_events_after_finished_is_refused_whole() {
        let (_dir, _path, store) = with_run("r").await;
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

    #[test]
    fn synchronous_is_full() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("s.db")).unwrap();
        let level: i64 = lock(&store.inner.writer)
            .pragma_query_value(None, "synchronous", |r| r.get(0))
            .unwrap();
        assert_eq!(level, 2, "FULL");
    }

    #[tokio::test]
    async fn sessions_are_saved_touched_and_deleted() {
        let (_dir, path, store) = open_temp();
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
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
        assert_eq!(store.sessions().await.unwrap(), vec![want]);
        assert!(store.delete_session([7; 32]).await.unwrap());
        assert!(!store.delete_session([7; 32]).await.unwrap());
        assert!(store.sessions().await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn meta_is_a_key_value_table() {
        let (_dir, _path, store) = open_temp();
        assert_eq!(store.get_meta("admin".into()).await.unwrap(), None);
        store.set_meta("admin".into(), "h1".into()).await.unwrap();
        store.set_meta("admin".into(), "h2".into()).await.unwrap();
        assert_eq!(
            store.get_meta("admin".into()).await.unwrap().as_deref(),
            Some("h2")
        );
    }

    #[tokio::test]
    async fn everything_survives_a_reopen() {
        let (_dir, path, store) = with_run("r").await;
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

        for _ in 0..2 {
            let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
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

    #[tokio::test]
    async fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("future.db");
        let raw = Connection::open(&path).unwrap();
        raw.pragma_update(None, "user_version", MIGRATIONS.len() as i64 + 1)
            .unwrap();
        drop(raw);
        let got = SqliteStore::open(&path);
        assert!(matches!(got, Err(StoreError::Backend(_))), "{got:?}");
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

    #[tokio::test]
    async fn a_batch_of_ten_thousand_commits() {
        let (_dir, _path, store) = with_run("r").await;
        let outcome = store
            .append_events("r".into(), stored(lines(1, 10_000)), None)
            .await
            .unwrap();
        assert_eq!(outcome.acked_through, 10_000);
        assert_eq!(outcome.inserted, 10_000);
        assert_eq!(all_events(&store, "r").await.len(), 10_000);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn readers_see_whole_batches_while_ingest_runs() {
        let (_dir, _path, store) = with_run("r").await;
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
                        data: json!(
                            "2024-01-01T00:00:00Z compiling crate foo v0.1.0 (/src/foo) ..."
                        ),
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
}
