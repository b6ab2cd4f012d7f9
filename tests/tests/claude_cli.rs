//! `claude-runner start` driving the real Claude Code CLI (pinned in `tests/claude/`) against the
//! fake Messages API served by the test on loopback.

use common::wire::EventKind;
use e2e::fake_anthropic::{FakeAnthropic, claude_env};
use e2e::{Gateway, run_id_from, runner};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_streams_a_real_claude_code_session() {
    let cli = e2e::claude::cli();
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start(dir.path());
    let api = FakeAnthropic::start().await;
    let home = dir.path().join("home");
    let ws = dir.path().join("ws");
    std::fs::create_dir_all(&ws).unwrap();

    let mut cmd = runner(dir.path());
    cmd.arg("--env-file")
        .arg(&gw.runner_env)
        .args(["start", "--quiet", "--cmd", "Say hello"])
        .arg("--cwd")
        .arg(&ws)
        .env("CLAUDE_COMMAND", &cli)
        .envs(claude_env(&api.base_url(), &home));
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");

    let events = gw.events(&run_id_from(&stderr)).await;
    let json_lines: Vec<Value> = events
        .iter()
        .filter(|e| e.kind == EventKind::Stdout)
        .filter_map(|e| serde_json::from_str(e.data.as_str()?).ok())
        .collect();
    let init = json_lines
        .iter()
        .find(|l| l["type"] == "system" && l["subtype"] == "init")
        .expect("system/init line");
    assert!(init["session_id"].as_str().is_some_and(|s| !s.is_empty()));
    let answer = json_lines
        .iter()
        .filter(|l| l["type"] == "assistant")
        .flat_map(|l| {
            l["message"]["content"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .find_map(|b| b["text"].as_str().map(String::from))
        .expect("an assistant text block");
    assert_eq!(answer, "ECHO(1 msgs): Say hello");
    let result = json_lines
        .iter()
        .find(|l| l["type"] == "result")
        .expect("result line");
    assert_eq!(result["is_error"], false);
    assert!(result["total_cost_usd"].as_f64().is_some());

    let stored = serde_json::to_string(&events).unwrap();
    assert!(
        !stored.contains("sk-ant-api03-fake-key-for-tests-only"),
        "the API key never reaches the gateway"
    );
    assert!(
        api.requests().iter().any(|r| r["stream"] == true),
        "the CLI streamed from the fake API"
    );
}
