//! `claude-runner flush` end to end with the real gateway and runner binaries: what a run leaves
//! behind (events, `claude.log`) after a crash or an outage at its end is delivered later, a run
//! whose acknowledged events the gateway lost can always be closed, marked incomplete, and a
//! delivered run has nothing to deliver.

use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use common::wire::{Event, EventKind};
use e2e::{Gateway, runner, script};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(60);

/// Poll `check` until it gives a value; on timeout panic with `what` and the runner's log.
async fn until<T>(dir: &Path, what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not happen; runner log:\n{}",
            std::fs::read_to_string(dir.join("runner.log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn run_dir(dir: &Path, run_id: &str) -> PathBuf {
    dir.join(".data/runs").join(run_id)
}

/// `start` on an admin-created run, in the background, its stderr in `dir/runner.log`.
fn start(gw: &Gateway, dir: &Path, claude: &Path, run: &(String, String), extra: &[&str]) -> Child {
    runner(dir)
        .arg("--env-file")
        .arg(&gw.runner_env)
        .args(["start", "--quiet", "--cmd", "work"])
        .args(["--run-id", &run.0, "--token", &run.1])
        .args(extra)
        .env("CLAUDE_COMMAND", claude)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("runner.log")).unwrap())
        .spawn()
        .unwrap()
}

fn flush(gw: &Gateway, dir: &Path, run_id: &str, extra: &[&str]) -> (i32, String) {
    let out: Output = runner(dir)
        .arg("--env-file")
        .arg(&gw.runner_env)
        .args(["flush", "--timeout", "60", "--run-id", run_id])
        .args(extra)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.code().unwrap_or(-1), stderr)
}

async fn artifact(gw: &Gateway, run_id: &str, name: &str) -> Option<String> {
    let resp = gw
        .client()
        .get(format!("{}/api/runs/{run_id}/artifacts/{name}", gw.url))
        .bearer_auth(&gw.admin_token)
        .send()
        .await
        .unwrap();
    (resp.status() == 200).then_some(resp.text().await.unwrap())
}

fn stdout_lines(events: &[Event]) -> Vec<&str> {
    events
        .iter()
        .filter(|e| e.kind == EventKind::Stdout)
        .filter_map(|e| e.data.as_str())
        .collect()
}

async fn wait_exit(dir: &Path, mut child: Child) -> i32 {
    until(dir, "the runner's exit", async || child.try_wait().unwrap())
        .await
        .code()
        .unwrap_or(-1)
}

/// The runner is killed mid-run: `flush --close` delivers the spool and uploads `claude.log`
/// (which only `start` ever uploaded), and `flush` then has nothing left to deliver.
#[tokio::test]
async fn flush_delivers_claude_log_of_a_killed_runner_then_has_nothing_to_deliver() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let gw = Gateway::start(d);
    let claude = script(
        &d.join("claude"),
        "for i in 1 2 3; do echo \"log line $i\"; done\nexec sleep 300\n",
    );
    let run = gw.create_run("killed").await;
    let mut proc = start(&gw, d, &claude, &run, &[]);
    until(d, "the output at the gateway", async || {
        stdout_lines(&gw.events(&run.0).await)
            .contains(&"log line 3")
            .then_some(())
    })
    .await;
    proc.kill().unwrap();
    proc.wait().unwrap();

    let (code, stderr) = flush(&gw, d, &run.0, &["--close"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("delivered"), "{stderr}");
    let log = artifact(&gw, &run.0, "claude.log")
        .await
        .expect("claude.log uploaded");
    assert!(
        log.contains("log line 1\n") && log.contains("log line 3\n"),
        "{log}"
    );
    assert!(!run_dir(d, &run.0).join("run.key").exists());

    let (code, stderr) = flush(&gw, d, &run.0, &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("nothing to deliver"), "{stderr}");
    let run_now = gw.admin_get(&format!("/api/runs/{}", run.0)).await;
    assert_eq!(run_now["delivery"], "complete", "{run_now}");
}

/// The gateway is down when the run ends: the events and `claude.log` wait on disk (the runner
/// exits 122 when Ctrl-C cuts its drain short), `run.key` stays, and `flush` delivers both once
/// the gateway is back.
#[tokio::test]
async fn claude_log_survives_an_outage_at_the_end_of_a_run() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut gw = Gateway::start(d);
    let go = d.join("go");
    let claude = script(
        &d.join("claude"),
        &format!(
            "echo first line\nwhile [ ! -f {} ]; do sleep 0.05; done\necho last line\n",
            go.display()
        ),
    );
    let run = gw.create_run("outage").await;
    let proc = start(&gw, d, &claude, &run, &[]);
    until(d, "the first line at the gateway", async || {
        stdout_lines(&gw.events(&run.0).await)
            .contains(&"first line")
            .then_some(())
    })
    .await;
    let (listen, token) = (format!("127.0.0.1:{}", gw.port), gw.admin_token.clone());
    gw.kill();
    std::fs::write(&go, "").unwrap();
    let spool = run_dir(d, &run.0).join("spool");
    until(d, "the finished marker in the spool", async || {
        claude_runner::spool::read_lines(&spool)
            .ok()?
            .iter()
            .any(|l| String::from_utf8_lossy(l).contains(r#""event":"finished""#))
            .then_some(())
    })
    .await;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(proc.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    assert_eq!(wait_exit(d, proc).await, 122);
    let log = std::fs::read_to_string(d.join("runner.log")).unwrap();
    assert!(
        log.contains("claude.log"),
        "the runner names what waits: {log}"
    );
    assert!(run_dir(d, &run.0).join("outbox/claude.log").exists());
    assert!(run_dir(d, &run.0).join("run.key").exists());

    let gw = Gateway::restart_on(d, &listen, token);
    let (code, stderr) = flush(&gw, d, &run.0, &[]);
    assert_eq!(code, 0, "{stderr}");
    let uploaded = artifact(&gw, &run.0, "claude.log")
        .await
        .expect("claude.log");
    assert!(
        uploaded.contains("first line\n") && uploaded.contains("last line\n"),
        "{uploaded}"
    );
    assert!(!run_dir(d, &run.0).join("run.key").exists());
    assert!(!run_dir(d, &run.0).join("outbox/claude.log").exists());
    let run_now = gw.admin_get(&format!("/api/runs/{}", run.0)).await;
    assert_eq!(run_now["delivery"], "complete", "{run_now}");
}

/// The gateway loses events it had acknowledged (here: its database is restored from a copy
/// taken earlier, as after a torn WAL tail) that the runner's spool no longer holds. The runner
/// says how to close the run; `flush` cannot deliver it and says so; `flush --close` closes it,
/// marked incomplete and never "delivered"; a later `flush` has nothing left to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_whose_acknowledged_events_the_gateway_lost_can_be_closed_as_incomplete() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut gw = Gateway::start(d);
    let run = gw.create_run("lost").await;
    // A copy of the gateway's data before the run sends anything, taken as a crash leaves it.
    let (listen, token) = (format!("127.0.0.1:{}", gw.port), gw.admin_token.clone());
    let data = d.join("gateway-data");
    let copy = d.join("gateway-data-then");
    gw.kill();
    copy_dir(&data, &copy);
    let gw = Gateway::restart_on(d, &listen, token.clone());
    // More than a spool segment (4 MiB), so delivered segments are deleted.
    let claude = script(
        &d.join("claude"),
        "head -c 4500000 /dev/zero | tr '\\0' x | fold -w 2000\necho turn done\n",
    );
    let proc = start(&gw, d, &claude, &run, &["--session"]);
    let spool = run_dir(d, &run.0).join("spool");
    until(
        d,
        "the turn delivered and its segments deleted",
        async || {
            let ended = gw
                .events(&run.0)
                .await
                .iter()
                .any(|e| e.data["event"] == "turn_finished");
            (ended && first_segment(&spool) > 1).then_some(())
        },
    )
    .await;
    let stored_then = 0;
    drop(gw);
    // The gateway comes back without anything of the run's stream.
    std::fs::remove_dir_all(&data).unwrap();
    copy_dir(&copy, &data);
    let gw = Gateway::restart_on(d, &listen, token);
    assert_eq!(gw.events(&run.0).await.len() as u64, stored_then);
    gw.queue_command(&run.0, json!({"kind": "end_session"}))
        .await;
    assert_eq!(wait_exit(d, proc).await, 122, "events undelivered");
    let log = std::fs::read_to_string(d.join("runner.log")).unwrap();
    let close = format!("claude-runner flush --close --run-id {}", run.0);
    assert!(
        log.contains(&close),
        "the runner says how to close it: {log}"
    );

    let (code, stderr) = flush(&gw, d, &run.0, &[]);
    assert_eq!(code, 122, "{stderr}");
    assert!(stderr.contains(&close), "{stderr}");

    let (code, stderr) = flush(&gw, d, &run.0, &["--close"]);
    assert_eq!(code, 123, "closed, incomplete: {stderr}");
    assert!(!stderr.contains("delivered;"), "{stderr}");
    assert!(stderr.contains("incomplete"), "{stderr}");
    let run_now = gw.admin_get(&format!("/api/runs/{}", run.0)).await;
    assert_eq!(run_now["delivery"], "incomplete", "{run_now}");
    assert_eq!(run_now["status"], "finished", "{run_now}");
    let events = gw.events(&run.0).await;
    let seqs: Vec<u64> = events.iter().map(|e| e.sequence).collect();
    assert_eq!(seqs, (1..=events.len() as u64).collect::<Vec<_>>());
    let notice = &events[events.len() - 2];
    assert_eq!(notice.kind, EventKind::Error);
    let text = notice.data.as_str().unwrap();
    assert!(text.contains(&format!("{}", stored_then + 1)), "{text}");
    let last: &Value = &events.last().unwrap().data;
    assert_eq!(last["event"], "finished");
    assert!(artifact(&gw, &run.0, "claude.log").await.is_some());
    assert!(!run_dir(d, &run.0).join("run.key").exists());

    let (code, stderr) = flush(&gw, d, &run.0, &[]);
    assert_eq!(code, 123, "{stderr}");
    assert!(stderr.contains("nothing to deliver"), "{stderr}");
}

/// The first sequence the spool in `dir` still holds (the lowest segment's).
fn first_segment(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| {
                e.ok()?
                    .file_name()
                    .to_str()?
                    .strip_suffix(".seg")?
                    .parse()
                    .ok()
            })
            .min()
            .unwrap_or(0)
        })
        .unwrap_or(0)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        if path.is_dir() {
            copy_dir(&path, &to.join(entry.file_name()));
        } else {
            std::fs::copy(&path, to.join(entry.file_name())).unwrap();
        }
    }
}
