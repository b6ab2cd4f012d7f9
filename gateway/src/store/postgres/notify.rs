//! Webhooks, push subscriptions, the outbound deliveries to them and push actions' tokens. A
//! delivery is claimed with `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED)`, so two
//! replicas polling at once never take the same one; an action token is taken with
//! `DELETE … RETURNING`, once.

use tokio_postgres::Row;

use super::Conn;
use super::codec::{backend, bad, col, col_bytes, limit, random_id, rows};
use crate::store::{
    ActionToken, AttemptResult, NewOutbound, NewWebhook, NotifyEvent, Outbound, OutboundState,
    PushSubscription, StoreError, Target, Webhook, WebhookFormat,
};

fn encode_events(events: &[NotifyEvent]) -> String {
    events
        .iter()
        .map(|e| e.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

fn decode_events(text: &str) -> Result<Vec<NotifyEvent>, StoreError> {
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(|name| NotifyEvent::parse(name).ok_or_else(|| bad(format!("unknown event {name:?}"))))
        .collect()
}

fn format_name(format: WebhookFormat) -> &'static str {
    match format {
        WebhookFormat::Json => "json",
        WebhookFormat::Slack => "slack",
    }
}

const WEBHOOK_COLUMNS: &str = "id, url, secret, events, format, created_at";

fn webhook(row: &Row) -> Result<Webhook, StoreError> {
    let format: &str = col(row, 4)?;
    Ok(Webhook {
        id: col(row, 0)?,
        url: col(row, 1)?,
        secret: col(row, 2)?,
        events: decode_events(col(row, 3)?)?,
        format: match format {
            "json" => WebhookFormat::Json,
            "slack" => WebhookFormat::Slack,
            other => return Err(bad(format!("unknown format {other:?}"))),
        },
        created_at: col(row, 5)?,
    })
}

pub(super) async fn create_webhook(conn: Conn, w: NewWebhook) -> Result<Webhook, StoreError> {
    let row = conn
        .query_one(
            &format!(
                "INSERT INTO webhooks (id, url, secret, events, format, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING {WEBHOOK_COLUMNS}"
            ),
            &[
                &random_id("wh_")?,
                &w.url,
                &w.secret,
                &encode_events(&w.events),
                &format_name(w.format),
                &w.created_at,
            ],
        )
        .await
        .map_err(|e| backend("create webhook", e))?;
    webhook(&row)
}

pub(super) async fn webhooks(conn: Conn) -> Result<Vec<Webhook>, StoreError> {
    let found = conn
        .query(
            &format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks ORDER BY created_at, pos"),
            &[],
        )
        .await
        .map_err(|e| backend("read webhooks", e))?;
    rows(found, webhook)
}

/// Deletes a webhook or a subscription with its deliveries, in one transaction.
async fn delete_target(mut conn: Conn, target: Target) -> Result<bool, StoreError> {
    let table = match target {
        Target::Webhook(_) => "webhooks",
        Target::Push(_) => "push_subscriptions",
    };
    let tx = conn
        .transaction()
        .await
        .map_err(|e| backend("begin delete", e))?;
    let deleted = tx
        .execute(
            &format!("DELETE FROM {table} WHERE id = $1"),
            &[&target.id()],
        )
        .await
        .map_err(|e| backend(format!("delete from {table}"), e))?;
    tx.execute(
        "DELETE FROM outbound WHERE target_kind = $1 AND target_id = $2",
        &[&target.kind(), &target.id()],
    )
    .await
    .map_err(|e| backend("delete deliveries", e))?;
    tx.commit().await.map_err(|e| backend("commit delete", e))?;
    Ok(deleted > 0)
}

pub(super) async fn delete_webhook(conn: Conn, id: String) -> Result<bool, StoreError> {
    delete_target(conn, Target::Webhook(id)).await
}

const SUBSCRIPTION_COLUMNS: &str = "id, endpoint, p256dh, auth, session_hash, events, created_at";

fn subscription(row: &Row) -> Result<PushSubscription, StoreError> {
    Ok(PushSubscription {
        id: col(row, 0)?,
        endpoint: col(row, 1)?,
        p256dh: col(row, 2)?,
        auth: col(row, 3)?,
        session_hash: col_bytes(row, 4)?,
        events: decode_events(col(row, 5)?)?,
        created_at: col(row, 6)?,
    })
}

pub(super) async fn save_push_subscription(
    mut conn: Conn,
    s: PushSubscription,
) -> Result<PushSubscription, StoreError> {
    let tx = conn
        .transaction()
        .await
        .map_err(|e| backend("begin subscription", e))?;
    let old = tx
        .query_opt(
            "DELETE FROM push_subscriptions WHERE endpoint = $1 RETURNING id",
            &[&s.endpoint],
        )
        .await
        .map_err(|e| backend("replace subscription", e))?;
    if let Some(old) = old {
        let old: &str = col(&old, 0)?;
        tx.execute(
            "DELETE FROM outbound WHERE target_kind = 'push' AND target_id = $1",
            &[&old],
        )
        .await
        .map_err(|e| backend("delete deliveries", e))?;
    }
    let row = tx
        .query_one(
            &format!(
                "INSERT INTO push_subscriptions
                     (id, endpoint, p256dh, auth, session_hash, events, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {SUBSCRIPTION_COLUMNS}"
            ),
            &[
                &random_id("ps_")?,
                &s.endpoint,
                &s.p256dh,
                &s.auth,
                &&s.session_hash[..],
                &encode_events(&s.events),
                &s.created_at,
            ],
        )
        .await
        .map_err(|e| backend("save subscription", e))?;
    let saved = subscription(&row)?;
    tx.commit()
        .await
        .map_err(|e| backend("commit subscription", e))?;
    Ok(saved)
}

pub(super) async fn push_subscriptions(conn: Conn) -> Result<Vec<PushSubscription>, StoreError> {
    let found = conn
        .query(
            &format!(
                "SELECT {SUBSCRIPTION_COLUMNS} FROM push_subscriptions ORDER BY created_at, pos"
            ),
            &[],
        )
        .await
        .map_err(|e| backend("read subscriptions", e))?;
    rows(found, subscription)
}

pub(super) async fn delete_push_subscription(conn: Conn, id: String) -> Result<bool, StoreError> {
    delete_target(conn, Target::Push(id)).await
}

const OUTBOUND_COLUMNS: &str = "id, target_kind, target_id, event, run_id, body, state, attempts, \
                                next_at, last_status, last_error, created_at, updated_at";

fn outbound(row: &Row) -> Result<Outbound, StoreError> {
    let kind: &str = col(row, 1)?;
    let target_id: String = col(row, 2)?;
    let event: &str = col(row, 3)?;
    let state: &str = col(row, 6)?;
    let attempts: i32 = col(row, 7)?;
    let last_status: Option<i32> = col(row, 9)?;
    Ok(Outbound {
        id: col(row, 0)?,
        target: match kind {
            "webhook" => Target::Webhook(target_id),
            "push" => Target::Push(target_id),
            other => return Err(bad(format!("unknown target {other:?}"))),
        },
        event: NotifyEvent::parse(event).ok_or_else(|| bad(format!("unknown event {event:?}")))?,
        run_id: col(row, 4)?,
        body: col(row, 5)?,
        state: OutboundState::parse(state)
            .ok_or_else(|| bad(format!("unknown state {state:?}")))?,
        attempts: u32::try_from(attempts).unwrap_or(0),
        next_at: col(row, 8)?,
        last_status: last_status.and_then(|s| u16::try_from(s).ok()),
        last_error: col(row, 10)?,
        created_at: col(row, 11)?,
        updated_at: col(row, 12)?,
    })
}

pub(super) async fn enqueue_outbound(
    mut conn: Conn,
    items: Vec<NewOutbound>,
) -> Result<Vec<String>, StoreError> {
    let tx = conn
        .transaction()
        .await
        .map_err(|e| backend("begin enqueue", e))?;
    let stmt = tx
        .prepare_cached(
            "INSERT INTO outbound (id, target_kind, target_id, event, run_id, body, state,
                 attempts, next_at, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, $8, $8)",
        )
        .await
        .map_err(|e| backend("prepare enqueue", e))?;
    let mut ids = Vec::with_capacity(items.len());
    for item in items {
        let id = random_id("dl_")?;
        tx.execute(
            &stmt,
            &[
                &id,
                &item.target.kind(),
                &item.target.id(),
                &item.event.as_str(),
                &item.run_id,
                &item.body,
                &item.not_before,
                &item.created_at,
            ],
        )
        .await
        .map_err(|e| backend("enqueue delivery", e))?;
        ids.push(id);
    }
    tx.commit()
        .await
        .map_err(|e| backend("commit enqueue", e))?;
    Ok(ids)
}

pub(super) async fn claim_outbound(
    conn: Conn,
    now: i64,
    lease_until: i64,
    n: usize,
) -> Result<Vec<Outbound>, StoreError> {
    let found = conn
        .query(
            &format!(
                "UPDATE outbound SET next_at = $2
                 WHERE id IN (SELECT id FROM outbound WHERE state = 'pending' AND next_at <= $1
                              ORDER BY next_at, created_at LIMIT $3 FOR UPDATE SKIP LOCKED)
                 RETURNING {OUTBOUND_COLUMNS}"
            ),
            &[&now, &lease_until, &limit(n)],
        )
        .await
        .map_err(|e| backend("claim deliveries", e))?;
    let mut claimed = rows(found, outbound)?;
    claimed.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    Ok(claimed)
}

pub(super) async fn finish_attempt(
    conn: Conn,
    id: String,
    r: AttemptResult,
) -> Result<bool, StoreError> {
    conn.execute(
        "UPDATE outbound SET state = $2, next_at = $3, attempts = attempts + $4,
             last_status = CASE WHEN $4 = 1 THEN $5 ELSE last_status END,
             last_error = CASE WHEN $4 = 1 THEN $6 ELSE last_error END,
             updated_at = $7
         WHERE id = $1",
        &[
            &id,
            &r.state.as_str(),
            &r.next_at,
            &i32::from(r.attempted),
            &r.status.map(i32::from),
            &r.error,
            &r.at,
        ],
    )
    .await
    .map(|n| n > 0)
    .map_err(|e| backend("record attempt", e))
}

pub(super) async fn outbound_log(
    conn: Conn,
    target: Option<Target>,
    n: usize,
) -> Result<Vec<Outbound>, StoreError> {
    let found = match target {
        Some(t) => {
            conn.query(
                &format!(
                    "SELECT {OUTBOUND_COLUMNS} FROM outbound
                     WHERE target_kind = $1 AND target_id = $2
                     ORDER BY created_at DESC, pos DESC LIMIT $3"
                ),
                &[&t.kind(), &t.id(), &limit(n)],
            )
            .await
        }
        None => {
            conn.query(
                &format!(
                    "SELECT {OUTBOUND_COLUMNS} FROM outbound
                     ORDER BY created_at DESC, pos DESC LIMIT $1"
                ),
                &[&limit(n)],
            )
            .await
        }
    }
    .map_err(|e| backend("read delivery log", e))?;
    rows(found, outbound)
}

pub(super) async fn prune_outbound(mut conn: Conn, before: i64) -> Result<u64, StoreError> {
    let tx = conn
        .transaction()
        .await
        .map_err(|e| backend("begin prune", e))?;
    let n = tx
        .execute(
            "DELETE FROM outbound WHERE state <> 'pending' AND updated_at < $1",
            &[&before],
        )
        .await
        .map_err(|e| backend("prune deliveries", e))?;
    tx.execute(
        "DELETE FROM action_tokens WHERE expires_at < $1",
        &[&before],
    )
    .await
    .map_err(|e| backend("prune action tokens", e))?;
    tx.commit().await.map_err(|e| backend("commit prune", e))?;
    Ok(n)
}

pub(super) async fn save_action_token(conn: Conn, t: ActionToken) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO action_tokens (hash, run_id, request_id, session_hash, expires_at)
         VALUES ($1, $2, $3, $4, $5)",
        &[
            &&t.hash[..],
            &t.run_id,
            &t.request_id,
            &&t.session_hash[..],
            &t.expires_at,
        ],
    )
    .await
    .map_err(|e| backend("save action token", e))?;
    Ok(())
}

pub(super) async fn take_action_token(
    conn: Conn,
    hash: [u8; 32],
    now: i64,
) -> Result<Option<ActionToken>, StoreError> {
    let row = conn
        .query_opt(
            "DELETE FROM action_tokens WHERE hash = $1
             RETURNING hash, run_id, request_id, session_hash, expires_at",
            &[&&hash[..]],
        )
        .await
        .map_err(|e| backend("take action token", e))?;
    let token = row
        .map(|row| {
            Ok::<_, StoreError>(ActionToken {
                hash: col_bytes(&row, 0)?,
                run_id: col(&row, 1)?,
                request_id: col(&row, 2)?,
                session_hash: col_bytes(&row, 3)?,
                expires_at: col(&row, 4)?,
            })
        })
        .transpose()?;
    Ok(token.filter(|t| t.expires_at >= now))
}
