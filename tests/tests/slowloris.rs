//! The gateway against clients that hold connections without using them: a trickled request
//! head is cut at the header timeout, an idle keep-alive connection at the idle timeout (an
//! open event stream is not idle), and past the connection cap a client gets a clear 503.

use std::time::{Duration, Instant};

use e2e::Gateway;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn connect(gw: &Gateway) -> TcpStream {
    TcpStream::connect(("127.0.0.1", gw.port)).await.unwrap()
}

/// Send one keep-alive request and read its whole answer (head and `content-length` body).
async fn request(tcp: &mut TcpStream, path: &str) -> String {
    tcp.write_all(format!("GET {path} HTTP/1.1\r\nhost: localhost\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(10), tcp.read(&mut buf))
            .await
            .expect("an answer")
            .unwrap();
        assert!(
            n > 0,
            "closed before the answer: {}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got).to_string();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let len = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length: ")
                        .map(String::from)
                })
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if body.len() >= len {
                return text;
            }
        }
    }
}

/// Wait (at most `limit`) for the server to close `tcp`; how long that took.
async fn closed_within(tcp: &mut TcpStream, limit: Duration) -> Duration {
    let start = Instant::now();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(limit.saturating_sub(start.elapsed()), tcp.read(&mut buf)).await
        {
            Err(_) => panic!("the connection was still open after {limit:?}"),
            Ok(Ok(0)) | Ok(Err(_)) => return start.elapsed(),
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test]
async fn a_trickled_request_head_is_cut_at_the_header_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start_with(
        dir.path(),
        &[
            "--plain-http",
            "--header-timeout",
            "1",
            "--idle-timeout",
            "60",
        ],
        None,
    );
    let mut slow = Vec::new();
    for _ in 0..20 {
        let mut tcp = connect(&gw).await;
        slow.push(tokio::spawn(async move {
            tcp.write_all(b"GET /api/health HTTP/1.1\r\nhost: localhost\r\n")
                .await
                .unwrap();
            // One header line every 200 ms, never the blank line that ends the head.
            let start = Instant::now();
            let mut buf = [0u8; 1024];
            loop {
                tokio::select! {
                    read = tcp.read(&mut buf) => match read {
                        Ok(0) | Err(_) => return start.elapsed(),
                        Ok(_) => {}
                    },
                    () = tokio::time::sleep(Duration::from_millis(200)) => {
                        if tcp.write_all(b"x-pad: a\r\n").await.is_err() {
                            return start.elapsed();
                        }
                    }
                }
                assert!(start.elapsed() < Duration::from_secs(10), "never cut");
            }
        }));
    }
    // Meanwhile the gateway answers everyone else.
    let mut tcp = connect(&gw).await;
    assert!(
        request(&mut tcp, "/api/health")
            .await
            .starts_with("HTTP/1.1 200")
    );
    for conn in slow {
        let took = conn.await.unwrap();
        assert!(took < Duration::from_secs(8), "cut after {took:?}");
    }
}

#[tokio::test]
async fn an_idle_connection_is_closed_but_an_open_stream_is_not_idle() {
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start_with(
        dir.path(),
        &[
            "--plain-http",
            "--header-timeout",
            "10",
            "--idle-timeout",
            "1",
        ],
        None,
    );
    // A connection that sends nothing, and one that went quiet after a request.
    let mut silent = connect(&gw).await;
    let mut quiet = connect(&gw).await;
    assert!(
        request(&mut quiet, "/api/health")
            .await
            .starts_with("HTTP/1.1 200")
    );
    // A viewer on a run's event stream, longer than the idle timeout.
    let created: serde_json::Value = {
        let mut tcp = connect(&gw).await;
        let body = "{}";
        tcp.write_all(
            format!(
                "POST /api/runs HTTP/1.1\r\nhost: localhost\r\nauthorization: Bearer {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                gw.admin_token,
                body.len()
            )
            .as_bytes(),
        )
        .await
        .unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = tcp.read(&mut buf).await.unwrap();
            got.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&got).to_string();
            if let Some((_, b)) = text.split_once("\r\n\r\n")
                && let Ok(v) = serde_json::from_str(b)
            {
                break v;
            }
            assert!(n > 0, "{text}");
        }
    };
    let run_id = created["run_id"].as_str().unwrap().to_string();
    let mut viewer = connect(&gw).await;
    viewer
        .write_all(
            format!(
                "GET /api/runs/{run_id}/stream HTTP/1.1\r\nhost: localhost\r\nauthorization: Bearer {}\r\n\r\n",
                gw.admin_token
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    assert!(closed_within(&mut silent, Duration::from_secs(8)).await < Duration::from_secs(8));
    assert!(closed_within(&mut quiet, Duration::from_secs(8)).await < Duration::from_secs(8));
    // The property is about time: the stream has now been open well past the idle timeout.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // The stream outlived both: it still carries what is ingested now.
    let key = common::sign::derive_run_key(
        gw.hmac_secret.as_bytes(),
        &run_id,
        created["token"].as_str().unwrap(),
    );
    claude_runner::client::install_crypto_provider();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let body = serde_json::to_vec(&serde_json::json!({"run_id": run_id, "events": [
        {"sequence": 1, "type": "stdout", "data": "still watched", "ts": 1}]}))
    .unwrap();
    let resp = e2e::load::signed(&http, &gw.url, "/api/ingest/event", &run_id, &key, body)
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains("still watched") {
        let n = tokio::time::timeout(Duration::from_secs(10), viewer.read(&mut buf))
            .await
            .expect("the stream delivers")
            .unwrap();
        assert!(
            n > 0,
            "the stream was closed: {}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buf[..n]);
    }
}

#[tokio::test]
async fn past_the_connection_cap_a_client_gets_a_clear_503() {
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start_with(
        dir.path(),
        &[
            "--plain-http",
            "--max-connections",
            "4",
            "--idle-timeout",
            "60",
        ],
        None,
    );
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut tcp = connect(&gw).await;
        assert!(
            request(&mut tcp, "/api/health")
                .await
                .starts_with("HTTP/1.1 200")
        );
        held.push(tcp);
    }
    let mut extra = connect(&gw).await;
    let answer = request(&mut extra, "/api/health").await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("retry-after"),
        "{answer}"
    );
    assert!(
        answer.contains(r#""reason":"too_many_connections""#),
        "{answer}"
    );
    closed_within(&mut extra, Duration::from_secs(5)).await;
    // A held connection still works, and once one is given back a new client gets in.
    assert!(
        request(&mut held[0], "/api/health")
            .await
            .starts_with("HTTP/1.1 200")
    );
    drop(held.pop());
    e2e::eventually(Duration::from_secs(10), || async {
        let mut tcp = connect(&gw).await;
        request(&mut tcp, "/api/health")
            .await
            .starts_with("HTTP/1.1 200")
            .then_some(())
    })
    .await;
}
