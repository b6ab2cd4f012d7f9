//! Agents through the router: enrollment with a one-time token, the agent's own signed calls
//! (heartbeat, the assignment long poll), the queue (`POST /api/runs` with a target), cancel,
//! revoke, and runs lost when an agent comes back without them.

mod support;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::wire::{Event, EventKind};
use gateway::state::AppState;
use serde_json::{Value, json};
use support::{send_json, signed};

struct Gw {
    state: AppState,
    admin: String,
    _dir: tempfile::TempDir,
}

struct Agent {
    id: String,
    key: Vec<u8>,
}

impl Gw {
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (state, admin) = support::open(dir.path()).await;
        Gw {
            state,
            admin,
            _dir: dir,
        }
    }

    async fn admin(&self, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {}", self.admin))
            .header(header::CONTENT_TYPE, "application/json")
            .body(body.map_or(Body::empty(), |b| Body::from(b.to_string())))
            .unwrap();
        send_json(&self.state, req).await
    }

    async fn token(&self) -> String {
        let (status, v) = self.admin("POST", "/api/agents/enrollments", None).await;
        assert_eq!(status, StatusCode::CREATED, "{v}");
        v["token"].as_str().unwrap().to_string()
    }

    async fn enroll_with(&self, token: &str, name: &str, labels: Value) -> (StatusCode, Value) {
        let body = json!({"token": token, "name": name, "labels": labels, "capacity": 2,
                          "version": "0.1.0", "ceilings": {"roots": ["/srv"]}});
        let req = Request::post("/api/agent/enroll")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        send_json(&self.state, req).await
    }

    async fn enroll(&self, name: &str, labels: Value) -> Agent {
        let token = self.token().await;
        let (status, v) = self.enroll_with(&token, name, labels).await;
        assert_eq!(status, StatusCode::CREATED, "{v}");
        Agent {
            id: v["agent_id"].as_str().unwrap().into(),
            key: hex::decode(v["key"].as_str().unwrap()).unwrap(),
        }
    }

    async fn as_agent(
        &self,
        agent: &Agent,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let body = body.map_or(Vec::new(), |b| b.to_string().into_bytes());
        let caller = format!("agent:{}", agent.id);
        send_json(&self.state, signed(method, path, &caller, &agent.key, body)).await
    }

    async fn heartbeat(&self, agent: &Agent, extra: Value) -> (StatusCode, Value) {
        let mut body = json!({"capacity": 2, "version": "0.1.0", "labels": {"os": "linux"}});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        self.as_agent(agent, "POST", "/api/agent/heartbeat", Some(body))
            .await
    }

    async fn poll(&self, agent: &Agent, wait: u64) -> Vec<Value> {
        let (status, v) = self
            .as_agent(
                agent,
                "GET",
                &format!("/api/agent/assignments?wait={wait}"),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{v}");
        v.as_array().unwrap().clone()
    }

    async fn queue(&self, body: Value) -> String {
        let (status, v) = self.admin("POST", "/api/runs", Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{v}");
        // An agent already waiting may take the run before the answer is made.
        assert!(
            v["status"] == "queued" || v["status"] == "pending",
            "a queued run, or one an agent took at once: {v}"
        );
        assert!(v.get("token").is_none(), "a queued run has no token: {v}");
        v["run_id"].as_str().unwrap().to_string()
    }

    async fn run(&self, id: &str) -> Value {
        self.admin("GET", &format!("/api/runs/{id}"), None).await.1
    }
}

#[tokio::test]
async fn an_agent_enrolls_once_takes_a_queued_run_and_is_revoked() {
    let gw = Gw::new().await;
    let token = gw.token().await;
    let (status, v) = gw
        .enroll_with(&token, "box-1", json!({"os": "linux"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let agent = Agent {
        id: v["agent_id"].as_str().unwrap().into(),
        key: hex::decode(v["key"].as_str().unwrap()).unwrap(),
    };
    assert_eq!(agent.key.len(), 32);
    // The token is spent; a made-up one never worked.
    for t in [token.as_str(), "ae_made_up"] {
        let (status, v) = gw.enroll_with(t, "box-2", json!({})).await;
        assert_eq!(
            (status, v["reason"].as_str()),
            (StatusCode::BAD_REQUEST, Some("bad_enrollment_token"))
        );
    }
    // A name is one agent's.
    let (status, v) = gw.enroll_with(&gw.token().await, "box-1", json!({})).await;
    assert_eq!(
        (status, v["reason"].as_str()),
        (StatusCode::BAD_REQUEST, Some("name_taken"))
    );

    let (status, v) = gw.heartbeat(&agent, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["drain"], false);
    assert!(gw.poll(&agent, 0).await.is_empty());

    let run_id = gw
        .queue(json!({"prompt": "say hi", "name": "hello", "labels": {"os": "linux"}, "session": true}))
        .await;
    assert_eq!(gw.run(&run_id).await["status"], "queued");
    let taken = gw.poll(&agent, 0).await;
    assert_eq!(taken.len(), 1, "{taken:?}");
    assert_eq!(taken[0]["run_id"], run_id.as_str());
    assert_eq!(taken[0]["name"], "hello");
    assert_eq!(taken[0]["request"]["prompt"], "say hi");
    assert_eq!(taken[0]["request"]["session"], true);
    let run = gw.run(&run_id).await;
    assert_eq!(
        (run["status"].as_str(), run["agent"].as_str()),
        (Some("pending"), Some("box-1"))
    );
    assert!(gw.poll(&agent, 0).await.is_empty(), "taken once");

    // The key handed out signs the run's events.
    let key = hex::decode(taken[0]["key"].as_str().unwrap()).unwrap();
    let line = Event {
        sequence: 1,
        kind: EventKind::Stdout,
        data: json!("hi"),
        ts: 1,
    };
    let (status, v) = send_json(&gw.state, support::ingest(&run_id, &key, vec![line])).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(gw.run(&run_id).await["status"], "running");

    let (_, agents) = gw.admin("GET", "/api/agents", None).await;
    let listed = &agents.as_array().unwrap()[0];
    assert_eq!(
        (listed["name"].as_str(), listed["running"].as_u64()),
        (Some("box-1"), Some(1))
    );
    assert_eq!(listed["online"], true);
    assert!(listed.get("key").is_none(), "{listed}");

    // An agent's key acts for the agent only: not for the shared secret.
    let caller = format!("agent:{}", agent.id);
    let (status, v) = send_json(
        &gw.state,
        signed(
            "POST",
            "/api/runner/runs",
            &caller,
            &agent.key,
            b"{}".to_vec(),
        ),
    )
    .await;
    assert_eq!(
        (status, v["reason"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("bad_signature"))
    );
    // And a run's key does not make an agent.
    let (status, v) = send_json(
        &gw.state,
        signed("GET", "/api/agent/assignments", &run_id, &key, Vec::new()),
    )
    .await;
    assert_eq!(
        (status, v["reason"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unknown_agent"))
    );
    // Nor does a made-up agent.
    let (status, v) = send_json(
        &gw.state,
        signed(
            "GET",
            "/api/agent/assignments",
            "agent:a_nobody",
            &agent.key,
            Vec::new(),
        ),
    )
    .await;
    assert_eq!(
        (status, v["reason"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unknown_agent"))
    );

    let (status, _) = gw
        .admin("POST", &format!("/api/agents/{}/revoke", agent.id), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    for (method, path) in [
        ("POST", "/api/agent/heartbeat"),
        ("GET", "/api/agent/assignments"),
    ] {
        let body = (method == "POST").then(|| json!({"capacity": 1}));
        let (status, v) = gw.as_agent(&agent, method, path, body).await;
        assert_eq!(
            (status, v["reason"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("agent_revoked")),
            "{method} {path}"
        );
    }
}

#[tokio::test]
async fn a_waiting_poll_is_woken_by_a_run_it_may_take_and_cancelled_runs_never_start() {
    let gw = Gw::new().await;
    let web = gw.enroll("web", json!({"repo": "web"})).await;
    let cancelled = gw
        .queue(json!({"prompt": "never", "labels": {"repo": "web"}}))
        .await;
    let (status, _) = gw
        .admin("POST", &format!("/api/runs/{cancelled}/cancel"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let run = gw.run(&cancelled).await;
    assert_eq!(run["status"], "stopped");
    assert_eq!(run["reason"], "cancelled while queued");
    let (status, v) = gw
        .admin("POST", &format!("/api/runs/{cancelled}/cancel"), None)
        .await;
    assert_eq!(
        (status, v["reason"].as_str()),
        (StatusCode::BAD_REQUEST, Some("not_queued"))
    );

    let waiting = {
        let gw_state = gw.state.clone();
        let (id, key) = (web.id.clone(), web.key.clone());
        tokio::spawn(async move {
            let caller = format!("agent:{id}");
            send_json(
                &gw_state,
                signed(
                    "GET",
                    "/api/agent/assignments?wait=30",
                    &caller,
                    &key,
                    Vec::new(),
                ),
            )
            .await
        })
    };
    // Not for this agent: it keeps waiting.
    gw.queue(json!({"prompt": "api work", "labels": {"repo": "api"}}))
        .await;
    let wanted = gw
        .queue(json!({"prompt": "web work", "agent": "web"}))
        .await;
    let (status, v) = tokio::time::timeout(Duration::from_secs(20), waiting)
        .await
        .expect("the poll answers once a run it may take is queued")
        .unwrap();
    assert_eq!(status, StatusCode::OK);
    let ids: Vec<_> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["run_id"].clone())
        .collect();
    assert_eq!(ids, [json!(wanted)]);
    assert_eq!(gw.run(&cancelled).await["status"], "stopped");
}

#[tokio::test]
async fn a_returning_agent_loses_the_runs_it_does_not_hold_and_can_be_drained() {
    let gw = Gw::new().await;
    let agent = gw.enroll("box", json!({})).await;
    let a = gw.queue(json!({"prompt": "a", "queue": true})).await;
    let b = gw.queue(json!({"prompt": "b", "queue": true})).await;
    assert_eq!(gw.poll(&agent, 0).await.len(), 2);
    gw.state.store.mark_agents_offline(i64::MAX).await.unwrap();
    assert_eq!(gw.run(&a).await["agent_offline"], true);

    let (status, v) = gw.heartbeat(&agent, json!({"holding": [b]})).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v["lost"], json!([a]));
    let lost = gw.run(&a).await;
    assert_eq!(lost["status"], "lost");
    assert_eq!(lost["reason"], "the agent restarted without this run");
    let kept = gw.run(&b).await;
    assert_eq!(kept["status"], "pending");
    assert!(kept.get("agent_offline").is_none(), "online again: {kept}");

    let (status, _) = gw
        .admin("POST", &format!("/api/agents/{}/drain", agent.id), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, v) = gw.heartbeat(&agent, json!({})).await;
    assert_eq!(v["drain"], true);
    gw.queue(json!({"prompt": "c", "queue": true})).await;
    assert!(
        gw.poll(&agent, 0).await.is_empty(),
        "a drained agent takes nothing"
    );
    gw.admin(
        "POST",
        &format!("/api/agents/{}/drain", agent.id),
        Some(json!({"drain": false})),
    )
    .await;
    // Capacity 2: b holds one slot, the lost run freed the other.
    assert_eq!(gw.poll(&agent, 0).await.len(), 1);
}

#[tokio::test]
async fn an_api_token_queues_and_waits_and_its_scopes_bound_it() {
    let gw = Gw::new().await;
    let (status, v) = gw
        .admin(
            "POST",
            "/api/tokens",
            Some(json!({"name": "ci", "scopes": ["create_runs"]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let token = v["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("at_"));
    let id = v["id"].as_str().unwrap().to_string();
    let (_, listed) = gw.admin("GET", "/api/tokens", None).await;
    assert!(
        !listed.to_string().contains(&token),
        "never shown again: {listed}"
    );
    let call = |method: &str, path: &str, body: Option<Value>| {
        Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(body.map_or(Body::empty(), |b| Body::from(b.to_string())))
            .unwrap()
    };
    // No agent: the wait runs out and the run is still queued.
    let (status, v) = send_json(
        &gw.state,
        call(
            "POST",
            "/api/runs",
            Some(json!({"prompt": "hi", "wait": 1})),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(v["status"], "queued");
    assert_eq!(v["messages"], json!([]));
    assert_eq!(v["session_id"], Value::Null);
    let run_id = v["run_id"].as_str().unwrap().to_string();
    // create_runs does not read: the token is known, its scope falls short.
    let (status, v) = send_json(&gw.state, call("GET", &format!("/api/runs/{run_id}"), None)).await;
    assert_eq!(
        (status, v["reason"].as_str()),
        (StatusCode::FORBIDDEN, Some("scope_required"))
    );
    // A continue that names nothing is refused.
    let (status, v) = send_json(
        &gw.state,
        call(
            "POST",
            "/api/runs",
            Some(json!({"prompt": "again", "continue": run_id})),
        ),
    )
    .await;
    assert_eq!(
        (status, v["reason"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unknown_session"))
    );
    let (status, _) = gw.admin("DELETE", &format!("/api/tokens/{id}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, v) = send_json(
        &gw.state,
        call(
            "POST",
            "/api/runs",
            Some(json!({"prompt": "hi", "queue": true})),
        ),
    )
    .await;
    assert_eq!(
        (status, v["reason"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("token_revoked"))
    );
}

#[tokio::test]
async fn an_agent_going_offline_or_losing_a_run_notifies_once_for_each_run_it_held() {
    let gw = Gw::new().await;
    let (status, hook) = gw
        .admin(
            "POST",
            "/api/webhooks",
            Some(json!({"url": "http://127.0.0.1:9/hook", "events": ["agent_offline"]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{hook}");
    let agent = gw.enroll("box", json!({})).await;
    let held = gw
        .queue(json!({"prompt": "secret plan", "name": "nightly", "queue": true}))
        .await;
    assert_eq!(gw.poll(&agent, 0).await.len(), 1);
    // Queued for nobody in particular and not taken: no agent went away with it.
    let waiting = gw.queue(json!({"prompt": "later", "agent": "other"})).await;

    gateway::agents::sweep(&gw.state, i64::MAX).await;
    let log = gw.state.store.outbound_log(None, 10).await.unwrap();
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0].event, gateway::store::NotifyEvent::AgentOffline);
    assert_eq!(log[0].run_id.as_deref(), Some(held.as_str()));
    assert!(log[0].body.contains("nightly"), "{}", log[0].body);
    assert!(
        !log[0].body.contains("secret plan"),
        "no prompt in a notice"
    );
    assert!(
        !log.iter()
            .any(|o| o.run_id.as_deref() == Some(waiting.as_str()))
    );

    // Still offline at the next sweep: nothing new.
    gateway::agents::sweep(&gw.state, i64::MAX).await;
    assert_eq!(
        gw.state.store.outbound_log(None, 10).await.unwrap().len(),
        1
    );

    // Back without the run: it is lost, and those who hear of failures hear of it.
    let (_, hook) = gw
        .admin(
            "POST",
            "/api/webhooks",
            Some(json!({"url": "http://127.0.0.1:9/failures", "events": ["failed"]})),
        )
        .await;
    let (status, v) = gw.heartbeat(&agent, json!({"holding": []})).await;
    assert_eq!((status, &v["lost"]), (StatusCode::OK, &json!([held])));
    let target = gateway::store::Target::Webhook(hook["id"].as_str().unwrap().into());
    let failed = gw.state.store.outbound_log(Some(target), 10).await.unwrap();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0].event, gateway::store::NotifyEvent::Failed);
    assert!(failed[0].body.contains("\"lost\""), "{}", failed[0].body);
}
