//! The runner's side of approvals: take the calls the MCP server forwards, settle what the
//! policy and the run's remembered rules settle, put the rest before a person as
//! `permission_request` markers, and answer each with the decision that comes back as a
//! `permission` command, or a denial when its time runs out or the turn is stopped.
//!
//! Every outcome is a `permission_decision` marker (who decided, how, with which message or
//! rule), so the run's events are the audit trail. A request is decided exactly once: whoever
//! takes it out of the pending map (a decision, the timeout, a cancellation, the MCP server
//! hanging up) answers it; the others find it gone.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::Secret;
use common::wire::{EventKind, Marker, PermissionChoice, PermissionDecision};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{Semaphore, mpsc, oneshot};

use super::policy::{Policy, Rule};
use super::request::{self, Scope};
use super::{Answer, Ask, MAX_LINE_BYTES, read_line};
use crate::pipeline::{Frame, now_ms};

/// Most requests waiting for a person at once; more are denied at once.
pub const MAX_PENDING: usize = 32;
/// Most connections from MCP servers served at once.
const MAX_CONNECTIONS: usize = 64;
/// What Claude is told when a person denies without a message.
const DEFAULT_DENIAL: &str = "A person reviewing this run denied the tool call.";

/// One tool call as the MCP server forwarded it.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub tool: String,
    pub input: Value,
    pub tool_use_id: Option<String>,
}

/// A person's decision as the `permission` command carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub command_id: String,
    pub request_id: String,
    pub choice: PermissionChoice,
    pub message: Option<String>,
    pub rule: Option<String>,
    pub by: String,
}

#[derive(Debug)]
struct Pending {
    call: Call,
    answer: oneshot::Sender<Answer>,
}

#[derive(Debug, Default)]
struct State {
    pending: HashMap<String, Pending>,
    /// Request ids in the order they were asked (for cancelling oldest first).
    order: Vec<String>,
    rules: Vec<Rule>,
}

impl State {
    fn take(&mut self, id: &str) -> Option<Pending> {
        let p = self.pending.remove(id)?;
        self.order.retain(|x| x != id);
        Some(p)
    }
}

/// Approvals of one run.
pub struct Broker {
    state: Mutex<State>,
    policy: Policy,
    timeout: Duration,
    scope: Scope,
    tx: mpsc::Sender<Frame>,
    token: Secret,
    connections: Arc<Semaphore>,
}

impl std::fmt::Debug for Broker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Broker")
            .field("policy", &self.policy)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Broker {
    /// `token` is what the run's MCP server presents; `tx` the run's frame channel.
    pub fn new(
        policy: Policy,
        timeout: Duration,
        scope: Scope,
        tx: mpsc::Sender<Frame>,
        token: Secret,
    ) -> Arc<Self> {
        Arc::new(Self {
            state: Mutex::new(State::default()),
            policy,
            timeout,
            scope,
            tx,
            token,
            connections: Arc::new(Semaphore::new(MAX_CONNECTIONS)),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn emit(&self, kind: EventKind, data: Value) {
        let _ = self.tx.send(Frame::new(kind, data)).await;
    }

    async fn record(&self, d: PermissionDecision) {
        self.emit(EventKind::Marker, Marker::PermissionDecision(d).to_value())
            .await;
    }

    /// How many requests wait for a person.
    pub fn pending(&self) -> usize {
        self.state().pending.len()
    }

    /// Settle one call: a remembered rule or the policy at once, else a person, within the
    /// time limit. `withdrawn` completes if the MCP server hangs up first (Claude gave up on
    /// the call): the request is then cancelled.
    pub async fn ask(&self, call: Call, withdrawn: impl Future<Output = ()>) -> Answer {
        let decided = |decision: &str, by: &str, message: Option<String>, rule: Option<String>| {
            PermissionDecision {
                request_id: new_request_id(),
                decision: decision.into(),
                tool: call.tool.clone(),
                tool_use_id: call.tool_use_id.clone(),
                message,
                rule,
                by: by.into(),
                command_id: None,
            }
        };
        let rule = {
            let state = self.state();
            state
                .rules
                .iter()
                .find(|r| r.covers(&call.tool, &call.input))
                .map(Rule::to_string)
        };
        if let Some(rule) = rule {
            self.record(decided("allow", "rule", None, Some(rule)))
                .await;
            return Answer::Allow {
                updated_input: call.input,
            };
        }
        let refusal = if !self.policy.asks_about(&call.tool) {
            Some(format!(
                "claude-runner does not allow {} in this run: it is neither among the allowed tools nor among those it asks a person about",
                call.tool
            ))
        } else if self.pending() >= MAX_PENDING {
            Some(format!(
                "{MAX_PENDING} requests already wait for a person; this one is denied"
            ))
        } else {
            None
        };
        if let Some(message) = refusal {
            self.record(decided("deny", "policy", Some(message.clone()), None))
                .await;
            return Answer::Deny { message };
        }

        let id = new_request_id();
        // One clock for what the marker promises and what the runner does.
        let deadline = tokio::time::Instant::now() + self.timeout;
        let expires_at = now_ms().saturating_add(self.timeout.as_millis() as i64);
        let marker = {
            let (scope, id, call) = (self.scope.clone(), id.clone(), call.clone());
            tokio::task::spawn_blocking(move || {
                request::build(
                    &scope,
                    &id,
                    &call.tool,
                    call.tool_use_id.as_deref(),
                    &call.input,
                    expires_at,
                )
            })
            .await
        };
        let Ok(marker) = marker else {
            return Answer::Deny {
                message: "claude-runner could not describe the call to a person".into(),
            };
        };
        let (answer_tx, answer_rx) = oneshot::channel();
        {
            let mut state = self.state();
            state.pending.insert(
                id.clone(),
                Pending {
                    call: call.clone(),
                    answer: answer_tx,
                },
            );
            state.order.push(id.clone());
        }
        self.emit(
            EventKind::Marker,
            Marker::PermissionRequest(marker).to_value(),
        )
        .await;
        tokio::pin!(answer_rx);
        let (decision, message) = tokio::select! {
            answer = &mut answer_rx => {
                return answer.unwrap_or_else(|_| Answer::Deny { message: "the request was dropped".into() });
            }
            () = tokio::time::sleep_until(deadline) => ("timeout", format!(
                "No one decided about this call within {} s, so it is denied (claude-runner's CLAUDE_ASK_TIMEOUT).",
                self.timeout.as_secs()
            )),
            () = withdrawn => ("cancelled", "Claude Code withdrew the request before anyone decided.".to_string()),
        };
        // Decided in the meantime: that answer stands.
        let Some(pending) = self.state().take(&id) else {
            return answer_rx.await.unwrap_or_else(|_| Answer::Deny {
                message: "the request was dropped".into(),
            });
        };
        self.record(PermissionDecision {
            request_id: id,
            decision: decision.into(),
            tool: pending.call.tool,
            tool_use_id: pending.call.tool_use_id,
            message: Some(message.clone()),
            rule: None,
            by: "runner".into(),
            command_id: None,
        })
        .await;
        Answer::Deny { message }
    }

    /// A person's decision. One for a request that is not waiting (unknown, already decided,
    /// timed out) is reported as an `info` event and changes nothing; so is a rule that does not
    /// cover the request it answers (the request keeps waiting).
    pub async fn decide(&self, d: Decision) {
        let taken = {
            let mut state = self.state();
            match state.pending.get(&d.request_id) {
                None => Err(format!(
                    "Permission decision {} (command {}) was ignored: request {} is not waiting (unknown, or already decided)",
                    d.choice.as_str(),
                    d.command_id,
                    d.request_id
                )),
                Some(p) => {
                    let rule = match (d.choice, d.rule.as_deref()) {
                        (PermissionChoice::AllowRun, Some(text)) => {
                            Rule::parse(text).and_then(|r| {
                                if r.covers(&p.call.tool, &p.call.input) {
                                    Ok(Some(r))
                                } else {
                                    Err(format!("{r} does not cover this {} call", p.call.tool))
                                }
                            })
                        }
                        (PermissionChoice::AllowRun, None) => {
                            Ok(Some(Rule::default_for(&p.call.tool, &p.call.input)))
                        }
                        _ => Ok(None),
                    };
                    match rule {
                        Err(why) => Err(format!(
                            "Permission decision (command {}) for request {} was not applied: the rule {why}; the request still waits",
                            d.command_id, d.request_id
                        )),
                        Ok(rule) => {
                            let p = state.take(&d.request_id).expect("present under the lock");
                            if let Some(r) = &rule {
                                state.rules.push(r.clone());
                            }
                            Ok((p, rule))
                        }
                    }
                }
            }
        };
        let (pending, rule) = match taken {
            Ok(t) => t,
            Err(note) => return self.emit(EventKind::Info, Value::String(note)).await,
        };
        let message = match d.choice {
            PermissionChoice::Deny => Some(
                d.message
                    .filter(|m| !m.trim().is_empty())
                    .unwrap_or_else(|| DEFAULT_DENIAL.into()),
            ),
            _ => None,
        };
        self.record(PermissionDecision {
            request_id: d.request_id,
            decision: d.choice.as_str().into(),
            tool: pending.call.tool.clone(),
            tool_use_id: pending.call.tool_use_id.clone(),
            message: message.clone(),
            rule: rule.as_ref().map(Rule::to_string),
            by: d.by,
            command_id: Some(d.command_id),
        })
        .await;
        let _ = pending.answer.send(match message {
            Some(message) => Answer::Deny { message },
            None => Answer::Allow {
                updated_input: pending.call.input,
            },
        });
        if let Some(rule) = rule {
            self.settle_covered(&rule).await;
        }
    }

    /// Requests still waiting that a new rule covers are allowed by it.
    async fn settle_covered(&self, rule: &Rule) {
        let covered: Vec<(String, Pending)> = {
            let mut state = self.state();
            let ids: Vec<String> = state
                .order
                .iter()
                .filter(|id| {
                    state
                        .pending
                        .get(*id)
                        .is_some_and(|p| rule.covers(&p.call.tool, &p.call.input))
                })
                .cloned()
                .collect();
            ids.into_iter()
                .filter_map(|id| state.take(&id).map(|p| (id, p)))
                .collect()
        };
        for (id, p) in covered {
            self.record(PermissionDecision {
                request_id: id,
                decision: "allow".into(),
                tool: p.call.tool.clone(),
                tool_use_id: p.call.tool_use_id.clone(),
                message: None,
                rule: Some(rule.to_string()),
                by: "rule".into(),
                command_id: None,
            })
            .await;
            let _ = p.answer.send(Answer::Allow {
                updated_input: p.call.input,
            });
        }
    }

    /// Deny every waiting request (`decision: "cancelled"`): the turn is being stopped,
    /// interrupted or has ended. `why` completes "The request was cancelled: …".
    pub async fn cancel_all(&self, why: &str) {
        let all: Vec<(String, Pending)> = {
            let mut state = self.state();
            let ids = std::mem::take(&mut state.order);
            ids.into_iter()
                .filter_map(|id| state.pending.remove(&id).map(|p| (id, p)))
                .collect()
        };
        for (id, p) in all {
            let message = format!("The request was cancelled: {why}.");
            self.record(PermissionDecision {
                request_id: id,
                decision: "cancelled".into(),
                tool: p.call.tool.clone(),
                tool_use_id: p.call.tool_use_id.clone(),
                message: Some(message.clone()),
                rule: None,
                by: "runner".into(),
                command_id: None,
            })
            .await;
            let _ = p.answer.send(Answer::Deny { message });
        }
    }

    /// Serve the MCP servers of the run's turns until the task is dropped.
    pub async fn serve(self: Arc<Self>, listener: UnixListener) {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            };
            let Ok(permit) = self.connections.clone().try_acquire_owned() else {
                tracing::warn!("too many permission connections; one refused");
                continue;
            };
            let broker = self.clone();
            tokio::spawn(async move {
                broker.connection(stream).await;
                drop(permit);
            });
        }
    }

    /// One call: read it, check the token, settle it, write the answer.
    async fn connection(&self, stream: UnixStream) {
        let (read, mut write) = stream.into_split();
        let mut reader = BufReader::new(read);
        let ask: Ask = match read_line(&mut reader, MAX_LINE_BYTES).await {
            Ok(Some(line)) => match serde_json::from_slice(&line) {
                Ok(a) => a,
                Err(e) => return tracing::warn!(error = %e, "a malformed permission request"),
            },
            _ => return,
        };
        if !common::sign::constant_time_eq(ask.token.as_bytes(), self.token.expose().as_bytes()) {
            return tracing::warn!("a permission request with a wrong token was refused");
        }
        let call = Call {
            tool: ask.tool_name,
            input: ask.input,
            tool_use_id: ask.tool_use_id,
        };
        // The MCP server sends nothing more; the end of its stream means it hung up.
        let withdrawn = async move {
            let mut byte = [0u8; 1];
            while let Ok(1..) = reader.read(&mut byte).await {}
        };
        let answer = self.ask(call, withdrawn).await;
        let mut line = serde_json::to_vec(&answer).unwrap_or_default();
        line.push(b'\n');
        let _ = write.write_all(&line).await;
    }
}

/// A fresh request id: `pr_` and 16 characters of base64url.
fn new_request_id() -> String {
    format!("pr_{}", crate::client::random_b64(12))
}

/// A broker for tests of its callers: asks about `ask`, works in `dir`.
#[cfg(test)]
pub(crate) fn testing(dir: &std::path::Path, ask: &[&str], tx: mpsc::Sender<Frame>) -> Arc<Broker> {
    let options = crate::agent::ClaudeOptions {
        ask_tools: ask.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    };
    let rules = common::redact::Rules::from_config(
        common::redact::DEFAULT_CONFIG,
        &Default::default(),
        vec![],
    )
    .expect("the shipped rules parse");
    let scope = Scope {
        cwd: std::fs::canonicalize(dir).expect("a directory"),
        hidden: vec![],
        rules: Arc::new(rules),
    };
    Broker::new(
        Policy::new(&options),
        Duration::from_secs(60),
        scope,
        tx,
        Secret::new("tok"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Test {
        broker: Arc<Broker>,
        frames: mpsc::Receiver<Frame>,
        _dir: tempfile::TempDir,
    }

    fn setup(ask: &[&str], timeout: Duration) -> Test {
        let dir = tempfile::tempdir().unwrap();
        let (tx, frames) = mpsc::channel(64);
        let mut broker = testing(dir.path(), ask, tx);
        Arc::get_mut(&mut broker).unwrap().timeout = timeout;
        Test {
            broker,
            frames,
            _dir: dir,
        }
    }

    fn bash(cmd: &str) -> Call {
        Call {
            tool: "Bash".into(),
            input: json!({"command": cmd}),
            tool_use_id: Some("toolu_1".into()),
        }
    }

    async fn marker(frames: &mut mpsc::Receiver<Frame>) -> Value {
        let f = tokio::time::timeout(Duration::from_secs(5), frames.recv())
            .await
            .expect("a frame")
            .expect("open");
        f.data
    }

    fn decision(request_id: &str, choice: PermissionChoice) -> Decision {
        Decision {
            command_id: "c1".into(),
            request_id: request_id.into(),
            choice,
            message: None,
            rule: None,
            by: "admin".into(),
        }
    }

    /// Ask in the background; returns the request marker and the answer's handle.
    async fn ask_bg(t: &mut Test, call: Call) -> (Value, tokio::task::JoinHandle<Answer>) {
        let b = t.broker.clone();
        let h = tokio::spawn(async move { b.ask(call, std::future::pending()).await });
        let m = marker(&mut t.frames).await;
        assert_eq!(m["event"], "permission_request", "{m}");
        (m, h)
    }

    #[tokio::test]
    async fn allow_deny_and_stale_decisions() {
        let mut t = setup(&["Bash"], Duration::from_secs(60));
        let (req, h) = ask_bg(&mut t, bash("touch a")).await;
        assert_eq!(req["command"], "touch a");
        let id = req["requestId"].as_str().unwrap().to_string();
        t.broker
            .decide(decision(&id, PermissionChoice::Allow))
            .await;
        let d = marker(&mut t.frames).await;
        assert_eq!(
            (
                d["event"].as_str(),
                d["decision"].as_str(),
                d["by"].as_str(),
                d["commandId"].as_str()
            ),
            (
                Some("permission_decision"),
                Some("allow"),
                Some("admin"),
                Some("c1")
            )
        );
        assert_eq!(
            h.await.unwrap(),
            Answer::Allow {
                updated_input: json!({"command": "touch a"})
            }
        );
        // The same decision again: reported, nothing else.
        t.broker.decide(decision(&id, PermissionChoice::Deny)).await;
        let info = t.frames.recv().await.unwrap();
        assert_eq!(info.kind, EventKind::Info);
        assert!(info.data.as_str().unwrap().contains("not waiting"));

        let (req, h) = ask_bg(&mut t, bash("touch b")).await;
        let mut deny = decision(req["requestId"].as_str().unwrap(), PermissionChoice::Deny);
        deny.message = Some("use the Makefile".into());
        t.broker.decide(deny).await;
        assert_eq!(marker(&mut t.frames).await["message"], "use the Makefile");
        assert_eq!(
            h.await.unwrap(),
            Answer::Deny {
                message: "use the Makefile".into()
            }
        );
        assert_eq!(t.broker.pending(), 0);
    }

    #[tokio::test]
    async fn allow_for_the_run_remembers_a_rule() {
        let mut t = setup(&["Bash"], Duration::from_secs(60));
        let (req, h) = ask_bg(&mut t, bash("git status -s")).await;
        let id = req["requestId"].as_str().unwrap().to_string();
        // A rule that does not cover the call is refused; the request keeps waiting.
        let mut wrong = decision(&id, PermissionChoice::AllowRun);
        wrong.rule = Some("Bash(npm test:*)".into());
        t.broker.decide(wrong).await;
        assert_eq!(t.frames.recv().await.unwrap().kind, EventKind::Info);
        assert_eq!(t.broker.pending(), 1);
        // A second call the coming rule covers waits too, and is settled by it.
        let (_, h2) = ask_bg(&mut t, bash("git status")).await;
        let mut run = decision(&id, PermissionChoice::AllowRun);
        run.rule = Some("Bash(git status:*)".into());
        t.broker.decide(run).await;
        let d = marker(&mut t.frames).await;
        assert_eq!(
            (d["decision"].as_str(), d["rule"].as_str()),
            (Some("allow_run"), Some("Bash(git status:*)"))
        );
        let d = marker(&mut t.frames).await;
        assert_eq!(
            (d["decision"].as_str(), d["by"].as_str()),
            (Some("allow"), Some("rule"))
        );
        assert!(matches!(h.await.unwrap(), Answer::Allow { .. }));
        assert!(matches!(h2.await.unwrap(), Answer::Allow { .. }));
        // From now on: covered calls pass without asking, others still ask.
        let a = t
            .broker
            .ask(bash("git status --short"), std::future::pending())
            .await;
        assert!(matches!(a, Answer::Allow { .. }));
        let d = marker(&mut t.frames).await;
        assert_eq!(
            (d["event"].as_str(), d["by"].as_str()),
            (Some("permission_decision"), Some("rule"))
        );
        let (_, h) = ask_bg(&mut t, bash("git status; rm -rf ~")).await;
        t.broker.cancel_all("the turn ended").await;
        assert!(matches!(h.await.unwrap(), Answer::Deny { .. }));
    }

    #[tokio::test]
    async fn unasked_tools_are_refused_and_time_runs_out() {
        let mut t = setup(&["Bash"], Duration::from_millis(200));
        let a = t
            .broker
            .ask(
                Call {
                    tool: "WebFetch".into(),
                    input: json!({}),
                    tool_use_id: None,
                },
                std::future::pending(),
            )
            .await;
        assert!(matches!(a, Answer::Deny { ref message } if message.contains("WebFetch")));
        let d = marker(&mut t.frames).await;
        assert_eq!(
            (d["decision"].as_str(), d["by"].as_str()),
            (Some("deny"), Some("policy"))
        );

        let (req, h) = ask_bg(&mut t, bash("touch c")).await;
        assert!(req["expiresAt"].as_i64().unwrap() > now_ms());
        let d = marker(&mut t.frames).await;
        assert_eq!(
            (d["decision"].as_str(), d["by"].as_str()),
            (Some("timeout"), Some("runner"))
        );
        assert!(
            matches!(h.await.unwrap(), Answer::Deny { ref message } if message.contains("within 0 s") || message.contains("No one decided"))
        );
        assert_eq!(t.broker.pending(), 0);
    }

    #[tokio::test]
    async fn a_withdrawn_or_cancelled_request_is_denied_and_recorded() {
        let mut t = setup(&["*"], Duration::from_secs(60));
        let (gone_tx, gone_rx) = oneshot::channel::<()>();
        let b = t.broker.clone();
        let h = tokio::spawn(async move {
            b.ask(bash("touch d"), async {
                let _ = gone_rx.await;
            })
            .await
        });
        marker(&mut t.frames).await;
        drop(gone_tx);
        let d = marker(&mut t.frames).await;
        assert_eq!(d["decision"], "cancelled");
        assert!(matches!(h.await.unwrap(), Answer::Deny { .. }));

        let (_, h) = ask_bg(&mut t, bash("touch e")).await;
        t.broker.cancel_all("the run is stopping").await;
        let d = marker(&mut t.frames).await;
        assert_eq!(
            (d["decision"].as_str(), d["by"].as_str()),
            (Some("cancelled"), Some("runner"))
        );
        assert!(
            d["message"]
                .as_str()
                .unwrap()
                .contains("the run is stopping")
        );
        assert!(matches!(h.await.unwrap(), Answer::Deny { .. }));
    }

    #[tokio::test]
    async fn the_socket_wants_the_token() {
        let mut t = setup(&["Bash"], Duration::from_secs(60));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.sock");
        let server = tokio::spawn(t.broker.clone().serve(UnixListener::bind(&path).unwrap()));
        let mut ask = Ask {
            token: "wrong".into(),
            tool_name: "Bash".into(),
            input: json!({"command": "touch f"}),
            tool_use_id: None,
        };
        assert!(
            super::super::mcp::forward(&path, &ask).await.is_err(),
            "no answer"
        );
        assert_eq!(t.broker.pending(), 0);
        ask.token = "tok".into();
        let b = t.broker.clone();
        let asked = tokio::spawn(async move { super::super::mcp::forward(&path, &ask).await });
        let req = marker(&mut t.frames).await;
        b.decide(decision(
            req["requestId"].as_str().unwrap(),
            PermissionChoice::Allow,
        ))
        .await;
        assert!(matches!(
            asked.await.unwrap().unwrap(),
            Answer::Allow { .. }
        ));
        server.abort();
    }
}
