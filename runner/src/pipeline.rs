//! From pipes to the gateway: readers redact and frame, one sequencer numbers events and writes
//! `claude.log`, one sender batches them to the gateway.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use common::redact::{Redactor, Rules, redact_text};
use common::wire::{self, Event, EventKind, IngestBatch};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::mpsc;

use crate::client::{GatewayClient, IngestOutcome, Signer};
use crate::frame::LineFramer;
use crate::outbox::Outbox;

/// Most events in one ingest request.
pub const BATCH_EVENTS: usize = 2_000;
/// Rough bound on one ingest request's JSON size.
pub const BATCH_BYTES: usize = 2 * 1024 * 1024;

/// An event before it has a sequence number.
#[derive(Debug)]
pub struct Frame {
    pub kind: EventKind,
    pub data: Value,
    pub ts: i64,
}

impl Frame {
    pub fn new(kind: EventKind, data: Value) -> Self {
        Self {
            kind,
            data,
            ts: now_ms(),
        }
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Read one pipe to its end: redact, frame into lines, send. Returns the redaction counts.
pub async fn read_stream(
    mut pipe: impl AsyncRead + Unpin,
    kind: EventKind,
    rules: Arc<Rules>,
    tx: mpsc::Sender<Frame>,
) -> BTreeMap<String, u64> {
    let mut redactor = Redactor::new(rules);
    let mut framer = LineFramer::new(wire::MAX_LINE_BYTES);
    let mut buf = vec![0u8; 64 * 1024];
    let mut clean = Vec::with_capacity(64 * 1024);
    let mut lines = Vec::new();
    loop {
        let n = match pipe.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                tracing::warn!(stream = kind.as_str(), error = %e, "reading the child's output failed");
                break;
            }
        };
        clean.clear();
        redactor.push(&buf[..n], &mut clean);
        framer.push(&clean, &mut lines);
        for line in lines.drain(..) {
            // Waiting here is the back-pressure: the pipe fills and the child blocks on write.
            if tx
                .send(Frame::new(kind, Value::String(line)))
                .await
                .is_err()
            {
                return redactor.counts().clone();
            }
        }
    }
    clean.clear();
    redactor.finish(&mut clean);
    framer.push(&clean, &mut lines);
    framer.finish(&mut lines);
    for line in lines.drain(..) {
        let _ = tx.send(Frame::new(kind, Value::String(line))).await;
    }
    redactor.counts().clone()
}

/// Redact every string inside a JSON value (markers, info and error texts).
pub fn redact_value(rules: &Arc<Rules>, v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(redact_text(rules, s)),
        Value::Array(a) => Value::Array(a.iter().map(|x| redact_value(rules, x)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| (k.clone(), redact_value(rules, x)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Where a sequencer writes besides the outbox.
#[derive(Debug)]
pub struct Sinks {
    /// `claude.log`: the redacted stdout and stderr lines.
    pub log: std::io::BufWriter<std::fs::File>,
    /// Echo stdout/stderr lines to this terminal.
    pub echo: bool,
}

/// Number frames, write them to `claude.log` (and the terminal), queue them for sending.
/// Returns the last sequence used.
pub async fn sequence(
    mut rx: mpsc::Receiver<Frame>,
    rules: Arc<Rules>,
    mut sinks: Sinks,
    outbox: Arc<Outbox>,
) -> std::io::Result<u64> {
    let mut seq = 0u64;
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        while let Some(frame) = next {
            seq += 1;
            let data = match frame.kind {
                // Already redacted as a stream by the reader.
                EventKind::Stdout | EventKind::Stderr => {
                    let text = frame.data.as_str().unwrap_or_default();
                    sinks.log.write_all(text.as_bytes())?;
                    sinks.log.write_all(b"\n")?;
                    if sinks.echo {
                        if frame.kind == EventKind::Stdout {
                            let _ = writeln!(stdout.lock(), "{text}");
                        } else {
                            let _ = writeln!(stderr.lock(), "{text}");
                        }
                    }
                    frame.data
                }
                _ => redact_value(&rules, &frame.data),
            };
            outbox
                .push(Event {
                    sequence: seq,
                    kind: frame.kind,
                    data,
                    ts: frame.ts,
                })
                .await;
            next = rx.try_recv().ok();
        }
        sinks.log.flush()?;
    }
    sinks.log.flush()?;
    outbox.close();
    Ok(seq)
}

/// Exponential backoff with full jitter, 100 ms up to 10 s.
#[derive(Debug, Default)]
pub struct Backoff {
    attempt: u32,
}

impl Backoff {
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    pub fn next_delay(&mut self) -> Duration {
        let cap_ms = (100u64 << self.attempt.min(7)).min(10_000);
        self.attempt += 1;
        let mut r = [0u8; 8];
        let _ = getrandom::fill(&mut r);
        Duration::from_millis(u64::from_le_bytes(r) % (cap_ms + 1))
    }
}

/// Send queued events until the outbox is closed and empty, or sending fails for good.
/// Returns a sentence describing a permanent failure, if one happened.
pub async fn send_loop(
    client: GatewayClient,
    signer: Signer,
    run_id: String,
    outbox: Arc<Outbox>,
) -> Option<String> {
    let mut backoff = Backoff::default();
    while let Some(events) = outbox.next_batch(BATCH_EVENTS, BATCH_BYTES).await {
        let first = events[0].sequence;
        let batch = IngestBatch {
            run_id: run_id.clone(),
            events,
        };
        match client.ingest(&signer, &batch).await {
            IngestOutcome::Acked(n) => {
                backoff.reset();
                outbox.ack(n);
            }
            IngestOutcome::Gap(expected) if expected > first => {
                // The gateway already holds everything before `expected`.
                outbox.ack(expected - 1);
            }
            IngestOutcome::Gap(expected) => {
                let msg = format!(
                    "the gateway expects sequence {expected} but this runner only holds events from {first}: \
                     the earlier events are in claude.log but cannot be resent"
                );
                outbox.abandon();
                return Some(msg);
            }
            IngestOutcome::Retry { cause, retry_after } => {
                let delay = retry_after.unwrap_or_else(|| backoff.next_delay());
                tracing::debug!(%cause, ?delay, "sending events failed; retrying");
                tokio::time::sleep(delay).await;
            }
            IngestOutcome::Refused {
                status,
                reason,
                message,
            } => {
                outbox.abandon();
                return Some(format!(
                    "the gateway refused this run's events ({status}, {}): {message}; stopped sending",
                    reason.as_deref().unwrap_or("no reason given")
                ));
            }
            IngestOutcome::Rejected { status, message } => {
                outbox.abandon();
                return Some(format!(
                    "the gateway rejected a batch ({status}): {message}; stopped sending"
                ));
            }
        }
    }
    None
}
