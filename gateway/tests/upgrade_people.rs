//! Upgrading: a database made by the gateway before people existed (`fixtures/
//! gateway-before-people.db`: made by that gateway's binary, with its admin password and admin
//! token set, one browser signed in, and one run delivered by a real runner) opens with every
//! run, its events, the old admin token and the old session, and its admin password signs in the
//! first admin.

mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use gateway::state::AppState;
use serde_json::{Value, json};
use support::{Browser, send_json};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/gateway-before-people.db"
);
const PASSWORD: &str = "password from before people";
const ADMIN_TOKEN: &str = "admin-token-from-before-people";
const COOKIE: &str = "__Host-gw_session=EaEli0Zy8vnTsd49ZyndEHZWj1_KWJQOrnB2hYYJjDY";
const RUN: &str = "r_1Oxq2E3HT90I";

/// The fixture copied into `dir`, its session made recent (it was signed in when the fixture
/// was made, and sessions expire after 12 idle hours).
fn copy_fixture(dir: &std::path::Path) {
    std::fs::create_dir_all(dir).unwrap();
    let db = dir.join("gateway.db");
    std::fs::copy(FIXTURE, &db).unwrap();
    let conn = rusqlite::Connection::open(&db).unwrap();
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, 6, "the fixture is a database from before people");
    let now = gateway::clock::now_ms();
    conn.execute("UPDATE sessions SET created_at = ?1, last_seen = ?1", [now])
        .unwrap();
}

async fn open(dir: &std::path::Path) -> AppState {
    let mut config = support::plain_config(dir);
    config.public_url = Some("https://localhost:3100".into());
    let gw = gateway::Gateway::open(config, "127.0.0.1:3100".parse().unwrap())
        .await
        .unwrap();
    assert!(gw.new_admin_token.is_none(), "the old token is kept");
    assert!(gw.new_admin_password.is_none(), "the old password is kept");
    gw.state
}

fn with_token(path: &str) -> Request<Body> {
    Request::get(path)
        .header(header::AUTHORIZATION, format!("Bearer {ADMIN_TOKEN}"))
        .body(Body::empty())
        .unwrap()
}

fn with_old_cookie(path: &str) -> Request<Body> {
    Request::get(path)
        .header(header::COOKIE, COOKIE)
        .body(Body::empty())
        .unwrap()
}

#[tokio::test]
async fn a_gateway_from_before_people_keeps_its_runs_and_signs_the_old_admin_in() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    copy_fixture(&data);
    let state = open(&data).await;

    let (status, runs) = send_json(&state, with_token("/api/runs")).await;
    assert_eq!(status, StatusCode::OK);
    let run = &runs.as_array().unwrap()[0];
    assert_eq!(
        (
            &run["id"],
            &run["status"],
            &run["delivery"],
            &run["last_sequence"]
        ),
        (
            &json!(RUN),
            &json!("finished"),
            &json!("complete"),
            &json!(7)
        )
    );
    let (_, page) = send_json(&state, with_token(&format!("/api/runs/{RUN}/events"))).await;
    let events = page["events"].as_array().unwrap();
    assert_eq!(events.len(), 7);
    assert!(
        events.iter().any(|e| e["data"]
            .as_str()
            .is_some_and(|d| d.contains("hello from before people"))),
        "{page}"
    );

    // The old session is the first admin's.
    let (status, me) = send_json(&state, with_old_cookie("/api/me")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (&me["name"], &me["role"]),
        (&json!("admin"), &json!("admin"))
    );
    // The old password signs in, with or without the name.
    for body in [
        json!({ "password": PASSWORD }),
        json!({ "name": "admin", "password": PASSWORD }),
    ] {
        let b = Browser::sign_in(&state, "/api/session", body)
            .await
            .unwrap();
        assert_eq!(b.signed_in["person"]["id"], me["id"]);
    }
    let (_, people) = send_json(&state, with_token("/api/people")).await;
    assert_eq!(people.as_array().unwrap().len(), 1);
    drop(state);

    // A second start after the upgrade changes nothing.
    let state = open(&data).await;
    let (_, again) = send_json(&state, with_old_cookie("/api/me")).await;
    assert_eq!(again, me);
    let (_, people): (_, Value) = send_json(&state, with_token("/api/people")).await;
    assert_eq!(people.as_array().unwrap().len(), 1);
}
