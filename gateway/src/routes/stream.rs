//! Server-sent event streams for the web UI: one run's events, and the runs list.
//!
//! A run stream resumes after `Last-Event-ID` (or `?after=`): it subscribes to the hub *first*,
//! then replays from the store, then forwards live batches, writing each sequence exactly once in
//! order. Whatever the hub cannot vouch for (a lagged receiver, a batch that does not continue the
//! last sequence written) is read from the store instead, so the stream has no gap and no
//! duplicate, also across a gateway restart (the store is the truth; `id:` is the sequence).
//! A commit the hub never carried (its publish was lost) is found by a reconcile: about once a
//! second while no batch arrives, one read of the run's row compares its last sequence and status
//! with what the stream has written, and catches up from the store or ends the stream.

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use common::wire::{EventKind, RawEvent, RunSummary};
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;

use crate::auth::{Authorized, ReadRuns};
use crate::error::ApiError;
use crate::state::AppState;

/// A comment line this often keeps proxies and the browser from timing the stream out.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// How long a run stream waits for a batch before it checks the store for one the hub never
/// carried. One primary-key read of the run's row per open stream and period.
const RECONCILE: Duration = Duration::from_secs(1);
/// Events read from the store per query while catching up.
const PAGE: usize = 1000;
/// How long the browser waits before reconnecting (the `retry:` field), in ms.
const RETRY_MS: u64 = 2000;
/// Runs in the list snapshot.
const LIST_LIMIT: usize = 200;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/runs/{id}/stream", get(run_stream))
        .route("/api/stream", get(list_stream))
}

#[derive(Debug, Deserialize)]
struct StreamQuery {
    after: Option<u64>,
}

/// `GET /api/runs/:id/stream`: the run's events after `Last-Event-ID` / `?after=`, then live.
async fn run_stream(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<StreamQuery>,
    _caller: Authorized<ReadRuns>,
) -> Result<Response, ApiError> {
    crate::http::stored_run(state.store.as_ref(), &id).await?;
    // The header wins: it is what the browser sends when it reconnects by itself.
    let after = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .or(q.after)
        .unwrap_or(0);
    // Subscribe before reading the store: a batch committed in between is then either in the
    // replay or in the channel (or both, and the sequence check drops the second copy).
    let rx = state.live.subscribe_run(&id);
    let (tx, body) = mpsc::channel(4);
    tokio::spawn(pump_run(state, id, after, rx, Out::new(tx)));
    Ok(event_stream(body))
}

/// `GET /api/stream`: a `runs` snapshot (newest first), then each changed run as a `run` event.
async fn list_stream(
    State(state): State<AppState>,
    _caller: Authorized<ReadRuns>,
) -> Result<Response, ApiError> {
    let rx = state.live.subscribe_runs();
    let (tx, body) = mpsc::channel(4);
    tokio::spawn(pump_list(state, rx, Out::new(tx)));
    Ok(event_stream(body))
}

fn event_stream(mut body: mpsc::Receiver<Bytes>) -> Response {
    let stream = futures_util::stream::poll_fn(move |cx| {
        body.poll_recv(cx).map(|b| b.map(Ok::<_, Infallible>))
    });
    let mut resp = Body::from_stream(stream).into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    resp
}

/// The client went away.
struct Gone;

/// Frames buffered and sent in chunks (one per store page or live batch).
struct Out {
    tx: mpsc::Sender<Bytes>,
    buf: String,
}

impl Out {
    fn new(tx: mpsc::Sender<Bytes>) -> Self {
        Self {
            tx,
            buf: format!("retry: {RETRY_MS}\n\n"),
        }
    }

    fn frame(&mut self, id: Option<u64>, event: Option<&str>, data: &str) {
        use std::fmt::Write;
        if let Some(id) = id {
            let _ = writeln!(self.buf, "id: {id}");
        }
        if let Some(event) = event {
            let _ = writeln!(self.buf, "event: {event}");
        }
        // serde_json output has no raw newlines, so one data line carries it.
        let _ = write!(self.buf, "data: {data}\n\n");
    }

    fn json(&mut self, id: Option<u64>, event: Option<&str>, value: &impl serde::Serialize) {
        match serde_json::to_string(value) {
            Ok(data) => self.frame(id, event, &data),
            Err(e) => tracing::error!(error = %e, "serialise a stream event"),
        }
    }

    async fn flush(&mut self) -> Result<(), Gone> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::take(&mut self.buf));
        self.tx.send(chunk).await.map_err(|_| Gone)
    }
}

fn is_finished(e: &RawEvent) -> bool {
    e.kind == EventKind::Marker && e.data_value()["event"].as_str() == Some("finished")
}

/// The writer of one run stream: `last` is the highest sequence written.
struct RunPump {
    state: AppState,
    id: String,
    last: u64,
    finished: bool,
    out: Out,
}

impl RunPump {
    fn write(&mut self, e: &RawEvent) {
        self.out.json(Some(e.sequence), None, e);
        self.last = e.sequence;
        self.finished |= is_finished(e);
    }

    /// Write every stored event after `last`, page by page.
    async fn catch_up(&mut self) -> Result<(), Gone> {
        loop {
            let page = match self
                .state
                .store
                .events(self.id.clone(), self.last, PAGE)
                .await
            {
                Ok(page) => page,
                Err(e) => {
                    tracing::error!(run = %self.id, error = %e, "stream replay failed");
                    return Err(Gone);
                }
            };
            for e in &page {
                self.write(e);
            }
            self.out.flush().await?;
            if page.len() < PAGE {
                return Ok(());
            }
        }
    }

    /// Write a live batch, reading from the store whatever it does not continue.
    async fn live(&mut self, batch: &[RawEvent]) -> Result<(), Gone> {
        for e in batch {
            if e.sequence <= self.last {
                continue;
            }
            if e.sequence != self.last + 1 {
                // A batch overtook another; the store has both (publishing follows the commit).
                return self.catch_up().await;
            }
            self.write(e);
        }
        self.out.flush().await
    }

    /// The run's row, `None` when it is gone or cannot be read (then nothing is decided from it).
    async fn summary(&self) -> Option<RunSummary> {
        match self.state.store.run(self.id.clone()).await {
            Ok(run) => run.map(|r| r.summary),
            Err(e) => {
                // Quiet: every open stream asks once a second, and the store counts its failures.
                tracing::debug!(run = %self.id, error = %e, "read a streamed run");
                None
            }
        }
    }

    /// Whether the run has ended and the client has everything, judged from `run` (read before
    /// the last catch-up: a terminal run takes no new events, so its last sequence is final).
    fn done(&self, run: Option<&RunSummary>) -> bool {
        self.finished || run.is_some_and(|r| r.status.is_terminal() && self.last >= r.last_sequence)
    }

    /// Tell the client the run has ended, so it stops reconnecting.
    async fn end(&mut self) -> Result<(), Gone> {
        self.out.frame(None, Some("end"), "{}");
        self.out.flush().await
    }

    /// The run has ended and the client has everything: tell it so. `true` if it was told.
    async fn ended(&mut self) -> Result<bool, Gone> {
        if !self.finished {
            let run = self.summary().await;
            if !self.done(run.as_ref()) {
                return Ok(false);
            }
        }
        self.end().await?;
        Ok(true)
    }

    /// Catch up with a commit the hub never carried: when the store's last sequence is past the
    /// last one written, write the rest from the store; then end the stream if the run has ended
    /// and everything is written. One read of the run's row when there is nothing new. `true`
    /// once the end was sent.
    async fn reconcile(&mut self) -> Result<bool, Gone> {
        let run = self.summary().await;
        if run.as_ref().is_some_and(|r| r.last_sequence > self.last) {
            self.catch_up().await?;
        }
        if !self.done(run.as_ref()) {
            return Ok(false);
        }
        self.end().await?;
        Ok(true)
    }
}

async fn pump_run(
    state: AppState,
    id: String,
    after: u64,
    mut rx: tokio::sync::broadcast::Receiver<crate::live::Batch>,
    out: Out,
) {
    let mut pump = RunPump {
        state,
        id,
        last: after,
        finished: false,
        out,
    };
    let result: Result<(), Gone> = async {
        pump.catch_up().await?;
        if pump.ended().await? {
            return Ok(());
        }
        let mut keep_alive = tokio::time::interval(KEEP_ALIVE);
        keep_alive.tick().await;
        let mut reconcile =
            tokio::time::interval_at(tokio::time::Instant::now() + RECONCILE, RECONCILE);
        reconcile.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                msg = rx.recv() => {
                    // The hub is speaking: no need to ask the store for a while.
                    reconcile.reset();
                    match msg {
                        Ok(batch) => pump.live(&batch).await?,
                        Err(RecvError::Lagged(_)) => pump.catch_up().await?,
                        Err(RecvError::Closed) => return Ok(()),
                    }
                }
                _ = reconcile.tick() => if pump.reconcile().await? {
                    return Ok(());
                },
                _ = keep_alive.tick() => {
                    pump.out.buf.push_str(": keep-alive\n\n");
                    pump.out.flush().await?;
                }
                () = pump.out.tx.closed() => return Err(Gone),
            }
            if pump.finished && pump.ended().await? {
                return Ok(());
            }
        }
    }
    .await;
    let _ = result;
}

async fn pump_list(
    state: AppState,
    mut rx: tokio::sync::broadcast::Receiver<std::sync::Arc<common::wire::RunSummary>>,
    mut out: Out,
) {
    let result: Result<(), Gone> = async {
        snapshot(&state, &mut out).await?;
        let mut keep_alive = tokio::time::interval(KEEP_ALIVE);
        keep_alive.tick().await;
        loop {
            tokio::select! {
                msg = rx.recv() => match msg {
                    Ok(run) => out.json(None, Some("run"), &*run),
                    Err(RecvError::Lagged(_)) => snapshot(&state, &mut out).await?,
                    Err(RecvError::Closed) => return Ok(()),
                },
                _ = keep_alive.tick() => out.buf.push_str(": keep-alive\n\n"),
                () = out.tx.closed() => return Err(Gone),
            }
            out.flush().await?;
        }
    }
    .await;
    let _ = result;
}

async fn snapshot(state: &AppState, out: &mut Out) -> Result<(), Gone> {
    match state.store.list_runs(LIST_LIMIT).await {
        Ok(runs) => out.json(None, Some("runs"), &runs),
        Err(e) => {
            tracing::error!(error = %e, "runs list for a stream");
            return Err(Gone);
        }
    }
    out.flush().await
}
