//! Runs: created by a runner (signed with the shared secret) or by a person, listed, read, and
//! their events paged.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use common::agents::{FollowUp, QueueRun, RunAnswer};
use common::wire::{CommandKind, CreateRun, CreatedRun, EventPage, RunSummary};
use serde::Deserialize;
use serde_json::json;

use crate::agents;
use crate::audit::{self, Source, Who};
use crate::auth::signed::{self, Signed};
use crate::auth::{Authorized, CreateRuns, OperateRuns, ReadRuns};
use crate::clock::now_ms;
use crate::error::ApiError;
use crate::http::{self, parse_json, read_body};
use crate::secrets::random_token;
use crate::state::AppState;
use crate::store::NewRun;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/runner/runs", post(create_run_signed))
        .route("/api/runs", get(list_runs).post(create_run_admin))
        .route("/api/runs/{id}", get(get_run))
        .route("/api/runs/{id}/prompt", post(follow_up))
        .route("/api/runs/{id}/events", get(run_events))
        .route("/api/runs/{id}/activity", get(run_activity))
        .route("/api/runs/{id}/pin", put(pin).delete(unpin))
        .route("/api/retention", get(retention))
        // Event pages, runs lists, transcripts and hits: large JSON, no secret (see `compress`).
        .route_layer(axum::middleware::from_fn(crate::http::compress::gzip_json))
}

/// Validate and bound the fields of a run creation.
fn check_create(req: &CreateRun) -> Result<(), ApiError> {
    let too_long = |v: &Option<String>, max: usize| v.as_ref().is_some_and(|s| s.len() > max);
    if too_long(&req.name, 200) {
        return Err(ApiError::bad_request(
            "invalid_field",
            "name is longer than 200 bytes",
        ));
    }
    if too_long(&req.cwd, 4096) {
        return Err(ApiError::bad_request(
            "invalid_field",
            "cwd is longer than 4096 bytes",
        ));
    }
    if too_long(&req.prompt, 32 * 1024) {
        return Err(ApiError::bad_request(
            "invalid_field",
            "prompt is longer than 32 KiB",
        ));
    }
    Ok(())
}

/// Create a run for `who`, from `source`.
async fn create_run(
    state: &AppState,
    req: CreateRun,
    who: &Who,
    source: Option<std::net::IpAddr>,
) -> Result<CreatedRun, ApiError> {
    check_create(&req)?;
    let new_id = || {
        random_token(9)
            .map(|t| format!("r_{t}"))
            .map_err(|e| ApiError::Internal(e.to_string()))
    };
    // The prefix keeps the token from starting with '-', which a command line would take for a
    // flag (`--token -a…`), and says what it is when it turns up in a shell history.
    let token = random_token(32)
        .map(|t| format!("rt_{t}"))
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let id = new_id()?;
    let key = common::sign::derive_run_key(state.hmac_secret.expose().as_bytes(), &id, &token);
    let started = audit::Event::new("run_started")
        .run(&id)
        .detail(json!({ "name": req.name, "prompt": req.prompt.as_deref().map(audit::excerpt) }));
    state
        .store
        .create_run(NewRun {
            id: id.clone(),
            name: req.name,
            prompt: req.prompt,
            cwd: req.cwd,
            key,
            created_at: now_ms(),
        })
        .await?;
    tracing::info!(run = %id, "run created");
    audit::record(state.store.as_ref(), who, source, started).await;
    state.live.announce_run(state.store.as_ref(), &id).await;
    Ok(CreatedRun {
        ui_url: format!("{}/runs/{id}", state.base_url),
        run_id: id,
        token,
    })
}

/// A runner creates its own run, signed with the shared secret.
async fn create_run_signed(
    State(state): State<AppState>,
    Source(source): Source,
    signed: Signed<signed::SharedJson>,
) -> Result<(StatusCode, Json<CreatedRun>), ApiError> {
    let bytes = signed.body();
    let req: CreateRun = if bytes.is_empty() {
        CreateRun::default()
    } else {
        parse_json(bytes)?
    };
    let created = create_run(&state, req, &Who::runner(), source).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// A person creates a run: for a runner to attach to (the token is shown once), or, with a
/// target (`agent`, `labels`) or `"queue": true`, queued for an agent.
async fn create_run_admin(
    State(state): State<AppState>,
    caller: Authorized<CreateRuns>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let bytes = read_body(body, &headers, state.limits.max_json_bytes).await?;
    let who = caller.principal().who();
    if bytes.is_empty() {
        let created = create_run(&state, CreateRun::default(), &who, caller.source()).await?;
        return Ok((StatusCode::CREATED, Json(created)).into_response());
    }
    let value: serde_json::Value = parse_json(&bytes)?;
    if QueueRun::is_queue_body(&value) {
        let q: QueueRun = parse_json(&bytes)?;
        let mut request = q.request;
        if let Some(from) = &q.continue_from {
            request.resume = Some(agents::resolve_continue(state.store.as_ref(), from).await?);
        }
        let started = json!({
            "name": q.name,
            "prompt": audit::excerpt(&request.prompt),
            "queued": true,
        });
        let run_id = agents::queue(state.store.as_ref(), &state.live, q.name, request).await?;
        if let Some(wait) = q.wait {
            let wait = std::time::Duration::from_secs(wait.min(agents::MAX_API_WAIT_SECS));
            agents::wait_for_turn(state.store.as_ref(), &state.live, &run_id, 0, wait).await?;
        }
        let answer = agents::answer(
            state.store.as_ref(),
            &state.transcripts,
            &state.base_url,
            &run_id,
        )
        .await?;
        // Logged once answered: an await before the answer lets a waiting agent take the run
        // first, and the answer would not say `queued`.
        let event = audit::Event::new("run_started")
            .run(&run_id)
            .detail(started);
        caller.audit(state.store.as_ref(), event).await;
        return Ok((StatusCode::CREATED, Json(answer)).into_response());
    }
    let req: CreateRun = parse_json(&bytes)?;
    let created = create_run(&state, req, &who, caller.source()).await?;
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

/// `POST /api/runs/:id/prompt` `{"prompt", "wait"?}`: a follow-up prompt for a session run,
/// answered like `POST /api/runs` (with `wait`, once the turn it starts has ended).
async fn follow_up(
    State(state): State<AppState>,
    Path(id): Path<String>,
    caller: Authorized<CreateRuns>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<RunAnswer>, ApiError> {
    let bytes = read_body(body, &headers, state.limits.max_json_bytes).await?;
    let f: FollowUp = parse_json(&bytes)?;
    let kind = CommandKind::Prompt {
        prompt: f.prompt,
        model: None,
        permission_mode: None,
    };
    crate::commands::check_kind(&kind)?;
    crate::commands::require_live_run(state.store.as_ref(), &id).await?;
    let before = http::stored_run(state.store.as_ref(), &id)
        .await?
        .summary
        .claude
        .map_or(0, |c| c.prompts);
    let command = crate::commands::queue(state.store.as_ref(), &state.live, &id, kind).await?;
    caller
        .audit(
            state.store.as_ref(),
            crate::commands::audit_event(&id, &command),
        )
        .await;
    if let Some(wait) = f.wait {
        let wait = std::time::Duration::from_secs(wait.min(agents::MAX_API_WAIT_SECS));
        agents::wait_for_turn(state.store.as_ref(), &state.live, &id, before, wait).await?;
    }
    Ok(Json(
        agents::answer(
            state.store.as_ref(),
            &state.transcripts,
            &state.base_url,
            &id,
        )
        .await?,
    ))
}

/// What was done to a run and by whom, as its history shows it: the audit lines of the run,
/// oldest first, without the addresses they came from (those are for admins, at `/api/audit`).
#[derive(Debug, serde::Serialize)]
struct Activity {
    id: u64,
    at: i64,
    action: String,
    by: String,
    by_id: String,
    target: Option<String>,
    detail: serde_json::Value,
}

/// `GET /api/runs/:id/activity`: who started the run and who sent each prompt, command and
/// decision.
async fn run_activity(
    State(state): State<AppState>,
    Path(id): Path<String>,
    _caller: Authorized<ReadRuns>,
) -> Result<Json<Vec<Activity>>, ApiError> {
    http::stored_run(state.store.as_ref(), &id).await?;
    let lines = state.store.run_audit(id).await?;
    Ok(Json(
        lines
            .into_iter()
            .map(|e| Activity {
                id: e.id,
                at: e.at,
                action: e.action,
                by: e.actor_name,
                by_id: e.actor_id,
                target: e.target,
                detail: e.detail,
            })
            .collect(),
    ))
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    limit: Option<usize>,
}

async fn list_runs(
    State(state): State<AppState>,
    Query(q): Query<ListQuery>,
    _caller: Authorized<ReadRuns>,
) -> Result<Json<Vec<RunSummary>>, ApiError> {
    Ok(Json(
        state
            .store
            .list_runs(q.limit.unwrap_or(200).clamp(1, 1000))
            .await?,
    ))
}

async fn get_run(
    State(state): State<AppState>,
    Path(id): Path<String>,
    _caller: Authorized<ReadRuns>,
) -> Result<Json<RunSummary>, ApiError> {
    let run = http::stored_run(state.store.as_ref(), &id).await?;
    Ok(Json(run.summary))
}

#[derive(Debug, Deserialize)]
struct EventsQuery {
    after: Option<u64>,
    /// Page backwards instead: the events just below this sequence (the tail when past the end).
    before: Option<u64>,
    limit: Option<usize>,
}

/// A page of a run's events, ascending by sequence.
async fn run_events(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<EventsQuery>,
    _caller: Authorized<ReadRuns>,
) -> Result<Json<EventPage<Box<serde_json::value::RawValue>>>, ApiError> {
    let run = http::stored_run(state.store.as_ref(), &id).await?;
    let after = q.after.unwrap_or(0);
    let limit = q.limit.unwrap_or(1000).clamp(1, 5000);
    let events = match q.before {
        Some(before) => state.store.events_before(id.clone(), before, limit).await?,
        None => state.store.events(id.clone(), after, limit).await?,
    };
    let next_after = events.last().map_or(after, |e| e.sequence);
    Ok(Json(EventPage {
        run_id: id,
        events,
        next_after,
        last_sequence: run.summary.last_sequence,
    }))
}

/// `PUT /api/runs/:id/pin`: retention keeps the run whatever its age; answers the run.
async fn pin(
    State(state): State<AppState>,
    Path(id): Path<String>,
    _caller: Authorized<OperateRuns>,
) -> Result<Json<RunSummary>, ApiError> {
    set_pinned(&state, id, true).await
}

/// `DELETE /api/runs/:id/pin`: the run is kept only as long as its status's retention says.
async fn unpin(
    State(state): State<AppState>,
    Path(id): Path<String>,
    _caller: Authorized<OperateRuns>,
) -> Result<Json<RunSummary>, ApiError> {
    set_pinned(&state, id, false).await
}

async fn set_pinned(
    state: &AppState,
    id: String,
    pinned: bool,
) -> Result<Json<RunSummary>, ApiError> {
    if http::run_id(&id).is_err() || !state.store.set_pinned(id.clone(), pinned).await? {
        return Err(ApiError::NotFound("no such run"));
    }
    tracing::info!(run = %id, pinned, "run pin changed");
    state.live.announce_run(state.store.as_ref(), &id).await;
    Ok(Json(
        http::stored_run(state.store.as_ref(), &id).await?.summary,
    ))
}

/// `GET /api/retention`: how long ended runs are kept after they end, per status, in seconds
/// (`null`: forever); pinned, pending and running runs are always kept.
async fn retention(
    State(state): State<AppState>,
    _caller: Authorized<ReadRuns>,
) -> Json<serde_json::Value> {
    let secs = |s| state.retention.keep(s).map(|d| d.as_secs());
    Json(serde_json::json!({
        "finished": secs(common::wire::RunStatus::Finished),
        "failed": secs(common::wire::RunStatus::Failed),
        "stopped": secs(common::wire::RunStatus::Stopped),
    }))
}
