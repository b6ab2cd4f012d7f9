//! The gateway binary under attack and under an operator's signals: a signed request captured
//! before a restart is refused after it, and SIGTERM drains open requests as Ctrl-C does.

use std::time::Duration;

use common::sign::{self, SignedParts};
use e2e::{Gateway, eventually};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A signed request as it went over the wire, to be sent again byte for byte.
struct Captured {
    method: &'static str,
    path: String,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

fn capture(method: &'static str, path: &str, run_id: &str, key: &[u8], body: Vec<u8>) -> Captured {
    let (p, q) = path.split_once('?').unwrap_or((path, ""));
    let timestamp = gateway::clock::now_secs();
    let nonce = claude_runner::client::random_b64(18);
    let signature = sign::sign(
        key,
        &SignedParts {
            method,
            path: p,
            query: q,
            run_id,
            timestamp,
            nonce: &nonce,
            body: &body,
        },
    );
    Captured {
        method,
        path: path.to_string(),
        headers: vec![
            (sign::HEADER_TIMESTAMP, timestamp.to_string()),
            (sign::HEADER_NONCE, nonce),
            (sign::HEADER_RUN, run_id.to_string()),
            (sign::HEADER_SIGNATURE, signature),
            ("content-type", "application/json".into()),
        ],
        body,
    }
}

async fn send(gw: &Gateway, c: &Captured) -> (u16, Value) {
    let mut req = gw.client().request(
        c.method.parse().expect("method"),
        format!("{}{}", gw.url, c.path),
    );
    for (name, value) in &c.headers {
        req = req.header(*name, value);
    }
    let resp = req.body(c.body.clone()).send().await.expect("request");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn signed_requests_captured_before_a_restart_are_refused_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut gw = Gateway::start(dir.path());
    let create = capture(
        "POST",
        "/api/runner/runs",
        "",
        gw.hmac_secret.as_bytes(),
        br#"{"name":"captured"}"#.to_vec(),
    );
    let (status, created) = send(&gw, &create).await;
    assert_eq!(status, 201, "{created}");
    let run_id = created["run_id"].as_str().unwrap().to_string();
    let key = sign::derive_run_key(
        gw.hmac_secret.as_bytes(),
        &run_id,
        created["token"].as_str().unwrap(),
    );
    let upload = |text: &str| {
        capture(
            "POST",
            &format!("/api/ingest/artifact?run_id={run_id}&name=r.txt"),
            &run_id,
            &key,
            text.as_bytes().to_vec(),
        )
    };
    let old_upload = upload("the older r.txt");
    assert_eq!(send(&gw, &old_upload).await.0, 201);
    assert_eq!(send(&gw, &upload("the newer r.txt")).await.0, 201);
    let batch = json!({"run_id": run_id, "events": [
        {"sequence": 1, "type": "stdout", "data": "one", "ts": 1},
        {"sequence": 2, "type": "stdout", "data": "two", "ts": 2},
    ]});
    let ingest = capture(
        "POST",
        "/api/ingest/event",
        &run_id,
        &key,
        serde_json::to_vec(&batch).unwrap(),
    );
    assert_eq!(send(&gw, &ingest).await.0, 200);

    gw.kill();
    let gw = Gateway::restart_on(
        dir.path(),
        &format!("127.0.0.1:{}", gw.port),
        gw.admin_token.clone(),
    );
    for captured in [&create, &old_upload, &ingest] {
        let (status, body) = send(&gw, captured).await;
        assert_eq!(
            (status, body["reason"].as_str()),
            (401, Some("replayed_nonce")),
            "{} {}: {body}",
            captured.method,
            captured.path
        );
    }
    assert_eq!(
        gw.runs().await.len(),
        1,
        "the replayed creation made no run"
    );
    let r = gw
        .client()
        .get(format!("{}/api/runs/{run_id}/artifacts/r.txt", gw.url))
        .bearer_auth(&gw.admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.text().await.unwrap(), "the newer r.txt");
    let seqs: Vec<u64> = gw
        .events(&run_id)
        .await
        .iter()
        .map(|e| e.sequence)
        .collect();
    assert_eq!(seqs, vec![1, 2]);
}

/// systemd and container runtimes stop a service with SIGTERM: the gateway stops accepting,
/// lets a request already in progress finish (here one whose body is still on its way), and
/// exits 0, as it does on Ctrl-C.
#[tokio::test]
async fn sigterm_drains_open_requests_and_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mut gw = Gateway::start_with(dir.path(), &["--plain-http"], None);
    claude_runner::client::install_crypto_provider();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let created: Value = http
        .post(format!("{}/api/runs", gw.url))
        .bearer_auth(&gw.admin_token)
        .json(&json!({"name": "drained"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let run_id = created["run_id"].as_str().unwrap();
    let key = sign::derive_run_key(
        gw.hmac_secret.as_bytes(),
        run_id,
        created["token"].as_str().unwrap(),
    );
    let body = serde_json::to_vec(&json!({"run_id": run_id, "events": [
        {"sequence": 1, "type": "stdout", "data": "sent after SIGTERM", "ts": 1},
    ]}))
    .unwrap();
    let c = capture("POST", "/api/ingest/event", run_id, &key, body);
    let mut head = format!(
        "{} {} HTTP/1.1\r\nhost: 127.0.0.1:{}\r\ncontent-length: {}\r\nexpect: 100-continue\r\n",
        c.method,
        c.path,
        gw.port,
        c.body.len()
    );
    for (name, value) in &c.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", gw.port))
        .await
        .unwrap();
    tcp.write_all(head.as_bytes()).await.unwrap();
    // `100 Continue` comes when the handler starts reading the body: the request is in progress.
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), tcp.read(&mut buf))
        .await
        .expect("100 Continue")
        .unwrap();
    assert!(
        String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 100"),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );

    gw.signal(nix::sys::signal::Signal::SIGTERM);
    eventually(Duration::from_secs(10), || async {
        gw.log().contains("shutting down").then_some(())
    })
    .await;
    tcp.write_all(&c.body).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut answer))
        .await
        .expect("the answer, then the connection closed")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains(r#"{"acked_through":1}"#), "{answer}");
    let status = gw
        .wait_exit(Duration::from_secs(10))
        .expect("the gateway exits after draining");
    assert_eq!(status.code(), Some(0), "{status:?}\n{}", gw.log());
}
