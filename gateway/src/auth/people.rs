//! People and scripts: who a request says it comes from ([`Principal`]), and what a route
//! requires of it ([`Authorized<R>`] with a [`Requirement`]).
//!
//! A handler of a person-facing route takes `Authorized<R>` among its arguments: the route's
//! requirement is in its signature, the check runs before the handler does (and before its body is
//! read), and a handler without one has no caller to act for. People have a role (viewer,
//! operator, admin, each allowed what the one below is); the requirements say which role they
//! need ([`ReadRuns`]: viewer and up, [`OperateRuns`]: operator and up, [`AdminOnly`]: admin),
//! so a route gets its rule from the requirement it names. The admin token acts as an admin; the
//! metrics token meets [`ReadMetrics`] alone.

use std::marker::PhantomData;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::tokens;
use crate::audit::{self, Who};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::Role;

/// The id the audit log and a run's history give the admin token.
pub const ADMIN_TOKEN_ID: &str = "admin_token";

/// Who a person-facing request comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A person signed in to the web UI (the session cookie). The CSRF guard
    /// (`web_session::csrf_guard`) has already checked a state-changing request that carries it.
    Person {
        id: String,
        name: String,
        role: Role,
        /// The SHA-256 of the session cookie the request came with.
        session: [u8; 32],
    },
    /// `Authorization: Bearer <admin token>`: acts as an admin.
    AdminToken,
    /// `Authorization: Bearer <GATEWAY_METRICS_TOKEN>`: reads `/metrics`, nothing else.
    MetricsScraper,
    /// An API token (`at_` and its secret) an admin made for a script, sent in the
    /// authorization header as a bearer credential, with its scopes.
    /// It has no role: only the requirements that name its scopes admit it.
    ApiToken {
        id: String,
        name: String,
        create_runs: bool,
        read_runs: bool,
    },
}

impl Principal {
    /// The role the caller acts with; `None` for the metrics token, which is nobody's.
    pub fn role(&self) -> Option<Role> {
        match self {
            Principal::Person { role, .. } => Some(*role),
            Principal::AdminToken => Some(Role::Admin),
            Principal::MetricsScraper | Principal::ApiToken { .. } => None,
        }
    }

    /// The person's id, for a person.
    pub fn person_id(&self) -> Option<&str> {
        match self {
            Principal::Person { id, .. } => Some(id),
            _ => None,
        }
    }

    /// Who it is, as the audit log and a run's history say: an id (`p_…`, `admin_token`) and a
    /// name to show.
    pub fn who(&self) -> Who {
        match self {
            Principal::Person { id, name, .. } => Who::new(id, name),
            Principal::AdminToken => Who::new(ADMIN_TOKEN_ID, "admin token"),
            Principal::MetricsScraper => Who::new("metrics_token", "metrics token"),
            Principal::ApiToken { id, name, .. } => Who::new(id, name),
        }
    }
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    /// A request with an `Authorization` header is judged by it alone (a wrong token is refused
    /// even with a live session cookie); without one, by its session cookie, whose person must
    /// exist and be enabled. Tokens are compared by their SHA-256, in constant time.
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let metrics = |token: &str| {
            state
                .metrics_token_hash
                .as_ref()
                .is_some_and(|hash| tokens::matches(token, hash))
        };
        match tokens::bearer(&parts.headers) {
            None => {
                let signed_in = state
                    .sessions
                    .authenticate(&state.store, &parts.headers)
                    .await
                    .ok_or(ApiError::AdminRequired)?;
                match state.store.person(signed_in.person_id).await? {
                    Some(p) if p.disabled_at.is_none() => Ok(Principal::Person {
                        id: p.id,
                        name: p.name,
                        role: p.role,
                        session: signed_in.id_hash,
                    }),
                    _ => Err(ApiError::AdminRequired),
                }
            }
            Some(Some(token)) if tokens::matches(token, &state.admin_token_hash) => {
                first_use_of_admin_token(state, audit::source_of(&parts.extensions)).await;
                Ok(Principal::AdminToken)
            }
            Some(Some(token)) if metrics(token) => Ok(Principal::MetricsScraper),
            // Looked up by its SHA-256: the index finds it, no comparison of secrets in memory.
            Some(Some(token)) if token.starts_with(API_TOKEN_PREFIX) => {
                match state.store.api_token(tokens::token_hash(token)).await? {
                    Some(info) => Ok(Principal::ApiToken {
                        id: info.id,
                        name: info.name,
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

/// The `meta` key holding the hash of the admin token whose first use is in the audit log.
const ADMIN_TOKEN_USED_KEY: &str = "admin_token_used";

/// Record the admin token's first use (once per token: a rotated token is used for the first
/// time again). This process asks the store only until it has seen the token once.
async fn first_use_of_admin_token(state: &AppState, source: Option<std::net::IpAddr>) {
    use std::sync::atomic::Ordering;
    if state.admin_token_seen.swap(true, Ordering::AcqRel) {
        return;
    }
    let hash = hex::encode(state.admin_token_hash);
    let store = state.store.as_ref();
    match store.get_meta(ADMIN_TOKEN_USED_KEY.into()).await {
        Ok(Some(used)) if used == hash => {}
        Ok(_) => {
            if let Err(e) = store.set_meta(ADMIN_TOKEN_USED_KEY.into(), hash).await {
                tracing::warn!(error = %e, "could not note the admin token's first use");
            }
            let who = Principal::AdminToken.who();
            audit::record(store, &who, source, audit::Event::new("token_first_used")).await;
        }
        Err(e) => {
            tracing::warn!(error = %e, "could not read the admin token's first use");
            state.admin_token_seen.store(false, Ordering::Release);
        }
    }
}

/// What a route requires of its caller.
pub trait Requirement: Send + Sync + 'static {
    /// Whether `principal` may do what the route does.
    fn allows(principal: &Principal) -> bool;
}

fn at_least(principal: &Principal, role: Role) -> bool {
    principal.role().is_some_and(|r| r >= role)
}

/// The prefix of every API token, so the gateway knows to look one up.
pub const API_TOKEN_PREFIX: &str = "at_";

/// Read runs: the list, a run, its events, streams, artifacts and transcript; one's own
/// account and sessions. Viewers and up, or an API token with `read_runs`.
#[derive(Debug)]
pub struct ReadRuns;
impl Requirement for ReadRuns {
    fn allows(principal: &Principal) -> bool {
        at_least(principal, Role::Viewer)
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
/// operators and up, or an API token with `create_runs`.
#[derive(Debug)]
pub struct CreateRuns;
impl Requirement for CreateRuns {
    fn allows(principal: &Principal) -> bool {
        at_least(principal, Role::Operator)
            || matches!(
                principal,
                Principal::ApiToken {
                    create_runs: true,
                    ..
                }
            )
    }
}

/// Act on runs: create one, queue commands (prompts, stop), decide permission requests.
/// Operators and up.
#[derive(Debug)]
pub struct OperateRuns;
impl Requirement for OperateRuns {
    fn allows(principal: &Principal) -> bool {
        at_least(principal, Role::Operator)
    }
}

/// What only an admin may do: people, invitations, the audit log, deleting a run with its
/// history, and the gateway's settings.
#[derive(Debug)]
pub struct AdminOnly;
impl Requirement for AdminOnly {
    fn allows(principal: &Principal) -> bool {
        at_least(principal, Role::Admin)
    }
}

/// Read `/metrics`: the metrics token, or an admin.
#[derive(Debug)]
pub struct ReadMetrics;
impl Requirement for ReadMetrics {
    fn allows(principal: &Principal) -> bool {
        at_least(principal, Role::Admin) || *principal == Principal::MetricsScraper
    }
}

/// A caller that meets requirement `R`.
pub struct Authorized<R> {
    principal: Principal,
    source: Option<std::net::IpAddr>,
    _requirement: PhantomData<R>,
}

impl<R> Authorized<R> {
    /// Who the caller is.
    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    /// The caller's address, as the connection saw it.
    pub fn source(&self) -> Option<std::net::IpAddr> {
        self.source
    }

    /// Append `event` to the audit log as done by this caller, from their address.
    pub async fn audit(&self, store: &dyn crate::store::Store, event: audit::Event) {
        audit::record(store, &self.principal.who(), self.source, event).await;
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
                source: audit::source_of(&parts.extensions),
                _requirement: PhantomData,
            })
        } else if principal.role().is_some() {
            // Who they are is known; what they may do falls short.
            Err(ApiError::Forbidden {
                reason: "role_required",
                message: "your role does not allow this",
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
    fn each_role_meets_the_requirements_of_its_rank_and_below() {
        let person = |role| Principal::Person {
            id: "p_1".into(),
            name: "someone".into(),
            role,
            session: [0; 32],
        };
        let all = [
            person(Role::Viewer),
            person(Role::Operator),
            person(Role::Admin),
            Principal::AdminToken,
            Principal::MetricsScraper,
        ];
        type Allows = fn(&Principal) -> bool;
        let table: [(&str, Allows, [bool; 5]); 4] = [
            (
                "read runs",
                ReadRuns::allows,
                [true, true, true, true, false],
            ),
            (
                "operate runs",
                OperateRuns::allows,
                [false, true, true, true, false],
            ),
            (
                "admin only",
                AdminOnly::allows,
                [false, false, true, true, false],
            ),
            (
                "read metrics",
                ReadMetrics::allows,
                [false, false, true, true, true],
            ),
        ];
        for (name, allows, want) in table {
            let got = all.clone().map(|p| allows(&p));
            assert_eq!(got, want, "{name}");
        }
    }
}
