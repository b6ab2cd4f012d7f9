//! Approvals end to end: the real gateway and runner binaries drive the real Claude Code CLI
//! (pinned in `tests/claude/`) against the fake Messages API; Bash asks a person
//! (`CLAUDE_ASK_TOOLS=Bash`), who decides through `POST /api/runs/:id/permissions/:request_id`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use common::wire::{Event, EventKind, RunStatus, RunSummary};
use e2e::claude::{cli, events_when, exit_of, has_turn, markers};
use e2e::fake_anthropic::{FakeAnthropic, claude_env};
use e2e::{Gateway, runner};
use serde_json::{Value, json};

struct Setup {
    dir: tempfile::TempDir,
    gw: Gateway,
    api: FakeAnthropic,
    ws: PathBuf,
}

impl Setup {
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let gw = Gateway::start(dir.path());
        let api = FakeAnthropic::start().await;
        let ws = dir.path().join("ws");
        std::fs::create_dir_all(&ws).unwrap();
        Self { dir, gw, api, ws }
    }

    /// `claude-runner start` on an admin-created run, Bash asking a person, in the background.
    async fn start(&self, prompt: &str, extra: &[&str], env: &[(&str, &str)]) -> (String, Child) {
        let (run_id, token) = self.gw.create_run("approvals").await;
        let mut cmd: Command = runner(self.dir.path());
        cmd.arg("--env-file")
            .arg(&self.gw.runner_env)
            .args(["start", "--quiet", "--cmd", prompt, "--cwd"])
            .arg(&self.ws)
            .args(["--run-id", &run_id, "--token", &token])
            .args(extra)
            .env("CLAUDE_COMMAND", cli())
            .env("CLAUDE_ASK_TOOLS", "Bash")
            .envs(claude_env(
                &self.api.base_url(),
                &self.dir.path().join("home"),
            ))
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.dir.path().join("runner.log")).unwrap());
        (run_id, cmd.spawn().unwrap())
    }

    fn runner_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("runner.log")).unwrap_or_default()
    }

    /// The run's events once `check` holds them.
    async fn events_when(&self, run_id: &str, check: impl Fn(&[Event]) -> bool) -> Vec<Event> {
        events_when(&self.gw, run_id, check, || {
            format!("runner log:\n{}", self.runner_log())
        })
        .await
    }

    /// The `n`-th (1-based) `permission_request` marker, once it is stored.
    async fn request(&self, run_id: &str, n: usize) -> Value {
        let events = self
            .events_when(run_id, |e| markers(e, "permission_request").len() >= n)
            .await;
        markers(&events, "permission_request")[n - 1].clone()
    }

    /// Post a decision; the status and the answer's body.
    async fn decide(&self, run_id: &str, request_id: &str, body: Value) -> (u16, Value) {
        let resp = self
            .gw
            .client()
            .post(format!(
                "{}/api/runs/{run_id}/permissions/{request_id}",
                self.gw.url
            ))
            .bearer_auth(&self.gw.admin_token)
            .json(&body)
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.json().await.unwrap())
    }

    async fn run(&self, run_id: &str) -> RunSummary {
        serde_json::from_value(self.gw.admin_get(&format!("/api/runs/{run_id}")).await).unwrap()
    }

    /// True once the fake API got a tool result holding `needle`, with this error flag.
    fn api_saw_result(&self, needle: &str, is_error: bool) -> bool {
        self.api.requests().iter().any(|r| {
            r["messages"].as_array().into_iter().flatten().any(|m| {
                m["content"].as_array().into_iter().flatten().any(|b| {
                    b["type"] == "tool_result"
                        && b["is_error"].as_bool().unwrap_or(false) == is_error
                        && b["content"].to_string().contains(needle)
                })
            })
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_allows_denies_and_allows_for_the_rest_of_the_run() {
    let s = Setup::new().await;
    let (run_id, mut child) = s
        .start(
            "RUN: touch allowed.txt && echo made-it",
            &["--session"],
            &[],
        )
        .await;

    // 1. Allow once: the tool runs and the transcript shows its result.
    let req = s.request(&run_id, 1).await;
    assert_eq!(req["tool"], "Bash");
    assert_eq!(req["command"], "touch allowed.txt && echo made-it");
    assert_eq!(
        req["cwd"],
        std::fs::canonicalize(&s.ws).unwrap().to_str().unwrap()
    );
    assert!(
        req["toolUseId"]
            .as_str()
            .is_some_and(|t| t.starts_with("toolu_"))
    );
    assert!(req["expiresAt"].as_i64().unwrap() > 0);
    let id = req["requestId"].as_str().unwrap().to_string();
    let claude = s.run(&run_id).await.claude.unwrap();
    assert_eq!(
        (claude.pending_approvals, claude.pending_requests.clone()),
        (1, vec![id.clone()])
    );
    assert!(
        !s.ws.join("allowed.txt").exists(),
        "nothing runs before the decision"
    );

    let (status, cmd) = s
        .decide(&run_id, &id, json!({"decision": "allow", "by": "mallory"}))
        .await;
    assert_eq!(status, 400, "a client cannot name who decided: {cmd}");
    let (status, cmd) = s.decide(&run_id, &id, json!({"decision": "allow"})).await;
    assert_eq!(status, 201, "{cmd}");
    assert_eq!(
        (cmd["kind"].as_str(), cmd["by"].as_str()),
        (Some("permission"), Some("admin token (admin)"))
    );
    let events = s.events_when(&run_id, has_turn(1)).await;
    assert!(s.ws.join("allowed.txt").exists(), "the allowed call ran");
    let decided = markers(&events, "permission_decision");
    assert_eq!(decided.len(), 1);
    assert_eq!(
        (
            decided[0]["requestId"].as_str(),
            decided[0]["decision"].as_str(),
            decided[0]["by"].as_str()
        ),
        (
            Some(id.as_str()),
            Some("allow"),
            Some("admin token (admin)")
        )
    );
    assert_eq!(decided[0]["commandId"], cmd["id"]);
    let t =
        s.gw.admin_get(&format!("/api/runs/{run_id}/transcript"))
            .await;
    let entries = t["entries"].as_array().unwrap();
    let kinds: Vec<&str> = entries
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    let at = |k: &str| {
        kinds
            .iter()
            .position(|x| *x == k)
            .unwrap_or_else(|| panic!("{k} in {kinds:?}"))
    };
    assert!(at("permission_decision") < at("tool_result"), "{kinds:?}");
    let result = &entries[at("tool_result")];
    assert_eq!(
        (result["text"].as_str(), result["is_error"].as_bool()),
        (Some("made-it"), None)
    );
    assert_eq!(
        entries[at("permission_decision")]["text"],
        "allowed once by admin token (admin)"
    );
    assert_eq!(s.run(&run_id).await.claude.unwrap().pending_approvals, 0);
    let (status, again) = s.decide(&run_id, &id, json!({"decision": "deny"})).await;
    assert_eq!(
        (status, again["reason"].as_str()),
        (400, Some("not_pending"))
    );

    // A prompt that switches to a model the runner does not allow is refused; one within its
    // ceilings runs with what it chose.
    let refused =
        s.gw.queue_command(
            &run_id,
            json!({"kind": "prompt", "prompt": "hi", "model": "opus"}),
        )
        .await;
    s.events_when(&run_id, |e| {
        e.iter().any(|e| {
            e.kind == EventKind::Error
                && e.data
                    .as_str()
                    .is_some_and(|t| t.contains(&refused) && t.contains("\"opus\""))
        })
    })
    .await;

    // 2. Deny with a message: the call is refused and Claude is told the message.
    let prompt2 = s
        .gw
        .queue_command(
            &run_id,
            json!({"kind": "prompt", "prompt": "RUN: touch denied.txt", "permission_mode": "default"}),
        )
        .await;
    let req = s.request(&run_id, 2).await;
    let id2 = req["requestId"].as_str().unwrap().to_string();
    let denial = "Use the Makefile for that, not touch";
    let (status, _) = s
        .decide(
            &run_id,
            &id2,
            json!({"decision": "deny", "message": denial}),
        )
        .await;
    assert_eq!(status, 201);
    let events = s.events_when(&run_id, has_turn(2)).await;
    assert!(
        !s.ws.join("denied.txt").exists(),
        "the denied call did not run"
    );
    assert!(
        s.api_saw_result(denial, true),
        "Claude got the message as the tool's error"
    );
    let turn2 = markers(&events, "turn_started")
        .into_iter()
        .find(|m| m["commandId"] == prompt2.as_str())
        .unwrap();
    assert_eq!(turn2["permissionMode"], "default");
    assert!(
        !markers(&events, "turn_started")
            .iter()
            .any(|m| m["commandId"] == refused.as_str()),
        "the refused prompt did not run"
    );
    let started = markers(&events, "started");
    let argv = started.last().unwrap()["command"].to_string();
    assert!(argv.contains("\"--permission-mode\",\"default\""), "{argv}");
    assert!(argv.contains("mcp__claude-runner__approve"), "{argv}");
    let t =
        s.gw.admin_get(&format!("/api/runs/{run_id}/transcript"))
            .await;
    let texts: Vec<&str> = t["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["text"].as_str())
        .collect();
    assert!(
        texts.contains(&format!("denied by admin token (admin): {denial}").as_str()),
        "{texts:?}"
    );
    assert!(
        texts.contains(&format!("Tool refused: {denial}").as_str()),
        "Claude's answer reflects it: {texts:?}"
    );

    // 3. Allow for the rest of the run: the second identical call does not ask again.
    s.gw.queue_command(
        &run_id,
        json!({"kind": "prompt", "prompt": "RUN TWICE: touch twice.txt"}),
    )
    .await;
    let req = s.request(&run_id, 3).await;
    let id3 = req["requestId"].as_str().unwrap().to_string();
    let (status, cmd3) = s
        .decide(&run_id, &id3, json!({"decision": "allow_run"}))
        .await;
    assert_eq!(status, 201);
    let events = s.events_when(&run_id, has_turn(3)).await;
    assert_eq!(
        markers(&events, "permission_request").len(),
        3,
        "asked once in turn 3"
    );
    let decided = markers(&events, "permission_decision");
    let run_rule = decided
        .iter()
        .find(|d| d["requestId"] == id3.as_str())
        .unwrap();
    assert_eq!(
        (
            run_rule["decision"].as_str(),
            run_rule["by"].as_str(),
            run_rule["rule"].as_str()
        ),
        (
            Some("allow_run"),
            Some("admin token (admin)"),
            Some("Bash(touch twice.txt)")
        )
    );
    assert_eq!(run_rule["commandId"], cmd3["id"]);
    let by_rule: Vec<&Value> = decided
        .iter()
        .copied()
        .filter(|d| d["by"] == "rule")
        .collect();
    assert_eq!(by_rule.len(), 1, "{decided:?}");
    assert_eq!(
        (by_rule[0]["decision"].as_str(), by_rule[0]["rule"].as_str()),
        (Some("allow"), Some("Bash(touch twice.txt)"))
    );
    assert_ne!(
        by_rule[0]["toolUseId"], run_rule["toolUseId"],
        "another call"
    );
    assert!(s.ws.join("twice.txt").exists());

    s.gw.queue_command(&run_id, json!({"kind": "end_session"}))
        .await;
    let status = exit_of(&mut child, || s.runner_log()).await;
    assert_eq!(status.code(), Some(0), "{}", s.runner_log());
    let run = s.run(&run_id).await;
    assert_eq!(run.claude.unwrap().pending_approvals, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_nobody_answers_is_denied_when_its_time_runs_out() {
    let s = Setup::new().await;
    let (run_id, mut child) = s
        .start("RUN: touch late.txt", &[], &[("CLAUDE_ASK_TIMEOUT", "2s")])
        .await;
    let status = exit_of(&mut child, || s.runner_log()).await;
    assert_eq!(status.code(), Some(0), "{}", s.runner_log());
    let events = s.gw.events(&run_id).await;
    let req = &markers(&events, "permission_request")[0];
    let decided = &markers(&events, "permission_decision")[0];
    assert_eq!(decided["requestId"], req["requestId"]);
    assert_eq!(
        (decided["decision"].as_str(), decided["by"].as_str()),
        (Some("timeout"), Some("runner"))
    );
    let message = decided["message"].as_str().unwrap();
    assert!(message.contains("within 2 s"), "{message}");
    assert!(s.api_saw_result(message, true), "Claude was told why");
    assert!(!s.ws.join("late.txt").exists());
    let run = s.run(&run_id).await;
    assert_eq!(
        (run.status, run.claude.unwrap().pending_approvals),
        (RunStatus::Finished, 0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_cancels_a_pending_request() {
    let s = Setup::new().await;
    let (run_id, mut child) = s.start("RUN: touch never.txt", &["--session"], &[]).await;
    let req = s.request(&run_id, 1).await;
    s.gw.queue_command(&run_id, json!({"kind": "stop"})).await;
    let status = exit_of(&mut child, || s.runner_log()).await;
    assert!(status.code().is_some(), "{}", s.runner_log());
    let events = s.gw.events(&run_id).await;
    let decided = markers(&events, "permission_decision");
    assert_eq!(decided.len(), 1, "{decided:?}");
    assert_eq!(decided[0]["requestId"], req["requestId"]);
    assert_eq!(
        (decided[0]["decision"].as_str(), decided[0]["by"].as_str()),
        (Some("cancelled"), Some("runner"))
    );
    assert!(decided[0]["message"].as_str().unwrap().contains("stopping"));
    assert!(!s.ws.join("never.txt").exists());
    let run = s.run(&run_id).await;
    assert_eq!(
        (run.status, run.claude.map_or(0, |c| c.pending_approvals)),
        (RunStatus::Stopped, 0)
    );
}
