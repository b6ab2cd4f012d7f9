//! Sign-in for the web UI: `POST /api/session` with the admin password, `GET` for the page's CSRF
//! token after a reload, `DELETE` to sign out. The sessions, the limiter and the guard are
//! `crate::web_session`.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;

use crate::clock::now_ms;
use crate::error::ApiError;
use crate::state::AppState;
use crate::web_session::{ABSOLUTE_MS, cookie_value, csrf_token, set_cookie};

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/session", post(sign_in).get(current).delete(sign_out))
}

#[derive(Deserialize)]
struct SignIn {
    password: String,
}

/// `POST /api/session` `{"password"}`: sign in; answers `{"csrf"}` and sets the cookie.
async fn sign_in(State(state): State<AppState>, request: Request) -> Response {
    // Behind a trusted reverse proxy, the client it names; else the connection's peer.
    let ip = state.trusted_proxies.client_of(&request);
    let now = now_ms();
    if let Err(retry_after) = state.sessions.reserve(ip, now) {
        return ApiError::RateLimited { retry_after }.into_response();
    }
    let bytes = match axum::body::to_bytes(request.into_body(), 4096).await {
        Ok(b) => b,
        Err(_) => return ApiError::TooLarge { limit: 4096 }.into_response(),
    };
    let Ok(form) = serde_json::from_slice::<SignIn>(&bytes) else {
        return ApiError::bad_request("malformed_json", "send {\"password\": \"…\"}")
            .into_response();
    };
    if !state.sessions.password_matches(form.password).await {
        tracing::info!(?ip, "sign-in refused");
        return ApiError::BadPassword.into_response();
    }
    state.sessions.refund(ip);
    let value = match state.sessions.start(state.store.as_ref(), now).await {
        Ok(value) => value,
        Err(e) => return e.into_response(),
    };
    tracing::info!(?ip, "signed in");
    let mut r = Json(serde_json::json!({
        "csrf": csrf_token(&value),
        "expires_at": now + ABSOLUTE_MS,
    }))
    .into_response();
    r.headers_mut()
        .insert(header::SET_COOKIE, set_cookie(&value, ABSOLUTE_MS / 1000));
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// `GET /api/session`: `{"csrf"}` for a signed-in page (how it gets its token after a reload).
async fn current(State(state): State<AppState>, headers: HeaderMap) -> Response {
    match cookie_value(&headers) {
        Some(value) if state.sessions.authenticate(&state.store, &headers) => {
            let mut r = Json(serde_json::json!({ "csrf": csrf_token(value) })).into_response();
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        _ => ApiError::SignedOut.into_response(),
    }
}

/// `DELETE /api/session`: sign out (the CSRF guard has checked the token).
async fn sign_out(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(value) = cookie_value(&headers)
        && let Err(e) = state.sessions.end(state.store.as_ref(), value).await
    {
        return e.into_response();
    }
    let mut r = StatusCode::NO_CONTENT.into_response();
    r.headers_mut()
        .insert(header::SET_COOKIE, set_cookie("", 0));
    r
}
