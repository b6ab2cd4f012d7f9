//! The PostgreSQL schema: its migrations, applied in order at start-up and counted in
//! `schema_version`. Several replicas may start at once: the first takes a transaction-level
//! advisory lock, the others wait for it and then find nothing left to do.

use super::Conn;
use super::codec::backend;
use crate::store::StoreError;

/// The advisory lock key migrations hold (any constant, the same in every release).
const MIGRATION_LOCK: i64 = 0x6761_7465_7761_7901;

/// The schema, one step per entry. Append only: never edit a step that has shipped.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: everything the SQLite schema holds after its migrations, in PostgreSQL's types. `pos`
    // columns give rows the order they were stored in (SQLite's rowid): the run list's and the
    // queue's tie-break, the order of commands, people, passkeys, webhooks and deliveries. Events
    // are one row per event (`search` holds the text a person reads, see `search.rs`; NULL for
    // `assist` events), artifacts a `bytea` each.
    "CREATE EXTENSION IF NOT EXISTS pg_trgm;
    CREATE TABLE runs (
        pos bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
        id text PRIMARY KEY,
        name text,
        prompt text,
        cwd text,
        key bytea NOT NULL CHECK (length(key) = 32),
        status text NOT NULL CHECK (status IN
            ('queued', 'pending', 'running', 'finished', 'failed', 'stopped', 'lost')),
        created_at bigint NOT NULL,
        finished_at bigint,
        exit_code integer,
        last_seq bigint NOT NULL DEFAULT 0 CHECK (last_seq >= 0),
        last_event_at bigint,
        stop_requested boolean NOT NULL DEFAULT false,
        stream_state text,
        delivery text CHECK (delivery IN ('complete', 'incomplete')),
        claude text,
        pinned boolean NOT NULL DEFAULT false,
        purging boolean NOT NULL DEFAULT false,
        request text,
        agent_id text,
        assigned_at bigint,
        reason text
    );
    CREATE INDEX runs_by_created ON runs (created_at, pos);
    CREATE INDEX runs_queued ON runs (pos) WHERE status = 'queued';
    CREATE INDEX runs_by_agent ON runs (agent_id) WHERE agent_id IS NOT NULL;
    CREATE TABLE events (
        run_id text NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        seq bigint NOT NULL CHECK (seq >= 1),
        kind text NOT NULL,
        ts bigint NOT NULL,
        data text NOT NULL,
        search text,
        PRIMARY KEY (run_id, seq)
    );
    CREATE INDEX events_search ON events USING gin (search gin_trgm_ops);
    CREATE TABLE commands (
        pos bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
        id text PRIMARY KEY,
        run_id text NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        kind text NOT NULL,
        body text NOT NULL,
        created_at bigint NOT NULL,
        acked_at bigint
    );
    CREATE INDEX commands_pending ON commands (run_id, pos) WHERE acked_at IS NULL;
    CREATE TABLE artifacts (
        run_id text NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        name text NOT NULL,
        size bigint NOT NULL,
        sha256 text NOT NULL,
        created_at bigint NOT NULL,
        data bytea NOT NULL,
        PRIMARY KEY (run_id, name)
    );
    CREATE TABLE meta (
        key text PRIMARY KEY,
        value text NOT NULL
    );
    CREATE TABLE nonces (
        expires_at bigint NOT NULL,
        hash bytea NOT NULL CHECK (length(hash) = 32),
        PRIMARY KEY (expires_at, hash)
    );
    CREATE TABLE sessions (
        id_hash bytea PRIMARY KEY CHECK (length(id_hash) = 32),
        created_at bigint NOT NULL,
        last_seen bigint NOT NULL,
        person_id text,
        device text NOT NULL DEFAULT ''
    );
    CREATE INDEX sessions_by_person ON sessions (person_id);
    CREATE TABLE people (
        pos bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
        id text PRIMARY KEY,
        name text NOT NULL UNIQUE,
        role text NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
        created_at bigint NOT NULL,
        disabled_at bigint,
        password_hash text
    );
    CREATE TABLE invitations (
        token_hash bytea PRIMARY KEY CHECK (length(token_hash) = 32),
        name text NOT NULL,
        role text NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
        created_by text NOT NULL,
        created_at bigint NOT NULL,
        expires_at bigint NOT NULL,
        used_at bigint
    );
    CREATE TABLE audit (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at bigint NOT NULL,
        actor_id text NOT NULL,
        actor_name text NOT NULL,
        action text NOT NULL,
        run_id text,
        target text,
        detail text NOT NULL,
        source text
    );
    CREATE INDEX audit_by_run ON audit (run_id, id) WHERE run_id IS NOT NULL;
    CREATE TABLE webhooks (
        pos bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
        id text PRIMARY KEY,
        url text NOT NULL,
        secret text NOT NULL,
        events text NOT NULL,
        format text NOT NULL CHECK (format IN ('json', 'slack')),
        created_at bigint NOT NULL
    );
    CREATE TABLE push_subscriptions (
        pos bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
        id text PRIMARY KEY,
        endpoint text NOT NULL UNIQUE,
        p256dh bytea NOT NULL,
        auth bytea NOT NULL,
        session_hash bytea NOT NULL CHECK (length(session_hash) = 32),
        events text NOT NULL,
        created_at bigint NOT NULL
    );
    CREATE TABLE outbound (
        pos bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
        id text PRIMARY KEY,
        target_kind text NOT NULL CHECK (target_kind IN ('webhook', 'push')),
        target_id text NOT NULL,
        event text NOT NULL,
        run_id text,
        body text NOT NULL,
        state text NOT NULL CHECK (state IN ('pending', 'delivered', 'failed', 'skipped')),
        attempts integer NOT NULL DEFAULT 0,
        next_at bigint NOT NULL,
        last_status integer,
        last_error text,
        created_at bigint NOT NULL,
        updated_at bigint NOT NULL
    );
    CREATE INDEX outbound_due ON outbound (next_at) WHERE state = 'pending';
    CREATE INDEX outbound_by_target ON outbound (target_kind, target_id, created_at);
    CREATE INDEX outbound_by_created ON outbound (created_at);
    CREATE TABLE action_tokens (
        hash bytea PRIMARY KEY CHECK (length(hash) = 32),
        run_id text NOT NULL,
        request_id text NOT NULL,
        session_hash bytea NOT NULL CHECK (length(session_hash) = 32),
        expires_at bigint NOT NULL
    );
    CREATE TABLE passkeys (
        pos bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
        credential_id bytea PRIMARY KEY,
        person_id text NOT NULL,
        static_state bytea NOT NULL,
        dynamic_state bytea NOT NULL CHECK (length(dynamic_state) = 7),
        created_at bigint NOT NULL,
        last_used_at bigint
    );
    CREATE INDEX passkeys_by_person ON passkeys (person_id);
    CREATE TABLE pairings (
        code_hash bytea PRIMARY KEY CHECK (length(code_hash) = 32),
        person_id text NOT NULL,
        expires_at bigint NOT NULL,
        used_at bigint
    );
    CREATE TABLE agents (
        id text PRIMARY KEY,
        name text NOT NULL,
        key bytea NOT NULL CHECK (length(key) = 32),
        profile text NOT NULL,
        created_at bigint NOT NULL,
        last_seen bigint NOT NULL,
        online boolean NOT NULL DEFAULT true,
        drain_requested boolean NOT NULL DEFAULT false,
        revoked_at bigint
    );
    CREATE UNIQUE INDEX agents_live_name ON agents (name) WHERE revoked_at IS NULL;
    CREATE TABLE enrollments (
        token_hash bytea PRIMARY KEY CHECK (length(token_hash) = 32),
        created_at bigint NOT NULL,
        expires_at bigint NOT NULL,
        agent_id text
    );
    CREATE TABLE api_tokens (
        id text PRIMARY KEY,
        hash bytea NOT NULL UNIQUE CHECK (length(hash) = 32),
        name text NOT NULL,
        scopes text NOT NULL,
        created_at bigint NOT NULL,
        revoked_at bigint
    );
    CREATE TABLE counters (
        key text PRIMARY KEY,
        window_start bigint NOT NULL,
        count bigint NOT NULL
    );",
    // 2: artifact bodies in object storage (see the SQLite schema's step 17): the object a body
    // is in, and the queue of objects to delete; the trigger queues, due at once, the object of
    // every row deleted (with its run, by retention) or whose body another replaced.
    "ALTER TABLE artifacts ADD COLUMN object_key text;
    CREATE TABLE object_deletions (
        key text PRIMARY KEY,
        due bigint NOT NULL
    );
    CREATE INDEX object_deletions_by_due ON object_deletions (due);
    CREATE FUNCTION artifact_object_gone() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF OLD.object_key IS NOT NULL
            AND (TG_OP = 'DELETE' OR OLD.object_key IS DISTINCT FROM NEW.object_key) THEN
            INSERT INTO object_deletions (key, due) VALUES (OLD.object_key, 0)
                ON CONFLICT (key) DO UPDATE SET due = 0;
        END IF;
        RETURN NULL;
    END $$;
    CREATE TRIGGER artifact_object_gone AFTER DELETE OR UPDATE OF object_key ON artifacts
        FOR EACH ROW EXECUTE FUNCTION artifact_object_gone();",
    // 3: API tokens per person, with an expiry and the time of their first use; tokens made
    // before go to the first admin (and `auth::tokens::adopt_admin_token` gives them to the
    // first admin a gateway without people makes).
    "ALTER TABLE api_tokens ADD COLUMN person_id text;
    ALTER TABLE api_tokens ADD COLUMN expires_at bigint;
    ALTER TABLE api_tokens ADD COLUMN first_used_at bigint;
    UPDATE api_tokens SET person_id = (SELECT value FROM meta WHERE key = 'first_admin')
        WHERE person_id IS NULL;
    CREATE INDEX api_tokens_by_person ON api_tokens (person_id);",
    // 4: passkey ceremonies waiting for the browser's answer (SQLite's step 19): a ceremony
    // started on one replica is finished on whichever the load balancer sends the answer to.
    "CREATE TABLE passkey_ceremonies (
        challenge bytea PRIMARY KEY CHECK (length(challenge) = 16),
        kind text NOT NULL CHECK (kind IN ('registration', 'sign_in')),
        state bytea NOT NULL,
        expires_at bigint NOT NULL
    );",
];

/// Applies the migrations `schema_version` has not seen yet, in one transaction under the
/// migration lock; a database from a newer release is refused before anything is written.
pub(super) async fn migrate(conn: &mut Conn) -> Result<(), StoreError> {
    let tx = conn
        .transaction()
        .await
        .map_err(|e| backend("begin migration", e))?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(|e| backend("take the migration lock", e))?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_version (version bigint NOT NULL)")
        .await
        .map_err(|e| backend("create schema_version", e))?;
    let current: Option<i64> = tx
        .query_opt("SELECT max(version) FROM schema_version", &[])
        .await
        .map_err(|e| backend("read schema version", e))?
        .and_then(|row| row.get(0));
    let known = MIGRATIONS.len();
    let applied = usize::try_from(current.unwrap_or(0)).unwrap_or(usize::MAX);
    if applied > known {
        return Err(StoreError::Backend(format!(
            "the database is at schema version {applied}, written by a newer gateway release; \
             this one knows versions up to {known}"
        )));
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(applied) {
        tx.batch_execute(sql).await.map_err(|e| {
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
        tx.execute("DELETE FROM schema_version", &[])
            .await
            .map_err(|e| backend("record schema version", e))?;
        tx.execute(
            "INSERT INTO schema_version (version) VALUES ($1)",
            &[&(known as i64)],
        )
        .await
        .map_err(|e| backend("record schema version", e))?;
        tracing::info!(from = applied, to = known, "database schema migrated");
    }
    tx.commit()
        .await
        .map_err(|e| backend("commit migration", e))
}
