//! A run's Claude transcript, derived from its stored events, as JSON for the UI and as Markdown
//! or JSON downloads.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use common::claude::Transcript;

use crate::auth;
use crate::error::ApiError;
use crate::state::AppState;

/// Events read per store call while building a transcript.
const PAGE: usize = 5_000;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/runs/{id}/transcript", get(transcript_json))
        .route("/api/runs/{id}/transcript.md", get(export_markdown))
        .route("/api/runs/{id}/transcript.json", get(export_json))
}

/// Read every event of a run and build its transcript.
pub async fn build(state: &AppState, run_id: &str) -> Result<Transcript, ApiError> {
    crate::http::stored_run(state.store.as_ref(), run_id).await?;
    let mut transcript = Transcript::default();
    let mut after = 0;
    loop {
        let events = state.store.events(run_id.to_string(), after, PAGE).await?;
        let Some(last) = events.last() else { break };
        after = last.sequence;
        for e in &events {
            transcript.push_event(&e.parsed());
        }
        if events.len() < PAGE {
            break;
        }
    }
    Ok(transcript)
}

async fn transcript_json(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Transcript>, ApiError> {
    auth::require_admin(&state, &headers)?;
    Ok(Json(build(&state, &id).await?))
}

async fn export_markdown(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    auth::require_admin(&state, &headers)?;
    let t = build(&state, &id).await?;
    let md = t.to_markdown(&format!("Run {id}"));
    crate::http::attachment(
        md,
        "text/markdown; charset=utf-8",
        &format!("{id}-transcript.md"),
    )
}

async fn export_json(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    auth::require_admin(&state, &headers)?;
    let t = build(&state, &id).await?;
    let json = serde_json::to_string_pretty(&t).map_err(|e| ApiError::Internal(e.to_string()))?;
    crate::http::attachment(json, "application/json", &format!("{id}-transcript.json"))
}
