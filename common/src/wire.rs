//! The JSON bodies of protocol v1. `PROTOCOL.md` documents every type here field by field.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

/// Protocol version carried in the canonical signing string and in `/api/runner/ping`.
pub const PROTOCOL_VERSION: &str = "v1";

/// Longest text of one `stdout`/`stderr` event, in bytes; longer lines are split.
pub const MAX_LINE_BYTES: usize = 16 * 1024;
/// Most events one ingest batch may carry.
pub const MAX_BATCH_EVENTS: usize = 5_000;
/// Largest ingest request body, in bytes.
pub const MAX_BATCH_BYTES: usize = 4 * 1024 * 1024;
/// Longest a run id may be.
pub const MAX_RUN_ID_LEN: usize = 64;

/// What an event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    Stdout,
    Stderr,
    Marker,
    Info,
    Error,
    Assist,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Stdout => "stdout",
            EventKind::Stderr => "stderr",
            EventKind::Marker => "marker",
            EventKind::Info => "info",
            EventKind::Error => "error",
            EventKind::Assist => "assist",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "stdout" => EventKind::Stdout,
            "stderr" => EventKind::Stderr,
            "marker" => EventKind::Marker,
            "info" => EventKind::Info,
            "error" => EventKind::Error,
            "assist" => EventKind::Assist,
            _ => return None,
        })
    }
}

/// One event of a run. `sequence` starts at 1 and increases by one per event.
///
/// `data` is a parsed [`Value`] by default; the gateway holds it as JSON text instead
/// ([`RawEvent`]), so that it keeps and serves every number exactly as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event<D = Value> {
    pub sequence: u64,
    #[serde(rename = "type")]
    pub kind: EventKind,
    /// A string for `stdout`, `stderr`, `info` and `error`; an object for `marker` and `assist`.
    pub data: D,
    /// Unix time in milliseconds when the runner framed the event.
    pub ts: i64,
}

/// An event whose `data` is kept as JSON text (in the gateway: its canonical form,
/// [`crate::canonical`]), never parsed into numbers that could lose digits.
pub type RawEvent = Event<Box<RawValue>>;

impl RawEvent {
    /// The data parsed (numbers past `f64`'s precision lose digits here: read fields with it,
    /// never store or serve what it gives).
    pub fn data_value(&self) -> Value {
        serde_json::from_str(self.data.get()).unwrap_or(Value::Null)
    }

    /// The event with its data parsed; see [`RawEvent::data_value`].
    pub fn parsed(&self) -> Event {
        Event {
            sequence: self.sequence,
            kind: self.kind,
            data: self.data_value(),
            ts: self.ts,
        }
    }
}

impl Event {
    /// The event with its data as JSON text, as `serde_json` writes it (which is canonical).
    pub fn to_raw(&self) -> RawEvent {
        Event {
            sequence: self.sequence,
            kind: self.kind,
            data: serde_json::value::to_raw_value(&self.data).expect("a JSON value serialises"),
            ts: self.ts,
        }
    }
}

/// `POST /api/ingest/event` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IngestBatch<D = Value> {
    pub run_id: String,
    pub events: Vec<Event<D>>,
}

/// `POST /api/ingest/event` success answer: every sequence up to `acked_through` is committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestAck {
    pub acked_through: u64,
    /// Once the run's `finished` marker is stored: whether the stored stream is the one the
    /// runner sent (the run's `delivery`). Absent before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<Delivery>,
}

/// `409` answer to an ingest batch that would leave a gap: resend from `expected`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GapError {
    pub error: GapTag,
    pub expected: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GapTag {
    SequenceGap,
}

/// Marker payloads (`type: "marker"`); `event` names the lifecycle step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Marker {
    /// The child was spawned. `command` is the argv as run (already redacted).
    Started {
        command: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pid: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cwd: Option<String>,
    },
    /// The child ended. `exitCode` is the exit status, or 128 + signal number.
    Finished {
        #[serde(rename = "exitCode")]
        exit_code: i32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signal: Option<i32>,
        #[serde(rename = "durationMs")]
        duration_ms: u64,
        /// How many events came before this marker (so `sequence - 1` when nothing was lost).
        #[serde(
            rename = "eventCount",
            default,
            skip_serializing_if = "Option::is_none"
        )]
        event_count: Option<u64>,
        /// Hex SHA-256 of those events in canonical form (`crate::digest`).
        #[serde(
            rename = "streamSha256",
            default,
            skip_serializing_if = "Option::is_none"
        )]
        stream_sha256: Option<String>,
        /// Output lines not kept because the spool reached its size cap (see `truncated`).
        #[serde(
            rename = "droppedLines",
            default,
            skip_serializing_if = "Option::is_none"
        )]
        dropped_lines: Option<u64>,
    },
    /// A stop was requested (`reason`: `signal`, `command`, …).
    StopRequested { reason: String },
    /// How a requested stop ended: `exited_after_sigint` (within the grace) or `killed` (SIGKILL).
    Stopped { outcome: String },
    /// The spool reached `limitBytes`: later output lines are dropped (counted in `finished`).
    Truncated {
        reason: String,
        #[serde(rename = "limitBytes")]
        limit_bytes: u64,
    },
    /// Processes the child left behind were killed when the run ended.
    Reaped { processes: u64 },
    /// How many times each redaction rule fired in the run (counts only, never values): in the
    /// child's output, `exec` output, file reads, artifacts, markers and messages alike.
    Redactions {
        counts: std::collections::BTreeMap<String, u64>,
    },
    /// Secret environment variables whose values are too short to redact without redacting
    /// ordinary words: named once at the start of a run (names only), and not redacted.
    RedactionSkipped {
        names: Vec<String>,
        #[serde(rename = "minBytes")]
        min_bytes: usize,
    },
    /// An `exec` command ended. `exitCode` as for `finished`; `timedOut` if the runner ended it.
    CommandFinished {
        id: String,
        #[serde(rename = "exitCode")]
        exit_code: i32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signal: Option<i32>,
        #[serde(rename = "durationMs")]
        duration_ms: u64,
        #[serde(
            rename = "timedOut",
            default,
            skip_serializing_if = "std::ops::Not::not"
        )]
        timed_out: bool,
    },
    /// An `exec` command is not on the runner's allowlist: nothing ran.
    CommandRefused { id: String, command: String },
    /// The agent's session became known (Claude's `system/init`): sent once per session.
    Session {
        #[serde(rename = "sessionId")]
        session_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        model: Option<String>,
    },
    /// A turn (one CLI invocation for one prompt) begins; `commandId` names the `prompt`
    /// command it answers (absent for the first prompt, given on the command line).
    TurnStarted {
        turn: u64,
        prompt: String,
        #[serde(rename = "commandId", default, skip_serializing_if = "Option::is_none")]
        command_id: Option<String>,
        /// The model and permission mode the turn runs with, when the runner sets them (its
        /// own settings, or what a `prompt` command chose within the runner's ceilings).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        model: Option<String>,
        #[serde(
            rename = "permissionMode",
            default,
            skip_serializing_if = "Option::is_none"
        )]
        permission_mode: Option<String>,
    },
    /// A turn ended; see [`TurnFinished`].
    TurnFinished(TurnFinished),
    /// The working directory's file tree was uploaded as the artifact `artifact`.
    Files {
        artifact: String,
        count: u64,
        truncated: bool,
    },
    /// A `file` command's content was uploaded as the artifact `artifact` (redacted; the first
    /// `bytes` bytes of the file, `truncated` if it is longer).
    File {
        id: String,
        path: String,
        artifact: String,
        bytes: u64,
        truncated: bool,
    },
    /// A `file` command was refused (outside the working directory, not a file, …).
    FileRefused {
        id: String,
        path: String,
        reason: String,
    },
    /// The working tree was committed on the run's branch so no edit is lost.
    Checkpoint {
        branch: String,
        commit: String,
        reason: String,
        turn: u64,
    },
    /// The session is over (`reason`: `end_session`, `idle`, `stop`, `deleted`, `single_turn`);
    /// `finished` follows.
    SessionEnded { reason: String, turns: u64 },
    /// Claude asks to use a tool the run's policy puts before a person; see
    /// [`PermissionRequest`].
    PermissionRequest(PermissionRequest),
    /// How a permission request (or a tool call the policy or a remembered rule settled without
    /// asking) was decided; see [`PermissionDecision`].
    PermissionDecision(PermissionDecision),
}

/// The `permission_request` marker: one tool call waiting for a person's decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PermissionRequest {
    /// What a decision names (`pr_` and 16 characters of `[A-Za-z0-9_-]`).
    pub request_id: String,
    pub tool: String,
    /// The `tool_use` block it belongs to in Claude's output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_use_id: Option<String>,
    /// The tool's input as Claude gave it (redacted; long strings cut, see `inputTruncated`).
    pub input: Value,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub input_truncated: bool,
    /// Bash: the command line and the directory the turn runs in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    /// Edit, MultiEdit, Write: a unified diff of the change against the file on disk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub diff_truncated: bool,
    /// Why the diff is not against the whole file (outside the working directory, too large, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diff_note: Option<String>,
    /// Unix ms after which the runner denies the call (`decision: "timeout"`).
    pub expires_at: i64,
}

/// The `permission_decision` marker: the audit record of one decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PermissionDecision {
    pub request_id: String,
    /// `allow`, `allow_run`, `deny` (a person), `timeout`, `cancelled` (the runner).
    pub decision: String,
    pub tool: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_use_id: Option<String>,
    /// What Claude is told when the call is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// `allow_run`: the rule remembered for the rest of the run; `by: "rule"`: the rule that
    /// allowed the call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// Who decided: the person the gateway names (`admin`), `runner` (timeout, cancelled),
    /// `rule` (a remembered `allow_run` rule) or `policy` (a tool the runner neither allows nor
    /// asks about).
    pub by: String,
    /// The `permission` command that carried a person's decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command_id: Option<String>,
}

/// What a person decides about a permission request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PermissionChoice {
    /// Run this call.
    Allow,
    /// Run this call and the ones its rule covers, for the rest of the run.
    AllowRun,
    /// Refuse it; Claude is told the message.
    Deny,
}

impl PermissionChoice {
    pub fn as_str(self) -> &'static str {
        match self {
            PermissionChoice::Allow => "allow",
            PermissionChoice::AllowRun => "allow_run",
            PermissionChoice::Deny => "deny",
        }
    }
}

/// Longest message a person may send Claude with a denial, and longest rule, in bytes.
pub const MAX_PERMISSION_MESSAGE_BYTES: usize = 4096;

/// The `turn_finished` marker: how one turn ended, read from the agent's own report (Claude's
/// `result` line), not from its exit code alone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TurnFinished {
    pub turn: u64,
    /// `success`, `failed` or `aborted` (interrupted).
    pub outcome: String,
    /// The CLI's exit code (128 + signal if a signal ended it).
    pub exit_code: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subtype: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminal_reason: Option<String>,
    #[serde(default)]
    pub is_error: bool,
    /// Model round trips in the turn.
    #[serde(default)]
    pub num_turns: u64,
    /// The turn's own cost: the CLI's `total_cost_usd` less the session's total before the turn
    /// (after `--resume` the CLI reports the session's running total).
    #[serde(default)]
    pub cost_usd: f64,
    /// The session's total so far, as the CLI reported it (absent without a `result` line).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_cost_usd: Option<f64>,
    #[serde(default)]
    pub duration_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<crate::claude::Usage>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<String>,
    /// Files the agent wrote or edited in the turn (from its tool inputs).
    #[serde(default)]
    pub files_written: Vec<String>,
}

impl Marker {
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).expect("markers always serialize")
    }
}

/// Run states as the gateway reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Waiting in the gateway's queue for an agent to take it.
    Queued,
    /// Created (or taken by an agent), no event yet.
    Pending,
    Running,
    /// The child exited with code 0.
    Finished,
    /// The child exited with a non-zero code or a signal.
    Failed,
    /// A person stopped the run (or cancelled it while it was queued).
    Stopped,
    /// Its agent came back without it: nothing more will arrive (`reason` says why).
    Lost,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Queued => "queued",
            RunStatus::Pending => "pending",
            RunStatus::Running => "running",
            RunStatus::Finished => "finished",
            RunStatus::Failed => "failed",
            RunStatus::Stopped => "stopped",
            RunStatus::Lost => "lost",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "queued" => RunStatus::Queued,
            "pending" => RunStatus::Pending,
            "running" => RunStatus::Running,
            "finished" => RunStatus::Finished,
            "failed" => RunStatus::Failed,
            "stopped" => RunStatus::Stopped,
            "lost" => RunStatus::Lost,
            _ => return None,
        })
    }

    /// True once the run can take no further events.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            RunStatus::Finished | RunStatus::Failed | RunStatus::Stopped | RunStatus::Lost
        )
    }
}

/// `POST /api/runner/runs` (signed with the shared secret) and `POST /api/runs` (admin) body.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CreateRun {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
}

/// Answer to a run creation. The token is shown this once; the gateway keeps only the derived key.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct CreatedRun {
    pub run_id: String,
    pub token: String,
    /// Where a person watches the run.
    pub ui_url: String,
}

impl std::fmt::Debug for CreatedRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedRun")
            .field("run_id", &self.run_id)
            .field("token", &"********")
            .field("ui_url", &self.ui_url)
            .finish()
    }
}

/// A run as the admin API lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    pub id: String,
    pub name: Option<String>,
    pub status: RunStatus,
    pub prompt: Option<String>,
    pub cwd: Option<String>,
    pub created_at: i64,
    pub finished_at: Option<i64>,
    pub exit_code: Option<i32>,
    /// Highest sequence committed; 0 before the first event.
    pub last_sequence: u64,
    /// Unix ms of the last committed event.
    pub last_event_at: Option<i64>,
    /// Set when the `finished` marker arrives: whether the stored stream matches the count and
    /// SHA-256 the runner put in it. `None` while running, or if the runner sent neither.
    #[serde(default)]
    pub delivery: Option<Delivery>,
    /// What the run's Claude session amounts to, from its `session` and `turn_finished`
    /// markers; `None` until one arrives (and for runs of older runners).
    #[serde(default)]
    pub claude: Option<ClaudeStats>,
    /// The agent that took the run, by name; `None` for a run a `start` attached to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// The run's agent has stopped heartbeating: nothing arrives until it returns.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub agent_offline: bool,
    /// Why a run ended `lost` or was cancelled while queued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// A person pinned the run: retention never deletes it.
    #[serde(default)]
    pub pinned: bool,
}

/// A run's Claude session as the gateway records it at ingest.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClaudeStats {
    pub session_id: Option<String>,
    pub model: Option<String>,
    /// Turns finished (prompts answered or ended).
    pub prompts: u64,
    /// Model round trips, summed over the turns (`numTurns`).
    pub turns: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub cost_usd: f64,
    /// Files written or edited, first seen first, at most [`MAX_FILES_WRITTEN`].
    pub files_written: Vec<String>,
    /// The last turn's outcome: `success`, `failed` or `aborted`.
    pub last_outcome: Option<String>,
    /// A turn has finished and no other has started (nor has the session ended): a `--session`
    /// run in this state, still running, is waiting for a prompt.
    pub between_turns: bool,
    /// Permission requests waiting for a decision: a running run with any needs approval.
    pub pending_approvals: u64,
    /// Their request ids, oldest first (at most [`MAX_PENDING_REQUESTS`]).
    pub pending_requests: Vec<String>,
}

/// Most pending request ids a run's [`ClaudeStats::pending_requests`] keeps; a runner never has
/// more waiting at once (it denies beyond its own, smaller bound).
pub const MAX_PENDING_REQUESTS: usize = 64;

/// Most file names a run's [`ClaudeStats::files_written`] keeps.
pub const MAX_FILES_WRITTEN: usize = 500;

/// Whether a finished run's stored events are the ones its runner sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    Complete,
    Incomplete,
}

impl Delivery {
    pub fn as_str(self) -> &'static str {
        match self {
            Delivery::Complete => "complete",
            Delivery::Incomplete => "incomplete",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "complete" => Some(Delivery::Complete),
            "incomplete" => Some(Delivery::Incomplete),
            _ => None,
        }
    }
}

/// `GET /api/runs/:id/events?after=N&limit=M` answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventPage<D = Value> {
    pub run_id: String,
    pub events: Vec<Event<D>>,
    /// Pass as `after` to read the next page; equals the last returned sequence.
    pub next_after: u64,
    /// Highest sequence committed for the run when the page was read.
    pub last_sequence: u64,
}

/// A command a person queued for a run (`GET /api/runs/:id/commands`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Command {
    pub id: String,
    #[serde(flatten)]
    pub kind: CommandKind,
    pub created_at: i64,
}

/// What a command asks of the runner.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CommandKind {
    /// Run an allowlisted command line.
    Exec { command: String },
    /// A follow-up prompt for the Claude session; `model` and `permission_mode` switch the
    /// session's for this turn and the next ones, within the ceilings the runner allows.
    Prompt {
        prompt: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        model: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        permission_mode: Option<String>,
    },
    /// Stop the run gracefully (a session ends; its current turn gets the graceful stop).
    Stop,
    /// End the current turn (SIGINT to its process group); the session goes on.
    Interrupt,
    /// End the session cleanly after (interrupting) the current turn.
    EndSession,
    /// Read one file of the working directory, read-only, redacted, size-limited.
    File { path: String },
    /// An assist link to publish as an `assist` event. Queued by `POST /api/runs/:id/assist`
    /// (signed by `claude-runner assist`), never by the admin API.
    Assist { assist: AssistLink },
    /// A person's decision on a `permission_request`. Queued by
    /// `POST /api/runs/:id/permissions/:request_id`, which stamps `by`.
    Permission {
        request_id: String,
        decision: PermissionChoice,
        /// `deny`: what Claude is told.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        message: Option<String>,
        /// `allow_run`: what to allow from now on: a tool (`Edit`), or for Bash an exact command
        /// (`Bash(npm test)`) or a command prefix (`Bash(git status:*)`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rule: Option<String>,
        /// Who decided, as the gateway knows them.
        by: String,
    },
}

/// The data of an `assist` event: a tmate session's links, or the notice that they closed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssistLink {
    /// Always `tmate` in v1.
    #[serde(rename = "type")]
    pub kind: String,
    /// `ssh <session>@<host>`; absent once closed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// `https://…` read-write web link; absent once closed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web: Option<String>,
    /// Unix ms when the session will be ended at the latest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// True when the session has ended and the links no longer work.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub closed: bool,
    /// Why it closed: `stopped`, `expired`, `run_ended`, `session_ended`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `POST /api/runs/:id/assist` and `GET /api/runs/:id/assist` answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssistState {
    pub run_status: RunStatus,
    /// The command that carries a posted link to the runner (absent for `GET`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command_id: Option<String>,
}

/// `POST /api/runs/:id/commands/:cid/ack` answer: `acked` is false if it was already taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandAck {
    pub acked: bool,
}

/// An uploaded artifact as the gateway lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArtifactInfo {
    pub name: String,
    pub size: u64,
    pub sha256: String,
    pub created_at: i64,
}

/// `GET /api/runner/ping` answer (signed request) and `GET /api/health` answer (unsigned).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ping {
    pub ok: bool,
    pub protocol: String,
    /// The gateway's clock, unix seconds: lets a runner measure its skew.
    pub server_time: i64,
    pub version: String,
}

/// The JSON body of every error answer: a stable machine-readable `error` code and a sentence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub message: String,
}

/// True if `id` is a well-formed run id: 1..=64 of `[A-Za-z0-9_-]`.
pub fn valid_run_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_RUN_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn event_json_shape() {
        let e = Event {
            sequence: 7,
            kind: EventKind::Stderr,
            data: json!("boom"),
            ts: 1,
        };
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            json!({"sequence": 7, "type": "stderr", "data": "boom", "ts": 1})
        );
    }

    #[test]
    fn marker_json_shape() {
        let m = Marker::Finished {
            exit_code: 3,
            signal: None,
            duration_ms: 12,
            event_count: None,
            stream_sha256: None,
            dropped_lines: None,
        };
        assert_eq!(
            m.to_value(),
            json!({"event": "finished", "exitCode": 3, "durationMs": 12})
        );
        let back: Marker = serde_json::from_value(m.to_value()).unwrap();
        assert_eq!(back, m);
        let m = Marker::Finished {
            exit_code: 0,
            signal: None,
            duration_ms: 1,
            event_count: Some(4),
            stream_sha256: Some("ab".into()),
            dropped_lines: None,
        };
        assert_eq!(
            m.to_value(),
            json!({"event": "finished", "exitCode": 0, "durationMs": 1,
                   "eventCount": 4, "streamSha256": "ab"})
        );
        assert_eq!(
            Marker::Stopped {
                outcome: "killed".into()
            }
            .to_value(),
            json!({"event": "stopped", "outcome": "killed"})
        );
    }

    #[test]
    fn command_json_shape() {
        let c = Command {
            id: "c1".into(),
            kind: CommandKind::Exec {
                command: "git status".into(),
            },
            created_at: 5,
        };
        assert_eq!(
            serde_json::to_value(&c).unwrap(),
            json!({"id": "c1", "kind": "exec", "command": "git status", "created_at": 5})
        );
        let stop: Command =
            serde_json::from_value(json!({"id": "c2", "kind": "stop", "created_at": 1})).unwrap();
        assert_eq!(stop.kind, CommandKind::Stop);
        let assist = CommandKind::Assist {
            assist: AssistLink {
                kind: "tmate".into(),
                url: Some("ssh a@b".into()),
                web: Some("https://w".into()),
                expires_at: None,
                closed: false,
                reason: None,
            },
        };
        assert_eq!(
            serde_json::to_value(&assist).unwrap(),
            json!({"kind": "assist", "assist": {"type": "tmate", "url": "ssh a@b", "web": "https://w"}})
        );
    }

    #[test]
    fn command_markers_json_shape() {
        let m = Marker::CommandFinished {
            id: "c1".into(),
            exit_code: 0,
            signal: None,
            duration_ms: 3,
            timed_out: false,
        };
        assert_eq!(
            m.to_value(),
            json!({"event": "command_finished", "id": "c1", "exitCode": 0, "durationMs": 3})
        );
        let r = Marker::CommandRefused {
            id: "c2".into(),
            command: "rm -rf /".into(),
        };
        assert_eq!(
            r.to_value(),
            json!({"event": "command_refused", "id": "c2", "command": "rm -rf /"})
        );
    }

    #[test]
    fn approval_json_shapes() {
        let req = Marker::PermissionRequest(PermissionRequest {
            request_id: "pr_1".into(),
            tool: "Bash".into(),
            tool_use_id: Some("toolu_1".into()),
            input: json!({"command": "ls"}),
            input_truncated: false,
            command: Some("ls".into()),
            cwd: Some("/w".into()),
            diff: None,
            diff_truncated: false,
            diff_note: None,
            expires_at: 9,
        });
        assert_eq!(
            req.to_value(),
            json!({"event": "permission_request", "requestId": "pr_1", "tool": "Bash",
                   "toolUseId": "toolu_1", "input": {"command": "ls"}, "command": "ls",
                   "cwd": "/w", "expiresAt": 9})
        );
        let dec = Marker::PermissionDecision(PermissionDecision {
            request_id: "pr_1".into(),
            decision: "allow_run".into(),
            tool: "Bash".into(),
            tool_use_id: None,
            message: None,
            rule: Some("Bash(ls:*)".into()),
            by: "admin".into(),
            command_id: Some("c1".into()),
        });
        assert_eq!(
            dec.to_value(),
            json!({"event": "permission_decision", "requestId": "pr_1", "decision": "allow_run",
                   "tool": "Bash", "rule": "Bash(ls:*)", "by": "admin", "commandId": "c1"})
        );
        assert_eq!(
            serde_json::from_value::<Marker>(dec.to_value()).unwrap(),
            dec
        );
        let cmd: Command = serde_json::from_value(json!({"id": "c1", "kind": "permission",
            "request_id": "pr_1", "decision": "deny", "message": "no", "by": "admin",
            "created_at": 1}))
        .unwrap();
        assert_eq!(
            cmd.kind,
            CommandKind::Permission {
                request_id: "pr_1".into(),
                decision: PermissionChoice::Deny,
                message: Some("no".into()),
                rule: None,
                by: "admin".into(),
            }
        );
        let prompt = CommandKind::Prompt {
            prompt: "go".into(),
            model: None,
            permission_mode: Some("plan".into()),
        };
        assert_eq!(
            serde_json::to_value(&prompt).unwrap(),
            json!({"kind": "prompt", "prompt": "go", "permission_mode": "plan"})
        );
        let old: CommandKind =
            serde_json::from_value(json!({"kind": "prompt", "prompt": "go"})).unwrap();
        assert!(matches!(old, CommandKind::Prompt { model: None, .. }));
    }

    #[test]
    fn created_run_debug_hides_token() {
        let c = CreatedRun {
            run_id: "r".into(),
            token: "tok-secret".into(),
            ui_url: "u".into(),
        };
        assert!(!format!("{c:?}").contains("tok-secret"));
    }

    #[test]
    fn run_ids() {
        assert!(valid_run_id("r_abc-123"));
        assert!(!valid_run_id(""));
        assert!(!valid_run_id("../x"));
        assert!(!valid_run_id(&"a".repeat(65)));
    }
}
