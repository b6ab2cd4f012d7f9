//! What the store keeps for notifications: webhooks, Web Push subscriptions, the outbound
//! deliveries waiting, sent or given up (the delivery log), and the single-use tokens of the
//! Allow/Deny actions a push notification carries. Types only; the trait methods are in
//! `mod.rs`, the domain in `crate::notify`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What a person or a webhook can be told about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyEvent {
    /// A tool call waits for a person's decision.
    NeedsApproval,
    /// A `--session` run finished a turn and waits for the next prompt.
    WaitingForInput,
    /// The run ended with exit code 0.
    Finished,
    /// The run ended otherwise.
    Failed,
    /// The run was stopped.
    Stopped,
    /// The agent holding the run stopped heartbeating.
    AgentOffline,
}

impl NotifyEvent {
    pub const ALL: [NotifyEvent; 6] = [
        NotifyEvent::NeedsApproval,
        NotifyEvent::WaitingForInput,
        NotifyEvent::Finished,
        NotifyEvent::Failed,
        NotifyEvent::Stopped,
        NotifyEvent::AgentOffline,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NotifyEvent::NeedsApproval => "needs_approval",
            NotifyEvent::WaitingForInput => "waiting_for_input",
            NotifyEvent::Finished => "finished",
            NotifyEvent::Failed => "failed",
            NotifyEvent::Stopped => "stopped",
            NotifyEvent::AgentOffline => "agent_offline",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == name)
    }
}

/// The body a webhook receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum WebhookFormat {
    /// The generic JSON document (`PROTOCOL.md`, "Webhooks").
    #[default]
    Json,
    /// `{"text": "…"}`, what a Slack (or Mattermost, Discord `/slack`) incoming webhook takes.
    Slack,
}

/// A webhook to create.
pub struct NewWebhook {
    pub url: String,
    /// Signs every delivery; the gateway needs it in clear to sign.
    pub secret: String,
    pub events: Vec<NotifyEvent>,
    pub format: WebhookFormat,
    /// Unix ms.
    pub created_at: i64,
}

impl fmt::Debug for NewWebhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewWebhook")
            .field("url", &self.url)
            .field("secret", &"********")
            .field("events", &self.events)
            .field("format", &self.format)
            .finish()
    }
}

/// A stored webhook.
#[derive(Clone, PartialEq)]
pub struct Webhook {
    /// `wh_` + 32 hex digits.
    pub id: String,
    pub url: String,
    pub secret: String,
    pub events: Vec<NotifyEvent>,
    pub format: WebhookFormat,
    pub created_at: i64,
}

impl fmt::Debug for Webhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Webhook")
            .field("id", &self.id)
            .field("url", &self.url)
            .field("secret", &"********")
            .field("events", &self.events)
            .field("format", &self.format)
            .finish()
    }
}

/// A browser's Web Push subscription, owned by the sign-in session that made it.
#[derive(Clone, PartialEq)]
pub struct PushSubscription {
    /// `ps_` + 32 hex digits; given by the store.
    pub id: String,
    /// The push service's URL for this browser (unique: subscribing again replaces).
    pub endpoint: String,
    /// The browser's P-256 public key, uncompressed (65 bytes).
    pub p256dh: Vec<u8>,
    /// The browser's authentication secret (16 bytes).
    pub auth: Vec<u8>,
    /// SHA-256 of the session cookie that subscribed: whose decisions its actions carry.
    pub session_hash: [u8; 32],
    pub events: Vec<NotifyEvent>,
    pub created_at: i64,
}

impl fmt::Debug for PushSubscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PushSubscription")
            .field("id", &self.id)
            .field("endpoint", &self.endpoint)
            .field("events", &self.events)
            .finish_non_exhaustive()
    }
}

/// Where an outbound delivery goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A webhook, by id.
    Webhook(String),
    /// A push subscription, by id.
    Push(String),
}

impl Target {
    pub fn kind(&self) -> &'static str {
        match self {
            Target::Webhook(_) => "webhook",
            Target::Push(_) => "push",
        }
    }

    pub fn id(&self) -> &str {
        match self {
            Target::Webhook(id) | Target::Push(id) => id,
        }
    }
}

/// A delivery to queue.
#[derive(Debug, Clone, PartialEq)]
pub struct NewOutbound {
    pub target: Target,
    pub event: NotifyEvent,
    pub run_id: Option<String>,
    /// The notification as JSON (`crate::notify::Notice`): what is sent, and nothing about the
    /// run's output.
    pub body: String,
    /// Unix ms: not sent before.
    pub not_before: i64,
    pub created_at: i64,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutboundState {
    /// Waiting for its first or next attempt.
    Pending,
    /// The receiver answered 2xx.
    Delivered,
    /// Given up: out of attempts, or the receiver is gone.
    Failed,
    /// Not sent: no longer true when its time came (a run no longer waiting for input).
    Skipped,
}

impl OutboundState {
    pub fn as_str(self) -> &'static str {
        match self {
            OutboundState::Pending => "pending",
            OutboundState::Delivered => "delivered",
            OutboundState::Failed => "failed",
            OutboundState::Skipped => "skipped",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        [Self::Pending, Self::Delivered, Self::Failed, Self::Skipped]
            .into_iter()
            .find(|s| s.as_str() == name)
    }
}

/// A stored delivery: a line of the delivery log.
#[derive(Debug, Clone, PartialEq)]
pub struct Outbound {
    /// `dl_` + 32 hex digits: the same for every attempt (`X-Webhook-Id`).
    pub id: String,
    pub target: Target,
    pub event: NotifyEvent,
    pub run_id: Option<String>,
    pub body: String,
    pub state: OutboundState,
    pub attempts: u32,
    /// Unix ms of the next attempt (while pending; a claim moves it past its lease).
    pub next_at: i64,
    /// The last attempt's HTTP status, if one came back.
    pub last_status: Option<u16>,
    /// Why the last attempt failed, in words (never a receiver's body).
    pub last_error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// How an attempt ended, as [`super::Store::finish_attempt`] records it.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptResult {
    /// `Pending` (with `next_at`: retry then), `Delivered`, `Failed` or `Skipped`.
    pub state: OutboundState,
    pub next_at: i64,
    /// Whether an attempt was made (a skip makes none).
    pub attempted: bool,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub at: i64,
}

/// A single-use token of a push notification's Allow/Deny action, kept by its SHA-256.
#[derive(Clone, PartialEq, Eq)]
pub struct ActionToken {
    pub hash: [u8; 32],
    pub run_id: String,
    pub request_id: String,
    /// The session whose subscription received it: only that session can use it.
    pub session_hash: [u8; 32],
    /// Unix ms.
    pub expires_at: i64,
}

impl fmt::Debug for ActionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActionToken")
            .field("run_id", &self.run_id)
            .field("request_id", &self.request_id)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}
