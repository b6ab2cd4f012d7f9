//! Agents and the queue of runs: what an agent says about itself, what a queued run asks for,
//! and the one rule both sides apply to decide whether an agent may take a run ([`admits`]).
//!
//! The gateway uses [`admits`] to route a queued run to an agent; the agent applies it again
//! before it starts the run, so a run request can only narrow what the agent's owner allows,
//! whatever the gateway says.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The prefix of `X-Runner-Run` on a request an agent signs with its own key: `agent:<id>`.
pub const AGENT_CALLER_PREFIX: &str = "agent:";

/// Longest agent name, label key or value.
pub const MAX_NAME_LEN: usize = 64;
/// Most labels an agent or a run request may carry.
pub const MAX_LABELS: usize = 32;

/// What an agent's owner allows runs on it to use. A run request narrows these, never widens.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Ceilings {
    /// Working directories a run may use (a run's `cwd` is one of them or below one); none: only
    /// fresh workspaces.
    pub roots: Vec<String>,
    /// Claude tools a run may allow; empty: the agent's configured list, not narrowed further.
    pub tools: Vec<String>,
    /// Permission modes a run may ask for.
    pub permission_modes: Vec<String>,
}

/// What an agent says about itself at enrollment and in every heartbeat.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AgentProfile {
    pub labels: BTreeMap<String, String>,
    /// Runs it takes at once.
    pub capacity: u32,
    /// The runner's version.
    pub version: String,
    pub ceilings: Ceilings,
    /// Finishing its runs, taking no new ones.
    pub draining: bool,
}

/// `POST /api/agent/enroll`: a one-time enrollment token and the agent's name and profile.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct EnrollRequest {
    pub token: String,
    pub name: String,
    #[serde(flatten)]
    pub profile: AgentProfile,
}

impl std::fmt::Debug for EnrollRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnrollRequest")
            .field("token", &"********")
            .field("name", &self.name)
            .field("profile", &self.profile)
            .finish()
    }
}

/// The answer to an enrollment: the agent's id and its own signing key (hex), given this once.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Enrolled {
    pub agent_id: String,
    pub key: String,
}

impl std::fmt::Debug for Enrolled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Enrolled")
            .field("agent_id", &self.agent_id)
            .field("key", &"********")
            .finish()
    }
}

/// `POST /api/agent/heartbeat` body.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat {
    #[serde(flatten)]
    pub profile: AgentProfile,
    /// Runs this agent holds (going, or being delivered from their spools). Only in the first
    /// heartbeat after the agent started: runs assigned to it that it does not hold are `lost`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holding: Option<Vec<String>>,
}

/// `POST /api/agent/heartbeat` answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatAnswer {
    /// An admin asked the agent to drain.
    pub drain: bool,
    /// Runs marked `lost` because the agent no longer held them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lost: Vec<String>,
}

/// A git repository to clone into a fresh workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Repo {
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
}

/// What a queued run asks of the agent that takes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunRequest {
    pub prompt: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// One of the agent's roots (or below one); `None`: a fresh workspace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    /// Clone this into the fresh workspace (only without `cwd`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repo: Option<Repo>,
    /// Stay for follow-up prompts after the first turn.
    pub session: bool,
    /// Taken only by the agent of this name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// Taken only by an agent with every one of these labels.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Narrow the agent's tools to these.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permission_mode: Option<String>,
    /// Continue this Claude session: the agent restores its archive (the session's transcript
    /// and, for a fresh workspace, the workspace) and resumes it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resume: Option<Resume>,
}

/// The session a run continues, and the run whose archive holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resume {
    pub session_id: String,
    pub from_run: String,
}

/// The artifact a run's session archive is uploaded as.
pub const ARCHIVE_NAME: &str = "session-archive.json";

/// `POST /api/runs` with a target (`agent` or `labels`), `"queue": true`, `continue` or `wait`:
/// queue a run for an agent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QueueRun {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Queue for any agent (without a target).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub queue: bool,
    /// A run id or a Claude session id whose session this run continues.
    #[serde(default, rename = "continue", skip_serializing_if = "Option::is_none")]
    pub continue_from: Option<String>,
    /// Answer when the first turn ends, or after this many seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait: Option<u64>,
    #[serde(flatten)]
    pub request: RunRequest,
}

/// `POST /api/runs/:id/prompt`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FollowUp {
    pub prompt: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait: Option<u64>,
}

/// A message of a run's conversation, as the API answers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// `user` (a prompt) or `assistant` (an answer).
    pub role: String,
    pub text: String,
}

impl QueueRun {
    /// Whether a `POST /api/runs` body asks for a queued run (else it creates a run for a
    /// runner to attach to).
    pub fn is_queue_body(body: &serde_json::Value) -> bool {
        body.get("queue").and_then(serde_json::Value::as_bool) == Some(true)
            || ["agent", "labels", "continue", "wait"]
                .iter()
                .any(|k| body.get(k).is_some())
    }
}

/// The answer to a queued run or a follow-up prompt: the run as it is when the turn ended (or
/// the wait ran out), with its conversation so far.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunAnswer {
    pub run_id: String,
    pub status: crate::wire::RunStatus,
    pub session_id: Option<String>,
    pub messages: Vec<Message>,
    /// Where a person watches the run.
    pub ui_url: String,
}

/// A queued run handed to the agent that took it: its id, its signing key `K_run` (hex; the
/// gateway gives it out this once) and what it asks for.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Assignment {
    pub run_id: String,
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub request: RunRequest,
}

impl std::fmt::Debug for Assignment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Assignment")
            .field("run_id", &self.run_id)
            .field("key", &"********")
            .field("name", &self.name)
            .field("request", &self.request)
            .finish()
    }
}

/// An agent as the admin API lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentSummary {
    pub id: String,
    pub name: String,
    #[serde(flatten)]
    pub profile: AgentProfile,
    /// Runs assigned to it and not ended.
    pub running: u32,
    pub created_at: i64,
    /// Unix ms of its last heartbeat or request.
    pub last_seen: i64,
    /// Heartbeats arrive (see `PROTOCOL.md` for the bound).
    pub online: bool,
    /// An admin asked it to drain.
    pub drain_requested: bool,
    pub revoked: bool,
}

/// `POST /api/agents/enrollments` answer: the one-time token, shown this once.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct EnrollmentToken {
    pub token: String,
    /// Unix ms after which it no longer enrolls.
    pub expires_at: i64,
}

impl std::fmt::Debug for EnrollmentToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnrollmentToken")
            .field("token", &"********")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// What an API token may do. A token acts as the person who made it, and only within its
/// scopes: never more than that person's role allows at the time of the request.
/// Read runs, their events, streams, artifacts and transcripts (a viewer's reading).
pub const SCOPE_READ_RUNS: &str = "read_runs";
/// Start runs and drive them: prompts, commands, stop (an operator's doing).
pub const SCOPE_CREATE_RUNS: &str = "create_runs";
/// Decide permission requests (allow, deny).
pub const SCOPE_APPROVE: &str = "approve";
/// What only an admin may do: people, agents, tokens, webhooks, settings, the audit log.
pub const SCOPE_ADMIN: &str = "admin";
/// Every scope, in the order the API lists them.
pub const SCOPES: [&str; 4] = [
    SCOPE_READ_RUNS,
    SCOPE_CREATE_RUNS,
    SCOPE_APPROVE,
    SCOPE_ADMIN,
];

/// An API token as the API lists it (never the token).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiTokenInfo {
    pub id: String,
    pub name: String,
    /// Whose token it is: the person (`p_…`) it acts as.
    pub person_id: String,
    /// Some of [`SCOPES`].
    pub scopes: Vec<String>,
    /// Unix ms.
    pub created_at: i64,
    /// Unix ms from which it is refused; `None`: it does not expire.
    #[serde(default)]
    pub expires_at: Option<i64>,
    /// Unix ms of its first use, once it was used.
    #[serde(default)]
    pub first_used_at: Option<i64>,
    pub revoked: bool,
}

/// `POST /api/tokens` answer: the token, shown this once.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct NewApiToken {
    #[serde(flatten)]
    pub info: ApiTokenInfo,
    pub token: String,
}

impl std::fmt::Debug for NewApiToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewApiToken")
            .field("info", &self.info)
            .field("token", &"********")
            .finish()
    }
}

/// Why an agent may not take a run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the run is for agent {0:?}")]
    OtherAgent(String),
    #[error("the agent lacks label {0}")]
    Label(String),
    #[error("{0:?} is not under a working root of the agent")]
    Root(String),
    #[error("tool {0:?} is beyond the agent's tools")]
    Tool(String),
    #[error("permission mode {0:?} is beyond the agent's modes")]
    PermissionMode(String),
}

/// True if `path` is `root` or below it, compared by path components (`/srv/a` is not below
/// `/srv/ab`; `..` never passes). Both must be absolute; the agent checks the real path again.
pub fn under_root(path: &str, root: &str) -> bool {
    if !path.starts_with('/') || !root.starts_with('/') {
        return false;
    }
    let parts = |p: &str| -> Option<Vec<String>> {
        let mut out = Vec::new();
        for c in p.split('/').filter(|c| !c.is_empty() && *c != ".") {
            if c == ".." {
                return None;
            }
            out.push(c.to_string());
        }
        Some(out)
    };
    match (parts(path), parts(root)) {
        (Some(p), Some(r)) => p.starts_with(&r),
        _ => false,
    }
}

/// Whether an agent called `name` with `profile` may take a run asking for `req`: the target
/// (name, labels) matches and the request stays within the agent's ceilings.
pub fn admits(name: &str, profile: &AgentProfile, req: &RunRequest) -> Result<(), Refusal> {
    if let Some(want) = &req.agent
        && want != name
    {
        return Err(Refusal::OtherAgent(want.clone()));
    }
    for (k, v) in &req.labels {
        if profile.labels.get(k) != Some(v) {
            return Err(Refusal::Label(format!("{k}={v}")));
        }
    }
    let ceilings = &profile.ceilings;
    if let Some(cwd) = &req.cwd
        && !ceilings.roots.iter().any(|root| under_root(cwd, root))
    {
        return Err(Refusal::Root(cwd.clone()));
    }
    if !ceilings.tools.is_empty()
        && let Some(tool) = req.tools.iter().find(|t| !ceilings.tools.contains(t))
    {
        return Err(Refusal::Tool(tool.clone()));
    }
    if let Some(mode) = &req.permission_mode
        && !ceilings.permission_modes.contains(mode)
    {
        return Err(Refusal::PermissionMode(mode.clone()));
    }
    Ok(())
}

/// True if `s` is a well-formed agent name or label part: 1..=64 of `[A-Za-z0-9._-]`.
pub fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_NAME_LEN
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile() -> AgentProfile {
        AgentProfile {
            labels: [("os".into(), "linux".into()), ("repo".into(), "web".into())].into(),
            capacity: 2,
            version: "1".into(),
            ceilings: Ceilings {
                roots: vec!["/srv/work".into()],
                tools: vec!["Bash".into(), "Read".into()],
                permission_modes: vec!["default".into(), "plan".into()],
            },
            draining: false,
        }
    }

    #[test]
    fn requests_narrow_and_never_widen() {
        let p = profile();
        let ok = |req: RunRequest| admits("a1", &p, &req);
        let base = RunRequest {
            prompt: "hi".into(),
            ..RunRequest::default()
        };
        let cases: Vec<(&str, RunRequest, bool)> = vec![
            ("anything", base.clone(), true),
            (
                "by name",
                RunRequest {
                    agent: Some("a1".into()),
                    ..base.clone()
                },
                true,
            ),
            (
                "other name",
                RunRequest {
                    agent: Some("a2".into()),
                    ..base.clone()
                },
                false,
            ),
            (
                "label",
                RunRequest {
                    labels: [("os".into(), "linux".into())].into(),
                    ..base.clone()
                },
                true,
            ),
            (
                "wrong label",
                RunRequest {
                    labels: [("os".into(), "mac".into())].into(),
                    ..base.clone()
                },
                false,
            ),
            (
                "root",
                RunRequest {
                    cwd: Some("/srv/work/app".into()),
                    ..base.clone()
                },
                true,
            ),
            (
                "sibling of root",
                RunRequest {
                    cwd: Some("/srv/workshop".into()),
                    ..base.clone()
                },
                false,
            ),
            (
                "dot-dot out of root",
                RunRequest {
                    cwd: Some("/srv/work/../etc".into()),
                    ..base.clone()
                },
                false,
            ),
            (
                "fewer tools",
                RunRequest {
                    tools: vec!["Read".into()],
                    ..base.clone()
                },
                true,
            ),
            (
                "another tool",
                RunRequest {
                    tools: vec!["Write".into()],
                    ..base.clone()
                },
                false,
            ),
            (
                "allowed mode",
                RunRequest {
                    permission_mode: Some("plan".into()),
                    ..base.clone()
                },
                true,
            ),
            (
                "wider mode",
                RunRequest {
                    permission_mode: Some("bypassPermissions".into()),
                    ..base.clone()
                },
                false,
            ),
        ];
        for (what, req, want) in cases {
            assert_eq!(ok(req).is_ok(), want, "{what}");
        }
    }

    #[test]
    fn names() {
        assert!(valid_name("build-box_1.local"));
        for bad in ["", "a b", "a/b", "é", &"x".repeat(65)] {
            assert!(!valid_name(bad), "{bad:?}");
        }
    }
}
