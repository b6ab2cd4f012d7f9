//! Upgrading: a database made by the gateway before API tokens had a person
//! (`fixtures/gateway-before-person-tokens.db`, schema 16: made by that gateway's binary with
//! `GATEWAY_ADMIN_TOKEN` and `GATEWAY_ADMIN_PASSWORD` set, three API tokens made with the admin
//! token (one then revoked), the admin token used once, and one run created with an API token
//! and delivered by that release's runner) opens with its run, the admin token works as the
//! first admin's token with every scope, the old API tokens are the first admin's with their
//! scopes, the revoked one stays refused, and the admin password signs the first admin in.
//!
//! That binary wrote schema 15 with search as its 15th step; the sign-in limiter's `counters`
//! table then became step 15 and search 16 (a database of that binary at 15 would run search
//! again). The fixture was given that table and version 16, as the gateway just before this
//! change holds them; its content is the binary's.

mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use gateway::state::AppState;
use serde_json::{Value, json};
use support::{Browser, send_json};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/gateway-before-person-tokens.db"
);
const PASSWORD: &str = "password from before person tokens";
const ADMIN_TOKEN: &str = "admin-token-from-before-person-tokens";
/// The API tokens the fixture's gateway made (shown once then, kept here to use them).
const READER: &str = "at_twGVX1RhDtEAhuRLwlLuCz_PcajALnMaQsDnwFOm2DU";
const STARTER: &str = "at_nwgW1V4V-O0D40ksujVMhtE7UehAffzyXLCOUkQmygg";
const REVOKED: &str = "at_hvPbm7qZpl0UIOfEHTiMmRpc2lC1udLEbw8FmkaK5nM";
const RUN: &str = "r_6ldNAz8eSN9L";

fn copy_fixture(dir: &std::path::Path) {
    std::fs::create_dir_all(dir).unwrap();
    let db = dir.join("gateway.db");
    std::fs::copy(FIXTURE, &db).unwrap();
    let conn = rusqlite::Connection::open(&db).unwrap();
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(
        version, 16,
        "the fixture is a database from before person tokens"
    );
}

async fn open(dir: &std::path::Path) -> AppState {
    let mut config = support::plain_config(dir);
    // The origin the page's requests come from (`support::page_post`).
    config.public_url = Some("https://localhost:3100".into());
    let gw = gateway::Gateway::open(config, "127.0.0.1:3100".parse().unwrap())
        .await
        .map_err(|e| format!("{e:#}"))
        .unwrap();
    assert!(gw.new_admin_token.is_none(), "the old token is kept");
    assert!(gw.new_admin_password.is_none(), "the old password is kept");
    gw.state
}

fn with(token: &str, method: &str, path: &str, body: Option<Value>) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(body.map_or(Body::empty(), |b| Body::from(b.to_string())))
        .unwrap()
}

/// The tokens as the admin lists them: `(name, person_id, scopes, revoked)`, by name.
async fn tokens(state: &AppState) -> Vec<(String, String, Value, bool)> {
    let (status, list) = send_json(state, with(ADMIN_TOKEN, "GET", "/api/tokens", None)).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let mut out: Vec<_> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_string(),
                t["person_id"].as_str().unwrap().to_string(),
                t["scopes"].clone(),
                t["revoked"].as_bool().unwrap(),
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[tokio::test]
async fn a_gateway_from_before_person_tokens_keeps_its_run_and_tokens_and_signs_the_admin_in() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    copy_fixture(&data);
    let state = open(&data).await;

    // The admin token acts as the first admin, with every scope.
    let (status, me) = send_json(&state, with(ADMIN_TOKEN, "GET", "/api/me", None)).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(
        (&me["name"], &me["role"]),
        (&json!("admin"), &json!("admin"))
    );
    assert_eq!(me["token"]["id"], "admin_token");
    let admin_id = me["id"].as_str().unwrap().to_string();

    // The run is kept, with its events.
    let (status, run) = send_json(
        &state,
        with(ADMIN_TOKEN, "GET", &format!("/api/runs/{RUN}"), None),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (&run["status"], &run["delivery"], &run["last_sequence"]),
        (&json!("finished"), &json!("complete"), &json!(7))
    );
    let (_, page) = send_json(
        &state,
        with(READER, "GET", &format!("/api/runs/{RUN}/events"), None),
    )
    .await;
    assert!(
        page["events"].as_array().unwrap().iter().any(|e| e["data"]
            .as_str()
            .is_some_and(|d| d.contains("hello from before person tokens"))),
        "{page}"
    );
    // Its history still says which token started it.
    let (_, activity) = send_json(
        &state,
        with(READER, "GET", &format!("/api/runs/{RUN}/activity"), None),
    )
    .await;
    assert_eq!(activity[0]["action"], "run_started");
    assert_eq!(activity[0]["by"], "ci starter");

    // Every token is the first admin's now, with the scopes it had; the revoked one stays so.
    let every = json!(["read_runs", "create_runs", "approve", "admin"]);
    let want = vec![
        ("admin token".to_string(), admin_id.clone(), every, false),
        (
            "ci reader".into(),
            admin_id.clone(),
            json!(["read_runs"]),
            false,
        ),
        (
            "ci starter".into(),
            admin_id.clone(),
            json!(["read_runs", "create_runs"]),
            false,
        ),
        (
            "old script".into(),
            admin_id.clone(),
            json!(["read_runs"]),
            true,
        ),
    ];
    assert_eq!(tokens(&state).await, want);

    // ... and each does what its scopes allow, as before.
    let (status, v) = send_json(&state, with(READER, "POST", "/api/runs", Some(json!({})))).await;
    assert_eq!(
        (status, v["reason"].as_str()),
        (StatusCode::FORBIDDEN, Some("scope_required"))
    );
    let (status, v) = send_json(
        &state,
        with(
            STARTER,
            "POST",
            "/api/runs",
            Some(json!({"name": "after the upgrade"})),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let (status, v) = send_json(&state, with(REVOKED, "GET", "/api/runs", None)).await;
    assert_eq!(
        (status, v["reason"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("token_revoked"))
    );

    // The old password signs the first admin in.
    let b = Browser::sign_in(&state, "/api/session", json!({ "password": PASSWORD }))
        .await
        .unwrap();
    assert_eq!(b.signed_in["person"]["id"], admin_id.as_str());

    // The admin token's first use was logged before the upgrade: not again.
    let (_, log) = send_json(
        &state,
        with(ADMIN_TOKEN, "GET", "/api/audit?limit=1000", None),
    )
    .await;
    let first_uses: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["action"] == "token_first_used")
        .map(|l| l["actor_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        first_uses.iter().filter(|a| **a == "admin_token").count(),
        1,
        "{first_uses:?}"
    );
    drop(state);

    // A second start after the upgrade changes nothing.
    let state = open(&data).await;
    assert_eq!(tokens(&state).await, want);
    let (status, _) = send_json(&state, with(READER, "GET", "/api/runs", None)).await;
    assert_eq!(status, StatusCode::OK);
}
