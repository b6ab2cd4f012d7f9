//! `POST /api/ingest/event`: a runner's signed batch of events, checked, put in canonical form,
//! committed with the request's nonce in one transaction, then published to the live streams.
//!
//! Event data is kept as the JSON text received, never parsed into numbers that could lose
//! digits: each event's `data` is brought to its canonical form (`common::canonical`, what the
//! stream digest hashes), which for data already canonical, as the Rust runner sends it, is the
//! received text itself.
//!
//! A runner may have two batches of a run on their way at once (PROTOCOL.md, "Ingest"): a batch
//! that finds the run's stored events ending before its first sequence, while another request
//! of the same run is still being handled here, waits for that request to end (at most
//! `GATEWAY_INGEST_ORDER_WAIT_MS`, [`crate::config::Limits::ingest_order_wait`]) and tries
//! again, instead of answering 409 at once.

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use common::sign::AuthReason;
use common::wire::{self, EventKind, IngestAck, IngestBatch, RawEvent};
use serde_json::value::RawValue;

use crate::auth::signed::{self, Signed};
use crate::error::ApiError;
use crate::http::parse_json;
use crate::ingest_order::Ticket;
use crate::state::AppState;
use crate::store::{Nonce, StoreError};

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/ingest/event", post(ingest_events))
}

/// Check one event and put its data in canonical form: a positive sequence, data of the right
/// JSON type for its kind (a string of at most 64 KiB for lines, an object for markers and
/// assist links), and a canonical form (no key twice, no lone surrogate). `scratch` is reused
/// between events.
fn admit(mut e: RawEvent, scratch: &mut Vec<u8>) -> Result<RawEvent, ApiError> {
    let refuse = |why: String| ApiError::bad_request("invalid_event", why);
    if e.sequence == 0 {
        return Err(refuse("sequences start at 1".into()));
    }
    let text = matches!(
        e.kind,
        EventKind::Stdout | EventKind::Stderr | EventKind::Info | EventKind::Error
    );
    // Canonical text this long or shorter is a string short enough, whatever its escapes.
    let surely_short = 4 * wire::MAX_LINE_BYTES + 2;
    // A line already canonical, as runners send them, is kept as received without being
    // parsed and rewritten into `scratch` first.
    if text
        && e.data.get().len() <= surely_short
        && common::canonical::is_canonical_string(e.data.get())
    {
        return Ok(e);
    }
    scratch.clear();
    common::canonical::canonicalize(e.data.get(), scratch)
        .map_err(|err| refuse(format!("event {}: data: {err}", e.sequence)))?;
    let ok = if text {
        // The canonical text is the string quoted and escaped: never shorter than the string.
        scratch.first() == Some(&b'"')
            && (scratch.len() <= surely_short
                || serde_json::from_slice::<String>(scratch)
                    .is_ok_and(|s| s.len() <= 4 * wire::MAX_LINE_BYTES))
    } else {
        scratch.first() == Some(&b'{')
    };
    if !ok {
        return Err(refuse(format!(
            "event {}: {} data must be {}",
            e.sequence,
            e.kind.as_str(),
            if text {
                "a string of at most 64 KiB"
            } else {
                "an object"
            }
        )));
    }
    if scratch.as_slice() != e.data.get().as_bytes() {
        let canonical = String::from_utf8(scratch.clone())
            .map_err(|_| ApiError::Internal("canonical JSON is not UTF-8".into()))?;
        e.data = RawValue::from_string(canonical)
            .map_err(|err| ApiError::Internal(format!("canonical JSON does not parse: {err}")))?;
    }
    Ok(e)
}

/// Batched, idempotent event ingest.
async fn ingest_events(
    State(state): State<AppState>,
    signed: Signed<signed::Ingest>,
) -> Result<Json<IngestAck>, ApiError> {
    let started = std::time::Instant::now();
    let run_id = signed
        .run_id()
        .ok_or(ApiError::Unauthorized(AuthReason::UnknownRun))?
        .to_string();
    // Counted from before the body is parsed: a later batch of the run arriving meanwhile waits.
    let ticket = state.ingest_in_flight.enter(&run_id);
    let bytes = signed.body();
    let refused = |e: ApiError| {
        state.metrics.ingest_refused();
        e
    };
    let batch: IngestBatch<Box<RawValue>> = parse_json(bytes).map_err(refused)?;
    if batch.run_id != run_id {
        return Err(refused(ApiError::bad_request(
            "run_mismatch",
            "run_id in the body differs from X-Runner-Run",
        )));
    }
    if batch.events.len() > wire::MAX_BATCH_EVENTS {
        return Err(refused(ApiError::bad_request(
            "batch_too_large",
            format!("at most {} events per batch", wire::MAX_BATCH_EVENTS),
        )));
    }
    let mut scratch = Vec::with_capacity(1024);
    let events: Vec<RawEvent> = batch
        .events
        .into_iter()
        .map(|e| admit(e, &mut scratch))
        .collect::<Result<_, _>>()
        .map_err(refused)?;
    // Shared from here on, not copied: the store encodes it, `live` hands it to the streams.
    let events: crate::live::Batch = events.into();
    let nonce = signed.batch_nonce();
    let outcome =
        append_and_announce(&state, ticket, run_id, events, nonce, bytes.len(), started).await?;
    Ok(Json(IngestAck {
        acked_through: outcome.acked_through,
        delivery: outcome.delivery,
    }))
}

/// Commit a batch, then count and publish it, in a task of its own: hyper drops a handler whose
/// client went away, but the commit runs on the blocking pool and lands anyway; were the publish
/// left in the handler, the watchers would never hear of that commit (the runner's resend finds
/// it stored and publishes nothing). The task runs to its end whatever becomes of the request.
///
/// A gap before the batch's first sequence while another request of the run is in progress
/// waits for that request and tries again, until the order wait (`limits.ingest_order_wait`)
/// has passed. The retry records
/// no nonce: a store answers a gap only once the request's nonce is durably recorded.
async fn append_and_announce(
    state: &AppState,
    ticket: Ticket,
    run_id: String,
    events: crate::live::Batch,
    nonce: Option<Nonce>,
    body_len: usize,
    started: std::time::Instant,
) -> Result<crate::store::AppendOutcome, ApiError> {
    let state = state.clone();
    let task = tokio::spawn(async move {
        let first = events.iter().map(|e| e.sequence).min().unwrap_or(0);
        let deadline = tokio::time::Instant::now() + state.limits.ingest_order_wait;
        let mut nonce = nonce;
        let result = loop {
            // Listening before the attempt: a request that ends during it still wakes this one.
            let ended = ticket.bell.notified();
            tokio::pin!(ended);
            ended.as_mut().enable();
            match state
                .store
                .append_events(run_id.clone(), events.clone(), nonce)
                .await
            {
                Err(StoreError::Gap { expected })
                    if expected < first
                        && ticket.others()
                        && tokio::time::Instant::now() < deadline =>
                {
                    state.metrics.ingest_waited();
                    nonce = None;
                    let _ = tokio::time::timeout_at(deadline, ended).await;
                }
                other => break other,
            }
        };
        drop(ticket);
        let outcome = match result {
            Ok(outcome) => outcome,
            Err(StoreError::Gap { expected }) => {
                state.metrics.gap();
                return Err(ApiError::Gap { expected });
            }
            Err(StoreError::Replayed) => return Err(StoreError::Replayed.into()),
            // Deleted since its key was read (through another replica, whose deletion this one
            // learns here): the runner hears what it would have heard before the key was read.
            Err(StoreError::NotFound) => {
                state.run_keys.forget(&run_id);
                return Err(ApiError::Unauthorized(common::sign::AuthReason::UnknownRun));
            }
            Err(e) => {
                state.metrics.ingest_refused();
                return Err(e.into());
            }
        };
        state
            .metrics
            .ingested(&events, &outcome, body_len, started.elapsed());
        state
            .live
            .announce_append(state.store.as_ref(), &run_id, events.clone(), &outcome)
            .await;
        state
            .notifier
            .after_ingest(&run_id, &events, &outcome)
            .await;
        if outcome.status.is_terminal() && outcome.inserted > 0 {
            // A run that ended may free a slot of its agent: a waiting agent tries a claim.
            state.live.ring_queue();
        }
        Ok(outcome)
    });
    match task.await {
        Ok(result) => result,
        // As if the work had run in the handler: its panic is the handler's.
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        // Only a runtime shutting down cancels the task.
        Err(e) => Err(ApiError::Internal(format!("ingest task: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(kind: EventKind, data: &str) -> RawEvent {
        wire::Event {
            sequence: 1,
            kind,
            data: RawValue::from_string(data.to_string()).unwrap(),
            ts: 0,
        }
    }

    #[test]
    fn events_are_checked_and_made_canonical() {
        let mut scratch = Vec::new();
        let long = format!("\"{}\"", "x".repeat(4 * wire::MAX_LINE_BYTES));
        let escaped = format!("\"{}\"", "\\n".repeat(4 * wire::MAX_LINE_BYTES));
        let cases = [
            (EventKind::Stdout, "\"plain\"", Some("\"plain\"")),
            (EventKind::Stdout, "\"\\u00e9\"", Some("\"é\"")),
            (
                EventKind::Marker,
                "{ \"b\": 1.50, \"a\": 1e400 }",
                Some("{\"a\":1e400,\"b\":1.50}"),
            ),
            (EventKind::Stdout, long.as_str(), Some(long.as_str())),
            (EventKind::Stdout, escaped.as_str(), Some(escaped.as_str())),
            (EventKind::Stdout, "{}", None),
            (EventKind::Marker, "\"x\"", None),
            (EventKind::Assist, "[]", None),
            (EventKind::Marker, "{\"a\":1,\"a\":1}", None),
        ];
        for (kind, data, want) in cases {
            let got = admit(raw(kind, data), &mut scratch).ok();
            assert_eq!(got.as_ref().map(|e| e.data.get()), want, "{data}");
        }
        let too_long = format!("\"{}\"", "x".repeat(4 * wire::MAX_LINE_BYTES + 1));
        assert!(admit(raw(EventKind::Stderr, &too_long), &mut scratch).is_err());
        let mut zero = raw(EventKind::Info, "\"x\"");
        zero.sequence = 0;
        assert!(admit(zero, &mut scratch).is_err());
    }
}
