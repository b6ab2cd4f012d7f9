//! Every route, called by everyone: no credential, a wrong token, the metrics token, the admin
//! token, API tokens of each scope, and a signed-in viewer, operator and admin. What each may reach follows the requirement
//! in the route's handler signature (`Authorized<R>` for people, `Signed<R>` for runners); this
//! walks the table through the whole router, and checks the table against the routes the source
//! declares, so a route added without a row (or without its extractor) fails here.

mod support;

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::Secret;
use gateway::state::AppState;
use gateway::store::{Person, Role};
use serde_json::Value;

const METRICS: &str = "metrics-token-for-access-tests";

/// Who a route admits.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Admits {
    /// Anyone: health, the page, sign-in, joining by invitation.
    Anyone,
    /// Viewers and up (the admin token included).
    Viewer,
    /// Operators and up.
    Operator,
    /// Admins (a session or the admin token).
    Admin,
    /// Operators and up, or an API token with `create_runs`.
    Create,
    /// Admins or the metrics token.
    Metrics,
    /// A runner's signature only.
    Runner,
    /// A live session (whoever it is): how the page learns who it is after a reload.
    Session,
}

/// Every route the router serves: the method, the path as the source declares it, a path to call
/// (an id no run or person has, so nothing is changed by the calls), and who it admits.
const ROUTES: &[(&str, &str, &str, Admits)] = &[
    ("GET", "/api/health", "/api/health", Admits::Anyone),
    ("GET", "/api/version", "/api/version", Admits::Anyone),
    ("GET", "/", "/", Admits::Anyone),
    ("GET", "/runs/{id}", "/runs/r_nobody", Admits::Anyone),
    ("GET", "/join", "/join", Admits::Anyone),
    ("GET", "/pair", "/pair", Admits::Anyone),
    ("POST", "/api/pair", "/api/pair", Admits::Anyone),
    ("POST", "/api/me/pairing", "/api/me/pairing", Admits::Viewer),
    ("GET", "/people", "/people", Admits::Anyone),
    ("GET", "/account", "/account", Admits::Anyone),
    ("GET", "/audit", "/audit", Admits::Anyone),
    ("GET", "/assets/{name}", "/assets/app.mjs", Admits::Anyone),
    ("GET", "/sw.js", "/sw.js", Admits::Anyone),
    (
        "GET",
        "/manifest.webmanifest",
        "/manifest.webmanifest",
        Admits::Anyone,
    ),
    ("POST", "/api/session", "/api/session", Admits::Anyone),
    ("GET", "/api/session", "/api/session", Admits::Session),
    ("DELETE", "/api/session", "/api/session", Admits::Anyone),
    ("POST", "/api/join", "/api/join", Admits::Anyone),
    ("POST", "/api/join/check", "/api/join/check", Admits::Anyone),
    (
        "POST",
        "/api/join/passkey",
        "/api/join/passkey",
        Admits::Anyone,
    ),
    (
        "POST",
        "/api/join/passkey/options",
        "/api/join/passkey/options",
        Admits::Anyone,
    ),
    (
        "POST",
        "/api/session/passkey",
        "/api/session/passkey",
        Admits::Anyone,
    ),
    (
        "POST",
        "/api/session/passkey/options",
        "/api/session/passkey/options",
        Admits::Anyone,
    ),
    (
        "GET",
        "/api/me/passkeys",
        "/api/me/passkeys",
        Admits::Viewer,
    ),
    (
        "POST",
        "/api/me/passkeys",
        "/api/me/passkeys",
        Admits::Viewer,
    ),
    (
        "POST",
        "/api/me/passkeys/options",
        "/api/me/passkeys/options",
        Admits::Viewer,
    ),
    ("GET", "/api/me", "/api/me", Admits::Viewer),
    (
        "GET",
        "/api/me/sessions",
        "/api/me/sessions",
        Admits::Viewer,
    ),
    (
        "DELETE",
        "/api/me/sessions",
        "/api/me/sessions",
        Admits::Viewer,
    ),
    (
        "DELETE",
        "/api/me/sessions/{id}",
        "/api/me/sessions/00",
        Admits::Viewer,
    ),
    ("GET", "/api/people", "/api/people", Admits::Admin),
    (
        "PATCH",
        "/api/people/{id}",
        "/api/people/p_nobody",
        Admits::Admin,
    ),
    ("GET", "/api/invitations", "/api/invitations", Admits::Admin),
    (
        "POST",
        "/api/invitations",
        "/api/invitations",
        Admits::Admin,
    ),
    ("GET", "/api/audit", "/api/audit", Admits::Admin),
    ("GET", "/api/audit.jsonl", "/api/audit.jsonl", Admits::Admin),
    ("GET", "/api/runs", "/api/runs", Admits::Viewer),
    ("POST", "/api/runs", "/api/runs", Admits::Create),
    (
        "POST",
        "/api/runs/{id}/prompt",
        "/api/runs/r_nobody/prompt",
        Admits::Create,
    ),
    ("GET", "/api/tokens", "/api/tokens", Admits::Admin),
    ("POST", "/api/tokens", "/api/tokens", Admits::Admin),
    (
        "DELETE",
        "/api/tokens/{id}",
        "/api/tokens/t_nobody",
        Admits::Admin,
    ),
    ("GET", "/api/agents", "/api/agents", Admits::Viewer),
    (
        "POST",
        "/api/agents/enrollments",
        "/api/agents/enrollments",
        Admits::Admin,
    ),
    (
        "POST",
        "/api/agents/{id}/revoke",
        "/api/agents/a_nobody/revoke",
        Admits::Admin,
    ),
    (
        "POST",
        "/api/agents/{id}/drain",
        "/api/agents/a_nobody/drain",
        Admits::Admin,
    ),
    (
        "POST",
        "/api/runs/{id}/cancel",
        "/api/runs/r_nobody/cancel",
        Admits::Operator,
    ),
    // The one-time enrollment token in the body is the credential.
    (
        "POST",
        "/api/agent/enroll",
        "/api/agent/enroll",
        Admits::Anyone,
    ),
    (
        "POST",
        "/api/agent/heartbeat",
        "/api/agent/heartbeat",
        Admits::Runner,
    ),
    (
        "GET",
        "/api/agent/assignments",
        "/api/agent/assignments",
        Admits::Runner,
    ),
    (
        "GET",
        "/api/runs/{id}/resume-archive",
        "/api/runs/r_nobody/resume-archive",
        Admits::Runner,
    ),
    (
        "GET",
        "/api/runs/{id}",
        "/api/runs/r_nobody",
        Admits::Viewer,
    ),
    (
        "DELETE",
        "/api/runs/{id}",
        "/api/runs/r_nobody",
        Admits::Admin,
    ),
    (
        "GET",
        "/api/runs/{id}/events",
        "/api/runs/r_nobody/events",
        Admits::Viewer,
    ),
    (
        "POST",
        "/api/runs/{id}/commands",
        "/api/runs/r_nobody/commands",
        Admits::Operator,
    ),
    (
        "POST",
        "/api/runs/{id}/permissions/{request_id}",
        "/api/runs/r_nobody/permissions/pr_1",
        Admits::Operator,
    ),
    (
        "PUT",
        "/api/runs/{id}/pin",
        "/api/runs/r_nobody/pin",
        Admits::Operator,
    ),
    (
        "DELETE",
        "/api/runs/{id}/pin",
        "/api/runs/r_nobody/pin",
        Admits::Operator,
    ),
    ("GET", "/api/retention", "/api/retention", Admits::Viewer),
    (
        "GET",
        "/api/runs/{id}/activity",
        "/api/runs/r_nobody/activity",
        Admits::Viewer,
    ),
    (
        "GET",
        "/api/runs/{id}/stream",
        "/api/runs/r_nobody/stream",
        Admits::Viewer,
    ),
    ("GET", "/api/stream", "/api/stream", Admits::Viewer),
    (
        "GET",
        "/api/runs/{id}/artifacts",
        "/api/runs/r_nobody/artifacts",
        Admits::Viewer,
    ),
    (
        "GET",
        "/api/runs/{id}/artifacts/{name}",
        "/api/runs/r_nobody/artifacts/a.log",
        Admits::Viewer,
    ),
    (
        "GET",
        "/api/runs/{id}/transcript",
        "/api/runs/r_nobody/transcript",
        Admits::Viewer,
    ),
    (
        "GET",
        "/api/runs/{id}/transcript.md",
        "/api/runs/r_nobody/transcript.md",
        Admits::Viewer,
    ),
    (
        "GET",
        "/api/runs/{id}/transcript.json",
        "/api/runs/r_nobody/transcript.json",
        Admits::Viewer,
    ),
    (
        "GET",
        "/api/runs/{id}/search",
        "/api/runs/r_nobody/search?q=x",
        Admits::Viewer,
    ),
    ("GET", "/api/search", "/api/search?q=x", Admits::Viewer),
    ("GET", "/api/webhooks", "/api/webhooks", Admits::Admin),
    ("POST", "/api/webhooks", "/api/webhooks", Admits::Admin),
    (
        "DELETE",
        "/api/webhooks/{id}",
        "/api/webhooks/wh_nobody",
        Admits::Admin,
    ),
    (
        "GET",
        "/api/webhooks/{id}/deliveries",
        "/api/webhooks/wh_nobody/deliveries",
        Admits::Admin,
    ),
    ("GET", "/api/push/key", "/api/push/key", Admits::Viewer),
    (
        "GET",
        "/api/push/subscriptions",
        "/api/push/subscriptions",
        Admits::Viewer,
    ),
    (
        "POST",
        "/api/push/subscriptions",
        "/api/push/subscriptions",
        Admits::Viewer,
    ),
    (
        "DELETE",
        "/api/push/subscriptions/{id}",
        "/api/push/subscriptions/ps_nobody",
        Admits::Operator,
    ),
    (
        "POST",
        "/api/push/action",
        "/api/push/action",
        Admits::Operator,
    ),
    ("GET", "/metrics", "/metrics", Admits::Metrics),
    (
        "GET",
        "/api/runner/ping",
        "/api/runner/ping",
        Admits::Runner,
    ),
    (
        "POST",
        "/api/runner/runs",
        "/api/runner/runs",
        Admits::Runner,
    ),
    (
        "POST",
        "/api/ingest/event",
        "/api/ingest/event",
        Admits::Runner,
    ),
    (
        "POST",
        "/api/ingest/artifact",
        "/api/ingest/artifact?run_id=r_nobody&name=a.log",
        Admits::Runner,
    ),
    (
        "GET",
        "/api/runs/{id}/commands",
        "/api/runs/r_nobody/commands",
        Admits::Runner,
    ),
    (
        "POST",
        "/api/runs/{id}/commands/{cid}/ack",
        "/api/runs/r_nobody/commands/c1/ack",
        Admits::Runner,
    ),
    (
        "GET",
        "/api/runs/{id}/assist",
        "/api/runs/r_nobody/assist",
        Admits::Runner,
    ),
    (
        "POST",
        "/api/runs/{id}/assist",
        "/api/runs/r_nobody/assist",
        Admits::Runner,
    ),
];

/// Who calls: a bearer token, or a person of a role signed in with a session.
#[derive(Debug, Clone)]
enum Caller {
    Nobody,
    Token(&'static str, String),
    Session(Role),
}

impl Caller {
    fn name(&self) -> String {
        match self {
            Caller::Nobody => "nobody".into(),
            Caller::Token(who, _) => (*who).into(),
            Caller::Session(role) => format!("a signed-in {}", role.as_str()),
        }
    }

    /// The role it acts with, if any.
    fn role(&self) -> Option<Role> {
        match self {
            Caller::Token("the admin token", _) => Some(Role::Admin),
            Caller::Session(role) => Some(*role),
            _ => None,
        }
    }
}

/// A person of `role`, in the store.
async fn person(state: &AppState, role: Role) -> String {
    let id = format!("p_{}", role.as_str());
    state
        .store
        .create_person(Person {
            id: id.clone(),
            name: format!("{} person", role.as_str()),
            role,
            created_at: 1,
            disabled_at: None,
            password_hash: None,
        })
        .await
        .unwrap();
    id
}

/// `method path` as `caller` sends it; a session is a fresh one each time (some routes end it).
async fn request(state: &AppState, caller: &Caller, method: &str, path: &str) -> Request<Body> {
    let mut req = Request::builder().method(method).uri(path);
    match caller {
        Caller::Nobody => {}
        Caller::Token(_, token) => {
            req = req.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        Caller::Session(role) => {
            let id = format!("p_{}", role.as_str());
            let value = state
                .sessions
                .start(
                    state.store.as_ref(),
                    &id,
                    String::new(),
                    gateway::clock::now_ms(),
                )
                .await
                .unwrap();
            req = req
                .header(
                    header::COOKIE,
                    format!("{}={value}", gateway::web_session::COOKIE),
                )
                .header(
                    gateway::web_session::CSRF_HEADER,
                    gateway::web_session::csrf_token(&value),
                );
        }
    }
    req.body(Body::empty()).unwrap()
}

#[tokio::test]
async fn every_route_admits_only_whom_its_handler_requires() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = support::plain_config(dir.path());
    config.metrics_token = Some(Secret::new(METRICS));
    let gw = gateway::Gateway::open(config, "127.0.0.1:3100".parse().unwrap())
        .await
        .unwrap();
    let state = &gw.state;
    for role in Role::ALL {
        person(state, role).await;
    }
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
        Caller::Nobody,
        Caller::Token("a wrong token", "not-a-token".into()),
        Caller::Token("the metrics token", METRICS.into()),
        Caller::Token("the admin token", admin),
        Caller::Session(Role::Viewer),
        Caller::Session(Role::Operator),
        Caller::Session(Role::Admin),
        Caller::Token("a made-up API token", "at_not-a-token".into()),
        Caller::Token("a read_runs token", tokens[0].clone()),
        Caller::Token("a create_runs token", tokens[1].clone()),
    ];
    for &(method, _, path, admits) in ROUTES {
        for caller in &callers {
            let who = caller.name();
            let resp = support::send(state, request(state, caller, method, path).await).await;
            let status = resp.status();
            // Only a refusal's body is read: an admitted stream would never end.
            let reason = if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
                let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
                    .await
                    .unwrap();
                serde_json::from_slice::<Value>(&bytes)
                    .ok()
                    .and_then(|b| b["reason"].as_str().map(String::from))
            } else {
                None
            };
            let role = caller.role();
            let admitted = match admits {
                Admits::Anyone => true,
                // Read runs also admits an API token with `read_runs`.
                Admits::Viewer => role >= Some(Role::Viewer) || who == "a read_runs token",
                Admits::Operator => role >= Some(Role::Operator),
                Admits::Create => role >= Some(Role::Operator) || who == "a create_runs token",
                Admits::Admin => role == Some(Role::Admin),
                Admits::Metrics => role == Some(Role::Admin) || who == "the metrics token",
                Admits::Runner => false,
                Admits::Session => matches!(caller, Caller::Session(_)),
            };
            let expected = match (admits, role) {
                (Admits::Runner, _) => (StatusCode::UNAUTHORIZED, "missing_header"),
                (Admits::Session, _) => (StatusCode::UNAUTHORIZED, "signed_out"),
                // Known, but their role falls short.
                (_, Some(_)) => (StatusCode::FORBIDDEN, "role_required"),
                (_, None) => (StatusCode::UNAUTHORIZED, "admin_required"),
            };
            if admitted {
                assert!(
                    status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
                    "{method} {path} by {who}: {status} {reason:?}"
                );
            } else {
                assert_eq!(
                    (status, reason.as_deref()),
                    (expected.0, Some(expected.1)),
                    "{method} {path} by {who}"
                );
            }
        }
    }
}

/// The `(method, path)` pairs `routes/*.rs` declares with `.route("path", get(…).post(…))`.
fn declared_routes() -> BTreeSet<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/routes");
    let mut out = BTreeSet::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let src = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for (at, _) in src.match_indices(".route(") {
            let rest = src[at + ".route(".len()..].trim_start();
            let Some(rest) = rest.strip_prefix('"') else {
                continue;
            };
            let path = &rest[..rest.find('"').unwrap()];
            // The call's arguments: up to the parenthesis that closes `.route(`.
            let mut depth = 1;
            let args: String = rest
                .chars()
                .take_while(|&c| {
                    depth += match c {
                        '(' => 1,
                        ')' => -1,
                        _ => 0,
                    };
                    depth > 0
                })
                .collect();
            for method in ["get", "post", "put", "patch", "delete"] {
                let called = args.match_indices(&format!("{method}(")).any(|(i, _)| {
                    i == 0 || !args[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_')
                });
                if called {
                    out.insert((method.to_uppercase(), path.to_string()));
                }
            }
        }
    }
    out
}

#[test]
fn the_table_names_every_route_the_source_declares() {
    let declared = declared_routes();
    assert!(
        declared.len() > 30,
        "the scan found the routes: {declared:?}"
    );
    let table: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p, _, _)| (m.to_string(), p.to_string()))
        .collect();
    let missing: Vec<_> = declared.difference(&table).collect();
    let stale: Vec<_> = table.difference(&declared).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "routes without a row in ROUTES: {missing:?}; rows without a route: {stale:?}"
    );
}
