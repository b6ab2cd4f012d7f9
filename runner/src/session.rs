//! The turns of a run: the first prompt, then (with `start --session`) each follow-up prompt from
//! the gateway as one more CLI invocation resuming the same agent session, one at a time.
//!
//! Each turn is bracketed by `turn_started` and `turn_finished` markers; the outcome comes from
//! the agent's own report (Claude's `result` line), read as the lines stream by. A turn is
//! interrupted with SIGINT to its process group (the session goes on); `stop`, the runner's own
//! SIGINT/SIGTERM and the run's deletion stop the turn gracefully and end the session;
//! `end_session` and the idle timeout end it between turns. The file tree is published when the
//! session starts and after each turn; with `--git-branch` a checkpoint commit follows an
//! interrupted turn and the end of the session.
//!
//! A turn's permission requests (`permission::broker`) never outlive it: stopping or
//! interrupting the turn, ending the session and the turn's end cancel what still waits. A
//! `prompt` may switch the model or permission mode within the runner's ceilings; the switch
//! holds for the turns after it.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use common::redact::Rules;
use common::wire::{EventKind, Marker, TurnFinished};
use nix::sys::signal::Signal;
use serde_json::Value;
use tokio::sync::{Notify, mpsc};

use crate::agent::{RunnerType, Sighting, TurnOptions};
use crate::child::{self, STOP_GRACE};
use crate::client::{GatewayClient, Signer};
use crate::permission::broker::Broker;
use crate::permission::policy::Ceilings;
use crate::pipeline::{self, Frame};
use crate::workspace;

/// How long to keep reading pipes a descendant still holds open after the child exited.
const PIPE_GRACE: Duration = Duration::from_secs(5);

/// What the command loop hands the session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Control {
    /// A follow-up prompt (`prompt` command), maybe switching the model or permission mode.
    Prompt {
        id: String,
        prompt: String,
        model: Option<String>,
        permission_mode: Option<String>,
    },
    /// End the current turn (`interrupt` command).
    Interrupt { id: String },
    /// End the session (`end_session` command).
    EndSession { id: String },
    /// The gateway no longer knows the run: it was deleted.
    Deleted,
}

/// Everything the session needs from `start`.
#[derive(Debug)]
pub struct Driver {
    pub agent: RunnerType,
    pub cwd: PathBuf,
    /// Inside `cwd` but never listed or committed: the runner's own data directory.
    pub hidden: Vec<PathBuf>,
    pub rules: Arc<Rules>,
    pub tx: mpsc::Sender<Frame>,
    pub client: GatewayClient,
    pub signer: Signer,
    pub run_id: String,
    /// `start --session`: stay after the first turn.
    pub session: bool,
    pub idle_timeout: Duration,
    /// `--git-branch`: the branch checkpoints are committed on.
    pub git_branch: Option<String>,
    pub controls: mpsc::Receiver<Control>,
    /// Notified by a `stop` command.
    pub stop: Arc<Notify>,
    /// The run's approvals: what waits is cancelled when a turn is stopped or ends.
    pub broker: Arc<Broker>,
    /// `--mcp-config` of the permission-prompt server, when some tool asks.
    pub mcp_config: Option<PathBuf>,
    /// What a `prompt` command may switch.
    pub ceilings: Ceilings,
    /// Where artifacts wait until the gateway has them.
    pub outbox: crate::outbox::Outbox,
    /// A Claude session the first turn resumes (a run that continues an archived session).
    pub resume: Option<String>,
}

/// How the session ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Ended {
    /// The last turn's exit code (see [`crate::agent::run_exit_code`]); the spawn error's code
    /// if the CLI could not start.
    pub exit_code: i32,
    pub signal: Option<i32>,
    /// The gateway deleted the run.
    pub deleted: bool,
    /// The run was stopped (a `stop` command, the runner's SIGINT/SIGTERM) or deleted.
    pub stopped: bool,
    /// The Claude session the turns ran in, if one was seen (or resumed).
    pub session_id: Option<String>,
}

/// Why the session is ending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    EndSession,
    Idle,
    Stop,
    Deleted,
    SingleTurn,
    /// The agent's CLI could not be started.
    CannotStart,
}

impl Ending {
    fn as_str(self) -> &'static str {
        match self {
            Ending::EndSession => "end_session",
            Ending::Idle => "idle",
            Ending::Stop => "stop",
            Ending::Deleted => "deleted",
            Ending::SingleTurn => "single_turn",
            Ending::CannotStart => "cannot_start",
        }
    }
}

/// The runner's own SIGINT and SIGTERM.
struct Signals {
    int: Option<tokio::signal::unix::Signal>,
    term: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn new() -> Self {
        use tokio::signal::unix::{SignalKind, signal};
        Self {
            int: signal(SignalKind::interrupt()).ok(),
            term: signal(SignalKind::terminate()).ok(),
        }
    }

    async fn recv(&mut self) {
        async fn one(s: &mut Option<tokio::signal::unix::Signal>) {
            match s {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending().await,
            }
        }
        tokio::select! {
            () = one(&mut self.int) => {}
            () = one(&mut self.term) => {}
        }
    }
}

/// A prompt waiting for its turn.
#[derive(Debug, Clone)]
struct Queued {
    /// The `prompt` command (none for the first prompt).
    id: Option<String>,
    prompt: String,
    /// What the turn switches to (and keeps for the next ones).
    model: Option<String>,
    permission_mode: Option<String>,
}

/// The agent's session as the turns go: its id, and its total cost after the last turn that
/// reported one.
#[derive(Debug, Default)]
struct AgentSession {
    id: Option<String>,
    cost: Option<(String, f64)>,
}

impl AgentSession {
    /// Make the turn's `costUsd` its own cost: the CLI reports the session's running total
    /// (`sessionCostUsd`), which includes the turns before it.
    fn account(&mut self, f: &mut TurnFinished) {
        let (Some(total), Some(id)) = (f.session_cost_usd, f.session_id.clone()) else {
            return;
        };
        let before = match &self.cost {
            Some((seen, cost)) if *seen == id => Some(*cost),
            _ => None,
        };
        f.cost_usd = common::claude::turn_cost(total, before);
        self.cost = Some((id, total));
    }
}

/// What one turn left behind.
struct TurnEnd {
    finished: TurnFinished,
    signal: Option<i32>,
    counts: BTreeMap<String, u64>,
}

impl Driver {
    async fn emit(&self, kind: EventKind, data: Value) {
        let _ = self.tx.send(Frame::new(kind, data)).await;
    }

    async fn marker(&self, m: Marker) {
        self.emit(EventKind::Marker, m.to_value()).await;
    }

    async fn info(&self, text: String) {
        self.emit(EventKind::Info, Value::String(text)).await;
    }

    /// Run the session from its first prompt to its end. Returns how it ended and the
    /// redaction counts of the agent's output.
    pub async fn run(mut self, first_prompt: String) -> (Ended, BTreeMap<String, u64>) {
        let mut signals = Signals::new();
        let mut queue: VecDeque<Queued> = VecDeque::from([Queued {
            id: None,
            prompt: first_prompt,
            model: None,
            permission_mode: None,
        }]);
        let mut turn_options = TurnOptions {
            mcp_config: self.mcp_config.clone(),
            ..TurnOptions::default()
        };
        let mut counts = BTreeMap::new();
        let mut session = AgentSession {
            id: self.resume.clone(),
            ..AgentSession::default()
        };
        let mut ending: Option<Ending> = None;
        let mut last: Option<(TurnFinished, Option<i32>)> = None;
        let mut turn = 0;
        self.publish_tree().await;
        while let Some(next) = queue.pop_front() {
            turn += 1;
            if next.model.is_some() {
                turn_options.model = next.model;
            }
            if next.permission_mode.is_some() {
                turn_options.permission_mode = next.permission_mode;
            }
            let end = self
                .run_turn(
                    turn,
                    next.id,
                    next.prompt,
                    &turn_options,
                    &mut session,
                    &mut queue,
                    &mut ending,
                    &mut signals,
                )
                .await;
            for (k, v) in end.counts {
                *counts.entry(k).or_insert(0) += v;
            }
            self.publish_tree().await;
            if end.finished.outcome == "aborted" {
                self.checkpoint(turn, "interrupted").await;
            }
            last = Some((end.finished, end.signal));
            if ending.is_some() {
                break;
            }
            if !self.session {
                ending = Some(Ending::SingleTurn);
                break;
            }
            if queue.is_empty() {
                match self.wait_idle(&mut queue, &mut signals).await {
                    Some(e) => {
                        ending = Some(e);
                        break;
                    }
                    None => continue,
                }
            }
        }
        for q in &queue {
            self.info(format!(
                "A queued prompt was not run because the session ended: {}",
                q.prompt
            ))
            .await;
        }
        let ending = ending.unwrap_or(Ending::SingleTurn);
        self.checkpoint(turn, "session ended").await;
        if self.session {
            self.marker(Marker::SessionEnded {
                reason: ending.as_str().into(),
                turns: turn,
            })
            .await;
        }
        let (exit_code, signal) = match &last {
            Some((f, sig)) => (crate::agent::run_exit_code(f), *sig),
            None => (125, None),
        };
        (
            Ended {
                exit_code,
                signal,
                deleted: ending == Ending::Deleted,
                stopped: matches!(ending, Ending::Stop | Ending::Deleted),
                session_id: session.id.clone(),
            },
            counts,
        )
    }

    /// Between turns: wait for a prompt (queued; `None` returned) or the session's end.
    async fn wait_idle(
        &mut self,
        queue: &mut VecDeque<Queued>,
        signals: &mut Signals,
    ) -> Option<Ending> {
        let deadline = tokio::time::Instant::now() + self.idle_timeout;
        loop {
            tokio::select! {
                c = self.controls.recv() => match c {
                    Some(Control::Prompt { id, prompt, model, permission_mode }) => {
                        if let Some(q) = self.admit(id, prompt, model, permission_mode).await {
                            queue.push_back(q);
                            return None;
                        }
                    }
                    Some(Control::Interrupt { id }) => {
                        self.info(format!("Nothing to interrupt (command {id}): no turn is running")).await;
                    }
                    Some(Control::EndSession { .. }) => return Some(Ending::EndSession),
                    Some(Control::Deleted) => return Some(Ending::Deleted),
                    // The command loop ended: no more prompts can come.
                    None => return Some(Ending::EndSession),
                },
                () = self.stop.notified() => {
                    self.marker(Marker::StopRequested { reason: "command".into() }).await;
                    return Some(Ending::Stop);
                }
                () = signals.recv() => {
                    self.marker(Marker::StopRequested { reason: "signal".into() }).await;
                    return Some(Ending::Stop);
                }
                () = tokio::time::sleep_until(deadline) => {
                    self.info(format!(
                        "The session was idle for {} s (SESSION_IDLE_TIMEOUT); ending it",
                        self.idle_timeout.as_secs()
                    )).await;
                    return Some(Ending::Idle);
                }
            }
        }
    }

    /// A follow-up prompt as a queued turn, if what it switches is within the runner's
    /// ceilings; otherwise an `error` event says why and the turn does not run.
    async fn admit(
        &self,
        id: String,
        prompt: String,
        model: Option<String>,
        permission_mode: Option<String>,
    ) -> Option<Queued> {
        let refused = self.ceilings.check(
            self.agent.options(),
            model.as_deref(),
            permission_mode.as_deref(),
        );
        if let Some(why) = refused {
            self.emit(
                EventKind::Error,
                Value::String(format!("Prompt {id} was not run: {why}")),
            )
            .await;
            return None;
        }
        Some(Queued {
            id: Some(id),
            prompt,
            model,
            permission_mode,
        })
    }

    /// One CLI invocation for one prompt, from `turn_started` to `turn_finished`.
    #[allow(clippy::too_many_arguments)]
    async fn run_turn(
        &mut self,
        turn: u64,
        command_id: Option<String>,
        prompt: String,
        options: &TurnOptions,
        session: &mut AgentSession,
        queue: &mut VecDeque<Queued>,
        ending: &mut Option<Ending>,
        signals: &mut Signals,
    ) -> TurnEnd {
        let (model, permission_mode) = self.agent.effective(options);
        self.marker(Marker::TurnStarted {
            turn,
            prompt: prompt.clone(),
            command_id,
            model,
            permission_mode,
        })
        .await;
        let argv = self.agent.argv(&prompt, session.id.as_deref(), options);
        let mut running = match child::spawn(&argv, &self.cwd) {
            Ok(r) => r,
            Err(e) => {
                self.emit(EventKind::Error, Value::String(e.to_string()))
                    .await;
                eprintln!("claude-runner: {e}");
                let finished = self.agent.observer().finish(turn, e.exit_code(), false);
                self.marker(Marker::TurnFinished(finished.clone())).await;
                // A CLI that cannot start will not start for the next prompt either.
                ending.get_or_insert(Ending::CannotStart);
                return TurnEnd {
                    finished,
                    signal: None,
                    counts: BTreeMap::new(),
                };
            }
        };
        let guard = child::guard(running.pid);
        self.marker(Marker::Started {
            command: argv.clone(),
            pid: Some(running.pid),
            cwd: Some(self.cwd.display().to_string()),
        })
        .await;

        // stdout passes an observer on its way to the sequencer: session id, outcome, files.
        let (out_tx, mut out_rx) = mpsc::channel::<Frame>(pipeline::CHANNEL_FRAMES);
        let out = tokio::spawn(pipeline::read_stream(
            running.stdout,
            EventKind::Stdout,
            self.rules.clone(),
            out_tx,
        ));
        let err = tokio::spawn(pipeline::read_stream(
            running.stderr,
            EventKind::Stderr,
            self.rules.clone(),
            self.tx.clone(),
        ));
        let observer = tokio::spawn({
            let tx = self.tx.clone();
            let mut observer = self.agent.observer();
            let known = session.id.clone();
            async move {
                let mut announced = known;
                while let Some(frame) = out_rx.recv().await {
                    // A frame's lines reach the sequencer before the marker about them.
                    let sighting = frame
                        .lines()
                        .fold(None, |seen, l| observer.observe(l).or(seen));
                    if tx.send(frame).await.is_err() {
                        break;
                    }
                    if let Some(Sighting::Session { session_id, model }) = sighting
                        && announced.as_deref() != Some(session_id.as_str())
                    {
                        announced = Some(session_id.clone());
                        let m = Marker::Session { session_id, model };
                        let _ = tx.send(Frame::new(EventKind::Marker, m.to_value())).await;
                    }
                }
                observer
            }
        });

        let mut interrupted = false;
        let mut stopping = false;
        let mut kill_at: Option<tokio::time::Instant> = None;
        let mut killed = false;
        let mut controls_open = true;
        let pid = running.pid;
        let sigint = |kill_at: &mut Option<tokio::time::Instant>| {
            child::signal_group(pid, Signal::SIGINT);
            kill_at.get_or_insert(tokio::time::Instant::now() + STOP_GRACE);
        };
        let status = loop {
            tokio::select! {
                status = running.child.wait() => break status,
                c = self.controls.recv(), if controls_open => match c {
                    Some(Control::Prompt { id, prompt, model, permission_mode }) => {
                        if self.session {
                            if let Some(q) = self.admit(id.clone(), prompt, model, permission_mode).await {
                                self.info(format!("Prompt {id} is queued behind turn {turn}")).await;
                                queue.push_back(q);
                            }
                        } else {
                            self.info(format!(
                                "Prompt {id} was not run: this run is not a session (start --session takes follow-up prompts)"
                            )).await;
                        }
                    }
                    Some(Control::Interrupt { id }) => {
                        self.info(format!("Interrupting turn {turn} (command {id})")).await;
                        interrupted = true;
                        self.broker.cancel_all("the turn was interrupted").await;
                        sigint(&mut kill_at);
                    }
                    Some(Control::EndSession { id }) => {
                        self.info(format!("Ending the session (command {id}); interrupting turn {turn}")).await;
                        interrupted = true;
                        ending.get_or_insert(Ending::EndSession);
                        self.broker.cancel_all("the session is ending").await;
                        sigint(&mut kill_at);
                    }
                    Some(Control::Deleted) => {
                        interrupted = true;
                        ending.get_or_insert(Ending::Deleted);
                        self.broker.cancel_all("the run was deleted").await;
                        sigint(&mut kill_at);
                    }
                    None => controls_open = false,
                },
                () = self.stop.notified(), if !stopping => {
                    stopping = true;
                    interrupted = true;
                    ending.get_or_insert(Ending::Stop);
                    self.marker(Marker::StopRequested { reason: "command".into() }).await;
                    self.stop_notice();
                    self.broker.cancel_all("the run is stopping").await;
                    sigint(&mut kill_at);
                }
                () = signals.recv() => {
                    if stopping {
                        // A second Ctrl-C: do not wait out the grace.
                        kill_at = Some(tokio::time::Instant::now());
                    } else {
                        stopping = true;
                        interrupted = true;
                        ending.get_or_insert(Ending::Stop);
                        self.marker(Marker::StopRequested { reason: "signal".into() }).await;
                        self.stop_notice();
                        self.broker.cancel_all("the run is stopping").await;
                        sigint(&mut kill_at);
                    }
                }
                () = sleep_until_opt(kill_at), if kill_at.is_some() && !killed => {
                    child::signal_group(pid, Signal::SIGKILL);
                    killed = true;
                }
            }
        };
        // A request cannot outlive the turn that asked it.
        self.broker.cancel_all("the turn ended").await;
        if stopping {
            let outcome = if killed {
                "killed"
            } else {
                "exited_after_sigint"
            };
            self.marker(Marker::Stopped {
                outcome: outcome.into(),
            })
            .await;
        }

        let mut counts = BTreeMap::new();
        for reader in [out, err] {
            let abort = reader.abort_handle();
            match tokio::time::timeout(PIPE_GRACE, reader).await {
                Ok(Ok(c)) => {
                    for (k, v) in c {
                        *counts.entry(k).or_insert(0) += v;
                    }
                }
                Ok(Err(_)) => {}
                Err(_) => {
                    abort.abort();
                    self.info(
                        "a process started by the child still holds its output open; stopped reading it"
                            .into(),
                    )
                    .await;
                }
            }
        }
        let keep: Vec<u32> = guard.iter().filter_map(child::Guard::pid).collect();
        // Not a running `exec` command's processes: those are protected (see `child`).
        let reaped = tokio::task::spawn_blocking(move || {
            child::reap_leftovers(pid, child::Reach::Orphans, &keep)
        })
        .await
        .unwrap_or(0);
        if reaped > 0 {
            self.marker(Marker::Reaped { processes: reaped }).await;
        }
        if let Some(g) = guard {
            g.release().await;
        }
        let (exit_code, signal) = match status {
            Ok(status) => child::exit_code(status),
            Err(e) => {
                // Never a success by default: how the CLI ended is unknown.
                self.emit(
                    EventKind::Error,
                    Value::String(format!(
                        "Could not learn how turn {turn} ended ({e}); reporting exit code {}",
                        child::UNKNOWN_EXIT
                    )),
                )
                .await;
                (child::UNKNOWN_EXIT, None)
            }
        };
        let mut finished = match observer.await {
            Ok(o) => {
                if let Some(id) = o.session_id() {
                    session.id = Some(id.to_string());
                }
                o.finish(turn, exit_code, interrupted)
            }
            Err(_) => self.agent.observer().finish(turn, exit_code, interrupted),
        };
        session.account(&mut finished);
        self.marker(Marker::TurnFinished(finished.clone())).await;
        TurnEnd {
            finished,
            signal,
            counts,
        }
    }

    fn stop_notice(&self) {
        eprintln!(
            "claude-runner: stopping (SIGINT to the child's process group; SIGKILL in {} s)",
            STOP_GRACE.as_secs()
        );
    }

    /// Upload the working directory's file tree as `files.json` and say so with a `files`
    /// marker. The tree passes the redactor (file names can hold secrets too).
    async fn publish_tree(&self) {
        let dir = self.cwd.clone();
        let hidden = self.hidden.clone();
        let Ok(tree) = tokio::task::spawn_blocking(move || {
            workspace::tree(&dir, workspace::MAX_TREE_ENTRIES, &hidden)
        })
        .await
        else {
            return;
        };
        let clean = pipeline::redact_value(&self.rules, &tree);
        let body = serde_json::to_vec(&clean).unwrap_or_default();
        match self
            .outbox
            .upload(
                &self.client,
                &self.signer,
                &self.run_id,
                workspace::TREE_ARTIFACT,
                body,
            )
            .await
        {
            Ok(_) => {
                self.marker(Marker::Files {
                    artifact: workspace::TREE_ARTIFACT.into(),
                    count: clean["count"].as_u64().unwrap_or(0),
                    truncated: clean["truncated"].as_bool().unwrap_or(false),
                })
                .await;
            }
            Err(e) => {
                self.emit(
                    EventKind::Error,
                    Value::String(format!(
                        "The file tree was not uploaded: {e}{}",
                        crate::outbox::kept_note(&e)
                    )),
                )
                .await;
            }
        }
    }

    /// With `--git-branch`: commit the working tree, if anything changed.
    async fn checkpoint(&self, turn: u64, reason: &str) {
        let Some(branch) = self.git_branch.clone() else {
            return;
        };
        let dir = self.cwd.clone();
        let message = format!("checkpoint: {reason} (run {}, turn {turn})", self.run_id);
        let hidden = self.hidden.clone();
        let done =
            tokio::task::spawn_blocking(move || workspace::checkpoint(&dir, &message, &hidden))
                .await;
        match done {
            Ok(Ok(Some(commit))) => {
                self.marker(Marker::Checkpoint {
                    branch,
                    commit,
                    reason: reason.into(),
                    turn,
                })
                .await;
            }
            Ok(Ok(None)) => {}
            Ok(Err(e)) => {
                self.emit(
                    EventKind::Error,
                    Value::String(format!("The checkpoint commit failed: {e:#}")),
                )
                .await;
            }
            Err(e) => tracing::warn!(error = %e, "checkpoint task failed"),
        }
    }
}

async fn sleep_until_opt(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_turns_cost_is_what_it_adds_to_its_sessions_total() {
        let turn = |session: &str, total: Option<f64>| TurnFinished {
            turn: 1,
            outcome: "success".into(),
            exit_code: 0,
            subtype: None,
            terminal_reason: None,
            is_error: false,
            num_turns: 1,
            cost_usd: total.unwrap_or(0.0),
            session_cost_usd: total,
            duration_ms: 0,
            usage: None,
            session_id: Some(session.into()),
            files_written: Vec::new(),
        };
        let mut session = AgentSession::default();
        let mut costs = Vec::new();
        // An aborted turn without a result line in between: the next total includes its cost.
        for (id, total) in [
            ("s1", Some(0.1)),
            ("s1", Some(0.25)),
            ("s1", None),
            ("s1", Some(0.4)),
            ("s2", Some(0.05)),
        ] {
            let mut f = turn(id, total);
            session.account(&mut f);
            costs.push(f.cost_usd);
        }
        let want = [0.1, 0.15, 0.0, 0.15, 0.05];
        assert!(
            costs.iter().zip(want).all(|(c, w)| (c - w).abs() < 1e-12),
            "{costs:?}"
        );
    }
}
