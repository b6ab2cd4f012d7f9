//! The SQLite schema: its migrations, applied in order and counted by `PRAGMA user_version`.

use rusqlite::{Connection, TransactionBehavior};

use super::conn::backend;
use crate::store::StoreError;

/// The schema, one step per entry; `PRAGMA user_version` counts the steps applied. Append only:
/// never edit a step that has shipped.
pub(super) const MIGRATIONS: &[&str] = &[
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
    // 7: agents and the queue of runs. `runs` is rebuilt for its two new statuses (a CHECK cannot
    // be altered; `migrate` runs with foreign keys off, so its dependants keep their rows), with
    // the request of a queued run, the agent that took it and the reason a run was lost or
    // cancelled. Rows keep their rowids: the queue and the run list order by them.
    "CREATE TABLE runs_new (
        id TEXT PRIMARY KEY NOT NULL,
        name TEXT,
        prompt TEXT,
        cwd TEXT,
        key BLOB NOT NULL CHECK (length(key) = 32),
        status TEXT NOT NULL CHECK (status IN
            ('queued', 'pending', 'running', 'finished', 'failed', 'stopped', 'lost')),
        created_at INTEGER NOT NULL,
        finished_at INTEGER,
        exit_code INTEGER,
        last_seq INTEGER NOT NULL DEFAULT 0 CHECK (last_seq >= 0),
        last_event_at INTEGER,
        stop_requested INTEGER NOT NULL DEFAULT 0,
        stream_state TEXT,
        delivery TEXT CHECK (delivery IN ('complete', 'incomplete')),
        claude TEXT,
        request TEXT,
        agent_id TEXT,
        assigned_at INTEGER,
        reason TEXT
    );
    INSERT INTO runs_new (rowid, id, name, prompt, cwd, key, status, created_at, finished_at,
            exit_code, last_seq, last_event_at, stop_requested, stream_state, delivery, claude)
        SELECT rowid, id, name, prompt, cwd, key, status, created_at, finished_at, exit_code,
            last_seq, last_event_at, stop_requested, stream_state, delivery, claude FROM runs;
    DROP TABLE runs;
    ALTER TABLE runs_new RENAME TO runs;
    CREATE INDEX runs_by_created ON runs (created_at);
    CREATE INDEX runs_queued ON runs (status) WHERE status = 'queued';
    CREATE INDEX runs_by_agent ON runs (agent_id) WHERE agent_id IS NOT NULL;
    CREATE TABLE agents (
        id TEXT PRIMARY KEY NOT NULL,
        name TEXT NOT NULL,
        key BLOB NOT NULL CHECK (length(key) = 32),
        profile TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        last_seen INTEGER NOT NULL,
        online INTEGER NOT NULL DEFAULT 1,
        drain_requested INTEGER NOT NULL DEFAULT 0,
        revoked_at INTEGER
    );
    CREATE UNIQUE INDEX agents_live_name ON agents (name) WHERE revoked_at IS NULL;
    CREATE TABLE enrollments (
        token_hash BLOB PRIMARY KEY NOT NULL CHECK (length(token_hash) = 32),
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        agent_id TEXT
    ) WITHOUT ROWID;",
    // 8: API tokens for scripts, by the SHA-256 of the token.
    "CREATE TABLE api_tokens (
        id TEXT PRIMARY KEY NOT NULL,
        hash BLOB NOT NULL UNIQUE CHECK (length(hash) = 32),
        name TEXT NOT NULL,
        scopes TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        revoked_at INTEGER
    );",
];

/// Applies the migrations `user_version` has not seen yet, all in one transaction. Call it with
/// foreign keys off (a step that rebuilds a table drops the old one).
pub(super) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
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
