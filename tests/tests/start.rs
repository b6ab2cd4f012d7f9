//! `claude-runner start` end to end: the real gateway (HTTPS, generated CA) and runner binaries
//! with a fake `CLAUDE_COMMAND`.

use common::wire::{EventKind, RunStatus};
use e2e::{Gateway, run_id_from, runner, script};
use serde_json::json;

const CHILD: &str = r#"
echo "stdout one"
echo "stderr one" >&2
echo "my api_key=abc123xyz456 and secret $HMAC_LEAK"
echo "stdout two"
echo "stderr two" >&2
printf 'args:'; for a in "$@"; do printf ' [%s]' "$a"; done; echo
printf 'no newline at the end'
exit 3
"#;

#[tokio::test]
async fn start_streams_both_streams_and_markers_in_order_and_exits_with_the_childs_code() {
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start(dir.path());
    let child = script(&dir.path().join("fake-claude"), CHILD);

    let out = runner(dir.path())
        .arg("--env-file")
        .arg(&gw.runner_env)
        .args(["start", "--name", "e2e", "--cmd", "say hi"])
        .env("CLAUDE_COMMAND", &child)
        .env("HMAC_LEAK", &gw.hmac_secret)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(3),
        "runner exits with the child's code; stderr:\n{stderr}"
    );
    let run_id = run_id_from(&stderr);

    let events = gw.events(&run_id).await;
    let seqs: Vec<u64> = events.iter().map(|e| e.sequence).collect();
    assert_eq!(
        seqs,
        (1..=events.len() as u64).collect::<Vec<_>>(),
        "sequences 1..N, no gap"
    );

    // The file tree, then the turn and the child it spawned.
    let markers: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e.kind == EventKind::Marker)
        .map(|e| &e.data)
        .collect();
    assert_eq!(
        markers[..3]
            .iter()
            .map(|m| m["event"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["files", "turn_started", "started"]
    );
    assert_eq!(markers[1]["prompt"], "say hi");
    let argv: Vec<String> = serde_json::from_value(markers[2]["command"].clone()).unwrap();
    let expected_args = [
        "-p",
        "say hi",
        "--output-format",
        "stream-json",
        "--verbose",
        "--allowedTools",
        "Read,Write,Edit,Bash,Glob,Grep",
    ];
    assert_eq!(&argv[1..], expected_args);
    // The child exited 3 without a result line: the turn failed with its exit code.
    let turn = markers
        .iter()
        .find(|m| m["event"] == "turn_finished")
        .unwrap();
    assert_eq!(
        (&turn["outcome"], &turn["exitCode"]),
        (&json!("failed"), &json!(3))
    );

    let last = events.last().unwrap();
    assert_eq!(last.kind, EventKind::Marker);
    assert_eq!(last.data["event"], "finished");
    assert_eq!(last.data["exitCode"], 3);

    let lines = |kind: EventKind| -> Vec<String> {
        events
            .iter()
            .filter(|e| e.kind == kind)
            .map(|e| e.data.as_str().unwrap().to_string())
            .collect()
    };
    let stdout = lines(EventKind::Stdout);
    assert_eq!(stdout[0], "stdout one");
    assert!(
        stdout[1].starts_with("my api_key=[REDACTED] and secret [REDACTED]"),
        "{}",
        stdout[1]
    );
    assert_eq!(stdout[2], "stdout two");
    assert_eq!(
        stdout[3],
        "args: [-p] [say hi] [--output-format] [stream-json] [--verbose] [--allowedTools] \
         [Read,Write,Edit,Bash,Glob,Grep]"
    );
    assert_eq!(stdout[4], "no newline at the end");
    assert_eq!(lines(EventKind::Stderr), vec!["stderr one", "stderr two"]);

    let all = serde_json::to_string(&events).unwrap();
    assert!(
        !all.contains(&gw.hmac_secret),
        "the HMAC secret never reaches the gateway"
    );
    assert!(!all.contains("abc123xyz456"));

    let runs = gw.runs().await;
    let run = runs.iter().find(|r| r.id == run_id).unwrap();
    assert_eq!(run.status, RunStatus::Failed);
    assert_eq!(run.exit_code, Some(3));
    assert_eq!(run.name.as_deref(), Some("e2e"));

    let log = std::fs::read_to_string(
        dir.path()
            .join(".data/runs")
            .join(&run_id)
            .join("claude.log"),
    )
    .unwrap();
    assert!(log.contains("stdout one\n") && log.contains("stderr two\n"));
    assert!(log.contains("api_key=[REDACTED]"));
    assert!(!log.contains(&gw.hmac_secret) && !log.contains("abc123xyz456"));
}

#[tokio::test]
async fn start_trusts_the_gateway_by_fingerprint_pin_and_attaches_to_an_admin_created_run() {
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start(dir.path());
    let child = script(&dir.path().join("ok-child"), "echo fine\nexit 0\n");

    let (run_id, token) = gw.create_run("from the admin").await;
    let (run_id, token) = (run_id.as_str(), token.as_str());

    let out = runner(dir.path())
        .args([
            "start", "--run-id", run_id, "--token", token, "--cmd", "x", "--quiet",
        ])
        .env("GATEWAY_URL", &gw.url)
        .env("HMAC_SECRET", &gw.hmac_secret)
        .env("GATEWAY_CERT_SHA256", &gw.ca_fingerprint)
        .env("CLAUDE_COMMAND", &child)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty(), "--quiet echoes nothing");

    let events = gw.events(run_id).await;
    assert!(
        events
            .iter()
            .any(|e| e.kind == EventKind::Stdout && e.data == "fine")
    );
    assert_eq!(events.last().unwrap().data["exitCode"], 0);
    let run = gw
        .runs()
        .await
        .into_iter()
        .find(|r| r.id == run_id)
        .unwrap();
    assert_eq!(run.status, RunStatus::Finished);
}

#[tokio::test]
async fn a_missing_claude_command_is_reported_and_exits_127() {
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start(dir.path());
    let out = runner(dir.path())
        .arg("--env-file")
        .arg(&gw.runner_env)
        .args(["start", "--cmd", "x"])
        .env("CLAUDE_COMMAND", "/nonexistent/claude")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(127), "{stderr}");
    assert!(stderr.contains("command not found"), "{stderr}");
    let events = gw.events(&run_id_from(&stderr)).await;
    let error = events.iter().find(|e| e.kind == EventKind::Error).unwrap();
    assert!(error.data.as_str().unwrap().contains("/nonexistent/claude"));
    assert_eq!(events.last().unwrap().data["exitCode"], 127);
}

#[tokio::test]
async fn a_wrong_secret_fails_before_the_child_runs() {
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start(dir.path());
    let marker = dir.path().join("ran");
    let child = script(
        &dir.path().join("child"),
        &format!("touch {}\n", marker.display()),
    );
    let out = runner(dir.path())
        .args(["start", "--cmd", "x"])
        .env("GATEWAY_URL", &gw.url)
        .env("GATEWAY_CA_FILE", &gw.ca_file)
        .env("HMAC_SECRET", "definitely-not-the-secret")
        .env("CLAUDE_COMMAND", &child)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(125), "{stderr}");
    assert!(stderr.contains("HMAC_SECRET differs"), "{stderr}");
    assert!(!marker.exists(), "the child never started");
}

#[test]
fn the_gateway_keeps_its_data_directory_and_database_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start(dir.path());
    let data = gw.runner_env.parent().unwrap();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(data), 0o700, "{}", data.display());
    assert_eq!(mode(&data.join("gateway.db")), 0o600);
    assert_eq!(mode(&data.join("hmac_secret")), 0o600);
}
