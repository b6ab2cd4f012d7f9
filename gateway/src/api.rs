//! The HTTP routes: runner ingest and run creation (signed), health, and the admin read API.

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::routing::{get, post};
use axum::{Json, Router};
use common::sign::AuthReason;
use common::wire::{
    self, CreateRun, CreatedRun, Event, EventKind, EventPage, IngestAck, IngestBatch, Ping,
    RunSummary,
};
use serde::Deserialize;

use crate::auth::{self, Caller, now_ms, now_secs, verify_runner};
use crate::error::ApiError;
use crate::secrets::random_token;
use crate::state::AppState;
use crate::store::{NewRun, StoreError};

/// The whole router; handlers are tested through it with `oneshot`.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/health", get(health))
        .route("/api/runner/ping", get(ping))
        .route("/api/runner/runs", post(create_run_signed))
        .route("/api/ingest/event", post(ingest_events))
        .route("/api/runs", get(list_runs).post(create_run_admin))
        .route("/api/runs/{id}", get(get_run))
        .route("/api/runs/{id}/events", get(run_events))
        .merge(crate::commands::routes())
        .merge(crate::sse::routes())
        .merge(crate::session::routes())
        .merge(crate::web::routes())
        .merge(crate::artifacts::routes())
        .merge(crate::transcript::routes())
        .merge(crate::metrics::routes())
        .fallback(not_found)
        .with_state(state.clone())
        // Outermost last: every answer gets the security headers, even a refusal by the guard.
        .layer(axum::middleware::map_response(
            crate::error::json_rejections,
        ))
        .layer(axum::middleware::from_fn(crate::session::csrf_guard))
        .layer(axum::middleware::map_response(crate::web::security_headers))
        .layer(axum::middleware::from_fn_with_state(
            state,
            crate::metrics::track,
        ))
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such route")
}

/// Read a body of at most `limit` bytes, answering 413 past it.
pub(crate) async fn read_body(
    body: Body,
    headers: &HeaderMap,
    limit: usize,
) -> Result<Bytes, ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::TooLarge { limit });
    }
    // A client that trickles its body does not hold a slot and its memory forever.
    match tokio::time::timeout(BODY_READ_TIMEOUT, axum::body::to_bytes(body, limit)).await {
        Ok(read) => read.map_err(|_| ApiError::TooLarge { limit }),
        Err(_) => Err(ApiError::BodyTimeout),
    }
}

/// Longest a client may take to send a request body.
pub const BODY_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// How many large bodies are read at once. A request waits for a slot only after its headers,
/// timestamp and run passed [`auth::begin_runner`], and holds it until it is answered, so
/// parallel uploads bound the memory they can take instead of exhausting it.
#[derive(Debug)]
pub struct BodySlots {
    /// Ingest batches (≤ 4 MiB each): 64 × 4 MiB at most.
    pub ingest: tokio::sync::Semaphore,
    /// Artifacts (≤ 32 MiB each): 4 × 32 MiB at most.
    pub artifacts: tokio::sync::Semaphore,
}

impl Default for BodySlots {
    fn default() -> Self {
        Self {
            ingest: tokio::sync::Semaphore::new(64),
            artifacts: tokio::sync::Semaphore::new(4),
        }
    }
}

/// Wait for one of `slots`.
pub(crate) async fn take_slot(
    slots: &tokio::sync::Semaphore,
) -> Result<tokio::sync::SemaphorePermit<'_>, ApiError> {
    slots
        .acquire()
        .await
        .map_err(|_| ApiError::Internal("body slots closed".into()))
}

pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| {
        ApiError::bad_request("malformed_json", format!("the body is not valid here: {e}"))
    })
}

fn ping_body() -> Ping {
    Ping {
        ok: true,
        protocol: wire::PROTOCOL_VERSION.into(),
        server_time: now_secs(),
        version: env!("CARGO_PKG_VERSION").into(),
    }
}

/// Unsigned liveness answer with the gateway's clock (runners measure their skew with it).
async fn health() -> Json<Ping> {
    Json(ping_body())
}

/// Signed echo: proves the runner's secret (or run token) is right.
async fn ping(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Json<Ping>, ApiError> {
    verify_runner(&state, &method, &uri, &headers, b"").await?;
    Ok(Json(ping_body()))
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

async fn create_run(state: &AppState, req: CreateRun) -> Result<CreatedRun, ApiError> {
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
    crate::hub::announce_run(state, &id).await;
    Ok(CreatedRun {
        ui_url: format!("{}/runs/{id}", state.base_url),
        run_id: id,
        token,
    })
}

/// A runner creates its own run, signed with the shared secret.
async fn create_run_signed(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<CreatedRun>), ApiError> {
    let bytes = read_body(body, &headers, state.limits.max_json_bytes).await?;
    match verify_runner(&state, &method, &uri, &headers, &bytes).await? {
        Caller::Shared => {}
        // A run key cannot mint further runs.
        Caller::Run(_) => return Err(ApiError::Unauthorized(AuthReason::BadSignature)),
    }
    let req: CreateRun = if bytes.is_empty() {
        CreateRun::default()
    } else {
        parse_json(&bytes)?
    };
    Ok((StatusCode::CREATED, Json(create_run(&state, req).await?)))
}

/// Check one event's shape: a positive sequence and data of the right JSON type for its kind.
fn check_event(e: &Event) -> Result<(), ApiError> {
    if e.sequence == 0 {
        return Err(ApiError::bad_request(
            "invalid_event",
            "sequences start at 1",
        ));
    }
    let ok = match e.kind {
        EventKind::Stdout | EventKind::Stderr | EventKind::Info | EventKind::Error => e
            .data
            .as_str()
            .is_some_and(|s| s.len() <= 4 * wire::MAX_LINE_BYTES),
        EventKind::Marker | EventKind::Assist => e.data.is_object(),
    };
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "invalid_event",
            format!(
                "event {}: {} data must be {}",
                e.sequence,
                e.kind.as_str(),
                match e.kind {
                    EventKind::Marker | EventKind::Assist => "an object",
                    _ => "a string of at most 64 KiB",
                }
            ),
        ))
    }
}

/// Batched, idempotent event ingest.
async fn ingest_events(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<IngestAck>, ApiError> {
    let started = std::time::Instant::now();
    let check = auth::begin_runner(&state, &headers).await?;
    if check.run_id().is_none() {
        return Err(ApiError::Unauthorized(AuthReason::UnknownRun));
    }
    let _slot = take_slot(&state.body_slots.ingest).await?;
    let bytes = read_body(body, &headers, state.limits.max_ingest_bytes).await?;
    let run_id = match check.finish(&state, &method, &uri, &bytes)? {
        Caller::Run(id) => id,
        Caller::Shared => return Err(ApiError::Unauthorized(AuthReason::UnknownRun)),
    };
    let batch: IngestBatch = parse_json(&bytes).inspect_err(|_| state.metrics.ingest_refused())?;
    if batch.run_id != run_id {
        state.metrics.ingest_refused();
        return Err(ApiError::bad_request(
            "run_mismatch",
            "run_id in the body differs from X-Runner-Run",
        ));
    }
    if batch.events.len() > wire::MAX_BATCH_EVENTS {
        state.metrics.ingest_refused();
        return Err(ApiError::bad_request(
            "batch_too_large",
            format!("at most {} events per batch", wire::MAX_BATCH_EVENTS),
        ));
    }
    batch
        .events
        .iter()
        .try_for_each(check_event)
        .inspect_err(|_| state.metrics.ingest_refused())?;
    // Shared from here on, not copied: the store encodes it, the hub hands it to the streams.
    let events: crate::hub::Batch = batch.events.into();
    let outcome = append_and_announce(&state, run_id, events, bytes.len(), started).await?;
    Ok(Json(IngestAck {
        acked_through: outcome.acked_through,
        delivery: outcome.delivery,
    }))
}

/// Commit a batch, then count and publish it, in a task of its own: hyper drops a handler whose
/// client went away, but the commit runs on the blocking pool and lands anyway; were the publish
/// left in the handler, the watchers would never hear of that commit (the runner's resend finds
/// it stored and publishes nothing). The task runs to its end whatever becomes of the request.
async fn append_and_announce(
    state: &AppState,
    run_id: String,
    events: crate::hub::Batch,
    body_len: usize,
    started: std::time::Instant,
) -> Result<crate::store::AppendOutcome, ApiError> {
    let state = state.clone();
    let task = tokio::spawn(async move {
        let outcome = match state
            .store
            .append_events(run_id.clone(), events.clone())
            .await
        {
            Ok(outcome) => outcome,
            Err(StoreError::Gap { expected }) => {
                state.metrics.gap();
                return Err(ApiError::Gap { expected });
            }
            Err(e) => {
                state.metrics.ingest_refused();
                return Err(e.into());
            }
        };
        state
            .metrics
            .ingested(&events, &outcome, body_len, started.elapsed());
        crate::hub::announce_append(&state, &run_id, events, &outcome).await;
        Ok(outcome)
    });
    match task.await {
        Ok(result) => result,
        // As if the work had run in the handler: its panic is the handler's.
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        // Only a runtime shutting down cancels the task.
        Err(e) => Err(ApiError::Internal(format!("ingest task: {e}"))),
    }
}

/// The admin creates a run for a runner to attach to (the token is shown once).
async fn create_run_admin(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<CreatedRun>), ApiError> {
    auth::require_admin(&state, &headers)?;
    let bytes = read_body(body, &headers, state.limits.max_json_bytes).await?;
    let req: CreateRun = if bytes.is_empty() {
        CreateRun::default()
    } else {
        parse_json(&bytes)?
    };
    Ok((StatusCode::CREATED, Json(create_run(&state, req).await?)))
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    limit: Option<usize>,
}

async fn list_runs(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Result<Json<Vec<RunSummary>>, ApiError> {
    auth::require_admin(&state, &headers)?;
    Ok(Json(
        state
            .store
            .list_runs(q.limit.unwrap_or(200).clamp(1, 1000))
            .await?,
    ))
}

fn check_run_id(id: &str) -> Result<(), ApiError> {
    if wire::valid_run_id(id) {
        Ok(())
    } else {
        Err(ApiError::NotFound("no such run"))
    }
}

async fn get_run(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<RunSummary>, ApiError> {
    auth::require_admin(&state, &headers)?;
    check_run_id(&id)?;
    let run = state
        .store
        .run(id)
        .await?
        .ok_or(ApiError::NotFound("no such run"))?;
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
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<EventsQuery>,
) -> Result<Json<EventPage>, ApiError> {
    auth::require_admin(&state, &headers)?;
    check_run_id(&id)?;
    let run = state
        .store
        .run(id.clone())
        .await?
        .ok_or(ApiError::NotFound("no such run"))?;
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
