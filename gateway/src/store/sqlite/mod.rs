//! The embedded SQLite backend of [`Store`]: one WAL database file, one writer, a few readers.
//!
//! Every call runs on tokio's blocking pool. Writes go through a single connection behind a mutex:
//! SQLite admits one writer at a time anyway, and one connection keeps its prepared statements hot.
//! Reads take a connection from a small pool of read-only connections. In WAL mode a reader sees the
//! last committed snapshot and neither blocks nor waits for the writer, so a long event replay for a
//! browser never holds up ingest; a single mutexed reader would queue every UI read behind the
//! others. An in-memory database has no WAL and cannot be shared between connections, so there the
//! writer serves the reads too.
//!
//! The files: `conn.rs` (connection settings, errors), `schema.rs` (migrations), `codec.rs` (rows),
//! `writer.rs` (ingest and group commit),
//! `checkpoint.rs` (the WAL copied beside the writer), `pool.rs` (the readers), `runs.rs`,
//! `records.rs` and `retention.rs` (the SQL of the other calls), `notify.rs` (webhooks, push
//! subscriptions, deliveries, action tokens).
//!
//! How it holds `store/mod.rs`' guarantees: ingest's read-modify-write of a run's row runs on the
//! one writer connection inside an `IMMEDIATE` transaction, so no other write, from this process
//! or another, can come between its read and its commit (SQLite's database lock is the row lock);
//! `synchronous=FULL` makes every commit durable before it is answered; WAL readers see only
//! committed transactions, hence whole batches.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use common::wire::{ArtifactInfo, Command, CommandKind, RawEvent, RunStatus, RunSummary};
use rusqlite::Connection;

mod agents;
mod checkpoint;
mod codec;
mod conn;
mod indexer;
mod notify;
mod pool;
mod records;
mod retention;
mod runs;
mod schema;
mod search;
mod writer;

use self::checkpoint::{Checkpointer, WAL_BACKSTOP_PAGES, WAL_KEEP_BYTES};
use self::conn::{BUSY_TIMEOUT, STATEMENT_CACHE, backend, lock};
use self::indexer::Indexer;
use self::pool::ReadPool;
use self::schema::{ensure_incremental_vacuum, migrate};
use self::writer::Queue;
use super::search::{LinePage, Needle, RunHit, RunSearch};
use super::{
    ActionToken, AgentRecord, AppendOutcome, ArtifactBody, AttemptResult, AuditEntry, Claimed,
    Invitation, NewAgent, NewOutbound, NewRun, NewWebhook, Nonce, Outbound, Person, Purge,
    PushSubscription, QueuedRun, RunRecord, Store, StoreError, StoreFuture, StoredPasskey,
    StoredSession, Target, Webhook,
};
use common::agents::{AgentProfile, AgentSummary, ApiTokenInfo, RunRequest};

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
    /// Before the writer: its thread is stopped before the connection closes.
    indexer: Indexer,
    /// Shared with the indexer thread.
    writer: Arc<Mutex<Connection>>,
    /// Ingest batches waiting for the writer (see `writer.rs`); the indexer waits while any do.
    appends: Arc<Queue>,
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
            .and_then(|()| writer.pragma_update(None, "foreign_keys", "OFF"))
            .and_then(|()| writer.busy_timeout(BUSY_TIMEOUT))
            .map_err(|e| backend("configure connection", e))?;
        writer.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        // Foreign keys on only after the migrations: one that rebuilds `runs` must not cascade
        // its drop to the events.
        migrate(&mut writer)?;
        writer
            .pragma_update(None, "foreign_keys", "ON")
            .map_err(|e| backend("configure connection", e))?;
        ensure_incremental_vacuum(&writer)?;
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
        let writer = Arc::new(Mutex::new(writer));
        let appends = Arc::new(Queue::default());
        let indexer = Indexer::start(Arc::clone(&writer), Arc::clone(&appends))
            .map_err(|e| StoreError::Backend(format!("start the search indexer: {e}")))?;
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                readers,
                checkpointer,
                indexer,
                writer,
                appends,
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

    /// Commits the ingest queue on the blocking pool until it is empty (see `writer.rs`).
    fn start_drainer(&self) {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let checkpointer = inner.checkpointer.as_ref();
            inner
                .appends
                .drain(&inner.writer, checkpointer, || inner.indexer.nudge());
        });
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

impl Store for SqliteStore {
    fn create_run(&self, run: NewRun) -> StoreFuture<()> {
        self.write(move |c| runs::create_run(c, run))
    }

    fn run(&self, id: String) -> StoreFuture<Option<RunRecord>> {
        self.read(move |c| runs::run(c, id))
    }

    fn delete_run(&self, id: String) -> StoreFuture<bool> {
        self.write(move |c| runs::delete_run(c, id))
    }

    fn list_runs(&self, limit: usize) -> StoreFuture<Vec<RunSummary>> {
        self.read(move |c| runs::list_runs(c, limit))
    }

    fn append_events(
        &self,
        run_id: String,
        events: Arc<[RawEvent]>,
        nonce: Option<Nonce>,
    ) -> StoreFuture<AppendOutcome> {
        let (answer, start) = self.inner.appends.submit(run_id, events, nonce);
        if start {
            self.start_drainer();
        }
        let inner = Arc::clone(&self.inner);
        Box::pin(async move {
            let result = answer
                .await
                .unwrap_or_else(|_| Err(StoreError::Backend("ingest writer went away".into())));
            inner.count(result)
        })
    }

    fn search_run(
        &self,
        run_id: String,
        needle: Needle,
        after: u64,
        limit: usize,
    ) -> StoreFuture<LinePage> {
        self.read(move |c| search::search_run(c, run_id, needle, after, limit))
    }

    fn search_runs(&self, search: RunSearch) -> StoreFuture<Vec<RunHit>> {
        self.read(move |c| search::search_runs(c, search))
    }

    fn record_nonce(&self, nonce: Nonce) -> StoreFuture<bool> {
        // Through the ingest queue: recorded in the next group commit, sharing its WAL sync.
        let (answer, start) = self.inner.appends.record(nonce);
        if start {
            self.start_drainer();
        }
        let inner = Arc::clone(&self.inner);
        Box::pin(async move {
            let result = answer
                .await
                .unwrap_or_else(|_| Err(StoreError::Backend("ingest writer went away".into())));
            inner.count(result)
        })
    }

    fn prune_nonces(&self, before: i64) -> StoreFuture<u64> {
        self.write(move |c| records::prune_nonces(c, before))
    }

    fn events(&self, run_id: String, after: u64, limit: usize) -> StoreFuture<Vec<RawEvent>> {
        self.read(move |c| runs::events(c, run_id, after, limit))
    }

    fn events_before(
        &self,
        run_id: String,
        before: u64,
        limit: usize,
    ) -> StoreFuture<Vec<RawEvent>> {
        self.read(move |c| runs::events_before(c, run_id, before, limit))
    }

    fn save_session(&self, session: StoredSession) -> StoreFuture<()> {
        self.write(move |c| records::save_session(c, session))
    }

    fn touch_session(&self, id_hash: [u8; 32], last_seen: i64) -> StoreFuture<bool> {
        self.write(move |c| records::touch_session(c, id_hash, last_seen))
    }

    fn sessions(&self) -> StoreFuture<Vec<StoredSession>> {
        self.read(records::sessions)
    }

    fn delete_session(&self, id_hash: [u8; 32]) -> StoreFuture<bool> {
        self.write(move |c| records::delete_session(c, id_hash))
    }

    fn delete_sessions_of(&self, person_id: String) -> StoreFuture<u64> {
        self.write(move |c| records::delete_sessions_of(c, person_id))
    }

    fn create_person(&self, person: Person) -> StoreFuture<()> {
        self.write(move |c| records::create_person(c, person))
    }

    fn update_person(&self, person: Person) -> StoreFuture<bool> {
        self.write(move |c| records::update_person(c, person))
    }

    fn person(&self, id: String) -> StoreFuture<Option<Person>> {
        self.read(move |c| records::person(c, id))
    }

    fn person_by_name(&self, name: String) -> StoreFuture<Option<Person>> {
        self.read(move |c| records::person_by_name(c, name))
    }

    fn people(&self) -> StoreFuture<Vec<Person>> {
        self.read(records::people)
    }

    fn create_invitation(&self, invitation: Invitation) -> StoreFuture<()> {
        self.write(move |c| records::create_invitation(c, invitation))
    }

    fn invitation(&self, token_hash: [u8; 32], now: i64) -> StoreFuture<Option<Invitation>> {
        self.read(move |c| records::invitation(c, token_hash, now))
    }

    fn take_invitation(&self, token_hash: [u8; 32], now: i64) -> StoreFuture<Option<Invitation>> {
        self.write(move |c| records::take_invitation(c, token_hash, now))
    }

    fn open_invitations(&self, now: i64) -> StoreFuture<Vec<Invitation>> {
        self.read(move |c| records::open_invitations(c, now))
    }

    fn add_passkey(&self, passkey: StoredPasskey) -> StoreFuture<()> {
        self.write(move |c| records::add_passkey(c, passkey))
    }

    fn passkey(&self, credential_id: Vec<u8>) -> StoreFuture<Option<StoredPasskey>> {
        self.read(move |c| records::passkey(c, credential_id))
    }

    fn passkeys_of(&self, person_id: String) -> StoreFuture<Vec<StoredPasskey>> {
        self.read(move |c| records::passkeys_of(c, person_id))
    }

    fn use_passkey(
        &self,
        credential_id: Vec<u8>,
        dynamic_state: [u8; 7],
        at: i64,
    ) -> StoreFuture<bool> {
        self.write(move |c| records::use_passkey(c, credential_id, dynamic_state, at))
    }

    fn create_pairing(
        &self,
        code_hash: [u8; 32],
        person_id: String,
        expires_at: i64,
    ) -> StoreFuture<()> {
        self.write(move |c| records::create_pairing(c, code_hash, person_id, expires_at))
    }

    fn take_pairing(&self, code_hash: [u8; 32], now: i64) -> StoreFuture<Option<String>> {
        self.write(move |c| records::take_pairing(c, code_hash, now))
    }

    fn create_ceremony(
        &self,
        challenge: [u8; 16],
        kind: &'static str,
        state: Vec<u8>,
        expires_at: i64,
        limit: u64,
    ) -> StoreFuture<bool> {
        self.write(move |c| records::create_ceremony(c, challenge, kind, state, expires_at, limit))
    }

    fn take_ceremony(
        &self,
        challenge: [u8; 16],
        kind: &'static str,
        now: i64,
    ) -> StoreFuture<Option<Vec<u8>>> {
        self.write(move |c| records::take_ceremony(c, challenge, kind, now))
    }

    fn append_audit(&self, entry: AuditEntry) -> StoreFuture<u64> {
        self.write(move |c| records::append_audit(c, entry))
    }

    fn audit(&self, before: Option<u64>, limit: usize) -> StoreFuture<Vec<AuditEntry>> {
        self.read(move |c| records::audit(c, before, limit))
    }

    fn audit_after(&self, after: u64, limit: usize) -> StoreFuture<Vec<AuditEntry>> {
        self.read(move |c| records::audit_after(c, after, limit))
    }

    fn run_audit(&self, run_id: String) -> StoreFuture<Vec<AuditEntry>> {
        self.read(move |c| records::run_audit(c, run_id))
    }

    fn enqueue_command(
        &self,
        run_id: String,
        kind: CommandKind,
        created_at: i64,
    ) -> StoreFuture<Command> {
        self.write(move |c| records::enqueue_command(c, run_id, kind, created_at))
    }

    fn pending_commands(&self, run_id: String) -> StoreFuture<Vec<Command>> {
        self.read(move |c| records::pending_commands(c, run_id))
    }

    fn ack_command(&self, run_id: String, command_id: String) -> StoreFuture<bool> {
        self.write(move |c| records::ack_command(c, run_id, command_id))
    }

    fn put_artifact(
        &self,
        run_id: String,
        name: String,
        bytes: Vec<u8>,
        created_at: i64,
    ) -> StoreFuture<ArtifactInfo> {
        self.write(move |c| records::put_artifact(c, run_id, name, bytes, created_at))
    }

    fn list_artifacts(&self, run_id: String) -> StoreFuture<Vec<ArtifactInfo>> {
        self.read(move |c| records::list_artifacts(c, run_id))
    }

    fn artifact(
        &self,
        run_id: String,
        name: String,
    ) -> StoreFuture<Option<(ArtifactInfo, ArtifactBody)>> {
        self.read(move |c| records::artifact(c, run_id, name))
    }

    fn put_artifact_object(
        &self,
        run_id: String,
        info: ArtifactInfo,
        key: String,
    ) -> StoreFuture<()> {
        self.write(move |c| records::put_artifact_object(c, run_id, info, key))
    }

    fn queue_object_deletion(&self, key: String, due: i64) -> StoreFuture<()> {
        self.write(move |c| records::queue_object_deletion(c, key, due))
    }

    fn due_object_deletions(&self, now: i64, limit: usize) -> StoreFuture<Vec<String>> {
        self.read(move |c| records::due_object_deletions(c, now, limit))
    }

    fn forget_object_deletions(&self, keys: Vec<String>) -> StoreFuture<()> {
        self.write(move |c| records::forget_object_deletions(c, keys))
    }

    fn get_meta(&self, key: String) -> StoreFuture<Option<String>> {
        self.read(move |c| records::get_meta(c, key))
    }

    fn set_meta(&self, key: String, value: String) -> StoreFuture<()> {
        self.write(move |c| records::set_meta(c, key, value))
    }

    fn meta_or_insert(&self, key: String, value: String) -> StoreFuture<String> {
        self.write(move |c| records::meta_or_insert(c, key, value))
    }

    fn create_webhook(&self, webhook: NewWebhook) -> StoreFuture<Webhook> {
        self.write(move |c| notify::create_webhook(c, webhook))
    }

    fn webhooks(&self) -> StoreFuture<Vec<Webhook>> {
        self.read(notify::webhooks)
    }

    fn delete_webhook(&self, id: String) -> StoreFuture<bool> {
        self.write(move |c| notify::delete_webhook(c, id))
    }

    fn save_push_subscription(&self, sub: PushSubscription) -> StoreFuture<PushSubscription> {
        self.write(move |c| notify::save_push_subscription(c, sub))
    }

    fn push_subscriptions(&self) -> StoreFuture<Vec<PushSubscription>> {
        self.read(notify::push_subscriptions)
    }

    fn delete_push_subscription(&self, id: String) -> StoreFuture<bool> {
        self.write(move |c| notify::delete_push_subscription(c, id))
    }

    fn enqueue_outbound(&self, items: Vec<NewOutbound>) -> StoreFuture<Vec<String>> {
        self.write(move |c| notify::enqueue_outbound(c, items))
    }

    fn claim_outbound(
        &self,
        now: i64,
        lease_until: i64,
        limit: usize,
    ) -> StoreFuture<Vec<Outbound>> {
        self.write(move |c| notify::claim_outbound(c, now, lease_until, limit))
    }

    fn finish_attempt(&self, id: String, result: AttemptResult) -> StoreFuture<bool> {
        self.write(move |c| notify::finish_attempt(c, id, result))
    }

    fn outbound_log(&self, target: Option<Target>, limit: usize) -> StoreFuture<Vec<Outbound>> {
        self.read(move |c| notify::outbound_log(c, target, limit))
    }

    fn prune_outbound(&self, before: i64) -> StoreFuture<u64> {
        self.write(move |c| notify::prune_outbound(c, before))
    }

    fn save_action_token(&self, token: ActionToken) -> StoreFuture<()> {
        self.write(move |c| notify::save_action_token(c, token))
    }

    fn take_action_token(&self, hash: [u8; 32], now: i64) -> StoreFuture<Option<ActionToken>> {
        self.write(move |c| notify::take_action_token(c, hash, now))
    }

    fn run_counts(&self) -> StoreFuture<Vec<(RunStatus, u64)>> {
        self.read(runs::run_counts)
    }

    fn create_enrollment(
        &self,
        token_hash: [u8; 32],
        created_at: i64,
        expires_at: i64,
    ) -> StoreFuture<()> {
        self.write(move |c| agents::create_enrollment(c, token_hash, created_at, expires_at))
    }

    fn enroll_agent(&self, token_hash: [u8; 32], agent: NewAgent) -> StoreFuture<()> {
        self.write(move |c| agents::enroll_agent(c, token_hash, agent))
    }

    fn agent(&self, id: String) -> StoreFuture<Option<AgentRecord>> {
        self.read(move |c| agents::agent(c, &id))
    }

    fn list_agents(&self) -> StoreFuture<Vec<AgentSummary>> {
        self.read(agents::list_agents)
    }

    fn agent_seen(
        &self,
        id: String,
        profile: Option<AgentProfile>,
        now: i64,
    ) -> StoreFuture<Option<AgentSummary>> {
        self.write(move |c| agents::agent_seen(c, id, profile, now))
    }

    fn set_agent_drain(&self, id: String, drain: bool) -> StoreFuture<bool> {
        self.write(move |c| agents::set_agent_drain(c, id, drain))
    }

    fn revoke_agent(&self, id: String, now: i64) -> StoreFuture<bool> {
        self.write(move |c| agents::revoke_agent(c, id, now))
    }

    fn mark_agents_offline(&self, seen_before: i64) -> StoreFuture<Vec<String>> {
        self.write(move |c| agents::mark_agents_offline(c, seen_before))
    }

    fn queue_run(&self, run: QueuedRun) -> StoreFuture<()> {
        self.write(move |c| agents::queue_run(c, run))
    }

    fn claim_run(&self, agent_id: String, now: i64) -> StoreFuture<Option<Claimed>> {
        self.write(move |c| agents::claim_run(c, agent_id, now))
    }

    fn cancel_queued_run(&self, id: String, reason: String, now: i64) -> StoreFuture<bool> {
        self.write(move |c| agents::cancel_queued_run(c, id, reason, now))
    }

    fn lose_runs(
        &self,
        agent_id: String,
        holding: Vec<String>,
        reason: String,
        now: i64,
    ) -> StoreFuture<Vec<String>> {
        self.write(move |c| agents::lose_runs(c, agent_id, holding, reason, now))
    }

    fn run_request(&self, id: String) -> StoreFuture<Option<RunRequest>> {
        self.read(move |c| agents::run_request(c, &id))
    }

    fn create_api_token(&self, info: ApiTokenInfo, hash: [u8; 32]) -> StoreFuture<()> {
        self.write(move |c| agents::create_api_token(c, info, hash))
    }

    fn api_token(&self, hash: [u8; 32]) -> StoreFuture<Option<ApiTokenInfo>> {
        self.read(move |c| agents::api_token(c, hash))
    }

    fn put_api_token(&self, info: ApiTokenInfo, hash: [u8; 32]) -> StoreFuture<()> {
        self.write(move |c| agents::put_api_token(c, info, hash))
    }

    fn note_api_token_used(&self, id: String, at: i64) -> StoreFuture<bool> {
        self.write(move |c| agents::note_api_token_used(c, id, at))
    }

    fn claim_api_tokens(&self, person_id: String) -> StoreFuture<u64> {
        self.write(move |c| agents::claim_api_tokens(c, person_id))
    }

    fn list_api_tokens(&self) -> StoreFuture<Vec<ApiTokenInfo>> {
        self.read(agents::list_api_tokens)
    }

    fn revoke_api_token(&self, id: String) -> StoreFuture<bool> {
        self.write(move |c| agents::revoke_api_token(c, id))
    }

    fn set_pinned(&self, run_id: String, pinned: bool) -> StoreFuture<bool> {
        self.write(move |c| retention::set_pinned(c, run_id, pinned))
    }

    fn expired_runs(
        &self,
        cutoffs: Vec<(RunStatus, i64)>,
        limit: usize,
    ) -> StoreFuture<Vec<String>> {
        self.read(move |c| retention::expired_runs(c, &cutoffs, limit))
    }

    fn purge_run(&self, run_id: String, max_rows: usize) -> StoreFuture<Purge> {
        self.write(move |c| retention::purge_run(c, run_id, max_rows))
    }

    fn reclaim_space(&self, max_bytes: u64) -> StoreFuture<u64> {
        self.write(move |c| retention::reclaim_space(c, max_bytes))
    }

    fn session(&self, id_hash: [u8; 32]) -> StoreFuture<Option<StoredSession>> {
        self.read(move |c| records::session(c, id_hash))
    }

    fn count(&self, key: String, window: i64, delta: i64) -> StoreFuture<i64> {
        self.write(move |c| records::count(c, key, window, delta))
    }

    fn backend_errors(&self) -> u64 {
        self.inner.errors.load(std::sync::atomic::Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests;
