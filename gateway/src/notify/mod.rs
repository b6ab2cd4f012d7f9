//! Notifications: who is told what, and getting it to them. An ingest batch that stores a
//! permission request, the end of a turn (waiting for input) or the end of a run makes
//! [`Notice`]s (`notice.rs`); [`Notifier::publish`] queues one delivery per webhook and per
//! push subscription that wants the event, in the store, and rings the dispatcher
//! (`dispatch.rs`), which sends them, retries with backoff and records each attempt: the queue
//! and the delivery log are one table, so a restart loses nothing queued.
//!
//! What leaves the gateway is the notice alone: the run's id, name, status and link, and for an
//! approval the request id and the tool's name. Never output, prompts, command lines or diffs.

mod dispatch;
mod notice;
mod push;
mod webhook;

use std::sync::Arc;

use common::wire::{RawEvent, RunSummary};
use tokio::sync::Notify;

pub use dispatch::{MAX_ATTEMPTS, retry_delay_ms, run_forever};
pub use notice::{Notice, NoticeApproval, NoticeRun, from_batch};
pub use push::{MAX_PAYLOAD, Vapid, check_push_endpoint};
pub use webhook::{check_webhook_url, new_webhook_secret};

use crate::clock::now_ms;
use crate::store::{AppendOutcome, NewOutbound, NotifyEvent, Store, StoreError, Target};

/// A `waiting_for_input` notice waits this long before it is sent, and is dropped if the run no
/// longer waits by then (a single-turn run on its way to `finished`).
pub const WAITING_DELAY_MS: i64 = 3_000;

/// The notification side of the gateway: the store, the outbound HTTP client, and the
/// dispatcher's bell.
pub struct Notifier {
    store: Arc<dyn Store>,
    http: reqwest::Client,
    bell: Notify,
    base_url: String,
    /// The VAPID key pushes are signed with; `None`: no Web Push.
    vapid: Option<Vapid>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl Notifier {
    /// `base_url` is where people open the gateway (the links in notices); `vapid` signs Web
    /// Push requests (without it, push subscriptions are refused).
    pub fn new(
        store: Arc<dyn Store>,
        base_url: String,
        vapid: Option<Vapid>,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            store,
            http: webhook::client()?,
            bell: Notify::new(),
            base_url,
            vapid,
        })
    }

    /// The VAPID public key browsers subscribe with (base64url), if Web Push is on.
    pub fn vapid_public_key(&self) -> Option<String> {
        self.vapid.as_ref().map(Vapid::public_key)
    }

    /// Queue `notices` for every webhook and push subscription that wants their event, then
    /// wake the dispatcher.
    pub async fn publish(&self, notices: Vec<Notice>) -> Result<(), StoreError> {
        if notices.is_empty() {
            return Ok(());
        }
        let webhooks = self.store.webhooks().await?;
        let subscriptions = self.store.push_subscriptions().await?;
        let now = now_ms();
        let mut items = Vec::new();
        for notice in &notices {
            let body = serde_json::to_string(notice)
                .map_err(|e| StoreError::Backend(format!("encode notice: {e}")))?;
            let not_before = match notice.event {
                NotifyEvent::WaitingForInput => now + WAITING_DELAY_MS,
                _ => now,
            };
            let targets = webhooks
                .iter()
                .filter(|w| w.events.contains(&notice.event))
                .map(|w| Target::Webhook(w.id.clone()))
                .chain(
                    subscriptions
                        .iter()
                        .filter(|s| s.events.contains(&notice.event))
                        .map(|s| Target::Push(s.id.clone())),
                );
            for target in targets {
                items.push(NewOutbound {
                    target,
                    event: notice.event,
                    run_id: Some(notice.run.id.clone()),
                    body: body.clone(),
                    not_before,
                    created_at: now,
                });
            }
        }
        if !items.is_empty() {
            self.store.enqueue_outbound(items).await?;
            self.bell.notify_one();
        }
        Ok(())
    }

    /// A notice of `event` for each of `runs`, for what happened to them outside their own
    /// events: their agent went offline (`agent_offline`), or came back without them and they
    /// are `lost` (`failed`). A failure is logged: the change itself is stored either way.
    pub async fn runs_changed(&self, event: NotifyEvent, runs: &[RunSummary]) {
        let now = now_ms();
        let notices = runs
            .iter()
            .map(|r| Notice::new(event, r, &self.base_url, now))
            .collect();
        if let Err(e) = self.publish(notices).await {
            tracing::warn!(error = %e, event = event.as_str(), "notifications: queueing failed");
        }
    }

    /// After ingest committed a batch: publish what it makes. A failure is logged, never the
    /// batch's: the runner's events are stored either way.
    pub async fn after_ingest(&self, run_id: &str, events: &[RawEvent], outcome: &AppendOutcome) {
        if outcome.inserted == 0 || !events.iter().any(might_notify) {
            return;
        }
        let run = match self.store.run(run_id.to_string()).await {
            Ok(Some(run)) => run.summary,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(run = %run_id, error = %e, "notifications: reading the run failed");
                return;
            }
        };
        let notices = from_batch(
            events,
            outcome.inserted,
            outcome.acked_through,
            &run,
            &self.base_url,
            now_ms(),
        );
        if let Err(e) = self.publish(notices).await {
            tracing::warn!(run = %run_id, error = %e, "notifications: queueing failed");
        }
    }
}

/// A cheap look before parsing: only these markers notify.
fn might_notify(e: &RawEvent) -> bool {
    e.kind == common::wire::EventKind::Marker && {
        let data = e.data.get();
        data.contains("permission_request")
            || data.contains("turn_finished")
            || data.contains("\"finished\"")
    }
}
