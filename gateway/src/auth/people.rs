//! People and scripts: who a request says it comes from ([`Principal`]), and what a route
//! requires of it ([`Authorized<R>`] with a [`Requirement`]).
//!
//! A handler of a person-facing route takes `Authorized<R>` among its arguments: the route's
//! requirement is in its signature, the check runs before the handler does (and before its body is
//! read), and a handler without one has no caller to act for. People have a role (viewer,
//! operator, admin, each allowed what the one below is); each requirement names the role it
//! needs and the token scope that stands for it ([`ReadRuns`]: viewer and `read_runs`,
//! [`OperateRuns`] and [`CreateRuns`]: operator and `create_runs`, [`Approve`]: operator and
//! `approve`, [`AdminOnly`]: admin and `admin`), so a route gets its rule from the requirement it
//! names. An API token acts as its person, within its scopes: it needs both. [`SignedIn`] routes
//! (one's sessions, passkeys, phone pairing) take a signed-in browser, never a token, so a token
//! cannot turn itself into a session; [`ManageTokens`] takes a person, or a token with `admin`.
//! The metrics token meets [`ReadMetrics`] alone.

use std::marker::PhantomData;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::tokens::{self, Scope, Scopes};
use crate::audit::{self, Who};
use crate::clock::now_ms;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::{Role, Store};

/// Who a person-facing request comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A person signed in to the web UI (the session cookie). The CSRF guard
    /// (`web_session::csrf_check`) has already checked a state-changing request that carries it.
    Person {
        id: String,
        name: String,
        role: Role,
        /// The SHA-256 of the session cookie the request came with.
        session: [u8; 32],
    },
    /// An API token (`at_` and its secret, or the admin token), sent in the authorization
    /// header as a bearer credential: it acts as its person (with the person's role as of this
    /// request), within its scopes.
    Token {
        id: String,
        name: String,
        person_id: String,
        person_name: String,
        role: Role,
        scopes: Scopes,
    },
    /// `Authorization: Bearer <GATEWAY_METRICS_TOKEN>`: reads `/metrics`, nothing else.
    MetricsScraper,
}

impl Principal {
    /// The role of the person the caller is or acts for; `None` for the metrics token, which
    /// is nobody's.
    pub fn role(&self) -> Option<Role> {
        match self {
            Principal::Person { role, .. } | Principal::Token { role, .. } => Some(*role),
            Principal::MetricsScraper => None,
        }
    }

    /// The id of the person the caller is or acts for.
    pub fn person_id(&self) -> Option<&str> {
        match self {
            Principal::Person { id, .. } => Some(id),
            Principal::Token { person_id, .. } => Some(person_id),
            Principal::MetricsScraper => None,
        }
    }

    /// Whether the caller may do what a requirement of `role` and `scope` allows: a person by
    /// their role, a token by its person's role and its scopes both.
    pub fn may(&self, role: Role, scope: Scope) -> bool {
        match self {
            Principal::Person { role: r, .. } => *r >= role,
            Principal::Token {
                role: r, scopes, ..
            } => *r >= role && scopes.has(scope),
            Principal::MetricsScraper => false,
        }
    }

    /// Who it is, as the audit log and a run's history say: an id (`p_…`, `t_…`,
    /// `admin_token`) and a name to show (a token's names its person too).
    pub fn who(&self) -> Who {
        match self {
            Principal::Person { id, name, .. } => Who::new(id, name),
            Principal::Token {
                id,
                name,
                person_name,
                ..
            } => Who::new(id, format!("{name} ({person_name})")),
            Principal::MetricsScraper => Who::new("metrics_token", "metrics token"),
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
            Some(Some(token)) if metrics(token) => Ok(Principal::MetricsScraper),
            Some(Some(token)) => {
                let source = audit::source_of(&parts.extensions);
                authenticate(state.store.as_ref(), token, source).await
            }
            Some(None) => Err(ApiError::AdminRequired),
        }
    }
}

/// The API token `token` (already known to start with the token prefix), as the principal it
/// acts as: its person, with that person's role as of now, capped by its scopes. Unknown: 401
/// `admin_required`; revoked, expired, or its person disabled: 401 saying which. Its first use
/// goes into the audit log, once.
async fn authenticate(
    store: &dyn Store,
    token: &str,
    source: Option<std::net::IpAddr>,
) -> Result<Principal, ApiError> {
    // Looked up by its SHA-256: the index finds it, no comparison of secrets in memory.
    let info = store
        .api_token(tokens::token_hash(token))
        .await?
        .ok_or(ApiError::AdminRequired)?;
    let now = now_ms();
    if info.revoked {
        return Err(ApiError::TokenRefused {
            reason: "token_revoked",
            message: "this token was revoked",
        });
    }
    if info.expires_at.is_some_and(|at| now >= at) {
        return Err(ApiError::TokenRefused {
            reason: "token_expired",
            message: "this token has expired",
        });
    }
    let person = match store.person(info.person_id.clone()).await? {
        Some(p) if p.disabled_at.is_none() => p,
        _ => {
            return Err(ApiError::TokenRefused {
                reason: "person_disabled",
                message: "the person this token belongs to is disabled",
            });
        }
    };
    let principal = Principal::Token {
        scopes: Scopes::of(&info),
        id: info.id,
        name: info.name,
        person_id: person.id,
        person_name: person.name,
        role: person.role,
    };
    if info.first_used_at.is_none() {
        match store.note_api_token_used(principal.who().id, now).await {
            Ok(true) => {
                let event = audit::Event::new("token_first_used");
                audit::record(store, &principal.who(), source, event).await;
            }
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "could not note a token's first use"),
        }
    }
    Ok(principal)
}

/// What a route requires of its caller.
pub trait Requirement: Send + Sync + 'static {
    /// Whether `principal` may do what the route does.
    fn allows(principal: &Principal) -> bool;
}

/// The prefix of every API token made by `POST /api/tokens`.
pub const API_TOKEN_PREFIX: &str = "at_";

/// Read runs: the list, a run, its events, streams, artifacts and transcript; who one is.
/// Viewers and up; a token with `read_runs`.
#[derive(Debug)]
pub struct ReadRuns;
impl Requirement for ReadRuns {
    fn allows(principal: &Principal) -> bool {
        principal.may(Role::Viewer, Scope::ReadRuns)
    }
}

/// Create runs and send them follow-up prompts (`POST /api/runs`, `POST /api/runs/:id/prompt`):
/// operators and up; a token with `create_runs`.
#[derive(Debug)]
pub struct CreateRuns;
impl Requirement for CreateRuns {
    fn allows(principal: &Principal) -> bool {
        principal.may(Role::Operator, Scope::CreateRuns)
    }
}

/// Act on runs: queue commands (prompts, commands, stop), cancel a queued run, pin one.
/// Operators and up; a token with `create_runs`.
#[derive(Debug)]
pub struct OperateRuns;
impl Requirement for OperateRuns {
    fn allows(principal: &Principal) -> bool {
        principal.may(Role::Operator, Scope::CreateRuns)
    }
}

/// Decide permission requests: operators and up; a token with `approve`.
#[derive(Debug)]
pub struct Approve;
impl Requirement for Approve {
    fn allows(principal: &Principal) -> bool {
        principal.may(Role::Operator, Scope::Approve)
    }
}

/// What only an admin may do: people, invitations, agents, every token, the audit log,
/// deleting a run with its history, and the gateway's settings. Admins; an admin's token with
/// `admin`.
#[derive(Debug)]
pub struct AdminOnly;
impl Requirement for AdminOnly {
    fn allows(principal: &Principal) -> bool {
        principal.may(Role::Admin, Scope::Admin)
    }
}

/// One's own sign-in: sessions, passkeys, pairing a phone. A signed-in person of any role;
/// never a token (a token must not become a session or a passkey).
#[derive(Debug)]
pub struct SignedIn;
impl Requirement for SignedIn {
    fn allows(principal: &Principal) -> bool {
        matches!(principal, Principal::Person { .. })
    }
}

/// Make, list and revoke API tokens: a signed-in person of any role (their own tokens; an
/// admin's, everyone's), or a token with `admin`.
#[derive(Debug)]
pub struct ManageTokens;
impl Requirement for ManageTokens {
    fn allows(principal: &Principal) -> bool {
        principal.may(Role::Viewer, Scope::Admin)
    }
}

/// Read `/metrics`: the metrics token, or an admin.
#[derive(Debug)]
pub struct ReadMetrics;
impl Requirement for ReadMetrics {
    fn allows(principal: &Principal) -> bool {
        AdminOnly::allows(principal) || *principal == Principal::MetricsScraper
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
        } else if let Principal::Token { .. } = principal {
            // A known token whose scopes (or its person's role) fall short.
            Err(ApiError::Forbidden {
                reason: "scope_required",
                message: "this token's scopes, or its person's role, do not allow this",
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
    fn each_caller_meets_the_requirements_of_its_role_and_scopes() {
        let person = |role| Principal::Person {
            id: "p_1".into(),
            name: "someone".into(),
            role,
            session: [0; 32],
        };
        let token = |role, scopes: &[&str]| Principal::Token {
            id: "t_1".into(),
            name: "script".into(),
            person_id: "p_1".into(),
            person_name: "someone".into(),
            role,
            scopes: Scopes::parse(scopes).unwrap(),
        };
        let all = [
            person(Role::Viewer),
            person(Role::Operator),
            person(Role::Admin),
            token(
                Role::Admin,
                &["read_runs", "create_runs", "approve", "admin"],
            ),
            token(Role::Admin, &["read_runs"]),
            token(Role::Admin, &["create_runs"]),
            token(Role::Admin, &["approve"]),
            token(Role::Admin, &["admin"]),
            // Every scope, but its person is a viewer now: a viewer's reach.
            token(
                Role::Viewer,
                &["read_runs", "create_runs", "approve", "admin"],
            ),
            Principal::MetricsScraper,
        ];
        type Allows = fn(&Principal) -> bool;
        let table: [(&str, Allows, [u8; 10]); 8] = [
            (
                "read runs",
                ReadRuns::allows,
                [1, 1, 1, 1, 1, 0, 0, 0, 1, 0],
            ),
            (
                "create runs",
                CreateRuns::allows,
                [0, 1, 1, 1, 0, 1, 0, 0, 0, 0],
            ),
            (
                "operate runs",
                OperateRuns::allows,
                [0, 1, 1, 1, 0, 1, 0, 0, 0, 0],
            ),
            ("approve", Approve::allows, [0, 1, 1, 1, 0, 0, 1, 0, 0, 0]),
            (
                "admin only",
                AdminOnly::allows,
                [0, 0, 1, 1, 0, 0, 0, 1, 0, 0],
            ),
            (
                "signed in",
                SignedIn::allows,
                [1, 1, 1, 0, 0, 0, 0, 0, 0, 0],
            ),
            (
                "manage tokens",
                ManageTokens::allows,
                [1, 1, 1, 1, 0, 0, 0, 1, 1, 0],
            ),
            (
                "read metrics",
                ReadMetrics::allows,
                [0, 0, 1, 1, 0, 0, 0, 1, 0, 1],
            ),
        ];
        for (name, allows, want) in table {
            let got = all.clone().map(|p| u8::from(allows(&p)));
            assert_eq!(got, want, "{name}");
        }
    }
}
