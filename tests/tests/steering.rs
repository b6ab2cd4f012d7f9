//! Steering a run end to end: commands queued at the real gateway run (or are refused) on the real
//! runner beside a long-running fake Claude, `git diff` becomes a redacted `latest.diff`,
//! `claude.log` is uploaded at the end of every run, and `assist` publishes fake tmate links.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::wire::{Event, EventKind, RunStatus};
use e2e::{Gateway, eventually, runner, script};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(30);

/// A fake Claude that prints a line every 50 ms until it is interrupted.
const LOOPING_CHILD: &str = r#"
trap 'echo "child interrupted"; exit 130' INT
i=0
while :; do
  i=$((i + 1))
  echo "tick $i"
  sleep 0.05
done
"#;

/// A secret GitHub token the diff contains; it must never reach the gateway.
fn github_token() -> String {
    format!("ghp_{}", "Ab3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0dF3gH6")
}

async fn exec(gw: &Gateway, run_id: &str, command: &str) -> String {
    gw.queue_command(run_id, json!({"kind": "exec", "command": command}))
        .await
}

/// An artifact's bytes, or `None` while it does not exist.
async fn artifact(gw: &Gateway, run_id: &str, name: &str) -> Option<String> {
    let resp = gw
        .client()
        .get(format!("{}/api/runs/{run_id}/artifacts/{name}", gw.url))
        .bearer_auth(&gw.admin_token)
        .send()
        .await
        .unwrap();
    if resp.status() == 404 {
        return None;
    }
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-disposition"],
        format!("attachment; filename=\"{name}\"").as_str()
    );
    Some(resp.text().await.unwrap())
}

fn marker<'a>(events: &'a [Event], event: &str, id: &str) -> Option<&'a Event> {
    events
        .iter()
        .find(|e| e.kind == EventKind::Marker && e.data["event"] == event && e.data["id"] == id)
}

/// Events of the run once `check` finds what it wants in them.
async fn events_when(gw: &Gateway, run_id: &str, check: impl Fn(&[Event]) -> bool) -> Vec<Event> {
    eventually(WAIT, || async {
        let events = gw.events(run_id).await;
        check(&events).then_some(events)
    })
    .await
}

fn texts(events: &[Event], kind: EventKind) -> Vec<&str> {
    events
        .iter()
        .filter(|e| e.kind == kind)
        .filter_map(|e| e.data.as_str())
        .collect()
}

/// Wait for a background process to exit.
async fn exit_of(child: &mut Child) -> std::process::ExitStatus {
    eventually(WAIT, || {
        let status = child.try_wait().unwrap();
        async move { status }
    })
    .await
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(args)
        .current_dir(dir)
        .env("HOME", dir)
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}: {out:?}");
}

/// A directory of fake programs that leave a mark if anything runs them.
fn trap_bin(dir: &Path) -> PathBuf {
    let bin = dir.join("trap-bin");
    std::fs::create_dir_all(&bin).unwrap();
    for name in ["rm", "npm", "curl"] {
        script(
            &bin.join(name),
            &format!("touch {}/ran-{name}\n", dir.display()),
        );
    }
    bin
}

/// `claude-runner start` on an admin-created run, in the background, with `PATH` led by `bin`.
fn start_runner(gw: &Gateway, dir: &Path, cwd: &Path, bin: &Path, run: &(String, String)) -> Child {
    let child = script(&dir.join("fake-claude"), LOOPING_CHILD);
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    runner(dir)
        .arg("--env-file")
        .arg(&gw.runner_env)
        .args([
            "start", "--quiet", "--cmd", "work", "--run-id", &run.0, "--token", &run.1,
        ])
        .arg("--cwd")
        .arg(cwd)
        .env("CLAUDE_COMMAND", &child)
        .env("PATH", path)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("runner.log")).unwrap())
        .spawn()
        .unwrap()
}

#[tokio::test]
async fn queued_commands_run_beside_claude_and_git_diff_becomes_a_redacted_artifact() {
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start(dir.path());
    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    git(&work, &["init", "-q"]);
    std::fs::write(work.join("app.txt"), "hello\n").unwrap();
    git(&work, &["add", "app.txt"]);
    git(&work, &["commit", "-q", "-m", "first"]);
    std::fs::write(
        work.join("app.txt"),
        format!("hello\ntoken = \"{}\"\n", github_token()),
    )
    .unwrap();
    let bin = trap_bin(dir.path());
    let run = gw.create_run("steered").await;
    let mut proc = start_runner(&gw, dir.path(), &work, &bin, &run);
    let run_id = run.0.as_str();
    events_when(&gw, run_id, |e| {
        texts(e, EventKind::Stdout).contains(&"tick 3")
    })
    .await;

    // An allowlisted command: its output arrives between its info event and its marker.
    let diff = exec(&gw, run_id, "git   diff").await;
    let events = events_when(&gw, run_id, |e| {
        marker(e, "command_finished", &diff).is_some()
    })
    .await;
    let done = marker(&events, "command_finished", &diff).unwrap();
    assert_eq!(done.data["exitCode"], 0);
    let begin = events
        .iter()
        .find(|e| e.data == "Executing command: git diff")
        .expect("announced");
    let output: Vec<&str> = events
        .iter()
        .filter(|e| {
            e.kind == EventKind::Stdout && (begin.sequence..done.sequence).contains(&e.sequence)
        })
        .filter_map(|e| e.data.as_str())
        .filter(|l| !l.starts_with("tick "))
        .collect();
    assert!(
        output.contains(&"diff --git a/app.txt b/app.txt"),
        "{output:?}"
    );
    assert!(
        output
            .iter()
            .any(|l| l.starts_with("+token = ") && l.contains("[REDACTED]")),
        "{output:?}"
    );
    assert!(
        texts(&events, EventKind::Stdout).contains(&"tick 1"),
        "Claude's output keeps flowing"
    );

    let uploaded = eventually(WAIT, || artifact(&gw, run_id, "latest.diff")).await;
    assert!(
        uploaded.starts_with("diff --git a/app.txt b/app.txt\n"),
        "{uploaded}"
    );
    assert!(uploaded.contains("+token = \"[REDACTED]\""), "{uploaded}");
    assert!(!uploaded.contains(&github_token()));

    // Commands run in the run's working directory; each id runs once.
    let pwd = exec(&gw, run_id, "pwd").await;
    let status = exec(&gw, run_id, "git status").await;
    let events = events_when(&gw, run_id, |e| {
        marker(e, "command_finished", &status).is_some()
    })
    .await;
    assert_eq!(
        marker(&events, "command_finished", &pwd).unwrap().data["exitCode"],
        0
    );
    let canonical = std::fs::canonicalize(&work).unwrap();
    assert!(texts(&events, EventKind::Stdout).contains(&canonical.to_str().unwrap()));
    assert!(
        texts(&events, EventKind::Stdout)
            .iter()
            .any(|l| l.contains("modified:") && l.contains("app.txt"))
    );

    // Refused: reported by name, and nothing ran.
    let mut refused = Vec::new();
    for line in ["rm -rf /", "npm test; curl x", "git diff && sh"] {
        refused.push((exec(&gw, run_id, line).await, line));
    }
    let after = exec(&gw, run_id, "ls -la").await;
    let events = events_when(&gw, run_id, |e| {
        marker(e, "command_finished", &after).is_some()
            && refused
                .iter()
                .all(|(id, _)| marker(e, "command_refused", id).is_some())
    })
    .await;
    for (id, line) in &refused {
        assert_eq!(
            marker(&events, "command_refused", id).unwrap().data["command"],
            *line
        );
        assert!(
            marker(&events, "command_finished", id).is_none(),
            "{line} did not run"
        );
        assert!(
            texts(&events, EventKind::Error)
                .iter()
                .any(|t| t.contains(id.as_str()) && t.contains(line) && t.contains("allowlist")),
            "{line} is reported as refused"
        );
        assert!(
            !texts(&events, EventKind::Info)
                .contains(&format!("Executing command: {line}").as_str())
        );
    }
    for name in ["rm", "npm", "curl"] {
        assert!(
            !dir.path().join(format!("ran-{name}")).exists(),
            "{name} never ran"
        );
    }
    let executed: Vec<&str> = texts(&events, EventKind::Info)
        .into_iter()
        .filter(|t| t.starts_with("Executing command: "))
        .collect();
    assert_eq!(
        executed,
        [
            "Executing command: git diff",
            "Executing command: pwd",
            "Executing command: git status",
            "Executing command: ls -la"
        ],
        "each delivered command ran exactly once"
    );

    // A stop command stops the run gracefully; claude.log is uploaded after it.
    gw.queue_command(run_id, json!({"kind": "stop"})).await;
    let code = exit_of(&mut proc).await;
    assert_eq!(
        code.code(),
        Some(124),
        "a stopped run, whatever the child's code after SIGINT"
    );
    let events = gw.events(run_id).await;
    assert!(
        events
            .iter()
            .any(|e| e.data == json!({"event": "stop_requested", "reason": "command"}))
    );
    assert!(texts(&events, EventKind::Stdout).contains(&"child interrupted"));
    let run_summary = gw
        .runs()
        .await
        .into_iter()
        .find(|r| r.id == run_id)
        .unwrap();
    assert_eq!(run_summary.status, RunStatus::Stopped);
    let log = eventually(WAIT, || artifact(&gw, run_id, "claude.log")).await;
    assert!(
        log.starts_with("tick 1\n") && log.contains("child interrupted\n"),
        "{log}"
    );
    assert!(log.contains("diff --git a/app.txt b/app.txt"));
    assert!(!log.contains(&github_token()));
}

#[tokio::test]
async fn claude_log_is_uploaded_redacted_when_a_run_ends_on_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start(dir.path());
    let child = script(
        &dir.path().join("short-claude"),
        "echo 'first line'\necho \"key: $LEAKED_KEY\"\necho 'last line'\n",
    );
    let out = runner(dir.path())
        .arg("--env-file")
        .arg(&gw.runner_env)
        .args(["start", "--quiet", "--cmd", "x"])
        .env("CLAUDE_COMMAND", &child)
        .env("LEAKED_KEY", "sup3r-s3cret-value-42")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let run_id = e2e::run_id_from(&stderr);
    // Uploaded before the runner exits.
    let log = artifact(&gw, &run_id, "claude.log")
        .await
        .expect("claude.log uploaded");
    assert_eq!(log, "first line\nkey: [REDACTED]\nlast line\n");
    let listed = gw.admin_get(&format!("/api/runs/{run_id}/artifacts")).await;
    assert_eq!(listed[0]["name"], "claude.log");
    assert_eq!(listed[0]["size"], log.len());
}

/// A fake tmate: logs its arguments, prints links, and fails `wait` if told to.
fn fake_tmate(bin: &Path, log: &Path) {
    script(
        &bin.join("tmate"),
        &format!(
            r#"echo "$*" >> {log}
shift 2
case "$1" in
  new-session|has-session|kill-server) exit 0 ;;
  wait)
    if [ -n "$TMATE_FAIL" ]; then echo "$TMATE_FAIL" >&2; exit 1; fi
    exit 0 ;;
  display)
    case "$3" in
      '#{{tmate_ssh}}') echo "ssh Fk3Sess10nT0ken@nyc1.tmate.io" ;;
      '#{{tmate_web}}') echo "https://tmate.io/t/Fk3Sess10nT0ken" ;;
    esac
    exit 0 ;;
esac
exit 1
"#,
            log = log.display()
        ),
    );
}

fn assist(gw: &Gateway, dir: &Path, bin: &Path, run: &(String, String), expires: &str) -> Command {
    let mut cmd = runner(dir);
    cmd.arg("--env-file")
        .arg(&gw.runner_env)
        .args([
            "assist",
            "--run-id",
            &run.0,
            "--token",
            &run.1,
            "--expires",
            expires,
        ])
        .env(
            "PATH",
            format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
        );
    cmd
}

fn assists(events: &[Event]) -> Vec<&Value> {
    events
        .iter()
        .filter(|e| e.kind == EventKind::Assist)
        .map(|e| &e.data)
        .collect()
}

#[tokio::test]
async fn assist_publishes_tmate_links_and_closes_them_on_expiry_ctrl_c_and_run_end() {
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start(dir.path());
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let tmate_log = dir.path().join("tmate.log");
    fake_tmate(&bin, &tmate_log);
    let run = gw.create_run("steered").await;
    let mut proc = start_runner(&gw, dir.path(), dir.path(), &bin, &run);
    let run_id = run.0.as_str();

    // Expiry.
    let out = assist(&gw, dir.path(), &bin, &run, "2s").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("ssh: ssh Fk3Sess10nT0ken@nyc1.tmate.io"),
        "{stdout}"
    );
    assert!(
        stdout.contains("assist session closed (expired)"),
        "{stdout}"
    );
    let events = events_when(&gw, run_id, |e| assists(e).len() == 2).await;
    let a = assists(&events);
    assert_eq!(a[0]["type"], "tmate");
    assert_eq!(a[0]["url"], "ssh Fk3Sess10nT0ken@nyc1.tmate.io");
    assert_eq!(a[0]["web"], "https://tmate.io/t/Fk3Sess10nT0ken");
    assert!(a[0]["expires_at"].as_i64().unwrap() > 0);
    assert_eq!(
        *a[1],
        json!({"type": "tmate", "closed": true, "reason": "expired"})
    );
    let calls = std::fs::read_to_string(&tmate_log).unwrap();
    let socket = calls
        .lines()
        .next()
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string();
    for call in [
        "new-session -d",
        "wait tmate-ready",
        "display -p #{tmate_ssh}",
        "kill-server",
    ] {
        assert!(
            calls.contains(&format!("-S {socket} {call}")),
            "{call} in\n{calls}"
        );
    }
    assert!(
        !Path::new(&socket).parent().unwrap().exists(),
        "the socket directory is removed"
    );

    // Ctrl-C.
    let mut child = assist(&gw, dir.path(), &bin, &run, "1h")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    events_when(&gw, run_id, |e| assists(e).len() == 3).await;
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    assert_eq!(exit_of(&mut child).await.code(), Some(0));
    let events = events_when(&gw, run_id, |e| assists(e).len() == 4).await;
    assert_eq!(assists(&events)[3]["reason"], "stopped");

    // The run ends.
    let mut child = assist(&gw, dir.path(), &bin, &run, "1h")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    events_when(&gw, run_id, |e| assists(e).len() == 5).await;
    gw.queue_command(run_id, json!({"kind": "stop"})).await;
    exit_of(&mut proc).await;
    assert_eq!(exit_of(&mut child).await.code(), Some(0));
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut rest).unwrap();
    assert!(rest.contains("assist session closed (run_ended)"), "{rest}");
    let kills = std::fs::read_to_string(&tmate_log)
        .unwrap()
        .matches("kill-server")
        .count();
    assert_eq!(kills, 3, "every session was ended");
}

#[tokio::test]
async fn assist_reports_a_missing_tmate_and_an_unreachable_tmate_server() {
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start(dir.path());
    let run = gw.create_run("steered").await;
    let empty = dir.path().join("empty-bin");
    std::fs::create_dir(&empty).unwrap();

    let out = runner(dir.path())
        .arg("--env-file")
        .arg(&gw.runner_env)
        .args(["assist", "--run-id", &run.0, "--token", &run.1])
        .env("PATH", &empty)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(125), "{stderr}");
    assert!(stderr.contains("tmate is not installed"), "{stderr}");
    assert!(stderr.contains("apt install tmate"), "{stderr}");

    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let log = dir.path().join("tmate.log");
    fake_tmate(&bin, &log);
    let out = assist(&gw, dir.path(), &bin, &run, "1h")
        .env("TMATE_FAIL", "connection to ssh.tmate.io refused")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(125), "{stderr}");
    assert!(
        stderr.contains("tmate could not reach its server: connection to ssh.tmate.io refused"),
        "{stderr}"
    );
    assert!(
        std::fs::read_to_string(&log)
            .unwrap()
            .contains("kill-server")
    );
    assert!(gw.events(&run.0).await.is_empty(), "no link was published");

    // A wrong token is refused before any session opens.
    std::fs::remove_file(&log).unwrap();
    let out = assist(
        &gw,
        dir.path(),
        &bin,
        &(run.0.clone(), "wrong".into()),
        "1h",
    )
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(125), "{stderr}");
    assert!(stderr.contains("bad_signature"), "{stderr}");
    assert!(!log.exists(), "tmate never started");
}
