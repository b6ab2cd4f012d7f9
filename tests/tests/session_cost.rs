//! A Claude session's cost with the real Claude Code CLI (pinned in `tests/claude/`, against the
//! fake Messages API): after `--resume` the CLI's `total_cost_usd` is the session's running
//! total, so each `turn_finished` carries the turn's own cost and the session's total, and the
//! gateway's totals and transcript add up to the CLI's own figure, not to a sum of totals.

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::wire::{Event, EventKind};
use e2e::fake_anthropic::{FakeAnthropic, claude_cli, claude_env};
use e2e::{Gateway, runner};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(90);

fn turn_finished(events: &[Event]) -> Vec<&Value> {
    events
        .iter()
        .filter(|e| e.kind == EventKind::Marker && e.data["event"] == "turn_finished")
        .map(|e| &e.data)
        .collect()
}

/// `total_cost_usd` of every `result` line the CLI printed, in order.
fn cli_totals(events: &[Event]) -> Vec<f64> {
    events
        .iter()
        .filter(|e| e.kind == EventKind::Stdout)
        .filter_map(|e| serde_json::from_str::<Value>(e.data.as_str()?).ok())
        .filter(|l| l["type"] == "result")
        .map(|l| l["total_cost_usd"].as_f64().expect("total_cost_usd"))
        .collect()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn turn_costs_add_up_to_the_sessions_own_total() {
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start(dir.path());
    let api = FakeAnthropic::start().await;
    let ws = dir.path().join("ws");
    std::fs::create_dir_all(&ws).unwrap();
    let (run_id, token) = gw.create_run("cost").await;
    let log = dir.path().join("runner.log");
    let mut child = runner(dir.path())
        .arg("--env-file")
        .arg(&gw.runner_env)
        .args(["start", "--quiet", "--session", "--cmd", "first prompt"])
        .args(["--run-id", &run_id, "--token", &token, "--cwd"])
        .arg(&ws)
        .env("CLAUDE_COMMAND", claude_cli())
        .envs(claude_env(&api.base_url(), &dir.path().join("home")))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let turns = 3;
    let deadline = Instant::now() + WAIT;
    for n in 1..=turns {
        while turn_finished(&gw.events(&run_id).await).len() < n {
            assert!(
                Instant::now() < deadline,
                "turn {n} never ended: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let kind = if n < turns { "prompt" } else { "end_session" };
        let prompt = format!("prompt number {}", n + 1);
        gw.queue_command(&run_id, json!({"kind": kind, "prompt": prompt}))
            .await;
    }
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(
        status.success(),
        "{}",
        std::fs::read_to_string(&log).unwrap()
    );

    let events = gw.events(&run_id).await;
    let totals = cli_totals(&events);
    assert_eq!(totals.len(), turns, "{totals:?}");
    assert!(
        totals.windows(2).all(|w| w[1] > w[0]),
        "the CLI's total grows over the resumed session: {totals:?}"
    );
    let session_total = *totals.last().unwrap();
    let markers = turn_finished(&events);
    let mut sum = 0.0;
    for (i, m) in markers.iter().enumerate() {
        let before = if i == 0 { 0.0 } else { totals[i - 1] };
        let cost = m["costUsd"].as_f64().unwrap();
        assert!(
            close(cost, totals[i] - before),
            "turn {}: costUsd {cost} is the turn's own cost, {} − {before}",
            i + 1,
            totals[i]
        );
        assert!(
            close(m["sessionCostUsd"].as_f64().unwrap(), totals[i]),
            "turn {}: {m}",
            i + 1
        );
        sum += cost;
    }
    assert!(close(sum, session_total), "{sum} vs {session_total}");

    let run = gw.admin_get(&format!("/api/runs/{run_id}")).await;
    let recorded = run["claude"]["cost_usd"].as_f64().unwrap();
    assert!(
        close(recorded, session_total),
        "the gateway's total {recorded} is the session's {session_total}"
    );
    let t = gw
        .admin_get(&format!("/api/runs/{run_id}/transcript"))
        .await;
    let summary = t["summary"]["cost_usd"].as_f64().unwrap();
    assert!(
        close(summary, session_total),
        "the transcript's total {summary} is the session's {session_total}"
    );
}
