//! The sender with two ingest batches on their way, against a scripted gateway on loopback that
//! answers them out of order: a 503 beside a 409, the later batch's answer first, a connection
//! dropped after the later batch was acknowledged. Whatever the answers, the gateway ends up
//! with every event once and in order, the spool deletes nothing the gateway has not
//! acknowledged, and sending ends.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use claude_runner::client::{GatewayClient, Signer};
use claude_runner::pipeline::{SendEnd, send_loop};
use claude_runner::spool::{self, Spool};
use common::wire::EventKind;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::time::Instant;

/// Events in the spool: about 7 MB, so three batches (at most 3.5 MiB each) over two spool
/// segments (4 MiB each), the first of which is deleted once acknowledged.
const EVENTS: u64 = 250;
const LINE_BYTES: usize = 30_000;
/// Longest a scripted answer waits for another request; longer is reported as a fault.
const SCRIPT_WAIT: Duration = Duration::from_secs(10);
/// Longest sending may take before the test calls it stalled.
const SEND_LIMIT: Duration = Duration::from_secs(60);

/// The output line of event `seq`: its number first, so a line out of place is seen.
fn line(seq: u64) -> String {
    let mut s = format!("{seq:06} ");
    while s.len() < LINE_BYTES {
        s.push_str("lorem ipsum dolor sit amet ");
    }
    s.truncate(LINE_BYTES);
    s
}

/// A condition a scripted request waits for.
#[derive(Debug, Clone, Copy)]
enum Cond {
    /// The gateway holds sequence 1 (the first batch is stored).
    FirstStored,
    /// A request for a later batch (first sequence above 1) has been answered or cut off.
    LaterAnswered,
    /// A request for a batch starting after this sequence has been answered or cut off.
    AnsweredAfter(u64),
    /// A request for a batch starting at or after this sequence has arrived.
    ArrivedFrom(u64),
}

/// What the gateway answers.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
enum Reply {
    /// As the gateway does: store and acknowledge what continues its stream, else 409 with
    /// the sequence it expects.
    #[default]
    Gateway,
    /// 503, nothing stored (a transient failure).
    Unavailable,
    /// Store as the gateway does, then close the connection without an answer.
    StoreAndDrop,
}

/// What the gateway does with one request.
#[derive(Debug, Clone, Copy, Default)]
struct Step {
    /// Wait for this before storing or refusing anything.
    decide_after: Option<Cond>,
    reply: Reply,
    /// Wait for this before answering.
    answer_after: Option<Cond>,
}

/// The script: the step for a request given its first sequence and how many requests starting
/// there came before it.
type Script = Box<dyn Fn(u64, u32) -> Step + Send + Sync>;

#[derive(Default)]
struct State {
    /// The events stored, in order: `stored[i]` is the data of sequence `i + 1`.
    stored: Vec<String>,
    /// The highest sequence an answer has told the runner the gateway holds.
    told: u64,
    attempts: HashMap<u64, u32>,
    later_answered: bool,
    /// The first sequences of the batches answered (or cut off) so far.
    answered: Vec<u64>,
    /// The first sequences of the batches that have arrived so far.
    arrived: Vec<u64>,
    /// One line per request: its batch and what it got.
    log: Vec<String>,
    /// Broken expectations, reported at the end.
    faults: Vec<String>,
}

struct Gateway {
    state: Mutex<State>,
    changed: Notify,
    spool: Arc<Spool>,
    script: Script,
}

impl Gateway {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap()
    }

    fn holds(&self, c: Cond) -> bool {
        let s = self.state();
        match c {
            Cond::FirstStored => !s.stored.is_empty(),
            Cond::LaterAnswered => s.later_answered,
            Cond::AnsweredAfter(f) => s.answered.iter().any(|&a| a > f),
            Cond::ArrivedFrom(f) => s.arrived.iter().any(|&a| a >= f),
        }
    }

    async fn wait(&self, c: Cond, what: &str) {
        let until = Instant::now() + SCRIPT_WAIT;
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.holds(c) {
                return;
            }
            if tokio::time::timeout_at(until, notified).await.is_err() {
                let fault = format!("{what} waited {SCRIPT_WAIT:?} in vain for {c:?}");
                self.state().faults.push(fault);
                return;
            }
        }
    }

    /// The spool holds everything the gateway has not acknowledged, and records nothing more as
    /// acknowledged.
    fn check_spool(&self) {
        let (_, acked, _) = self.spool.progress();
        let first_held = self.spool.first_held();
        let mut s = self.state();
        if acked > s.told || first_held > s.told + 1 {
            let fault = format!(
                "the spool counts {acked} as acknowledged and holds from {first_held}, \
                 but the gateway has acknowledged only up to {}",
                s.told
            );
            if !s.faults.contains(&fault) {
                s.faults.push(fault);
            }
        }
    }
}

/// A gateway on `127.0.0.1:0` playing `script` for `spool`'s run, and its URL.
async fn scripted(
    spool: &Arc<Spool>,
    script: impl Fn(u64, u32) -> Step + Send + Sync + 'static,
) -> (Arc<Gateway>, String) {
    let gw = Arc::new(Gateway {
        state: Mutex::default(),
        changed: Notify::new(),
        spool: spool.clone(),
        script: Box::new(script),
    });
    let url = serve(gw.clone()).await;
    (gw, url)
}

/// The sender of run `r1`'s `spool` to the gateway at `url`.
async fn send(url: String, spool: Arc<Spool>) -> SendEnd {
    let signer = Signer::Run {
        run_id: "r1".into(),
        key: [1; 32],
    };
    send_loop(client(&url), signer, "r1".into(), spool).await
}

/// Sending ended delivered, with no broken expectation, and the gateway holds lines `1..=n` in
/// order.
fn check_delivered(end: SendEnd, s: &State, n: u64) {
    assert_eq!(end, SendEnd::Delivered { verdict: None }, "{:#?}", s.log);
    assert!(
        s.faults.is_empty(),
        "{:#?}\nrequests: {:#?}",
        s.faults,
        s.log
    );
    assert_eq!(s.stored.len() as u64, n, "{:#?}", s.log);
    for (i, data) in s.stored.iter().enumerate() {
        let seq = i as u64 + 1;
        assert!(*data == line(seq), "sequence {seq} holds another line");
    }
}

/// A gateway on `127.0.0.1:0` playing `gw`'s script; returns its URL.
async fn serve(gw: Arc<Gateway>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            tokio::spawn(handle(gw.clone(), sock));
        }
    });
    url
}

/// The body of one HTTP/1.1 request, or `None` if the connection ended first.
async fn read_body(sock: &mut TcpStream) -> Option<Vec<u8>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 64 * 1024];
    let head_end = loop {
        let n = sock.read(&mut chunk).await.ok().filter(|&n| n > 0)?;
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let length: usize = String::from_utf8_lossy(&buf[..head_end])
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let n = sock.read(&mut chunk).await.ok().filter(|&n| n > 0)?;
        buf.extend_from_slice(&chunk[..n]);
    }
    Some(buf.split_off(head_end))
}

#[derive(serde::Deserialize)]
struct Batch {
    events: Vec<BatchEvent>,
}

#[derive(serde::Deserialize)]
struct BatchEvent {
    sequence: u64,
    data: String,
}

async fn handle(gw: Arc<Gateway>, mut sock: TcpStream) {
    let Some(body) = read_body(&mut sock).await else {
        return;
    };
    gw.check_spool();
    let batch: Batch = match serde_json::from_slice(&body) {
        Ok(b) => b,
        Err(e) => {
            gw.state().faults.push(format!("an unreadable batch: {e}"));
            return;
        }
    };
    let (Some(first), Some(last)) = (batch.events.first(), batch.events.last()) else {
        gw.state().faults.push("an empty batch".into());
        return;
    };
    let (first, last) = (first.sequence, last.sequence);
    let attempt = {
        let mut s = gw.state();
        s.arrived.push(first);
        let n = s.attempts.entry(first).or_default();
        *n += 1;
        *n - 1
    };
    gw.changed.notify_waiters();
    let what = format!("the request for {first}..={last} (attempt {attempt})");
    let step = (gw.script)(first, attempt);
    if let Some(c) = step.decide_after {
        gw.wait(c, &what).await;
    }
    // `(status, body, what it tells the runner the gateway holds)`.
    let (status, answer, holds) = {
        let mut s = gw.state();
        let highest = s.stored.len() as u64;
        let reply = if step.reply == Reply::Unavailable {
            (
                "503 Service Unavailable",
                r#"{"error":"unavailable"}"#.to_string(),
                None,
            )
        } else if first > highest + 1 {
            let gap = format!(r#"{{"error":"sequence_gap","expected":{}}}"#, highest + 1);
            ("409 Conflict", gap, Some(highest))
        } else {
            for (i, e) in batch.events.into_iter().enumerate() {
                if e.sequence != first + i as u64 {
                    s.faults
                        .push(format!("{what}: sequence {} at place {i}", e.sequence));
                    break;
                }
                if e.sequence > s.stored.len() as u64 {
                    s.stored.push(e.data);
                }
            }
            let through = s.stored.len() as u64;
            let ack = format!(r#"{{"acked_through":{through}}}"#);
            ("200 OK", ack, Some(through))
        };
        let dropped = if step.reply == Reply::StoreAndDrop {
            ", dropped"
        } else {
            ""
        };
        s.log
            .push(format!("{first}..={last} #{attempt}: {}{dropped}", reply.0));
        reply
    };
    gw.changed.notify_waiters();
    if let Some(c) = step.answer_after {
        gw.wait(c, &what).await;
    }
    {
        let mut s = gw.state();
        if step.reply != Reply::StoreAndDrop
            && let Some(h) = holds
        {
            s.told = s.told.max(h);
        }
        if first > 1 {
            s.later_answered = true;
        }
        s.answered.push(first);
    }
    gw.changed.notify_waiters();
    if step.reply == Reply::StoreAndDrop {
        // Closed without a word: the runner sees the connection end before an answer.
        return;
    }
    let reply = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
        answer.len()
    );
    let _ = sock.write_all(reply.as_bytes()).await;
    let _ = sock.shutdown().await;
}

fn client(url: &str) -> GatewayClient {
    let layers = common::settings::Layers {
        env: [
            ("GATEWAY_URL".to_string(), url.to_string()),
            (
                "HMAC_SECRET".to_string(),
                "test-secret-test-secret".to_string(),
            ),
        ]
        .into(),
        dotenv: Default::default(),
    };
    let settings = claude_runner::config::Settings::resolve(&Default::default(), &layers, None)
        .expect("settings");
    GatewayClient::new(&settings).expect("client")
}

/// Spool [`EVENTS`] lines, send them to a gateway playing `script`, check what it got and what
/// the spool kept; returns the gateway's request log.
async fn deliver(script: impl Fn(u64, u32) -> Step + Send + Sync + 'static) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let (spool, mut writer, _) = Spool::open(&dir.path().join("spool")).unwrap();
    for seq in 1..=EVENTS {
        assert_eq!(
            writer.stage_line(EventKind::Stdout, &line(seq), 0).unwrap(),
            seq
        );
    }
    writer.commit().unwrap();
    spool.close();
    assert!(
        spool::SEGMENT_BYTES < spool.bytes(),
        "more than one segment"
    );

    let (gw, url) = scripted(&spool, script).await;
    // Checks the spool against the gateway while sending, not only at requests.
    let watch = {
        let gw = gw.clone();
        tokio::spawn(async move {
            loop {
                gw.check_spool();
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };
    let end = tokio::time::timeout(SEND_LIMIT, send(url, spool.clone())).await;
    watch.abort();
    gw.check_spool();
    let s = gw.state();
    let end = end.unwrap_or_else(|_| {
        panic!(
            "sending stalled: not done after {SEND_LIMIT:?}; the gateway holds {} of {EVENTS} \
             events; requests: {:#?}",
            s.stored.len(),
            s.log
        )
    });
    check_delivered(end, &s, EVENTS);
    assert_eq!(spool.progress(), (EVENTS, EVENTS, true));
    assert!(
        spool.first_held() > 1,
        "the acknowledged first segment is deleted (so the checks above had something to see)"
    );
    s.log.clone()
}

/// Whether the log has a line for a batch starting at `first` (any, if `None`) that got `what`.
fn logged(log: &[String], first: Option<u64>, what: &str) -> bool {
    log.iter().any(|l| {
        let starts = l.split("..").next().and_then(|f| f.parse::<u64>().ok());
        let later = starts.is_some_and(|f| f > 1);
        let batch = match first {
            Some(f) => starts == Some(f),
            None => later,
        };
        batch && l.ends_with(what)
    })
}

/// Batch 1 gets a 503 and batch 2, on its way beside it, a 409 (its predecessor is missing):
/// both are sent again, batch 1 first.
#[tokio::test]
async fn a_503_beside_a_409_resends_both_in_order() {
    let log = deliver(|first, attempt| match (first, attempt) {
        (1, 0) => Step {
            reply: Reply::Unavailable,
            ..Step::default()
        },
        _ => Step::default(),
    })
    .await;
    assert!(
        logged(&log, Some(1), "#0: 503 Service Unavailable"),
        "{log:#?}"
    );
    assert!(logged(&log, None, "#0: 409 Conflict"), "{log:#?}");
}

/// Batch 2 is stored after batch 1 and answered first (the gateway's order wait); then batch 1's
/// answer arrives.
#[tokio::test]
async fn the_later_batch_answered_first() {
    let log = deliver(|first, attempt| match (first, attempt) {
        (1, 0) => Step {
            answer_after: Some(Cond::LaterAnswered),
            ..Step::default()
        },
        (_, 0) => Step {
            decide_after: Some(Cond::FirstStored),
            ..Step::default()
        },
        _ => Step::default(),
    })
    .await;
    assert!(logged(&log, None, "#0: 200 OK"), "{log:#?}");
    assert_eq!(log.len(), 3, "nothing was sent twice: {log:#?}");
}

/// Batch 2 reaches the gateway first and gets its 409 (as from another replica), then batch 1
/// is stored and acknowledged: batch 2 is sent again.
#[tokio::test]
async fn a_409_for_the_later_batch_before_the_earlier_is_stored() {
    let log = deliver(|first, attempt| match (first, attempt) {
        (1, 0) => Step {
            decide_after: Some(Cond::LaterAnswered),
            ..Step::default()
        },
        _ => Step::default(),
    })
    .await;
    assert!(logged(&log, None, "#0: 409 Conflict"), "{log:#?}");
    assert!(logged(&log, None, "#1: 200 OK"), "{log:#?}");
}

/// Batch 1 is stored but its connection drops after batch 2 was acknowledged: batch 2's
/// acknowledgement covers batch 1, and sending goes on after it.
#[tokio::test]
async fn a_dropped_answer_after_the_later_batch_was_acknowledged() {
    let log = deliver(|first, attempt| match (first, attempt) {
        (1, 0) => Step {
            reply: Reply::StoreAndDrop,
            answer_after: Some(Cond::LaterAnswered),
            ..Step::default()
        },
        (_, 0) => Step {
            decide_after: Some(Cond::FirstStored),
            ..Step::default()
        },
        _ => Step::default(),
    })
    .await;
    assert!(logged(&log, Some(1), "#0: 200 OK, dropped"), "{log:#?}");
    assert!(logged(&log, None, "#0: 200 OK"), "{log:#?}");
}

/// Batches 2 and 3 on their way together: batch 3 reaches the gateway first and gets its 409
/// (batch 2 is missing), then batch 2 is stored and acknowledged, and that acknowledgement
/// frees the first spool segment. Batch 3's 409 was true when it was given but is stale by the
/// time the runner reads it (answers are read in the order the batches were sent): it must not
/// read as the gateway having lost acknowledged events. Batch 3 is sent again.
#[tokio::test]
async fn a_stale_409_after_an_acknowledgement_that_freed_a_segment() {
    let log = deliver(|first, attempt| match (first, attempt) {
        // Batch 2 (batch 3 starts in the last third) waits for batch 3's answer.
        (f, 0) if f > 1 && f + EVENTS / 3 <= EVENTS => Step {
            decide_after: Some(Cond::AnsweredAfter(f)),
            ..Step::default()
        },
        _ => Step::default(),
    })
    .await;
    let third = log
        .iter()
        .filter_map(|l| l.split("..").next()?.parse::<u64>().ok())
        .max()
        .expect("batches");
    assert!(logged(&log, Some(third), "#0: 409 Conflict"), "{log:#?}");
    assert!(logged(&log, Some(third), "#1: 200 OK"), "{log:#?}");
}

/// A line spooled while the batch before it waits for its answer goes out at once, beside it
/// (the second batch on its way), not once that answer is in: here the gateway answers batch 1
/// only after batch 2 has arrived, as a gateway does whose answer is slow (a busy machine, a
/// long commit). Before, the sender waited for batch 1's answer and the gateway waited in vain.
#[tokio::test]
async fn a_line_spooled_while_a_batch_waits_goes_out_beside_it() {
    let dir = tempfile::tempdir().unwrap();
    let (spool, mut writer, _) = Spool::open(&dir.path().join("spool")).unwrap();
    writer.stage_line(EventKind::Stdout, &line(1), 0).unwrap();
    writer.commit().unwrap();
    let (gw, url) = scripted(&spool, |first, _| match first {
        1 => Step {
            answer_after: Some(Cond::ArrivedFrom(2)),
            ..Step::default()
        },
        _ => Step::default(),
    })
    .await;
    let sending = tokio::spawn(send(url, spool.clone()));
    // The child prints its second line once the first is at the gateway.
    gw.wait(Cond::ArrivedFrom(1), "the test").await;
    assert_eq!(
        writer.stage_line(EventKind::Stdout, &line(2), 0).unwrap(),
        2
    );
    writer.commit().unwrap();
    gw.wait(Cond::AnsweredAfter(1), "the test").await;
    spool.close();
    let end = tokio::time::timeout(SEND_LIMIT, sending)
        .await
        .expect("sending ends")
        .expect("the sender's task");
    check_delivered(end, &gw.state(), 2);
    assert_eq!(spool.progress(), (2, 2, true));
}
