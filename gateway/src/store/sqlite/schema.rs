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
    // 7: a team. People with a role (the first admin is made by the gateway when it opens, with
    // the admin password that was stored in `meta`), one-time invitations by the SHA-256 of
    // their token, and sessions that belong to a person and name the browser they came from
    // (sessions of before are given to the first admin when the gateway opens).
    "CREATE TABLE people (
        id TEXT PRIMARY KEY NOT NULL,
        name TEXT NOT NULL UNIQUE,
        role TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
        created_at INTEGER NOT NULL,
        disabled_at INTEGER,
        password_hash TEXT
    );
    CREATE TABLE invitations (
        token_hash BLOB PRIMARY KEY NOT NULL CHECK (length(token_hash) = 32),
        name TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
        created_by TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        used_at INTEGER
    ) WITHOUT ROWID;
    ALTER TABLE sessions ADD COLUMN person_id TEXT;
    ALTER TABLE sessions ADD COLUMN device TEXT NOT NULL DEFAULT '';
    CREATE INDEX sessions_by_person ON sessions (person_id);",
    // 8: the audit log. No foreign key: a run's lines outlive the run. `detail` is a JSON object.
    "CREATE TABLE audit (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at INTEGER NOT NULL,
        actor_id TEXT NOT NULL,
        actor_name TEXT NOT NULL,
        action TEXT NOT NULL,
        run_id TEXT,
        target TEXT,
        detail TEXT NOT NULL,
        source TEXT
    );
    CREATE INDEX audit_by_run ON audit (run_id, id) WHERE run_id IS NOT NULL;",
    // 9: retention. `pinned`: a person keeps the run whatever its age. `purging`: retention has
    // begun deleting the run in small steps; it is hidden from then on and cannot be pinned.
    // (The switch to incremental auto-vacuum that lets retention give space back is not a step
    // here: it needs a VACUUM, which cannot run in a transaction; see `ensure_incremental_vacuum`.)
    "ALTER TABLE runs ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0 CHECK (pinned IN (0, 1));
    ALTER TABLE runs ADD COLUMN purging INTEGER NOT NULL DEFAULT 0 CHECK (purging IN (0, 1));",
    // 10: notifications. Webhooks and Web Push subscriptions (events as comma-separated names),
    // the outbound deliveries to them (the retry queue and the delivery log in one table: a
    // pending row is due at `next_at`), and the single-use tokens of push actions, by SHA-256.
    "CREATE TABLE webhooks (
        id TEXT PRIMARY KEY NOT NULL,
        url TEXT NOT NULL,
        secret TEXT NOT NULL,
        events TEXT NOT NULL,
        format TEXT NOT NULL CHECK (format IN ('json', 'slack')),
        created_at INTEGER NOT NULL
    );
    CREATE TABLE push_subscriptions (
        id TEXT PRIMARY KEY NOT NULL,
        endpoint TEXT NOT NULL UNIQUE,
        p256dh BLOB NOT NULL,
        auth BLOB NOT NULL,
        session_hash BLOB NOT NULL CHECK (length(session_hash) = 32),
        events TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE outbound (
        id TEXT PRIMARY KEY NOT NULL,
        target_kind TEXT NOT NULL CHECK (target_kind IN ('webhook', 'push')),
        target_id TEXT NOT NULL,
        event TEXT NOT NULL,
        run_id TEXT,
        body TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed', 'skipped')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_at INTEGER NOT NULL,
        last_status INTEGER,
        last_error TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    );
    CREATE INDEX outbound_due ON outbound (next_at) WHERE state = 'pending';
    CREATE INDEX outbound_by_target ON outbound (target_kind, target_id, created_at);
    CREATE INDEX outbound_by_created ON outbound (created_at);
    CREATE TABLE action_tokens (
        hash BLOB PRIMARY KEY NOT NULL CHECK (length(hash) = 32),
        run_id TEXT NOT NULL,
        request_id TEXT NOT NULL,
        session_hash BLOB NOT NULL CHECK (length(session_hash) = 32),
        expires_at INTEGER NOT NULL
    ) WITHOUT ROWID;",
    // 11: passkeys. Public data only: the credential id, its public key and its counter.
    "CREATE TABLE passkeys (
        credential_id BLOB PRIMARY KEY NOT NULL,
        person_id TEXT NOT NULL,
        static_state BLOB NOT NULL,
        dynamic_state BLOB NOT NULL CHECK (length(dynamic_state) = 7),
        created_at INTEGER NOT NULL,
        last_used_at INTEGER
    );
    CREATE INDEX passkeys_by_person ON passkeys (person_id);",
    // 12: phone pairing: a short-lived code (its SHA-256) that signs a person in once.
    "CREATE TABLE pairings (
        code_hash BLOB PRIMARY KEY NOT NULL CHECK (length(code_hash) = 32),
        person_id TEXT NOT NULL,
        expires_at INTEGER NOT NULL,
        used_at INTEGER
    ) WITHOUT ROWID;",
    // 13: agents and the queue of runs. `runs` is rebuilt for its two new statuses (a CHECK cannot
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
        pinned INTEGER NOT NULL DEFAULT 0 CHECK (pinned IN (0, 1)),
        purging INTEGER NOT NULL DEFAULT 0 CHECK (purging IN (0, 1)),
        request TEXT,
        agent_id TEXT,
        assigned_at INTEGER,
        reason TEXT
    );
    INSERT INTO runs_new (rowid, id, name, prompt, cwd, key, status, created_at, finished_at,
            exit_code, last_seq, last_event_at, stop_requested, stream_state, delivery, claude, pinned, purging)
        SELECT rowid, id, name, prompt, cwd, key, status, created_at, finished_at, exit_code,
            last_seq, last_event_at, stop_requested, stream_state, delivery, claude, pinned,
            purging FROM runs;
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
    // 14: API tokens for scripts, by the SHA-256 of the token.
    "CREATE TABLE api_tokens (
        id TEXT PRIMARY KEY NOT NULL,
        hash BLOB NOT NULL UNIQUE CHECK (length(hash) = 32),
        name TEXT NOT NULL,
        scopes TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        revoked_at INTEGER
    );",
    // 15: counters in fixed windows (the sign-in limiter's, when several gateways share it).
    "CREATE TABLE counters (
        key TEXT PRIMARY KEY NOT NULL,
        window_start INTEGER NOT NULL,
        count INTEGER NOT NULL
    ) WITHOUT ROWID;",
    // 16: search. `search_text` is an FTS5 trigram index over stretches of each run's output
    // (contentless: the lines are read back from `event_chunks`; `detail=none`: rowids only),
    // one row per `search_chunks` row, which says whose lines `first_seq..=last_seq` it holds;
    // `runs.indexed_seq` is how far a run is indexed (see `search.rs`). Deleting a run
    // deletes its stretches, and the trigger their text.
    "ALTER TABLE runs ADD COLUMN indexed_seq INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE search_chunks (
        id INTEGER PRIMARY KEY,
        run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        first_seq INTEGER NOT NULL,
        last_seq INTEGER NOT NULL
    );
    CREATE INDEX search_chunks_by_run ON search_chunks (run_id, last_seq);
    CREATE VIRTUAL TABLE search_text USING fts5 (
        body, content = '', contentless_delete = 1, tokenize = 'trigram', detail = 'none'
    );
    CREATE TRIGGER search_chunks_deleted AFTER DELETE ON search_chunks BEGIN
        DELETE FROM search_text WHERE rowid = old.id;
    END;",
    // 17: artifact bodies in object storage. `object_key` names the object holding the body
    // (then `data` is empty); `object_deletions` is the queue of objects to delete, each due at
    // `due` (unix ms): an upload queues its key before it writes (due after the longest an upload
    // may take, so an object whose process died before recording it goes too) and recording the
    // artifact takes it off; the triggers queue, due at once, the object of every row deleted
    // (with its run, by retention, by `DELETE`) or whose body another replaced.
    "ALTER TABLE artifacts ADD COLUMN object_key TEXT;
    CREATE TABLE object_deletions (
        key TEXT PRIMARY KEY NOT NULL,
        due INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX object_deletions_by_due ON object_deletions (due);
    CREATE TRIGGER artifact_object_deleted AFTER DELETE ON artifacts
        WHEN old.object_key IS NOT NULL BEGIN
        INSERT OR REPLACE INTO object_deletions (key, due) VALUES (old.object_key, 0);
    END;
    CREATE TRIGGER artifact_object_replaced AFTER UPDATE OF object_key ON artifacts
        WHEN old.object_key IS NOT NULL AND old.object_key IS NOT new.object_key BEGIN
        INSERT OR REPLACE INTO object_deletions (key, due) VALUES (old.object_key, 0);
    END;",
    // 18: API tokens per person, with an expiry and the time of their first use. Tokens made
    // before (by the admin, for scripts) become the first admin's; a gateway without people yet
    // gives them to its first admin when it makes one (`auth::tokens::adopt_admin_token`).
    // Steps are only ever appended: a database at version N runs exactly the steps after N, so
    // a step put before one it already ran would be skipped and the later one run twice.
    "ALTER TABLE api_tokens ADD COLUMN person_id TEXT;
    ALTER TABLE api_tokens ADD COLUMN expires_at INTEGER;
    ALTER TABLE api_tokens ADD COLUMN first_used_at INTEGER;
    UPDATE api_tokens SET person_id = (SELECT value FROM meta WHERE key = 'first_admin')
        WHERE person_id IS NULL;
    CREATE INDEX api_tokens_by_person ON api_tokens (person_id);",
    // 19: passkey ceremonies waiting for the browser's answer (the relying party's state of
    // each, by its challenge), in the store so that any gateway sharing it can finish them.
    "CREATE TABLE passkey_ceremonies (
        challenge BLOB PRIMARY KEY NOT NULL CHECK (length(challenge) = 16),
        kind TEXT NOT NULL CHECK (kind IN ('registration', 'sign_in')),
        state BLOB NOT NULL,
        expires_at INTEGER NOT NULL
    ) WITHOUT ROWID;",
    // 20: a run's progress kept with each chunk: the time of its last event and the running
    // digest of the run's events through it (`common::digest`), so that a batch that changes
    // nothing else about its run does not rewrite the run's row (`writer.rs`). Chunks written
    // before have neither; their runs' rows were rewritten with every batch and hold both.
    "ALTER TABLE event_chunks ADD COLUMN last_event_at INTEGER;
    ALTER TABLE event_chunks ADD COLUMN stream_state TEXT;",
];

/// Applies the migrations `user_version` has not seen yet, all in one transaction: a failing
/// step leaves the database as it was, and the error names the step and SQLite's reason. A
/// database from a newer release (a version past the last step this build knows) is refused
/// before anything is written. Call it with foreign keys off (a step that rebuilds a table drops
/// the old one).
pub(super) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    migrate_with(conn, MIGRATIONS)
}

/// [`migrate`] over any list of steps, so a test can make one fail.
pub(super) fn migrate_with(conn: &mut Connection, steps: &[&str]) -> Result<(), StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| backend("begin migration", e))?;
    let current: i64 = tx
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(|e| backend("read schema version", e))?;
    let known = steps.len();
    let applied = match usize::try_from(current) {
        Ok(v) if v <= known => v,
        Ok(_) => {
            return Err(StoreError::Backend(format!(
                "the database is at schema version {current}, written by a newer gateway \
                 release; this one knows versions up to {known}. Run that release (or a later \
                 one), or restore a backup taken before the upgrade"
            )));
        }
        Err(_) => {
            return Err(StoreError::Backend(format!(
                "the database's schema version {current} is not one any gateway writes"
            )));
        }
    };
    for (index, sql) in steps.iter().enumerate().skip(applied) {
        tx.execute_batch(sql).map_err(|e| {
            backend(
                format!(
                    "migration {} of {known} failed and was rolled back; the database is as it \
                     was, at schema version {applied}",
                    index + 1
                ),
                e,
            )
        })?;
    }
    if applied < known {
        tx.pragma_update(None, "user_version", known as i64)
            .map_err(|e| backend("record schema version", e))?;
        tracing::info!(from = applied, to = known, "database schema migrated");
    }
    tx.commit().map_err(|e| backend("commit migration", e))
}

/// `auto_vacuum = INCREMENTAL`: space that deletions free can be given back to the file system
/// (`PRAGMA incremental_vacuum`, a few pages at a time) instead of only being reused. Run after
/// the migrations. The mode can only change by one `VACUUM` once a table exists (SQLite's
/// default is `NONE`; a new database pays a few milliseconds, a database of an earlier release
/// once): it rewrites the file, atomically (a failure leaves the file as it was), with about the
/// database's size in free space and time in proportion. If it
/// fails, the gateway says why and goes on: deleted runs' pages are still reused, the file just
/// does not shrink; the next start tries again.
pub(super) fn ensure_incremental_vacuum(conn: &Connection) -> Result<(), StoreError> {
    const INCREMENTAL: i64 = 2;
    let mode = |conn: &Connection| -> Result<i64, StoreError> {
        conn.pragma_query_value(None, "auto_vacuum", |row| row.get(0))
            .map_err(|e| backend("read auto_vacuum", e))
    };
    if mode(conn)? == INCREMENTAL {
        return Ok(());
    }
    conn.pragma_update(None, "auto_vacuum", INCREMENTAL)
        .map_err(|e| backend("set auto_vacuum", e))?;
    let tables: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_schema", [], |row| row.get(0))
        .map_err(|e| backend("read the schema", e))?;
    if tables > 0 {
        let pages: i64 = conn
            .pragma_query_value(None, "page_count", |row| row.get(0))
            .map_err(|e| backend("read page_count", e))?;
        if pages > 1_000 {
            tracing::info!(
                pages,
                "rewriting the database once (VACUUM) so that retention can give space back; \
                 this takes a while for a large database"
            );
        }
        if let Err(e) = conn.execute_batch("VACUUM") {
            tracing::warn!(
                "could not switch the database to incremental vacuum ({e}); it works as before, \
                 but deleted runs' space is only reused, not given back; the next start tries again"
            );
            return Ok(());
        }
    }
    if mode(conn)? != INCREMENTAL {
        tracing::warn!("the database kept auto_vacuum off; its file will not shrink");
    }
    Ok(())
}
