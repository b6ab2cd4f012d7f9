//! `claude-runner start` driving the real Claude Code CLI (pinned in `tests/claude/`) against the
//! fake Messages API served by the test on loopback.

use common::wire::EventKind;
use e2e::fake_anthropic::{FakeAnthropic, claude_env};
use e2e::{Gateway, files_under, run_id_from, runner};
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

/// The runner's own terminal shows a Claude run in words (who said what, a tool call on one line,
/// markers as labelled lines), redacted like everything else; `--raw` shows the stream-json.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_terminal_echo_reads_as_words_and_raw_on_request() {
    const SECRET: &str = "echo-secret-value-5d1e77b0";
    let cli = e2e::claude::cli();
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start(dir.path());
    let api = FakeAnthropic::start().await;
    let home = dir.path().join("home");
    let ws = dir.path().join("ws");
    std::fs::create_dir_all(&ws).unwrap();

    let run = |raw: bool| {
        let mut cmd = runner(dir.path());
        cmd.arg("--env-file")
            .arg(&gw.runner_env)
            .args(["start", "--cmd", "RUN: echo $ECHO_TOKEN"])
            .arg("--cwd")
            .arg(&ws)
            .env("CLAUDE_COMMAND", &cli)
            .env("ECHO_TOKEN", SECRET)
            .envs(claude_env(&api.base_url(), &home));
        if raw {
            cmd.arg("--raw");
        }
        async move {
            let out = tokio::task::spawn_blocking(move || cmd.output())
                .await
                .unwrap()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
            assert_eq!(out.status.code(), Some(0), "{stderr}");
            String::from_utf8_lossy(&out.stdout).into_owned()
        }
    };

    let words = run(false).await;
    assert!(!words.contains(SECRET), "the echo is redacted: {words}");
    let has = |prefix: &str| words.lines().any(|l| l.starts_with(prefix));
    assert!(has("session: "), "the session in words: {words}");
    assert!(
        has("→ Bash: echo $ECHO_TOKEN"),
        "the tool call on one line: {words}"
    );
    assert!(has("← Bash: [REDACTED]"), "its result, redacted: {words}");
    assert!(has("Claude: Tool said: [REDACTED]"), "the answer: {words}");
    assert!(has("result: done · "), "the result: {words}");
    assert!(has("● turn 1: success"), "the turn's marker: {words}");
    assert!(has("● finished: exit 0"), "the run's end: {words}");
    assert!(
        !words.lines().any(|l| l.starts_with('{')),
        "no raw JSON: {words}"
    );

    let raw = run(true).await;
    assert!(!raw.contains(SECRET), "the raw echo is redacted too: {raw}");
    assert!(
        raw.lines()
            .any(|l| l.starts_with(r#"{"type":"system","subtype":"init""#)),
        "stream-json as it came: {raw}"
    );
    assert!(!raw.contains("● "), "no markers in raw mode: {raw}");
}

/// A command whose output is a secret, run by Claude Code's Bash tool (a file in a `secrets`
/// directory): the result is the bare value, with no name beside it and nothing in the
/// environment to know it by. The call's command marks it; it is redacted in the runner's
/// terminal, `claude.log`, the spool, the stored events, the gateway's files, and in Claude's
/// answer that repeats it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bare_output_of_a_command_that_reads_a_secret_is_redacted() {
    const SECRET: &str = "Zq8wLmN3pX07vR-from-a-file";
    let cli = e2e::claude::cli();
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start(dir.path());
    let api = FakeAnthropic::start().await;
    let home = dir.path().join("home");
    let ws = dir.path().join("ws");
    std::fs::create_dir_all(ws.join("secrets")).unwrap();
    std::fs::write(ws.join("secrets/db"), format!("{SECRET}\n")).unwrap();

    let mut cmd = runner(dir.path());
    cmd.arg("--env-file")
        .arg(&gw.runner_env)
        .args(["start", "--cmd", "RUN: cat secrets/db"])
        .arg("--cwd")
        .arg(&ws)
        .env("CLAUDE_COMMAND", &cli)
        .envs(claude_env(&api.base_url(), &home));
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let words = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        words.lines().any(|l| l.starts_with("← Bash: [REDACTED]")),
        "the result, redacted: {words}"
    );
    assert!(
        words
            .lines()
            .any(|l| l.starts_with("Claude: Tool said: [REDACTED]")),
        "the answer that repeats it: {words}"
    );
    let run_id = run_id_from(&stderr);
    let stored = serde_json::to_string(&gw.events(&run_id).await).unwrap();
    assert!(
        stored.contains("cat secrets/db"),
        "the call is kept: {stored}"
    );
    let mut places = vec![
        (
            "the terminal".to_string(),
            format!("{words}{stderr}").into_bytes(),
        ),
        ("stored events".to_string(), stored.into_bytes()),
    ];
    // Everything under the test's directory but the secret's own file and Claude Code's home
    // (its own session files): the gateway's database, WAL and log, the runner's data.
    let (ws, home) = (ws.display().to_string(), home.display().to_string());
    places.extend(
        files_under(dir.path())
            .into_iter()
            .filter(|(path, _)| !path.starts_with(&ws) && !path.starts_with(&home)),
    );
    assert!(places.len() > 3, "the gateway's and the runner's files");
    for (place, bytes) in &places {
        assert!(
            !bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()),
            "the secret reached {place}"
        );
    }
}
