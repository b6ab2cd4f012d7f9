//! Shared state of the running gateway, cloned into every handler.

use std::ops::Deref;
use std::sync::Arc;

use common::Secret;

use crate::auth::replay::NonceCache;
use crate::config::Limits;
use crate::store::Store;

/// Cheap to clone: one `Arc` around the real state.
#[derive(Clone, Debug)]
pub struct AppState(Arc<StateInner>);

pub struct StateInner {
    pub store: Arc<dyn Store>,
    pub hmac_secret: Secret,
    /// SHA-256 of `GATEWAY_METRICS_TOKEN`, which reads `/metrics` and nothing else.
    pub metrics_token_hash: Option<[u8; 32]>,
    pub nonces: NonceCache,
    /// Run keys read recently (runner requests are checked without reading the run each time).
    pub run_keys: crate::auth::run_keys::RunKeys,
    pub limits: Limits,
    /// How long ended runs are kept; the UI shows it.
    pub retention: crate::retention::Policy,
    /// The reverse proxies whose forwarding headers name the client.
    pub trusted_proxies: crate::http::TrustedProxies,
    /// Base URL for links shown to people (`https://localhost:3100`).
    pub base_url: String,
    /// The listener serves TLS: answers carry HSTS, and a browser's `Origin` must be `https`.
    pub tls: bool,
    /// Live fan-out of stored events and run changes to the web UI's streams, and the bells of
    /// runners long-polling for commands.
    pub live: crate::live::Live,
    /// The web UI's password hash, sign-in sessions and sign-in rate limits.
    pub sessions: crate::web_session::Sessions,
    /// Passkeys' relying party: `None` when the public URL's host is an IP address, which
    /// WebAuthn does not take.
    pub passkeys: Option<crate::web_session::Passkeys>,
    /// Counters served at `/metrics`.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Where artifact bodies are kept: the database or object storage.
    pub artifact_bodies: crate::artifacts::Bodies,
    /// Bounds on large bodies read at once.
    pub body_slots: crate::http::BodySlots,
    /// The transcripts read last, extended by each request rather than rebuilt.
    pub transcripts: crate::transcript::Transcripts,
    /// Webhooks and Web Push: queueing notices, and the dispatcher's side.
    pub notifier: Arc<crate::notify::Notifier>,
    /// Ingest requests in progress per run: a batch that arrives before the earlier one of its
    /// run is stored waits for it.
    pub ingest_in_flight: crate::ingest_order::InFlight,
}

impl std::fmt::Debug for StateInner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateInner")
            .field("hmac_secret", &self.hmac_secret)
            .field("limits", &self.limits)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl AppState {
    pub fn new(inner: StateInner) -> Self {
        Self(Arc::new(inner))
    }
}

impl StateInner {
    /// The scheme of the pages this gateway serves, which a browser names in `Origin`: `https`
    /// on a TLS listener; on plain HTTP that of the public URL (a TLS proxy in front), else
    /// `http`.
    pub fn page_scheme(&self) -> &'static str {
        if self.tls || self.base_url.starts_with("https://") {
            "https"
        } else {
            "http"
        }
    }
}

impl Deref for AppState {
    type Target = StateInner;
    fn deref(&self) -> &StateInner {
        &self.0
    }
}
