//! People and roles through the router: the first admin signs in with the admin password as
//! before; invitations bring others in once; roles take effect at once; disabling someone ends
//! their sessions; a person lists and ends their own sessions.

mod support;

use axum::http::StatusCode;
use common::Secret;
use gateway::state::AppState;
use serde_json::{Value, json};
use support::{Browser, page_post, send, send_json};

const PASSWORD: &str = "correct horse battery";

async fn open(dir: &std::path::Path) -> AppState {
    let mut config = support::plain_config(dir);
    config.public_url = Some("https://localhost:3100".into());
    config.admin_password = Some(Secret::new(PASSWORD));
    gateway::Gateway::open(config, "127.0.0.1:3100".parse().unwrap())
        .await
        .unwrap()
        .state
}

async fn admin(state: &AppState) -> Browser {
    Browser::sign_in(state, "/api/session", json!({ "password": PASSWORD }))
        .await
        .expect("the admin password signs the first admin in")
}

/// The admin invites `name` as `role`; the invitation's token (from the link's fragment).
async fn invite(state: &AppState, admin: &Browser, name: &str, role: &str) -> String {
    let (status, body) = send_json(
        state,
        admin.write(
            "POST",
            "/api/invitations",
            json!({ "name": name, "role": role }),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let url = body["url"].as_str().unwrap();
    assert!(url.starts_with("https://localhost:3100/join#"), "{url}");
    url.split_once('#').unwrap().1.to_string()
}

async fn join(state: &AppState, token: &str, password: &str) -> Option<Browser> {
    Browser::sign_in(
        state,
        "/api/join",
        json!({ "token": token, "password": password }),
    )
    .await
}

async fn me(state: &AppState, b: &Browser) -> (StatusCode, Value) {
    send_json(state, b.get("/api/me")).await
}

#[tokio::test]
async fn the_admin_password_signs_in_the_first_admin_by_name_or_without() {
    let dir = tempfile::tempdir().unwrap();
    let state = open(dir.path()).await;
    let a = admin(&state).await;
    assert_eq!(a.signed_in["person"]["name"], "admin");
    assert_eq!(a.signed_in["person"]["role"], "admin");
    let named = Browser::sign_in(
        &state,
        "/api/session",
        json!({ "name": "admin", "password": PASSWORD }),
    )
    .await
    .unwrap();
    assert_eq!(me(&state, &named).await.1["name"], "admin");
    for wrong in [
        json!({ "password": "nope" }),
        json!({ "name": "admin", "password": "nope" }),
        json!({ "name": "nobody", "password": PASSWORD }),
    ] {
        let (status, body) = send_json(&state, page_post("/api/session", wrong.clone())).await;
        assert_eq!(
            (status, body["reason"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("bad_password")),
            "{wrong}"
        );
    }
}

#[tokio::test]
async fn an_invitation_brings_in_one_person_once_with_its_role() {
    let dir = tempfile::tempdir().unwrap();
    let state = open(dir.path()).await;
    let a = admin(&state).await;
    let token = invite(&state, &a, "olga", "operator").await;
    let (_, open) = send_json(&state, a.get("/api/invitations")).await;
    assert_eq!(open[0]["name"], "olga");
    assert!(open[0].get("token").is_none() && open[0].get("token_hash").is_none());
    let (status, check) = send_json(
        &state,
        page_post("/api/join/check", json!({ "token": token })),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (&check["name"], &check["role"]),
        (&json!("olga"), &json!("operator"))
    );

    // A weak password does not use the invitation up.
    assert!(join(&state, &token, "short").await.is_none());
    let olga = join(&state, &token, "olga's long password").await.unwrap();
    assert_eq!(olga.signed_in["person"]["role"], "operator");
    assert_eq!(me(&state, &olga).await.1["name"], "olga");
    assert!(
        join(&state, &token, "another long password")
            .await
            .is_none(),
        "the link works once"
    );
    let (status, body) = send_json(
        &state,
        page_post("/api/join/check", json!({ "token": token })),
    )
    .await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invitation_invalid"))
    );
    // She signs in by name from now on; the name cannot be invited twice.
    assert!(
        Browser::sign_in(
            &state,
            "/api/session",
            json!({ "name": "olga", "password": "olga's long password" })
        )
        .await
        .is_some()
    );
    let (status, _) = send_json(
        &state,
        a.write(
            "POST",
            "/api/invitations",
            json!({ "name": "olga", "role": "viewer" }),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Operators run things but do not manage people.
    let (status, body) = send_json(&state, olga.get("/api/people")).await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (StatusCode::FORBIDDEN, Some("role_required"))
    );
}

#[tokio::test]
async fn an_expired_invitation_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let state = open(dir.path()).await;
    let token = "expired-invitation-token";
    state
        .store
        .create_invitation(gateway::store::Invitation {
            token_hash: gateway::auth::token_hash(token),
            name: "late".into(),
            role: gateway::store::Role::Viewer,
            created_by: "p_x".into(),
            created_at: 0,
            expires_at: gateway::clock::now_ms() - 1,
        })
        .await
        .unwrap();
    assert!(
        join(&state, token, "a long enough password")
            .await
            .is_none()
    );
}

#[tokio::test]
async fn roles_change_at_once_and_disabling_ends_every_session() {
    let dir = tempfile::tempdir().unwrap();
    let state = open(dir.path()).await;
    let a = admin(&state).await;
    let token = invite(&state, &a, "vic", "viewer").await;
    let vic = join(&state, &token, "vic's long password").await.unwrap();
    let id = vic.signed_in["person"]["id"].as_str().unwrap().to_string();
    let create = |b: &Browser| b.write("POST", "/api/runs", json!({}));
    assert_eq!(
        send(&state, create(&vic)).await.status(),
        StatusCode::FORBIDDEN
    );

    let (status, changed) = send_json(
        &state,
        a.write(
            "PATCH",
            &format!("/api/people/{id}"),
            json!({ "role": "operator" }),
        ),
    )
    .await;
    assert_eq!(
        (status, &changed["role"]),
        (StatusCode::OK, &json!("operator"))
    );
    assert_eq!(
        send(&state, create(&vic)).await.status(),
        StatusCode::CREATED
    );

    let (status, changed) = send_json(
        &state,
        a.write(
            "PATCH",
            &format!("/api/people/{id}"),
            json!({ "disabled": true }),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(changed["disabled_at"].is_i64());
    assert_eq!(me(&state, &vic).await.0, StatusCode::UNAUTHORIZED);
    assert!(
        Browser::sign_in(
            &state,
            "/api/session",
            json!({ "name": "vic", "password": "vic's long password" })
        )
        .await
        .is_none(),
        "a disabled person cannot sign in"
    );
    let (_, people) = send_json(&state, a.get("/api/people")).await;
    assert_eq!(people.as_array().unwrap().len(), 2);
    assert!(
        people.to_string().find("argon2").is_none(),
        "no hash leaves"
    );

    // The last enabled admin stays one.
    let admin_id = a.signed_in["person"]["id"].as_str().unwrap();
    for change in [json!({ "role": "viewer" }), json!({ "disabled": true })] {
        let (status, body) = send_json(
            &state,
            a.write("PATCH", &format!("/api/people/{admin_id}"), change),
        )
        .await;
        assert_eq!(
            (status, body["reason"].as_str()),
            (StatusCode::BAD_REQUEST, Some("last_admin"))
        );
    }
}

#[tokio::test]
async fn a_person_lists_and_ends_their_own_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let state = open(dir.path()).await;
    let a = admin(&state).await;
    let b = admin(&state).await;
    let (_, list) = send_json(&state, a.get("/api/me/sessions")).await;
    let list = list.as_array().unwrap().clone();
    assert_eq!(list.len(), 2);
    assert!(list.iter().all(|s| s["device"] == "Firefox on Linux"));
    assert_eq!(list.iter().filter(|s| s["current"] == true).count(), 1);
    let other = list.iter().find(|s| s["current"] == false).unwrap();
    let other_id = other["id"].as_str().unwrap();

    // Someone else cannot end it.
    let token = invite(&state, &a, "mallory", "admin").await;
    let m = join(&state, &token, "mallory's long password")
        .await
        .unwrap();
    let path = format!("/api/me/sessions/{other_id}");
    assert_eq!(
        send(&state, m.write("DELETE", &path, json!({})))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(me(&state, &b).await.0, StatusCode::OK);
    assert_eq!(
        send(&state, a.write("DELETE", &path, json!({})))
            .await
            .status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(me(&state, &b).await.0, StatusCode::UNAUTHORIZED, "revoked");
    assert_eq!(me(&state, &a).await.0, StatusCode::OK);

    let c = admin(&state).await;
    let resp = send(&state, a.write("DELETE", "/api/me/sessions", json!({}))).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    assert_eq!(me(&state, &a).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        me(&state, &c).await.0,
        StatusCode::UNAUTHORIZED,
        "everywhere"
    );
    assert_eq!(me(&state, &m).await.0, StatusCode::OK, "others stay");
}

#[tokio::test]
async fn a_person_sees_and_removes_only_the_push_subscriptions_of_their_own_browsers() {
    let dir = tempfile::tempdir().unwrap();
    let state = open(dir.path()).await;
    let a = admin(&state).await;
    let token = invite(&state, &a, "olga", "operator").await;
    let olga = join(&state, &token, "a long enough password")
        .await
        .unwrap();
    let subscribe = |endpoint: &str| {
        json!({
            "endpoint": endpoint,
            // An uncompressed P-256 point's shape and a 16-byte auth secret (never used here).
            "keys": {"p256dh": format!("BA{}", "A".repeat(85)), "auth": "A".repeat(22)},
            "events": ["needs_approval"],
        })
    };
    let (status, admins) = send_json(
        &state,
        a.write(
            "POST",
            "/api/push/subscriptions",
            subscribe("https://push.example.com/admin-phone"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{admins}");
    let (status, olgas) = send_json(
        &state,
        olga.write(
            "POST",
            "/api/push/subscriptions",
            subscribe("https://push.example.com/olga-phone"),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{olgas}");

    let ids = |v: &Value| -> Vec<String> {
        let mut ids: Vec<String> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids
    };
    let (_, seen) = send_json(&state, olga.get("/api/push/subscriptions")).await;
    assert_eq!(ids(&seen), vec![olgas["id"].as_str().unwrap().to_string()]);
    let (_, seen) = send_json(&state, a.get("/api/push/subscriptions")).await;
    assert_eq!(
        seen.as_array().unwrap().len(),
        2,
        "an admin sees every browser"
    );

    // Someone else's subscription is not there to remove; one's own is.
    let path = |v: &Value| format!("/api/push/subscriptions/{}", v["id"].as_str().unwrap());
    let (status, _) = send_json(&state, olga.write("DELETE", &path(&admins), json!(null))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, seen) = send_json(&state, a.get("/api/push/subscriptions")).await;
    assert_eq!(seen.as_array().unwrap().len(), 2);
    let (status, _) = send_json(&state, olga.write("DELETE", &path(&olgas), json!(null))).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, seen) = send_json(&state, a.get("/api/push/subscriptions")).await;
    assert_eq!(ids(&seen), vec![admins["id"].as_str().unwrap().to_string()]);
}
