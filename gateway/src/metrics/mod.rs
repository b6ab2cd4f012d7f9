//! The gateway's counters and their exposition in the Prometheus text format (0.0.4), written by
//! hand (`exposition.rs`, with this process's memory and CPU from `process.rs`);
//! `routes/metrics.rs` serves it at `GET /metrics`.
//!
//! Counters are atomics in [`Metrics`] (one in the shared state), bumped where the work happens:
//! ingest counts events, bytes, resends, gaps, redaction hits and its own latency; the [`track`]
//! middleware counts 401s by reason and internal errors from markers the error boundary leaves on
//! the response. Gauges (runs by status, live streams, nonces, memory, CPU) are read when scraped.
//!
//! Nothing here is per run: no run id, key or token ever becomes a label. Redaction rule names do
//! (they name patterns, never values), bounded to [`MAX_RULES`] well-formed names; any other name
//! counts under `other`. The route (`routes/metrics.rs`) takes the admin token or session, or
//! `GATEWAY_METRICS_TOKEN` as a Bearer token so a scraper needs no admin rights.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::Response;
use common::wire::{EventKind, RawEvent};

pub use exposition::{Gauges, render};
pub use process::{ProcessStats, parse_process, process};

use crate::store::AppendOutcome;

mod exposition;
mod process;

/// Upper bounds (seconds) of the ingest latency buckets; `+Inf` is implied.
pub(crate) const BUCKETS: [f64; 13] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];
/// Distinct redaction rule names kept as labels; later names count under `other`.
pub const MAX_RULES: usize = 64;
/// Reasons a 401 is counted under (the `reason` codes of `PROTOCOL.md` §3).
pub(crate) const REFUSALS: [&str; 11] = [
    "missing_header",
    "malformed_header",
    "stale_timestamp",
    "bad_signature",
    "replayed_nonce",
    "unknown_run",
    "run_finished",
    "admin_required",
    "bad_password",
    "signed_out",
    "other",
];

/// Left on a 401 answer by the error boundary: the reason it is counted under.
#[derive(Debug, Clone, Copy)]
pub struct Refusal(pub &'static str);

/// Left on a 500 answer by the error boundary.
#[derive(Debug, Clone, Copy)]
pub struct InternalError;

/// The gateway's counters.
pub struct Metrics {
    events_ingested: AtomicU64,
    bytes_ingested: AtomicU64,
    batches_ingested: AtomicU64,
    events_resent: AtomicU64,
    gaps: AtomicU64,
    ingest_waits: AtomicU64,
    ingest_refused: AtomicU64,
    /// Per bucket (not cumulative), the last one being `+Inf`.
    latency_buckets: [AtomicU64; BUCKETS.len() + 1],
    latency_sum_us: AtomicU64,
    refusals: [AtomicU64; REFUSALS.len()],
    internal_errors: AtomicU64,
    connections_open: AtomicU64,
    connections_refused: AtomicU64,
    redactions: Mutex<BTreeMap<String, u64>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("events_ingested", &self.events_ingested)
            .finish_non_exhaustive()
    }
}

impl Metrics {
    /// Counters at zero.
    pub fn new() -> Self {
        Self {
            events_ingested: AtomicU64::new(0),
            bytes_ingested: AtomicU64::new(0),
            batches_ingested: AtomicU64::new(0),
            events_resent: AtomicU64::new(0),
            gaps: AtomicU64::new(0),
            ingest_waits: AtomicU64::new(0),
            ingest_refused: AtomicU64::new(0),
            latency_buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            latency_sum_us: AtomicU64::new(0),
            refusals: std::array::from_fn(|_| AtomicU64::new(0)),
            internal_errors: AtomicU64::new(0),
            connections_open: AtomicU64::new(0),
            connections_refused: AtomicU64::new(0),
            redactions: Mutex::new(BTreeMap::new()),
        }
    }

    /// An ingest batch of `body_bytes` committed (`outcome`) after `took`. `events` is the batch
    /// as received; only the new ones count as ingested, the others as resent.
    pub fn ingested(
        &self,
        events: &[RawEvent],
        outcome: &AppendOutcome,
        body_bytes: usize,
        took: Duration,
    ) {
        self.batches_ingested.fetch_add(1, Relaxed);
        self.events_ingested
            .fetch_add(outcome.inserted as u64, Relaxed);
        self.events_resent.fetch_add(
            (events.len() - outcome.inserted.min(events.len())) as u64,
            Relaxed,
        );
        self.bytes_ingested.fetch_add(body_bytes as u64, Relaxed);
        let secs = took.as_secs_f64();
        let bucket = BUCKETS
            .iter()
            .position(|&le| secs <= le)
            .unwrap_or(BUCKETS.len());
        self.latency_buckets[bucket].fetch_add(1, Relaxed);
        self.latency_sum_us
            .fetch_add(u64::try_from(took.as_micros()).unwrap_or(u64::MAX), Relaxed);
        if outcome.inserted > 0 {
            let first_new = outcome.acked_through + 1 - outcome.inserted as u64;
            let fresh = events
                .iter()
                .filter(|e| (first_new..=outcome.acked_through).contains(&e.sequence));
            for e in fresh.filter(|e| e.kind == EventKind::Marker) {
                self.count_redactions(e);
            }
        }
    }

    /// A connection is being served (within the cap).
    pub fn connection_opened(&self) {
        self.connections_open.fetch_add(1, Relaxed);
    }

    /// A connection served within the cap ended.
    pub fn connection_closed(&self) {
        self.connections_open.fetch_sub(1, Relaxed);
    }

    /// A connection came past the cap (answered 503 or closed).
    pub fn connection_refused(&self) {
        self.connections_refused.fetch_add(1, Relaxed);
    }

    /// A batch answered 409: the runner resends from the expected sequence.
    pub fn gap(&self) {
        self.gaps.fetch_add(1, Relaxed);
    }

    /// A batch found the run's stored events ending before it while an earlier request of the
    /// run was in progress, and waited for it.
    pub fn ingest_waited(&self) {
        self.ingest_waits.fetch_add(1, Relaxed);
    }

    /// How many times [`Self::ingest_waited`] was counted.
    pub fn ingest_order_waits(&self) -> u64 {
        self.ingest_waits.load(Relaxed)
    }

    /// A batch refused after its signature passed (bad shape, finished run, storage failure).
    pub fn ingest_refused(&self) {
        self.ingest_refused.fetch_add(1, Relaxed);
    }

    /// Add a `redactions` marker's `counts` (rule name → hits) to the totals.
    fn count_redactions(&self, marker: &RawEvent) {
        let data = marker.data_value();
        if data["event"].as_str() != Some("redactions") {
            return;
        }
        let Some(counts) = data["counts"].as_object() else {
            return;
        };
        let mut totals = self.redactions.lock().unwrap_or_else(|p| p.into_inner());
        for (rule, hits) in counts {
            let Some(hits) = hits.as_u64() else { continue };
            let known = totals.contains_key(rule.as_str());
            let name = if valid_rule(rule) && (known || totals.len() < MAX_RULES) {
                rule.as_str()
            } else {
                "other"
            };
            let total = totals.entry(name.to_string()).or_insert(0);
            *total = total.saturating_add(hits);
        }
    }

    fn refused(&self, reason: &str) {
        let i = REFUSALS
            .iter()
            .position(|&r| r == reason)
            .unwrap_or(REFUSALS.len() - 1);
        self.refusals[i].fetch_add(1, Relaxed);
    }
}

/// A rule name fit to be a label value: what `config/redaction.rules` and the built-ins use.
fn valid_rule(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':'))
}

impl Metrics {
    /// Count a 401 answer by its reason, and a 500 (`crate::http::edge`, every route).
    pub fn count_answer(&self, resp: &Response) {
        match resp.status() {
            StatusCode::UNAUTHORIZED => {
                self.refused(resp.extensions().get::<Refusal>().map_or("other", |r| r.0))
            }
            StatusCode::INTERNAL_SERVER_ERROR
                if resp.extensions().get::<InternalError>().is_some() =>
            {
                self.internal_errors.fetch_add(1, Relaxed);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use common::wire::RunStatus;
    use serde_json::json;

    use super::*;

    fn marker(sequence: u64, counts: serde_json::Value) -> RawEvent {
        common::wire::Event {
            sequence,
            kind: EventKind::Marker,
            data: json!({"event": "redactions", "counts": counts}),
            ts: 0,
        }
        .to_raw()
    }

    fn outcome(acked_through: u64, inserted: usize) -> AppendOutcome {
        AppendOutcome {
            acked_through,
            inserted,
            status: RunStatus::Running,
            delivery: None,
        }
    }

    #[test]
    fn redaction_counts_are_bounded_and_resends_do_not_count_twice() {
        let m = Metrics::default();
        let batch = [
            marker(1, json!({"github_token": 2, "bad name\"}": 1})),
            marker(2, json!({"aws_key": 1, "github_token": "x"})),
        ];
        m.ingested(&batch, &outcome(2, 2), 100, Duration::from_millis(3));
        // A resend of the same batch stores nothing and counts no hits.
        m.ingested(&batch, &outcome(2, 0), 100, Duration::from_millis(3));
        for i in 0..(MAX_RULES as u64 + 5) {
            m.ingested(
                &[marker(3 + i, json!({format!("rule{i}"): 1}))],
                &outcome(3 + i, 1),
                10,
                Duration::ZERO,
            );
        }
        let totals = m.redactions.lock().unwrap().clone();
        assert_eq!(totals["github_token"], 2);
        assert_eq!(totals["aws_key"], 1);
        assert!(totals.len() <= MAX_RULES + 1, "{}", totals.len());
        // The malformed name, then the rules past the bound (three names were taken first).
        assert_eq!(
            totals["other"],
            1 + (MAX_RULES as u64 + 5) - (MAX_RULES as u64 - 3)
        );
        assert_eq!(m.events_resent.load(Relaxed), 2);
        assert_eq!(m.events_ingested.load(Relaxed), 2 + MAX_RULES as u64 + 5);
    }

    #[test]
    fn latency_lands_in_its_bucket() {
        let m = Metrics::default();
        m.ingested(&[], &outcome(0, 0), 0, Duration::from_micros(700));
        m.ingested(&[], &outcome(0, 0), 0, Duration::from_secs(9));
        assert_eq!(m.latency_buckets[1].load(Relaxed), 1, "0.0007 s ≤ 0.001");
        assert_eq!(m.latency_buckets[BUCKETS.len()].load(Relaxed), 1, "+Inf");
        assert_eq!(m.latency_sum_us.load(Relaxed), 9_000_700);
    }
}
