//! The SQL of notifications: webhooks, push subscriptions, the outbound deliveries and the push
//! actions' tokens (migration 7).
//!
//! A claim is one `UPDATE … RETURNING` on the writer, so no two claims (of this process or, the
//! database being locked for the write, of another) take the same delivery within its lease.

use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior};

use super::codec::bad_column;
use super::conn::backend;
use crate::store::{
    ActionToken, AttemptResult, NewOutbound, NewWebhook, NotifyEvent, Outbound, OutboundState,
    PushSubscription, StoreError, Target, Webhook, WebhookFormat,
};

/// Event names as stored: comma-separated.
fn encode_events(events: &[NotifyEvent]) -> String {
    events
        .iter()
        .map(|e| e.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

fn decode_events(index: usize, text: &str) -> rusqlite::Result<Vec<NotifyEvent>> {
    text.split(',')
        .filter(|s| !s.is_empty())
        .map(|name| {
            NotifyEvent::parse(name)
                .ok_or_else(|| bad_column(index, Type::Text, format!("unknown event {name:?}")))
        })
        .collect()
}

fn format_name(format: WebhookFormat) -> &'static str {
    match format {
        WebhookFormat::Json => "json",
        WebhookFormat::Slack => "slack",
    }
}

fn hash_column(row: &Row<'_>, index: usize) -> rusqlite::Result<[u8; 32]> {
    let bytes: Vec<u8> = row.get(index)?;
    bytes
        .try_into()
        .map_err(|_| bad_column(index, Type::Blob, "a hash is not 32 bytes"))
}

const WEBHOOK_COLUMNS: &str = "id, url, secret, events, format, created_at";

fn webhook(row: &Row<'_>) -> rusqlite::Result<Webhook> {
    let events: String = row.get(3)?;
    let format: String = row.get(4)?;
    Ok(Webhook {
        id: row.get(0)?,
        url: row.get(1)?,
        secret: row.get(2)?,
        events: decode_events(3, &events)?,
        format: match format.as_str() {
            "json" => WebhookFormat::Json,
            "slack" => WebhookFormat::Slack,
            other => {
                return Err(bad_column(
                    4,
                    Type::Text,
                    format!("unknown format {other:?}"),
                ));
            }
        },
        created_at: row.get(5)?,
    })
}

pub(super) fn create_webhook(conn: &Connection, w: NewWebhook) -> Result<Webhook, StoreError> {
    let sql = format!(
        "INSERT INTO webhooks (id, url, secret, events, format, created_at)
         VALUES ('wh_' || lower(hex(randomblob(16))), ?1, ?2, ?3, ?4, ?5)
         RETURNING {WEBHOOK_COLUMNS}"
    );
    conn.prepare_cached(&sql)
        .and_then(|mut stmt| {
            stmt.query_row(
                rusqlite::params![
                    w.url,
                    w.secret,
                    encode_events(&w.events),
                    format_name(w.format),
                    w.created_at
                ],
                webhook,
            )
        })
        .map_err(|e| backend("create webhook", e))
}

pub(super) fn webhooks(conn: &Connection) -> Result<Vec<Webhook>, StoreError> {
    let sql = format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks ORDER BY created_at, rowid");
    conn.prepare_cached(&sql)
        .and_then(|mut stmt| stmt.query_map([], webhook)?.collect())
        .map_err(|e| backend("read webhooks", e))
}

/// Deletes the row of `table` with `id` and the deliveries to it, in one transaction.
fn delete_target(conn: &mut Connection, target: Target) -> Result<bool, StoreError> {
    let table = match target {
        Target::Webhook(_) => "webhooks",
        Target::Push(_) => "push_subscriptions",
    };
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| backend("begin delete", e))?;
    let deleted = tx
        .execute(&format!("DELETE FROM {table} WHERE id = ?1"), [target.id()])
        .map_err(|e| backend(format!("delete from {table}"), e))?;
    tx.execute(
        "DELETE FROM outbound WHERE target_kind = ?1 AND target_id = ?2",
        [target.kind(), target.id()],
    )
    .map_err(|e| backend("delete deliveries", e))?;
    tx.commit().map_err(|e| backend("commit delete", e))?;
    Ok(deleted > 0)
}

pub(super) fn delete_webhook(conn: &mut Connection, id: String) -> Result<bool, StoreError> {
    delete_target(conn, Target::Webhook(id))
}

const SUBSCRIPTION_COLUMNS: &str = "id, endpoint, p256dh, auth, session_hash, events, created_at";

fn subscription(row: &Row<'_>) -> rusqlite::Result<PushSubscription> {
    let events: String = row.get(5)?;
    Ok(PushSubscription {
        id: row.get(0)?,
        endpoint: row.get(1)?,
        p256dh: row.get(2)?,
        auth: row.get(3)?,
        session_hash: hash_column(row, 4)?,
        events: decode_events(5, &events)?,
        created_at: row.get(6)?,
    })
}

pub(super) fn save_push_subscription(
    conn: &mut Connection,
    s: PushSubscription,
) -> Result<PushSubscription, StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| backend("begin subscription", e))?;
    // Subscribing again replaces the old subscription and what was queued for it.
    let old: Option<String> = tx
        .query_row(
            "DELETE FROM push_subscriptions WHERE endpoint = ?1 RETURNING id",
            [&s.endpoint],
            |row| row.get(0),
        )
        .optional()
        .map_err(|e| backend("replace subscription", e))?;
    if let Some(old) = old {
        tx.execute(
            "DELETE FROM outbound WHERE target_kind = 'push' AND target_id = ?1",
            [old],
        )
        .map_err(|e| backend("delete deliveries", e))?;
    }
    let sql = format!(
        "INSERT INTO push_subscriptions (id, endpoint, p256dh, auth, session_hash, events, created_at)
         VALUES ('ps_' || lower(hex(randomblob(16))), ?1, ?2, ?3, ?4, ?5, ?6)
         RETURNING {SUBSCRIPTION_COLUMNS}"
    );
    let saved = tx
        .query_row(
            &sql,
            rusqlite::params![
                s.endpoint,
                s.p256dh,
                s.auth,
                &s.session_hash[..],
                encode_events(&s.events),
                s.created_at
            ],
            subscription,
        )
        .map_err(|e| backend("save subscription", e))?;
    tx.commit().map_err(|e| backend("commit subscription", e))?;
    Ok(saved)
}

pub(super) fn push_subscriptions(conn: &Connection) -> Result<Vec<PushSubscription>, StoreError> {
    let sql =
        format!("SELECT {SUBSCRIPTION_COLUMNS} FROM push_subscriptions ORDER BY created_at, rowid");
    conn.prepare_cached(&sql)
        .and_then(|mut stmt| stmt.query_map([], subscription)?.collect())
        .map_err(|e| backend("read subscriptions", e))
}

pub(super) fn delete_push_subscription(
    conn: &mut Connection,
    id: String,
) -> Result<bool, StoreError> {
    delete_target(conn, Target::Push(id))
}

const OUTBOUND_COLUMNS: &str = "id, target_kind, target_id, event, run_id, body, state, attempts, \
                                next_at, last_status, last_error, created_at, updated_at";

fn outbound(row: &Row<'_>) -> rusqlite::Result<Outbound> {
    let kind: String = row.get(1)?;
    let target_id: String = row.get(2)?;
    let event: String = row.get(3)?;
    let state: String = row.get(6)?;
    Ok(Outbound {
        id: row.get(0)?,
        target: match kind.as_str() {
            "webhook" => Target::Webhook(target_id),
            "push" => Target::Push(target_id),
            other => {
                return Err(bad_column(
                    1,
                    Type::Text,
                    format!("unknown target {other:?}"),
                ));
            }
        },
        event: NotifyEvent::parse(&event)
            .ok_or_else(|| bad_column(3, Type::Text, format!("unknown event {event:?}")))?,
        run_id: row.get(4)?,
        body: row.get(5)?,
        state: OutboundState::parse(&state)
            .ok_or_else(|| bad_column(6, Type::Text, format!("unknown state {state:?}")))?,
        attempts: row.get(7)?,
        next_at: row.get(8)?,
        last_status: row.get(9)?,
        last_error: row.get(10)?,
        created_at: row.get(11)?,
        updated_at: row.get(12)?,
    })
}

pub(super) fn enqueue_outbound(
    conn: &mut Connection,
    items: Vec<NewOutbound>,
) -> Result<Vec<String>, StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| backend("begin enqueue", e))?;
    let mut ids = Vec::with_capacity(items.len());
    {
        let mut stmt = tx
            .prepare_cached(
                "INSERT INTO outbound (id, target_kind, target_id, event, run_id, body, state,
                     attempts, next_at, created_at, updated_at)
                 VALUES ('dl_' || lower(hex(randomblob(16))), ?1, ?2, ?3, ?4, ?5, 'pending',
                     0, ?6, ?7, ?7)
                 RETURNING id",
            )
            .map_err(|e| backend("prepare enqueue", e))?;
        for item in items {
            let id: String = stmt
                .query_row(
                    rusqlite::params![
                        item.target.kind(),
                        item.target.id(),
                        item.event.as_str(),
                        item.run_id,
                        item.body,
                        item.not_before,
                        item.created_at
                    ],
                    |row| row.get(0),
                )
                .map_err(|e| backend("enqueue delivery", e))?;
            ids.push(id);
        }
    }
    tx.commit().map_err(|e| backend("commit enqueue", e))?;
    Ok(ids)
}

pub(super) fn claim_outbound(
    conn: &Connection,
    now: i64,
    lease_until: i64,
    limit: usize,
) -> Result<Vec<Outbound>, StoreError> {
    let sql = format!(
        "UPDATE outbound SET next_at = ?2
         WHERE id IN (SELECT id FROM outbound WHERE state = 'pending' AND next_at <= ?1
                      ORDER BY next_at, created_at LIMIT ?3)
         RETURNING {OUTBOUND_COLUMNS}"
    );
    let mut claimed: Vec<Outbound> = conn
        .prepare_cached(&sql)
        .and_then(|mut stmt| {
            stmt.query_map(rusqlite::params![now, lease_until, limit as i64], outbound)?
                .collect()
        })
        .map_err(|e| backend("claim deliveries", e))?;
    claimed.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    Ok(claimed)
}

pub(super) fn finish_attempt(
    conn: &Connection,
    id: String,
    r: AttemptResult,
) -> Result<bool, StoreError> {
    conn.prepare_cached(
        "UPDATE outbound SET state = ?2, next_at = ?3, attempts = attempts + ?4,
             last_status = CASE WHEN ?4 = 1 THEN ?5 ELSE last_status END,
             last_error = CASE WHEN ?4 = 1 THEN ?6 ELSE last_error END,
             updated_at = ?7
         WHERE id = ?1",
    )
    .and_then(|mut stmt| {
        stmt.execute(rusqlite::params![
            id,
            r.state.as_str(),
            r.next_at,
            i64::from(r.attempted),
            r.status,
            r.error,
            r.at
        ])
    })
    .map(|n| n > 0)
    .map_err(|e| backend("record attempt", e))
}

pub(super) fn outbound_log(
    conn: &Connection,
    target: Option<Target>,
    limit: usize,
) -> Result<Vec<Outbound>, StoreError> {
    let limit = limit as i64;
    match target {
        Some(t) => {
            let sql = format!(
                "SELECT {OUTBOUND_COLUMNS} FROM outbound WHERE target_kind = ?1 AND target_id = ?2
                 ORDER BY created_at DESC, rowid DESC LIMIT ?3"
            );
            conn.prepare_cached(&sql).and_then(|mut stmt| {
                stmt.query_map(rusqlite::params![t.kind(), t.id(), limit], outbound)?
                    .collect()
            })
        }
        None => {
            let sql = format!(
                "SELECT {OUTBOUND_COLUMNS} FROM outbound ORDER BY created_at DESC, rowid DESC LIMIT ?1"
            );
            conn.prepare_cached(&sql)
                .and_then(|mut stmt| stmt.query_map([limit], outbound)?.collect())
        }
    }
    .map_err(|e| backend("read delivery log", e))
}

pub(super) fn prune_outbound(conn: &mut Connection, before: i64) -> Result<u64, StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| backend("begin prune", e))?;
    let n = tx
        .execute(
            "DELETE FROM outbound WHERE state <> 'pending' AND updated_at < ?1",
            [before],
        )
        .map_err(|e| backend("prune deliveries", e))?;
    tx.execute("DELETE FROM action_tokens WHERE expires_at < ?1", [before])
        .map_err(|e| backend("prune action tokens", e))?;
    tx.commit().map_err(|e| backend("commit prune", e))?;
    Ok(n as u64)
}

pub(super) fn save_action_token(conn: &Connection, t: ActionToken) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO action_tokens (hash, run_id, request_id, session_hash, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .and_then(|mut stmt| {
        stmt.execute(rusqlite::params![
            &t.hash[..],
            t.run_id,
            t.request_id,
            &t.session_hash[..],
            t.expires_at
        ])
    })
    .map_err(|e| backend("save action token", e))?;
    Ok(())
}

pub(super) fn take_action_token(
    conn: &Connection,
    hash: [u8; 32],
    now: i64,
) -> Result<Option<ActionToken>, StoreError> {
    let token = conn
        .prepare_cached(
            "DELETE FROM action_tokens WHERE hash = ?1
             RETURNING hash, run_id, request_id, session_hash, expires_at",
        )
        .and_then(|mut stmt| {
            stmt.query_row([&hash[..]], |row| {
                Ok(ActionToken {
                    hash: hash_column(row, 0)?,
                    run_id: row.get(1)?,
                    request_id: row.get(2)?,
                    session_hash: hash_column(row, 3)?,
                    expires_at: row.get(4)?,
                })
            })
            .optional()
        })
        .map_err(|e| backend("take action token", e))?;
    Ok(token.filter(|t| t.expires_at >= now))
}
