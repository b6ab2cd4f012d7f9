//! Notification settings: the admin's webhooks and their delivery log; Web Push subscriptions
//! of signed-in browsers; and the Allow/Deny actions of a push notification.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use common::wire::PermissionChoice;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::auth::{AdminOnly, Approve, Authorized, OperateRuns, Principal, ReadRuns, Requirement};
use crate::clock::now_ms;
use crate::error::ApiError;
use crate::http::{parse_json, read_body};
use crate::notify;
use crate::state::AppState;
use crate::store::{
    NewWebhook, NotifyEvent, Outbound, PushSubscription, Target, Webhook, WebhookFormat,
};

/// Most webhooks a gateway keeps.
const MAX_WEBHOOKS: usize = 50;
/// Most push subscriptions (browsers) a gateway keeps.
const MAX_SUBSCRIPTIONS: usize = 100;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/webhooks", get(list_webhooks).post(create_webhook))
        .route("/api/webhooks/{id}", delete(delete_webhook))
        .route("/api/webhooks/{id}/deliveries", get(webhook_deliveries))
        .route("/api/push/key", get(push_key))
        .route(
            "/api/push/subscriptions",
            get(list_subscriptions).post(subscribe),
        )
        .route("/api/push/subscriptions/{id}", delete(unsubscribe))
        .route("/api/push/action", post(push_action))
}

/// A webhook as the API shows it: never its secret, except once, when it is created.
#[derive(Debug, Serialize)]
struct WebhookView {
    id: String,
    url: String,
    events: Vec<NotifyEvent>,
    format: WebhookFormat,
    created_at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    secret: Option<String>,
}

impl WebhookView {
    fn of(w: Webhook, with_secret: bool) -> Self {
        Self {
            id: w.id,
            url: w.url,
            events: w.events,
            format: w.format,
            created_at: w.created_at,
            secret: with_secret.then_some(w.secret),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WebhookBody {
    url: String,
    events: Vec<String>,
    #[serde(default)]
    format: WebhookFormat,
}

/// The events of a request: known names, at least one, each once.
pub(crate) fn parse_events(names: &[String]) -> Result<Vec<NotifyEvent>, ApiError> {
    let mut events = Vec::new();
    for name in names {
        let event = NotifyEvent::parse(name).ok_or_else(|| {
            ApiError::bad_request(
                "invalid_field",
                "events must be names among needs_approval, waiting_for_input, finished, failed, stopped, agent_offline",
            )
        })?;
        if !events.contains(&event) {
            events.push(event);
        }
    }
    if events.is_empty() {
        return Err(ApiError::bad_request(
            "invalid_field",
            "events needs at least one event",
        ));
    }
    Ok(events)
}

/// Admin: `POST /api/webhooks` with `{"url", "events": [...], "format"?: "json" | "slack"}`:
/// `201` the webhook with its signing secret, shown this once.
async fn create_webhook(
    State(state): State<AppState>,
    _caller: Authorized<AdminOnly>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<WebhookView>), ApiError> {
    let bytes = read_body(body, &headers, state.limits.max_json_bytes).await?;
    let b: WebhookBody = parse_json(&bytes)?;
    let url = notify::check_webhook_url(&b.url)?;
    let events = parse_events(&b.events)?;
    if state.store.webhooks().await?.len() >= MAX_WEBHOOKS {
        return Err(ApiError::bad_request(
            "conflict",
            format!("at most {MAX_WEBHOOKS} webhooks"),
        ));
    }
    let secret = notify::new_webhook_secret().map_err(|e| ApiError::Internal(e.to_string()))?;
    let hook = state
        .store
        .create_webhook(NewWebhook {
            url: url.to_string(),
            secret,
            events,
            format: b.format,
            created_at: now_ms(),
        })
        .await?;
    tracing::info!(webhook = %hook.id, "webhook created");
    Ok((StatusCode::CREATED, Json(WebhookView::of(hook, true))))
}

/// Admin: `GET /api/webhooks`.
async fn list_webhooks(
    State(state): State<AppState>,
    _caller: Authorized<AdminOnly>,
) -> Result<Json<Vec<WebhookView>>, ApiError> {
    let hooks = state.store.webhooks().await?;
    Ok(Json(
        hooks
            .into_iter()
            .map(|w| WebhookView::of(w, false))
            .collect(),
    ))
}

/// Admin: `DELETE /api/webhooks/:id`: the webhook and its deliveries.
async fn delete_webhook(
    State(state): State<AppState>,
    Path(id): Path<String>,
    _caller: Authorized<AdminOnly>,
) -> Result<StatusCode, ApiError> {
    if !state.store.delete_webhook(id.clone()).await? {
        return Err(ApiError::NotFound("no such webhook"));
    }
    tracing::info!(webhook = %id, "webhook deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// A line of the delivery log.
#[derive(Debug, Serialize)]
pub(crate) struct DeliveryView {
    id: String,
    event: NotifyEvent,
    run_id: Option<String>,
    state: &'static str,
    attempts: u32,
    next_at: Option<i64>,
    last_status: Option<u16>,
    last_error: Option<String>,
    created_at: i64,
    updated_at: i64,
}

impl From<Outbound> for DeliveryView {
    fn from(d: Outbound) -> Self {
        let pending = d.state == crate::store::OutboundState::Pending;
        Self {
            id: d.id,
            event: d.event,
            run_id: d.run_id,
            state: d.state.as_str(),
            attempts: d.attempts,
            next_at: pending.then_some(d.next_at),
            last_status: d.last_status,
            last_error: d.last_error,
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}

#[derive(Debug, Deserialize)]
struct LogQuery {
    limit: Option<usize>,
}

/// Admin: `GET /api/webhooks/:id/deliveries?limit=100`: the newest deliveries first.
async fn webhook_deliveries(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<LogQuery>,
    _caller: Authorized<AdminOnly>,
) -> Result<Json<Vec<DeliveryView>>, ApiError> {
    if !state.store.webhooks().await?.iter().any(|w| w.id == id) {
        return Err(ApiError::NotFound("no such webhook"));
    }
    let limit = q.limit.unwrap_or(100).clamp(1, 500);
    let log = state
        .store
        .outbound_log(Some(Target::Webhook(id)), limit)
        .await?;
    Ok(Json(log.into_iter().map(DeliveryView::from).collect()))
}

/// `GET /api/push/key`: the VAPID public key a browser subscribes with.
async fn push_key(
    State(state): State<AppState>,
    _caller: Authorized<ReadRuns>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let key = state
        .notifier
        .vapid_public_key()
        .ok_or(ApiError::NotFound("Web Push is off"))?;
    Ok(Json(serde_json::json!({ "public_key": key })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SubscriptionKeys {
    p256dh: String,
    auth: String,
}

/// What `PushSubscription.toJSON()` gives, plus the events wanted.
#[derive(Deserialize)]
struct SubscriptionBody {
    endpoint: String,
    keys: SubscriptionKeys,
    events: Vec<String>,
}

/// A push subscription as the API shows it: the push service's origin, never the endpoint
/// (a capability: whoever holds it can push to the browser) nor the keys.
#[derive(Debug, Serialize)]
struct SubscriptionView {
    id: String,
    service: String,
    events: Vec<NotifyEvent>,
    created_at: i64,
    /// Made by the session asking.
    this_browser: bool,
}

impl SubscriptionView {
    fn of(s: &PushSubscription, session: Option<[u8; 32]>) -> Self {
        Self {
            id: s.id.clone(),
            service: reqwest_origin(&s.endpoint),
            events: s.events.clone(),
            created_at: s.created_at,
            this_browser: session
                .is_some_and(|h| common::sign::constant_time_eq(&h, &s.session_hash)),
        }
    }
}

fn reqwest_origin(endpoint: &str) -> String {
    url::Url::parse(endpoint)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default()
}

/// The session a request comes from: push subscriptions and actions belong to a signed-in
/// browser, not to a token.
fn session_of(caller: &Principal) -> Result<[u8; 32], ApiError> {
    match caller {
        Principal::Person { session, .. } => Ok(*session),
        _ => Err(ApiError::bad_request(
            "invalid_request",
            "push notifications belong to a signed-in browser: sign in to the web UI",
        )),
    }
}

fn key_bytes(name: &str, text: &str, len: usize) -> Result<Vec<u8>, ApiError> {
    use base64::Engine;
    let text = text.trim_end_matches('=');
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .ok()
        .filter(|b| b.len() == len)
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_field",
                format!("keys.{name} must be {len} bytes, base64url"),
            )
        })
}

/// `POST /api/push/subscriptions` (a signed-in browser) with `{"endpoint", "keys": {"p256dh",
/// "auth"}, "events": [...]}`: `201` the subscription. Subscribing again replaces it.
async fn subscribe(
    State(state): State<AppState>,
    caller: Authorized<ReadRuns>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<SubscriptionView>), ApiError> {
    let session = session_of(caller.principal())?;
    if state.notifier.vapid_public_key().is_none() {
        return Err(ApiError::NotFound("Web Push is off"));
    }
    let bytes = read_body(body, &headers, state.limits.max_json_bytes).await?;
    let b: SubscriptionBody = parse_json(&bytes)?;
    let endpoint = notify::check_push_endpoint(&b.endpoint)?;
    let p256dh = key_bytes("p256dh", &b.keys.p256dh, 65)?;
    if p256dh[0] != 4 {
        return Err(ApiError::bad_request(
            "invalid_field",
            "keys.p256dh must be an uncompressed P-256 point",
        ));
    }
    let auth = key_bytes("auth", &b.keys.auth, 16)?;
    let events = parse_events(&b.events)?;
    if state.store.push_subscriptions().await?.len() >= MAX_SUBSCRIPTIONS {
        return Err(ApiError::bad_request(
            "conflict",
            format!("at most {MAX_SUBSCRIPTIONS} push subscriptions"),
        ));
    }
    let saved = state
        .store
        .save_push_subscription(PushSubscription {
            id: String::new(),
            endpoint: endpoint.to_string(),
            p256dh,
            auth,
            session_hash: session,
            events,
            created_at: now_ms(),
        })
        .await?;
    tracing::info!(subscription = %saved.id, "push subscription saved");
    Ok((
        StatusCode::CREATED,
        Json(SubscriptionView::of(&saved, Some(session))),
    ))
}

/// Which subscriptions `caller` may see and remove: an admin every browser's; a person the
/// browsers they signed in on; a script's token none (it has no browser). A subscription's
/// service and events say which device and what someone wants to hear about: not for a
/// colleague to read or switch off.
async fn visible_subscriptions(
    state: &AppState,
    caller: &Principal,
) -> Result<Vec<PushSubscription>, ApiError> {
    let all = state.store.push_subscriptions().await?;
    // An admin, or an admin's token with `admin`: a token's role alone is its person's.
    if AdminOnly::allows(caller) {
        return Ok(all);
    }
    let Principal::Person { id, .. } = caller else {
        return Ok(Vec::new());
    };
    let mine: Vec<[u8; 32]> = state
        .store
        .sessions()
        .await?
        .into_iter()
        .filter(|s| s.person_id.as_deref() == Some(id.as_str()))
        .map(|s| s.id_hash)
        .collect();
    Ok(all
        .into_iter()
        .filter(|sub| {
            mine.iter()
                .any(|h| common::sign::constant_time_eq(h, &sub.session_hash))
        })
        .collect())
}

/// `GET /api/push/subscriptions`: the browsers that get notifications, as the caller may see
/// them (see `visible_subscriptions`).
async fn list_subscriptions(
    State(state): State<AppState>,
    caller: Authorized<ReadRuns>,
    headers: HeaderMap,
) -> Result<Json<Vec<SubscriptionView>>, ApiError> {
    let session = crate::web_session::request_session_hash(&headers);
    let subs = visible_subscriptions(&state, caller.principal()).await?;
    Ok(Json(
        subs.iter()
            .map(|s| SubscriptionView::of(s, session))
            .collect(),
    ))
}

/// `DELETE /api/push/subscriptions/:id`: a person's own browser's, or any for an admin;
/// someone else's answers 404 as if it did not exist.
async fn unsubscribe(
    State(state): State<AppState>,
    Path(id): Path<String>,
    caller: Authorized<OperateRuns>,
) -> Result<StatusCode, ApiError> {
    let visible = visible_subscriptions(&state, caller.principal()).await?;
    if !visible.iter().any(|s| s.id == id) || !state.store.delete_push_subscription(id).await? {
        return Err(ApiError::NotFound("no such subscription"));
    }
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ActionBody {
    token: String,
    decision: PermissionChoice,
}

/// `POST /api/push/action` with `{"token", "decision": "allow" | "deny"}`: a push
/// notification's Allow or Deny, posted by the service worker with the session cookie. The
/// token is taken (once) before anything else is checked; it must belong to this session and
/// name a request the run still waits on. No CSRF token: the action token stands in for it.
async fn push_action(
    State(state): State<AppState>,
    caller: Authorized<Approve>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<common::wire::Command>), ApiError> {
    let session = session_of(caller.principal())?;
    let bytes = read_body(body, &headers, state.limits.max_json_bytes).await?;
    let b: ActionBody = parse_json(&bytes)?;
    if b.decision == PermissionChoice::AllowRun {
        return Err(ApiError::bad_request(
            "invalid_field",
            "a notification decides allow or deny; allow for the run is on the run's page",
        ));
    }
    let hash: [u8; 32] = Sha256::digest(b.token.as_bytes()).into();
    let refused = || {
        ApiError::bad_request(
            "invalid_field",
            "the action token is unknown, used or expired: open the run",
        )
    };
    let token = state
        .store
        .take_action_token(hash, now_ms())
        .await?
        .ok_or_else(refused)?;
    if !common::sign::constant_time_eq(&token.session_hash, &session) {
        return Err(refused());
    }
    let decision = crate::commands::DecisionBody {
        decision: b.decision,
        message: None,
        rule: None,
    };
    let command = crate::commands::decide(
        state.store.as_ref(),
        &state.live,
        &token.run_id,
        token.request_id,
        decision,
        &caller.principal().who().name,
    )
    .await?;
    tracing::info!(run = %token.run_id, command = %command.id, "permission decided from a notification");
    Ok((StatusCode::CREATED, Json(command)))
}
