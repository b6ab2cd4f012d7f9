//! Claude Code sessions end to end: the real gateway and runner binaries drive the real Claude
//! Code CLI (pinned in `tests/claude/`) against the fake Messages API on loopback. Tool calls,
//! follow-up prompts resuming the session, interrupts, file reads and checkpoint commits.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::wire::{Event, EventKind, RunStatus, RunSummary};
use e2e::claude::{WAIT, events_when, exit_of, has_turn, markers, turn_finished};
use e2e::fake_anthropic::{FakeAnthropic, claude_env};
use e2e::{Gateway, eventually, run_id_from, runner};
use serde_json::{Value, json};

/// A GitHub token planted in files; it must never reach the gateway.
fn github_token() -> String {
    format!("ghp_{}", "Zy9xW8vU7tS6rQ5pO4nM3lK2jI1hG0fE9dC8")
}

struct Setup {
    dir: tempfile::TempDir,
    gw: Gateway,
    api: FakeAnthropic,
}

impl Setup {
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let gw = Gateway::start(dir.path());
        let api = FakeAnthropic::start().await;
        Self { dir, gw, api }
    }

    /// `claude-runner start` with the real CLI and the offline environment; `extra` are flags
    /// of `start` after `--cmd <prompt>`.
    fn runner(&self, prompt: &str, extra: &[&str]) -> Command {
        let mut cmd = runner(self.dir.path());
        cmd.arg("--env-file")
            .arg(&self.gw.runner_env)
            .args(["start", "--quiet", "--cmd", prompt])
            .args(extra)
            .env("CLAUDE_COMMAND", e2e::claude::cli())
            .envs(claude_env(
                &self.api.base_url(),
                &self.dir.path().join("home"),
            ));
        cmd
    }

    /// Start a session on an admin-created run in the background.
    async fn session(&self, prompt: &str, extra: &[&str]) -> (String, Child) {
        let (run_id, token) = self.gw.create_run("session").await;
        let child = self
            .runner(prompt, extra)
            .args(["--session", "--run-id", &run_id, "--token", &token])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.dir.path().join("runner.log")).unwrap())
            .spawn()
            .unwrap();
        (run_id, child)
    }

    fn runner_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("runner.log")).unwrap_or_default()
    }

    /// The run's events once `check` holds (see [`e2e::claude::events_when`]).
    async fn events_when(&self, run_id: &str, check: impl Fn(&[Event]) -> bool) -> Vec<Event> {
        events_when(&self.gw, run_id, check, || {
            format!(
                "runner log:\n{}\nfake API requests: {}",
                self.runner_log(),
                self.api.requests().len()
            )
        })
        .await
    }

    async fn run(&self, run_id: &str) -> RunSummary {
        serde_json::from_value(self.gw.admin_get(&format!("/api/runs/{run_id}")).await).unwrap()
    }

    /// An artifact's text, or `None` while there is none.
    async fn artifact(&self, run_id: &str, name: &str) -> Option<String> {
        let resp = self
            .gw
            .client()
            .get(format!(
                "{}/api/runs/{run_id}/artifacts/{name}",
                self.gw.url
            ))
            .bearer_auth(&self.gw.admin_token)
            .send()
            .await
            .unwrap();
        (resp.status() == 200).then_some(resp.text().await.unwrap())
    }

    /// End the session and wait for the runner to exit.
    async fn end(&self, run_id: &str, child: &mut Child) -> std::process::ExitStatus {
        self.gw
            .queue_command(run_id, json!({"kind": "end_session"}))
            .await;
        exit_of(child, || self.runner_log()).await
    }
}

/// True once the fake API got a request whose last user text holds `needle`.
fn api_saw(api: &FakeAnthropic, needle: &str) -> bool {
    api.requests().iter().any(|r| {
        r["messages"]
            .as_array()
            .and_then(|m| m.iter().rev().find(|m| m["role"] == "user"))
            .is_some_and(|m| m["content"].to_string().contains(needle))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bash_tool_turn_is_transcribed_with_its_call_result_answer_cost_and_turns() {
    let s = Setup::new().await;
    let ws = s.dir.path().join("ws");
    std::fs::create_dir_all(&ws).unwrap();
    let mut cmd = s.runner("RUN: echo tool-output-42", &["--cwd", ws.to_str().unwrap()]);
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let run_id = run_id_from(&stderr);

    let t =
        s.gw.admin_get(&format!("/api/runs/{run_id}/transcript"))
            .await;
    let entries = t["entries"].as_array().unwrap();
    let kinds: Vec<&str> = entries
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["prompt", "tool_call", "tool_result", "answer"],
        "{t:#}"
    );
    assert_eq!(entries[0]["text"], "RUN: echo tool-output-42");
    assert_eq!(entries[1]["tool"], "Bash");
    assert_eq!(entries[1]["input"]["command"], "echo tool-output-42");
    assert_eq!(
        entries[2]["text"].as_str().unwrap().trim(),
        "tool-output-42"
    );
    assert_eq!(entries[2]["tool"], "Bash");
    assert_eq!(entries[3]["text"], "Tool said: tool-output-42");

    let events = s.gw.events(&run_id).await;
    let kinds: Vec<&str> = events
        .iter()
        .filter(|e| e.kind == EventKind::Marker)
        .map(|e| e.data["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds[..3],
        ["files", "turn_started", "started"],
        "{kinds:?}"
    );
    let finished = turn_finished(&events, 1).unwrap();
    assert_eq!(finished["outcome"], "success");
    assert_eq!(
        finished["numTurns"], 2,
        "a tool round trip is two model turns"
    );
    let session = markers(&events, "session");
    assert_eq!(session.len(), 1);
    assert_eq!(finished["sessionId"], session[0]["sessionId"]);

    let run = s.run(&run_id).await;
    assert_eq!(run.status, RunStatus::Finished);
    let c = run.claude.expect("the run records its Claude session");
    assert_eq!(c.session_id.as_deref(), session[0]["sessionId"].as_str());
    assert!(c.model.is_some());
    assert_eq!((c.prompts, c.turns), (1, 2));
    assert!(
        c.cost_usd > 0.0 && c.input_tokens > 0 && c.output_tokens > 0,
        "{c:?}"
    );
    assert_eq!(t["summary"]["turns"], 2);
    assert!(t["summary"]["cost_usd"].as_f64().unwrap() > 0.0);
    let md =
        s.gw.client()
            .get(format!("{}/api/runs/{run_id}/transcript.md", s.gw.url))
            .bearer_auth(&s.gw.admin_token)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
    assert!(
        md.contains("**Tool call: Bash**") && md.contains("- turns: 2"),
        "{md}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follow_up_prompt_resumes_the_same_claude_session() {
    let s = Setup::new().await;
    let ws = s.dir.path().join("ws");
    std::fs::create_dir_all(&ws).unwrap();
    let (run_id, mut child) = s
        .session("first prompt alpha", &["--cwd", ws.to_str().unwrap()])
        .await;
    s.events_when(&run_id, has_turn(1)).await;
    s.gw.queue_command(
        &run_id,
        json!({"kind": "prompt", "prompt": "second prompt beta"}),
    )
    .await;
    let events = s.events_when(&run_id, has_turn(2)).await;

    let last = s.api.requests().last().cloned().unwrap();
    let messages = last["messages"].to_string();
    assert!(
        messages.contains("first prompt alpha") && messages.contains("ECHO("),
        "the resumed request carries the earlier turn: {messages}"
    );
    let (one, two) = (
        turn_finished(&events, 1).unwrap(),
        turn_finished(&events, 2).unwrap(),
    );
    assert_eq!(
        (&one["outcome"], &two["outcome"]),
        (&json!("success"), &json!("success"))
    );
    assert!(one["sessionId"].is_string());
    assert_eq!(
        one["sessionId"], two["sessionId"],
        "the session id is unchanged"
    );
    assert_eq!(
        markers(&events, "session").len(),
        1,
        "one session, announced once"
    );
    let started = markers(&events, "started");
    let argv: Vec<String> = serde_json::from_value(started[1]["command"].clone()).unwrap();
    assert_eq!(argv[1..3], ["-p", "second prompt beta"]);
    let at = argv.iter().position(|a| a == "--resume").expect("--resume");
    assert_eq!(json!(argv[at + 1]), one["sessionId"]);
    let prompts = markers(&events, "turn_started");
    assert!(prompts[1]["commandId"].is_string());

    assert_eq!(
        s.end(&run_id, &mut child).await.code(),
        Some(0),
        "{}",
        s.runner_log()
    );
    let events = s.gw.events(&run_id).await;
    assert_eq!(
        markers(&events, "session_ended")[0]["reason"],
        "end_session"
    );
    assert_eq!(events.last().unwrap().data["event"], "finished");
    let run = s.run(&run_id).await;
    assert_eq!(run.status, RunStatus::Finished);
    assert_eq!(run.claude.unwrap().prompts, 2);
    let t =
        s.gw.admin_get(&format!("/api/runs/{run_id}/transcript"))
            .await;
    let prompts: Vec<&str> = t["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "prompt")
        .map(|e| e["text"].as_str().unwrap())
        .collect();
    assert_eq!(prompts, ["first prompt alpha", "second prompt beta"]);
}

/// The `result` line the CLI printed for the turn that `turn_finished(turn)` closes, if it
/// printed one.
fn result_line(events: &[Event], turn: u64) -> Option<Value> {
    let end = events
        .iter()
        .find(|e| {
            e.kind == EventKind::Marker
                && e.data["event"] == "turn_finished"
                && e.data["turn"] == turn
        })?
        .sequence;
    let start = events
        .iter()
        .filter(|e| {
            e.kind == EventKind::Marker
                && e.data["event"] == "turn_finished"
                && e.data["turn"].as_u64().is_some_and(|t| t < turn)
        })
        .map(|e| e.sequence)
        .max()
        .unwrap_or(0);
    events
        .iter()
        .filter(|e| e.kind == EventKind::Stdout && e.sequence > start && e.sequence < end)
        .filter_map(|e| serde_json::from_str::<Value>(e.data.as_str()?).ok())
        .find(|l| l["type"] == "result")
}

/// Interrupt the session's first turn once `ready` holds, then check that the turn ended
/// aborted, reported as the CLI reported it, and that a follow-up prompt resumes the session.
async fn interrupt_then_go_on(prompt: &str, ready: impl Fn(&Setup) -> bool) {
    let s = Setup::new().await;
    let ws = s.dir.path().join("ws");
    std::fs::create_dir_all(&ws).unwrap();
    let (run_id, mut child) = s.session(prompt, &["--cwd", ws.to_str().unwrap()]).await;
    eventually(WAIT, || async { ready(&s).then_some(()) }).await;
    s.events_when(&run_id, |events| {
        events.iter().any(|e| {
            e.kind == EventKind::Stdout
                && e.data
                    .as_str()
                    .is_some_and(|l| l.contains("system") && l.contains("init"))
        })
    })
    .await;

    let asked = Instant::now();
    s.gw.queue_command(&run_id, json!({"kind": "interrupt"}))
        .await;
    let events = eventually(WAIT, || async {
        let events = s.gw.events(&run_id).await;
        has_turn(1)(&events).then_some(events)
    })
    .await;
    let latency = asked.elapsed();
    eprintln!(
        "interrupt → turn_finished at the gateway: {} ms",
        latency.as_millis()
    );
    let one = turn_finished(&events, 1).unwrap();
    assert_eq!(one["outcome"], "aborted", "{one}");
    // The marker says what the CLI said: its `result` line's reason when it printed one. The
    // CLI prints none when SIGINT comes before the answer's response has begun (it exits 0).
    match result_line(&events, 1) {
        Some(result) => {
            eprintln!(
                "the CLI ended the turn with a result line: {}",
                result["terminal_reason"]
            );
            assert_eq!(one["terminalReason"], result["terminal_reason"], "{one}");
            assert!(
                one["terminalReason"]
                    .as_str()
                    .is_some_and(|r| r.starts_with("aborted")),
                "{one}"
            );
            assert_eq!(one["subtype"], result["subtype"], "{one}");
        }
        None => {
            eprintln!("the CLI printed no result line for the interrupted turn");
            assert!(one.get("terminalReason").is_none(), "{one}");
            assert!(one.get("subtype").is_none(), "{one}");
        }
    }
    assert!(latency < Duration::from_secs(5), "took {latency:?}");

    s.gw.queue_command(&run_id, json!({"kind": "prompt", "prompt": "still there?"}))
        .await;
    let events = s.events_when(&run_id, has_turn(2)).await;
    let two = turn_finished(&events, 2).unwrap();
    assert_eq!(two["outcome"], "success", "{two}");
    assert_eq!(two["sessionId"], one["sessionId"]);

    assert_eq!(
        s.end(&run_id, &mut child).await.code(),
        Some(0),
        "{}",
        s.runner_log()
    );
    let run = s.run(&run_id).await;
    assert_eq!(
        run.status,
        RunStatus::Finished,
        "an interrupt is not a stop"
    );
    assert_eq!(run.claude.unwrap().last_outcome.as_deref(), Some("success"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupt_ends_a_slow_turn_quickly_and_the_session_goes_on() {
    // The answer is streaming: the fake API has written its first words (one every 500 ms).
    interrupt_then_go_on("SLOW please", |s| s.api.answers_streaming() > 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupt_before_the_answer_begins_ends_the_turn_and_the_session_goes_on() {
    // The API has the request and has not begun its answer (it would in 20 s).
    interrupt_then_go_on("LATE please", |s| api_saw(&s.api, "LATE")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_reads_stay_in_the_workspace_arrive_redacted_and_deleting_the_run_removes_it() {
    let s = Setup::new().await;
    let (run_id, token) = s.gw.create_run("session").await;
    // The auto workspace of an admin-created run: its id is known before the runner starts.
    let ws = s.dir.path().join(".data/workspaces").join(&run_id);
    std::fs::create_dir_all(ws.join("src")).unwrap();
    let secret = github_token();
    std::fs::write(
        ws.join("src/config.txt"),
        format!("token = {secret}\nplain line\n"),
    )
    .unwrap();
    std::fs::write(ws.join(format!("named-{secret}.txt")), "x").unwrap();
    std::fs::write(s.dir.path().join("outside.txt"), "outside the workspace").unwrap();
    std::os::unix::fs::symlink(s.dir.path().join("outside.txt"), ws.join("link-out")).unwrap();

    let mut child = s
        .runner("hello", &["--workspace", "auto", "--session"])
        .args(["--run-id", &run_id, "--token", &token])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(s.dir.path().join("runner.log")).unwrap())
        .spawn()
        .unwrap();
    s.events_when(&run_id, has_turn(1)).await;
    for path in [
        "src/config.txt",
        "../outside.txt",
        "/etc/passwd",
        "link-out",
        "src/../../outside.txt",
    ] {
        s.gw.queue_command(&run_id, json!({"kind": "file", "path": path}))
            .await;
    }
    let events = s
        .events_when(&run_id, |e| {
            markers(e, "file").len() + markers(e, "file_refused").len() == 5
        })
        .await;
    let file = markers(&events, "file");
    assert_eq!(file.len(), 1, "{file:?}");
    assert_eq!(file[0]["path"], "src/config.txt");
    let refused: Vec<(&str, &str)> = markers(&events, "file_refused")
        .iter()
        .map(|m| (m["path"].as_str().unwrap(), m["reason"].as_str().unwrap()))
        .collect();
    assert_eq!(refused.len(), 4, "{refused:?}");
    for (path, reason) in &refused {
        let why = match *path {
            "/etc/passwd" => "absolute",
            "link-out" => "outside the working directory",
            _ => "`..`",
        };
        assert!(reason.contains(why), "{path}: {reason}");
    }
    let content = s
        .artifact(&run_id, file[0]["artifact"].as_str().unwrap())
        .await
        .expect("the file's artifact");
    assert_eq!(content, "token = [REDACTED]\nplain line\n");
    let tree: Value =
        serde_json::from_str(&s.artifact(&run_id, "files.json").await.unwrap()).unwrap();
    let paths: Vec<&str> = tree["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert!(
        paths.contains(&"src/config.txt") && paths.contains(&"link-out"),
        "{paths:?}"
    );
    assert!(paths.contains(&"named-[REDACTED].txt"), "{paths:?}");
    let all = serde_json::to_string(&events).unwrap() + &tree.to_string();
    assert!(
        !all.contains(&secret),
        "the token never reaches the gateway"
    );
    assert!(!all.contains("outside the workspace"));

    // Deleting the run at the gateway ends the session and removes the auto workspace.
    let resp =
        s.gw.client()
            .delete(format!("{}/api/runs/{run_id}", s.gw.url))
            .bearer_auth(&s.gw.admin_token)
            .send()
            .await
            .unwrap();
    assert_eq!(resp.status(), 204);
    exit_of(&mut child, || s.runner_log()).await;
    assert!(
        !ws.exists(),
        "the workspace is removed; runner log:\n{}",
        s.runner_log()
    );
    let gone =
        s.gw.client()
            .get(format!("{}/api/runs/{run_id}", s.gw.url))
            .bearer_auth(&s.gw.admin_token)
            .send()
            .await
            .unwrap();
    assert_eq!(gone.status(), 404);
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_turn_leaves_a_checkpoint_commit_with_the_file_claude_wrote() {
    let s = Setup::new().await;
    let (run_id, token) = s.gw.create_run("session").await;
    let ws = s.dir.path().join(".data/workspaces").join(&run_id);
    let target = std::fs::canonicalize(s.dir.path())
        .unwrap()
        .join(".data/workspaces")
        .join(&run_id)
        .join("notes.md");
    let mut child = s
        .runner(
            &format!("WRITE: {} written by claude", target.display()),
            &["--workspace", "auto", "--git-branch", "--session"],
        )
        .args(["--run-id", &run_id, "--token", &token])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(s.dir.path().join("runner.log")).unwrap())
        .spawn()
        .unwrap();
    let events = s.events_when(&run_id, has_turn(1)).await;
    let one = turn_finished(&events, 1).unwrap();
    assert_eq!(one["outcome"], "success", "{one}");
    assert_eq!(one["filesWritten"], json!([target.display().to_string()]));
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        "written by claude"
    );

    s.gw.queue_command(&run_id, json!({"kind": "prompt", "prompt": "SLOW now"}))
        .await;
    eventually(WAIT, || async { api_saw(&s.api, "SLOW now").then_some(()) }).await;
    s.gw.queue_command(&run_id, json!({"kind": "interrupt"}))
        .await;
    let events = s
        .events_when(&run_id, |e| !markers(e, "checkpoint").is_empty())
        .await;
    assert_eq!(turn_finished(&events, 2).unwrap()["outcome"], "aborted");
    let cp = markers(&events, "checkpoint")[0];
    let branch = format!("claude/{run_id}");
    assert_eq!(
        (
            cp["branch"].as_str(),
            cp["reason"].as_str(),
            cp["turn"].as_u64()
        ),
        (Some(branch.as_str()), Some("interrupted"), Some(2))
    );

    let commit = cp["commit"].as_str().unwrap();
    assert_eq!(
        git(&ws, &["rev-parse", &branch]).trim(),
        commit,
        "the commit is the branch's head"
    );
    let shown = git(
        &ws,
        &["show", "--name-only", "--format=%an <%ae>%n%s", commit],
    );
    assert!(
        shown.contains("claude-runner <claude-runner@localhost>"),
        "{shown}"
    );
    assert!(
        shown.contains("checkpoint: interrupted") && shown.contains("notes.md"),
        "{shown}"
    );
    assert_eq!(
        git(&ws, &["show", &format!("{commit}:notes.md")]),
        "written by claude"
    );

    assert_eq!(
        s.end(&run_id, &mut child).await.code(),
        Some(0),
        "{}",
        s.runner_log()
    );
    let run = s.run(&run_id).await;
    assert_eq!(
        run.claude.unwrap().files_written,
        [target.display().to_string()]
    );
}
