//! People and scripts with the admin credentials: the admin token as a Bearer token, or the web
//! UI's session cookie.

use axum::http::HeaderMap;

use super::tokens;
use crate::error::ApiError;
use crate::state::AppState;

/// Admit `Authorization: Bearer <admin token>` (checked against the stored hash, in constant
/// time) or, without that header, the web UI's session cookie. The one gate of the admin API; the
/// CSRF guard (`web_session::csrf_guard`) has already checked state-changing cookie requests.
pub fn require_admin(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    match tokens::bearer(headers) {
        None if state.sessions.authenticate(&state.store, headers) => Ok(()),
        Some(Some(token)) if tokens::matches(token, &state.admin_token_hash) => Ok(()),
        _ => Err(ApiError::AdminRequired),
    }
}
