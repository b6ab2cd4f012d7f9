//! A run's transcript as JSON for the UI, and as Markdown or JSON downloads.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::auth::{Authorized, ReadRuns};
use crate::error::ApiError;
use crate::http::attachment;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/runs/{id}/transcript", get(transcript_json))
        .route("/api/runs/{id}/transcript.md", get(export_markdown))
        .route("/api/runs/{id}/transcript.json", get(export_json))
        // Event pages, runs lists, transcripts and hits: large JSON, no secret (see `compress`).
        .route_layer(axum::middleware::from_fn(crate::http::compress::gzip_json))
}

async fn transcript_json(
    State(state): State<AppState>,
    Path(id): Path<String>,
    _caller: Authorized<ReadRuns>,
) -> Result<Response, ApiError> {
    let t = state.transcripts.get(state.store.as_ref(), &id).await?;
    let json = serde_json::to_vec(&*t).map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        json,
    )
        .into_response())
}

async fn export_markdown(
    State(state): State<AppState>,
    Path(id): Path<String>,
    _caller: Authorized<ReadRuns>,
) -> Result<Response, ApiError> {
    let t = state.transcripts.get(state.store.as_ref(), &id).await?;
    let md = t.to_markdown(&format!("Run {id}"));
    attachment(
        md,
        "text/markdown; charset=utf-8",
        &format!("{id}-transcript.md"),
    )
}

async fn export_json(
    State(state): State<AppState>,
    Path(id): Path<String>,
    _caller: Authorized<ReadRuns>,
) -> Result<Response, ApiError> {
    let t = state.transcripts.get(state.store.as_ref(), &id).await?;
    let json = serde_json::to_string_pretty(&*t).map_err(|e| ApiError::Internal(e.to_string()))?;
    attachment(json, "application/json", &format!("{id}-transcript.json"))
}
