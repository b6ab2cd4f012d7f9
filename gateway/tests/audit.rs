//! The audit log end to end through the whole router: every action that changes state or grants
//! access leaves one line naming who did it and from which address; admins page through it and
//! export it as JSON lines; a run's activity says who started it and who sent each prompt,
//! command and decision, and a decision carries the person's name to the runner.

mod support;

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use common::Secret;
use common::wire::{CreatedRun, Event, EventKind};
use gateway::state::AppState;
use serde_json::{Value, json};
use support::{Browser, page_post, send, send_json};

const PASSWORD: &str = "correct horse battery";
const TOKEN: &str = "admin-token-for-audit-tests";

/// A request as if from `ip`.
fn from(ip: [u8; 4], mut req: Request<Body>) -> Request<Body> {
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::from((ip, 40000))));
    req
}

async fn call(state: &AppState, ip: [u8; 4], req: Request<Body>) -> (StatusCode, Value) {
    send_json(state, from(ip, req)).await
}

async fn sign_in(state: &AppState, ip: [u8; 4], body: Value) -> Browser {
    let resp = send(state, from(ip, page_post("/api/session", body))).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let cookie = resp.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    let signed_in: Value = serde_json::from_slice(&bytes).unwrap();
    Browser {
        cookie,
        csrf: signed_in["csrf"].as_str().unwrap().into(),
        signed_in,
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

/// The log, oldest first.
async fn log(state: &AppState, admin: &Browser) -> Vec<Value> {
    let (status, page) = call(state, [10, 0, 0, 1], admin.get("/api/audit?limit=1000")).await;
    assert_eq!(status, StatusCode::OK);
    let mut lines = page.as_array().unwrap().clone();
    lines.reverse();
    lines
}

#[tokio::test]
async fn every_action_leaves_a_line_with_who_and_where() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = support::plain_config(dir.path());
    config.public_url = Some("https://localhost:3100".into());
    config.admin_password = Some(Secret::new(PASSWORD));
    config.admin_token = Some(Secret::new(TOKEN));
    let state = gateway::Gateway::open(config, "127.0.0.1:3100".parse().unwrap())
        .await
        .unwrap()
        .state;
    let (ada_ip, olga_ip, script_ip, runner_ip) =
        ([10, 0, 0, 1], [10, 0, 0, 2], [10, 0, 0, 3], [10, 0, 0, 4]);

    // Access: a failed and a good sign-in, an invitation, a join, a role change.
    let (status, _) = call(
        &state,
        [10, 9, 9, 9],
        page_post("/api/session", json!({ "password": "wrong" })),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let ada = sign_in(&state, ada_ip, json!({ "password": PASSWORD })).await;
    let (_, invited) = call(
        &state,
        ada_ip,
        ada.write(
            "POST",
            "/api/invitations",
            json!({ "name": "olga", "role": "viewer" }),
        ),
    )
    .await;
    let token = invited["url"].as_str().unwrap().split_once('#').unwrap().1;
    let resp = send(
        &state,
        from(
            olga_ip,
            page_post(
                "/api/join",
                json!({ "token": token, "password": "olga's long password" }),
            ),
        ),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let olga = sign_in(
        &state,
        olga_ip,
        json!({ "name": "olga", "password": "olga's long password" }),
    )
    .await;
    let olga_id = olga.signed_in["person"]["id"].as_str().unwrap().to_string();
    let person = format!("/api/people/{olga_id}");
    let (status, _) = call(
        &state,
        ada_ip,
        ada.write("PATCH", &person, json!({ "role": "operator" })),
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    // Olga makes a token for her script (shown once), which a script uses.
    let (status, made) = call(
        &state,
        olga_ip,
        olga.write(
            "POST",
            "/api/tokens",
            json!({ "name": "olga's ci", "scopes": ["read_runs", "create_runs"] }),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let olga_token = made["token"].as_str().unwrap().to_string();
    let olga_token_id = made["id"].as_str().unwrap().to_string();

    // A script with the admin token; a runner with the shared secret.
    let token_req = |method: &str, path: &str, body: Value| {
        Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap()
    };
    let (status, _) = call(
        &state,
        script_ip,
        token_req("GET", "/api/runs", json!(null)),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(
        &state,
        script_ip,
        token_req("GET", "/api/runs", json!(null)),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "used twice, noted once");
    let olga_req = |method: &str, path: &str, body: Value| {
        Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {olga_token}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap()
    };
    let (status, by_script) = call(
        &state,
        script_ip,
        olga_req("POST", "/api/runs", json!({ "name": "by olga's script" })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{by_script}");
    let secret = state.hmac_secret.expose().as_bytes().to_vec();
    let runner_req = support::signed(
        "POST",
        "/api/runner/runs",
        "",
        &secret,
        json!({ "name": "by a runner" }).to_string().into_bytes(),
    );
    let (status, by_runner) = call(&state, runner_ip, runner_req).await;
    assert_eq!(status, StatusCode::CREATED, "{by_runner}");

    // Olga runs things: start, prompt, a command, a decision, stop.
    let (status, run) = call(
        &state,
        olga_ip,
        olga.write(
            "POST",
            "/api/runs",
            json!({ "name": "olga's run", "prompt": "fix the tests" }),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let run: CreatedRun = serde_json::from_value(run).unwrap();
    let request = marker(
        1,
        json!({"event": "permission_request", "requestId": "pr_a", "tool": "Bash",
               "input": {"command": "touch a"}, "command": "touch a", "cwd": "/w",
               "expiresAt": 1_700_000_600_000_i64}),
    );
    let (status, _) = call(
        &state,
        runner_ip,
        support::ingest_for(&state, &run, vec![request]),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let commands = format!("/api/runs/{}/commands", run.run_id);
    for body in [
        json!({ "kind": "prompt", "prompt": "and the docs" }),
        json!({ "kind": "exec", "command": "git status" }),
    ] {
        let (status, _) = call(&state, olga_ip, olga.write("POST", &commands, body)).await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let decide = format!("/api/runs/{}/permissions/pr_a", run.run_id);
    let (status, decision) = call(
        &state,
        olga_ip,
        olga.write(
            "POST",
            &decide,
            json!({ "decision": "deny", "message": "not now" }),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(decision["by"], "olga", "the runner is told who decided");
    let (status, _) = call(
        &state,
        olga_ip,
        olga.write("POST", &commands, json!({ "kind": "stop" })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);

    // An agent: the admin makes an enrollment, the agent enrolls, the admin revokes it.
    let (status, enrollment) = call(
        &state,
        ada_ip,
        ada.write("POST", "/api/agents/enrollments", json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{enrollment}");
    let agent_ip = [10, 0, 0, 5];
    let (status, enrolled) = call(
        &state,
        agent_ip,
        Request::post("/api/agent/enroll")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(
                json!({"token": enrollment["token"], "name": "build-box", "labels": {},
                       "capacity": 1, "version": "0.1.0", "ceilings": {"roots": ["/srv"]}})
                .to_string(),
            ))
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{enrolled}");
    let agent = enrolled["agent_id"].as_str().unwrap();
    let (status, _) = call(
        &state,
        ada_ip,
        ada.write("POST", &format!("/api/agents/{agent}/revoke"), json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    // Olga revokes her script's token: it is refused from then on, and says so.
    let (status, _) = call(
        &state,
        olga_ip,
        olga.write("DELETE", &format!("/api/tokens/{olga_token_id}"), json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, refused) =
        call(&state, script_ip, olga_req("GET", "/api/runs", json!(null))).await;
    assert_eq!(
        (status, refused["reason"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("token_revoked"))
    );

    // Sessions: a second browser ended by name, then everywhere, then plain sign-out; the
    // admin disables and enables olga, and deletes the runner's run.
    let ada2 = sign_in(&state, ada_ip, json!({ "password": PASSWORD })).await;
    let (_, sessions) = call(&state, ada_ip, ada.get("/api/me/sessions")).await;
    let other = sessions
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == false)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, _) = call(
        &state,
        ada_ip,
        ada.write("DELETE", &format!("/api/me/sessions/{other}"), json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(
        call(&state, ada_ip, ada2.get("/api/me")).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, _) = call(
        &state,
        olga_ip,
        olga.write("DELETE", "/api/me/sessions", json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    for change in [json!({ "disabled": true }), json!({ "disabled": false })] {
        let (status, _) = call(&state, ada_ip, ada.write("PATCH", &person, change)).await;
        assert_eq!(status, StatusCode::OK);
    }
    let runner_run = by_runner["run_id"].as_str().unwrap();
    let (status, _) = call(
        &state,
        ada_ip,
        ada.write("DELETE", &format!("/api/runs/{runner_run}"), json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let ada3 = sign_in(&state, ada_ip, json!({ "password": PASSWORD })).await;
    let (status, _) = call(
        &state,
        ada_ip,
        ada.write("DELETE", "/api/session", json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    // Every action, in order, by whom, from where.
    let lines = log(&state, &ada3).await;
    let got: Vec<(&str, &str, Option<&str>)> = lines
        .iter()
        .map(|l| {
            (
                l["action"].as_str().unwrap(),
                l["actor_name"].as_str().unwrap(),
                l["source"].as_str(),
            )
        })
        .collect();
    let (a, o, s, r) = (
        Some("10.0.0.1"),
        Some("10.0.0.2"),
        Some("10.0.0.3"),
        Some("10.0.0.4"),
    );
    let want: Vec<(&str, &str, Option<&str>)> = vec![
        ("sign_in_failed", "anonymous", Some("10.9.9.9")),
        ("signed_in", "admin", a),
        ("invitation_created", "admin", a),
        ("joined", "olga", o),
        ("signed_in", "olga", o),
        ("role_changed", "admin", a),
        ("token_created", "olga", o),
        ("token_first_used", "admin token (admin)", s),
        ("token_first_used", "olga's ci (olga)", s),
        ("run_started", "olga's ci (olga)", s),
        ("run_started", "runner", r),
        ("run_started", "olga", o),
        ("prompt_sent", "olga", o),
        ("command_sent", "olga", o),
        ("approval_decided", "olga", o),
        ("run_stopped", "olga", o),
        ("agent_enrollment_created", "admin", a),
        ("agent_enrolled", "build-box", Some("10.0.0.5")),
        ("agent_revoked", "admin", a),
        ("token_revoked", "olga", o),
        ("signed_in", "admin", a),
        ("session_revoked", "admin", a),
        ("signed_out_everywhere", "olga", o),
        ("person_disabled", "admin", a),
        ("person_enabled", "admin", a),
        ("run_deleted", "admin", a),
        ("signed_in", "admin", a),
        ("signed_out", "admin", a),
    ];
    assert_eq!(got, want, "{lines:#?}");
    let detail = |action: &str| {
        lines
            .iter()
            .find(|l| l["action"] == action)
            .map(|l| l["detail"].clone())
            .unwrap()
    };
    assert_eq!(detail("role_changed")["from"], "viewer");
    assert_eq!(detail("role_changed")["to"], "operator");
    assert_eq!(detail("approval_decided")["decision"], "deny");
    assert_eq!(detail("prompt_sent")["prompt"], "and the docs");
    assert_eq!(detail("sign_in_failed")["name"], "admin");
    assert_eq!(
        detail("token_created")["scopes"],
        json!(["read_runs", "create_runs"])
    );
    let token_line = lines
        .iter()
        .find(|l| l["action"] == "token_created")
        .unwrap();
    assert_eq!(token_line["target"], olga_token_id.as_str());
    assert!(
        !lines.iter().any(|l| l.to_string().contains(&olga_token)),
        "the token itself is never logged"
    );

    // The export holds the same lines, oldest first, one JSON object each.
    let resp = send(&state, ada3.get("/api/audit.jsonl")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .contains("audit.jsonl")
    );
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    let exported: Vec<Value> = std::str::from_utf8(&bytes)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(exported, lines);

    // The run's history names who did what, without addresses, for any reader of the run.
    let (status, activity) = call(
        &state,
        olga_ip,
        Request::get(format!("/api/runs/{}/activity", run.run_id))
            .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let history: Vec<(&str, &str)> = activity
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["action"].as_str().unwrap(), a["by"].as_str().unwrap()))
        .collect();
    assert_eq!(
        history,
        [
            ("run_started", "olga"),
            ("prompt_sent", "olga"),
            ("command_sent", "olga"),
            ("approval_decided", "olga"),
            ("run_stopped", "olga"),
        ]
    );
    assert!(
        activity.to_string().find("10.0.0").is_none(),
        "no addresses"
    );
}

#[tokio::test]
async fn the_first_start_notes_the_admin_token_it_made() {
    let dir = tempfile::tempdir().unwrap();
    let (state, admin) = support::open(dir.path()).await;
    let req = Request::get("/api/audit")
        .header(header::AUTHORIZATION, format!("Bearer {admin}"))
        .body(Body::empty())
        .unwrap();
    let (_, lines) = send_json(&state, req).await;
    let actions: Vec<&str> = lines
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|l| l["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["token_created", "token_first_used"]);
}
