//! The audit log: every change of state and every grant of access, with who did it and from
//! which address. Handlers record through [`record`] (or `Authorized::audit`, which fills in the
//! caller); admins read the log at `/api/audit` and export it as JSON lines, and a run's lines
//! say who started it and who sent each prompt, command and decision.
//!
//! A line that cannot be written is logged as an error and counted as a store failure; the
//! action it describes has happened and is not undone.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::Extensions;
use axum::http::request::Parts;
use serde_json::Value;

use crate::clock::now_ms;
use crate::store::{AuditEntry, Store};

/// Who did something, as the log names them: an id (`p_…`, `admin_token`, `runner`,
/// `anonymous`) and a name to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Who {
    pub id: String,
    pub name: String,
}

impl Who {
    pub fn new(id: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
        }
    }

    /// A runner, with the shared secret.
    pub fn runner() -> Self {
        Self::new("runner", "runner")
    }

    /// Nobody known: a failed sign-in.
    pub fn anonymous() -> Self {
        Self::new("anonymous", "anonymous")
    }

    /// The gateway itself, at start.
    pub fn gateway() -> Self {
        Self::new("gateway", "gateway")
    }
}

/// What happened.
#[derive(Debug, Clone)]
pub struct Event {
    pub action: &'static str,
    pub run_id: Option<String>,
    pub target: Option<String>,
    pub detail: Value,
}

impl Event {
    pub fn new(action: &'static str) -> Self {
        Self {
            action,
            run_id: None,
            target: None,
            detail: Value::Object(Default::default()),
        }
    }

    pub fn run(mut self, run_id: impl Into<String>) -> Self {
        self.run_id = Some(run_id.into());
        self
    }

    pub fn target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }

    /// `detail` must be a JSON object.
    pub fn detail(mut self, detail: Value) -> Self {
        self.detail = detail;
        self
    }
}

/// The client's address, as the connection saw it (none without a connection, as in tests
/// through `oneshot`).
pub fn source_of(extensions: &Extensions) -> Option<IpAddr> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

/// The client's address, for handlers without an `Authorized` caller.
#[derive(Debug, Clone, Copy)]
pub struct Source(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for Source {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(Source(source_of(&parts.extensions)))
    }
}

/// Append `event` by `who` from `source` to the log.
pub async fn record(store: &dyn Store, who: &Who, source: Option<IpAddr>, event: Event) {
    let action = event.action;
    let entry = AuditEntry {
        id: 0,
        at: now_ms(),
        actor_id: who.id.clone(),
        actor_name: who.name.clone(),
        action: action.into(),
        run_id: event.run_id,
        target: event.target,
        detail: event.detail,
        source: source.map(|ip| ip.to_string()),
    };
    if let Err(e) = store.append_audit(entry).await {
        tracing::error!(error = %e, action, "could not write the audit log");
    }
}

/// At most this many characters of a prompt or command go into a line.
const EXCERPT_CHARS: usize = 200;

/// The start of `text`, for a line's detail.
pub fn excerpt(text: &str) -> String {
    match text.char_indices().nth(EXCERPT_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_cut_on_characters() {
        assert_eq!(excerpt("short"), "short");
        let long = "é".repeat(300);
        let cut = excerpt(&long);
        assert_eq!(cut.chars().count(), EXCERPT_CHARS + 1);
        assert!(cut.ends_with('…'));
    }
}
