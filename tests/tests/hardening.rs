//! The runner's process hygiene end to end: an `exec` command is not reaped when a Claude turn
//! ends beside it, dies with a runner killed by SIGKILL, and no child sees the runner's secrets.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

use common::wire::{Event, EventKind};
use e2e::{Gateway, eventually, runner, script};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(30);

/// Prints the runner's log if the test fails.
struct LogOnPanic(PathBuf);

impl Drop for LogOnPanic {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = std::fs::read_to_string(self.0.join("runner.log")).unwrap_or_default();
            eprintln!("runner.log:\n{log}");
        }
    }
}

fn marker<'a>(events: &'a [Event], event: &str) -> Option<&'a Event> {
    events
        .iter()
        .find(|e| e.kind == EventKind::Marker && e.data["event"] == event)
}

fn lines(events: &[Event], kind: EventKind) -> Vec<&str> {
    events
        .iter()
        .filter(|e| e.kind == kind)
        .filter_map(|e| e.data.as_str())
        .collect()
}

async fn events_when(gw: &Gateway, run_id: &str, check: impl Fn(&[Event]) -> bool) -> Vec<Event> {
    eventually(WAIT, || async {
        let events = gw.events(run_id).await;
        check(&events).then_some(events)
    })
    .await
}

async fn exit_of(child: &mut Child) -> std::process::ExitStatus {
    eventually(WAIT, || {
        let status = child.try_wait().unwrap();
        async move { status }
    })
    .await
}

/// `PATH` with `bin` first.
fn path_with(bin: &Path) -> String {
    format!("{}:{}", bin.display(), std::env::var("PATH").unwrap())
}

/// `start --session` on an admin-created run in `dir/work`, in the background; `extra_allowed`
/// are allowlisted on top of the defaults.
fn start_session(
    gw: &Gateway,
    dir: &Path,
    claude: &Path,
    bin: &Path,
    run: &(String, String),
    extra_allowed: &str,
) -> Child {
    let work = dir.join("work");
    std::fs::create_dir_all(&work).unwrap();
    runner(dir)
        .arg("--env-file")
        .arg(&gw.runner_env)
        .args(["start", "--quiet", "--session", "--cmd", "work"])
        .args(["--run-id", &run.0, "--token", &run.1])
        .arg("--cwd")
        .arg(&work)
        .env("CLAUDE_COMMAND", claude)
        .env("PATH", path_with(bin))
        .env("EXTRA_ALLOWED_COMMANDS", extra_allowed)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("runner.log")).unwrap())
        .spawn()
        .unwrap()
}

fn bin_dir(dir: &Path) -> PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    bin
}

#[tokio::test]
async fn an_exec_command_outlives_the_claude_turn_that_ends_beside_it() {
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start(dir.path());
    let bin = bin_dir(dir.path());
    let _log = LogOnPanic(dir.path().to_path_buf());
    let started = dir.path().join("exec-started");
    let bg_pid = dir.path().join("bg.pid");
    // It also leaves a process behind in its group, which goes when it ends.
    script(
        &bin.join("slowcmd"),
        &format!(
            "sleep 300 >/dev/null 2>&1 &\necho $! > {}\ntouch {}\nsleep 2\necho exec-done\nexit 7\n",
            bg_pid.display(),
            started.display()
        ),
    );
    // The turn ends while the command runs: the runner reaps what the turn left behind then.
    let claude = script(
        &dir.path().join("claude"),
        &format!(
            "while [ ! -f {} ]; do sleep 0.05; done\necho turn-over\n",
            started.display()
        ),
    );
    let run = gw.create_run("exec-beside-turn").await;
    let mut proc = start_session(&gw, dir.path(), &claude, &bin, &run, "slowcmd");
    let run_id = run.0.as_str();
    gw.queue_command(run_id, json!({"kind": "exec", "command": "slowcmd"}))
        .await;
    let events = events_when(&gw, run_id, |e| marker(e, "command_finished").is_some()).await;
    let done = marker(&events, "command_finished").unwrap();
    assert!(
        lines(&events, EventKind::Stdout).contains(&"exec-done"),
        "the command ran to its end"
    );
    assert_eq!(done.data["exitCode"], 7, "{}", done.data);
    let turn = marker(&events, "turn_finished").expect("the turn ended");
    assert!(turn.sequence < done.sequence, "the turn ended while it ran");
    assert!(
        marker(&events, "reaped").is_none(),
        "the command was not reaped"
    );
    let bg: u32 = std::fs::read_to_string(&bg_pid)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    eventually(WAIT, || async { (!alive(bg)).then_some(()) }).await;

    gw.queue_command(run_id, json!({"kind": "end_session"}))
        .await;
    assert!(exit_of(&mut proc).await.success());
}

/// True while `pid` exists and is not a zombie.
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(')')
            .is_some_and(|(_, r)| !r.trim_start().starts_with(['Z', 'X']))
    })
}

#[tokio::test]
async fn an_exec_command_dies_with_a_runner_killed_by_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let _log = LogOnPanic(dir.path().to_path_buf());
    let gw = Gateway::start(dir.path());
    let bin = bin_dir(dir.path());
    let pid_file = dir.path().join("exec.pid");
    script(
        &bin.join("longcmd"),
        &format!(
            "echo $$ > {}.tmp\nmv {0}.tmp {0}\nexec sleep 120\n",
            pid_file.display()
        ),
    );
    let claude = script(&dir.path().join("claude"), "exec sleep 120\n");
    let run = gw.create_run("exec-guarded").await;
    let mut proc = start_session(&gw, dir.path(), &claude, &bin, &run, "longcmd");
    gw.queue_command(&run.0, json!({"kind": "exec", "command": "longcmd"}))
        .await;
    let pid: u32 = eventually(WAIT, || async {
        std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|t| t.trim().parse().ok())
    })
    .await;
    assert!(alive(pid));
    proc.kill().unwrap();
    proc.wait().unwrap();
    eventually(WAIT, || async { (!alive(pid)).then_some(()) }).await;
}

#[tokio::test]
async fn children_never_see_the_runners_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let _log = LogOnPanic(dir.path().to_path_buf());
    let gw = Gateway::start(dir.path());
    let bin = bin_dir(dir.path());
    let claude = script(
        &dir.path().join("claude"),
        "env | sed 's/^/claude-env: /'\n",
    );
    let run = gw.create_run("env").await;
    let work = dir.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    // Every setting in the runner's environment this time, not in an env file.
    let mut cmd = runner(dir.path());
    for line in std::fs::read_to_string(&gw.runner_env).unwrap().lines() {
        if let Some((k, v)) = line.split_once('=')
            && !k.starts_with('#')
        {
            cmd.env(k.trim(), v.trim());
        }
    }
    let mut proc = cmd
        .args(["start", "--quiet", "--session", "--cmd", "work", "--cwd"])
        .arg(&work)
        .env("RUN_ID", &run.0)
        .env("RUN_TOKEN", &run.1)
        .env("VISIBLE_SETTING", "kept")
        .env("CLAUDE_COMMAND", &claude)
        .env("PATH", path_with(&bin))
        .env("EXTRA_ALLOWED_COMMANDS", "env")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("runner.log")).unwrap())
        .spawn()
        .unwrap();
    let run_id = run.0.as_str();
    events_when(&gw, run_id, |e| marker(e, "turn_finished").is_some()).await;
    gw.queue_command(run_id, json!({"kind": "exec", "command": "env"}))
        .await;
    let events = events_when(&gw, run_id, |e| marker(e, "command_finished").is_some()).await;
    gw.queue_command(run_id, json!({"kind": "end_session"}))
        .await;
    assert!(exit_of(&mut proc).await.success());

    let out = lines(&events, EventKind::Stdout);
    let claude_env: Vec<&str> = out
        .iter()
        .filter_map(|l| l.strip_prefix("claude-env: "))
        .collect();
    let exec_env: Vec<&str> = out
        .iter()
        .copied()
        .filter(|l| !l.starts_with("claude-env: "))
        .collect();
    for env in [&claude_env, &exec_env] {
        assert!(env.contains(&"VISIBLE_SETTING=kept"), "{env:?}");
        for secret in ["HMAC_SECRET=", "RUN_TOKEN=", "RUN_ID=", "GATEWAY_"] {
            assert!(
                !env.iter().any(|l| l.starts_with(secret)),
                "{secret} in {env:?}"
            );
        }
    }
}
