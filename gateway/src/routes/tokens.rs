//! API tokens: a person makes their own, with scopes no wider than their role allows and maybe
//! an expiry (shown once, kept as its SHA-256), lists and revokes them; an admin lists and
//! revokes everyone's. A token acts as its person, within its scopes (`auth::tokens`).

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{delete, get};
use axum::{Json, Router};
use common::agents::{ApiTokenInfo, NewApiToken};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::audit;
use crate::auth::{
    API_TOKEN_PREFIX, AdminOnly, Authorized, ManageTokens, Principal, Requirement, Scopes,
    token_hash,
};
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

/// The longest a token may be made to last: ten years.
const MAX_LIFETIME_MS: i64 = 10 * 366 * 24 * 60 * 60 * 1000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewToken {
    name: String,
    scopes: Vec<String>,
    /// Unix ms from which the token is refused; absent or null: it does not expire.
    #[serde(default)]
    expires_at: Option<i64>,
}

/// `POST /api/tokens` `{"name", "scopes": […], "expires_at"?}`: a token of the caller's (for a
/// token caller: of its person, with no scope the caller lacks). Scopes beyond the person's
/// role are refused (403 `role_required`).
async fn create(
    State(state): State<AppState>,
    caller: Authorized<ManageTokens>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<NewApiToken>), ApiError> {
    let bytes = read_body(body, &headers, state.limits.max_json_bytes).await?;
    let req: NewToken = parse_json(&bytes)?;
    if req.name.trim().is_empty() || req.name.len() > 200 || req.name.contains(char::is_control) {
        return Err(ApiError::bad_request(
            "invalid_field",
            "name must be 1-200 bytes of text",
        ));
    }
    let scopes =
        Scopes::parse(&req.scopes).map_err(|e| ApiError::bad_request("invalid_field", e))?;
    if scopes.is_empty() {
        return Err(ApiError::bad_request(
            "invalid_field",
            "a token needs at least one scope",
        ));
    }
    let now = now_ms();
    if let Some(at) = req.expires_at
        && (at <= now || at - now > MAX_LIFETIME_MS)
    {
        return Err(ApiError::bad_request(
            "invalid_field",
            "expires_at must be in the future, at most ten years away (unix ms)",
        ));
    }
    let principal = caller.principal();
    let (Some(person_id), Some(role)) = (principal.person_id(), principal.role()) else {
        return Err(ApiError::AdminRequired);
    };
    let ceiling = match principal {
        Principal::Token { scopes: own, .. } => *own,
        _ => Scopes::ALL,
    };
    if !scopes.within(Scopes::for_role(role)) || !scopes.within(ceiling) {
        return Err(ApiError::Forbidden {
            reason: "role_required",
            message: "a token cannot have a scope its person's role (or the token making it) lacks",
        });
    }
    let internal = |e: anyhow::Error| ApiError::Internal(e.to_string());
    let token = format!("{API_TOKEN_PREFIX}{}", random_token(32).map_err(internal)?);
    let info = ApiTokenInfo {
        id: format!("t_{}", random_token(9).map_err(internal)?),
        name: req.name,
        person_id: person_id.to_string(),
        scopes: scopes.names(),
        created_at: now,
        expires_at: req.expires_at,
        first_used_at: None,
        revoked: false,
    };
    state
        .store
        .create_api_token(info.clone(), token_hash(&token))
        .await?;
    tracing::info!(token = %info.id, person = %info.person_id, "API token created");
    let event = audit::Event::new("token_created")
        .target(&info.id)
        .detail(json!({ "name": info.name, "scopes": info.scopes, "expires_at": info.expires_at }));
    caller.audit(state.store.as_ref(), event).await;
    Ok((StatusCode::CREATED, Json(NewApiToken { info, token })))
}

/// A token as listed: its record, whose it is by name, and whether it has expired.
#[derive(Debug, Serialize)]
struct TokenView {
    #[serde(flatten)]
    info: ApiTokenInfo,
    person_name: String,
    expired: bool,
}

/// The tokens the caller may see and revoke: an admin's (or an admin token's) every token,
/// anyone else's their own.
async fn visible(state: &AppState, caller: &Principal) -> Result<Vec<ApiTokenInfo>, ApiError> {
    let all = state.store.list_api_tokens().await?;
    if AdminOnly::allows(caller) {
        return Ok(all);
    }
    let own = caller.person_id().unwrap_or_default();
    Ok(all.into_iter().filter(|t| t.person_id == own).collect())
}

/// `GET /api/tokens`: the tokens the caller may see, oldest first (never a token itself).
async fn list(
    State(state): State<AppState>,
    caller: Authorized<ManageTokens>,
) -> Result<Json<Vec<TokenView>>, ApiError> {
    let tokens = visible(&state, caller.principal()).await?;
    let people = state.store.people().await?;
    let now = now_ms();
    Ok(Json(
        tokens
            .into_iter()
            .map(|mut info| {
                // In the API's order, also for tokens stored before it had one.
                info.scopes = Scopes::of(&info).names();
                info
            })
            .map(|info| TokenView {
                person_name: people
                    .iter()
                    .find(|p| p.id == info.person_id)
                    .map(|p| p.name.clone())
                    .unwrap_or_default(),
                expired: info.expires_at.is_some_and(|at| now >= at),
                info,
            })
            .collect(),
    ))
}

/// `DELETE /api/tokens/:id`: the token is refused from now on (401 `token_revoked`). One's own,
/// or anyone's for an admin; another's is answered as not found.
async fn revoke(
    State(state): State<AppState>,
    Path(id): Path<String>,
    caller: Authorized<ManageTokens>,
) -> Result<StatusCode, ApiError> {
    let mine = visible(&state, caller.principal())
        .await?
        .iter()
        .any(|t| t.id == id);
    if !mine || !state.store.revoke_api_token(id.clone()).await? {
        return Err(ApiError::NotFound("no such token"));
    }
    tracing::info!(token = %id, "API token revoked");
    let event = audit::Event::new("token_revoked").target(&id);
    caller.audit(state.store.as_ref(), event).await;
    Ok(StatusCode::NO_CONTENT)
}
