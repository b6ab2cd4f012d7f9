//! The command channel's routes: a person queues commands and permission decisions and deletes
//! runs; the runner long-polls, acknowledges, and posts assist links through the same queue.
//!
//! A long poll waits on the run's bell (`crate::live`); queueing a command rings it, so a command
//! reaches a waiting runner as soon as it is committed. Deleting a run (`DELETE /api/runs/:id`)
//! rings it too: the poll then answers `401 unknown_run`, which tells the runner the run is gone.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use common::wire::{AssistLink, AssistState, Command, CommandAck, CommandKind};
use serde::Deserialize;
use tokio::sync::Notify;

use crate::audit;
use crate::auth::signed::{self, Signed};
use crate::auth::{AdminOnly, Approve, Authorized, OperateRuns};
use crate::commands;
use crate::error::ApiError;
use crate::http::{parse_json, read_body};
use crate::state::AppState;

/// The command routes, merged into [`super::router`].
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/runs/{id}/commands", get(poll).post(enqueue))
        .route("/api/runs/{id}/commands/{cid}/ack", post(ack))
        .route("/api/runs/{id}", delete(delete_run))
        .route("/api/runs/{id}/assist", get(assist_state).post(post_assist))
        .route("/api/runs/{id}/permissions/{request_id}", post(decide))
}

/// Operator, or a token with `approve`: `POST /api/runs/:id/permissions/:request_id` with
/// `{"decision": "allow" | "allow_run" | "deny", "message"?, "rule"?}`: queue a person's
/// decision for the runner, stamped with who decided. Only a request the run lists as waiting can be decided.
async fn decide(
    State(state): State<AppState>,
    Path((id, request_id)): Path<(String, String)>,
    caller: Authorized<Approve>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Command>), ApiError> {
    let bytes = read_body(body, &headers, state.limits.max_json_bytes).await?;
    let d: commands::DecisionBody = parse_json(&bytes)?;
    // The person's name, as the run's history shows it (the audit line has their id).
    let by = caller.principal().who().name;
    let command =
        commands::decide(state.store.as_ref(), &state.live, &id, request_id, d, &by).await?;
    tracing::info!(run = %id, command = %command.id, "permission decision queued");
    caller
        .audit(state.store.as_ref(), commands::audit_event(&id, &command))
        .await;
    Ok((StatusCode::CREATED, Json(command)))
}

/// Admin: `DELETE /api/runs/:id`: the run, its events, commands and artifacts are deleted. A
/// runner still attached learns it from its next poll (`401 unknown_run`; a waiting poll is
/// woken), ends the session and removes an auto workspace.
async fn delete_run(
    State(state): State<AppState>,
    Path(id): Path<String>,
    caller: Authorized<AdminOnly>,
) -> Result<StatusCode, ApiError> {
    if crate::http::run_id(&id).is_err() || !state.store.delete_run(id.clone()).await? {
        return Err(ApiError::NotFound("no such run"));
    }
    state.run_keys.forget(&id);
    state.live.ring(&id);
    state.artifact_bodies.deleted();
    tracing::info!(run = %id, "run deleted");
    caller
        .audit(
            state.store.as_ref(),
            audit::Event::new("run_deleted").run(&id),
        )
        .await;
    Ok(StatusCode::NO_CONTENT)
}

/// Operator: `POST /api/runs/:id/commands` with `{"kind": "exec" | "prompt" | "stop" |
/// "interrupt" | "end_session" | "file", …}`.
async fn enqueue(
    State(state): State<AppState>,
    Path(id): Path<String>,
    caller: Authorized<OperateRuns>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Command>), ApiError> {
    let bytes = read_body(body, &headers, state.limits.max_json_bytes).await?;
    let kind: CommandKind = parse_json(&bytes)?;
    commands::check_kind(&kind)?;
    commands::require_live_run(state.store.as_ref(), &id).await?;
    let command = commands::queue(state.store.as_ref(), &state.live, &id, kind).await?;
    tracing::info!(run = %id, command = %command.id, "command queued");
    caller
        .audit(state.store.as_ref(), commands::audit_event(&id, &command))
        .await;
    Ok((StatusCode::CREATED, Json(command)))
}

#[derive(Debug, Deserialize)]
struct PollQuery {
    wait: Option<u64>,
}

/// Runner: `GET /api/runs/:id/commands?wait=S`, the pending commands, waiting up to S seconds
/// (at most [`commands::MAX_WAIT_SECS`]) for one to be queued.
async fn poll(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<PollQuery>,
    _signed: Signed<signed::RunRead>,
) -> Result<Json<Vec<Command>>, ApiError> {
    let wait = Duration::from_secs(q.wait.unwrap_or(0).min(commands::MAX_WAIT_SECS));
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

/// Runner (`claude-runner assist`): `POST /api/runs/:id/assist` queues the link for the run's
/// `start` process, which publishes it as an `assist` event (it owns the run's sequence).
async fn post_assist(
    State(state): State<AppState>,
    Path(id): Path<String>,
    signed: Signed<signed::RunJson>,
) -> Result<(StatusCode, Json<AssistState>), ApiError> {
    let link: AssistLink = parse_json(signed.body())?;
    commands::check_link(&link)?;
    let run_status = commands::require_live_run(state.store.as_ref(), &id).await?;
    let command = commands::queue(
        state.store.as_ref(),
        &state.live,
        &id,
        CommandKind::Assist { assist: link },
    )
    .await?;
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
