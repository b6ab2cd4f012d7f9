//! The PostgreSQL backend of [`Store`], for several gateway replicas on one database.
//!
//! Every call takes a connection from a pool (`deadpool-postgres` over `tokio-postgres`, all
//! async: no blocking pool) and runs one statement or one transaction on it. Nothing is kept in
//! the process: whatever one replica writes, the others read.
//!
//! The files: `schema.rs` (migrations), `codec.rs` (rows, errors), `ingest.rs` (ingest and
//! nonces), `runs.rs` (runs, events, commands, artifacts, meta), `records.rs` (sessions,
//! people, invitations, passkeys, pairings, audit), `agents.rs` (agents, the queue, API
//! tokens), `notify.rs` (webhooks, push, deliveries), `retention.rs`, `search.rs`.
//!
//! How it holds `store/mod.rs`' guarantees: ingest locks the run's row `FOR UPDATE` before it
//! reads the progress (`ingest.rs`); a command or an artifact locks its run's row `FOR SHARE`
//! in the transaction that writes it, so a deletion waits or wins; claims lock the agent and
//! skip locked runs (`agents.rs`); one-time things are taken in one `UPDATE … RETURNING` or
//! `DELETE … RETURNING`; `synchronous_commit` (on by default; the gateway refuses a session
//! where it is off) makes a commit durable before it answers; the audit log's appends are
//! serialised by an advisory lock so ids ascend in commit order.

use std::fmt;
use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use common::agents::{AgentProfile, AgentSummary, ApiTokenInfo, RunRequest};
use common::wire::{ArtifactInfo, Command, CommandKind, RawEvent, RunStatus, RunSummary};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};

mod agents;
mod codec;
mod ingest;
mod listen;
mod notify;
mod records;
mod retention;
mod runs;
mod schema;
mod search;
pub mod tls;

use super::search::{LinePage, Needle, RunHit, RunSearch};
use super::{
    ActionToken, AgentRecord, AppendOutcome, ArtifactBody, AttemptResult, AuditEntry, Channel,
    Claimed, Invitation, NewAgent, NewOutbound, NewRun, NewWebhook, Nonce, Outbound, Person, Purge,
    PushSubscription, QueuedRun, RunRecord, Store, StoreError, StoreFuture, StoredPasskey,
    StoredSession, Target, Webhook,
};

/// A pooled connection.
type Conn = deadpool_postgres::Object;

/// Connections a store opens at most, unless told otherwise.
pub const DEFAULT_POOL: usize = 16;

/// [`Store`] on a PostgreSQL database.
pub struct PgStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    channel: Arc<listen::PgChannel>,
    /// Calls that failed in the database, for `/metrics`.
    errors: AtomicU64,
}

/// Names the database, never its password.
impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgStore").finish_non_exhaustive()
    }
}

/// The connection settings a `postgres://` URL (or a `key=value` string) gives; the error names
/// what is wrong, never the URL (it may hold a password).
pub fn config(url: &str) -> Result<tokio_postgres::Config, StoreError> {
    tokio_postgres::Config::from_str(url)
        .map_err(|e| StoreError::Backend(format!("DATABASE_URL is not a PostgreSQL URL: {e}")))
}

impl PgStore {
    /// Connects to the database `url` names with a pool of at most `pool` connections and
    /// brings its schema up to date; TLS as its `sslmode` and `sslrootcert` say (see `tls`).
    pub async fn open(url: &str, pool: usize) -> Result<Self, StoreError> {
        Self::open_with(tls::settings(url)?, pool).await
    }

    /// [`PgStore::open`] with settings made already.
    pub async fn open_with(settings: tls::Settings, pool: usize) -> Result<Self, StoreError> {
        let tls::Settings { config, tls } = settings;
        let manager = Manager::from_config(
            config.clone(),
            tls.clone(),
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(pool.max(2))
            .build()
            .map_err(|e| StoreError::Backend(format!("database pool: {e}")))?;
        let channel = Arc::new(
            listen::PgChannel::start(pool.clone(), config.clone(), tls)
                .map_err(|e| StoreError::Backend(format!("start the channel: {e}")))?,
        );
        let mut conn = pool.get().await.map_err(|e| {
            // The driver's error says "error performing TLS handshake"; its causes say why.
            StoreError::Backend(format!(
                "connect to the database: {:#}",
                anyhow::Error::new(e)
            ))
        })?;
        let sync = conn
            .query_one("SHOW synchronous_commit", &[])
            .await
            .map_err(|e| codec::backend("read synchronous_commit", e))?;
        let sync: String = codec::col(&sync, 0)?;
        if sync == "off" {
            return Err(StoreError::Backend(
                "synchronous_commit is off: an acknowledged batch could be lost; turn it on \
                 for the gateway's database"
                    .into(),
            ));
        }
        schema::migrate(&mut conn).await?;
        Ok(Self {
            inner: Arc::new(Inner {
                pool,
                channel,
                errors: AtomicU64::new(0),
            }),
        })
    }

    /// Runs `work` on a pooled connection.
    fn with<T, F, Fut>(&self, work: F) -> StoreFuture<T>
    where
        T: Send + 'static,
        F: FnOnce(Conn) -> Fut + Send + 'static,
        Fut: Future<Output = Result<T, StoreError>> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        Box::pin(async move {
            let result = match inner.pool.get().await {
                Ok(conn) => work(conn).await,
                Err(e) => Err(StoreError::Backend(format!("database connection: {e}"))),
            };
            if let Err(StoreError::Backend(_)) = &result {
                inner.errors.fetch_add(1, Ordering::Relaxed);
            }
            result
        })
    }
}

impl Store for PgStore {
    fn create_run(&self, run: NewRun) -> StoreFuture<()> {
        self.with(move |c| runs::create_run(c, run))
    }

    fn run(&self, id: String) -> StoreFuture<Option<RunRecord>> {
        self.with(move |c| runs::run(c, id))
    }

    fn delete_run(&self, id: String) -> StoreFuture<bool> {
        self.with(move |c| runs::delete_run(c, id))
    }

    fn list_runs(&self, limit: usize) -> StoreFuture<Vec<RunSummary>> {
        self.with(move |c| runs::list_runs(c, limit))
    }

    fn append_events(
        &self,
        run_id: String,
        events: Arc<[RawEvent]>,
        nonce: Option<Nonce>,
    ) -> StoreFuture<AppendOutcome> {
        self.with(move |c| ingest::append_events(c, run_id, events, nonce))
    }

    fn record_nonce(&self, nonce: Nonce) -> StoreFuture<bool> {
        self.with(move |c| async move { ingest::insert_nonce(&c, nonce).await })
    }

    fn prune_nonces(&self, before: i64) -> StoreFuture<u64> {
        self.with(move |c| records::prune_nonces(c, before))
    }

    fn events(&self, run_id: String, after: u64, limit: usize) -> StoreFuture<Vec<RawEvent>> {
        self.with(move |c| runs::events(c, run_id, after, limit))
    }

    fn events_before(
        &self,
        run_id: String,
        before: u64,
        limit: usize,
    ) -> StoreFuture<Vec<RawEvent>> {
        self.with(move |c| runs::events_before(c, run_id, before, limit))
    }

    fn search_run(
        &self,
        run_id: String,
        needle: Needle,
        after: u64,
        limit: usize,
    ) -> StoreFuture<LinePage> {
        self.with(move |c| search::search_run(c, run_id, needle, after, limit))
    }

    fn search_runs(&self, search: RunSearch) -> StoreFuture<Vec<RunHit>> {
        self.with(move |c| search::search_runs(c, search))
    }

    fn save_session(&self, session: StoredSession) -> StoreFuture<()> {
        self.with(move |c| records::save_session(c, session))
    }

    fn touch_session(&self, id_hash: [u8; 32], last_seen: i64) -> StoreFuture<bool> {
        self.with(move |c| records::touch_session(c, id_hash, last_seen))
    }

    fn sessions(&self) -> StoreFuture<Vec<StoredSession>> {
        self.with(records::sessions)
    }

    fn delete_session(&self, id_hash: [u8; 32]) -> StoreFuture<bool> {
        self.with(move |c| records::delete_session(c, id_hash))
    }

    fn delete_sessions_of(&self, person_id: String) -> StoreFuture<u64> {
        self.with(move |c| records::delete_sessions_of(c, person_id))
    }

    fn create_person(&self, person: Person) -> StoreFuture<()> {
        self.with(move |c| records::create_person(c, person))
    }

    fn update_person(&self, person: Person) -> StoreFuture<bool> {
        self.with(move |c| records::update_person(c, person))
    }

    fn person(&self, id: String) -> StoreFuture<Option<Person>> {
        self.with(move |c| records::person(c, id))
    }

    fn person_by_name(&self, name: String) -> StoreFuture<Option<Person>> {
        self.with(move |c| records::person_by_name(c, name))
    }

    fn people(&self) -> StoreFuture<Vec<Person>> {
        self.with(records::people)
    }

    fn create_invitation(&self, invitation: Invitation) -> StoreFuture<()> {
        self.with(move |c| records::create_invitation(c, invitation))
    }

    fn invitation(&self, token_hash: [u8; 32], now: i64) -> StoreFuture<Option<Invitation>> {
        self.with(move |c| records::invitation(c, token_hash, now))
    }

    fn take_invitation(&self, token_hash: [u8; 32], now: i64) -> StoreFuture<Option<Invitation>> {
        self.with(move |c| records::take_invitation(c, token_hash, now))
    }

    fn open_invitations(&self, now: i64) -> StoreFuture<Vec<Invitation>> {
        self.with(move |c| records::open_invitations(c, now))
    }

    fn add_passkey(&self, passkey: StoredPasskey) -> StoreFuture<()> {
        self.with(move |c| records::add_passkey(c, passkey))
    }

    fn passkey(&self, credential_id: Vec<u8>) -> StoreFuture<Option<StoredPasskey>> {
        self.with(move |c| records::passkey(c, credential_id))
    }

    fn passkeys_of(&self, person_id: String) -> StoreFuture<Vec<StoredPasskey>> {
        self.with(move |c| records::passkeys_of(c, person_id))
    }

    fn use_passkey(
        &self,
        credential_id: Vec<u8>,
        dynamic_state: [u8; 7],
        at: i64,
    ) -> StoreFuture<bool> {
        self.with(move |c| records::use_passkey(c, credential_id, dynamic_state, at))
    }

    fn create_pairing(
        &self,
        code_hash: [u8; 32],
        person_id: String,
        expires_at: i64,
    ) -> StoreFuture<()> {
        self.with(move |c| records::create_pairing(c, code_hash, person_id, expires_at))
    }

    fn take_pairing(&self, code_hash: [u8; 32], now: i64) -> StoreFuture<Option<String>> {
        self.with(move |c| records::take_pairing(c, code_hash, now))
    }

    fn create_ceremony(
        &self,
        challenge: [u8; 16],
        kind: &'static str,
        state: Vec<u8>,
        expires_at: i64,
        limit: u64,
    ) -> StoreFuture<bool> {
        self.with(move |c| records::create_ceremony(c, challenge, kind, state, expires_at, limit))
    }

    fn take_ceremony(
        &self,
        challenge: [u8; 16],
        kind: &'static str,
        now: i64,
    ) -> StoreFuture<Option<Vec<u8>>> {
        self.with(move |c| records::take_ceremony(c, challenge, kind, now))
    }

    fn append_audit(&self, entry: AuditEntry) -> StoreFuture<u64> {
        self.with(move |c| records::append_audit(c, entry))
    }

    fn audit(&self, before: Option<u64>, limit: usize) -> StoreFuture<Vec<AuditEntry>> {
        self.with(move |c| records::audit(c, before, limit))
    }

    fn audit_after(&self, after: u64, limit: usize) -> StoreFuture<Vec<AuditEntry>> {
        self.with(move |c| records::audit_after(c, after, limit))
    }

    fn run_audit(&self, run_id: String) -> StoreFuture<Vec<AuditEntry>> {
        self.with(move |c| records::run_audit(c, run_id))
    }

    fn enqueue_command(
        &self,
        run_id: String,
        kind: CommandKind,
        created_at: i64,
    ) -> StoreFuture<Command> {
        self.with(move |c| runs::enqueue_command(c, run_id, kind, created_at))
    }

    fn pending_commands(&self, run_id: String) -> StoreFuture<Vec<Command>> {
        self.with(move |c| runs::pending_commands(c, run_id))
    }

    fn ack_command(&self, run_id: String, command_id: String) -> StoreFuture<bool> {
        self.with(move |c| runs::ack_command(c, run_id, command_id))
    }

    fn put_artifact(
        &self,
        run_id: String,
        name: String,
        bytes: Vec<u8>,
        created_at: i64,
    ) -> StoreFuture<ArtifactInfo> {
        self.with(move |c| runs::put_artifact(c, run_id, name, bytes, created_at))
    }

    fn list_artifacts(&self, run_id: String) -> StoreFuture<Vec<ArtifactInfo>> {
        self.with(move |c| runs::list_artifacts(c, run_id))
    }

    fn artifact(
        &self,
        run_id: String,
        name: String,
    ) -> StoreFuture<Option<(ArtifactInfo, ArtifactBody)>> {
        self.with(move |c| runs::artifact(c, run_id, name))
    }

    fn put_artifact_object(
        &self,
        run_id: String,
        info: ArtifactInfo,
        key: String,
    ) -> StoreFuture<()> {
        self.with(move |c| runs::put_artifact_object(c, run_id, info, key))
    }

    fn queue_object_deletion(&self, key: String, due: i64) -> StoreFuture<()> {
        self.with(move |c| runs::queue_object_deletion(c, key, due))
    }

    fn due_object_deletions(&self, now: i64, limit: usize) -> StoreFuture<Vec<String>> {
        self.with(move |c| runs::due_object_deletions(c, now, limit))
    }

    fn forget_object_deletions(&self, keys: Vec<String>) -> StoreFuture<()> {
        self.with(move |c| runs::forget_object_deletions(c, keys))
    }

    fn get_meta(&self, key: String) -> StoreFuture<Option<String>> {
        self.with(move |c| runs::get_meta(c, key))
    }

    fn set_meta(&self, key: String, value: String) -> StoreFuture<()> {
        self.with(move |c| runs::set_meta(c, key, value))
    }

    fn meta_or_insert(&self, key: String, value: String) -> StoreFuture<String> {
        self.with(move |c| runs::meta_or_insert(c, key, value))
    }

    fn create_webhook(&self, webhook: NewWebhook) -> StoreFuture<Webhook> {
        self.with(move |c| notify::create_webhook(c, webhook))
    }

    fn webhooks(&self) -> StoreFuture<Vec<Webhook>> {
        self.with(notify::webhooks)
    }

    fn delete_webhook(&self, id: String) -> StoreFuture<bool> {
        self.with(move |c| notify::delete_webhook(c, id))
    }

    fn save_push_subscription(&self, sub: PushSubscription) -> StoreFuture<PushSubscription> {
        self.with(move |c| notify::save_push_subscription(c, sub))
    }

    fn push_subscriptions(&self) -> StoreFuture<Vec<PushSubscription>> {
        self.with(notify::push_subscriptions)
    }

    fn delete_push_subscription(&self, id: String) -> StoreFuture<bool> {
        self.with(move |c| notify::delete_push_subscription(c, id))
    }

    fn enqueue_outbound(&self, items: Vec<NewOutbound>) -> StoreFuture<Vec<String>> {
        self.with(move |c| notify::enqueue_outbound(c, items))
    }

    fn claim_outbound(
        &self,
        now: i64,
        lease_until: i64,
        limit: usize,
    ) -> StoreFuture<Vec<Outbound>> {
        self.with(move |c| notify::claim_outbound(c, now, lease_until, limit))
    }

    fn finish_attempt(&self, id: String, result: AttemptResult) -> StoreFuture<bool> {
        self.with(move |c| notify::finish_attempt(c, id, result))
    }

    fn outbound_log(&self, target: Option<Target>, limit: usize) -> StoreFuture<Vec<Outbound>> {
        self.with(move |c| notify::outbound_log(c, target, limit))
    }

    fn prune_outbound(&self, before: i64) -> StoreFuture<u64> {
        self.with(move |c| notify::prune_outbound(c, before))
    }

    fn save_action_token(&self, token: ActionToken) -> StoreFuture<()> {
        self.with(move |c| notify::save_action_token(c, token))
    }

    fn take_action_token(&self, hash: [u8; 32], now: i64) -> StoreFuture<Option<ActionToken>> {
        self.with(move |c| notify::take_action_token(c, hash, now))
    }

    fn run_counts(&self) -> StoreFuture<Vec<(RunStatus, u64)>> {
        self.with(runs::run_counts)
    }

    fn create_enrollment(
        &self,
        token_hash: [u8; 32],
        created_at: i64,
        expires_at: i64,
    ) -> StoreFuture<()> {
        self.with(move |c| agents::create_enrollment(c, token_hash, created_at, expires_at))
    }

    fn enroll_agent(&self, token_hash: [u8; 32], agent: NewAgent) -> StoreFuture<()> {
        self.with(move |c| agents::enroll_agent(c, token_hash, agent))
    }

    fn agent(&self, id: String) -> StoreFuture<Option<AgentRecord>> {
        self.with(move |c| agents::agent(c, id))
    }

    fn list_agents(&self) -> StoreFuture<Vec<AgentSummary>> {
        self.with(agents::list_agents)
    }

    fn agent_seen(
        &self,
        id: String,
        profile: Option<AgentProfile>,
        now: i64,
    ) -> StoreFuture<Option<AgentSummary>> {
        self.with(move |c| agents::agent_seen(c, id, profile, now))
    }

    fn set_agent_drain(&self, id: String, drain: bool) -> StoreFuture<bool> {
        self.with(move |c| agents::set_agent_drain(c, id, drain))
    }

    fn revoke_agent(&self, id: String, now: i64) -> StoreFuture<bool> {
        self.with(move |c| agents::revoke_agent(c, id, now))
    }

    fn mark_agents_offline(&self, seen_before: i64) -> StoreFuture<Vec<String>> {
        self.with(move |c| agents::mark_agents_offline(c, seen_before))
    }

    fn queue_run(&self, run: QueuedRun) -> StoreFuture<()> {
        self.with(move |c| agents::queue_run(c, run))
    }

    fn claim_run(&self, agent_id: String, now: i64) -> StoreFuture<Option<Claimed>> {
        self.with(move |c| agents::claim_run(c, agent_id, now))
    }

    fn cancel_queued_run(&self, id: String, reason: String, now: i64) -> StoreFuture<bool> {
        self.with(move |c| agents::cancel_queued_run(c, id, reason, now))
    }

    fn lose_runs(
        &self,
        agent_id: String,
        holding: Vec<String>,
        reason: String,
        now: i64,
    ) -> StoreFuture<Vec<String>> {
        self.with(move |c| agents::lose_runs(c, agent_id, holding, reason, now))
    }

    fn run_request(&self, id: String) -> StoreFuture<Option<RunRequest>> {
        self.with(move |c| agents::run_request(c, id))
    }

    fn create_api_token(&self, info: ApiTokenInfo, hash: [u8; 32]) -> StoreFuture<()> {
        self.with(move |c| agents::create_api_token(c, info, hash))
    }

    fn api_token(&self, hash: [u8; 32]) -> StoreFuture<Option<ApiTokenInfo>> {
        self.with(move |c| agents::api_token(c, hash))
    }

    fn put_api_token(&self, info: ApiTokenInfo, hash: [u8; 32]) -> StoreFuture<()> {
        self.with(move |c| agents::put_api_token(c, info, hash))
    }

    fn note_api_token_used(&self, id: String, at: i64) -> StoreFuture<bool> {
        self.with(move |c| agents::note_api_token_used(c, id, at))
    }

    fn claim_api_tokens(&self, person_id: String) -> StoreFuture<u64> {
        self.with(move |c| agents::claim_api_tokens(c, person_id))
    }

    fn list_api_tokens(&self) -> StoreFuture<Vec<ApiTokenInfo>> {
        self.with(agents::list_api_tokens)
    }

    fn revoke_api_token(&self, id: String) -> StoreFuture<bool> {
        self.with(move |c| agents::revoke_api_token(c, id))
    }

    fn set_pinned(&self, run_id: String, pinned: bool) -> StoreFuture<bool> {
        self.with(move |c| retention::set_pinned(c, run_id, pinned))
    }

    fn expired_runs(
        &self,
        cutoffs: Vec<(RunStatus, i64)>,
        limit: usize,
    ) -> StoreFuture<Vec<String>> {
        self.with(move |c| retention::expired_runs(c, cutoffs, limit))
    }

    fn purge_run(&self, run_id: String, max_rows: usize) -> StoreFuture<Purge> {
        self.with(move |c| retention::purge_run(c, run_id, max_rows))
    }

    fn channel(&self) -> Option<Arc<dyn Channel>> {
        Some(self.inner.channel.clone())
    }

    fn session(&self, id_hash: [u8; 32]) -> StoreFuture<Option<StoredSession>> {
        self.with(move |c| records::session(c, id_hash))
    }

    fn count(&self, key: String, window: i64, delta: i64) -> StoreFuture<i64> {
        self.with(move |c| records::count(c, key, window, delta))
    }

    fn backend_errors(&self) -> u64 {
        self.inner.errors.load(Ordering::Relaxed)
    }
}
