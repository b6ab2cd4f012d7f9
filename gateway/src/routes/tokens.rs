//! API tokens for scripts: the admin makes one with scopes (shown once, kept as its SHA-256),
//! lists and revokes them.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{delete, get};
use axum::{Json, Router};
use common::agents::{ApiTokenInfo, NewApiToken, SCOPE_CREATE_RUNS, SCOPE_READ_RUNS};
use serde::Deserialize;

use crate::auth::{API_TOKEN_PREFIX, AdminOnly, Authorized, token_hash};
use crate::clock::now_ms;
use crate::error::ApiError;
use crate::http::{parse_json, read_body};
use crate::secrets::random_token;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/tokens", get(list).post(create))
        .route("/api/tokens/{id}", delete(revoke))
}

#[derive(Debug, Deserialize)]
struct NewToken {
    name: String,
    scopes: Vec<String>,
}

/// Admin: `POST /api/tokens` `{"name", "scopes": ["create_runs", "read_runs"]}`.
async fn create(
    State(state): State<AppState>,
    _caller: Authorized<AdminOnly>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<NewApiToken>), ApiError> {
    let bytes = read_body(body, &headers, state.limits.max_json_bytes).await?;
    let req: NewToken = parse_json(&bytes)?;
    if req.name.is_empty() || req.name.len() > 200 {
        return Err(ApiError::bad_request(
            "invalid_field",
            "name must be 1-200 bytes",
        ));
    }
    let mut scopes = req.scopes;
    scopes.sort();
    scopes.dedup();
    if scopes.is_empty()
        || !scopes
            .iter()
            .all(|s| s == SCOPE_CREATE_RUNS || s == SCOPE_READ_RUNS)
    {
        return Err(ApiError::bad_request(
            "invalid_field",
            "scopes are one or both of create_runs, read_runs",
        ));
    }
    let internal = |e: anyhow::Error| ApiError::Internal(e.to_string());
    let token = format!("{API_TOKEN_PREFIX}{}", random_token(32).map_err(internal)?);
    let info = ApiTokenInfo {
        id: format!("t_{}", random_token(9).map_err(internal)?),
        name: req.name,
        scopes,
        created_at: now_ms(),
        revoked: false,
    };
    state
        .store
        .create_api_token(info.clone(), token_hash(&token))
        .await?;
    tracing::info!(token = %info.id, "API token created");
    Ok((StatusCode::CREATED, Json(NewApiToken { info, token })))
}

async fn list(
    State(state): State<AppState>,
    _caller: Authorized<AdminOnly>,
) -> Result<Json<Vec<ApiTokenInfo>>, ApiError> {
    Ok(Json(state.store.list_api_tokens().await?))
}

/// Admin: `DELETE /api/tokens/:id`: the token is refused from now on.
async fn revoke(
    State(state): State<AppState>,
    Path(id): Path<String>,
    _caller: Authorized<AdminOnly>,
) -> Result<StatusCode, ApiError> {
    if !state.store.revoke_api_token(id.clone()).await? {
        return Err(ApiError::NotFound("no such token"));
    }
    tracing::info!(token = %id, "API token revoked");
    Ok(StatusCode::NO_CONTENT)
}
