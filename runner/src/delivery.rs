//! The end of a run's delivery, shared by `start` and `flush`: the rest of the spool and the
//! outbox within a window, what is left told with how to deliver it, and closing a run whose
//! stream the gateway lost.
//!
//! A gateway can lose events it had acknowledged (its database restored from a copy, a torn
//! write-ahead log after a power loss). If the spool still holds them they are simply sent
//! again. If it does not (acknowledged segments are deleted), the stream can never be completed:
//! [`close_lost`] ends the run at the sequence the gateway expects with an `error` event naming
//! the lost range and the run's `finished` marker, whose count and digest are the runner's, so
//! the gateway marks the run `incomplete`. The verdict is recorded in the run's directory
//! (`incomplete`), so a later `flush` says so instead of "delivered".

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use common::wire::{Delivery, Event, EventKind, IngestBatch};
use serde_json::Value;

use crate::client::{GatewayClient, IngestOutcome, Signer};
use crate::outbox::{Drained, Outbox};
use crate::pipeline::{self, Backoff, SendEnd, now_ms};
use crate::spool::Spool;

/// The file in a run's directory that says the run was closed or judged incomplete.
pub const INCOMPLETE_NOTE: &str = "incomplete";

/// Start sending the spool; a permanent failure is reported the moment it happens.
pub fn spawn_sender(
    client: GatewayClient,
    signer: Signer,
    run_id: String,
    spool: Arc<Spool>,
) -> tokio::task::JoinHandle<SendEnd> {
    tokio::spawn(async move {
        let end = pipeline::send_loop(client, signer, run_id, spool).await;
        if let SendEnd::Stopped(why) = &end {
            eprintln!("claude-runner: {why}");
        }
        end
    })
}

/// Resolves at the runner's next SIGINT or SIGTERM. Listens from the moment it is called (not
/// first polled), so a Ctrl-C between here and the wait is not lost.
pub fn interruption() -> impl Future<Output = ()> + Send + 'static {
    use tokio::signal::unix::{SignalKind, signal};
    let (int, term) = (
        signal(SignalKind::interrupt()).ok(),
        signal(SignalKind::terminate()).ok(),
    );
    async move {
        async fn one(s: Option<tokio::signal::unix::Signal>) {
            match s {
                Some(mut s) => {
                    s.recv().await;
                }
                None => std::future::pending().await,
            }
        }
        tokio::select! {
            () = one(int) => {}
            () = one(term) => {}
        }
    }
}

/// `limit` (if any) or `interrupted`, whichever comes first.
pub async fn window(limit: Option<Duration>, interrupted: impl Future<Output = ()>) {
    let deadline = async {
        match limit {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        () = deadline => {}
        () = interrupted => {}
    }
}

/// Where the run's events stand after [`deliver_rest`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Events {
    /// All acknowledged, and the gateway holds the stream as sent (or did not say).
    Delivered,
    /// All acknowledged, but the gateway holds the run as `incomplete`.
    Incomplete,
    /// Some are still only in the spool.
    Undelivered,
    /// The gateway lost acknowledged events from `expected` on that the spool no longer holds.
    Lost { expected: u64 },
}

/// What delivering the rest of a run left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rest {
    pub events: Events,
    /// Artifacts still in the outbox.
    pub artifacts_left: Vec<String>,
}

/// Wait for the sender to deliver the closed spool and, beside it, upload the outbox, until
/// `until` resolves. What is left is told on stderr with how to deliver it.
pub async fn deliver_rest(
    sender: tokio::task::JoinHandle<SendEnd>,
    spool: &Spool,
    artifacts: Option<(&Outbox, &GatewayClient, &Signer)>,
    run_id: &str,
    until: impl Future<Output = ()>,
) -> Rest {
    let abort = sender.abort_handle();
    let files = async {
        match artifacts {
            Some((outbox, client, signer)) => outbox.drain(client, signer, run_id).await,
            None => Drained::Empty,
        }
    };
    let outcome = tokio::select! {
        (sent, _) = async { tokio::join!(sender, files) } => Some(sent),
        () = until => None,
    };
    let events = match outcome {
        Some(Ok(SendEnd::Delivered { verdict })) => match verdict {
            Some(Delivery::Incomplete) => Events::Incomplete,
            _ => Events::Delivered,
        },
        Some(Ok(SendEnd::Lost { expected })) => Events::Lost { expected },
        // Already reported by the sender.
        Some(Ok(SendEnd::Stopped(_))) => Events::Undelivered,
        Some(Err(e)) => {
            eprintln!("claude-runner: the sender failed: {e}");
            Events::Undelivered
        }
        None => {
            abort.abort();
            Events::Undelivered
        }
    };
    match events {
        Events::Delivered => {}
        Events::Incomplete => eprintln!(
            "claude-runner: the gateway holds run {run_id} as incomplete: the events it stored \
             differ from the ones this runner sent"
        ),
        Events::Undelivered => eprintln!(
            "claude-runner: {} events of run {run_id} are not delivered yet; they are kept in {}; \
             `claude-runner flush --run-id {run_id}` delivers them",
            spool.undelivered(),
            spool.dir().display()
        ),
        Events::Lost { expected } => eprintln!(
            "claude-runner: the gateway no longer holds the events of run {run_id} from {expected} \
             on, which it had acknowledged (restored from a copy, or it lost writes), and this \
             runner no longer has them: the run cannot be completed. \
             `claude-runner flush --close --run-id {run_id}` closes it, marked incomplete"
        ),
    }
    let artifacts_left = artifacts.map(|(o, _, _)| o.pending()).unwrap_or_default();
    if !artifacts_left.is_empty() {
        eprintln!(
            "claude-runner: {} of run {run_id} not uploaded yet; kept in {}; \
             `claude-runner flush --run-id {run_id}` uploads them",
            artifacts_left.join(", "),
            spool.dir().with_file_name("outbox").display()
        );
    }
    Rest {
        events,
        artifacts_left,
    }
}

/// Record in `run_dir` that the gateway holds the run as incomplete, and why.
pub fn note_incomplete(run_dir: &Path, why: &str) {
    let path = run_dir.join(INCOMPLETE_NOTE);
    if let Err(e) = crate::outbox::write_atomic(&path, format!("{why}\n").as_bytes()) {
        tracing::warn!(path = %path.display(), error = %e, "could not record the verdict");
    }
}

/// The note [`note_incomplete`] left, if any.
pub fn incomplete_note(run_dir: &Path) -> Option<String> {
    std::fs::read_to_string(run_dir.join(INCOMPLETE_NOTE))
        .ok()
        .map(|t| t.trim().to_string())
}

/// End a run whose events from `expected` on the gateway lost: send, at `expected`, an `error`
/// event naming the lost range and then the spool's own `finished` marker (the last event, with
/// the runner's count and digest), until the gateway stores them or `until` resolves. Returns
/// the sentence recorded as the run's note. The spool is then settled (nothing more can go).
pub async fn close_lost(
    client: &GatewayClient,
    signer: &Signer,
    spool: &Spool,
    run_id: &str,
    mut expected: u64,
    until: impl Future<Output = ()>,
) -> anyhow::Result<String> {
    let (appended, _, _) = spool.progress();
    // One event of the newest segment: a short read, once.
    let last = spool
        .read(appended, 1, usize::MAX)
        .ok()
        .and_then(|mut v| v.pop())
        .filter(|e| e.kind == EventKind::Marker && e.data["event"] == "finished")
        .ok_or_else(|| {
            anyhow::anyhow!("the spool of run {run_id} does not end with its finished marker")
        })?;
    let send = async {
        let mut backoff = Backoff::default();
        loop {
            let note = format!(
                "The gateway lost events {expected} to {} of this run after acknowledging them, \
                 and the runner no longer holds them; `claude-runner flush --close` ended the run \
                 here, incomplete.",
                last.sequence - 1
            );
            let batch = IngestBatch {
                run_id: run_id.to_string(),
                events: vec![
                    Event {
                        sequence: expected,
                        kind: EventKind::Error,
                        data: Value::String(note.clone()),
                        ts: now_ms(),
                    },
                    Event {
                        sequence: expected + 1,
                        ..last.clone()
                    },
                ],
            };
            match client.ingest(signer, &batch).await {
                IngestOutcome::Acked { through, .. } if through > expected => return Ok(note),
                IngestOutcome::Acked { .. } => {}
                IngestOutcome::Gap(x) if x < expected => expected = x,
                IngestOutcome::Gap(x) => anyhow::bail!(
                    "the gateway holds events of run {run_id} up to {} after all; run \
                     `claude-runner flush` again",
                    x - 1
                ),
                IngestOutcome::Retry { cause, retry_after } => {
                    tracing::debug!(%cause, "closing the run failed; retrying");
                    let delay = retry_after.unwrap_or_else(|| backoff.next_delay());
                    tokio::time::sleep(delay.min(Duration::from_secs(60))).await;
                }
                IngestOutcome::Refused {
                    status, message, ..
                } => {
                    anyhow::bail!("the gateway refused to close run {run_id} ({status}): {message}")
                }
                IngestOutcome::Rejected { status, message } => {
                    anyhow::bail!("the gateway rejected closing run {run_id} ({status}): {message}")
                }
            }
        }
    };
    let note = tokio::select! {
        r = send => r?,
        () = until => anyhow::bail!("run {run_id} was not closed: the time ran out or Ctrl-C"),
    };
    // Nothing more of the spool can ever be delivered.
    spool.ack(appended)?;
    spool.save_ack()?;
    Ok(note)
}
