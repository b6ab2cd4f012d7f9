//! The dispatcher: takes due deliveries from the store, sends each, and records how it went.
//! A failed attempt is retried after 1 s, 2 s, 4 s, … (at most 10 minutes apart), up to
//! [`MAX_ATTEMPTS`] attempts in all; then the delivery is `failed`. Everything is in the store:
//! a restarted gateway, or another one on the same database, carries on where this one stopped
//! (a delivery a dead process had claimed comes back when its lease ends).

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;

use sha2::{Digest, Sha256};

use super::webhook::{self, Sent};
use super::{Notice, Notifier, push};
use crate::clock::{now_ms, now_secs};
use crate::store::{
    ActionToken, AttemptResult, NotifyEvent, Outbound, OutboundState, PushSubscription, Target,
};

/// Attempts per delivery, the first included.
pub const MAX_ATTEMPTS: u32 = 10;
/// A claimed delivery is left alone by other processes this long (ms): longer than an attempt.
const LEASE_MS: i64 = 60_000;
/// Deliveries taken at a time.
const CLAIM: usize = 32;
/// Without a bell, the store is looked at this often (deliveries queued by another gateway
/// process, retries coming due).
const POLL: Duration = Duration::from_secs(1);
/// A push action's token is good this long (ms): longer than a request waits by default.
pub const ACTION_TOKEN_MS: i64 = 15 * 60 * 1000;
/// Settled deliveries stay in the log this long (ms).
const KEEP_MS: i64 = 7 * 24 * 60 * 60 * 1000;
const PRUNE_EVERY: Duration = Duration::from_secs(60 * 60);

/// The wait before attempt `attempts + 1`, after `attempts` failed ones (ms).
pub fn retry_delay_ms(attempts: u32) -> i64 {
    let exp = attempts.saturating_sub(1).min(20);
    (1_000i64 << exp).min(10 * 60 * 1000)
}

/// Send what is due, forever; spawned beside the server.
pub async fn run_forever(notifier: Arc<Notifier>) {
    let mut pruned = tokio::time::Instant::now();
    loop {
        // Registered before the claim, so a delivery queued meanwhile still wakes us.
        let rung = notifier.bell.notified();
        tokio::pin!(rung);
        rung.as_mut().enable();
        let now = now_ms();
        match notifier
            .store
            .claim_outbound(now, now + LEASE_MS, CLAIM)
            .await
        {
            Ok(due) if !due.is_empty() => {
                let mut attempts = JoinSet::new();
                for delivery in due {
                    let notifier = notifier.clone();
                    attempts.spawn(async move { notifier.attempt(delivery).await });
                }
                while attempts.join_next().await.is_some() {}
                continue;
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "notifications: claiming deliveries failed"),
        }
        if pruned.elapsed() >= PRUNE_EVERY {
            pruned = tokio::time::Instant::now();
            if let Err(e) = notifier.store.prune_outbound(now_ms() - KEEP_MS).await {
                tracing::warn!(error = %e, "notifications: pruning the delivery log failed");
            }
        }
        let _ = tokio::time::timeout(POLL, rung).await;
    }
}

impl Notifier {
    /// One attempt at `d`, recorded.
    async fn attempt(&self, d: Outbound) {
        let result = match self.still_true(&d).await {
            false => AttemptResult {
                state: OutboundState::Skipped,
                next_at: now_ms(),
                attempted: false,
                status: None,
                error: None,
                at: now_ms(),
            },
            true => {
                let sent = self.send(&d).await;
                judge(&d, sent, now_ms())
            }
        };
        let state = result.state;
        match self.store.finish_attempt(d.id.clone(), result).await {
            Ok(_) => {
                tracing::debug!(delivery = %d.id, state = state.as_str(), "notification attempt")
            }
            Err(e) => {
                tracing::warn!(delivery = %d.id, error = %e, "notifications: recording an attempt failed")
            }
        }
    }

    /// Whether the notice still holds: a run waiting for input must still be waiting.
    async fn still_true(&self, d: &Outbound) -> bool {
        if d.event != NotifyEvent::WaitingForInput {
            return true;
        }
        let Some(run_id) = &d.run_id else { return true };
        match self.store.run(run_id.clone()).await {
            Ok(Some(run)) => {
                run.summary.status == common::wire::RunStatus::Running
                    && run.summary.claude.is_some_and(|c| c.between_turns)
            }
            Ok(None) => false,
            // Cannot tell: send rather than lose it.
            Err(_) => true,
        }
    }

    async fn send(&self, d: &Outbound) -> Sent {
        match &d.target {
            Target::Webhook(id) => {
                let hooks = match self.store.webhooks().await {
                    Ok(hooks) => hooks,
                    Err(e) => return Sent::Unreachable(format!("reading the webhook failed: {e}")),
                };
                let Some(hook) = hooks.iter().find(|h| &h.id == id) else {
                    return Sent::Unreachable("the webhook was deleted".into());
                };
                webhook::send(
                    &self.http,
                    hook,
                    &d.id,
                    d.event.as_str(),
                    &d.body,
                    now_secs(),
                )
                .await
            }
            Target::Push(id) => {
                let subs = match self.store.push_subscriptions().await {
                    Ok(subs) => subs,
                    Err(e) => {
                        return Sent::Unreachable(format!("reading the subscription failed: {e}"));
                    }
                };
                let Some(sub) = subs.iter().find(|s| &s.id == id) else {
                    return Sent::Unreachable("the subscription was deleted".into());
                };
                let Some(vapid) = &self.vapid else {
                    return Sent::Unreachable("Web Push is off (no VAPID key)".into());
                };
                let payload = match self.push_payload(d, sub).await {
                    Ok(p) => p,
                    Err(e) => return Sent::Unreachable(format!("{e:#}")),
                };
                let urgent = d.event == NotifyEvent::NeedsApproval;
                let sent = push::send(&self.http, vapid, sub, &payload, urgent, now_secs()).await;
                if let Sent::Refused(404 | 410) = sent {
                    // The push service forgot the subscription (the browser unsubscribed).
                    let _ = self.store.delete_push_subscription(sub.id.clone()).await;
                }
                sent
            }
        }
    }

    /// What a push notification carries: the notice, a title and a line, the page to open, and
    /// for an approval the Allow and Deny actions with a fresh single-use token, bound to the
    /// request and to the session that subscribed (`PROTOCOL.md`, "Web Push").
    async fn push_payload(&self, d: &Outbound, sub: &PushSubscription) -> anyhow::Result<Vec<u8>> {
        let notice: Notice = serde_json::from_str(&d.body)?;
        let (title, body) = notice.words();
        let mut payload = serde_json::json!({
            "title": title,
            "body": body,
            "url": format!("/runs/{}", notice.run.id),
            "tag": format!("{}:{}", notice.run.id, notice.event.as_str()),
            "notice": notice,
        });
        if let Some(approval) = &notice.approval {
            let token = crate::secrets::random_token(32)?;
            self.store
                .save_action_token(ActionToken {
                    hash: Sha256::digest(token.as_bytes()).into(),
                    run_id: notice.run.id.clone(),
                    request_id: approval.request_id.clone(),
                    session_hash: sub.session_hash,
                    expires_at: now_ms() + ACTION_TOKEN_MS,
                })
                .await?;
            payload["tag"] = format!("{}:{}", notice.run.id, approval.request_id).into();
            payload["actions"] = serde_json::json!([
                {"action": "allow", "title": "Allow"},
                {"action": "deny", "title": "Deny"}
            ]);
            payload["action"] = serde_json::json!({"url": "/api/push/action", "token": token});
        }
        Ok(serde_json::to_vec(&payload)?)
    }
}

/// What an attempt's outcome makes of the delivery.
fn judge(d: &Outbound, sent: Sent, now: i64) -> AttemptResult {
    let attempts = d.attempts + 1;
    let (status, error) = match sent {
        Sent::Delivered(status) => {
            return AttemptResult {
                state: OutboundState::Delivered,
                next_at: now,
                attempted: true,
                status: Some(status),
                error: None,
                at: now,
            };
        }
        Sent::Refused(status) if (300..400).contains(&status) => (
            Some(status),
            format!("answered {status}; redirects are not followed"),
        ),
        Sent::Refused(status) => (Some(status), format!("answered {status}")),
        Sent::Unreachable(why) => (None, why),
    };
    let gone = matches!(d.target, Target::Push(_)) && matches!(status, Some(404 | 410));
    let give_up = gone || attempts >= MAX_ATTEMPTS;
    AttemptResult {
        state: if give_up {
            OutboundState::Failed
        } else {
            OutboundState::Pending
        },
        next_at: if give_up {
            now
        } else {
            now + retry_delay_ms(attempts)
        },
        attempted: true,
        status,
        error: Some(error),
        at: now,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(attempts: u32, target: Target) -> Outbound {
        Outbound {
            id: "dl_1".into(),
            target,
            event: NotifyEvent::Finished,
            run_id: None,
            body: "{}".into(),
            state: OutboundState::Pending,
            attempts,
            next_at: 0,
            last_status: None,
            last_error: None,
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn backoff_doubles_up_to_ten_minutes() {
        let delays: Vec<i64> = (1..=12).map(retry_delay_ms).collect();
        assert_eq!(
            delays,
            [
                1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 64_000, 128_000, 256_000, 512_000,
                600_000, 600_000
            ]
        );
    }

    #[test]
    fn attempts_are_judged() {
        let hook = Target::Webhook("wh_1".into());
        let push = Target::Push("ps_1".into());
        let r = judge(&delivery(0, hook.clone()), Sent::Delivered(204), 100);
        assert_eq!(
            (r.state, r.status, r.error),
            (OutboundState::Delivered, Some(204), None)
        );
        let r = judge(&delivery(0, hook.clone()), Sent::Refused(500), 100);
        assert_eq!((r.state, r.next_at), (OutboundState::Pending, 1_100));
        assert_eq!(r.error.as_deref(), Some("answered 500"));
        let r = judge(&delivery(2, hook.clone()), Sent::Refused(307), 100);
        assert_eq!((r.state, r.next_at), (OutboundState::Pending, 4_100));
        assert!(r.error.unwrap().contains("redirects are not followed"));
        let r = judge(
            &delivery(MAX_ATTEMPTS - 1, hook.clone()),
            Sent::Unreachable("refused".into()),
            100,
        );
        assert_eq!((r.state, r.status), (OutboundState::Failed, None));
        // A push service that says the subscription is gone: no retry.
        let r = judge(&delivery(0, push.clone()), Sent::Refused(410), 100);
        assert_eq!(r.state, OutboundState::Failed);
        let r = judge(&delivery(0, hook), Sent::Refused(410), 100);
        assert_eq!(r.state, OutboundState::Pending);
    }
}
