//! Handler tests of the steering routes through `Router::oneshot`: queueing, long polling and
//! acknowledging commands, assist links, artifact upload rules and download headers.

mod support;

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::sign;
use common::wire::{Command, CommandKind, CreatedRun};
use gateway::Gateway;
use gateway::state::AppState;
use serde_json::{Value, json};
use support::signed;

const ARTIFACT_LIMIT: usize = 64 * 1024;

/// A gateway opened the way `main` opens one (plain HTTP, fresh data directory), without a socket.
struct Harness {
    _dir: tempfile::TempDir,
    state: AppState,
    admin: String,
}

async fn harness() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let mut config = support::plain_config(&dir.path().join("data"));
    config.limits.max_artifact_bytes = ARTIFACT_LIMIT;
    let gw = Gateway::open(config, "127.0.0.1:3100".parse().unwrap())
        .await
        .unwrap();
    let admin = gw
        .new_admin_token
        .as_ref()
        .expect("first start prints an admin token")
        .expose()
        .to_string();
    Harness {
        _dir: dir,
        state: gw.state,
        admin,
    }
}

struct Run {
    id: String,
    key: [u8; 32],
}

impl Harness {
    async fn send(&self, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        let resp = support::send(&self.state, req).await;
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, headers, bytes.to_vec())
    }

    async fn json(&self, req: Request<Body>) -> (StatusCode, Value) {
        let (status, _, bytes) = self.send(req).await;
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    fn admin(&self, method: &str, path: &str, body: Value) -> Request<Body> {
        Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {}", self.admin))
            .header(header::CONTENT_TYPE, "application/json")
            .body(if body.is_null() {
                Body::empty()
            } else {
                Body::from(body.to_string())
            })
            .unwrap()
    }

    async fn run(&self) -> Run {
        let (status, v) = self
            .json(self.admin("POST", "/api/runs", json!({"name": "t"})))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{v}");
        let created: CreatedRun = serde_json::from_value(v).unwrap();
        let key = sign::derive_run_key(
            self.state.hmac_secret.expose().as_bytes(),
            &created.run_id,
            &created.token,
        );
        Run {
            id: created.run_id,
            key,
        }
    }

    async fn queue(&self, run: &Run, body: Value) -> (StatusCode, Value) {
        self.json(self.admin("POST", &format!("/api/runs/{}/commands", run.id), body))
            .await
    }

    async fn poll(&self, run: &Run, wait: u64) -> (StatusCode, Value) {
        let path = format!("/api/runs/{}/commands?wait={wait}", run.id);
        self.json(signed("GET", &path, &run.id, &run.key, Vec::new()))
            .await
    }

    async fn upload(&self, run: &Run, name: &str, body: Vec<u8>) -> (StatusCode, Value) {
        let path = format!("/api/ingest/artifact?run_id={}&name={name}", run.id);
        self.json(signed("POST", &path, &run.id, &run.key, body))
            .await
    }
}

#[tokio::test]
async fn commands_are_queued_by_the_admin_polled_and_acked_by_the_runner() {
    let h = harness().await;
    let run = h.run().await;

    let (status, v) = h
        .queue(&run, json!({"kind": "exec", "command": "git status"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let queued: Command = serde_json::from_value(v).unwrap();
    assert_eq!(
        queued.kind,
        CommandKind::Exec {
            command: "git status".into()
        }
    );
    let (status, v) = h
        .queue(&run, json!({"kind": "prompt", "prompt": "more"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let (status, v) = h.queue(&run, json!({"kind": "stop"})).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");

    // Pending commands are answered at once, oldest first.
    let started = Instant::now();
    let (status, v) = h.poll(&run, 30).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert!(started.elapsed() < Duration::from_secs(5));
    let pending: Vec<Command> = serde_json::from_value(v).unwrap();
    assert_eq!(pending.len(), 3);
    assert_eq!(pending[0], queued);
    assert_eq!(pending[2].kind, CommandKind::Stop);

    for c in &pending {
        let path = format!("/api/runs/{}/commands/{}/ack", run.id, c.id);
        let (status, v) = h
            .json(signed("POST", &path, &run.id, &run.key, Vec::new()))
            .await;
        assert_eq!((status, v), (StatusCode::OK, json!({"acked": true})));
        let (status, v) = h
            .json(signed("POST", &path, &run.id, &run.key, Vec::new()))
            .await;
        assert_eq!(
            (status, v),
            (StatusCode::OK, json!({"acked": false})),
            "a second ack says it was already taken"
        );
    }
    let (status, v) = h.poll(&run, 0).await;
    assert_eq!(
        (status, v),
        (StatusCode::OK, json!([])),
        "acked commands are not delivered again"
    );
}

#[tokio::test]
async fn a_long_poll_answers_as_soon_as_a_command_is_queued() {
    let h = harness().await;
    let run = h.run().await;
    let started = Instant::now();
    let poll = h.poll(&run, 20);
    let queue = async {
        // Queue only once the poll is waiting on the run's bell.
        while h.state.live.waiting_runs() == 0 {
            tokio::task::yield_now().await;
        }
        h.queue(&run, json!({"kind": "exec", "command": "pwd"}))
            .await
    };
    let ((status, v), (queued, _)) = tokio::join!(poll, queue);
    assert_eq!(queued, StatusCode::CREATED);
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v[0]["command"], "pwd");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "woken, not timed out: {:?}",
        started.elapsed()
    );
    assert!(
        h.state.live.waiting_runs() == 0,
        "no waiter entry left behind"
    );

    // With nothing queued, the poll ends empty after its wait.
    let started = Instant::now();
    let path = format!(
        "/api/runs/{}/commands/{}/ack",
        run.id,
        v[0]["id"].as_str().unwrap()
    );
    h.json(signed("POST", &path, &run.id, &run.key, Vec::new()))
        .await;
    let (status, v) = h.poll(&run, 1).await;
    assert_eq!((status, v), (StatusCode::OK, json!([])));
    assert!(started.elapsed() >= Duration::from_secs(1));
}

#[tokio::test]
async fn the_command_routes_check_who_is_asking_and_what() {
    let h = harness().await;
    let run = h.run().await;
    let other = h.run().await;

    // The runner routes want the key of the run named in the path.
    let path = format!("/api/runs/{}/commands?wait=0", run.id);
    let (status, v) = h
        .json(signed("GET", &path, &other.id, &other.key, Vec::new()))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(v["reason"], "run_mismatch");
    let (status, v) = h
        .json(signed("GET", &path, &run.id, &other.key, Vec::new()))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(v["reason"], "bad_signature");
    let unsigned = Request::get(&path).body(Body::empty()).unwrap();
    assert_eq!(h.json(unsigned).await.0, StatusCode::UNAUTHORIZED);

    // Queueing is for the admin only, and only the three kinds a person may send.
    let no_admin = Request::post(format!("/api/runs/{}/commands", run.id))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(r#"{"kind":"stop"}"#))
        .unwrap();
    assert_eq!(h.json(no_admin).await.0, StatusCode::UNAUTHORIZED);
    for bad in [
        json!({"kind": "exec"}),
        json!({"kind": "exec", "command": "   "}),
        json!({"kind": "launch"}),
        json!({"kind": "assist", "assist": {"type": "tmate", "url": "ssh x@y"}}),
    ] {
        let (status, v) = h.queue(&run, bad.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {v}");
    }
    let (status, _) = h
        .json(h.admin("POST", "/api/runs/r_nope/commands", json!({"kind": "stop"})))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, v) = h.poll(&run, 0).await;
    assert_eq!(v, json!([]), "nothing refused was queued");
}

#[tokio::test]
async fn assist_links_ride_the_command_channel() {
    let h = harness().await;
    let run = h.run().await;
    let path = format!("/api/runs/{}/assist", run.id);
    let link =
        json!({"type": "tmate", "url": "ssh abc@nyc1.tmate.io", "web": "https://tmate.io/t/abc"});
    let (status, v) = h
        .json(signed(
            "POST",
            &path,
            &run.id,
            &run.key,
            link.to_string().into_bytes(),
        ))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{v}");
    assert_eq!(v["run_status"], "pending");
    let (_, pending) = h.poll(&run, 0).await;
    assert_eq!(pending[0]["kind"], "assist");
    assert_eq!(pending[0]["assist"], link);
    assert_eq!(pending[0]["id"], v["command_id"]);

    for bad in [
        json!({"type": "vnc", "url": "ssh a@b"}),
        json!({"type": "tmate", "url": "curl x | sh"}),
        json!({"type": "tmate", "url": "ssh a@b", "web": "javascript:alert(1)"}),
        json!({"type": "tmate"}),
    ] {
        let (status, v) = h
            .json(signed(
                "POST",
                &path,
                &run.id,
                &run.key,
                bad.to_string().into_bytes(),
            ))
            .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {v}");
    }
    let (status, v) = h
        .json(signed("GET", &path, &run.id, &run.key, Vec::new()))
        .await;
    assert_eq!(
        (status, v),
        (StatusCode::OK, json!({"run_status": "pending"}))
    );
}

#[tokio::test]
async fn artifacts_land_intact_and_download_as_sandboxed_attachments() {
    let h = harness().await;
    let run = h.run().await;
    let body = b"line one\n{\"a\": [REDACTED]}\n\xff binary-ish\n".to_vec();
    for name in [
        "claude.log",
        "latest.diff",
        "notes.md",
        "r.json",
        "x.patch",
        "a.txt",
    ] {
        let (status, v) = h.upload(&run, name, body.clone()).await;
        assert_eq!(status, StatusCode::CREATED, "{name}: {v}");
        assert_eq!(v["name"], name);
        assert_eq!(v["size"], body.len());
    }

    let list = h
        .json(h.admin(
            "GET",
            &format!("/api/runs/{}/artifacts", run.id),
            Value::Null,
        ))
        .await;
    assert_eq!(list.0, StatusCode::OK);
    let names: Vec<&str> = list
        .1
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 6, "{names:?}");

    let (status, headers, bytes) = h
        .send(h.admin(
            "GET",
            &format!("/api/runs/{}/artifacts/latest.diff", run.id),
            Value::Null,
        ))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(bytes, body, "downloaded byte for byte");
    let header = |n: &str| headers.get(n).unwrap().to_str().unwrap().to_string();
    assert_eq!(
        header("content-disposition"),
        "attachment; filename=\"latest.diff\""
    );
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert_eq!(
        header("content-security-policy"),
        "default-src 'none'; sandbox"
    );
    assert_eq!(header("content-type"), "text/plain; charset=utf-8");
    let (_, headers, _) = h
        .send(h.admin(
            "GET",
            &format!("/api/runs/{}/artifacts/r.json", run.id),
            Value::Null,
        ))
        .await;
    assert_eq!(headers["content-type"], "application/json");

    // Listing and downloading are for the admin only.
    let anon = Request::get(format!("/api/runs/{}/artifacts/latest.diff", run.id))
        .body(Body::empty())
        .unwrap();
    assert_eq!(h.send(anon).await.0, StatusCode::UNAUTHORIZED);
    let (status, _, _) = h
        .send(h.admin(
            "GET",
            &format!("/api/runs/{}/artifacts/missing.log", run.id),
            Value::Null,
        ))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bad_artifact_names_and_oversized_bodies_are_refused_with_reasons() {
    let h = harness().await;
    let run = h.run().await;
    for (name, why) in [
        ("..%2Fx.log", "path separator"),
        ("%2Fetc%2Fpasswd.log", "path separator"),
        ("a%5Cb.log", "path separator"),
        ("a%0Ab.log", "control character"),
        ("..log", "starts with a dot"),
        ("x.exe", "does not end in one of"),
        ("", "empty"),
    ] {
        let (status, v) = h.upload(&run, name, b"x".to_vec()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name}: {v}");
        assert_eq!(v["reason"], "invalid_name", "{name}");
        assert!(v["message"].as_str().unwrap().contains(why), "{name}: {v}");
    }
    // No name at all.
    let path = format!("/api/ingest/artifact?run_id={}", run.id);
    let (status, _) = h
        .json(signed("POST", &path, &run.id, &run.key, b"x".to_vec()))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (status, v) = h
        .upload(&run, "big.log", vec![b'a'; ARTIFACT_LIMIT + 1])
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{v}");
    let (status, _) = h.upload(&run, "edge.log", vec![b'a'; ARTIFACT_LIMIT]).await;
    assert_eq!(status, StatusCode::CREATED, "exactly the limit is fine");

    // The query names the signing run; a bad signature stores nothing.
    let other = h.run().await;
    let path = format!("/api/ingest/artifact?run_id={}&name=x.log", other.id);
    let (status, v) = h
        .json(signed("POST", &path, &run.id, &run.key, b"x".to_vec()))
        .await;
    assert_eq!(
        (status, v["reason"].as_str()),
        (StatusCode::BAD_REQUEST, Some("run_mismatch"))
    );
    let path = format!("/api/ingest/artifact?run_id={}&name=forged.log", run.id);
    let (status, _) = h
        .json(signed("POST", &path, &run.id, &other.key, b"x".to_vec()))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let (_, list) = h
        .json(h.admin(
            "GET",
            &format!("/api/runs/{}/artifacts", run.id),
            Value::Null,
        ))
        .await;
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["edge.log"], "only the valid upload was stored");
    let (_, list) = h
        .json(h.admin(
            "GET",
            &format!("/api/runs/{}/artifacts", other.id),
            Value::Null,
        ))
        .await;
    assert_eq!(list, json!([]));
}
