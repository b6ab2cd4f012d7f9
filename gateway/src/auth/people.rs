//! People and scripts: who a request says it comes from ([`Principal`]), and what a route
//! requires of it ([`Authorized<R>`] with a [`Requirement`]).
//!
//! A handler of a person-facing route takes `Authorized<R>` among its arguments: the route's
//! requirement is in its signature, the check runs before the handler does (and before its body is
//! read), and a handler without one has no caller to act for. Today one person holds every
//! right, so the admin token and a web session meet every requirement and the metrics token only
//! [`ReadMetrics`]; people with roles and scoped tokens become further [`Principal`]s, and each
//! requirement then says which of them it admits.

use std::marker::PhantomData;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::tokens;
use crate::error::ApiError;
use crate::state::AppState;

/// Who a person-facing request comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Principal {
    /// `Authorization: Bearer <admin token>`.
    AdminToken,
    /// The web UI's session cookie: the admin, signed in with the password. The CSRF guard
    /// (`web_session::csrf_guard`) has already checked a state-changing request that carries it.
    Session,
    /// `Authorization: Bearer <GATEWAY_METRICS_TOKEN>`: reads `/metrics`, nothing else.
    MetricsScraper,
    /// `Authorization: Bearer at_…`: an API token an admin made for a script, with its scopes.
    ApiToken { create_runs: bool, read_runs: bool },
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    /// A request with an `Authorization` header is judged by it alone (a wrong token is refused
    /// even with a live session cookie); without one, by its session cookie. Tokens are compared
    /// by their SHA-256, in constant time.
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let metrics = |token: &str| {
            state
                .metrics_token_hash
                .as_ref()
                .is_some_and(|hash| tokens::matches(token, hash))
        };
        match tokens::bearer(&parts.headers) {
            None if state.sessions.authenticate(&state.store, &parts.headers) => {
                Ok(Principal::Session)
            }
            Some(Some(token)) if tokens::matches(token, &state.admin_token_hash) => {
                Ok(Principal::AdminToken)
            }
            Some(Some(token)) if metrics(token) => Ok(Principal::MetricsScraper),
            // Looked up by its SHA-256: the index finds it, no comparison of secrets in memory.
            Some(Some(token)) if token.starts_with(API_TOKEN_PREFIX) => {
                match state.store.api_token(tokens::token_hash(token)).await? {
                    Some(info) => Ok(Principal::ApiToken {
                        create_runs: info
                            .scopes
                            .iter()
                            .any(|s| s == common::agents::SCOPE_CREATE_RUNS),
                        read_runs: info
                            .scopes
                            .iter()
                            .any(|s| s == common::agents::SCOPE_READ_RUNS),
                    }),
                    None => Err(ApiError::AdminRequired),
                }
            }
            _ => Err(ApiError::AdminRequired),
        }
    }
}

/// What a route requires of its caller.
pub trait Requirement: Send + Sync + 'static {
    /// Whether `principal` may do what the route does.
    fn allows(principal: &Principal) -> bool;
}

/// The admin: the admin token or a web session.
fn admin(principal: &Principal) -> bool {
    matches!(principal, Principal::AdminToken | Principal::Session)
}

/// The prefix of every API token, so the gateway knows to look one up.
pub const API_TOKEN_PREFIX: &str = "at_";

/// Read runs: the list, a run, its events, streams, artifacts and transcript; the admin or an
/// API token with `read_runs`.
#[derive(Debug)]
pub struct ReadRuns;
impl Requirement for ReadRuns {
    fn allows(principal: &Principal) -> bool {
        admin(principal)
            || matches!(
                principal,
                Principal::ApiToken {
                    read_runs: true,
                    ..
                }
            )
    }
}

/// Create runs and send them follow-up prompts (`POST /api/runs`, `POST /api/runs/:id/prompt`):
/// the admin or an API token with `create_runs`.
#[derive(Debug)]
pub struct CreateRuns;
impl Requirement for CreateRuns {
    fn allows(principal: &Principal) -> bool {
        admin(principal)
            || matches!(
                principal,
                Principal::ApiToken {
                    create_runs: true,
                    ..
                }
            )
    }
}

/// Act on runs: create one, queue commands, decide permission requests.
#[derive(Debug)]
pub struct OperateRuns;
impl Requirement for OperateRuns {
    fn allows(principal: &Principal) -> bool {
        admin(principal)
    }
}

/// What only the gateway's administrator may do: delete a run with its history.
#[derive(Debug)]
pub struct AdminOnly;
impl Requirement for AdminOnly {
    fn allows(principal: &Principal) -> bool {
        admin(principal)
    }
}

/// Read `/metrics`: the metrics token, or the admin.
#[derive(Debug)]
pub struct ReadMetrics;
impl Requirement for ReadMetrics {
    fn allows(principal: &Principal) -> bool {
        admin(principal) || *principal == Principal::MetricsScraper
    }
}

/// A caller that meets requirement `R`.
pub struct Authorized<R> {
    principal: Principal,
    _requirement: PhantomData<R>,
}

impl<R> Authorized<R> {
    /// Who the caller is.
    pub fn principal(&self) -> Principal {
        self.principal
    }
}

impl<R> std::fmt::Debug for Authorized<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authorized")
            .field("principal", &self.principal)
            .field("requirement", &std::any::type_name::<R>())
            .finish()
    }
}

impl<R: Requirement> FromRequestParts<AppState> for Authorized<R> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let principal = Principal::from_request_parts(parts, state).await?;
        if R::allows(&principal) {
            Ok(Self {
                principal,
                _requirement: PhantomData,
            })
        } else {
            Err(ApiError::AdminRequired)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_admin_meets_every_requirement_and_the_metrics_token_one() {
        let all = [
            Principal::AdminToken,
            Principal::Session,
            Principal::MetricsScraper,
        ];
        type Allows = fn(&Principal) -> bool;
        let table: [(&str, Allows, [bool; 3]); 4] = [
            ("read runs", ReadRuns::allows, [true, true, false]),
            ("operate runs", OperateRuns::allows, [true, true, false]),
            ("admin only", AdminOnly::allows, [true, true, false]),
            ("read metrics", ReadMetrics::allows, [true, true, true]),
        ];
        for (name, allows, want) in table {
            let got = all.map(|p| allows(&p));
            assert_eq!(got, want, "{name}");
        }
    }
}
