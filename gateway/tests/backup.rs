//! Backups and retention on a real database file. A backup taken by `gateway backup` (the
//! binary, another process) while runs stream into the gateway's store restores, by
//! `gateway restore`, into a gateway holding every run as it was at one moment: the same events
//! (counts and stream digests), artifacts, secrets and certificates. Retention deletes exactly
//! the runs its policy names, keeps pinned ones, and the database file shrinks.

mod support;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::wire::{Event, EventKind, RawEvent, RunStatus};
use gateway::config::TlsChoice;
use gateway::retention::{Policy, sweep};
use gateway::store::sqlite::SqliteStore;
use gateway::store::{NewRun, Store};
use serde_json::json;

const RUNS: usize = 6;
const BATCH: u64 = 200;

fn new_run(id: &str, created_at: i64) -> NewRun {
    NewRun {
        id: id.into(),
        name: Some(id.into()),
        prompt: Some("flood".into()),
        cwd: None,
        key: [3; 32],
        created_at,
    }
}

fn line(sequence: u64, width: usize) -> Event {
    Event {
        sequence,
        kind: EventKind::Stdout,
        data: json!(format!("{sequence:>8} {}", "x".repeat(width))),
        ts: 1_000 + sequence as i64,
    }
}

fn raw(events: &[Event]) -> Arc<[RawEvent]> {
    events.iter().map(Event::to_raw).collect()
}

fn gateway_bin() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_gateway"))
}

/// Count and stream digest of a run's stored events, the first `limit` of them.
async fn digest(store: &dyn Store, id: &str, limit: usize) -> (usize, String) {
    let events: Vec<Event> = store
        .events(id.into(), 0, limit)
        .await
        .unwrap()
        .iter()
        .map(RawEvent::parsed)
        .collect();
    (events.len(), common::digest::stream_sha256(&events))
}

/// Every regular file under `dir` (relative path → (mode, bytes)), the database files left out.
fn files(dir: &Path) -> BTreeMap<String, (u32, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, (u32, Vec<u8>)>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let path = e.path();
            if path.is_dir() {
                walk(root, &path, out);
            } else if !e.file_name().to_string_lossy().starts_with("gateway.db") {
                let mode = e.metadata().unwrap().permissions().mode() & 0o777;
                let rel = path.strip_prefix(root).unwrap().display().to_string();
                out.insert(rel, (mode, std::fs::read(&path).unwrap()));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_taken_during_a_flood_restores_every_run_event_and_artifact() {
    let live = tempfile::tempdir().unwrap();
    let mut config = support::plain_config(live.path());
    // The generated CA and certificate, so that the backup has keys to carry.
    config.tls = TlsChoice::Generated {
        extra_names: vec![],
    };
    let gw = gateway::Gateway::open(config, "127.0.0.1:3100".parse().unwrap())
        .await
        .unwrap();
    let store = gw.state.store.clone();
    for i in 0..RUNS {
        store
            .create_run(new_run(&format!("run-{i}"), i as i64))
            .await
            .unwrap();
    }

    // The flood: every run takes batch after batch; every fourth batch also an artifact (each
    // under its own name, so a stored artifact never changes); run-0 finishes early, with the
    // count and digest a runner sends.
    let stop = Arc::new(AtomicBool::new(false));
    let batches = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for i in 0..RUNS {
        let (store, stop, batches) = (store.clone(), stop.clone(), batches.clone());
        tasks.push(tokio::spawn(async move {
            let id = format!("run-{i}");
            let mut sent: Vec<Event> = Vec::new();
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let from = n * BATCH + 1;
                let batch: Vec<Event> = (from..from + BATCH).map(|s| line(s, 100)).collect();
                store.append_events(id.clone(), raw(&batch), None).await.unwrap();
                sent.extend(batch);
                if n.is_multiple_of(4) {
                    let body = format!("artifact {n} of {id}\n").repeat(500).into_bytes();
                    store
                        .put_artifact(id.clone(), format!("part-{n}.log"), body, 7)
                        .await
                        .unwrap();
                }
                n += 1;
                batches.fetch_add(1, Ordering::Relaxed);
                if i == 0 && n == 3 {
                    let end = Event {
                        sequence: n * BATCH + 1,
                        kind: EventKind::Marker,
                        data: json!({"event": "finished", "exitCode": 0, "durationMs": 1,
                            "eventCount": sent.len(), "streamSha256": common::digest::stream_sha256(&sent)}),
                        ts: 9_000,
                    };
                    store.append_events(id.clone(), raw(&[end]), None).await.unwrap();
                    return;
                }
            }
        }));
    }
    // Let the flood get going, then back up from another process while it streams.
    while batches.load(Ordering::Relaxed) < 30 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let backup_file = tempfile::tempdir().unwrap();
    let backup = backup_file.path().join("gw.backup");
    let mut cmd = gateway_bin();
    cmd.arg("--data-dir")
        .arg(live.path())
        .arg("backup")
        .arg("--to")
        .arg(&backup);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("holds the HMAC secret, the TLS keys"),
        "{stderr}"
    );
    let at_backup = batches.load(Ordering::Relaxed);
    // The flood goes on past the backup, so the snapshot is a moment in the middle of it.
    while batches.load(Ordering::Relaxed) < at_backup + 2 * RUNS as u64 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    let mode = std::fs::metadata(&backup).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the backup is owner-only");

    // Restore refuses a directory in use, then restores into a fresh one.
    let out = gateway_bin()
        .arg("--data-dir")
        .arg(live.path())
        .arg("restore")
        .arg("--from")
        .arg(&backup)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is not empty"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let restored_dir = tempfile::tempdir().unwrap();
    let restored_data = restored_dir.path().join("data");
    let out = gateway_bin()
        .arg("--data-dir")
        .arg(&restored_data)
        .arg("restore")
        .arg("--from")
        .arg(&backup)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("restored {RUNS} runs")),
        "{stdout}"
    );

    // Secrets and certificates came back byte for byte, owner-only.
    let live_files = files(live.path());
    assert!(
        live_files.contains_key("hmac_secret"),
        "{:?}",
        live_files.keys()
    );
    assert!(
        live_files.keys().any(|k| k.starts_with("tls/")),
        "{:?}",
        live_files.keys()
    );
    assert_eq!(files(&restored_data), live_files);
    let mode = std::fs::metadata(&restored_data)
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o700);

    // Every run: the restored events are the first ones of the live run, whole batches, the same
    // count and digest; every restored artifact is the live one.
    let restored = SqliteStore::open(&restored_data.join("gateway.db")).unwrap();
    let mut behind = 0;
    let mut restored_events = 0;
    for i in 0..RUNS {
        let id = format!("run-{i}");
        let run = restored
            .run(id.clone())
            .await
            .unwrap()
            .expect("every run is restored");
        let (count, sha) = digest(&restored, &id, usize::MAX).await;
        assert_eq!(count as u64, run.summary.last_sequence, "{id}");
        let mut expected = digest(store.as_ref(), &id, count).await;
        if i == 0 && run.summary.status == RunStatus::Finished {
            expected = digest(store.as_ref(), &id, usize::MAX).await;
            assert_eq!(run.summary.delivery, Some(common::wire::Delivery::Complete));
        }
        assert_eq!((count, sha), expected, "{id}");
        assert_eq!(
            count as u64 % BATCH,
            u64::from(i == 0 && count as u64 > 3 * BATCH),
            "{id}: whole batches"
        );
        let live_run = store.run(id.clone()).await.unwrap().unwrap();
        if live_run.summary.last_sequence > run.summary.last_sequence {
            behind += 1;
        }
        restored_events += count;
        for a in restored.list_artifacts(id.clone()).await.unwrap() {
            let (info, bytes) = restored
                .artifact(id.clone(), a.name.clone())
                .await
                .unwrap()
                .unwrap();
            let (live_info, live_bytes) = store
                .artifact(id.clone(), a.name.clone())
                .await
                .unwrap()
                .unwrap();
            assert_eq!((info, bytes), (live_info, live_bytes), "{id}/{}", a.name);
        }
    }
    assert!(behind > 0, "the backup was taken while the runs streamed");
    assert!(restored_events > 0);
    eprintln!("restored {restored_events} events; {behind} of {RUNS} runs had streamed on since");
    drop(restored);

    // The restored directory starts a gateway that serves them.
    let gw = gateway::Gateway::open(
        support::plain_config(&restored_data),
        "127.0.0.1:3100".parse().unwrap(),
    )
    .await
    .unwrap();
    assert!(gw.new_admin_token.is_none(), "the admin token came back");
    assert!(
        gw.generated_secret_path.is_none(),
        "the HMAC secret came back"
    );
    assert_eq!(gw.state.store.list_runs(100).await.unwrap().len(), RUNS);
}

#[tokio::test]
async fn a_backup_names_what_it_cannot_do() {
    let dir = tempfile::tempdir().unwrap();
    let out = gateway_bin()
        .arg("--data-dir")
        .arg(dir.path().join("none"))
        .args(["backup", "--to"])
        .arg(dir.path().join("b"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing to back up"));
    std::fs::write(dir.path().join("not-a-backup"), b"hello").unwrap();
    let out = gateway_bin()
        .arg("--data-dir")
        .arg(dir.path().join("fresh"))
        .args(["restore", "--from"])
        .arg(dir.path().join("not-a-backup"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("not a gateway backup") || stderr.contains("not a database"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_deletes_the_runs_its_policy_names_and_the_file_shrinks() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gateway.db");
    const DAY: i64 = 86_400_000;
    let now = 1_000 * DAY;
    let runs = [
        (
            "old-finished",
            Some((RunStatus::Finished, now - 100 * DAY)),
            false,
        ),
        (
            "new-finished",
            Some((RunStatus::Finished, now - 10 * DAY)),
            false,
        ),
        (
            "old-failed",
            Some((RunStatus::Failed, now - 40 * DAY)),
            false,
        ),
        (
            "old-stopped",
            Some((RunStatus::Stopped, now - 400 * DAY)),
            false,
        ),
        (
            "old-pinned",
            Some((RunStatus::Finished, now - 100 * DAY)),
            true,
        ),
        ("running", None, false),
    ];
    {
        let store = SqliteStore::open(&path).unwrap();
        for (i, (id, end, pinned)) in runs.iter().enumerate() {
            store.create_run(new_run(id, i as i64)).await.unwrap();
            for b in 0..20 {
                let batch: Vec<Event> = (b * 100 + 1..=b * 100 + 100)
                    .map(|s| line(s, 1000))
                    .collect();
                store
                    .append_events(id.to_string(), raw(&batch), None)
                    .await
                    .unwrap();
            }
            store
                .put_artifact(
                    id.to_string(),
                    "claude.log".into(),
                    vec![b'l'; 256 * 1024],
                    1,
                )
                .await
                .unwrap();
            if let Some((status, at)) = end {
                let mut events = Vec::new();
                if *status == RunStatus::Stopped {
                    events.push(Event {
                        sequence: 2001,
                        kind: EventKind::Marker,
                        data: json!({"event": "stop_requested", "reason": "command"}),
                        ts: *at,
                    });
                }
                events.push(Event {
                    sequence: 2001 + events.len() as u64,
                    kind: EventKind::Marker,
                    data: json!({"event": "finished", "exitCode": i32::from(*status != RunStatus::Finished), "durationMs": 1}),
                    ts: *at,
                });
                store
                    .append_events(id.to_string(), raw(&events), None)
                    .await
                    .unwrap();
            }
            if *pinned {
                assert!(store.set_pinned(id.to_string(), true).await.unwrap());
            }
        }
    }
    let before = std::fs::metadata(&path).unwrap().len();

    let store = SqliteStore::open(&path).unwrap();
    let policy = Policy {
        finished: Some(Duration::from_secs(90 * 86_400)),
        failed: Some(Duration::from_secs(30 * 86_400)),
        stopped: None,
    };
    let gone = std::sync::Mutex::new(Vec::new());
    let swept = sweep(&store, &policy, now, &|run: &str| {
        gone.lock().unwrap().push(run.to_string())
    })
    .await
    .unwrap();
    assert_eq!(swept.runs_deleted, 2, "{swept:?}");
    // Each run deleted is told (the gateway forgets its key), and only those.
    let mut gone = gone.into_inner().unwrap();
    gone.sort();
    assert_eq!(gone, ["old-failed", "old-finished"]);
    assert!(swept.bytes_reclaimed > 0, "{swept:?}");
    let mut left: Vec<String> = store
        .list_runs(100)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    left.sort();
    assert_eq!(
        left,
        ["new-finished", "old-pinned", "old-stopped", "running"]
    );
    assert!(
        store
            .events("old-finished".into(), 0, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .list_artifacts("old-failed".into())
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        sweep(&store, &policy, now, &|run: &str| panic!(
            "{run} deleted twice"
        ))
        .await
        .unwrap(),
        Default::default(),
        "a second sweep finds nothing"
    );
    drop(store);
    let after = std::fs::metadata(&path).unwrap().len();
    eprintln!("database file: {before} bytes before retention, {after} after");
    // Two of six equal runs went: the file is about a third smaller.
    assert!(after < before * 3 / 4, "{before} → {after}");
}

#[tokio::test]
async fn a_person_pins_a_run_and_sees_how_long_runs_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = support::plain_config(dir.path());
    config.retention = Policy {
        finished: Some(Duration::from_secs(90 * 86_400)),
        failed: Some(Duration::from_secs(30 * 86_400)),
        stopped: None,
    };
    let gw = gateway::Gateway::open(config, "127.0.0.1:3100".parse().unwrap())
        .await
        .unwrap();
    let admin = gw.new_admin_token.as_ref().unwrap().expose().to_string();
    let state = gw.state;
    let call = |method: &str, path: &str| {
        Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {admin}"))
            .body(Body::empty())
            .unwrap()
    };
    let (status, created) = support::send_json(&state, call("POST", "/api/runs")).await;
    assert_eq!(status, StatusCode::CREATED);
    let id = created["run_id"].as_str().unwrap().to_string();
    let (status, run) = support::send_json(&state, call("GET", &format!("/api/runs/{id}"))).await;
    assert_eq!((status, &run["pinned"]), (StatusCode::OK, &json!(false)));
    let (status, run) =
        support::send_json(&state, call("PUT", &format!("/api/runs/{id}/pin"))).await;
    assert_eq!(
        (status, &run["pinned"]),
        (StatusCode::OK, &json!(true)),
        "{run}"
    );
    let (_, run) = support::send_json(&state, call("GET", &format!("/api/runs/{id}"))).await;
    assert_eq!(run["pinned"], true);
    let (status, run) =
        support::send_json(&state, call("DELETE", &format!("/api/runs/{id}/pin"))).await;
    assert_eq!((status, &run["pinned"]), (StatusCode::OK, &json!(false)));
    let (status, _) = support::send_json(&state, call("PUT", "/api/runs/r_nobody/pin")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, kept) = support::send_json(&state, call("GET", "/api/retention")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        kept,
        json!({"finished": 90 * 86_400, "failed": 30 * 86_400, "stopped": null})
    );
}
