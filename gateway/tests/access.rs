//! Every route, called by everyone: no credential, a wrong token, the metrics token, the admin
//! token, API tokens of each scope (an admin's, and an operator's and a viewer's, whose role caps
//! them), an expired and a revoked token, and a signed-in viewer, operator and admin. What each
//! may reach follows the requirement in the route's handler signature (`Authorized<R>` for people
//! and tokens, `Signed<R>` for runners); this walks the table through the whole router, and
//! checks the table against the routes the source declares, so a route added without a row (or
//! without its extractor) fails here, and so does a rule removed from a handler.

mod support;

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::Secret;
use gateway::state::AppState;
use gateway::store::{Person, Role};
use serde_json::{Value, json};

const METRICS: &str = "metrics-token-for-access-tests";

/// Who a route admits.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Admits {
    /// Anyone: health, the page, sign-in, joining by invitation.
    Anyone,
    /// Viewers and up; tokens with `read_runs`.
    Viewer,
    /// Operators and up; tokens with `create_runs` (commands, stop, cancel, pin).
    Operator,
    /// Operators and up; tokens with `create_runs` (start a run, send it a prompt).
    Create,
    /// Operators and up; tokens with `approve`.
    Approve,
    /// Admins; admins' tokens with `admin`.
    Admin,
    /// Admins (as above) or the metrics token.
    Metrics,
    /// A runner's signature only.
    Runner,
    /// A live session (whoever it is): how the page learns who it is after a reload.
    Session,
    /// A signed-in person of any role, never a token: sessions, passkeys, pairing.
    SignedIn,
    /// A signed-in person of any role, or a token with `admin`: one's API tokens.
    Tokens,
}

impl Admits {
    /// The role and token scope the route's requirement names, for those that name both.
    fn rule(self) -> Option<(Role, &'static str)> {
        Some(match self {
            Admits::Viewer => (Role::Viewer, "read_runs"),
            Admits::Operator | Admits::Create => (Role::Operator, "create_runs"),
            Admits::Approve => (Role::Operator, "approve"),
            Admits::Admin | Admits::Metrics => (Role::Admin, "admin"),
            Admits::Tokens => (Role::Viewer, "admin"),
            _ => return None,
        })
    }
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
    (
        "POST",
        "/api/me/pairing",
        "/api/me/pairing",
        Admits::SignedIn,
    ),
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
        Admits::SignedIn,
    ),
    (
        "POST",
        "/api/me/passkeys",
        "/api/me/passkeys",
        Admits::SignedIn,
    ),
    (
        "POST",
        "/api/me/passkeys/options",
        "/api/me/passkeys/options",
        Admits::SignedIn,
    ),
    ("GET", "/api/me", "/api/me", Admits::Viewer),
    (
        "GET",
        "/api/me/sessions",
        "/api/me/sessions",
        Admits::SignedIn,
    ),
    (
        "DELETE",
        "/api/me/sessions",
        "/api/me/sessions",
        Admits::SignedIn,
    ),
    (
        "DELETE",
        "/api/me/sessions/{id}",
        "/api/me/sessions/00",
        Admits::SignedIn,
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
    ("GET", "/api/tokens", "/api/tokens", Admits::Tokens),
    ("POST", "/api/tokens", "/api/tokens", Admits::Tokens),
    (
        "DELETE",
        "/api/tokens/{id}",
        "/api/tokens/t_nobody",
        Admits::Tokens,
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
        Admits::Approve,
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
        Admits::Approve,
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

/// Who calls, and what they are.
#[derive(Debug, Clone)]
enum Caller {
    Nobody,
    /// A bearer token nobody has: refused as unknown.
    Unknown(&'static str, String),
    Metrics,
    /// A live API token of a person of `role`, with these scopes.
    Token {
        who: &'static str,
        token: String,
        role: Role,
        scopes: &'static [&'static str],
    },
    /// A token that exists but is refused, and the reason the refusal gives.
    Refused(&'static str, String, &'static str),
    Session(Role),
}

impl Caller {
    fn name(&self) -> String {
        match self {
            Caller::Nobody => "nobody".into(),
            Caller::Metrics => "the metrics token".into(),
            Caller::Unknown(who, _) | Caller::Token { who, .. } | Caller::Refused(who, _, _) => {
                (*who).into()
            }
            Caller::Session(role) => format!("a signed-in {}", role.as_str()),
        }
    }

    /// Whether the caller meets a requirement of `role` and `scope`: a person by role, a
    /// token by its person's role and its scopes.
    fn may(&self, (role, scope): (Role, &str)) -> bool {
        match self {
            Caller::Session(r) => *r >= role,
            Caller::Token {
                role: r, scopes, ..
            } => *r >= role && scopes.contains(&scope),
            _ => false,
        }
    }

    /// The answer to a route of `admits` that does not admit the caller.
    fn refusal(&self, admits: Admits) -> (StatusCode, &'static str) {
        match (admits, self) {
            (Admits::Runner, _) => (StatusCode::UNAUTHORIZED, "missing_header"),
            (Admits::Session, _) => (StatusCode::UNAUTHORIZED, "signed_out"),
            (_, Caller::Refused(_, _, reason)) => (StatusCode::UNAUTHORIZED, reason),
            // Known, but their role (or the token's scopes) falls short.
            (_, Caller::Session(_)) => (StatusCode::FORBIDDEN, "role_required"),
            (_, Caller::Token { .. }) => (StatusCode::FORBIDDEN, "scope_required"),
            _ => (StatusCode::UNAUTHORIZED, "admin_required"),
        }
    }

    fn admitted(&self, admits: Admits) -> bool {
        match admits {
            Admits::Anyone => true,
            Admits::Runner => false,
            Admits::Session | Admits::SignedIn => matches!(self, Caller::Session(_)),
            Admits::Metrics => matches!(self, Caller::Metrics) || self.may(admits.rule().unwrap()),
            _ => self.may(admits.rule().unwrap()),
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

/// A token of `person` with `scopes`, put straight into the store (as if the person's role had
/// changed since it was made), expiring at `expires_at`.
async fn stored_token(
    state: &AppState,
    person: &str,
    scopes: &[&str],
    expires_at: Option<i64>,
) -> String {
    let token = format!("at_{person}_{}", scopes.join("_"));
    let info = common::agents::ApiTokenInfo {
        id: format!("t_{person}_{}", scopes.len()),
        name: "stored".into(),
        person_id: person.into(),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        created_at: 1,
        expires_at,
        first_used_at: None,
        revoked: false,
    };
    state
        .store
        .create_api_token(info, gateway::auth::token_hash(&token))
        .await
        .unwrap();
    token
}

/// `method path` as `caller` sends it; a session is a fresh one each time (some routes end it).
async fn request(state: &AppState, caller: &Caller, method: &str, path: &str) -> Request<Body> {
    let mut req = Request::builder().method(method).uri(path);
    let bearer = match caller {
        Caller::Nobody | Caller::Session(_) => None,
        Caller::Metrics => Some(METRICS),
        Caller::Unknown(_, token) | Caller::Token { token, .. } | Caller::Refused(_, token, _) => {
            Some(token.as_str())
        }
    };
    if let Some(token) = bearer {
        req = req.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    if let Caller::Session(role) = caller {
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
    req.body(Body::empty()).unwrap()
}

/// `POST /api/tokens` by the bearer of `auth`: the answer's status and body.
async fn make_token(state: &AppState, auth: &str, body: Value) -> (StatusCode, Value) {
    support::send_json(
        state,
        Request::post("/api/tokens")
            .header(header::AUTHORIZATION, format!("Bearer {auth}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap(),
    )
    .await
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
    // The admin token is the first admin's (`admin`), with every scope.
    let admin = gw.new_admin_token.as_ref().unwrap().expose().to_string();
    let mut scoped = Vec::new();
    for scope in ["read_runs", "create_runs", "approve", "admin"] {
        let (status, v) =
            make_token(state, &admin, json!({"name": scope, "scopes": [scope]})).await;
        assert_eq!(status, StatusCode::CREATED, "{v}");
        scoped.push(v["token"].as_str().unwrap().to_string());
    }
    let (status, v) = make_token(
        state,
        &admin,
        json!({"name": "soon revoked", "scopes": ["read_runs"]}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let revoked = v["token"].as_str().unwrap().to_string();
    let resp = support::send(
        state,
        Request::delete(format!("/api/tokens/{}", v["id"].as_str().unwrap()))
            .header(header::AUTHORIZATION, format!("Bearer {admin}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    const EVERY: &[&str] = &["read_runs", "create_runs", "approve", "admin"];
    let operator_every = stored_token(state, "p_operator", EVERY, None).await;
    let viewer_every = stored_token(state, "p_viewer", EVERY, None).await;
    let expired = stored_token(state, "p_admin", EVERY, Some(1)).await;
    let token = |who, token: &String, role, scopes| Caller::Token {
        who,
        token: token.clone(),
        role,
        scopes,
    };
    let callers = [
        Caller::Nobody,
        Caller::Unknown("a wrong token", "not-a-token".into()),
        Caller::Unknown("a made-up API token", "at_not-a-token".into()),
        Caller::Metrics,
        token("the admin token", &admin, Role::Admin, EVERY),
        Caller::Session(Role::Viewer),
        Caller::Session(Role::Operator),
        Caller::Session(Role::Admin),
        token("a read_runs token", &scoped[0], Role::Admin, &["read_runs"]),
        token(
            "a create_runs token",
            &scoped[1],
            Role::Admin,
            &["create_runs"],
        ),
        token("an approve token", &scoped[2], Role::Admin, &["approve"]),
        token("an admin token", &scoped[3], Role::Admin, &["admin"]),
        token(
            "an operator's every-scope token",
            &operator_every,
            Role::Operator,
            EVERY,
        ),
        token(
            "a viewer's every-scope token",
            &viewer_every,
            Role::Viewer,
            EVERY,
        ),
        Caller::Refused("an expired token", expired, "token_expired"),
        Caller::Refused("a revoked token", revoked, "token_revoked"),
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
            if caller.admitted(admits) {
                assert!(
                    status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
                    "{method} {path} by {who}: {status} {reason:?}"
                );
            } else {
                let (want_status, want_reason) = caller.refusal(admits);
                assert_eq!(
                    (status, reason.as_deref()),
                    (want_status, Some(want_reason)),
                    "{method} {path} by {who}"
                );
            }
        }
    }
}

/// A token never holds more than its person's role allows, nor more than the token that made
/// it: such requests are refused, and a viewer's token cannot make a session or a passkey.
#[tokio::test]
async fn tokens_are_made_within_their_person_role_and_their_maker() {
    let dir = tempfile::tempdir().unwrap();
    let gw = gateway::Gateway::open(
        support::plain_config(dir.path()),
        "127.0.0.1:3100".parse().unwrap(),
    )
    .await
    .unwrap();
    let state = &gw.state;
    person(state, Role::Viewer).await;
    let viewer = stored_token(state, "p_viewer", &["read_runs", "admin"], None).await;
    let (status, v) = make_token(
        state,
        &viewer,
        json!({"name": "more", "scopes": ["create_runs"]}),
    )
    .await;
    assert_eq!(
        (status, v["reason"].as_str()),
        (StatusCode::FORBIDDEN, Some("role_required"))
    );
    let (status, v) = make_token(
        state,
        &viewer,
        json!({"name": "ok", "scopes": ["read_runs"]}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(v["person_id"], "p_viewer");
    // A token with `admin` alone cannot make one with `read_runs` it lacks.
    let admin = gw.new_admin_token.as_ref().unwrap().expose().to_string();
    let (_, v) = make_token(state, &admin, json!({"name": "adm", "scopes": ["admin"]})).await;
    let admin_only = v["token"].as_str().unwrap().to_string();
    let (status, v) = make_token(
        state,
        &admin_only,
        json!({"name": "wider", "scopes": ["read_runs"]}),
    )
    .await;
    assert_eq!(
        (status, v["reason"].as_str()),
        (StatusCode::FORBIDDEN, Some("role_required"))
    );
    for bad in [
        json!({"name": "x", "scopes": []}),
        json!({"name": "x", "scopes": ["root"]}),
        json!({"name": "", "scopes": ["read_runs"]}),
        json!({"name": "x", "scopes": ["read_runs"], "expires_at": 1}),
    ] {
        let (status, _) = make_token(state, &admin, bad.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}");
    }
    // The viewer sees their own tokens only; the admin sees everyone's.
    let list = |auth: String| async move {
        let (status, v) = support::send_json(
            state,
            Request::get("/api/tokens")
                .header(header::AUTHORIZATION, format!("Bearer {auth}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{v}");
        v.as_array()
            .unwrap()
            .iter()
            .map(|t| t["person_id"].as_str().unwrap().to_string())
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(
        list(viewer.clone()).await,
        BTreeSet::from(["p_viewer".to_string()])
    );
    assert_eq!(list(admin.clone()).await.len(), 2);
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

/// A token counts its person's role and state as of each request: demoted, the token reaches
/// less at once; disabled, it is refused and says why.
#[tokio::test]
async fn a_token_follows_its_person_role_and_state() {
    let dir = tempfile::tempdir().unwrap();
    let gw = gateway::Gateway::open(
        support::plain_config(dir.path()),
        "127.0.0.1:3100".parse().unwrap(),
    )
    .await
    .unwrap();
    let state = &gw.state;
    let admin = gw.new_admin_token.as_ref().unwrap().expose().to_string();
    person(state, Role::Operator).await;
    let token = stored_token(state, "p_operator", &["read_runs", "create_runs"], None).await;
    let call = |auth: String, method: &str, path: &str, body: Value| {
        Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {auth}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap()
    };
    let start = || call(token.clone(), "POST", "/api/runs", json!({}));
    let (status, _) = support::send_json(state, start()).await;
    assert_eq!(status, StatusCode::CREATED);
    let change = |body: Value| call(admin.clone(), "PATCH", "/api/people/p_operator", body);
    let (status, v) = support::send_json(state, change(json!({"role": "viewer"}))).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (status, v) = support::send_json(state, start()).await;
    assert_eq!(
        (status, v["reason"].as_str()),
        (StatusCode::FORBIDDEN, Some("scope_required")),
        "a viewer's token starts nothing, whatever its scopes"
    );
    let read = || call(token.clone(), "GET", "/api/runs", json!(null));
    assert_eq!(support::send_json(state, read()).await.0, StatusCode::OK);
    let (status, _) = support::send_json(state, change(json!({"disabled": true}))).await;
    assert_eq!(status, StatusCode::OK);
    let (status, v) = support::send_json(state, read()).await;
    assert_eq!(
        (status, v["reason"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("person_disabled"))
    );
}
