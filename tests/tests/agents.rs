//! `claude-runner agent` end to end, with a fake Claude command: two agents share a queue
//! (each run once, on a matching agent, never more than its capacity at a time; a cancelled run
//! never starts); an agent killed mid-run shows offline, and restarted delivers its run's spool
//! and ends it honestly; a revoked agent is refused; `--exit-when-idle` and `--drain`.

use std::path::Path;
use std::time::Duration;

use common::wire::{EventKind, RunStatus, RunSummary};
use e2e::agents::Agent;
use e2e::{Gateway, script};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(60);

/// A fake `claude`: logs its start and end (with `$MARK`, the agent's, and the prompt) to
/// `$JOBLOG`, prints `$LINES` lines `$PAUSE` seconds apart, then a result line.
fn fake_claude(dir: &Path) -> std::path::PathBuf {
    script(
        &dir.join("fake-claude"),
        r#"p="$2"
echo "$(date +%s%N) start $MARK $p" >> "$JOBLOG"
i=1
while [ "$i" -le "${LINES:-3}" ]; do
  echo "line $i of $p"
  i=$((i+1))
  sleep "${PAUSE:-0.2}"
done
echo "$(date +%s%N) end $MARK $p" >> "$JOBLOG"
echo '{"type":"result","subtype":"success","is_error":false,"num_turns":1,"session_id":"s-1","total_cost_usd":0}'
"#,
    )
}

fn agent_env(
    dir: &Path,
    mark: &str,
    extra: &[(&'static str, &str)],
) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("CLAUDE_COMMAND", fake_claude(dir).display().to_string()),
        ("JOBLOG", dir.join("jobs.log").display().to_string()),
        ("MARK", mark.to_string()),
    ];
    env.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    env
}

async fn queue(gw: &Gateway, body: Value) -> String {
    let (status, v) = gw.admin_post("/api/runs", body).await;
    assert_eq!(status, 201, "{v}");
    v["run_id"].as_str().unwrap().to_string()
}

async fn run(gw: &Gateway, id: &str) -> RunSummary {
    serde_json::from_value(gw.admin_get(&format!("/api/runs/{id}")).await).unwrap()
}

/// The run once `check` holds, within [`WAIT`].
async fn run_when(
    gw: &Gateway,
    id: &str,
    agents: &[&Agent],
    check: impl Fn(&RunSummary) -> bool,
) -> RunSummary {
    let start = std::time::Instant::now();
    loop {
        let r = run(gw, id).await;
        if check(&r) {
            return r;
        }
        if start.elapsed() > WAIT {
            let logs: Vec<String> = agents.iter().map(|a| a.log()).collect();
            panic!(
                "run {id} never got there: {r:?}\nagent logs:\n{}",
                logs.join("\n----\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_agents_take_each_queued_run_once_within_their_labels_and_capacity() {
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start(dir.path());
    let web = Agent::start(
        &gw,
        dir.path(),
        "web",
        &["--label", "repo=web", "--max-runs", "2"],
        &agent_env(dir.path(), "web", &[]),
    )
    .await;
    let api = Agent::start(
        &gw,
        dir.path(),
        "api",
        &["--label", "repo=api", "--max-runs", "2"],
        &agent_env(dir.path(), "api", &[]),
    )
    .await;
    let mut runs = Vec::new();
    let mut cancelled = None;
    for n in 0..10 {
        let repo = if n % 2 == 0 { "web" } else { "api" };
        let id = queue(
            &gw,
            json!({"prompt": format!("job-{n}"), "labels": {"repo": repo}}),
        )
        .await;
        if n == 9 {
            // Cancelled at once: it may have been taken already, then it runs like the rest.
            let (status, _) = gw
                .admin_post(&format!("/api/runs/{id}/cancel"), json!({}))
                .await;
            if status == 204 {
                cancelled = Some(id.clone());
            }
        }
        runs.push((id, repo, n));
    }
    for (id, repo, _) in &runs {
        let r = run_when(&gw, id, &[&web, &api], |r| r.status.is_terminal()).await;
        if Some(id) == cancelled.as_ref() {
            assert_eq!(r.status, RunStatus::Stopped);
            assert_eq!(r.last_sequence, 0, "a cancelled run never starts");
            assert!(r.agent.is_none());
            continue;
        }
        assert_eq!(
            r.status,
            RunStatus::Finished,
            "{r:?}\n{}\n{}",
            web.log(),
            api.log()
        );
        assert_eq!(
            r.agent.as_deref(),
            Some(*repo),
            "{id} ran on a matching agent"
        );
    }
    // Each ran exactly once, on its agent; never more than two at a time per agent.
    let log = std::fs::read_to_string(dir.path().join("jobs.log")).unwrap();
    let mut events: Vec<(u128, bool, String, String)> = log
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (
                f[0].parse().unwrap(),
                f[1] == "start",
                f[2].to_string(),
                f[3].to_string(),
            )
        })
        .collect();
    events.sort();
    for (_, repo, n) in &runs {
        let starts: Vec<_> = events
            .iter()
            .filter(|e| e.1 && e.3 == format!("job-{n}"))
            .collect();
        let want = usize::from(cancelled.as_ref() != Some(&runs[*n].0));
        assert_eq!(
            starts.len(),
            want,
            "job-{n} started {} times:\n{log}",
            starts.len()
        );
        if let Some(s) = starts.first() {
            assert_eq!(s.2, *repo, "job-{n} ran on {}", s.2);
        }
    }
    for mark in ["web", "api"] {
        let mut going = 0;
        let mut most = 0;
        for e in events.iter().filter(|e| e.2 == mark) {
            going += if e.1 { 1 } else { -1 };
            most = most.max(going);
        }
        assert!(most <= 2, "{mark} ran {most} at once:\n{log}");
        assert!(most >= 1);
    }
}

/// Kill a process by id with SIGKILL.
fn kill9(pid: u32) {
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGKILL,
    );
}

/// The processes whose command line holds `needle` (read from `/proc`).
fn pids_with(needle: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if text.contains(needle) {
            out.push(pid);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_killed_mid_run_shows_offline_then_delivers_its_spool_and_a_revoked_one_is_refused()
 {
    let dir = tempfile::tempdir().unwrap();
    // Offline after 2 s without a heartbeat: shown within 2 × 7/6 s (PROTOCOL.md).
    let gw = Gateway::start_with(dir.path(), &["--agent-offline-after", "2"], None);
    let env = agent_env(dir.path(), "box", &[("LINES", "400"), ("PAUSE", "0.05")]);
    let mut agent = Agent::start(&gw, dir.path(), "box", &[], &env).await;
    let id = queue(&gw, json!({"prompt": "long-job", "agent": "box"})).await;
    run_when(&gw, &id, &[&agent], |r| r.last_sequence > 20).await;

    // The agent and its run's runner die at once, as in a power cut of those processes.
    let runners = pids_with(&format!("start --run-id={id}"));
    assert!(!runners.is_empty(), "the run's runner process");
    kill9(agent.child.id());
    for pid in runners {
        kill9(pid);
    }
    agent.child.wait().unwrap();
    let killed_at = std::time::Instant::now();
    let offline = run_when(&gw, &id, &[&agent], |r| r.agent_offline).await;
    assert!(
        killed_at.elapsed() < Duration::from_secs(10),
        "offline after {:?}",
        killed_at.elapsed()
    );
    assert_eq!(offline.status, RunStatus::Running);

    // Restarted, it delivers what the spool holds and closes the run.
    let agent = Agent::start(&gw, dir.path(), "box", &[], &env).await;
    let done = run_when(&gw, &id, &[&agent], |r| r.status.is_terminal()).await;
    assert_eq!(done.status, RunStatus::Failed, "the runner died: {done:?}");
    assert_eq!(done.exit_code, Some(125));
    assert_eq!(
        done.delivery,
        Some(common::wire::Delivery::Complete),
        "every spooled event, once: {}",
        agent.log()
    );
    assert!(!done.agent_offline);
    let events = gw.events(&id).await;
    let lines: Vec<String> = events
        .iter()
        .filter(|e| e.kind == EventKind::Stdout)
        .map(|e| e.data.as_str().unwrap_or_default().to_string())
        .filter(|l| l.starts_with("line "))
        .collect();
    let want: Vec<String> = (1..=lines.len())
        .map(|n| format!("line {n} of long-job"))
        .collect();
    assert_eq!(lines, want, "no line lost or doubled");
    assert!(lines.len() >= 5, "{lines:?}");
    for (n, e) in events.iter().enumerate() {
        assert_eq!(e.sequence, n as u64 + 1);
    }

    // Revoked: its next request is refused and it stops.
    let agents = gw.admin_get("/api/agents").await;
    let agent_id = agents[0]["id"].as_str().unwrap().to_string();
    let (status, _) = gw
        .admin_post(&format!("/api/agents/{agent_id}/revoke"), json!({}))
        .await;
    assert_eq!(status, 204);
    let mut agent = agent;
    let code = agent.exit_within(WAIT).await;
    assert_eq!(code, Some(125), "{}", agent.log());
    assert!(agent.log().contains("agent_revoked"), "{}", agent.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_agent_exits_when_told_and_a_drained_one_finishes_its_run_first() {
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start(dir.path());
    let mut idle = Agent::start(
        &gw,
        dir.path(),
        "idle",
        &["--exit-when-idle", "2s"],
        &agent_env(dir.path(), "idle", &[]),
    )
    .await;
    assert_eq!(idle.exit_within(WAIT).await, Some(0), "{}", idle.log());
    assert!(idle.log().contains("idle for 2s"), "{}", idle.log());

    let env = agent_env(dir.path(), "busy", &[("LINES", "20"), ("PAUSE", "0.1")]);
    let mut busy = Agent::start(&gw, dir.path(), "busy", &[], &env).await;
    let id = queue(&gw, json!({"prompt": "drain-job", "agent": "busy"})).await;
    run_when(&gw, &id, &[&busy], |r| r.last_sequence > 3).await;
    let out = busy.drain();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let later = queue(&gw, json!({"prompt": "after-drain", "agent": "busy"})).await;
    assert_eq!(busy.exit_within(WAIT).await, Some(0), "{}", busy.log());
    let r = run(&gw, &id).await;
    assert_eq!(
        r.status,
        RunStatus::Finished,
        "the run it had finished: {r:?}"
    );
    assert_eq!(
        run(&gw, &later).await.status,
        RunStatus::Queued,
        "no new run taken"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_whose_directory_leads_out_of_the_roots_is_refused_by_the_agent() {
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start(dir.path());
    let root = dir.path().join("root");
    let outside = dir.path().join("outside");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    // Below the root by its name, outside it by its real path.
    std::os::unix::fs::symlink(&outside, root.join("link")).unwrap();
    let root = std::fs::canonicalize(&root).unwrap();
    let agent = Agent::start(
        &gw,
        dir.path(),
        "box",
        &["--root", root.to_str().unwrap()],
        &agent_env(dir.path(), "box", &[]),
    )
    .await;
    let cwd = root.join("link").display().to_string();
    let id = queue(&gw, json!({"prompt": "escape", "agent": "box", "cwd": cwd})).await;
    let r = run_when(&gw, &id, &[&agent], |r| r.status.is_terminal()).await;
    assert_eq!(r.status, RunStatus::Failed, "{r:?}");
    assert_eq!(r.exit_code, Some(125));
    let events = gw.events(&id).await;
    assert!(
        events.iter().any(|e| e.kind == EventKind::Error
            && e.data
                .as_str()
                .is_some_and(|t| t.contains("leads outside the agent's working roots"))),
        "{events:?}"
    );
    assert!(
        !std::fs::read_to_string(dir.path().join("jobs.log"))
            .unwrap_or_default()
            .contains("escape"),
        "Claude never ran"
    );
    // A directory under the root runs.
    std::fs::create_dir_all(root.join("app")).unwrap();
    let ok = queue(
        &gw,
        json!({"prompt": "inside", "agent": "box", "cwd": root.join("app").display().to_string()}),
    )
    .await;
    let r = run_when(&gw, &ok, &[&agent], |r| r.status.is_terminal()).await;
    assert_eq!(r.status, RunStatus::Finished, "{r:?}\n{}", agent.log());
}
