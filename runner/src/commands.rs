//! The command channel on the runner: long-poll the gateway, acknowledge each command, never act
//! on the same id twice, and carry out `exec` (allowlisted, no shell), `stop`, `file` and
//! `assist`; `prompt`, `interrupt` and `end_session` go to the session (`session.rs`),
//! `permission` decisions to the run's approvals (`permission::broker`).
//!
//! Everything a command produces goes through the run's frame channel, so it is redacted,
//! numbered and delivered exactly like the child's own output. `exec` commands run one at a time
//! on their own task, beside Claude, so neither blocks the other or the poll loop (a `stop` is
//! seen while a long `cargo test` runs); `file` reads run on another, so opening a file does not
//! wait for a test run. A poll refused with `unknown_run` means the run was deleted at the
//! gateway: the session is told, and polling ends.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::{Duration, Instant};

use common::redact::Rules;
use common::wire::{self, Command, CommandKind, EventKind, Marker};
use nix::sys::signal::Signal;
use reqwest::Method;
use serde_json::Value;
use tokio::io::{AsyncRead, ReadBuf};
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinHandle;

use crate::allowlist::Allowlist;
use crate::artifacts::{self, UploadError};
use crate::child::{self, SpawnError};
use crate::client::{GatewayClient, Signer, error_body};
use crate::permission::broker::{Broker, Decision};
use crate::pipeline::{self, Backoff, Frame};
use crate::session::Control;
use crate::workspace;

/// Seconds each long poll asks the gateway to wait.
pub const POLL_WAIT_SECS: u64 = 25;
/// Longest an `exec` command may run before it is stopped.
pub const EXEC_TIME_LIMIT: Duration = Duration::from_secs(10 * 60);
/// Grace between SIGINT and SIGKILL when an `exec` command is stopped.
const EXEC_STOP_GRACE: Duration = Duration::from_secs(2);
/// How long to keep reading a command's pipes that a descendant holds open after it exited.
const PIPE_GRACE: Duration = Duration::from_secs(5);
/// How long [`Steering::finish`] waits for a running command to be stopped and reported.
const FINISH_TIMEOUT: Duration = Duration::from_secs(20);
/// The artifact a `git diff` command's output becomes.
pub const DIFF_ARTIFACT: &str = "latest.diff";
/// Most `exec` commands (and, separately, `file` reads) waiting behind the running one; more are
/// refused rather than queued without bound.
pub const MAX_QUEUED: usize = 64;
/// Most controls (prompts, interrupts, …) waiting for the session.
pub const MAX_CONTROLS: usize = 256;
/// Largest poll answer read; a gateway sending more is not followed.
pub const MAX_POLL_BYTES: usize = 1024 * 1024;

/// What the command loop needs from `start`.
#[derive(Debug)]
pub struct Context {
    pub client: GatewayClient,
    pub signer: Signer,
    pub run_id: String,
    /// The run's working directory; `exec` commands run here.
    pub cwd: PathBuf,
    /// Inside `cwd` but never served by `file` commands: the runner's own data directory.
    pub hidden: Vec<PathBuf>,
    pub allowlist: Allowlist,
    pub rules: Arc<Rules>,
    /// The run's frame channel (to the sequencer).
    pub tx: mpsc::Sender<Frame>,
    /// Notified on a `stop` command; `start` then stops the child gracefully.
    pub stop: Arc<Notify>,
    /// Prompts, interrupts, the end of the session and the run's deletion, for the session.
    pub controls: mpsc::Sender<Control>,
    /// Takes `permission` decisions.
    pub broker: Arc<Broker>,
    /// Where acted-on command ids are kept, one a line, so a restarted runner skips them too.
    pub seen_file: PathBuf,
    /// Where artifacts (`latest.diff`, file contents) wait until the gateway has them.
    pub outbox: crate::outbox::Outbox,
    pub time_limit: Duration,
}

/// The running command loop; [`Steering::finish`] ends it.
#[derive(Debug)]
pub struct Steering {
    shutdown: watch::Sender<bool>,
    task: JoinHandle<()>,
}

/// Start polling for commands.
pub fn spawn(ctx: Context) -> Steering {
    let (shutdown, rx) = watch::channel(false);
    let task = tokio::spawn(run(Arc::new(ctx), rx));
    Steering { shutdown, task }
}

impl Steering {
    /// Stop polling, stop a running command (it is reported as ended) and wait until every
    /// event of the loop is in the frame channel.
    pub async fn finish(self) {
        let _ = self.shutdown.send(true);
        let abort = self.task.abort_handle();
        if tokio::time::timeout(FINISH_TIMEOUT, self.task)
            .await
            .is_err()
        {
            abort.abort();
        }
    }
}

async fn run(ctx: Arc<Context>, shutdown: watch::Receiver<bool>) {
    let (jobs_tx, jobs_rx) = mpsc::channel(MAX_QUEUED);
    let worker = tokio::spawn(exec_worker(ctx.clone(), jobs_rx, shutdown.clone()));
    let (files_tx, files_rx) = mpsc::channel(MAX_QUEUED);
    let file_worker = tokio::spawn(file_worker(ctx.clone(), files_rx));
    let mut dispatcher = Dispatcher {
        seen: SeenIds::load(&ctx.seen_file),
        allowlist: ctx.allowlist.clone(),
        tx: ctx.tx.clone(),
        stop: ctx.stop.clone(),
        controls: ctx.controls.clone(),
        broker: ctx.broker.clone(),
        jobs: jobs_tx,
        files: files_tx,
    };
    poll_loop(&ctx, &mut dispatcher, shutdown).await;
    // Closing the queues lets the workers end once the running command is reported.
    drop(dispatcher);
    let _ = worker.await;
    let _ = file_worker.await;
}

async fn poll_loop(
    ctx: &Context,
    dispatcher: &mut Dispatcher,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut backoff = Backoff::default();
    loop {
        let polled = tokio::select! {
            _ = shutdown.wait_for(|over| *over) => return,
            r = fetch(ctx) => r,
        };
        match polled {
            Ok(Polled::Deleted) => {
                let _ = ctx
                    .tx
                    .send(Frame::new(
                        EventKind::Error,
                        Value::String(
                            "The gateway no longer knows this run (deleted); ending it".into(),
                        ),
                    ))
                    .await;
                let _ = dispatcher.controls.send(Control::Deleted).await;
                return;
            }
            Ok(Polled::Commands(commands)) => {
                backoff.reset();
                for command in commands {
                    let id = command.id.clone();
                    let acted = dispatcher.take(command).await;
                    // Acked also when seen before: that delivery's ack may have been lost.
                    if acted.is_some() {
                        ack(ctx, &id).await;
                    }
                }
            }
            Err(e) => {
                let delay = backoff.next_delay().max(Duration::from_millis(500));
                tracing::debug!(error = %format!("{e:#}"), ?delay, "polling for commands failed");
                tokio::select! {
                    _ = shutdown.wait_for(|over| *over) => return,
                    () = tokio::time::sleep(delay) => {}
                }
            }
        }
    }
}

/// What one long poll got.
#[derive(Debug)]
enum Polled {
    Commands(Vec<Command>),
    /// `401 unknown_run`: the run was deleted at the gateway.
    Deleted,
}

/// One long poll.
async fn fetch(ctx: &Context) -> anyhow::Result<Polled> {
    let path = format!("api/runs/{}/commands?wait={POLL_WAIT_SECS}", ctx.run_id);
    let resp = ctx
        .client
        .send(Method::GET, &path, &ctx.signer, Vec::new())
        .await?;
    let status = resp.status();
    if !status.is_success() {
        let body = error_body(resp).await;
        if status == reqwest::StatusCode::UNAUTHORIZED
            && body.reason.as_deref() == Some("unknown_run")
        {
            return Ok(Polled::Deleted);
        }
        anyhow::bail!("{status}: {}", body.message);
    }
    let body = read_capped(resp, MAX_POLL_BYTES).await?;
    Ok(Polled::Commands(serde_json::from_slice(&body)?))
}

/// A response body, refused once it passes `limit` bytes (read no further).
async fn read_capped(mut resp: reqwest::Response, limit: usize) -> anyhow::Result<Vec<u8>> {
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        if body.len() + chunk.len() > limit {
            anyhow::bail!("the gateway's answer is larger than {limit} bytes");
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Tell the gateway the command is taken; a lost ack only means it is delivered (and skipped)
/// again.
async fn ack(ctx: &Context, id: &str) {
    let path = format!("api/runs/{}/commands/{id}/ack", ctx.run_id);
    for attempt in 0..3u64 {
        match ctx
            .client
            .send(Method::POST, &path, &ctx.signer, Vec::new())
            .await
        {
            Ok(r) if r.status().is_success() => return,
            Ok(r) => tracing::debug!(status = %r.status(), command = id, "ack refused"),
            Err(e) => tracing::debug!(error = %e, command = id, "ack failed"),
        }
        tokio::time::sleep(Duration::from_millis(200 * (attempt + 1))).await;
    }
}

/// Command ids already acted on, in memory and appended to a file.
#[derive(Debug)]
struct SeenIds {
    ids: HashSet<String>,
    file: Option<std::fs::File>,
}

impl SeenIds {
    fn load(path: &Path) -> Self {
        let ids = std::fs::read_to_string(path)
            .map(|t| t.lines().map(String::from).collect())
            .unwrap_or_default();
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(
                |e| tracing::warn!(path = %path.display(), error = %e, "cannot record command ids"),
            )
            .ok();
        Self { ids, file }
    }

    /// True if `id` is new (and now recorded).
    fn insert(&mut self, id: &str) -> bool {
        if !self.ids.insert(id.to_string()) {
            return false;
        }
        if let Some(f) = &mut self.file {
            let _ = writeln!(f, "{id}").and_then(|()| f.flush());
        }
        true
    }
}

/// An allowlisted command waiting for the exec worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub id: String,
    /// The normalised command line.
    pub line: String,
    pub argv: Vec<String>,
}

/// Turns delivered commands into actions, each id at most once.
#[derive(Debug)]
struct Dispatcher {
    seen: SeenIds,
    allowlist: Allowlist,
    tx: mpsc::Sender<Frame>,
    stop: Arc<Notify>,
    controls: mpsc::Sender<Control>,
    broker: Arc<Broker>,
    jobs: mpsc::Sender<Job>,
    /// `file` commands: (command id, path).
    files: mpsc::Sender<(String, String)>,
}

/// What [`Dispatcher::take`] did with a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Taken {
    Acted,
    AlreadySeen,
}

impl Dispatcher {
    async fn emit(&self, kind: EventKind, data: Value) {
        let _ = self.tx.send(Frame::new(kind, data)).await;
    }

    /// Hand `item` to a bounded queue without waiting (a full queue must not stall the poll
    /// loop, which has to keep seeing `stop`); a full queue is reported and the command dropped.
    async fn enqueue<T>(&self, queue: &mpsc::Sender<T>, item: T, id: &str, what: &str) {
        if let Err(mpsc::error::TrySendError::Full(_)) = queue.try_send(item) {
            self.emit(
                EventKind::Error,
                Value::String(format!(
                    "Command {id} ({what}) was dropped: too many commands are already waiting"
                )),
            )
            .await;
        }
    }

    /// Act on `command` unless its id was seen before; `None` if the id is malformed (such a
    /// command is reported and never acknowledged, as its id cannot be put in a URL safely).
    async fn take(&mut self, command: Command) -> Option<Taken> {
        if !wire::valid_run_id(&command.id) {
            self.emit(
                EventKind::Error,
                Value::String("ignored a command whose id is malformed".into()),
            )
            .await;
            return None;
        }
        if !self.seen.insert(&command.id) {
            return Some(Taken::AlreadySeen);
        }
        let id = command.id;
        match command.kind {
            CommandKind::Exec { command } => match self.allowlist.check(&command) {
                Ok(argv) => {
                    let line = argv.join(" ");
                    let job = Job {
                        id: id.clone(),
                        line: line.clone(),
                        argv,
                    };
                    self.enqueue(&self.jobs, job, &id, &line).await;
                }
                Err(refusal) => {
                    self.emit(
                        EventKind::Error,
                        Value::String(format!("Refused command {id}: {refusal}; nothing ran")),
                    )
                    .await;
                    let marker = Marker::CommandRefused {
                        id,
                        command: crate::allowlist::normalise(&command),
                    };
                    self.emit(EventKind::Marker, marker.to_value()).await;
                }
            },
            CommandKind::Stop => self.stop.notify_one(),
            CommandKind::Prompt {
                prompt,
                model,
                permission_mode,
            } => {
                let c = Control::Prompt {
                    id: id.clone(),
                    prompt,
                    model,
                    permission_mode,
                };
                self.enqueue(&self.controls, c, &id, "prompt").await;
            }
            CommandKind::Interrupt => {
                let c = Control::Interrupt { id: id.clone() };
                self.enqueue(&self.controls, c, &id, "interrupt").await;
            }
            CommandKind::EndSession => {
                let c = Control::EndSession { id: id.clone() };
                self.enqueue(&self.controls, c, &id, "end_session").await;
            }
            CommandKind::File { path } => {
                self.enqueue(&self.files, (id.clone(), path), &id, "file")
                    .await;
            }
            CommandKind::Assist { assist } => {
                let data = serde_json::to_value(&assist).unwrap_or(Value::Null);
                if data.is_object() {
                    self.emit(EventKind::Assist, data).await;
                }
            }
            CommandKind::Permission {
                request_id,
                decision,
                message,
                rule,
                by,
            } => {
                self.broker
                    .decide(Decision {
                        command_id: id,
                        request_id,
                        choice: decision,
                        message,
                        rule,
                        by,
                    })
                    .await;
            }
        }
        Some(Taken::Acted)
    }
}

/// Run allowlisted commands one after another until the queue closes.
async fn exec_worker(
    ctx: Arc<Context>,
    mut jobs: mpsc::Receiver<Job>,
    mut shutdown: watch::Receiver<bool>,
) {
    while let Some(job) = jobs.recv().await {
        if *shutdown.borrow() {
            let _ = ctx
                .tx
                .send(Frame::new(
                    EventKind::Error,
                    Value::String(format!(
                        "Command {} ({}) did not run: the run ended first",
                        job.id, job.line
                    )),
                ))
                .await;
            continue;
        }
        run_exec(&ctx, job, &mut shutdown).await;
    }
}

/// Serve `file` commands one after another until the queue closes.
async fn file_worker(ctx: Arc<Context>, mut files: mpsc::Receiver<(String, String)>) {
    while let Some((id, path)) = files.recv().await {
        serve_file(&ctx, id, path).await;
    }
}

/// Read one file of the working directory (see [`workspace::read_file`] for what is refused),
/// redact it and upload it as `file-….txt`; a `file` marker names the artifact, or a
/// `file_refused` marker and an `error` event say why not.
async fn serve_file(ctx: &Context, id: String, path: String) {
    let emit = |kind: EventKind, data: Value| ctx.tx.send(Frame::new(kind, data));
    let root = ctx.cwd.clone();
    let rel = path.clone();
    let hidden = ctx.hidden.clone();
    let read = tokio::task::spawn_blocking(move || {
        workspace::read_file(&root, &rel, workspace::MAX_FILE_BYTES, &hidden)
    })
    .await
    .unwrap_or_else(|e| Err(format!("the read failed: {e}")));
    let refuse = |reason: String| async {
        let _ = emit(
            EventKind::Error,
            Value::String(format!(
                "File {path:?} (command {id}) was not read: {reason}"
            )),
        )
        .await;
        let marker = Marker::FileRefused {
            id: id.clone(),
            path: path.clone(),
            reason,
        };
        let _ = emit(EventKind::Marker, marker.to_value()).await;
    };
    let read = match read {
        Ok(r) => r,
        Err(reason) => return refuse(reason).await,
    };
    let (size, truncated) = (read.bytes.len() as u64, read.truncated);
    let body = redact_off_thread(&ctx.rules, read.bytes).await;
    let name = workspace::artifact_name(&path);
    let uploaded = ctx
        .outbox
        .upload(&ctx.client, &ctx.signer, &ctx.run_id, &name, body)
        .await;
    match uploaded {
        Ok(info) => {
            let marker = Marker::File {
                id: id.clone(),
                path: path.clone(),
                artifact: info.name,
                bytes: size,
                truncated,
            };
            let _ = emit(EventKind::Marker, marker.to_value()).await;
        }
        Err(e @ UploadError::Transient(_)) => {
            let text = format!(
                "The content of {path} (command {id}) was not uploaded yet: {e}{}",
                crate::outbox::kept_note(&e)
            );
            let _ = emit(EventKind::Error, Value::String(text)).await;
        }
        Err(e) => refuse(format!("the upload failed: {e}")).await,
    }
}

/// [`artifacts::redact_bytes`] on the blocking pool: up to 30 MiB is too much for an async worker.
async fn redact_off_thread(rules: &Arc<Rules>, bytes: Vec<u8>) -> Vec<u8> {
    let rules = rules.clone();
    tokio::task::spawn_blocking(move || artifacts::redact_bytes(&rules, &bytes))
        .await
        .unwrap_or_default()
}

/// Bytes of a pipe kept aside (for `latest.diff`), up to a bound.
#[derive(Debug, Default)]
struct Capture {
    bytes: Vec<u8>,
    overflowed: bool,
}

/// A reader that copies what passes through into an optional [`Capture`].
struct Tee<R> {
    inner: R,
    capture: Option<Arc<Mutex<Capture>>>,
}

impl<R: AsyncRead + Unpin> AsyncRead for Tee<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let (Poll::Ready(Ok(())), Some(capture)) = (&polled, &this.capture) {
            let new = &buf.filled()[before..];
            let mut c = capture.lock().unwrap_or_else(|p| p.into_inner());
            if c.bytes.len() + new.len() > artifacts::MAX_UPLOAD_BYTES {
                c.overflowed = true;
            } else {
                c.bytes.extend_from_slice(new);
            }
        }
        polled
    }
}

fn is_diff(argv: &[String]) -> bool {
    argv.len() >= 2 && argv[0] == "git" && argv[1] == "diff"
}

/// Run one allowlisted command as argv in the run's directory and report it.
async fn run_exec(ctx: &Context, job: Job, shutdown: &mut watch::Receiver<bool>) {
    let emit = |kind: EventKind, data: Value| ctx.tx.send(Frame::new(kind, data));
    let _ = emit(
        EventKind::Info,
        Value::String(format!("Executing command: {}", job.line)),
    )
    .await;
    let started = Instant::now();
    let finished = |exit_code: i32, signal: Option<i32>, timed_out: bool| Marker::CommandFinished {
        id: job.id.clone(),
        exit_code,
        signal,
        duration_ms: started.elapsed().as_millis() as u64,
        timed_out,
    };
    // `git` runs hardened, as the runner's own does: no program the repository names runs.
    let prepared = if crate::git::is_git(&job.argv) {
        let (cwd, argv) = (ctx.cwd.clone(), job.argv.clone());
        tokio::task::spawn_blocking(move || crate::git::harden(&argv, &cwd))
            .await
            .map_err(std::io::Error::other)
            .and_then(|h| h)
            .map(|h| (h.argv, h.env))
            .map_err(|source| SpawnError::Other {
                program: "git".into(),
                source,
            })
    } else {
        Ok((job.argv.clone(), Vec::new()))
    };
    // Protected from the reaping at the end of Claude's turns until it has been waited for, and
    // guarded: the guard kills its group if the runner dies.
    let spawned = prepared.and_then(|(argv, env)| child::spawn_protected(&argv, &env, &ctx.cwd));
    let (mut running, guard, protection) = match spawned {
        Ok(r) => r,
        Err(e) => {
            let why = match &e {
                SpawnError::NotFound { .. } => "command not found".to_string(),
                SpawnError::NotExecutable { .. } => "permission denied".to_string(),
                SpawnError::Other { source, .. } => source.to_string(),
            };
            let _ = emit(
                EventKind::Error,
                Value::String(format!(
                    "Command {} ({}) could not start: {why}",
                    job.id, job.line
                )),
            )
            .await;
            let _ = emit(
                EventKind::Marker,
                finished(e.exit_code(), None, false).to_value(),
            )
            .await;
            return;
        }
    };
    let capture = is_diff(&job.argv).then(|| Arc::new(Mutex::new(Capture::default())));
    let out = tokio::spawn(pipeline::read_stream(
        Tee {
            inner: running.stdout,
            capture: capture.clone(),
        },
        EventKind::Stdout,
        ctx.rules.clone(),
        ctx.tx.clone(),
    ));
    let err = tokio::spawn(pipeline::read_stream(
        running.stderr,
        EventKind::Stderr,
        ctx.rules.clone(),
        ctx.tx.clone(),
    ));
    let mut timed_out = false;
    let ended = tokio::select! {
        status = running.child.wait() => Some(status),
        () = tokio::time::sleep(ctx.time_limit) => {
            timed_out = true;
            None
        }
        _ = shutdown.wait_for(|over| *over) => None,
    };
    let status = match ended {
        Some(s) => s,
        None => stop(&mut running.child, running.pid).await,
    };
    for reader in [out, err] {
        let abort = reader.abort_handle();
        if tokio::time::timeout(PIPE_GRACE, reader).await.is_err() {
            abort.abort();
        }
    }
    // Waited for: what is left of its group goes; its guard stays protected until released.
    let (pgid, mut protection) = (running.pid, protection);
    protection.release(pgid);
    let _ =
        tokio::task::spawn_blocking(move || child::reap_leftovers(pgid, child::Reach::Group, &[]))
            .await;
    if let Some(g) = guard {
        g.release().await;
    }
    drop(protection);
    let (exit_code, signal) = match status {
        Ok(status) => child::exit_code(status),
        Err(e) => {
            let _ = emit(
                EventKind::Error,
                Value::String(format!(
                    "Could not learn how command {} ({}) ended: {e}; reporting exit code {}",
                    job.id,
                    job.line,
                    child::UNKNOWN_EXIT
                )),
            )
            .await;
            (child::UNKNOWN_EXIT, None)
        }
    };
    if timed_out {
        let _ = emit(
            EventKind::Error,
            Value::String(format!(
                "Command {} ({}) ran longer than {} s and was stopped",
                job.id,
                job.line,
                ctx.time_limit.as_secs()
            )),
        )
        .await;
    }
    let _ = emit(
        EventKind::Marker,
        finished(exit_code, signal, timed_out).to_value(),
    )
    .await;
    if let Some(capture) = capture.filter(|_| exit_code == 0) {
        let c = std::mem::take(&mut *capture.lock().unwrap_or_else(|p| p.into_inner()));
        let note = if c.overflowed {
            format!(
                "{DIFF_ARTIFACT} not uploaded: the diff is larger than {} MiB",
                artifacts::MAX_UPLOAD_BYTES >> 20
            )
        } else {
            let body = redact_off_thread(&ctx.rules, c.bytes).await;
            match ctx
                .outbox
                .upload(&ctx.client, &ctx.signer, &ctx.run_id, DIFF_ARTIFACT, body)
                .await
            {
                Ok(info) => format!("Uploaded {} ({} bytes)", info.name, info.size),
                Err(e) => format!(
                    "{DIFF_ARTIFACT} not uploaded: {e}{}",
                    crate::outbox::kept_note(&e)
                ),
            }
        };
        let _ = emit(EventKind::Info, Value::String(note)).await;
    }
}

/// Stop a command's process group: SIGINT, a short grace, then SIGKILL. A failed wait is
/// returned as it is: the process may be gone, so its id is not signalled again.
async fn stop(
    child: &mut tokio::process::Child,
    pid: u32,
) -> std::io::Result<std::process::ExitStatus> {
    child::signal_group(pid, Signal::SIGINT);
    if let Ok(waited) = tokio::time::timeout(EXEC_STOP_GRACE, child.wait()).await {
        return waited;
    }
    child::signal_group(pid, Signal::SIGKILL);
    child.wait().await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dispatcher(
        dir: &Path,
    ) -> (
        Dispatcher,
        mpsc::Receiver<Frame>,
        mpsc::Receiver<Job>,
        Arc<Notify>,
        mpsc::Receiver<Control>,
    ) {
        let (tx, frames) = mpsc::channel(64);
        let (jobs, job_rx) = mpsc::channel(MAX_QUEUED);
        let (controls, control_rx) = mpsc::channel(MAX_CONTROLS);
        let (files, _) = mpsc::channel(MAX_QUEUED);
        let stop = Arc::new(Notify::new());
        let d = Dispatcher {
            seen: SeenIds::load(&dir.join("commands.seen")),
            allowlist: Allowlist::new(&[]),
            broker: crate::permission::broker::testing(dir, &["Bash"], tx.clone()),
            tx,
            stop: stop.clone(),
            controls,
            jobs,
            files,
        };
        (d, frames, job_rx, stop, control_rx)
    }

    fn cmd(id: &str, kind: CommandKind) -> Command {
        Command {
            id: id.into(),
            kind,
            created_at: 0,
        }
    }

    fn exec(id: &str, line: &str) -> Command {
        cmd(
            id,
            CommandKind::Exec {
                command: line.into(),
            },
        )
    }

    #[tokio::test]
    async fn the_same_command_id_is_acted_on_once_also_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let (mut d, _frames, mut jobs, _, _) = dispatcher(dir.path());
        assert_eq!(d.take(exec("c1", "git  status")).await, Some(Taken::Acted));
        assert_eq!(
            d.take(exec("c1", "git status")).await,
            Some(Taken::AlreadySeen)
        );
        assert_eq!(
            jobs.try_recv().unwrap(),
            Job {
                id: "c1".into(),
                line: "git status".into(),
                argv: vec!["git".into(), "status".into()],
            }
        );
        assert!(jobs.try_recv().is_err(), "queued once");
        drop(d);

        // A new runner process for the same run reads the ids back.
        let (mut d, _frames, mut jobs, _, _) = dispatcher(dir.path());
        assert_eq!(
            d.take(exec("c1", "git status")).await,
            Some(Taken::AlreadySeen)
        );
        assert_eq!(d.take(exec("c2", "pwd")).await, Some(Taken::Acted));
        assert_eq!(jobs.try_recv().unwrap().id, "c2");
        assert!(jobs.try_recv().is_err());
    }

    #[tokio::test]
    async fn refused_commands_are_reported_and_never_queued() {
        let dir = tempfile::tempdir().unwrap();
        let (mut d, mut frames, mut jobs, _, _) = dispatcher(dir.path());
        for (i, line) in ["rm -rf /", "npm test; curl x", "git diff && sh"]
            .into_iter()
            .enumerate()
        {
            let id = format!("bad{i}");
            assert_eq!(d.take(exec(&id, line)).await, Some(Taken::Acted));
            let err = frames.recv().await.unwrap();
            assert_eq!(err.kind, EventKind::Error);
            let text = err.data.as_str().unwrap();
            assert!(text.contains(&id) && text.contains(line), "{text}");
            let marker = frames.recv().await.unwrap();
            assert_eq!(marker.data["event"], "command_refused");
            assert_eq!(marker.data["command"], line);
        }
        assert!(jobs.try_recv().is_err(), "nothing queued");
    }

    #[tokio::test]
    async fn stop_prompt_assist_and_malformed_ids() {
        let dir = tempfile::tempdir().unwrap();
        let (mut d, mut frames, _jobs, stop, mut controls) = dispatcher(dir.path());
        d.take(cmd("s1", CommandKind::Stop)).await;
        tokio::time::timeout(Duration::from_secs(1), stop.notified())
            .await
            .expect("stop notified");
        d.take(cmd(
            "p1",
            CommandKind::Prompt {
                prompt: "and now the tests".into(),
                model: Some("opus".into()),
                permission_mode: None,
            },
        ))
        .await;
        d.take(cmd("i1", CommandKind::Interrupt)).await;
        d.take(cmd("e1", CommandKind::EndSession)).await;
        assert_eq!(
            controls.try_recv().unwrap(),
            Control::Prompt {
                id: "p1".into(),
                prompt: "and now the tests".into(),
                model: Some("opus".into()),
                permission_mode: None,
            }
        );
        assert_eq!(
            controls.try_recv().unwrap(),
            Control::Interrupt { id: "i1".into() }
        );
        assert_eq!(
            controls.try_recv().unwrap(),
            Control::EndSession { id: "e1".into() }
        );
        let link = wire::AssistLink {
            kind: "tmate".into(),
            url: Some("ssh x@y".into()),
            web: Some("https://y/x".into()),
            expires_at: None,
            closed: false,
            reason: None,
        };
        d.take(cmd("a1", CommandKind::Assist { assist: link }))
            .await;
        let assist = frames.recv().await.unwrap();
        assert_eq!(assist.kind, EventKind::Assist);
        assert_eq!(assist.data["url"], "ssh x@y");
        assert_eq!(d.take(exec("../x", "pwd")).await, None);
        assert_eq!(frames.recv().await.unwrap().kind, EventKind::Error);
        // A decision for a request that is not waiting is reported, and taken once.
        let decision = CommandKind::Permission {
            request_id: "pr_gone".into(),
            decision: wire::PermissionChoice::Allow,
            message: None,
            rule: None,
            by: "admin".into(),
        };
        assert_eq!(
            d.take(cmd("d1", decision.clone())).await,
            Some(Taken::Acted)
        );
        let info = frames.recv().await.unwrap();
        assert_eq!(info.kind, EventKind::Info);
        assert!(info.data.as_str().unwrap().contains("pr_gone"));
        assert_eq!(d.take(cmd("d1", decision)).await, Some(Taken::AlreadySeen));
    }

    #[tokio::test]
    async fn a_poll_answer_is_read_only_up_to_its_cap() {
        let big = format!("[{}]", " ".repeat(4096));
        let (url, _) =
            crate::client::testing::serve(move |_| crate::client::testing::json(&big)).await;
        let client = crate::client::testing::client(&url);
        let signer = Signer::Run {
            run_id: "r1".into(),
            key: [1; 32],
        };
        let get = || client.send(Method::GET, "api/runs/r1/commands", &signer, Vec::new());
        let e = read_capped(get().await.unwrap(), 1024).await.unwrap_err();
        assert!(e.to_string().contains("larger than 1024 bytes"), "{e}");
        assert_eq!(
            read_capped(get().await.unwrap(), 8192).await.unwrap().len(),
            4098
        );
    }

    #[tokio::test]
    async fn a_full_queue_refuses_instead_of_stalling_the_poll_loop() {
        let dir = tempfile::tempdir().unwrap();
        let (mut d, mut frames, mut jobs, _, _) = dispatcher(dir.path());
        for i in 0..=MAX_QUEUED {
            assert_eq!(
                d.take(exec(&format!("c{i}"), "pwd")).await,
                Some(Taken::Acted)
            );
        }
        let err = frames.recv().await.unwrap();
        assert_eq!(err.kind, EventKind::Error);
        assert!(
            err.data
                .as_str()
                .unwrap()
                .contains(&format!("c{MAX_QUEUED}"))
        );
        for _ in 0..MAX_QUEUED {
            jobs.try_recv().unwrap();
        }
        assert!(jobs.try_recv().is_err());
    }

    #[tokio::test]
    async fn tee_keeps_a_bounded_copy() {
        use tokio::io::AsyncReadExt;
        let capture = Arc::new(Mutex::new(Capture::default()));
        let mut t = Tee {
            inner: &b"diff --git a b\n+x\n"[..],
            capture: Some(capture.clone()),
        };
        let mut s = String::new();
        t.read_to_string(&mut s).await.unwrap();
        assert_eq!(capture.lock().unwrap().bytes, s.as_bytes());
        assert!(!capture.lock().unwrap().overflowed);
    }
}
