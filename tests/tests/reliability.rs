//! Nothing lost: the real runner and gateway through a fault-injecting proxy, with the gateway
//! killed and restarted, unreachable for 30 s, and the runner itself killed; plus a clean stop.

use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use common::digest::{canonical_line, stream_sha256};
use common::wire::{Delivery, Event, EventKind, RunStatus};
use e2e::proxy::Proxy;
use e2e::{Gateway, eventually, runner, script};

/// The gateway's URL with the proxy's port.
fn via(gw: &Gateway, proxy: &Proxy) -> String {
    gw.url
        .replace(&format!(":{}", gw.port), &format!(":{}", proxy.port))
}

/// `claude-runner start` for an existing run through `url`, output into files in `dir`.
fn start_runner(
    dir: &Path,
    gw: &Gateway,
    url: &str,
    run: &(String, String),
    child: &Path,
) -> Child {
    runner(dir)
        .args([
            "start", "--quiet", "--cmd", "go", "--run-id", &run.0, "--token", &run.1,
        ])
        .env("GATEWAY_URL", url)
        .env("GATEWAY_CA_FILE", &gw.ca_file)
        .env("HMAC_SECRET", &gw.hmac_secret)
        .env("CLAUDE_COMMAND", child)
        .env("RUNNER_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("runner.err")).unwrap())
        .spawn()
        .unwrap()
}

async fn wait_exit(child: &mut Child, limit: Duration, dir: &Path) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!(
                "the runner did not end within {limit:?}; its stderr:\n{}",
                runner_err(dir)
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn runner_err(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("runner.err")).unwrap_or_default()
}

fn spool_dir(dir: &Path, run_id: &str) -> PathBuf {
    dir.join(".data/runs").join(run_id).join("spool")
}

fn canonical(events: &[Event]) -> Vec<Vec<u8>> {
    events
        .iter()
        .map(|e| {
            let mut line = Vec::new();
            canonical_line(e, &mut line);
            line
        })
        .collect()
}

async fn last_sequence(gw: &Gateway, run_id: &str) -> u64 {
    gw.admin_get(&format!("/api/runs/{run_id}")).await["last_sequence"]
        .as_u64()
        .unwrap()
}

/// Every check of a fully delivered run: sequences 1..N, the stream equal to the spool (when the
/// spool still holds all of it), the `finished` marker's count and SHA-256 equal to what the
/// gateway stored, the run marked complete, the output lines equal to `claude.log`.
async fn assert_delivered(gw: &Gateway, dir: &Path, run_id: &str, whole_spool: bool) -> Vec<Event> {
    let events = gw.events(run_id).await;
    let seqs: Vec<u64> = events.iter().map(|e| e.sequence).collect();
    assert_eq!(
        seqs,
        (1..=events.len() as u64).collect::<Vec<_>>(),
        "1..N, no gap, no duplicate"
    );
    let spooled = claude_runner::spool::read_lines(&spool_dir(dir, run_id)).unwrap();
    let stored = canonical(&events);
    if whole_spool {
        assert!(
            stored == spooled,
            "the gateway's stream is the spool, byte for byte"
        );
    } else {
        assert!(
            stored.ends_with(&spooled),
            "the spool's tail is the gateway's tail"
        );
    }
    let last = events.last().unwrap();
    assert_eq!(last.data["event"], "finished", "{last:?}");
    let n = events.len() - 1;
    assert_eq!(last.data["eventCount"], n as u64);
    assert_eq!(last.data["streamSha256"], stream_sha256(&events[..n]));
    let run = gw.admin_get(&format!("/api/runs/{run_id}")).await;
    assert_eq!(run["delivery"], "complete", "{run}");
    let summary = gw
        .runs()
        .await
        .into_iter()
        .find(|r| r.id == run_id)
        .unwrap();
    assert_eq!(summary.delivery, Some(Delivery::Complete));

    let log =
        std::fs::read_to_string(dir.join(".data/runs").join(run_id).join("claude.log")).unwrap();
    let output: String = events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Stdout | EventKind::Stderr))
        .map(|e| format!("{}\n", e.data.as_str().unwrap()))
        .collect();
    assert!(
        output == log,
        "the stored output lines are claude.log, byte for byte"
    );
    events
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.get(s.rfind(')')? + 2..)
                .map(|r| !r.starts_with('Z') && !r.starts_with('X'))
        })
        .unwrap_or(false)
}

fn read_pid(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Processes still alive in process group `pgid`.
fn group_members(pgid: u32) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| {
                    let mut rest = s.get(s.rfind(')')? + 2..)?.split(' ');
                    let state = rest.next()?;
                    let _ppid = rest.next()?;
                    let pgrp: u32 = rest.next()?.parse().ok()?;
                    Some(pgrp == pgid && state != "Z" && state != "X")
                })
                .unwrap_or(false)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_survives_cuts_stalls_and_three_gateway_kills_with_nothing_lost() {
    let dir = tempfile::tempdir().unwrap();
    let mut gw = Gateway::start(dir.path());
    let listen = format!("127.0.0.1:{}", gw.port);
    let token = gw.admin_token.clone();
    let proxy = Proxy::start(listen.parse().unwrap());
    let run = gw.create_run("reliability").await;
    // About 3,000 lines over 6 s or more; the whole stream stays in one spool segment.
    let child = script(
        &dir.path().join("child"),
        r#"i=0
while [ $i -lt 3000 ]; do
  echo "line $i of the flood ✓ ................................................................"
  i=$((i+1))
  if [ $((i % 100)) -eq 0 ]; then echo "progress $i" >&2; sleep 0.2; fi
done
"#,
    );
    let url = via(&gw, &proxy);
    let mut run_proc = start_runner(dir.path(), &gw, &url, &run, &child);

    for (round, at) in [300u64, 1200, 2200].into_iter().enumerate() {
        eventually(Duration::from_secs(60), || async {
            (last_sequence(&gw, &run.0).await >= at).then_some(())
        })
        .await;
        // Stall, cut the connections, then kill the gateway while requests are in flight.
        proxy.stall();
        tokio::time::sleep(Duration::from_millis(300)).await;
        proxy.cut();
        proxy.resume();
        tokio::time::sleep(Duration::from_millis(200 * round as u64)).await;
        gw.kill();
        proxy.cut();
        gw = Gateway::restart_on(dir.path(), &listen, token.clone());
    }
    let status = wait_exit(&mut run_proc, Duration::from_secs(120), dir.path()).await;
    assert_eq!(status.code(), Some(0), "{}", runner_err(dir.path()));

    let events = assert_delivered(&gw, dir.path(), &run.0, true).await;
    let lines = events
        .iter()
        .filter(|e| e.kind == EventKind::Stdout)
        .count();
    assert_eq!(lines, 3000);
    assert_eq!(gw.runs().await[0].status, RunStatus::Finished);
    assert!(
        !dir.path()
            .join(".data/runs")
            .join(&run.0)
            .join("run.key")
            .exists(),
        "the run key is removed once everything is delivered"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_30_second_outage_mid_run_loses_nothing_and_does_not_block_the_child() {
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start(dir.path());
    let proxy = Proxy::start(format!("127.0.0.1:{}", gw.port).parse().unwrap());
    let run = gw.create_run("reliability").await;
    let stamps = dir.path().join("stamps");
    // 3,000 lines a second for 40 s; the child notes the time before each burst.
    let child = script(
        &dir.path().join("child"),
        &format!(
            r#"i=0
while [ $i -lt 40 ]; do
  date +%s%N >> {stamps}
  seq 1 3000 | sed "s/^/burst $i line /"
  i=$((i+1))
  sleep 1
done
date +%s%N >> {stamps}
"#,
            stamps = stamps.display()
        ),
    );
    let mut run_proc = start_runner(dir.path(), &gw, &via(&gw, &proxy), &run, &child);

    eventually(Duration::from_secs(30), || async {
        (last_sequence(&gw, &run.0).await > 5_000).then_some(())
    })
    .await;
    proxy.refuse(true);
    proxy.cut();
    let outage_start = last_sequence(&gw, &run.0).await;
    tokio::time::sleep(Duration::from_secs(30)).await;
    let outage_end = last_sequence(&gw, &run.0).await;
    proxy.refuse(false);

    let status = wait_exit(&mut run_proc, Duration::from_secs(120), dir.path()).await;
    assert_eq!(status.code(), Some(0), "{}", runner_err(dir.path()));
    assert_eq!(
        outage_start, outage_end,
        "nothing got through during the outage"
    );
    // 120,000 lines fill more than one 4 MiB segment: the delivered ones are deleted.
    let events = assert_delivered(&gw, dir.path(), &run.0, false).await;
    assert_eq!(
        events
            .iter()
            .filter(|e| e.kind == EventKind::Stdout)
            .count(),
        120_000
    );

    // The child kept writing through the outage: no gap between its bursts near the 30 s the
    // gateway was away (1 s of sleep plus the burst is the normal gap).
    let times: Vec<u128> = std::fs::read_to_string(&stamps)
        .unwrap()
        .lines()
        .map(|l| l.trim().parse().unwrap())
        .collect();
    assert_eq!(times.len(), 41);
    let worst = times.windows(2).map(|w| w[1] - w[0]).max().unwrap() / 1_000_000;
    eprintln!("longest gap between the child's bursts: {worst} ms");
    assert!(worst < 10_000, "the child was blocked for {worst} ms");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runner_killed_mid_run_takes_its_child_along_and_flush_delivers_the_spool() {
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start(dir.path());
    let proxy = Proxy::start(format!("127.0.0.1:{}", gw.port).parse().unwrap());
    let run = gw.create_run("reliability").await;
    let d = dir.path().display();
    let child = script(
        &dir.path().join("child"),
        &format!(
            r#"sleep 1000 &
echo $! > {d}/grandchild.pid
echo $$ > {d}/child.pid
i=0
while true; do
  echo "tick $i"
  i=$((i+1))
  if [ $((i % 50)) -eq 0 ]; then sleep 0.05; fi
done
"#
        ),
    );
    let url = via(&gw, &proxy);
    let mut run_proc = start_runner(dir.path(), &gw, &url, &run, &child);
    let spool = spool_dir(dir.path(), &run.0);

    // Let some events reach the gateway, then hold the rest in the spool.
    eventually(Duration::from_secs(30), || async {
        (last_sequence(&gw, &run.0).await > 200).then_some(())
    })
    .await;
    proxy.stall();
    let delivered = last_sequence(&gw, &run.0).await;
    eventually(Duration::from_secs(30), || async {
        let n = claude_runner::spool::read_lines(&spool).unwrap().len() as u64;
        (n > delivered + 2_000).then_some(())
    })
    .await;
    let pids: Vec<u32> = ["child.pid", "grandchild.pid"]
        .iter()
        .map(|f| read_pid(&dir.path().join(f)).unwrap())
        .collect();
    run_proc.kill().unwrap(); // SIGKILL
    run_proc.wait().unwrap();
    // Every process of the child's group dies (a member may take a moment after the two named
    // ones: the reaper kills the group, then the members exit one by one).
    eventually(Duration::from_secs(10), || async {
        (pids.iter().all(|&p| !alive(p)) && group_members(pids[0]).is_empty()).then_some(())
    })
    .await;
    let spooled = claude_runner::spool::read_lines(&spool).unwrap();
    assert!(
        last_sequence(&gw, &run.0).await < spooled.len() as u64,
        "the spool holds undelivered events"
    );

    proxy.cut();
    proxy.resume();
    // flush needs neither the token nor HMAC_SECRET: the spool keeps the run key.
    let out = runner(dir.path())
        .args(["flush", "--close", "--timeout", "60", "--run-id", &run.0])
        .env("GATEWAY_URL", &url)
        .env("GATEWAY_CA_FILE", &gw.ca_file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("delivered"), "{stderr}");

    // Every event spooled before the kill is stored, in order, followed by the closing pair.
    let events = gw.events(&run.0).await;
    let stored = canonical(&events);
    assert!(
        stored.starts_with(&spooled),
        "every spooled event is delivered as spooled"
    );
    assert_eq!(
        stored.len(),
        spooled.len() + 2,
        "plus the info and finished flush --close adds"
    );
    let last = events.last().unwrap();
    assert_eq!(last.data["exitCode"], 125);
    let run_now = gw.admin_get(&format!("/api/runs/{}", run.0)).await;
    assert_eq!(run_now["status"], "failed");
    assert_eq!(run_now["delivery"], "complete", "{run_now}");
    assert!(
        !dir.path()
            .join(".data/runs")
            .join(&run.0)
            .join("run.key")
            .exists()
    );

    let again = runner(dir.path())
        .args(["flush", "--run-id", &run.0])
        .env("GATEWAY_URL", &url)
        .env("GATEWAY_CA_FILE", &gw.ca_file)
        .output()
        .unwrap();
    // The key is gone once the run is delivered and closed; there is nothing left to deliver.
    assert_eq!(again.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&again.stderr).contains("nothing to deliver"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_stops_a_child_that_ignores_sigint_within_the_grace_and_leaves_no_process() {
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start(dir.path());
    let run = gw.create_run("reliability").await;
    let d = dir.path().display();
    let child = script(
        &dir.path().join("child"),
        &format!(
            r#"trap '' INT
sleep 1000 &
echo $$ > {d}/child.pid
while true; do echo still here; sleep 0.2; done
"#
        ),
    );
    let mut run_proc = start_runner(dir.path(), &gw, &gw.url, &run, &child);
    let pid = eventually(Duration::from_secs(30), || async {
        read_pid(&dir.path().join("child.pid"))
    })
    .await;
    eventually(Duration::from_secs(30), || async {
        (last_sequence(&gw, &run.0).await > 2).then_some(())
    })
    .await;

    let stop = Instant::now();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(run_proc.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    // The grace is the child's: killed 10 s after the interrupt. The runner then still
    // delivers the stop's markers, which on a loaded machine may take seconds more (a run of
    // CI with other builds beside it took 14 s in all), so its own exit has a looser bound.
    let mut child_gone = None;
    let status = loop {
        if child_gone.is_none() && !alive(pid) {
            child_gone = Some(stop.elapsed());
        }
        if let Some(status) = run_proc.try_wait().unwrap() {
            break status;
        }
        if stop.elapsed() > Duration::from_secs(30) {
            let _ = run_proc.kill();
            panic!(
                "the runner did not end within 30 s; its stderr:\n{}",
                runner_err(dir.path())
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let took = stop.elapsed();
    let child_gone = child_gone.unwrap_or(took);
    assert!(
        child_gone < Duration::from_secs(12),
        "the child ended {child_gone:?} after the interrupt (grace 10 s)"
    );
    assert!(
        child_gone >= Duration::from_secs(9),
        "the child ignores SIGINT: it ended {child_gone:?} after it, before the grace"
    );
    assert!(
        took < Duration::from_secs(25),
        "the runner ended {took:?} after the interrupt"
    );
    assert_eq!(
        status.code(),
        Some(124),
        "stopped; {}",
        runner_err(dir.path())
    );
    assert!(
        group_members(pid).is_empty(),
        "no process of the group is left"
    );

    let events = gw.events(&run.0).await;
    let markers: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e.kind == EventKind::Marker)
        .map(|e| &e.data)
        .collect();
    assert!(markers.iter().any(|m| m["event"] == "stop_requested"));
    assert!(
        markers
            .iter()
            .any(|m| m["event"] == "stopped" && m["outcome"] == "killed"),
        "{markers:?}"
    );
    let run_now = gw.admin_get(&format!("/api/runs/{}", run.0)).await;
    assert_eq!(run_now["status"], "stopped");
    assert_eq!(run_now["delivery"], "complete");
}
