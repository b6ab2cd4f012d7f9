//! Durable storage behind one trait: runs, their events, commands, artifacts, the nonces of
//! signed requests, notifications (webhooks, push subscriptions, deliveries, action tokens;
//! types in `notify.rs`) and a small key/value table.
//!
//! The server holds an `Arc<dyn Store>`. Every method takes owned arguments and returns a boxed
//! `'static` future, so the trait is object-safe and a backend is free to run its work on a blocking
//! pool (SQLite) or on an async driver (a future PostgreSQL backend). No backend type appears here.
//!
//! This file holds the trait and its types only; `open.rs` opens the backend a database URL
//! names. The ingest rules (duplicates, gaps, status
//! transitions, the delivery check, what markers do) are `rules.rs` and `progress.rs`, so that
//! every backend applies exactly the same ones; each backend lives in its own folder (`sqlite/`),
//! and `gateway/tests/store/` is the conformance suite every backend must pass.
//!
//! # What a backend must guarantee
//!
//! The handlers rely on these. The conformance suite checks what a test can observe; the rest
//! each backend must hold by its design, and says how in its own module documentation.
//!
//! * **Ingest is one read-modify-write of the run's row, serialised per run.**
//!   [`Store::append_events`] reads the run's progress (`rules::Progress`: status, last
//!   sequence, stop flag, the stream digest's saved state, the delivery verdict, the Claude
//!   totals), runs `rules::plan_append_with` on it, inserts the new events and writes the new
//!   progress back, in one transaction, with the run's row locked from the read to the commit.
//!   (Where the progress is kept is the backend's: SQLite keeps a run's last sequence, last
//!   event time and digest with each chunk, and writes the row only when more changes.)
//!   SQLite gets that from its single writer; PostgreSQL needs `SELECT … FOR UPDATE` on the run's
//!   row (or an equivalent lock) before it reads. Without the lock two processes ingesting the
//!   same run could both read the same `last_seq`: one would store a gap or a duplicate, the
//!   digest would miss events, and the delivery check would lie.
//! * **The nonce goes with the batch.** A batch's nonce is recorded in the batch's transaction
//!   but outside the batch's own rollback: seen before, the answer is
//!   [`StoreError::Replayed`] and nothing is stored; refused by the rules (a gap, say), the nonce
//!   stays recorded; a transaction that fails to commit records neither.
//! * **Acknowledged means durable.** A batch is on disk (or on a synchronous standby) before
//!   `append_events` answers: the runner deletes what the gateway acknowledged.
//! * **A batch is seen whole or not at all** by `events`, `events_before` and `run`, and readers
//!   do not hold up ingest.
//! * **Nonces are shared.** [`Store::record_nonce`] is an atomic insert-if-absent, durable before
//!   it answers and visible to every process using the database.
//! * **Writes need their run, under the same lock.** `enqueue_command` and `put_artifact` check
//!   that the run exists in the transaction that writes, and deleting a run deletes its events,
//!   commands and artifacts with it, so a run deleted meanwhile leaves nothing behind.
//! * **No artifact object is forgotten.** Whatever removes an artifact whose body is an object
//!   (a replacement by [`Store::put_artifact`] or [`Store::put_artifact_object`],
//!   [`Store::delete_run`], [`Store::purge_run`]) queues its key for deletion, due at once, in
//!   the transaction that removes the row (SQLite: triggers on `artifacts`), so the objects of a
//!   deleted run leave the bucket even if the process stops right after the commit.
//! * **Commands keep their queue order** (the order they were stored, not their `created_at`) and
//!   get ids unique without a shared counter.
//! * **A touch never revives a session**: [`Store::touch_session`] only updates a row that exists.
//! * **A queued run is taken once.** [`Store::claim_run`] reads the agent, counts its runs, picks
//!   the oldest queued run [`common::agents::admits`] lets it take and assigns it, in one
//!   transaction that no other claim can interleave with (SQLite: the one writer in an
//!   `IMMEDIATE` transaction; PostgreSQL: the agent's row `FOR UPDATE` and the run picked with
//!   `FOR UPDATE SKIP LOCKED`, then checked to be still `queued`). Queue order is the order runs
//!   were queued. [`Store::cancel_queued_run`] changes only a run still `queued`.
//! * **An enrollment token enrolls once**: consumed in the transaction that stores the agent,
//!   and not consumed when the enrollment fails (an agent name taken, say).
//! * **An invitation is used once**: [`Store::take_invitation`] checks and marks it in one
//!   statement (or under one lock), so two people holding the link cannot both join; so is a
//!   phone-pairing code ([`Store::take_pairing`]).
//! * **Names are unique**: two people never share a name, whatever the order of writes.
//! * **The audit log only grows**, with ids ascending in the order lines were appended, and
//!   keeps the lines of deleted runs.
//! * **A delivery is claimed by one process at a time**: [`Store::claim_outbound`] moves the
//!   `next_at` of what it returns past a lease in the same statement that selects it
//!   (PostgreSQL: `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING …`), so two
//!   gateways polling the same database never send one delivery twice within the lease.
//! * **An action token is used once**: [`Store::take_action_token`] deletes and returns it in one
//!   statement (`DELETE … RETURNING`); two processes taking it at once get it once.
//! * **Failures are [`StoreError::Backend`]**, with text for the log only, counted by
//!   [`Store::backend_errors`].

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use common::agents::{AgentProfile, AgentSummary, ApiTokenInfo};
use common::wire::{ArtifactInfo, Command, CommandKind, RawEvent, RunStatus, RunSummary};

mod agents;
mod notify;
mod open;
pub mod postgres;
mod progress;
pub(crate) mod rules;
pub mod search;
pub mod sqlite;
mod team;

pub use agents::{AgentRecord, Claimed, NewAgent, QueuedRun, claimable};
pub use notify::{
    ActionToken, AttemptResult, NewOutbound, NewWebhook, NotifyEvent, Outbound, OutboundState,
    PushSubscription, Target, Webhook, WebhookFormat,
};
pub use open::{Location, SCHEMES, UnsupportedUrl, open};
pub use team::{AuditEntry, Invitation, Person, Role, StoredPasskey};

/// Where an artifact's body is kept.
#[derive(Clone, PartialEq, Eq)]
pub enum ArtifactBody {
    /// In the database, beside its metadata.
    Inline(Vec<u8>),
    /// An object in the artifact store (`crate::artifacts`), by its key.
    Object(String),
}

impl fmt::Debug for ArtifactBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Inline(bytes) => write!(f, "Inline({} bytes)", bytes.len()),
            Self::Object(key) => f.debug_tuple("Object").field(key).finish(),
        }
    }
}

/// What the gateway processes sharing one database tell each other (PostgreSQL: LISTEN/NOTIFY):
/// short texts, heard by every other process listening, in the order one process sent them. A
/// message can be lost (while a listener reconnects): the listener then hears
/// [`Heard::Connected`] again, and whoever relies on messages catches up from the store.
pub trait Channel: Send + Sync + 'static {
    /// Sends `message` (at most a few hundred bytes) to the other processes; never waits.
    fn send(&self, message: String);

    /// What the other processes send from now on (never this process's own messages).
    fn listen(&self) -> tokio::sync::mpsc::Receiver<Heard>;
}

/// What a [`Channel`] listener hears.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    Message(String),
    /// The listener is connected, first or again: what was sent before is not heard (after a
    /// lost connection: messages were lost).
    Connected,
}

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
    /// The person signed in (`p_…`); `None` only for a session stored before people existed,
    /// which the gateway gives to its first admin when it opens.
    pub person_id: Option<String>,
    /// What the browser said it is (`User-Agent`, at most 200 bytes), to tell sessions apart.
    pub device: String,
}

impl fmt::Debug for StoredSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredSession")
            .field("id_hash", &"********")
            .field("created_at", &self.created_at)
            .field("last_seen", &self.last_seen)
            .field("person_id", &self.person_id)
            .field("device", &self.device)
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

/// What one step of [`Store::purge_run`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purge {
    /// The run is pinned: nothing was deleted.
    Kept,
    /// Part of the run was deleted; call again.
    More,
    /// The run is gone (or there was none).
    Gone,
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

    /// Commits one ingest batch atomically under the rules of `rules::plan_append_with`. The
    /// batch is shared (not copied) with whoever publishes it afterwards. `nonce`, the signed request's, is
    /// recorded in the same transaction, as [`Store::record_nonce`] would: seen before, the
    /// answer is [`StoreError::Replayed`] and nothing is stored; recorded, it stays recorded even
    /// when the rules refuse the batch (a gap, say), so a replay is refused as a replay. A
    /// [`StoreError::Gap`] is answered only once the nonce is durably recorded: the ingest route
    /// then retries the same batch without it.
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

    /// The lines of a run whose search text holds the query (`search`: a substring of what a
    /// person reads, ignoring case), with `sequence > after`, ascending, at most `limit`;
    /// `next_after` is set when more follow. Every stored line is searched, indexed yet or
    /// not. An unknown run has no hits.
    fn search_run(
        &self,
        run_id: String,
        needle: search::Needle,
        after: u64,
        limit: usize,
    ) -> StoreFuture<search::LinePage>;

    /// Runs whose name, prompt or output holds the query, newest first, each once with where it
    /// matched (name before prompt before a line of output), at most `search.limit`. Output
    /// is searched for queries of three characters or more; a backend may bound how much of it
    /// a search reads and says so.
    fn search_runs(&self, search: search::RunSearch) -> StoreFuture<Vec<search::RunHit>>;

    /// Stores a new sign-in session (or replaces one with the same hash: its `last_seen`,
    /// person and device).
    fn save_session(&self, session: StoredSession) -> StoreFuture<()>;

    /// Records activity on a stored session: sets `last_seen` only if the session still exists
    /// (a touch racing a sign-out must not bring the session back). `false` if there was none.
    fn touch_session(&self, id_hash: [u8; 32], last_seen: i64) -> StoreFuture<bool>;

    /// Every stored sign-in session.
    fn sessions(&self) -> StoreFuture<Vec<StoredSession>>;

    /// Forgets a sign-in session; `false` if there was none.
    fn delete_session(&self, id_hash: [u8; 32]) -> StoreFuture<bool>;

    /// Forgets every sign-in session of a person (signing out everywhere, disabling); how many.
    fn delete_sessions_of(&self, person_id: String) -> StoreFuture<u64>;

    /// Stores a new person; [`StoreError::Conflict`] if the id or the name is taken.
    fn create_person(&self, person: Person) -> StoreFuture<()>;

    /// Replaces a person's name, role, disabled time and password hash; `false` if there was
    /// none; [`StoreError::Conflict`] if the new name is another's.
    fn update_person(&self, person: Person) -> StoreFuture<bool>;

    fn person(&self, id: String) -> StoreFuture<Option<Person>>;

    fn person_by_name(&self, name: String) -> StoreFuture<Option<Person>>;

    /// Everyone, oldest first.
    fn people(&self) -> StoreFuture<Vec<Person>>;

    /// Stores a new invitation.
    fn create_invitation(&self, invitation: Invitation) -> StoreFuture<()>;

    /// The invitation with this token hash if it is unused and not expired at `now` (unix ms).
    fn invitation(&self, token_hash: [u8; 32], now: i64) -> StoreFuture<Option<Invitation>>;

    /// Uses an invitation up: answers it and marks it used, atomically, only if it is unused
    /// and not expired at `now`; two callers never both get it.
    fn take_invitation(&self, token_hash: [u8; 32], now: i64) -> StoreFuture<Option<Invitation>>;

    /// The invitations still usable at `now`, oldest first.
    fn open_invitations(&self, now: i64) -> StoreFuture<Vec<Invitation>>;

    /// Stores a new passkey; [`StoreError::Conflict`] if its credential id is known.
    fn add_passkey(&self, passkey: StoredPasskey) -> StoreFuture<()>;

    /// The passkey with this credential id.
    fn passkey(&self, credential_id: Vec<u8>) -> StoreFuture<Option<StoredPasskey>>;

    /// A person's passkeys, oldest first.
    fn passkeys_of(&self, person_id: String) -> StoreFuture<Vec<StoredPasskey>>;

    /// Records a sign-in with a passkey: its new counter state and when; `false` if there is
    /// none.
    fn use_passkey(
        &self,
        credential_id: Vec<u8>,
        dynamic_state: [u8; 7],
        at: i64,
    ) -> StoreFuture<bool>;

    /// Stores a phone-pairing code (its SHA-256) that signs `person_id` in once until
    /// `expires_at` (unix ms).
    fn create_pairing(
        &self,
        code_hash: [u8; 32],
        person_id: String,
        expires_at: i64,
    ) -> StoreFuture<()>;

    /// Uses a pairing code up: the person it signs in, if it is unused and not expired at
    /// `now`; checked and marked in one step, so it works once.
    fn take_pairing(&self, code_hash: [u8; 32], now: i64) -> StoreFuture<Option<String>>;

    /// Stores a passkey ceremony waiting for the browser's answer: its challenge, its kind
    /// (`registration`, `sign_in`), the relying party's state of it and when it expires (unix
    /// ms), so that whichever gateway sharing the store gets the answer can finish it. Expired
    /// ceremonies go first; `false`, with nothing stored, when `limit` ceremonies are waiting.
    fn create_ceremony(
        &self,
        challenge: [u8; 16],
        kind: &'static str,
        state: Vec<u8>,
        expires_at: i64,
        limit: u64,
    ) -> StoreFuture<bool>;

    /// Takes a waiting ceremony of this kind: its state if it exists and has not expired at
    /// `now`. Taken and forgotten in one step, so it is finished once.
    fn take_ceremony(
        &self,
        challenge: [u8; 16],
        kind: &'static str,
        now: i64,
    ) -> StoreFuture<Option<Vec<u8>>>;

    /// Appends a line to the audit log (its `id` is ignored); the id it got, greater than every
    /// id given before.
    fn append_audit(&self, entry: AuditEntry) -> StoreFuture<u64>;

    /// At most `limit` lines of the audit log with an id below `before` (all when `None`),
    /// newest first.
    fn audit(&self, before: Option<u64>, limit: usize) -> StoreFuture<Vec<AuditEntry>>;

    /// At most `limit` lines of the audit log with an id above `after`, oldest first (an export
    /// reads the log forwards with it).
    fn audit_after(&self, after: u64, limit: usize) -> StoreFuture<Vec<AuditEntry>>;

    /// The audit lines of a run, oldest first (who started it, who sent each prompt, command and
    /// decision).
    fn run_audit(&self, run_id: String) -> StoreFuture<Vec<AuditEntry>>;

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

    /// An artifact and where its body is.
    fn artifact(
        &self,
        run_id: String,
        name: String,
    ) -> StoreFuture<Option<(ArtifactInfo, ArtifactBody)>>;

    /// Records an artifact whose body is the object `key` in the artifact store, uploaded
    /// beforehand, replacing one of the same name. In the same transaction `key` leaves the
    /// deletion queue (where the upload put it first) and a replaced body that was an object
    /// joins it. [`StoreError::NotFound`] if the run is gone: the caller deletes the object.
    fn put_artifact_object(
        &self,
        run_id: String,
        info: ArtifactInfo,
        key: String,
    ) -> StoreFuture<()>;

    /// Queues the object `key` for deletion from `due` (unix ms) on; queued again, it keeps the
    /// earlier of the two times.
    fn queue_object_deletion(&self, key: String, due: i64) -> StoreFuture<()>;

    /// At most `limit` keys of the deletion queue due at `now` (unix ms), the earliest first.
    fn due_object_deletions(&self, now: i64, limit: usize) -> StoreFuture<Vec<String>>;

    /// Takes keys whose objects are deleted off the deletion queue.
    fn forget_object_deletions(&self, keys: Vec<String>) -> StoreFuture<()>;

    fn get_meta(&self, key: String) -> StoreFuture<Option<String>>;

    /// Inserts or replaces.
    fn set_meta(&self, key: String, value: String) -> StoreFuture<()>;

    /// The value of `key`, set to `value` first if it has none: of processes racing to set it,
    /// one wins and every one gets the winner's value.
    fn meta_or_insert(&self, key: String, value: String) -> StoreFuture<String>;

    /// Stores a new webhook under a fresh id (`wh_` + 32 hex digits).
    fn create_webhook(&self, webhook: NewWebhook) -> StoreFuture<Webhook>;

    /// Every webhook, oldest first.
    fn webhooks(&self) -> StoreFuture<Vec<Webhook>>;

    /// Deletes a webhook and its deliveries; `false` if there was none.
    fn delete_webhook(&self, id: String) -> StoreFuture<bool>;

    /// Stores a push subscription under a fresh id (`ps_` + 32 hex digits; `sub.id` is
    /// ignored), replacing one with the same endpoint (a browser subscribing again).
    fn save_push_subscription(&self, sub: PushSubscription) -> StoreFuture<PushSubscription>;

    /// Every push subscription, oldest first.
    fn push_subscriptions(&self) -> StoreFuture<Vec<PushSubscription>>;

    /// Deletes a push subscription and its deliveries; `false` if there was none.
    fn delete_push_subscription(&self, id: String) -> StoreFuture<bool>;

    /// Queues deliveries (state `pending`, no attempt yet, due at `not_before`) in one
    /// transaction; their ids (`dl_` + 32 hex digits), in order.
    fn enqueue_outbound(&self, items: Vec<NewOutbound>) -> StoreFuture<Vec<String>>;

    /// Up to `limit` pending deliveries due at `now` (`next_at <= now`), the longest due first,
    /// each moved to `next_at = lease_until` as it is taken, so that no other process takes it
    /// before the lease ends (a process that dies holding one leaves it to be retried then).
    fn claim_outbound(
        &self,
        now: i64,
        lease_until: i64,
        limit: usize,
    ) -> StoreFuture<Vec<Outbound>>;

    /// Records how an attempt at a delivery ended (one more attempt, unless skipped); `false`
    /// if there is no such delivery (its target was deleted meanwhile).
    fn finish_attempt(&self, id: String, result: AttemptResult) -> StoreFuture<bool>;

    /// The delivery log: at most `limit` deliveries, newest first, of one target or of all.
    fn outbound_log(&self, target: Option<Target>, limit: usize) -> StoreFuture<Vec<Outbound>>;

    /// Forgets deliveries that are no longer pending and were last updated before `before`
    /// (unix ms), and action tokens that expired before it; how many deliveries there were.
    fn prune_outbound(&self, before: i64) -> StoreFuture<u64>;

    /// Stores a push action's token (by its hash).
    fn save_action_token(&self, token: ActionToken) -> StoreFuture<()>;

    /// Deletes the token with this hash and returns it, if there was one and it has not expired
    /// at `now` (unix ms). A token is taken once.
    fn take_action_token(&self, hash: [u8; 32], now: i64) -> StoreFuture<Option<ActionToken>>;

    /// How many runs are in each status (statuses with none may be left out); for `/metrics`.
    fn run_counts(&self) -> StoreFuture<Vec<(RunStatus, u64)>>;

    // Agents and the queue of runs (`agents.rs`).

    /// Stores a one-time enrollment token by its SHA-256, valid until `expires_at` (unix ms).
    fn create_enrollment(
        &self,
        token_hash: [u8; 32],
        created_at: i64,
        expires_at: i64,
    ) -> StoreFuture<()>;

    /// Consumes the enrollment token and stores the agent, online, seen at `created_at`, in one
    /// transaction. [`StoreError::NotFound`]: no such token, used, or expired at
    /// `agent.created_at`; [`StoreError::Conflict`]: an agent that is not revoked has the name
    /// (the token stays unused).
    fn enroll_agent(&self, token_hash: [u8; 32], agent: NewAgent) -> StoreFuture<()>;

    fn agent(&self, id: String) -> StoreFuture<Option<AgentRecord>>;

    /// Every agent, revoked ones included, by name.
    fn list_agents(&self) -> StoreFuture<Vec<AgentSummary>>;

    /// An agent was heard from at `now` (unix ms): it is online again, and its profile (from a
    /// heartbeat) replaces the stored one. `None` for an unknown or revoked agent.
    fn agent_seen(
        &self,
        id: String,
        profile: Option<AgentProfile>,
        now: i64,
    ) -> StoreFuture<Option<AgentSummary>>;

    /// Sets or clears an agent's drain request; `false` if there is no such agent.
    fn set_agent_drain(&self, id: String, drain: bool) -> StoreFuture<bool>;

    /// Revokes an agent's credential for good; `false` if there was no such agent or it was
    /// revoked already.
    fn revoke_agent(&self, id: String, now: i64) -> StoreFuture<bool>;

    /// Marks offline every online agent last seen before `seen_before` (unix ms); their ids.
    fn mark_agents_offline(&self, seen_before: i64) -> StoreFuture<Vec<String>>;

    /// Stores a run in status `queued` with its request; [`StoreError::Conflict`] if the id
    /// exists.
    fn queue_run(&self, run: QueuedRun) -> StoreFuture<()>;

    /// The oldest queued run the agent may take (see `claimable` and
    /// `common::agents::admits`), now `pending` and assigned to it; `None` if there is none or
    /// the agent may take nothing now. A run is claimed by one agent only.
    fn claim_run(&self, agent_id: String, now: i64) -> StoreFuture<Option<Claimed>>;

    /// Cancels a run while it is still queued: `stopped`, with `reason`; `false` if it is not
    /// queued (taken meanwhile, or no such run).
    fn cancel_queued_run(&self, id: String, reason: String, now: i64) -> StoreFuture<bool>;

    /// The agent's runs that have not ended and are not in `holding` end `lost` with `reason`;
    /// their ids.
    fn lose_runs(
        &self,
        agent_id: String,
        holding: Vec<String>,
        reason: String,
        now: i64,
    ) -> StoreFuture<Vec<String>>;

    /// The request a queued run was created with (also once an agent took it); `None` for a
    /// run that was never queued, or no such run.
    fn run_request(&self, id: String) -> StoreFuture<Option<common::agents::RunRequest>>;

    // API tokens, each a person's, kept by their SHA-256.

    /// Stores a token by its hash; [`StoreError::Conflict`] if the id or hash exists.
    fn create_api_token(&self, info: ApiTokenInfo, hash: [u8; 32]) -> StoreFuture<()>;

    /// Replaces the token with `info.id` by this one (or stores it): how the configured admin
    /// token takes its place among the others.
    fn put_api_token(&self, info: ApiTokenInfo, hash: [u8; 32]) -> StoreFuture<()>;

    /// The token with this hash, if it exists, revoked or expired ones included (so a refusal
    /// can say why).
    fn api_token(&self, hash: [u8; 32]) -> StoreFuture<Option<ApiTokenInfo>>;

    /// Notes the token's first use at `at` (unix ms); `true` if this was its first use.
    fn note_api_token_used(&self, id: String, at: i64) -> StoreFuture<bool>;

    /// Gives every token without a person (made before tokens had one) to `person_id`; how
    /// many.
    fn claim_api_tokens(&self, person_id: String) -> StoreFuture<u64>;

    fn list_api_tokens(&self) -> StoreFuture<Vec<ApiTokenInfo>>;

    /// `false` if there was no such token or it was revoked already.
    fn revoke_api_token(&self, id: String) -> StoreFuture<bool>;

    /// Pins (`true`) or unpins a run: retention never deletes a pinned run. `false` if there is
    /// no such run (a run retention has begun deleting counts as none).
    fn set_pinned(&self, run_id: String, pinned: bool) -> StoreFuture<bool>;

    /// At most `limit` ids of runs retention may delete: first any whose deletion has begun
    /// (a purge a restart interrupted), then ended runs (finished, failed, stopped), not pinned,
    /// that ended (or, without an end time, were created) before the cutoff (unix ms) given for
    /// their status, oldest first. A status without a cutoff is kept; so are pending and running
    /// runs, whatever the cutoffs say.
    fn expired_runs(
        &self,
        cutoffs: Vec<(RunStatus, i64)>,
        limit: usize,
    ) -> StoreFuture<Vec<String>>;

    /// One small step of deleting a run for retention: at most `max_rows` rows in one short
    /// transaction, so ingest never waits long behind it. The first step hides the run (`run`,
    /// `list_runs` and `set_pinned` see none from then on), unless it is pinned by then
    /// ([`Purge::Kept`], nothing deleted); the next ones delete its events, then its artifacts,
    /// then its commands and the run itself ([`Purge::Gone`]).
    fn purge_run(&self, run_id: String, max_rows: usize) -> StoreFuture<Purge>;

    /// Gives space freed by deletions back to the file system, at most about `max_bytes` in this
    /// call; how many bytes it gave back (`0`: nothing left to give). A backend whose storage
    /// reclaims space by itself (PostgreSQL's autovacuum) answers `0`.
    fn reclaim_space(&self, max_bytes: u64) -> StoreFuture<u64> {
        let _ = max_bytes;
        Box::pin(async { Ok(0) })
    }

    /// The channel to the other gateway processes using this database, if several can (see
    /// [`Channel`]); `None` for a store one process owns (SQLite).
    fn channel(&self) -> Option<Arc<dyn Channel>> {
        None
    }

    /// The stored sign-in session with this hash, if any: a process that shares its store with
    /// others reads it on every request instead of trusting a copy in memory (another process
    /// may have ended it).
    fn session(&self, id_hash: [u8; 32]) -> StoreFuture<Option<StoredSession>>;

    /// Adds `delta` to the counter `key` for the window that starts at `window` (unix ms),
    /// starting from zero when the stored count is of another window, and answers the new
    /// count; one atomic step, shared by every process using the store (the sign-in limiter of
    /// several gateways).
    fn count(&self, key: String, window: i64, delta: i64) -> StoreFuture<i64>;

    /// Calls that failed with [`StoreError::Backend`] since the store was opened.
    fn backend_errors(&self) -> u64 {
        0
    }
}

/// The name a command kind is stored under (its `kind` tag).
pub(crate) fn command_kind_name(kind: &CommandKind) -> &'static str {
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

#[cfg(test)]
mod tests {
    use super::*;

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
                agent: None,
                agent_offline: false,
                reason: None,
                pinned: false,
            },
            key,
        };
        for text in [format!("{new:?}"), format!("{record:?}")] {
            assert!(!text.contains("171") && !text.contains("ab"), "{text}");
        }
    }
}
