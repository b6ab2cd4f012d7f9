//! From pipes to the gateway: readers redact and frame, one sequencer numbers events and writes
//! `claude.log` and the disk spool, one sender batches the spool to the gateway.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use common::redact::{Redactor, Rules, redact_text};
use common::wire::{self, EventKind, Marker};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::mpsc;

use crate::client::{GatewayClient, IngestOutcome, Signer};
use crate::frame::{LineFramer, Lines};
use crate::spool::{self, RawBatch, Spool};

/// Most events in one ingest request.
pub const BATCH_EVENTS: usize = 5_000;
/// Rough bound on one ingest request's JSON size.
pub const BATCH_BYTES: usize = 3 * 1024 * 1024 + 512 * 1024;

/// An event before it has a sequence number; or, from a pipe, a run of lines.
///
/// A `stdout`/`stderr` frame from [`read_stream`] carries every whole line of one read in
/// `lines` (one buffer), each of which becomes one event: a flood of short lines then costs one
/// channel message, one timestamp and no allocation per line.
#[derive(Debug)]
pub struct Frame {
    pub kind: EventKind,
    pub data: Value,
    /// A pipe's lines (then `data` is null); empty in every other frame.
    pub lines: Lines,
    pub ts: i64,
}

impl Frame {
    /// A marker, message or assist frame; a pipe's lines come through [`Frame::of_lines`].
    pub fn new(kind: EventKind, data: Value) -> Self {
        debug_assert!(
            !matches!(kind, EventKind::Stdout | EventKind::Stderr),
            "output lines travel as a pipe's lines"
        );
        Self {
            kind,
            data,
            lines: Lines::default(),
            ts: now_ms(),
        }
    }

    /// A frame of a pipe's lines.
    pub fn of_lines(kind: EventKind, lines: Lines) -> Self {
        Self {
            kind,
            data: Value::Null,
            lines,
            ts: now_ms(),
        }
    }

    /// The lines of a `stdout`/`stderr` frame.
    pub fn lines(&self) -> impl Iterator<Item = &str> {
        self.lines.iter()
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Read one pipe to its end: redact, frame into lines, send each read's lines as one frame.
/// Returns the redaction counts.
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
    let mut lines = Lines::default();
    let batch = |lines: &mut Lines| Frame::of_lines(kind, std::mem::take(lines));
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
        // Waiting here is the back-pressure: the pipe fills and the child blocks on write.
        if !lines.is_empty() && tx.send(batch(&mut lines)).await.is_err() {
            return redactor.counts().clone();
        }
    }
    clean.clear();
    redactor.finish(&mut clean);
    framer.push(&clean, &mut lines);
    framer.finish(&mut lines);
    if !lines.is_empty() {
        let _ = tx.send(batch(&mut lines)).await;
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

/// Where a sequencer writes besides the spool.
#[derive(Debug)]
pub struct Sinks {
    /// `claude.log`: the redacted stdout and stderr lines.
    pub log: std::io::BufWriter<std::fs::File>,
    /// What this terminal is shown of the (redacted) output.
    pub echo: Echo,
}

/// The runner's echo of a run on its own terminal: always the redacted lines, never anything
/// before the redactor.
#[derive(Debug)]
pub enum Echo {
    /// Nothing (`--quiet`).
    Off,
    /// Claude's stream-json in words (who said what, a tool call per line) and markers as short
    /// labelled lines; any other output as it came (the default).
    Words(common::terminal::Renderer),
    /// stdout and stderr lines exactly as they came, no markers (`--raw`).
    Raw,
}

impl Echo {
    /// Shows one output line: stdout to stdout, stderr to stderr.
    fn line(&mut self, kind: EventKind, text: &str) {
        let shown = match self {
            Echo::Off => return,
            Echo::Words(r) if kind == EventKind::Stdout => r.stdout_line(text),
            _ => None,
        };
        let _ = match (shown, kind) {
            (Some(shown), _) => {
                let mut out = std::io::stdout().lock();
                shown
                    .iter()
                    .try_for_each(|s| writeln!(out, "{}", indent(&s.to_string())))
            }
            (None, kind) => {
                let mut out: Box<dyn Write> = if kind == EventKind::Stdout {
                    Box::new(std::io::stdout().lock())
                } else {
                    Box::new(std::io::stderr().lock())
                };
                // A fragment (a progress bar's state) is drawn over by what follows.
                if text.ends_with('\r') {
                    out.write_all(text.as_bytes()).and_then(|()| out.flush())
                } else {
                    writeln!(out, "{text}")
                }
            }
        };
    }

    /// Shows a marker (already redacted) as one labelled line, in words mode only.
    fn marker(&self, data: &Value) {
        if let Echo::Words(r) = self {
            let _ = writeln!(
                std::io::stdout().lock(),
                "● {}",
                indent(&r.marker(data).to_string())
            );
        }
    }
}

/// Continuation lines of a multi-line answer indented under its label.
fn indent(text: &str) -> String {
    text.trim_end().replace('\n', "\n  ")
}

/// Frames a channel into the sequencer holds: a pipe's frame is one read (up to 64 KiB of lines),
/// so this bounds what waits in memory to about 256 KiB per channel. (16 cost 1.6 MiB of a
/// flooding runner's memory and no throughput.)
pub const CHANNEL_FRAMES: usize = 4;
/// Staged spool bytes past which the sequencer commits (one `write` + `fdatasync`) before taking
/// more frames.
const COMMIT_BYTES: usize = 512 << 10;

/// What the sequencer did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sequenced {
    /// The last sequence it assigned (0 if none).
    pub last_sequence: u64,
    /// Output lines dropped after the spool reached its cap.
    pub dropped_lines: u64,
    /// How long it waited for the gateway to catch up (back-pressure on the child).
    pub waited: Duration,
}

/// Number frames, write them to `claude.log` (and the terminal) and to the spool, committing
/// whatever has arrived since the last commit with one `fdatasync`. Blocking: runs on its own
/// thread. Fills `eventCount`/`streamSha256` into the `finished` marker, and past `spool_limit`
/// bytes drops output lines after one `truncated` marker. Closes the spool at the end.
pub fn sequence(
    mut rx: mpsc::Receiver<Frame>,
    rules: Arc<Rules>,
    mut sinks: Sinks,
    mut spool: spool::Writer,
    spool_limit: u64,
) -> std::io::Result<Sequenced> {
    let result = sequence_inner(&mut rx, &rules, &mut sinks, &mut spool, spool_limit);
    spool.spool().close();
    result
}

fn sequence_inner(
    rx: &mut mpsc::Receiver<Frame>,
    rules: &Arc<Rules>,
    sinks: &mut Sinks,
    spool: &mut spool::Writer,
    spool_limit: u64,
) -> std::io::Result<Sequenced> {
    let mut done = Sequenced {
        last_sequence: spool.next_sequence() - 1,
        dropped_lines: 0,
        waited: Duration::ZERO,
    };
    let mut truncated = false;
    while let Some(first) = rx.blocking_recv() {
        done.waited += spool.spool().wait_for_room();
        let mut next = Some(first);
        while let Some(frame) = next {
            match frame.kind {
                // Already redacted as a stream by the reader.
                EventKind::Stdout | EventKind::Stderr => {
                    for text in frame.lines() {
                        if truncated {
                            done.dropped_lines += 1;
                        } else if spool.bytes() + text.len() as u64 + 256 > spool_limit {
                            truncated = true;
                            done.dropped_lines += 1;
                            eprintln!(
                                "claude-runner: the spool reached RUNNER_SPOOL_MAX_BYTES ({spool_limit} bytes); \
                                 further output of this run is dropped (the gateway gets a truncated marker)"
                            );
                            let marker = Marker::Truncated {
                                reason: "spool_full".into(),
                                limit_bytes: spool_limit,
                            };
                            done.last_sequence =
                                spool.stage(EventKind::Marker, &marker.to_value(), frame.ts)?;
                        } else {
                            sinks.log.write_all(text.as_bytes())?;
                            // A fragment (a progress bar's state) continues on its line.
                            if !text.ends_with('\r') {
                                sinks.log.write_all(b"\n")?;
                            }
                            sinks.echo.line(frame.kind, text);
                            done.last_sequence = spool.stage_line(frame.kind, text, frame.ts)?;
                        }
                    }
                }
                _ => {
                    let mut data = redact_value(rules, &frame.data);
                    if frame.kind == EventKind::Marker && data["event"] == "finished" {
                        let (count, sha) = spool.digest();
                        if let Some(o) = data.as_object_mut() {
                            o.insert("eventCount".into(), count.into());
                            o.insert("streamSha256".into(), sha.into());
                            if done.dropped_lines > 0 {
                                o.insert("droppedLines".into(), done.dropped_lines.into());
                            }
                        }
                    }
                    if frame.kind == EventKind::Marker {
                        sinks.echo.marker(&data);
                    }
                    done.last_sequence = spool.stage(frame.kind, &data, frame.ts)?;
                }
            }
            next = if spool.staged() < COMMIT_BYTES {
                rx.try_recv().ok()
            } else {
                None
            };
        }
        sinks.log.flush()?;
        spool.commit()?;
    }
    sinks.log.flush()?;
    spool.commit()?;
    Ok(done)
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

/// How sending ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendEnd {
    /// The spool is closed and the gateway acknowledged all of it; `verdict` is the run's
    /// `delivery` as the gateway judged it (absent from a gateway that does not say).
    Delivered {
        verdict: Option<common::wire::Delivery>,
    },
    /// Sending stopped for good; the sentence says why. The events stay in the spool.
    Stopped(String),
    /// The gateway lacks the events from `expected` on, which it had acknowledged (it lost
    /// them: restored from a copy, a torn write-ahead log) and which the spool no longer holds:
    /// the stream cannot be completed, only closed (`flush --close`).
    Lost { expected: u64 },
}

/// Longest wait a `Retry-After` may ask for.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Events read on the sender's own task rather than on a blocking thread.
const INLINE_READ_EVENTS: u64 = 16;

/// A batch being read ahead: its first sequence and the reading task.
struct Prefetch {
    from: u64,
    task: tokio::task::JoinHandle<ReadBatch>,
}

/// A cursor, what reading found, and the request body with its SHA-256 (hex) for the signature.
type ReadBatch = (spool::Cursor, std::io::Result<RawBatch>, (Vec<u8>, String));

fn read_batch_fn(
    spool: Arc<Spool>,
    head: Arc<[u8]>,
    mut c: spool::Cursor,
    from: u64,
) -> impl FnOnce() -> ReadBatch {
    move || {
        // The request body is built right away: the head, the spooled lines, the end.
        let mut body = Vec::with_capacity(head.len() + BATCH_BYTES / 4);
        body.extend_from_slice(&head);
        let batch = spool.read_batch(&mut c, from, BATCH_EVENTS, BATCH_BYTES, &mut body);
        body.push(b'}');
        // Hashed here, off the path between an acknowledgement and the next request.
        let sha = match &batch {
            Ok(b) if !b.is_empty() => common::sign::sha256_hex(&body),
            _ => String::new(),
        };
        (c, batch, (body, sha))
    }
}

async fn read_ahead(
    spool: &Arc<Spool>,
    head: &Arc<[u8]>,
    c: spool::Cursor,
    from: u64,
) -> Result<ReadBatch, tokio::task::JoinError> {
    tokio::task::spawn_blocking(read_batch_fn(spool.clone(), head.clone(), c, from)).await
}

/// Ingest requests on their way at once: the next batch goes out before the answer to the one
/// before it, so the gateway parses and checks one while it stores the other (PROTOCOL.md,
/// "Ingest": a batch that arrives first waits at the gateway for the earlier one).
pub const IN_FLIGHT: usize = 2;

/// A batch sent and the task awaiting its answer.
struct Sent {
    first: u64,
    last: u64,
    /// What the gateway had acknowledged, as far as this runner knew, when the batch was sent.
    acked_before: u64,
    answer: tokio::task::JoinHandle<IngestOutcome>,
}

/// Send the spool from the first unacknowledged event until it is closed and fully acknowledged,
/// or sending fails for good. Network errors, timeouts, 408/429/5xx are retried without limit
/// (backoff with full jitter, or `Retry-After`); a 409 resends from the sequence the gateway
/// expects; 401/403 and other 4xx stop.
///
/// Up to [`IN_FLIGHT`] batches are on their way, consecutive, and their answers are taken in the
/// order they were sent; while there is room, an event spooled during the wait for an answer goes
/// out at once. An answer other than the acknowledgement of its whole batch (a retry, a gap)
/// stops sending until the batches after it are answered too; sending then resumes from what the
/// last answer says the gateway holds.
pub async fn send_loop(
    client: GatewayClient,
    signer: Signer,
    run_id: String,
    spool: Arc<Spool>,
) -> SendEnd {
    let mut backoff = Backoff::default();
    // The first event the gateway has not acknowledged.
    let mut from = spool.progress().1 + 1;
    // The first event not sent yet: `from` once every answer is in.
    let mut next = from;
    let mut sent: std::collections::VecDeque<Sent> = std::collections::VecDeque::new();
    // An answer did not acknowledge its whole batch: nothing more is sent until the batches on
    // their way are answered, then sending resumes at `from` after `pause`.
    let mut resync = false;
    let mut pause = Duration::ZERO;
    // Where reading stopped: the next batch continues there (a retry reads its batch again).
    let mut cursor = Some(spool::Cursor::default());
    let head = {
        let mut h = b"{\"run_id\":".to_vec();
        serde_json::to_writer(&mut h, &run_id).expect("a string serialises");
        h.extend_from_slice(b",\"events\":");
        Arc::<[u8]>::from(h)
    };
    // The next batch, read while the current one is on its way: reading the spool and waiting
    // for the gateway overlap. Used only if sending continues where it was read.
    let mut ahead: Option<Prefetch> = None;
    let mut verdict = None;
    let end = loop {
        let (appended, _, closed) = spool.progress();
        if !resync && sent.len() < IN_FLIGHT && next <= appended {
            let got = match ahead.take() {
                Some(p) if p.from == next => p.task.await,
                // Stale (a resend, a gap): its cursor is repositioned by this read.
                Some(p) => match p.task.await {
                    Ok((c, _, _)) => read_ahead(&spool, &head, c, next).await,
                    Err(e) => Err(e),
                },
                // A few events (a trickle of output) are read here: a handoff to a blocking
                // thread would cost more than reading them from the page cache.
                None if appended - next < INLINE_READ_EVENTS => Ok(read_batch_fn(
                    spool.clone(),
                    head.clone(),
                    cursor.take().unwrap_or_default(),
                    next,
                )()),
                None => read_ahead(&spool, &head, cursor.take().unwrap_or_default(), next).await,
            };
            let (c, batch, (body, sha)) = match got {
                Ok(r) => r,
                Err(e) => break stop(&spool, format!("reading the spool failed: {e}")),
            };
            let batch = match batch {
                Ok(b) if !b.is_empty() => b,
                Ok(_) => {
                    cursor = Some(c);
                    continue;
                }
                Err(e) => break stop(&spool, format!("cannot read the spool: {e}")),
            };
            // Read the next batch meanwhile, if there is one.
            if batch.last < appended {
                ahead = Some(Prefetch {
                    from: batch.last + 1,
                    task: tokio::task::spawn_blocking(read_batch_fn(
                        spool.clone(),
                        head.clone(),
                        c,
                        batch.last + 1,
                    )),
                });
            } else {
                cursor = Some(c);
            }
            let (client, signer) = (client.clone(), signer.clone());
            sent.push_back(Sent {
                first: next,
                last: batch.last,
                acked_before: from - 1,
                answer: tokio::spawn(
                    async move { client.ingest_hashed(&signer, body, &sha).await },
                ),
            });
            next = batch.last + 1;
            continue;
        }
        // One batch on its way and room for another: whichever comes first, its answer or an
        // event to send beside it. Waiting for the answer alone would hold a line printed
        // meanwhile for a whole round trip (a slow answer, a busy gateway).
        let early = if !resync
            && !closed
            && sent.len() < IN_FLIGHT
            && let Some(front) = sent.front_mut()
        {
            tokio::select! {
                answer = &mut front.answer => Some(answer),
                () = spool.wait_beyond(next - 1) => continue,
            }
        } else {
            None
        };
        let Some(batch) = sent.pop_front() else {
            if resync {
                // Every answer is in: resume where the last one said.
                resync = false;
                next = from;
                tokio::time::sleep(std::mem::take(&mut pause)).await;
                continue;
            }
            if next > appended {
                if closed {
                    if let Err(e) = spool.save_ack() {
                        tracing::warn!(error = %e, "could not record the acknowledgement in the spool");
                    }
                    break SendEnd::Delivered { verdict };
                }
                spool.wait_beyond(next - 1).await;
            }
            continue;
        };
        let answer = match early {
            Some(answer) => answer,
            None => batch.answer.await,
        };
        let outcome = match answer {
            Ok(outcome) => outcome,
            Err(e) => IngestOutcome::Retry {
                cause: format!("the request's task ended: {e}"),
                retry_after: None,
            },
        };
        match outcome {
            IngestOutcome::Acked { through: n, .. } if n > spool.progress().0 => {
                // Acknowledging what this runner never wrote: skipping ahead would silently lose
                // the events in between.
                break stop(
                    &spool,
                    format!(
                        "the gateway acknowledged events of this run up to {n} but this runner's \
                         spool ends at {}: the spool is not this run's stream",
                        spool.progress().0
                    ),
                );
            }
            IngestOutcome::Acked {
                through: n,
                delivery,
            } => {
                backoff.reset();
                verdict = delivery.or(verdict);
                if let Err(e) = spool.ack(n) {
                    tracing::warn!(error = %e, "could not record the acknowledgement in the spool");
                }
                from = n + 1;
                if n != batch.last {
                    resync = true;
                }
            }
            IngestOutcome::Gap(expected) if expected > spool.progress().0 + 1 => {
                break stop(
                    &spool,
                    format!(
                        "the gateway holds events of this run up to {} but this runner's spool ends at \
                         {}: the spool is not this run's stream",
                        expected - 1,
                        spool.progress().0
                    ),
                );
            }
            IngestOutcome::Gap(expected) if expected < from && expected > batch.acked_before => {
                // Stale: the gateway expected `expected` when it answered, but an answer read
                // since (to a batch sent before this one and answered after this one was sent)
                // acknowledges past it: with two batches on their way, a later batch can get its
                // 409 before the earlier one is stored. Resend from what is acknowledged.
                resync = true;
            }
            IngestOutcome::Gap(expected) if expected < spool.first_held() => {
                // Acknowledged before this batch was sent (its segment is gone), lost since by the
                // gateway.
                spool.give_up();
                break SendEnd::Lost { expected };
            }
            IngestOutcome::Gap(expected) => {
                // The gateway holds everything before `expected`; resend from there.
                if expected > 1 {
                    let _ = spool.ack(expected - 1);
                }
                if expected == batch.first {
                    pause = pause.max(backoff.next_delay());
                }
                from = expected;
                resync = true;
            }
            IngestOutcome::Retry { cause, retry_after } => {
                let delay = retry_after
                    .map(|d| d.min(MAX_RETRY_AFTER))
                    .unwrap_or_else(|| backoff.next_delay());
                tracing::debug!(%cause, ?delay, "sending events failed; retrying");
                pause = pause.max(delay);
                resync = true;
            }
            IngestOutcome::Refused {
                status,
                reason,
                message,
            } => {
                break stop(
                    &spool,
                    format!(
                        "the gateway refused this run's events ({status}, {}): {message}; stopped sending",
                        reason.as_deref().unwrap_or("no reason given")
                    ),
                );
            }
            IngestOutcome::Rejected { status, message } => {
                break stop(
                    &spool,
                    format!("the gateway rejected a batch ({status}): {message}; stopped sending"),
                );
            }
        }
    };
    // Answers no longer listened to: their batches are resent by whoever sends this spool next.
    for batch in sent {
        batch.answer.abort();
    }
    end
}

fn stop(spool: &Spool, why: String) -> SendEnd {
    spool.give_up();
    SendEnd::Stopped(format!(
        "{why}; the {} undelivered events stay in {}",
        spool.undelivered(),
        spool.dir().display()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::testing;

    #[tokio::test]
    async fn an_ack_beyond_the_spool_stops_sending_and_keeps_the_spool() {
        let dir = tempfile::tempdir().unwrap();
        let (spool, mut writer, _) = Spool::open(&dir.path().join("spool")).unwrap();
        for i in 0..3 {
            writer
                .stage(EventKind::Stdout, &Value::String(format!("line {i}")), 0)
                .unwrap();
        }
        writer.commit().unwrap();
        // The gateway claims events 4..=10 this runner never wrote.
        let (url, seen) = testing::serve(|_| testing::json(r#"{"acked_through":10}"#)).await;
        let end = tokio::time::timeout(
            Duration::from_secs(10),
            send_loop(
                testing::client(&url),
                Signer::Run {
                    run_id: "r1".into(),
                    key: [1; 32],
                },
                "r1".into(),
                spool.clone(),
            ),
        )
        .await
        .expect("sending stops instead of waiting for events 4..=10");
        match end {
            SendEnd::Stopped(why) => assert!(why.contains("not this run's stream"), "{why}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(seen.lock().unwrap().len(), 1);
        assert_eq!(spool.progress().1, 0, "nothing recorded as acknowledged");
        assert_eq!(spool.undelivered(), 3);
    }

    /// The gateway expects a sequence it acknowledged before and the spool has deleted: the
    /// stream can only be closed (`flush --close`), and sending says so instead of failing to
    /// read the spool.
    #[tokio::test]
    async fn a_gap_before_what_the_spool_holds_is_reported_as_lost() {
        let dir = tempfile::tempdir().unwrap();
        let (spool, mut writer, _) = Spool::open(&dir.path().join("spool")).unwrap();
        let big = Value::String("x".repeat(1 << 20));
        for _ in 0..5 {
            writer.stage(EventKind::Stdout, &big, 0).unwrap();
        }
        writer.commit().unwrap();
        spool.ack(5).unwrap();
        assert!(spool.first_held() > 2, "the first segment is deleted");
        writer
            .stage(EventKind::Stdout, &Value::String("six".into()), 0)
            .unwrap();
        writer.commit().unwrap();
        let gap = r#"{"error":"sequence_gap","expected":2}"#;
        let (url, seen) = testing::serve(move |_| {
            format!(
                "HTTP/1.1 409 Conflict\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{gap}",
                gap.len()
            )
        })
        .await;
        let end = tokio::time::timeout(
            Duration::from_secs(10),
            send_loop(
                testing::client(&url),
                Signer::Run {
                    run_id: "r1".into(),
                    key: [1; 32],
                },
                "r1".into(),
                spool.clone(),
            ),
        )
        .await
        .expect("sending ends");
        assert_eq!(end, SendEnd::Lost { expected: 2 });
        assert_eq!(seen.lock().unwrap().len(), 1);
        assert_eq!(spool.undelivered(), 1, "the spool is kept");
    }
}
