//! Every route, called by everyone: no credential, a wrong token, the metrics token, the admin
//! token. What each may reach follows the requirement in the route's handler signature
//! (`Authorized<R>` for people, `Signed<R>` for runners); this walks the table through the whole
//! router, so a route added without its extractor fails here.

mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::Secret;
use serde_json::Value;

const METRICS: &str = "metrics-token-for-access-tests";

/// Who a route admits.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Admits {
    /// Anyone: health, the page, sign-in.
    Anyone,
    /// The admin (token or session).
    Admin,
    /// The admin, or an API token with `read_runs`.
    Read,
    /// The admin, or an API token with `create_runs`.
    Create,
    /// The admin or the metrics token.
    Metrics,
    /// A runner's signature only.
    Runner,
}

/// Every route the router serves, with an id no run has (nothing is changed by the calls).
const ROUTES: &[(&str, &str, Admits)] = &[
    ("GET", "/api/health", Admits::Anyone),
    ("GET", "/", Admits::Anyone),
    ("GET", "/runs/r_nobody", Admits::Anyone),
    ("GET", "/assets/app.mjs", Admits::Anyone),
    ("POST", "/api/session", Admits::Anyone),
    ("DELETE", "/api/session", Admits::Anyone),
    ("GET", "/api/runs", Admits::Read),
    ("POST", "/api/runs", Admits::Create),
    ("POST", "/api/runs/r_nobody/prompt", Admits::Create),
    ("GET", "/api/tokens", Admits::Admin),
    ("POST", "/api/tokens", Admits::Admin),
    ("DELETE", "/api/tokens/t_nobody", Admits::Admin),
    ("GET", "/api/runs/r_nobody", Admits::Read),
    ("DELETE", "/api/runs/r_nobody", Admits::Admin),
    ("GET", "/api/runs/r_nobody/events", Admits::Read),
    ("POST", "/api/runs/r_nobody/commands", Admits::Admin),
    ("POST", "/api/runs/r_nobody/permissions/pr_1", Admits::Admin),
    ("GET", "/api/runs/r_nobody/stream", Admits::Read),
    ("GET", "/api/stream", Admits::Read),
    ("GET", "/api/runs/r_nobody/artifacts", Admits::Read),
    ("GET", "/api/runs/r_nobody/artifacts/a.log", Admits::Read),
    ("GET", "/api/runs/r_nobody/transcript", Admits::Read),
    ("GET", "/api/runs/r_nobody/transcript.md", Admits::Read),
    ("GET", "/api/runs/r_nobody/transcript.json", Admits::Read),
    ("GET", "/api/agents", Admits::Read),
    ("POST", "/api/agents/enrollments", Admits::Admin),
    ("POST", "/api/agents/a_nobody/revoke", Admits::Admin),
    ("POST", "/api/agents/a_nobody/drain", Admits::Admin),
    ("POST", "/api/runs/r_nobody/cancel", Admits::Admin),
    // The one-time enrollment token in the body is the credential.
    ("POST", "/api/agent/enroll", Admits::Anyone),
    ("POST", "/api/agent/heartbeat", Admits::Runner),
    ("GET", "/api/runs/r_nobody/resume-archive", Admits::Runner),
    ("GET", "/api/agent/assignments", Admits::Runner),
    ("GET", "/metrics", Admits::Metrics),
    ("GET", "/api/runner/ping", Admits::Runner),
    ("POST", "/api/runner/runs", Admits::Runner),
    ("POST", "/api/ingest/event", Admits::Runner),
    (
        "POST",
        "/api/ingest/artifact?run_id=r_nobody&name=a.log",
        Admits::Runner,
    ),
    ("GET", "/api/runs/r_nobody/commands", Admits::Runner),
    ("POST", "/api/runs/r_nobody/commands/c1/ack", Admits::Runner),
    ("GET", "/api/runs/r_nobody/assist", Admits::Runner),
    ("POST", "/api/runs/r_nobody/assist", Admits::Runner),
];

#[tokio::test]
async fn every_route_admits_only_whom_its_handler_requires() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = support::plain_config(dir.path());
    config.metrics_token = Some(Secret::new(METRICS));
    let gw = gateway::Gateway::open(config, "127.0.0.1:3100".parse().unwrap())
        .await
        .unwrap();
    let admin = gw.new_admin_token.as_ref().unwrap().expose().to_string();
    let mut tokens = Vec::new();
    for scope in ["read_runs", "create_runs"] {
        let (status, v) = support::send_json(
            &gw.state,
            Request::post("/api/tokens")
                .header(header::AUTHORIZATION, format!("Bearer {admin}"))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(
                    serde_json::json!({"name": scope, "scopes": [scope]}).to_string(),
                ))
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{v}");
        tokens.push(v["token"].as_str().unwrap().to_string());
    }
    let callers = [
        ("nobody", None),
        ("a wrong token", Some("not-a-token".to_string())),
        ("a made-up API token", Some("at_not-a-token".to_string())),
        ("the metrics token", Some(METRICS.to_string())),
        ("a read_runs token", Some(tokens[0].clone())),
        ("a create_runs token", Some(tokens[1].clone())),
        ("the admin token", Some(admin)),
    ];
    for &(method, path, admits) in ROUTES {
        for (who, token) in &callers {
            let mut req = Request::builder().method(method).uri(path);
            if let Some(t) = token {
                req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
            }
            let resp = support::send(&gw.state, req.body(Body::empty()).unwrap()).await;
            let status = resp.status();
            // Only a refusal's body is read: an admitted stream would never end.
            let reason = if status == StatusCode::UNAUTHORIZED {
                let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
                    .await
                    .unwrap();
                serde_json::from_slice::<Value>(&bytes)
                    .ok()
                    .and_then(|b| b["reason"].as_str().map(String::from))
            } else {
                None
            };
            let admitted = match admits {
                Admits::Anyone => true,
                Admits::Admin => *who == "the admin token",
                Admits::Read => matches!(*who, "the admin token" | "a read_runs token"),
                Admits::Create => matches!(*who, "the admin token" | "a create_runs token"),
                Admits::Metrics => matches!(*who, "the admin token" | "the metrics token"),
                Admits::Runner => false,
            };
            let expected_reason = match admits {
                Admits::Runner => "missing_header",
                _ => "admin_required",
            };
            if admitted {
                assert!(
                    status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
                    "{method} {path} by {who}: {status} {reason:?}"
                );
            } else {
                assert_eq!(
                    (status, reason.as_deref()),
                    (StatusCode::UNAUTHORIZED, Some(expected_reason)),
                    "{method} {path} by {who}"
                );
            }
        }
    }
}
