//! Two gateways on one PostgreSQL database, in this process and driven through their routers:
//! what one replica did is what the other sees (a committed line reaches the other's stream, a
//! command queued on one wakes a poll on the other, a replay is refused by the one that did not
//! see the request first, a run deleted on one is unknown on the other, sessions, passkey
//! ceremonies and sign-in limits hold across both). Each case skips with a
//! loud SKIP line where no PostgreSQL server answers. The same, with the real binaries behind a
//! load balancer, is `tests/tests/replicas.rs`.

mod support;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::Secret;
use common::wire::{CreatedRun, Event, EventKind};
use gateway::state::AppState;
use serde_json::{Value, json};
use support::authenticator::Authenticator;
use support::postgres::Postgres;
use support::{Browser, SseStream, send, send_json, signed};

const ADMIN: &str = "admin-token-of-both-replicas";
const PASSWORD: &str = "the password of both replicas";
const HMAC: &str = "the hmac secret both replicas share";

/// Two replicas on `db`, each hearing the other; `None` (after a loud SKIP line) without a
/// server.
async fn replicas(db: &Postgres, case: &str) -> Option<(tempfile::TempDir, [AppState; 2])> {
    if let Some(why) = db.why_unavailable() {
        eprintln!("SKIP: {case} not run: {why}");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut states = Vec::new();
    for n in 0..2 {
        let mut config = bare_config(db, &dir.path().join(format!("replica{n}")), HMAC);
        config.admin_token = Some(Secret::new(ADMIN));
        config.admin_password = Some(Secret::new(PASSWORD));
        let gw = gateway::Gateway::open(config, ADDR.parse().unwrap())
            .await
            .expect("the replica opens");
        let state = gw.state;
        let following = state.clone();
        tokio::spawn(async move { following.live.follow(following.store.as_ref()).await });
        states.push(state);
    }
    for state in &states {
        for _ in 0..500 {
            if state.live.listening() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(
            state.live.listening(),
            "the replica hears the other within 5 s"
        );
    }
    let [a, b] = <[AppState; 2]>::try_from(states).unwrap();
    Some((dir, [a, b]))
}

fn admin(method: &str, path: &str, body: Value) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {ADMIN}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(if body.is_null() {
            String::new()
        } else {
            body.to_string()
        }))
        .unwrap()
}

async fn create_run(state: &AppState) -> (String, [u8; 32]) {
    let (status, v) = send_json(state, admin("POST", "/api/runs", json!({"name": "r"}))).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    let run: CreatedRun = serde_json::from_value(v).unwrap();
    let key = common::sign::derive_run_key(HMAC.as_bytes(), &run.run_id, &run.token);
    (run.run_id, key)
}

fn lines(from: u64, to: u64) -> Vec<Event> {
    (from..=to)
        .map(|sequence| Event {
            sequence,
            kind: EventKind::Stdout,
            data: json!(format!("line {sequence}")),
            ts: 1_000 + sequence as i64,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lines_ingested_on_one_replica_stream_live_from_the_other() {
    let db = Postgres::new();
    let Some((_dir, [a, b])) = replicas(&db, "lines_ingested_on_one_replica").await else {
        return;
    };
    let (run, key) = create_run(&a).await;
    let (status, v) = send_json(&a, support::ingest(&run, &key, lines(1, 3))).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let stream = send(
        &b,
        admin("GET", &format!("/api/runs/{run}/stream"), Value::Null),
    )
    .await;
    let mut stream = SseStream::new(stream);
    assert_eq!(
        stream.ids_through(3).await,
        [1, 2, 3],
        "replayed from the store"
    );
    for (from, to) in [(4, 6), (7, 7), (8, 20)] {
        let (status, v) = send_json(&a, support::ingest(&run, &key, lines(from, to))).await;
        assert_eq!(status, StatusCode::OK, "{v}");
    }
    let ids = stream.ids_through(20).await;
    assert_eq!(ids, (1..=20).collect::<Vec<u64>>(), "no gap, no duplicate");
    assert!(
        b.live.relayed() >= 1,
        "b's stream got a's batches through the channel, not only by reconciling with the store"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_queued_on_one_replica_wakes_a_poll_on_the_other() {
    let db = Postgres::new();
    let Some((_dir, [a, b])) = replicas(&db, "a_command_queued_on_one_replica").await else {
        return;
    };
    let (run, key) = create_run(&a).await;
    let path = format!("/api/runs/{run}/commands?wait=30");
    let poll = {
        let (a, run, key) = (a.clone(), run.clone(), key);
        tokio::spawn(
            async move { send_json(&a, signed("GET", &path, &run, &key, Vec::new())).await },
        )
    };
    // The poll is waiting on replica a's bell once a has a waiter for the run.
    for _ in 0..500 {
        if a.live.waiting_runs() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(a.live.waiting_runs(), 1, "the poll waits");
    let (status, v) = send_json(
        &b,
        admin(
            "POST",
            &format!("/api/runs/{run}/commands"),
            json!({"kind": "stop"}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    // Woken by b's news, well before its 30 s wait would end.
    let (status, v) = tokio::time::timeout(Duration::from_secs(20), poll)
        .await
        .expect("the poll on a is woken by the command queued on b")
        .unwrap();
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(v[0]["kind"], "stop", "{v}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_replayed_to_the_other_replica_is_refused() {
    let db = Postgres::new();
    let Some((_dir, [a, b])) = replicas(&db, "a_request_replayed_to_the_other").await else {
        return;
    };
    let (run, key) = create_run(&a).await;
    let body = serde_json::to_vec(&common::wire::IngestBatch {
        run_id: run.clone(),
        events: lines(1, 2),
    })
    .unwrap();
    let first = signed("POST", "/api/ingest/event", &run, &key, body.clone());
    let replay = Request::builder()
        .method("POST")
        .uri("/api/ingest/event")
        .header(header::CONTENT_TYPE, "application/json");
    let replay = first
        .headers()
        .iter()
        .fold(replay, |r, (k, v)| r.header(k, v))
        .body(Body::from(body))
        .unwrap();
    let (status, v) = send_json(&a, first).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (status, v) = send_json(&b, replay).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{v}");
    assert_eq!(v["reason"], "replayed_nonce", "{v}");
    // A replayed command poll (a request outside ingest) is refused the same way.
    let poll = signed(
        "GET",
        &format!("/api/runs/{run}/commands"),
        &run,
        &key,
        Vec::new(),
    );
    let again = poll
        .headers()
        .iter()
        .fold(Request::get(poll.uri().clone()), |r, (k, v)| r.header(k, v))
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&b, poll).await.status(), StatusCode::OK);
    let (status, v) = send_json(&a, again).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{v}");
    assert_eq!(v["reason"], "replayed_nonce", "{v}");
}

/// Each replica keeps the run keys it read for a while (`auth::run_keys`), so a run deleted
/// through one replica is still known by key on the other: its runner must hear
/// `unknown_run` there too, from ingest and from a poll, and nothing more is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_deleted_on_one_replica_is_unknown_to_its_runner_on_the_other() {
    let db = Postgres::new();
    let Some((_dir, [a, b])) = replicas(&db, "a_run_deleted_on_one_replica").await else {
        return;
    };
    let (run, key) = create_run(&a).await;
    // b reads the run's key and keeps it.
    let (status, v) = send_json(&b, support::ingest(&run, &key, lines(1, 2))).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (status, v) = send_json(
        &a,
        admin("DELETE", &format!("/api/runs/{run}"), Value::Null),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{v}");
    let (status, v) = send_json(&b, support::ingest(&run, &key, lines(3, 4))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{v}");
    assert_eq!(v["reason"], "unknown_run", "{v}");
    let (status, v) = send_json(
        &b,
        signed(
            "GET",
            &format!("/api/runs/{run}/commands?wait=1"),
            &run,
            &key,
            Vec::new(),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{v}");
    assert_eq!(v["reason"], "unknown_run", "{v}");
    assert!(
        b.store.run(run.clone()).await.unwrap().is_none(),
        "nothing brought the run back"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_works_on_every_replica_and_ends_on_all() {
    let db = Postgres::new();
    let Some((_dir, [a, b])) = replicas(&db, "a_session_works_on_every_replica").await else {
        return;
    };
    let browser = Browser::sign_in(&a, "/api/session", json!({"password": PASSWORD}))
        .await
        .expect("signed in on a");
    for state in [&a, &b] {
        let (status, v) = send_json(state, browser.get("/api/session")).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        let (status, v) = send_json(state, browser.get("/api/me/sessions")).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        assert_eq!(v.as_array().map(Vec::len), Some(1), "{v}");
    }
    let out = send(&b, browser.write("DELETE", "/api/session", Value::Null)).await;
    assert!(out.status().is_success(), "{}", out.status());
    for state in [&a, &b] {
        let (status, _) = send_json(state, browser.get("/api/session")).await;
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "signed out on b is signed out on a"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sign_in_limit_counts_the_attempts_on_every_replica() {
    let db = Postgres::new();
    let Some((_dir, [a, b])) = replicas(&db, "the_sign_in_limit_counts").await else {
        return;
    };
    // Without a client address only the global limit counts: 30 failures in a window of a
    // minute (windows start on whole minutes). Start with 20 s of the window left at least.
    let into_window = gateway::clock::now_ms().rem_euclid(60_000);
    if into_window > 40_000 {
        tokio::time::sleep(Duration::from_millis((60_000 - into_window) as u64 + 100)).await;
    }
    let mut statuses = Vec::new();
    for n in 0..32 {
        let state = if n % 2 == 0 { &a } else { &b };
        let req = support::page_post("/api/session", json!({"password": "wrong"}));
        statuses.push(send(state, req).await.status());
    }
    let refused = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let limited = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((refused, limited), (30, 2), "{statuses:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passkey_ceremony_started_on_one_replica_finishes_on_the_other() {
    let db = Postgres::new();
    let Some((_dir, [a, b])) = replicas(&db, "a_passkey_ceremony_started_on_one_replica").await
    else {
        return;
    };
    let admin = Browser::sign_in(&a, "/api/session", json!({"password": PASSWORD}))
        .await
        .expect("signed in on a");
    let mut key = Authenticator::new("localhost", "https://localhost:3100");

    // Registration: the options from a, the answer to b (a load balancer may do just that).
    let (status, options) = send_json(
        &a,
        admin.write("POST", "/api/me/passkeys/options", Value::Null),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{options}");
    let answer = key.register(&options);
    let (status, v) = send_json(&b, admin.write("POST", "/api/me/passkeys", answer.clone())).await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "the registration a started finishes on b: {v}"
    );
    // Once: the same answer again, on either replica, finds no ceremony.
    for state in [&a, &b] {
        let (status, v) = send_json(
            state,
            admin.write("POST", "/api/me/passkeys", answer.clone()),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    }
    for state in [&a, &b] {
        let (status, v) = send_json(state, admin.get("/api/me/passkeys")).await;
        assert_eq!(status, StatusCode::OK, "{v}");
        assert_eq!(v.as_array().map(Vec::len), Some(1), "{v}");
    }

    // Sign-in: the options from b, the answer to a; then the other way round.
    for (asked, answered) in [(&b, &a), (&a, &b)] {
        let (status, options) = send_json(
            asked,
            support::page_post("/api/session/passkey/options", Value::Null),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{options}");
        let answer = key.sign_in(&options);
        let signed_in = Browser::sign_in(answered, "/api/session/passkey", answer.clone())
            .await
            .expect("the sign-in one replica started finishes on the other");
        let (status, me) = send_json(asked, signed_in.get("/api/session")).await;
        assert_eq!(status, StatusCode::OK, "{me}");
        // A replayed answer finds its ceremony gone, on both replicas.
        for state in [&a, &b] {
            assert!(
                Browser::sign_in(state, "/api/session/passkey", answer.clone())
                    .await
                    .is_none(),
                "a sign-in answer works once"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_replica_signs_web_push_with_one_key() {
    let db = Postgres::new();
    let Some((_dir, [a, b])) = replicas(&db, "every_replica_signs_web_push_with_one_key").await
    else {
        return;
    };
    // A browser subscribes with the key of the replica that served its page; the push may
    // leave from any replica, and a push service refuses one signed with another key.
    let (status, from_a) = send_json(&a, admin("GET", "/api/push/key", Value::Null)).await;
    assert_eq!(status, StatusCode::OK, "{from_a}");
    let (_, from_b) = send_json(&b, admin("GET", "/api/push/key", Value::Null)).await;
    assert!(from_a["public_key"].is_string(), "{from_a}");
    assert_eq!(from_a, from_b, "one VAPID key for every replica");
}

/// Where the replicas say they listen (nothing listens: requests go through their routers).
const ADDR: &str = "127.0.0.1:3100";

/// A new database and a directory for a case of replicas that open themselves; `None` (after a
/// loud SKIP line) without a server.
fn new_database(case: &str) -> Option<(Postgres, tempfile::TempDir)> {
    let db = Postgres::new();
    if let Some(why) = db.why_unavailable() {
        eprintln!("SKIP: {case} not run: {why}");
        return None;
    }
    Some((db, tempfile::tempdir().unwrap()))
}

/// A replica's settings on `db` without an admin password or token, with `hmac` as its secret.
fn bare_config(db: &Postgres, dir: &std::path::Path, hmac: &str) -> gateway::config::Config {
    let mut config = support::plain_config(dir);
    config.database = gateway::store::Location::Postgres(db.url());
    config.hmac_secret = Some(Secret::new(hmac));
    config.public_url = Some("https://localhost:3100".into());
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_starting_together_on_a_new_database_make_one_admin_one_password_one_token() {
    let Some((db, dir)) = new_database("replicas_starting_together") else {
        return;
    };
    let addr: std::net::SocketAddr = ADDR.parse().unwrap();
    let (a, b) = tokio::join!(
        gateway::Gateway::open(bare_config(&db, &dir.path().join("a"), HMAC), addr),
        gateway::Gateway::open(bare_config(&db, &dir.path().join("b"), HMAC), addr),
    );
    let (a, b) = (a.expect("replica a starts"), b.expect("replica b starts"));
    // Exactly one of them generated the password it shows, and it is the one that works.
    let shown: Vec<_> = [&a, &b]
        .iter()
        .filter_map(|g| g.new_admin_password.clone())
        .collect();
    assert_eq!(shown.len(), 1, "one replica shows the generated password");
    for state in [&a.state, &b.state] {
        let browser = Browser::sign_in(
            state,
            "/api/session",
            json!({"password": shown[0].expose()}),
        )
        .await
        .expect("the password shown signs in on every replica");
        let (status, people) = send_json(state, browser.get("/api/people")).await;
        assert_eq!(status, StatusCode::OK, "{people}");
        assert_eq!(
            people.as_array().map(Vec::len),
            Some(1),
            "one first admin: {people}"
        );
    }
    // The same for the admin token.
    let tokens: Vec<_> = [&a, &b]
        .iter()
        .filter_map(|g| g.new_admin_token.clone())
        .collect();
    assert_eq!(
        tokens.len(),
        1,
        "one replica shows the generated admin token"
    );
    for state in [&a.state, &b.state] {
        let request = Request::get("/api/runs")
            .header(
                header::AUTHORIZATION,
                format!("Bearer {}", tokens[0].expose()),
            )
            .body(Body::empty())
            .unwrap();
        let (status, v) = send_json(state, request).await;
        assert_eq!(
            status,
            StatusCode::OK,
            "the token shown works on every replica: {v}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_with_another_hmac_secret_is_refused_at_start() {
    let Some((db, dir)) = new_database("a_replica_with_another_hmac_secret") else {
        return;
    };
    let addr: std::net::SocketAddr = ADDR.parse().unwrap();
    gateway::Gateway::open(bare_config(&db, &dir.path().join("a"), HMAC), addr)
        .await
        .expect("the first replica starts");
    let err = gateway::Gateway::open(
        bare_config(
            &db,
            &dir.path().join("b"),
            "another secret of a careless operator",
        ),
        addr,
    )
    .await
    .expect_err("a replica whose runs the others could not verify is refused");
    let err = format!("{err:#}");
    assert!(err.contains("HMAC_SECRET"), "{err}");
    assert!(
        !err.contains("careless"),
        "the secret stays out of the error: {err}"
    );
    // The same secret again is welcome.
    gateway::Gateway::open(bare_config(&db, &dir.path().join("c"), HMAC), addr)
        .await
        .expect("a replica with the shared secret starts");
}
