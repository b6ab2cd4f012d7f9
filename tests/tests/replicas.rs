//! Two gateway replicas on one PostgreSQL database behind a real load balancer (HAProxy, TCP
//! mode, TLS passed through): a runner and a browser-side stream viewer connect through it, the
//! replica serving both is killed with SIGKILL mid-run, and nothing is lost (every line stored
//! once, delivery `complete`) while the viewer resumes through the other replica with no gap
//! and no duplicate. Beside it: a command queued through one replica reaches a runner polling
//! the other, and a signed request replayed to the replica that did not see it first is refused.
//! Skips with a loud line without a PostgreSQL server or HAProxy.

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::wire::{Delivery, EventKind, RunStatus};
use e2e::haproxy::Haproxy;
use e2e::postgres::Database;
use e2e::{Gateway, eventually, runner, script};

const HMAC: &str = "the-hmac-secret-every-replica-shares";
const ADMIN: &str = "the-admin-token-every-replica-shares";
/// Lines the run prints.
const LINES: u64 = 3_000;

/// A replica in `dir`; `tls_from` is the data directory of a replica whose certificate it must
/// serve (the load balancer passes TLS through: both must present the same).
fn replica(dir: &Path, db: &Database, tls_from: Option<&Path>) -> Gateway {
    if let Some(from) = tls_from {
        let to = dir.join("gateway-data/tls");
        std::fs::create_dir_all(&to).unwrap();
        for entry in std::fs::read_dir(from.join("gateway-data/tls")).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
    let gw = Gateway::start_replica(dir, &db.url(), HMAC, ADMIN);
    // Hearing the other replicas (LISTEN) is in place once it says so.
    let start = Instant::now();
    while !gw.log().contains("listening to the other gateways") {
        assert!(start.elapsed() < Duration::from_secs(10), "{}", gw.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    gw
}

/// `url` with another port.
fn on_port(url: &str, port: u16) -> String {
    let base = url.rsplit_once(':').map_or(url, |(b, _)| b);
    format!("{base}:{port}")
}

/// A signed request to `url` (`path` with its query), signed with `key` for `run_id`.
fn signed(
    client: &reqwest::Client,
    url: &str,
    method: &str,
    path: &str,
    run_id: &str,
    key: &[u8],
) -> reqwest::RequestBuilder {
    use common::sign::{self, SignedParts};
    let (p, q) = path.split_once('?').unwrap_or((path, ""));
    let ts = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let mut raw = [0u8; 18];
    getrandom_fill(&mut raw);
    let nonce = sign::encode_nonce(&raw);
    let signature = sign::sign(
        key,
        &SignedParts {
            method,
            path: p,
            query: q,
            run_id,
            timestamp: ts,
            nonce: &nonce,
            body: b"",
        },
    );
    client
        .request(method.parse().unwrap(), format!("{url}{path}"))
        .header(sign::HEADER_TIMESTAMP, ts.to_string())
        .header(sign::HEADER_NONCE, nonce)
        .header(sign::HEADER_RUN, run_id)
        .header(sign::HEADER_SIGNATURE, signature)
}

/// Random bytes for a nonce.
fn getrandom_fill(buf: &mut [u8]) {
    use std::io::Read;
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(buf))
        .expect("random bytes");
}

/// Watches a run's stream through `url` as a browser does: reconnects with `Last-Event-ID`
/// whenever the stream breaks, until `event: end`. Every `id:` in the order it arrived.
async fn viewer(client: reqwest::Client, url: String, run_id: String) -> (Vec<u64>, u32) {
    let mut ids: Vec<u64> = Vec::new();
    let mut reconnects = 0;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        assert!(
            Instant::now() < deadline,
            "the viewer saw no end in 120 s: {ids:?}"
        );
        let mut req = client
            .get(format!("{url}/api/runs/{run_id}/stream"))
            .bearer_auth(ADMIN);
        if let Some(last) = ids.last() {
            req = req.header("last-event-id", last.to_string());
        }
        let Ok(mut resp) = req.send().await else {
            reconnects += 1;
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        };
        let mut buf = String::new();
        let mut ended = false;
        while let Ok(Some(chunk)) = resp.chunk().await {
            buf.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(at) = buf.find("\n\n") {
                let frame: String = buf.drain(..at + 2).collect();
                for line in frame.lines() {
                    if let Some(id) = line.strip_prefix("id: ") {
                        ids.push(id.parse().unwrap());
                    }
                    ended |= line == "event: end";
                }
            }
        }
        if ended {
            return (ids, reconnects);
        }
        reconnects += 1;
        // The browser's EventSource waits `retry:` (2 s); a shorter pause keeps the test quick.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn start_runner(dir: &Path, url: &str, ca: &Path, run: &(String, String), child: &Path) -> Child {
    runner(dir)
        .args([
            "start", "--quiet", "--cmd", "go", "--run-id", &run.0, "--token", &run.1,
        ])
        .env("GATEWAY_URL", url)
        .env("GATEWAY_CA_FILE", ca)
        .env("HMAC_SECRET", HMAC)
        .env("CLAUDE_COMMAND", child)
        .env("RUNNER_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.join("runner.err")).unwrap())
        .spawn()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_behind_a_load_balancer_lose_nothing_when_one_is_killed() {
    if !Haproxy::installed() {
        eprintln!(
            "SKIP: replicas test not run: {} is missing (apt-get install haproxy)",
            e2e::haproxy::HAPROXY
        );
        return;
    }
    let db = match Database::create("replicas").await {
        Ok(db) => db,
        Err(why) => {
            eprintln!(
                "SKIP: replicas test not run: {why}; set GATEWAY_TEST_POSTGRES or start \
                 PostgreSQL on 127.0.0.1:5432"
            );
            return;
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let (dir_a, dir_b) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::create_dir_all(&dir_a).unwrap();
    std::fs::create_dir_all(&dir_b).unwrap();
    let mut a = replica(&dir_a, &db, None);
    let b = replica(&dir_b, &db, Some(&dir_a));
    let lb = Haproxy::start(dir.path(), &[a.port, b.port], "first");
    let lb_url = on_port(&a.url, lb.port);
    let client = a.client();

    // A command queued through b reaches a runner long-polling a.
    let polled = {
        let (id, token) = b.create_run("polled").await;
        let key = common::sign::derive_run_key(HMAC.as_bytes(), &id, &token);
        let poll = signed(
            &client,
            &a.url,
            "GET",
            &format!("/api/runs/{id}/commands?wait=30"),
            &id,
            &key,
        );
        let waiting = tokio::spawn(async move {
            poll.send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()
        });
        // The poll is parked on a's bell once a's metrics count a waiter.
        eventually(Duration::from_secs(10), || async {
            let text = client
                .get(format!("{}/metrics", a.url))
                .bearer_auth(ADMIN)
                .send()
                .await
                .ok()?
                .text()
                .await
                .ok()?;
            text.lines()
                .any(|l| l == "gateway_command_waiters 1")
                .then_some(())
        })
        .await;
        let started = Instant::now();
        let cmd = b
            .queue_command(&id, serde_json::json!({"kind": "stop"}))
            .await;
        let got = tokio::time::timeout(Duration::from_secs(20), waiting)
            .await
            .expect("the poll on a answered before its 30 s wait ended")
            .unwrap();
        assert_eq!(got[0]["id"], cmd.as_str(), "{got}");
        started.elapsed()
    };

    // A signed request replayed to the replica that did not see it first is refused.
    let ping = signed(
        &client,
        &a.url,
        "GET",
        "/api/runner/ping",
        "",
        HMAC.as_bytes(),
    )
    .build()
    .unwrap();
    let mut replay = client.get(format!("{}/api/runner/ping", b.url));
    for (k, v) in ping.headers() {
        replay = replay.header(k, v);
    }
    assert_eq!(client.execute(ping).await.unwrap().status(), 200);
    let refused = replay.send().await.unwrap();
    assert_eq!(refused.status(), 401);
    let why: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(why["reason"], "replayed_nonce", "{why}");

    // A run through the load balancer; a (the first replica up) serves everything until it dies.
    let run = {
        let resp = client
            .post(format!("{lb_url}/api/runs"))
            .bearer_auth(ADMIN)
            .json(&serde_json::json!({"name": "through the balancer"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 201);
        let v: serde_json::Value = resp.json().await.unwrap();
        (
            v["run_id"].as_str().unwrap().to_string(),
            v["token"].as_str().unwrap().to_string(),
        )
    };
    let view = tokio::spawn(viewer(client.clone(), lb_url.clone(), run.0.clone()));
    let child = script(
        &dir.path().join("child.sh"),
        &format!(
            "i=1\nwhile [ $i -le {LINES} ]; do\n  echo \"line $i of the run\"\n  \
             if [ $((i % 100)) -eq 0 ]; then sleep 0.1; fi\n  i=$((i + 1))\ndone\n"
        ),
    );
    let mut runner = start_runner(dir.path(), &lb_url, &a.ca_file, &run, &child);
    // Mid-run: a has stored part of the run.
    eventually(Duration::from_secs(60), || async {
        let runs = b.runs().await;
        let r = runs.iter().find(|r| r.id == run.0)?;
        (r.last_sequence >= LINES / 3).then_some(())
    })
    .await;
    a.kill();
    let started = Instant::now();
    let status = loop {
        if let Some(s) = runner.try_wait().unwrap() {
            break s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the runner did not end; its stderr:\n{}",
            std::fs::read_to_string(dir.path().join("runner.err")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "runner: {status}");

    // The runner went on through b once a was gone.
    let b_metrics = client
        .get(format!("{}/metrics", b.url))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let b_batches: u64 = b_metrics
        .lines()
        .find_map(|l| l.strip_prefix("gateway_ingest_batches_total "))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert!(b_batches >= 1, "b took the runner's batches after a died");

    // Every line exactly once, delivery complete: read through b, the replica left.
    let summary = b.runs().await.into_iter().find(|r| r.id == run.0).unwrap();
    assert_eq!(summary.status, RunStatus::Finished, "{summary:?}");
    assert_eq!(summary.delivery, Some(Delivery::Complete), "{summary:?}");
    let events = b.events(&run.0).await;
    let seqs: Vec<u64> = events.iter().map(|e| e.sequence).collect();
    assert_eq!(seqs, (1..=summary.last_sequence).collect::<Vec<u64>>());
    let printed: Vec<String> = events
        .iter()
        .filter(|e| e.kind == EventKind::Stdout)
        .map(|e| e.data.as_str().unwrap_or_default().to_string())
        .collect();
    let want: Vec<String> = (1..=LINES)
        .map(|i| format!("line {i} of the run"))
        .collect();
    assert_eq!(printed, want, "every line once, in order");

    // The viewer resumed through b: no gap, no duplicate, up to the last event.
    let (ids, reconnects) = tokio::time::timeout(Duration::from_secs(60), view)
        .await
        .expect("the viewer ends")
        .unwrap();
    assert_eq!(ids, seqs, "the viewer saw every event once, in order");
    assert!(
        reconnects >= 1,
        "the viewer's stream was on the killed replica and resumed"
    );
    eprintln!(
        "replicas: {} events, viewer reconnected {reconnects}×, command crossed replicas in {:?}",
        seqs.len(),
        polled
    );
    drop(lb);
}
