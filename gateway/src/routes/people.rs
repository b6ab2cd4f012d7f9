//! People: one's own account and sign-in sessions (any role), and what admins do with the team:
//! list people, change a role, disable someone, invite someone by a one-time link. Joining by
//! that link is a way of signing in (`session.rs`).

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::audit;
use crate::auth::{AdminOnly, Authorized, Principal, ReadRuns, Role, SignedIn, token_hash};
use crate::clock::now_ms;
use crate::error::ApiError;
use crate::http::{parse_json, read_body};
use crate::secrets::random_token;
use crate::state::AppState;
use crate::store::{Invitation, Person, StoredPasskey};
use crate::team;
use crate::web_session::{SessionView, set_cookie};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/me", get(me))
        .route(
            "/api/me/sessions",
            get(my_sessions).delete(sign_out_everywhere),
        )
        .route("/api/me/sessions/{id}", delete(revoke_session))
        .route("/api/me/passkeys", get(my_passkeys).post(add_passkey))
        .route("/api/me/passkeys/options", post(passkey_options))
        .route("/api/me/pairing", post(start_pairing))
        .route("/api/people", get(people))
        .route("/api/people/{id}", patch(change_person))
        .route("/api/invitations", post(invite).get(invitations))
}

/// A person as the API shows them (never their password hash).
#[derive(Debug, Serialize)]
struct PersonView {
    id: String,
    name: String,
    role: Role,
    created_at: i64,
    disabled_at: Option<i64>,
}

impl From<Person> for PersonView {
    fn from(p: Person) -> Self {
        Self {
            id: p.id,
            name: p.name,
            role: p.role,
            created_at: p.created_at,
            disabled_at: p.disabled_at,
        }
    }
}

/// `GET /api/me`: who the caller is (`{"id", "name", "role"}`); for a token, the person it acts
/// as, and the token (`"token": {"id", "name", "scopes"}`).
async fn me(caller: Authorized<ReadRuns>) -> Json<serde_json::Value> {
    match caller.principal() {
        Principal::Token {
            id,
            name,
            person_id,
            person_name,
            role,
            scopes,
        } => Json(json!({
            "id": person_id,
            "name": person_name,
            "role": role,
            "token": { "id": id, "name": name, "scopes": scopes.names() },
        })),
        other => {
            let who = other.who();
            Json(json!({ "id": who.id, "name": who.name, "role": other.role() }))
        }
    }
}

/// `GET /api/me/sessions`: the caller's live sign-in sessions, the current one marked (none for
/// a token).
async fn my_sessions(
    State(state): State<AppState>,
    caller: Authorized<SignedIn>,
    headers: HeaderMap,
) -> Result<Json<Vec<SessionView>>, ApiError> {
    Ok(Json(match caller.principal().person_id() {
        Some(id) => {
            state
                .sessions
                .list(state.store.as_ref(), id, &headers)
                .await?
        }
        None => Vec::new(),
    }))
}

/// `DELETE /api/me/sessions`: sign out everywhere, this browser included.
async fn sign_out_everywhere(
    State(state): State<AppState>,
    caller: Authorized<SignedIn>,
) -> Result<Response, ApiError> {
    let id = caller.principal().person_id().ok_or(ApiError::bad_request(
        "not_a_person",
        "a token has no sessions",
    ))?;
    let ended = state.sessions.end_all(state.store.as_ref(), id).await?;
    tracing::info!(person = %id, ended, "signed out everywhere");
    let event = audit::Event::new("signed_out_everywhere").detail(json!({ "sessions": ended }));
    caller.audit(state.store.as_ref(), event).await;
    let mut r = StatusCode::NO_CONTENT.into_response();
    r.headers_mut()
        .insert(header::SET_COOKIE, set_cookie("", 0));
    Ok(r)
}

/// `DELETE /api/me/sessions/:id`: end one of the caller's sessions (`id` from the list).
async fn revoke_session(
    State(state): State<AppState>,
    Path(session): Path<String>,
    caller: Authorized<SignedIn>,
) -> Result<StatusCode, ApiError> {
    let hash: [u8; 32] = hex::decode(&session)
        .ok()
        .and_then(|h| h.try_into().ok())
        .ok_or(ApiError::NotFound("no such session"))?;
    let person = caller.principal().person_id().unwrap_or_default();
    if !state
        .sessions
        .revoke(state.store.as_ref(), person, hash)
        .await?
    {
        return Err(ApiError::NotFound("no such session"));
    }
    let event = audit::Event::new("session_revoked").target(&session[..16]);
    caller.audit(state.store.as_ref(), event).await;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/people`: everyone, oldest first.
async fn people(
    State(state): State<AppState>,
    _caller: Authorized<AdminOnly>,
) -> Result<Json<Vec<PersonView>>, ApiError> {
    let people = state.store.people().await?;
    Ok(Json(people.into_iter().map(PersonView::from).collect()))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PersonChange {
    role: Option<Role>,
    disabled: Option<bool>,
}

/// `PATCH /api/people/:id` `{"role"?, "disabled"?}`: change a role, disable or enable someone.
/// Disabling ends their sessions; the last enabled admin cannot be demoted or disabled.
async fn change_person(
    State(state): State<AppState>,
    Path(id): Path<String>,
    caller: Authorized<AdminOnly>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<PersonView>, ApiError> {
    let bytes = read_body(body, &headers, state.limits.max_json_bytes).await?;
    let change: PersonChange = parse_json(&bytes)?;
    let store = state.store.as_ref();
    let mut person = store
        .person(id.clone())
        .await?
        .ok_or(ApiError::NotFound("no such person"))?;
    let before = person.clone();
    if let Some(role) = change.role {
        person.role = role;
    }
    match change.disabled {
        Some(true) if person.disabled_at.is_none() => person.disabled_at = Some(now_ms()),
        Some(false) => person.disabled_at = None,
        _ => {}
    }
    team::keep_an_admin(store, &person).await?;
    if !store.update_person(person.clone()).await? {
        return Err(ApiError::NotFound("no such person"));
    }
    if person.disabled_at.is_some() {
        state.sessions.end_all(store, &person.id).await?;
    }
    tracing::info!(person = %person.id, role = person.role.as_str(), disabled = person.disabled_at.is_some(), "person changed");
    if before.role != person.role {
        let event = audit::Event::new("role_changed")
            .target(&person.id)
            .detail(json!({ "name": person.name, "from": before.role, "to": person.role }));
        caller.audit(store, event).await;
    }
    if before.disabled_at.is_some() != person.disabled_at.is_some() {
        let action = match person.disabled_at {
            Some(_) => "person_disabled",
            None => "person_enabled",
        };
        let event = audit::Event::new(action)
            .target(&person.id)
            .detail(json!({ "name": person.name }));
        caller.audit(store, event).await;
    }
    Ok(Json(person.into()))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewInvitation {
    name: String,
    role: Role,
}

/// An invitation as admins see it (never its token).
#[derive(Debug, Serialize)]
struct InvitationView {
    name: String,
    role: Role,
    created_by: String,
    created_at: i64,
    expires_at: i64,
}

impl From<Invitation> for InvitationView {
    fn from(i: Invitation) -> Self {
        Self {
            name: i.name,
            role: i.role,
            created_by: i.created_by,
            created_at: i.created_at,
            expires_at: i.expires_at,
        }
    }
}

/// `POST /api/invitations` `{"name", "role"}`: a one-time link for a new person, shown once
/// (`{"url", "expires_at"}`). The token travels in the link's fragment, which browsers do not
/// send, so it reaches no server log; the store keeps its SHA-256.
async fn invite(
    State(state): State<AppState>,
    caller: Authorized<AdminOnly>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let bytes = read_body(body, &headers, state.limits.max_json_bytes).await?;
    let new: NewInvitation = parse_json(&bytes)?;
    team::check_name(&new.name)?;
    let store = state.store.as_ref();
    if store.person_by_name(new.name.clone()).await?.is_some() {
        return Err(ApiError::bad_request("name_taken", "someone has this name"));
    }
    let token = random_token(24).map_err(|e| ApiError::Internal(e.to_string()))?;
    let now = now_ms();
    let by = caller.principal().who().id;
    let invitation = Invitation {
        token_hash: token_hash(&token),
        name: new.name,
        role: new.role,
        created_by: by,
        created_at: now,
        expires_at: now + team::INVITATION_MS,
    };
    store.create_invitation(invitation.clone()).await?;
    tracing::info!(role = invitation.role.as_str(), "invitation created");
    let event = audit::Event::new("invitation_created")
        .target(&invitation.name)
        .detail(json!({ "role": invitation.role, "expires_at": invitation.expires_at }));
    caller.audit(store, event).await;
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "url": format!("{}/join#{token}", state.base_url),
            "name": invitation.name,
            "role": invitation.role,
            "expires_at": invitation.expires_at,
        })),
    ))
}

/// `GET /api/invitations`: the invitations still usable.
async fn invitations(
    State(state): State<AppState>,
    _caller: Authorized<AdminOnly>,
) -> Result<Json<Vec<InvitationView>>, ApiError> {
    let open = state.store.open_invitations(now_ms()).await?;
    Ok(Json(open.into_iter().map(InvitationView::from).collect()))
}

/// The caller's person id, or why a token has none.
fn person_of<R>(caller: &Authorized<R>) -> Result<&str, ApiError> {
    caller.principal().person_id().ok_or(ApiError::bad_request(
        "not_a_person",
        "a token is not a person",
    ))
}

fn relying_party(state: &AppState) -> Result<&crate::web_session::Passkeys, ApiError> {
    state.passkeys.as_ref().ok_or_else(|| {
        ApiError::bad_request(
            "passkeys_unavailable",
            "passkeys need the gateway's public URL to name a host, not an address",
        )
    })
}

/// `GET /api/me/passkeys`: the caller's passkeys, `[{"id", "created_at", "last_used_at"}]`
/// (`id`: the first 16 hex digits of the credential id).
async fn my_passkeys(
    State(state): State<AppState>,
    caller: Authorized<SignedIn>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let id = person_of(&caller)?;
    let keys = state.store.passkeys_of(id.to_string()).await?;
    Ok(Json(serde_json::Value::Array(
        keys.iter()
            .map(|k| {
                let hex = hex::encode(&k.credential_id);
                json!({
                    "id": &hex[..hex.len().min(16)],
                    "created_at": k.created_at,
                    "last_used_at": k.last_used_at,
                })
            })
            .collect(),
    )))
}

/// `POST /api/me/passkeys/options`: the options for creating another passkey of the caller's.
async fn passkey_options(
    State(state): State<AppState>,
    caller: Authorized<SignedIn>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let id = person_of(&caller)?;
    let name = caller.principal().who().name;
    Ok(Json(
        relying_party(&state)?
            .start_registration(state.store.as_ref(), id, &name)
            .await?,
    ))
}

/// `POST /api/me/passkeys` with the browser's answer: the passkey becomes one the caller signs
/// in with.
async fn add_passkey(
    State(state): State<AppState>,
    caller: Authorized<SignedIn>,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let id = person_of(&caller)?.to_string();
    let bytes = read_body(body, &headers, 64 * 1024).await?;
    let passkey = relying_party(&state)?
        .finish_registration(state.store.as_ref(), &id, &bytes)
        .await?;
    let hex = hex::encode(&passkey.credential_id);
    state
        .store
        .add_passkey(StoredPasskey {
            credential_id: passkey.credential_id,
            person_id: id,
            static_state: passkey.static_state,
            dynamic_state: passkey.dynamic_state,
            created_at: now_ms(),
            last_used_at: None,
        })
        .await?;
    let event = audit::Event::new("passkey_added").target(&hex[..hex.len().min(16)]);
    caller.audit(state.store.as_ref(), event).await;
    Ok(StatusCode::CREATED)
}

/// `POST /api/me/pairing`: a one-time link that signs a phone in as the caller, and its QR code
/// (`{"url", "svg", "expires_at"}`), good for two minutes.
async fn start_pairing(
    State(state): State<AppState>,
    caller: Authorized<SignedIn>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let id = person_of(&caller)?.to_string();
    let code = random_token(24).map_err(|e| ApiError::Internal(e.to_string()))?;
    let expires_at = now_ms() + crate::web_session::PAIRING_MS;
    state
        .store
        .create_pairing(token_hash(&code), id, expires_at)
        .await?;
    let url = format!("{}/pair#{code}", state.base_url);
    let svg = crate::web_session::qr_svg(&url)
        .map_err(|e| ApiError::Internal(format!("draw the pairing QR code: {e}")))?;
    caller
        .audit(state.store.as_ref(), audit::Event::new("pairing_started"))
        .await;
    Ok(Json(
        json!({ "url": url, "svg": svg, "expires_at": expires_at }),
    ))
}
