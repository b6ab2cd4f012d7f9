//! Search: within one run's output (`GET /api/runs/:id/search`) and across runs' names, prompts
//! and output (`GET /api/search`). What matches is `store::search`'s; the store finds it.

use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use common::wire::RunStatus;
use serde::{Deserialize, Serialize};

use crate::auth::{Authorized, ReadRuns};
use crate::error::ApiError;
use crate::http;
use crate::state::AppState;
use crate::store::search::{LinePage, MAX_QUERY, Needle, RunHit, RunSearch};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/runs/{id}/search", get(search_run))
        .route("/api/search", get(search_runs))
        // Event pages, runs lists, transcripts and hits: large JSON, no secret (see `compress`).
        .route_layer(axum::middleware::from_fn(crate::http::compress::gzip_json))
}

fn needle(q: Option<&str>) -> Result<Needle, ApiError> {
    Needle::new(q.unwrap_or_default()).ok_or_else(|| {
        ApiError::bad_request(
            "invalid_query",
            format!("q must hold between 1 and {MAX_QUERY} bytes of text"),
        )
    })
}

#[derive(Debug, Deserialize)]
struct RunQuery {
    q: Option<String>,
    /// Hits after this sequence (the previous page's `next_after`).
    after: Option<u64>,
    limit: Option<usize>,
}

/// The lines of a run that hold the query, ascending, a page at a time.
async fn search_run(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<RunQuery>,
    _caller: Authorized<ReadRuns>,
) -> Result<Json<LinePage>, ApiError> {
    let needle = needle(q.q.as_deref())?;
    http::stored_run(state.store.as_ref(), &id).await?;
    let limit = q.limit.unwrap_or(200).clamp(1, 1000);
    Ok(Json(
        state
            .store
            .search_run(id, needle, q.after.unwrap_or(0), limit)
            .await?,
    ))
}

#[derive(Debug, Deserialize)]
struct RunsQuery {
    q: Option<String>,
    /// A run status, or a state the list derives from one (`waiting`, `approval`: running).
    status: Option<String>,
    agent: Option<String>,
    /// Unix ms: runs created at or after it.
    since: Option<i64>,
    limit: Option<usize>,
}

#[derive(Debug, Serialize)]
struct RunHits {
    hits: Vec<RunHit>,
}

/// Runs whose name, prompt or output holds the query, newest first.
async fn search_runs(
    State(state): State<AppState>,
    Query(q): Query<RunsQuery>,
    _caller: Authorized<ReadRuns>,
) -> Result<Json<RunHits>, ApiError> {
    let needle = needle(q.q.as_deref())?;
    let status = match q.status.as_deref().unwrap_or_default() {
        "" => None,
        "waiting" | "approval" => Some(RunStatus::Running),
        s => Some(RunStatus::parse(s).ok_or_else(|| {
            ApiError::bad_request("invalid_field", format!("unknown status {s:?}"))
        })?),
    };
    // No run is taken by an agent yet (they come with the agents' queue): an agent filter
    // leaves none.
    if q.agent.as_deref().is_some_and(|a| !a.is_empty()) {
        return Ok(Json(RunHits { hits: Vec::new() }));
    }
    let hits = state
        .store
        .search_runs(RunSearch {
            needle,
            status,
            since: q.since,
            limit: q.limit.unwrap_or(50).clamp(1, 200),
        })
        .await?;
    Ok(Json(RunHits { hits }))
}
