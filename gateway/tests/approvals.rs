//! Handler tests of approvals through `Router::oneshot`: a permission request stored at ingest
//! makes the run need approval; a person's decision is checked, stamped with who decided and
//! queued for the runner; the decision marker clears it.

mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::wire::{CreatedRun, Event, EventKind, RunSummary};
use gateway::state::AppState;
use serde_json::{Value, json};

struct Harness {
    _dir: tempfile::TempDir,
    state: AppState,
    admin: String,
}

impl Harness {
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (state, admin) = support::open(&dir.path().join("data")).await;
        Self {
            _dir: dir,
            state,
            admin,
        }
    }

    async fn json(&self, req: Request<Body>) -> (StatusCode, Value) {
        support::send_json(&self.state, req).await
    }

    async fn admin(&self, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {}", self.admin))
            .header(header::CONTENT_TYPE, "application/json")
            .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
            .unwrap();
        self.json(req).await
    }

    async fn run(&self) -> CreatedRun {
        let (status, v) = self.admin("POST", "/api/runs", Some(json!({}))).await;
        assert_eq!(status, StatusCode::CREATED);
        serde_json::from_value(v).unwrap()
    }

    async fn ingest(&self, run: &CreatedRun, events: Vec<Event>) {
        let (status, v) = self
            .json(support::ingest_for(&self.state, run, events))
            .await;
        assert_eq!(status, StatusCode::OK, "{v}");
    }

    async fn summary(&self, run: &CreatedRun) -> RunSummary {
        let (_, v) = self
            .admin("GET", &format!("/api/runs/{}", run.run_id), None)
            .await;
        serde_json::from_value(v).unwrap()
    }

    async fn decide(&self, run: &CreatedRun, request: &str, body: Value) -> (StatusCode, Value) {
        let path = format!("/api/runs/{}/permissions/{request}", run.run_id);
        self.admin("POST", &path, Some(body)).await
    }
}

fn marker(sequence: u64, data: Value) -> Event {
    Event {
        sequence,
        kind: EventKind::Marker,
        data,
        ts: 1_700_000_000_000 + sequence as i64,
    }
}

fn request(sequence: u64, id: &str) -> Event {
    marker(
        sequence,
        json!({"event": "permission_request", "requestId": id, "tool": "Bash",
               "input": {"command": "touch a"}, "command": "touch a", "cwd": "/w",
               "expiresAt": 1_700_000_600_000_i64}),
    )
}

#[tokio::test]
async fn a_request_needs_approval_until_a_person_decides() {
    let h = Harness::new().await;
    let run = h.run().await;
    h.ingest(&run, vec![request(1, "pr_a"), request(2, "pr_b")])
        .await;
    let c = h.summary(&run).await.claude.expect("claude stats");
    assert_eq!((c.pending_approvals, c.pending_requests.len()), (2, 2));
    let (_, list) = h.admin("GET", "/api/runs", None).await;
    assert_eq!(
        list[0]["claude"]["pending_approvals"], 2,
        "the runs list shows it"
    );

    // Refused before anything is queued.
    let cases = [
        (
            json!({"decision": "allow", "by": "mallory"}),
            "malformed_json",
        ),
        (json!({"decision": "maybe"}), "malformed_json"),
        (
            json!({"decision": "allow", "message": "hi"}),
            "invalid_field",
        ),
        (json!({"decision": "deny", "rule": "Bash"}), "invalid_field"),
        (
            json!({"decision": "deny", "message": "x".repeat(5000)}),
            "invalid_field",
        ),
        (
            json!({"decision": "allow_run", "rule": "Bash(\u{7})"}),
            "invalid_field",
        ),
    ];
    for (body, reason) in cases {
        let (status, v) = h.decide(&run, "pr_a", body.clone()).await;
        assert_eq!(
            (status, v["reason"].as_str()),
            (StatusCode::BAD_REQUEST, Some(reason)),
            "{body}"
        );
    }
    let (status, v) = h
        .decide(&run, "pr_nope", json!({"decision": "allow"}))
        .await;
    assert_eq!(
        (status, v["reason"].as_str()),
        (StatusCode::BAD_REQUEST, Some("not_pending"))
    );
    let (status, _) = h
        .admin(
            "POST",
            "/api/runs/r_none/permissions/pr_a",
            Some(json!({"decision": "allow"})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let unsigned = Request::builder()
        .method("POST")
        .uri(format!("/api/runs/{}/permissions/pr_a", run.run_id))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(r#"{"decision":"allow"}"#))
        .unwrap();
    assert_eq!(h.json(unsigned).await.0, StatusCode::UNAUTHORIZED);
    // The generic command route cannot carry a decision (it would name its own `by`).
    let (status, _) = h
        .admin(
            "POST",
            &format!("/api/runs/{}/commands", run.run_id),
            Some(
                json!({"kind": "permission", "request_id": "pr_a", "decision": "allow", "by": "x"}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (status, cmd) = h
        .decide(
            &run,
            "pr_a",
            json!({"decision": "deny", "message": "not now"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{cmd}");
    assert_eq!(
        (
            cmd["kind"].as_str(),
            cmd["request_id"].as_str(),
            cmd["decision"].as_str()
        ),
        (Some("permission"), Some("pr_a"), Some("deny"))
    );
    assert_eq!(
        (cmd["message"].as_str(), cmd["by"].as_str()),
        (Some("not now"), Some("admin token (admin)"))
    );
    // The runner gets it stamped.
    let key = common::sign::derive_run_key(
        h.state.hmac_secret.expose().as_bytes(),
        &run.run_id,
        &run.token,
    );
    let poll = format!("/api/runs/{}/commands", run.run_id);
    let (_, polled) = h
        .json(support::signed("GET", &poll, &run.run_id, &key, vec![]))
        .await;
    assert_eq!(polled[0]["by"], "admin token (admin)");

    // The runner's decision marker clears the request.
    let decided = marker(
        3,
        json!({"event": "permission_decision", "requestId": "pr_a", "decision": "deny",
               "tool": "Bash", "message": "not now", "by": "admin", "commandId": cmd["id"]}),
    );
    h.ingest(&run, vec![decided]).await;
    let c = h.summary(&run).await.claude.unwrap();
    assert_eq!(
        (c.pending_approvals, c.pending_requests),
        (1, vec!["pr_b".to_string()])
    );
    let (status, _) = h.decide(&run, "pr_a", json!({"decision": "allow"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "decided already");

    // Once the run has ended nothing waits and nothing can be decided.
    let fin = marker(
        4,
        json!({"event": "finished", "exitCode": 0, "durationMs": 1}),
    );
    h.ingest(&run, vec![fin]).await;
    assert_eq!(h.summary(&run).await.claude.unwrap().pending_approvals, 0);
    let (status, v) = h.decide(&run, "pr_b", json!({"decision": "allow"})).await;
    assert_eq!(
        (status, v["reason"].as_str()),
        (StatusCode::BAD_REQUEST, Some("run_finished"))
    );
}
