//! Sign-in for the web UI: `POST /api/session` with a name and password (the first admin's
//! password alone, as before people existed), `GET` for the page's CSRF token and who is signed
//! in after a reload, `DELETE` to sign out. The sessions, the limiter and the guard are
//! `crate::web_session`.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;

use crate::audit::{self, Source};
use crate::auth::token_hash;
use crate::clock::now_ms;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::{Person, StoredPasskey};
use crate::team;
use crate::web_session::{self, ABSOLUTE_MS, cookie_value, csrf_token, set_cookie};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/session", post(sign_in).get(current).delete(sign_out))
        .route("/api/join", post(join))
        .route("/api/join/check", post(check_invitation))
        .route(
            "/api/session/passkey/options",
            post(passkey_sign_in_options),
        )
        .route("/api/session/passkey", post(passkey_sign_in))
        .route("/api/join/passkey/options", post(join_passkey_options))
        .route("/api/join/passkey", post(join_with_passkey))
        .route("/api/pair", post(pair))
}

#[derive(Deserialize)]
struct Pair {
    code: String,
}

/// `POST /api/pair` `{"code"}`: a phone uses a pairing code and is signed in as the person who
/// showed it; answered as `POST /api/session`. The code works once, within two minutes.
async fn pair(State(state): State<AppState>, request: Request) -> Response {
    let ip = audit::source_of(request.extensions());
    let now = now_ms();
    match state.sessions.reserve(state.store.as_ref(), ip, now).await {
        Ok(Ok(())) => {}
        Ok(Err(retry_after)) => return ApiError::RateLimited { retry_after }.into_response(),
        Err(e) => return e.into_response(),
    }
    let device = web_session::device(request.headers());
    let result = async {
        let pair: Pair = small_json(request.into_body()).await?;
        let store = state.store.as_ref();
        let person = match store.take_pairing(token_hash(&pair.code), now).await? {
            Some(id) => store.person(id).await?,
            None => None,
        };
        let Some(person) = person.filter(|p| p.disabled_at.is_none()) else {
            let event = audit::Event::new("sign_in_failed")
                .detail(serde_json::json!({ "method": "pairing", "reason": "pairing_invalid" }));
            audit::record(store, &audit::Who::anonymous(), ip, event).await;
            return Err(ApiError::bad_request(
                "pairing_invalid",
                "this pairing code is used, expired or unknown; show a new one",
            ));
        };
        state.sessions.refund(state.store.as_ref(), ip, now).await;
        let value = state.sessions.start(store, &person.id, device, now).await?;
        tracing::info!(?ip, person = %person.id, "phone paired");
        let event =
            audit::Event::new("signed_in").detail(serde_json::json!({ "method": "pairing" }));
        audit::record(store, &who(&person), ip, event).await;
        Ok::<_, ApiError>(signed_in(&value, &person, now))
    };
    result.await.unwrap_or_else(IntoResponse::into_response)
}

/// The relying party, or why there is none.
fn passkeys(state: &AppState) -> Result<&web_session::Passkeys, ApiError> {
    state.passkeys.as_ref().ok_or_else(|| {
        ApiError::bad_request(
            "passkeys_unavailable",
            "passkeys need the gateway's public URL to name a host, not an address",
        )
    })
}

/// Read a small JSON body of a sign-in route.
async fn small_json<T: serde::de::DeserializeOwned>(body: Body) -> Result<T, ApiError> {
    let bytes = axum::body::to_bytes(body, 64 * 1024)
        .await
        .map_err(|_| ApiError::TooLarge { limit: 64 * 1024 })?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request("malformed_json", format!("invalid body: {e}")))
}

/// `POST /api/session/passkey/options`: the options for `navigator.credentials.get()`.
async fn passkey_sign_in_options(
    State(state): State<AppState>,
    audit::Source(ip): audit::Source,
) -> Result<Json<serde_json::Value>, ApiError> {
    Ok(Json(
        passkeys(&state)?
            .start_sign_in(state.store.as_ref(), ip)
            .await?,
    ))
}

/// `POST /api/session/passkey` with the browser's answer (`PublicKeyCredential.toJSON()`):
/// sign in as the passkey's person; answered as `POST /api/session`.
async fn passkey_sign_in(State(state): State<AppState>, request: Request) -> Response {
    let ip = audit::source_of(request.extensions());
    let now = now_ms();
    match state.sessions.reserve(state.store.as_ref(), ip, now).await {
        Ok(Ok(())) => {}
        Ok(Err(retry_after)) => return ApiError::RateLimited { retry_after }.into_response(),
        Err(e) => return e.into_response(),
    }
    let device = web_session::device(request.headers());
    let result = async {
        let relying_party = passkeys(&state)?;
        let bytes = axum::body::to_bytes(request.into_body(), 64 * 1024)
            .await
            .map_err(|_| ApiError::TooLarge { limit: 64 * 1024 })?;
        let assertion = relying_party.read_sign_in(&bytes)?;
        let store = state.store.as_ref();
        let refused = |reason: &'static str| (reason, None::<Person>);
        let Some(passkey) = store.passkey(assertion.credential_id()).await? else {
            return Ok(Err(refused("unknown_passkey")));
        };
        let person = match store.person(passkey.person_id.clone()).await? {
            Some(p) if p.disabled_at.is_none() => p,
            _ => return Ok(Err(refused("person_disabled"))),
        };
        match relying_party
            .finish_sign_in(
                store,
                &assertion,
                &person.id,
                &passkey.static_state,
                passkey.dynamic_state,
            )
            .await
        {
            Ok(dynamic) => {
                store
                    .use_passkey(passkey.credential_id.clone(), dynamic, now)
                    .await?;
                Ok(Ok(person))
            }
            Err(why) => Ok(Err((why.as_str(), Some(person)))),
        }
    };
    let result: Result<Result<Person, (&str, Option<Person>)>, ApiError> = result.await;
    let store = state.store.as_ref();
    match result {
        Ok(Ok(person)) => {
            state.sessions.refund(state.store.as_ref(), ip, now).await;
            let value = match state.sessions.start(store, &person.id, device, now).await {
                Ok(value) => value,
                Err(e) => return e.into_response(),
            };
            tracing::info!(?ip, person = %person.id, "signed in with a passkey");
            let event =
                audit::Event::new("signed_in").detail(serde_json::json!({ "method": "passkey" }));
            audit::record(store, &who(&person), ip, event).await;
            signed_in(&value, &person, now)
        }
        Ok(Err((reason, person))) => {
            tracing::info!(?ip, reason, "passkey sign-in refused");
            let name = person.as_ref().map(|p| p.name.clone()).unwrap_or_default();
            let event = audit::Event::new("sign_in_failed")
                .detail(serde_json::json!({ "method": "passkey", "reason": reason, "name": name }));
            audit::record(store, &audit::Who::anonymous(), ip, event).await;
            ApiError::bad_request("passkey_refused", "this passkey does not sign anyone in")
                .into_response()
        }
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize)]
struct JoinPasskey {
    token: String,
    /// The id the person will have, from the options.
    person_id: Option<String>,
    /// The browser's answer (`PublicKeyCredential.toJSON()`).
    credential: Option<Box<serde_json::value::RawValue>>,
}

/// Whether `id` looks like an id `team::new_person_id` makes.
fn is_person_id(id: &str) -> bool {
    id.len() == 14
        && id.starts_with("p_")
        && id[2..]
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// `POST /api/join/passkey/options` `{"token"}`: the options for creating the invited person's
/// passkey, and the id they will have (`{"person_id", "options"}`). The invitation stays
/// unused.
async fn join_passkey_options(
    State(state): State<AppState>,
    body: Body,
) -> Result<Json<serde_json::Value>, ApiError> {
    let join: JoinPasskey = small_json(body).await?;
    let relying_party = passkeys(&state)?;
    let invitation = state
        .store
        .invitation(token_hash(&join.token), now_ms())
        .await?
        .ok_or_else(invitation_gone)?;
    let person_id = team::new_person_id()?;
    let options = relying_party
        .start_registration(state.store.as_ref(), &person_id, &invitation.name)
        .await?;
    Ok(Json(
        serde_json::json!({ "person_id": person_id, "options": options }),
    ))
}

/// `POST /api/join/passkey` `{"token", "person_id", "credential"}`: use an invitation with a
/// passkey instead of a password; answered as `POST /api/session`.
async fn join_with_passkey(State(state): State<AppState>, request: Request) -> Response {
    match join_with_passkey_inner(&state, request).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn join_with_passkey_inner(state: &AppState, request: Request) -> Result<Response, ApiError> {
    let device = web_session::device(request.headers());
    let source = audit::source_of(request.extensions());
    let join: JoinPasskey = small_json(request.into_body()).await?;
    let (Some(person_id), Some(credential)) = (join.person_id, join.credential) else {
        return Err(ApiError::bad_request(
            "malformed_json",
            "send {\"token\", \"person_id\", \"credential\"}",
        ));
    };
    if !is_person_id(&person_id) {
        return Err(ApiError::bad_request(
            "invalid_field",
            "person_id is not one the gateway made",
        ));
    }
    let passkey = passkeys(state)?
        .finish_registration(
            state.store.as_ref(),
            &person_id,
            credential.get().as_bytes(),
        )
        .await?;
    let store = state.store.as_ref();
    let now = now_ms();
    let invitation = store
        .take_invitation(token_hash(&join.token), now)
        .await?
        .ok_or_else(invitation_gone)?;
    let person = Person {
        id: person_id,
        name: invitation.name,
        role: invitation.role,
        created_at: now,
        disabled_at: None,
        password_hash: None,
    };
    store
        .create_person(person.clone())
        .await
        .map_err(|e| match e {
            crate::store::StoreError::Conflict => {
                ApiError::bad_request("name_taken", "someone took this name meanwhile")
            }
            e => e.into(),
        })?;
    store
        .add_passkey(StoredPasskey {
            credential_id: passkey.credential_id,
            person_id: person.id.clone(),
            static_state: passkey.static_state,
            dynamic_state: passkey.dynamic_state,
            created_at: now,
            last_used_at: None,
        })
        .await?;
    welcome(
        state,
        &person,
        &invitation.created_by,
        "passkey",
        source,
        device,
        now,
    )
    .await
}

#[derive(Deserialize)]
struct SignIn {
    /// Who signs in; without a name, the first admin.
    name: Option<String>,
    password: String,
}

/// The answer to a sign-in: the CSRF token and the cookie, `no-store`.
fn signed_in(value: &str, person: &Person, now: i64) -> Response {
    let mut r = Json(serde_json::json!({
        "csrf": csrf_token(value),
        "expires_at": now + ABSOLUTE_MS,
        "person": me(person),
    }))
    .into_response();
    r.headers_mut()
        .insert(header::SET_COOKIE, set_cookie(value, ABSOLUTE_MS / 1000));
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// A person as the page shows who is signed in.
fn me(p: &Person) -> serde_json::Value {
    serde_json::json!({ "id": p.id, "name": p.name, "role": p.role })
}

/// `POST /api/session` `{"name"?, "password"}`: sign in; answers `{"csrf", "person"}` and sets
/// the cookie.
async fn sign_in(State(state): State<AppState>, request: Request) -> Response {
    // Behind a trusted reverse proxy, the client it names; else the connection's peer.
    let ip = state.trusted_proxies.client_of(&request);
    let now = now_ms();
    match state.sessions.reserve(state.store.as_ref(), ip, now).await {
        Ok(Ok(())) => {}
        Ok(Err(retry_after)) => return ApiError::RateLimited { retry_after }.into_response(),
        Err(e) => return e.into_response(),
    }
    let device = web_session::device(request.headers());
    let bytes = match axum::body::to_bytes(request.into_body(), 4096).await {
        Ok(b) => b,
        Err(_) => return ApiError::TooLarge { limit: 4096 }.into_response(),
    };
    let Ok(form) = serde_json::from_slice::<SignIn>(&bytes) else {
        return ApiError::bad_request(
            "malformed_json",
            "send {\"name\": \"…\", \"password\": \"…\"}",
        )
        .into_response();
    };
    let store = state.store.as_ref();
    let person = match state
        .sessions
        .check_password(store, form.name.clone(), form.password)
        .await
    {
        Ok(Some(person)) => person,
        Ok(None) => {
            tracing::info!(?ip, "sign-in refused");
            let name = form.name.as_deref().unwrap_or(team::FIRST_ADMIN_NAME);
            let event = audit::Event::new("sign_in_failed")
                .detail(serde_json::json!({ "name": audit::excerpt(name) }));
            audit::record(store, &audit::Who::anonymous(), ip, event).await;
            return ApiError::BadPassword.into_response();
        }
        Err(e) => return e.into_response(),
    };
    state.sessions.refund(state.store.as_ref(), ip, now).await;
    let value = match state.sessions.start(store, &person.id, device, now).await {
        Ok(value) => value,
        Err(e) => return e.into_response(),
    };
    tracing::info!(?ip, person = %person.id, "signed in");
    let event = audit::Event::new("signed_in").detail(serde_json::json!({ "method": "password" }));
    audit::record(store, &who(&person), ip, event).await;
    signed_in(&value, &person, now)
}

/// `GET /api/session`: `{"csrf", "person"}` for a signed-in page (how it gets its token after a
/// reload, and who it is).
async fn current(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let signed_in = state.sessions.authenticate(&state.store, &headers).await;
    let person = match signed_in {
        Some(s) => match state.store.person(s.person_id).await {
            Ok(p) => p.filter(|p| p.disabled_at.is_none()),
            Err(e) => return ApiError::from(e).into_response(),
        },
        None => None,
    };
    match (cookie_value(&headers), person) {
        (Some(value), Some(person)) => {
            let mut r = Json(serde_json::json!({
                "csrf": csrf_token(value),
                "person": me(&person),
            }))
            .into_response();
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        _ => ApiError::SignedOut.into_response(),
    }
}

/// Who a person is, as the audit log names them.
fn who(person: &Person) -> audit::Who {
    audit::Who::new(&person.id, &person.name)
}

/// `DELETE /api/session`: sign out (the CSRF guard has checked the token).
async fn sign_out(
    State(state): State<AppState>,
    Source(source): Source,
    headers: HeaderMap,
) -> Response {
    if let Some(signed_in) = state.sessions.authenticate(&state.store, &headers).await
        && let Ok(Some(person)) = state.store.person(signed_in.person_id).await
    {
        let event = audit::Event::new("signed_out");
        audit::record(state.store.as_ref(), &who(&person), source, event).await;
    }
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

#[derive(Deserialize)]
struct Join {
    token: String,
    /// Absent when only checking the invitation.
    password: Option<String>,
}

fn read_join(bytes: &[u8]) -> Result<Join, ApiError> {
    serde_json::from_slice(bytes).map_err(|_| {
        ApiError::bad_request(
            "malformed_json",
            "send {\"token\": \"…\", \"password\": \"…\"}",
        )
    })
}

fn invitation_gone() -> ApiError {
    ApiError::bad_request(
        "invitation_invalid",
        "this invitation link is used, expired or unknown; ask an admin for a new one",
    )
}

/// `POST /api/join/check` `{"token"}`: who an invitation is for (`{"name", "role",
/// "expires_at"}`), without using it.
async fn check_invitation(
    State(state): State<AppState>,
    body: axum::body::Bytes,
) -> Result<Json<serde_json::Value>, ApiError> {
    let join = read_join(&body)?;
    let invitation = state
        .store
        .invitation(token_hash(&join.token), now_ms())
        .await?
        .ok_or_else(invitation_gone)?;
    Ok(Json(serde_json::json!({
        "name": invitation.name,
        "role": invitation.role,
        "expires_at": invitation.expires_at,
    })))
}

/// `POST /api/join` `{"token", "password"}`: use an invitation: the person it names is created
/// with that password and signed in (the answer of a sign-in). The link works once.
async fn join(State(state): State<AppState>, request: Request) -> Response {
    match join_inner(&state, request).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn join_inner(state: &AppState, request: Request) -> Result<Response, ApiError> {
    let device = web_session::device(request.headers());
    let source = audit::source_of(request.extensions());
    let bytes = axum::body::to_bytes(request.into_body(), 4096)
        .await
        .map_err(|_| ApiError::TooLarge { limit: 4096 })?;
    let join = read_join(&bytes)?;
    let password = join.password.unwrap_or_default();
    team::check_password(&password)?;
    let phc = tokio::task::spawn_blocking(move || web_session::hash_password(&password))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let store = state.store.as_ref();
    let now = now_ms();
    let invitation = store
        .take_invitation(token_hash(&join.token), now)
        .await?
        .ok_or_else(invitation_gone)?;
    let person = Person {
        id: team::new_person_id()?,
        name: invitation.name,
        role: invitation.role,
        created_at: now,
        disabled_at: None,
        password_hash: Some(phc),
    };
    store
        .create_person(person.clone())
        .await
        .map_err(|e| match e {
            crate::store::StoreError::Conflict => {
                ApiError::bad_request("name_taken", "someone took this name meanwhile")
            }
            e => e.into(),
        })?;
    welcome(
        state,
        &person,
        &invitation.created_by,
        "password",
        source,
        device,
        now,
    )
    .await
}

/// The end of joining by invitation, whichever the sign-in `method`: logged, audited, and the
/// new person signed in on this browser.
async fn welcome(
    state: &AppState,
    person: &Person,
    invited_by: &str,
    method: &str,
    source: Option<std::net::IpAddr>,
    device: String,
    now: i64,
) -> Result<Response, ApiError> {
    let store = state.store.as_ref();
    tracing::info!(person = %person.id, role = person.role.as_str(), method, "joined by invitation");
    let event = audit::Event::new("joined")
        .target(&person.id)
        .detail(serde_json::json!({
            "role": person.role,
            "invited_by": invited_by,
            "method": method,
        }));
    audit::record(store, &who(person), source, event).await;
    let value = state.sessions.start(store, &person.id, device, now).await?;
    Ok(signed_in(&value, person, now))
}
