//! Agents and the queue: an admin makes enrollment tokens, lists, drains and revokes agents; an
//! agent enrolls with a token, then heartbeats and long-polls for the runs it takes (signed with
//! its own key); a person or script queues runs and cancels them while they wait.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use common::agents::{
    AgentSummary, Assignment, EnrollRequest, Enrolled, EnrollmentToken, Heartbeat, HeartbeatAnswer,
};
use serde::Deserialize;

use crate::agents;
use crate::audit::{self, Source, Who};
use crate::auth::signed::{self, Signed};
use crate::auth::{AdminOnly, Authorized, OperateRuns, ReadRuns};
use crate::clock::now_ms;
use crate::error::ApiError;
use crate::http::{parse_json, read_body};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/agents", get(list))
        .route("/api/agents/enrollments", post(new_enrollment))
        .route("/api/agents/{id}/revoke", post(revoke))
        .route("/api/agents/{id}/drain", post(drain))
        .route("/api/agent/enroll", post(enroll))
        .route("/api/agent/heartbeat", post(heartbeat))
        .route("/api/agent/assignments", get(assignments))
        .route("/api/runs/{id}/cancel", post(cancel))
        .route("/api/runs/{id}/resume-archive", get(resume_archive))
}

/// Admin: `POST /api/agents/enrollments`: a one-time token, shown once, valid an hour.
async fn new_enrollment(
    State(state): State<AppState>,
    caller: Authorized<AdminOnly>,
) -> Result<(StatusCode, Json<EnrollmentToken>), ApiError> {
    let token = agents::new_enrollment(state.store.as_ref()).await?;
    let event = audit::Event::new("agent_enrollment_created");
    caller.audit(state.store.as_ref(), event).await;
    Ok((StatusCode::CREATED, Json(token)))
}

async fn list(
    State(state): State<AppState>,
    _caller: Authorized<ReadRuns>,
) -> Result<Json<Vec<AgentSummary>>, ApiError> {
    Ok(Json(state.store.list_agents().await?))
}

/// Admin: `POST /api/agents/:id/revoke`: the agent's next request is refused
/// (`401 agent_revoked`), a waiting poll at once.
async fn revoke(
    State(state): State<AppState>,
    Path(id): Path<String>,
    caller: Authorized<AdminOnly>,
) -> Result<StatusCode, ApiError> {
    if !state.store.revoke_agent(id.clone(), now_ms()).await? {
        return Err(ApiError::NotFound("no such agent"));
    }
    tracing::info!(agent = %id, "agent revoked");
    let event = audit::Event::new("agent_revoked").target(&id);
    caller.audit(state.store.as_ref(), event).await;
    state.live.ring_queue();
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize)]
struct DrainBody {
    #[serde(default = "yes")]
    drain: bool,
}

fn yes() -> bool {
    true
}

/// Admin: `POST /api/agents/:id/drain` `{"drain": true|false}` (default true): the agent
/// finishes its runs and takes no new ones (it hears so in its next heartbeat answer).
async fn drain(
    State(state): State<AppState>,
    Path(id): Path<String>,
    caller: Authorized<AdminOnly>,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let bytes = read_body(body, &headers, state.limits.max_json_bytes).await?;
    let d: DrainBody = if bytes.is_empty() {
        DrainBody { drain: true }
    } else {
        parse_json(&bytes)?
    };
    if !state.store.set_agent_drain(id.clone(), d.drain).await? {
        return Err(ApiError::NotFound("no such agent"));
    }
    let action = if d.drain {
        "agent_drained"
    } else {
        "agent_undrained"
    };
    caller
        .audit(state.store.as_ref(), audit::Event::new(action).target(&id))
        .await;
    Ok(StatusCode::NO_CONTENT)
}

/// Agent: `POST /api/agent/enroll` with a one-time token: the agent's id and own key.
async fn enroll(
    State(state): State<AppState>,
    Source(source): Source,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Enrolled>), ApiError> {
    let bytes = read_body(body, &headers, state.limits.max_json_bytes).await?;
    let req: EnrollRequest = parse_json(&bytes)?;
    let name = req.name.clone();
    let enrolled = agents::enroll(state.store.as_ref(), req).await?;
    // The agent itself is the actor: the token it used was the admin's, made earlier (logged).
    let who = Who::new(&enrolled.agent_id, &name);
    let event = audit::Event::new("agent_enrolled").target(&enrolled.agent_id);
    audit::record(state.store.as_ref(), &who, source, event).await;
    Ok((StatusCode::CREATED, Json(enrolled)))
}

/// Agent: `POST /api/agent/heartbeat`: it is alive, with its profile; the first after its start
/// names the runs it holds, and the others assigned to it are `lost`.
async fn heartbeat(
    State(state): State<AppState>,
    signed: Signed<signed::AgentJson>,
) -> Result<Json<HeartbeatAnswer>, ApiError> {
    let id = signed.agent_id().unwrap_or_default().to_string();
    let beat: Heartbeat = parse_json(signed.body())?;
    agents::check_profile(&beat.profile)?;
    let now = now_ms();
    let was_offline = state
        .store
        .agent(id.clone())
        .await?
        .is_some_and(|a| !a.summary.online);
    let Some(agent) = state
        .store
        .agent_seen(id.clone(), Some(beat.profile), now)
        .await?
    else {
        return Err(ApiError::Unauthorized(
            common::sign::AuthReason::AgentRevoked,
        ));
    };
    let mut lost = Vec::new();
    if let Some(holding) = beat.holding {
        lost = state
            .store
            .lose_runs(
                id.clone(),
                holding,
                "the agent restarted without this run".into(),
                now,
            )
            .await?;
        let mut ended = Vec::new();
        for run in &lost {
            tracing::warn!(run = %run, agent = %id, "run lost");
            state.live.ring(run);
            if let Some(r) = state.store.run(run.clone()).await? {
                ended.push(r.summary);
            }
        }
        // A lost run ended otherwise than with code 0: whoever hears of failures hears of it.
        state
            .notifier
            .runs_changed(crate::store::NotifyEvent::Failed, &ended)
            .await;
    }
    // Back online: its runs are no longer `agent_offline`.
    if was_offline {
        agents::announce_agent_runs(state.store.as_ref(), &state.live, Some(&agent.name)).await;
    }
    // A profile with more room (or no longer draining): a claim may succeed now.
    state.live.ring_queue();
    Ok(Json(HeartbeatAnswer {
        drain: agent.drain_requested,
        lost,
    }))
}

#[derive(Debug, Deserialize)]
struct PollQuery {
    wait: Option<u64>,
}

/// Agent: `GET /api/agent/assignments?wait=S`: the runs it takes now, waiting up to S seconds
/// (at most 30) for one.
async fn assignments(
    State(state): State<AppState>,
    Query(q): Query<PollQuery>,
    signed: Signed<signed::AgentRead>,
) -> Result<Json<Vec<Assignment>>, ApiError> {
    let id = signed.agent_id().unwrap_or_default().to_string();
    let wait = Duration::from_secs(q.wait.unwrap_or(0).min(agents::MAX_WAIT_SECS));
    Ok(Json(
        agents::assignments(state.store.as_ref(), &state.live, &id, wait).await?,
    ))
}

/// `POST /api/runs/:id/cancel`: a queued run is cancelled (`stopped`) and never starts;
/// `409`-like `400 not_queued` once an agent has taken it.
async fn cancel(
    State(state): State<AppState>,
    Path(id): Path<String>,
    _caller: Authorized<OperateRuns>,
) -> Result<StatusCode, ApiError> {
    crate::http::run_id(&id)?;
    if !state
        .store
        .cancel_queued_run(id.clone(), "cancelled while queued".into(), now_ms())
        .await?
    {
        return Err(ApiError::bad_request(
            "not_queued",
            "the run is not queued (taken by an agent, ended, or unknown)",
        ));
    }
    tracing::info!(run = %id, "queued run cancelled");
    state.live.announce_run(state.store.as_ref(), &id).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Runner (signed with the key of the run that continues a session):
/// `GET /api/runs/:id/resume-archive`, the session archive of the run its request resumes
/// from; `404` while there is none (the earlier run's runner may still be uploading it).
async fn resume_archive(
    State(state): State<AppState>,
    Path(id): Path<String>,
    _signed: Signed<signed::RunRead>,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;
    let from = state
        .store
        .run_request(id)
        .await?
        .and_then(|r| r.resume)
        .ok_or(ApiError::NotFound("this run continues no session"))?
        .from_run;
    let (info, body) = state
        .artifact_bodies
        .open(
            state.store.as_ref(),
            from,
            common::agents::ARCHIVE_NAME.into(),
        )
        .await?
        .ok_or(ApiError::NotFound("no session archive yet"))?;
    Ok((
        [
            (
                axum::http::header::CONTENT_TYPE,
                "application/json".to_string(),
            ),
            (axum::http::header::CONTENT_LENGTH, info.size.to_string()),
        ],
        body,
    )
        .into_response())
}
