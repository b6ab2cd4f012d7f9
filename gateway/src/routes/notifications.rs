//! Notification settings: the admin's webhooks and their delivery log.

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::auth::{AdminOnly, Authorized};
use crate::clock::now_ms;
use crate::error::ApiError;
use crate::http::{parse_json, read_body};
use crate::notify;
use crate::state::AppState;
use crate::store::{NewWebhook, NotifyEvent, Outbound, Target, Webhook, WebhookFormat};

/// Most webhooks a gateway keeps.
const MAX_WEBHOOKS: usize = 50;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/webhooks", get(list_webhooks).post(create_webhook))
        .route("/api/webhooks/{id}", delete(delete_webhook))
        .route("/api/webhooks/{id}/deliveries", get(webhook_deliveries))
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
