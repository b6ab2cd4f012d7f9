//! Nothing a run starts outlives its runner, however it detaches: the real runner killed with
//! SIGKILL takes along a fake Claude's `setsid` grandchild and, with the real Claude Code CLI
//! (pinned in `tests/claude/`, against the fake Messages API), the Bash tool's shell and its
//! `sleep`, which the CLI starts in a session of their own.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use e2e::fake_anthropic::{FakeAnthropic, claude_cli, claude_env};
use e2e::{Gateway, runner, script};

const WAIT: Duration = Duration::from_secs(60);

/// The start time (clock ticks after boot) of `pid` while it exists and is not a zombie: with
/// the pid, what tells the process apart from a later one that reuses its number.
fn started(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    if fields.first()?.starts_with(['Z', 'X']) {
        return None;
    }
    // Field 22 of the line; `fields` starts at field 3 (the state).
    fields.get(19)?.parse().ok()
}

/// The pid written to `path`, once it is there.
async fn pid_in(path: &Path, log: &Path) -> u32 {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(pid) = std::fs::read_to_string(path)
            .ok()
            .and_then(|t| t.trim().parse().ok())
        {
            return pid;
        }
        assert!(
            Instant::now() < deadline,
            "no pid in {}; runner log:\n{}",
            path.display(),
            std::fs::read_to_string(log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `start` on an admin-created run in `dir/ws`, in the background, its log in `dir/runner.log`.
async fn start(
    gw: &Gateway,
    dir: &Path,
    prompt: &str,
    extra: &[&str],
    env: &[(String, String)],
) -> (Child, String) {
    let ws = dir.join("ws");
    std::fs::create_dir_all(&ws).unwrap();
    let (run_id, token) = gw.create_run("process-tree").await;
    let child = runner(dir)
        .arg("--env-file")
        .arg(&gw.runner_env)
        .args(["start", "--quiet", "--cmd", prompt, "--run-id", &run_id])
        .args(["--token", &token])
        .args(extra)
        .arg("--cwd")
        .arg(&ws)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("runner.log")).unwrap())
        .spawn()
        .unwrap();
    (child, run_id)
}

/// Kill the runner with SIGKILL; every pid in `pids` must be gone soon after (what is not is
/// killed here, then reported).
async fn kill_and_check(mut proc: Child, pids: &[u32], log: &Path) {
    let before: Vec<(u32, u64)> = pids
        .iter()
        .map(|&pid| (pid, started(pid).expect("runs before the kill")))
        .collect();
    // The same process, not one that took its number after it died (pids wrap at 32,768 here).
    let same = |&(pid, at): &(u32, u64)| started(pid) == Some(at);
    proc.kill().unwrap();
    proc.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while before.iter().any(same) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let left: Vec<u32> = before.iter().filter(|p| same(p)).map(|p| p.0).collect();
    // What a survivor was: its state and parent, its cgroup, and whether it carried a cookie.
    let about: Vec<String> = left.iter().map(|&pid| describe(pid)).collect();
    for &pid in &left {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    assert!(
        left.is_empty(),
        "{left:?} outlived the runner: {about:#?}\nrunner log:\n{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

/// A process's state line, parent, cgroup and whether its environment holds the run's cookie.
fn describe(pid: u32) -> String {
    let read = |what: &str| std::fs::read(format!("/proc/{pid}/{what}")).unwrap_or_default();
    let stat = String::from_utf8_lossy(&read("stat")).into_owned();
    let cgroup = String::from_utf8_lossy(&read("cgroup")).replace('\n', " ");
    let cookie = read("environ")
        .split(|&b| b == 0)
        .any(|e| e.starts_with(b"CLAUDE_RUNNER_TREE="));
    format!("stat: {stat} cgroup: {cgroup} cookie: {cookie}")
}

/// A session whose first turn has ended (and been reaped after) runs an `exec` command that
/// detaches a grandchild with `setsid`; the runner is then killed.
#[tokio::test]
async fn a_detached_grandchild_dies_with_a_runner_killed_by_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start(dir.path());
    let d = dir.path().display();
    let claude = script(&dir.path().join("claude"), "echo turn-over\n");
    // setsid: a session and process group of its own, as the CLI gives each Bash tool.
    let detach = script(
        &dir.path().join("detach"),
        &format!("setsid sh -c 'echo $$ > {d}/detached.pid; exec sleep 300' &\nexec sleep 300\n"),
    );
    let env = [
        ("CLAUDE_COMMAND".to_string(), claude.display().to_string()),
        (
            "EXTRA_ALLOWED_COMMANDS".to_string(),
            detach.display().to_string(),
        ),
    ];
    let (proc, run_id) = start(&gw, dir.path(), "work", &["--session"], &env).await;
    let turn_over = Instant::now() + WAIT;
    while !gw
        .events(&run_id)
        .await
        .iter()
        .any(|e| e.data["event"] == "turn_finished")
    {
        assert!(Instant::now() < turn_over, "the first turn never ended");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    gw.queue_command(
        &run_id,
        serde_json::json!({"kind": "exec", "command": detach.display().to_string()}),
    )
    .await;
    let pid = pid_in(
        &dir.path().join("detached.pid"),
        &dir.path().join("runner.log"),
    )
    .await;
    kill_and_check(proc, &[pid], &dir.path().join("runner.log")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bash_tool_of_the_real_cli_dies_with_a_runner_killed_by_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start(dir.path());
    let api = FakeAnthropic::start().await;
    let d: PathBuf = dir.path().to_path_buf();
    let prompt = format!(
        "RUN: echo $$ > {0}/bash.pid; sleep 300 & echo $! > {0}/sleep.pid; wait",
        d.display()
    );
    let mut env = claude_env(&api.base_url(), &d.join("home"));
    env.push(("CLAUDE_COMMAND".into(), claude_cli().display().to_string()));
    let (proc, _) = start(&gw, &d, &prompt, &[], &env).await;
    let log = d.join("runner.log");
    let bash = pid_in(&d.join("bash.pid"), &log).await;
    let sleep = pid_in(&d.join("sleep.pid"), &log).await;
    kill_and_check(proc, &[bash, sleep], &log).await;
}

/// The reaper on its own, as on a machine without a cgroup it may write: released, it kills
/// nothing; when its pipe closes without a release (the runner died), it kills every process
/// whose environment carries the run's cookie, detached or not.
#[test]
fn the_reaper_kills_the_cookie_holders_when_its_runner_dies_and_nothing_when_released() {
    use std::io::Write;
    use std::process::Command;
    let cookie = "test-cookie-4f1e2d3c";
    let marked = |cookie: &str| {
        Command::new("setsid")
            .args(["sleep", "300"])
            .env("CLAUDE_RUNNER_TREE", cookie)
            .stdin(Stdio::null())
            .spawn()
            .unwrap()
    };
    let reaper = || {
        Command::new(e2e::bin("claude-runner"))
            .args(["reaper", "--cookie", cookie])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut spared = marked(cookie);
    let mut r = reaper();
    r.stdin.take().unwrap().write_all(b"done\n").unwrap();
    assert!(r.wait().unwrap().success());
    assert!(
        spared.try_wait().unwrap().is_none(),
        "released: nothing killed"
    );

    let mut other = marked("another-runs-cookie");
    let mut r = reaper();
    drop(r.stdin.take());
    assert!(r.wait().unwrap().success());
    assert!(
        spared.wait().unwrap().code().is_none(),
        "killed by a signal"
    );
    assert!(
        other.try_wait().unwrap().is_none(),
        "another run's process lives"
    );
    other.kill().unwrap();
    other.wait().unwrap();
}
