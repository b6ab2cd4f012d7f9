//! The load generator behind `loadgen` and the CI load test: many simulated runners speaking the
//! real protocol to one gateway while browsers watch some of their runs.
//!
//! A simulated runner creates its run with `POST /api/runner/runs` (signed with `HMAC_SECRET`),
//! derives `K_run`, then "prints" one line every `1 / lines_per_sec` seconds and sends whatever is
//! pending as one signed batch whenever its previous request has been answered, as the real
//! runner's sender does; it ends with a `finished` marker carrying `eventCount` and
//! `streamSha256`, so the gateway itself judges whether the stream arrived whole. Each line starts
//! with the wall-clock microsecond it was due, and a viewer (`GET /api/runs/:id/stream` with the
//! admin token) subtracts that from the moment the line reaches it: the latency of the whole
//! path, queueing in the runner included. Everything is bounded: the runners stop after
//! `duration`, the viewers when their run's stream ends or a deadline passes.
//!
//! Beside them, `idle` runners can hold their connection open the way a quiet real runner does:
//! each creates its run and then only long-polls `GET /api/runs/:id/commands?wait=30` (signed),
//! again and again, until the streaming runners are done; with `long_poll` the streaming runners
//! poll the same way on their own connection's second stream, as `claude-runner start` does. Every
//! poll must answer 200 with no command.
//!
//! Nothing is lost when, afterwards, every run is `finished` with `delivery: complete` and
//! `last_sequence` equal to what its runner sent, and every viewer saw each sequence exactly once
//! in order up to the end of the stream.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::digest::StreamDigest;
use common::sign::{self, SignedParts};
use common::wire::{CreatedRun, Event, EventKind, IngestAck, IngestBatch, RunSummary};
use serde_json::json;

/// What to simulate.
#[derive(Debug, Clone)]
pub struct LoadConfig {
    pub runners: usize,
    pub lines_per_sec: f64,
    pub duration: Duration,
    /// Runs watched by one SSE viewer each (the first `viewers` runs).
    pub viewers: usize,
    /// Length of each line, at least the timestamp and counters it carries.
    pub line_bytes: usize,
    /// Runners that only hold a command long poll open (their runs print nothing).
    pub idle: usize,
    /// The streaming runners long-poll for commands too, on the same connection.
    pub long_poll: bool,
}

impl LoadConfig {
    /// `runners` streaming `lines_per_sec` for `duration`, `viewers` watching, no idle runners.
    pub fn streaming(
        runners: usize,
        lines_per_sec: f64,
        duration: Duration,
        viewers: usize,
    ) -> Self {
        Self {
            runners,
            lines_per_sec,
            duration,
            viewers,
            line_bytes: 100,
            idle: 0,
            long_poll: false,
        }
    }
}

/// Where the gateway is and the credentials the simulation needs.
#[derive(Debug, Clone)]
pub struct Target {
    pub url: String,
    pub ca_file: std::path::PathBuf,
    pub hmac_secret: String,
    pub admin_token: String,
    /// The gateway's process, when it runs on this machine: its connections are counted.
    pub pid: Option<u32>,
}

impl Target {
    pub fn of(gateway: &crate::Gateway) -> Self {
        Self {
            url: gateway.url.clone(),
            ca_file: gateway.ca_file.clone(),
            hmac_secret: gateway.hmac_secret.clone(),
            admin_token: gateway.admin_token.clone(),
            pid: Some(gateway.pid()),
        }
    }
}

/// Sorted latency samples, in microseconds.
#[derive(Clone, Default)]
pub struct Latencies(pub Vec<u64>);

impl std::fmt::Debug for Latencies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.summary())
    }
}

impl Latencies {
    pub fn from_unsorted(mut samples: Vec<u64>) -> Self {
        samples.sort_unstable();
        Self(samples)
    }

    /// The `q` quantile (0.0–1.0) in milliseconds; 0 without samples.
    pub fn ms(&self, q: f64) -> f64 {
        if self.0.is_empty() {
            return 0.0;
        }
        let i = ((self.0.len() - 1) as f64 * q).round() as usize;
        self.0[i] as f64 / 1000.0
    }

    pub fn summary(&self) -> String {
        format!(
            "p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} samples)",
            self.ms(0.5),
            self.ms(0.99),
            self.ms(1.0),
            self.0.len()
        )
    }
}

/// What happened.
#[derive(Debug, Default)]
pub struct LoadReport {
    /// Events the runners sent (lines and `finished` markers).
    pub events_sent: u64,
    /// Ingest requests answered 200.
    pub batches: u64,
    /// Every failed request or check, by kind ("ingest 503", "viewer: gap at 17", ...).
    pub errors: BTreeMap<String, u64>,
    /// Events the gateway does not hold although a runner sent them.
    pub lost_events: u64,
    /// Runs not `finished` with `delivery: complete`.
    pub incomplete_runs: u64,
    /// Viewers that did not see their run's whole stream exactly once, in order.
    pub viewers_short: u64,
    /// Line printed → line at an SSE viewer.
    pub latency: Latencies,
    /// From the first line due to the last `finished` marker acknowledged.
    pub elapsed: Duration,
    /// Command long polls answered (200, no command), idle and streaming runners together.
    pub polls: u64,
    /// The gateway's open file descriptors and sockets, at most, sampled once a second.
    pub peak_fds: usize,
    pub peak_sockets: usize,
    /// The gateway's CPU seconds from the first line due to the last `finished` acknowledged
    /// (run creation and connecting excluded); 0 when its process is not known.
    pub gateway_cpu: f64,
}

impl LoadReport {
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }
}

/// Failures by kind, shared by the simulation's tasks.
#[derive(Debug, Default)]
pub struct Errors(pub Mutex<BTreeMap<String, u64>>);

impl Errors {
    pub fn add(&self, what: impl Into<String>) {
        *self
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(what.into())
            .or_insert(0) += 1;
    }
}

/// An HTTPS client trusting the gateway's CA.
pub fn client(target: &Target) -> reqwest::Client {
    clients(target)()
}

/// A maker of HTTPS clients sharing one TLS configuration. Each simulated runner and viewer gets
/// its own client, so its own connection, as separate machines and browsers would: one shared
/// HTTP/2 connection would multiplex everything and stall past the server's 200 concurrent
/// streams once 200 event streams hold them open.
pub fn clients(target: &Target) -> impl Fn() -> reqwest::Client + Clone {
    claude_runner::client::install_crypto_provider();
    let cfg = claude_runner::tls::client_config(&claude_runner::tls::Trust::CaFile(
        target.ca_file.clone(),
    ))
    .expect("TLS client config");
    move || {
        reqwest::Client::builder()
            .tls_backend_preconfigured(cfg.clone())
            .no_proxy()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("HTTP client")
    }
}

/// Unix microseconds now.
pub fn unix_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// Send a signed request (the protocol's §2) and return the answer.
pub async fn signed(
    http: &reqwest::Client,
    base: &str,
    path: &str,
    run_id: &str,
    key: &[u8],
    body: Vec<u8>,
) -> reqwest::Result<reqwest::Response> {
    let timestamp = (unix_us() / 1_000_000) as i64;
    let nonce = claude_runner::client::random_b64(18);
    let signature = sign::sign(
        key,
        &SignedParts {
            method: "POST",
            path,
            query: "",
            run_id,
            timestamp,
            nonce: &nonce,
            body: &body,
        },
    );
    http.post(format!("{base}{path}"))
        .headers(signature_headers(timestamp, &nonce, run_id, &signature))
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await
}

/// The signature headers as `claude-runner` sends them (the same sensitive marking, so the
/// gateway decodes what it decodes from real runners).
fn signature_headers(
    timestamp: i64,
    nonce: &str,
    run_id: &str,
    signature: &str,
) -> reqwest::header::HeaderMap {
    claude_runner::client::signature_headers(timestamp, nonce, run_id, signature)
        .expect("signature headers are ASCII")
}

/// Create a run as a runner does and derive its key.
pub async fn create_run(http: &reqwest::Client, target: &Target, name: &str) -> (String, [u8; 32]) {
    let body = serde_json::to_vec(&json!({ "name": name })).expect("json");
    let resp = signed(
        http,
        &target.url,
        "/api/runner/runs",
        "",
        target.hmac_secret.as_bytes(),
        body,
    )
    .await
    .expect("create a run");
    assert_eq!(resp.status(), reqwest::StatusCode::CREATED, "create a run");
    let created: CreatedRun = resp.json().await.expect("created run");
    let key = sign::derive_run_key(
        target.hmac_secret.as_bytes(),
        &created.run_id,
        &created.token,
    );
    (created.run_id, key)
}

/// Seconds a command long poll waits, as `claude-runner` asks.
pub const POLL_WAIT_SECS: u64 = 30;

/// Long-poll `GET /api/runs/:id/commands?wait=S` (signed) until `stop` says so, the first poll
/// waiting `first_wait` seconds (to spread thousands of pollers over the window), the rest
/// [`POLL_WAIT_SECS`]. Each answer must be 200 with no command; returns the polls answered.
pub async fn long_poll(
    http: reqwest::Client,
    base: String,
    run_id: String,
    key: [u8; 32],
    first_wait: u64,
    mut stop: tokio::sync::watch::Receiver<bool>,
    errors: Arc<Errors>,
) -> u64 {
    let path = format!("/api/runs/{run_id}/commands");
    let mut wait = first_wait;
    let mut polls = 0;
    loop {
        let query = format!("wait={wait}");
        let timestamp = (unix_us() / 1_000_000) as i64;
        let nonce = claude_runner::client::random_b64(18);
        let signature = sign::sign(
            &key,
            &SignedParts {
                method: "GET",
                path: &path,
                query: &query,
                run_id: &run_id,
                timestamp,
                nonce: &nonce,
                body: b"",
            },
        );
        let request = http
            .get(format!("{base}{path}?{query}"))
            .headers(signature_headers(timestamp, &nonce, &run_id, &signature))
            .timeout(Duration::from_secs(wait + 30))
            .send();
        let answer = tokio::select! {
            r = request => r,
            _ = stop.wait_for(|s| *s) => return polls,
        };
        match answer {
            Ok(r) if r.status().is_success() => match r.json::<Vec<serde_json::Value>>().await {
                Ok(commands) if commands.is_empty() => polls += 1,
                Ok(_) => errors.add("poll: a command nobody queued"),
                Err(e) => errors.add(format!("poll: unreadable answer: {e}")),
            },
            Ok(r) => {
                errors.add(format!("poll {}", r.status()));
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(e) => {
                errors.add(format!("poll: {}", e.without_url()));
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
        if *stop.borrow() {
            return polls;
        }
        wait = POLL_WAIT_SECS;
    }
}

/// Open file descriptors of process `pid` and how many of them are sockets (its connections,
/// plus its listener and a few of its own).
pub fn fd_counts(pid: u32) -> Option<(usize, usize)> {
    let dir = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?;
    let (mut fds, mut sockets) = (0, 0);
    for entry in dir.flatten() {
        fds += 1;
        if std::fs::read_link(entry.path())
            .is_ok_and(|t| t.as_os_str().as_encoded_bytes().starts_with(b"socket:"))
        {
            sockets += 1;
        }
    }
    Some((fds, sockets))
}

/// Deliver `events` (ascending, continuing the run) until the gateway acknowledges all of them,
/// retrying what a runner retries; every failed attempt is reported. Returns whether it got there.
pub async fn deliver(
    http: &reqwest::Client,
    base: &str,
    run_id: &str,
    key: &[u8; 32],
    events: Vec<Event>,
    errors: &(impl Fn(String) + ?Sized),
) -> bool {
    let Some(last) = events.last().map(|e| e.sequence) else {
        return true;
    };
    let body = serde_json::to_vec(&IngestBatch {
        run_id: run_id.to_string(),
        events,
    })
    .expect("json");
    for _ in 0..100 {
        match signed(http, base, "/api/ingest/event", run_id, key, body.clone()).await {
            Ok(r) if r.status().is_success() => match r.json::<IngestAck>().await {
                Ok(ack) if ack.acked_through >= last => return true,
                Ok(ack) => {
                    errors(format!("ingest: acked {} of {last}", ack.acked_through));
                    return false;
                }
                Err(e) => errors(format!("ingest: unreadable answer: {e}")),
            },
            Ok(r) => {
                let status = r.status();
                let text = r.text().await.unwrap_or_default();
                errors(format!("ingest {status}"));
                let retry = status.is_server_error()
                    || status == reqwest::StatusCode::TOO_MANY_REQUESTS
                    || text.contains("replayed_nonce");
                if !retry {
                    return false;
                }
            }
            Err(e) => errors(format!("ingest: {}", e.without_url())),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// One simulated runner; returns the events it sent, `finished` included.
#[allow(clippy::too_many_arguments)] // one task's whole context, passed once at spawn
async fn simulate_runner(
    http: reqwest::Client,
    base: String,
    run_id: String,
    key: [u8; 32],
    cfg: Arc<LoadConfig>,
    clock: (Instant, u64),
    phase: Duration,
    errors: Arc<Errors>,
) -> (u64, u64) {
    let (start, start_us) = clock;
    let period = Duration::from_secs_f64(1.0 / cfg.lines_per_sec);
    let end = start + cfg.duration;
    let mut next_due = start + phase;
    let mut seq = 0u64;
    let mut digest = StreamDigest::new();
    let mut pending = Vec::new();
    let mut batches = 0;
    let report = |e: String| errors.add(e);
    let pad = "x".repeat(cfg.line_bytes.saturating_sub(60));
    loop {
        let now = Instant::now();
        while next_due <= now && next_due < end {
            seq += 1;
            let due_us = start_us + (next_due - start).as_micros() as u64;
            let event = Event {
                sequence: seq,
                kind: EventKind::Stdout,
                data: json!(format!("{due_us} {run_id} line {seq} {pad}")),
                ts: (due_us / 1000) as i64,
            };
            digest.push(&event);
            pending.push(event);
            next_due += period;
        }
        if !pending.is_empty() {
            let batch = std::mem::take(&mut pending);
            if !deliver(&http, &base, &run_id, &key, batch, &report).await {
                errors.add("runner gave up");
                return (seq, batches);
            }
            batches += 1;
            continue;
        }
        if next_due >= end {
            break;
        }
        tokio::time::sleep_until(next_due.into()).await;
    }
    let finished = Event {
        sequence: seq + 1,
        kind: EventKind::Marker,
        data: json!({"event": "finished", "exitCode": 0, "durationMs": cfg.duration.as_millis() as u64,
                     "eventCount": seq, "streamSha256": digest.hex()}),
        ts: (unix_us() / 1000) as i64,
    };
    if deliver(&http, &base, &run_id, &key, vec![finished], &report).await {
        batches += 1;
    }
    (seq + 1, batches)
}

/// What one viewer saw.
#[derive(Debug, Default)]
pub struct Seen {
    /// The highest sequence seen.
    pub last: u64,
    /// `event: end` arrived: the run ended and the stream holds all of it.
    pub ended: bool,
    /// Microseconds from each line's embedded due time to its arrival.
    pub latencies: Vec<u64>,
    /// Each line's embedded due time (Unix µs), in the order of `latencies`.
    pub printed: Vec<u64>,
    /// Microseconds from each line's due time to the runner framing it (the event's `ts`, in
    /// milliseconds), in the order of `latencies`: the child → runner part of the latency.
    pub framed: Vec<u64>,
}

/// Watch one run's stream until `event: end` (or `deadline`), checking each sequence arrives once
/// and in order, and timing each line.
pub async fn view(mut resp: reqwest::Response, deadline: Instant, errors: Arc<Errors>) -> Seen {
    let mut seen = Seen::default();
    let mut buf: Vec<u8> = Vec::new();
    loop {
        let chunk = match tokio::time::timeout_at(deadline.into(), resp.chunk()).await {
            Err(_) => {
                errors.add("viewer: deadline passed before the stream ended");
                return seen;
            }
            Ok(Err(e)) => {
                errors.add(format!("viewer: {}", e.without_url()));
                return seen;
            }
            Ok(Ok(None)) => {
                if !seen.ended {
                    errors.add("viewer: stream closed before its end");
                }
                return seen;
            }
            Ok(Ok(Some(c))) => c,
        };
        let arrived = unix_us();
        buf.extend_from_slice(&chunk);
        while let Some(at) = buf.windows(2).position(|w| w == b"\n\n") {
            let frame: Vec<u8> = buf.drain(..at + 2).collect();
            let frame = String::from_utf8_lossy(&frame);
            let mut data = None;
            for line in frame.lines() {
                if line == "event: end" {
                    seen.ended = true;
                } else if let Some(d) = line.strip_prefix("data: ") {
                    data = Some(d.to_string());
                }
            }
            if seen.ended {
                return seen;
            }
            let Some(data) = data else { continue };
            let Ok(event) = serde_json::from_str::<Event>(&data) else {
                continue;
            };
            if event.sequence != seen.last + 1 {
                errors.add(format!(
                    "viewer: sequence {} after {}",
                    event.sequence, seen.last
                ));
            }
            seen.last = seen.last.max(event.sequence);
            if let Some(due) = event
                .data
                .as_str()
                .and_then(|s| s.split(' ').next())
                .and_then(|t| t.parse::<u64>().ok())
            {
                seen.latencies.push(arrived.saturating_sub(due));
                seen.printed.push(due);
                seen.framed.push(
                    u64::try_from(event.ts)
                        .unwrap_or(0)
                        .saturating_mul(1000)
                        .saturating_sub(due),
                );
            }
        }
    }
}

/// Open a run's event stream with the admin token.
pub async fn open_stream(
    http: &reqwest::Client,
    target: &Target,
    run_id: &str,
) -> reqwest::Response {
    let resp = http
        .get(format!("{}/api/runs/{run_id}/stream", target.url))
        .bearer_auth(&target.admin_token)
        .timeout(Duration::from_secs(24 * 3600))
        .send()
        .await
        .expect("open a stream");
    assert!(resp.status().is_success(), "stream: {}", resp.status());
    resp
}

/// Run the simulation against `target` and check the outcome.
pub async fn run(target: &Target, cfg: &LoadConfig) -> LoadReport {
    let make = clients(target);
    let http = make();
    let errors = Arc::new(Errors::default());
    let cfg = Arc::new(cfg.clone());

    // Told when the streaming runners are done: the pollers and the sampler stop.
    let (stop_polls, polls_stop) = tokio::sync::watch::channel(false);
    // The gateway's descriptors and sockets, sampled once a second until then.
    let sampler = target.pid.map(|pid| {
        let mut stop = polls_stop.clone();
        tokio::spawn(async move {
            let mut peak = (0, 0);
            loop {
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = stop.wait_for(|s| *s) => return peak,
                }
                let Some((fds, sockets)) = tokio::task::spawn_blocking(move || fd_counts(pid))
                    .await
                    .ok()
                    .flatten()
                else {
                    return peak;
                };
                peak = (peak.0.max(fds), peak.1.max(sockets));
            }
        })
    });

    // Runs first (a few at a time), idle ones after the streaming ones, then the viewers'
    // streams and the idle runners' polls, then the clock starts.
    let mut runs = Vec::with_capacity(cfg.runners + cfg.idle);
    let ids: Vec<usize> = (0..cfg.runners + cfg.idle).collect();
    for chunk in ids.chunks(50) {
        let made = chunk.iter().map(|&i| {
            let http = http.clone();
            let target = target.clone();
            async move { create_run(&http, &target, &format!("load {i}")).await }
        });
        runs.extend(futures_join_all(made).await);
    }
    let idle_runs = runs.split_off(cfg.runners);
    let mut pollers = Vec::with_capacity(idle_runs.len() + cfg.runners);
    for (i, (run_id, key)) in idle_runs.iter().enumerate() {
        pollers.push(tokio::spawn(long_poll(
            make(),
            target.url.clone(),
            run_id.clone(),
            *key,
            1 + i as u64 % POLL_WAIT_SECS,
            polls_stop.clone(),
            errors.clone(),
        )));
    }
    // Streaming runners poll from before the clock starts: their connection is open (and known
    // to speak HTTP/2) when their first batch goes, which then shares it, as a real runner's
    // does. (Started together on a new client, two requests would open two connections.)
    let mut clients = Vec::with_capacity(runs.len());
    for (i, (run_id, key)) in runs.iter().enumerate() {
        let http = make();
        if cfg.long_poll {
            pollers.push(tokio::spawn(long_poll(
                http.clone(),
                target.url.clone(),
                run_id.clone(),
                *key,
                1 + i as u64 % POLL_WAIT_SECS,
                polls_stop.clone(),
                errors.clone(),
            )));
        }
        clients.push(http);
    }
    let polling = cfg.idle + if cfg.long_poll { cfg.runners } else { 0 };
    if let (Some(pid), true) = (target.pid, polling > 0) {
        // Every polling runner connected (one socket each) before the clock starts.
        let until = Instant::now() + Duration::from_secs(120);
        while Instant::now() < until && fd_counts(pid).is_none_or(|(_, sockets)| sockets < polling)
        {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let deadline = Instant::now() + cfg.duration + Duration::from_secs(120);
    let mut viewers = Vec::new();
    for (run_id, _) in runs.iter().take(cfg.viewers) {
        let resp = open_stream(&make(), target, run_id).await;
        viewers.push(tokio::spawn(view(resp, deadline, errors.clone())));
    }

    let cpu_at = || {
        target
            .pid
            .and_then(proc_stats)
            .map_or(0.0, |p| p.cpu_seconds)
    };
    let cpu_before = cpu_at();
    let start = Instant::now();
    let clock = (start, unix_us());
    let period = 1.0 / cfg.lines_per_sec;
    let mut tasks = Vec::new();
    for (i, ((run_id, key), http)) in runs.iter().zip(clients).enumerate() {
        let phase = Duration::from_secs_f64(period * (i as f64 / cfg.runners.max(1) as f64));
        tasks.push(tokio::spawn(simulate_runner(
            http,
            target.url.clone(),
            run_id.clone(),
            *key,
            cfg.clone(),
            clock,
            phase,
            errors.clone(),
        )));
    }
    let mut report = LoadReport::default();
    let mut sent = Vec::with_capacity(tasks.len());
    for task in tasks {
        let (events, batches) = task.await.expect("runner task");
        report.events_sent += events;
        report.batches += batches;
        sent.push(events);
    }
    report.elapsed = start.elapsed();
    report.gateway_cpu = cpu_at() - cpu_before;
    let _ = stop_polls.send(true);
    for p in pollers {
        report.polls += p.await.expect("poller task");
    }
    if let Some(s) = sampler {
        (report.peak_fds, report.peak_sockets) = s.await.unwrap_or((0, 0));
    }

    let mut samples = Vec::new();
    for (v, sent) in viewers.into_iter().zip(&sent) {
        let seen = v.await.expect("viewer task");
        samples.extend(seen.latencies);
        if !seen.ended || seen.last != *sent {
            report.viewers_short += 1;
        }
    }
    // A viewer that ended saw `event: end`, which the gateway sends only when it has written
    // every stored event; with the in-order check above that is the whole stream. Count the
    // runs whose stored stream is short against what their runner sent.
    for ((run_id, _), sent) in runs.iter().zip(&sent) {
        let resp = http
            .get(format!("{}/api/runs/{run_id}", target.url))
            .bearer_auth(&target.admin_token)
            .send()
            .await;
        let run: Option<RunSummary> = match resp {
            Ok(r) if r.status().is_success() => r.json().await.ok(),
            _ => None,
        };
        match run {
            Some(run) => {
                report.lost_events += sent.saturating_sub(run.last_sequence);
                let complete = run.status == common::wire::RunStatus::Finished
                    && run.delivery == Some(common::wire::Delivery::Complete)
                    && run.last_sequence == *sent;
                if !complete {
                    report.incomplete_runs += 1;
                }
            }
            None => {
                errors.add("admin: run unreadable");
                report.lost_events += sent;
                report.incomplete_runs += 1;
            }
        }
    }
    report.latency = Latencies::from_unsorted(samples);
    report.errors = std::mem::take(&mut *errors.0.lock().unwrap_or_else(|p| p.into_inner()));
    report
}

/// Await every future, in order (a small `join_all` without another crate).
pub async fn futures_join_all<F: std::future::Future + Send + 'static>(
    futures: impl IntoIterator<Item = F>,
) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await.expect("task"));
    }
    out
}

/// Memory and CPU time of process `pid`, from `/proc/<pid>/{status,stat}`.
pub fn proc_stats(pid: u32) -> Option<gateway::metrics::ProcessStats> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    gateway::metrics::parse_process(&status, &stat)
}

/// Parse `--name value` pairs of a benchmark's command line into numbers.
pub fn flag(args: &[String], name: &str, default: f64) -> f64 {
    args.windows(2)
        .find(|w| w[0] == name)
        .map(|w| {
            w[1].parse()
                .unwrap_or_else(|_| panic!("{name} takes a number, not {:?}", w[1]))
        })
        .unwrap_or(default)
}
