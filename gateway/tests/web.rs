//! The web UI's server side through `Router::oneshot`: sign-in, sessions, the CSRF guard, the
//! security headers, and the event streams (replay, live, no gap, no duplicate, restarts).

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use common::Secret;
use common::wire::{CreatedRun, Event, EventKind};
use futures_util::StreamExt;
use gateway::Gateway;
use gateway::state::AppState;
use serde_json::{Value, json};
use support::{SseStream, send};

const PASSWORD: &str = "correct horse battery";

async fn open_with(dir: &std::path::Path, password: &str) -> Gateway {
    let mut config = support::plain_config(dir);
    // Plain HTTP behind a TLS proxy: pages come from the HTTPS origin the public URL names.
    config.public_url = Some("https://localhost:3100".into());
    config.admin_password = Some(Secret::new(password));
    config.admin_token = Some(Secret::new("admin-token-for-web-tests"));
    Gateway::open(config, "127.0.0.1:3100".parse().unwrap())
        .await
        .unwrap()
}

async fn open(dir: &std::path::Path) -> AppState {
    open_with(dir, PASSWORD).await.state
}

async fn json_of(resp: axum::response::Response) -> Value {
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    serde_json::from_slice(&bytes).unwrap_or(Value::Null)
}

fn from(ip: [u8; 4], req: Request<Body>) -> Request<Body> {
    let mut req = req;
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::from((ip, 40000))));
    req
}

fn sign_in_request(password: &str) -> Request<Body> {
    Request::post("/api/session")
        .header("content-type", "application/json")
        .header("origin", "https://localhost:3100")
        .header("host", "localhost:3100")
        .header("sec-fetch-site", "same-origin")
        .body(Body::from(json!({ "password": password }).to_string()))
        .unwrap()
}

/// A signed-in browser: its cookie header and CSRF token.
struct Browser {
    cookie: String,
    csrf: String,
}

async fn sign_in(state: &AppState) -> Browser {
    let resp = send(state, from([127, 0, 0, 1], sign_in_request(PASSWORD))).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let set = resp.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_string();
    let cookie = set.split(';').next().unwrap().to_string();
    let csrf = json_of(resp).await["csrf"].as_str().unwrap().to_string();
    Browser { cookie, csrf }
}

impl Browser {
    fn get(&self, path: &str) -> Request<Body> {
        Request::get(path)
            .header(header::COOKIE, &self.cookie)
            .body(Body::empty())
            .unwrap()
    }

    /// A same-origin state-changing request as the page sends it (`csrf` false leaves the token out).
    fn write(&self, method: &str, path: &str, body: Value, csrf: bool) -> Request<Body> {
        let mut b = Request::builder()
            .method(method)
            .uri(path)
            .header(header::COOKIE, &self.cookie)
            .header("host", "localhost:3100")
            .header("origin", "https://localhost:3100")
            .header("sec-fetch-site", "same-origin")
            .header("content-type", "application/json");
        if csrf {
            b = b.header("x-csrf-token", &self.csrf);
        }
        b.body(Body::from(body.to_string())).unwrap()
    }
}

#[tokio::test]
async fn sign_in_sets_a_strict_cookie_that_opens_the_admin_api() {
    let dir = tempfile::tempdir().unwrap();
    let state = open(dir.path()).await;
    let wrong = send(&state, from([127, 0, 0, 1], sign_in_request("nope"))).await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(wrong.headers().get(header::SET_COOKIE).is_none());

    let resp = send(&state, from([127, 0, 0, 1], sign_in_request(PASSWORD))).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let set = resp.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_string();
    for attr in [
        "HttpOnly",
        "Secure",
        "SameSite=Strict",
        "Path=/",
        "Max-Age=",
    ] {
        assert!(set.contains(attr), "{set}");
    }
    let browser = sign_in(&state).await;
    let runs = send(&state, browser.get("/api/runs")).await;
    assert_eq!(runs.status(), StatusCode::OK);
    let session = json_of(send(&state, browser.get("/api/session")).await).await;
    assert_eq!(session["csrf"], browser.csrf.as_str());

    let forged = Request::get("/api/runs")
        .header(header::COOKIE, "__Host-gw_session=not-a-session")
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        send(&state, forged).await.status(),
        StatusCode::UNAUTHORIZED
    );
    // A wrong Bearer token is refused even with a good cookie beside it.
    let mut both = browser.get("/api/runs");
    both.headers_mut()
        .insert(header::AUTHORIZATION, "Bearer wrong".parse().unwrap());
    assert_eq!(send(&state, both).await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn state_changing_requests_need_the_csrf_token_and_the_same_origin() {
    let dir = tempfile::tempdir().unwrap();
    let state = open(dir.path()).await;
    let b = sign_in(&state).await;

    let no_token = send(&state, b.write("POST", "/api/runs", json!({}), false)).await;
    assert_eq!(no_token.status(), StatusCode::FORBIDDEN);
    assert_eq!(json_of(no_token).await["reason"], "csrf");

    let mut cross = b.write("POST", "/api/runs", json!({}), true);
    cross
        .headers_mut()
        .insert("sec-fetch-site", "cross-site".parse().unwrap());
    assert_eq!(
        json_of(send(&state, cross).await).await["reason"],
        "cross_site"
    );

    let mut other_origin = b.write("POST", "/api/runs", json!({}), true);
    other_origin
        .headers_mut()
        .insert("origin", "https://evil.example".parse().unwrap());
    assert_eq!(
        send(&state, other_origin).await.status(),
        StatusCode::FORBIDDEN
    );

    let ok = send(
        &state,
        b.write("POST", "/api/runs", json!({"name": "ui"}), true),
    )
    .await;
    assert_eq!(ok.status(), StatusCode::CREATED);

    // Scripts with the admin token send no cookie, no Origin and no token, and still work.
    let script = Request::post("/api/runs")
        .header(header::AUTHORIZATION, "Bearer admin-token-for-web-tests")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&state, script).await.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn ingest_never_accepts_a_session_cookie() {
    let dir = tempfile::tempdir().unwrap();
    let state = open(dir.path()).await;
    let b = sign_in(&state).await;
    let resp = send(
        &state,
        b.write(
            "POST",
            "/api/ingest/event",
            json!({"run_id": "r_x", "events": []}),
            true,
        ),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(json_of(resp).await["reason"], "missing_header");
}

#[tokio::test]
async fn sign_out_ends_the_session_and_clears_the_cookie() {
    let dir = tempfile::tempdir().unwrap();
    let state = open(dir.path()).await;
    let b = sign_in(&state).await;
    let no_token = send(&state, b.write("DELETE", "/api/session", json!({}), false)).await;
    assert_eq!(
        no_token.status(),
        StatusCode::FORBIDDEN,
        "sign-out is CSRF-checked too"
    );
    let out = send(&state, b.write("DELETE", "/api/session", json!({}), true)).await;
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    assert!(
        out.headers()[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    assert_eq!(
        send(&state, b.get("/api/runs")).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert!(state.store.sessions().await.unwrap().is_empty());
}

#[tokio::test]
async fn sign_in_attempts_are_rate_limited_per_address() {
    let dir = tempfile::tempdir().unwrap();
    let state = open(dir.path()).await;
    for _ in 0..5 {
        let r = send(&state, from([10, 0, 0, 1], sign_in_request("guess"))).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let limited = send(&state, from([10, 0, 0, 1], sign_in_request(PASSWORD))).await;
    assert_eq!(
        limited.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits"
    );
    assert!(limited.headers().contains_key(header::RETRY_AFTER));
    let other = send(&state, from([10, 0, 0, 2], sign_in_request(PASSWORD))).await;
    assert_eq!(
        other.status(),
        StatusCode::OK,
        "another address is not blocked"
    );
}

#[tokio::test]
async fn sessions_survive_a_restart_and_a_new_password_ends_them() {
    let dir = tempfile::tempdir().unwrap();
    let b = sign_in(&open(dir.path()).await).await;
    let again = open(dir.path()).await;
    assert_eq!(
        send(&again, b.get("/api/runs")).await.status(),
        StatusCode::OK
    );
    drop(again);
    let changed = open_with(dir.path(), "a new password").await.state;
    assert_eq!(
        send(&changed, b.get("/api/runs")).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_generated_password_is_returned_once_and_only_its_hash_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = support::plain_config(dir.path());
    config.public_url = Some("https://localhost:3100".into());
    config.admin_password = None;
    let first = Gateway::open(config.clone(), "127.0.0.1:1".parse().unwrap())
        .await
        .unwrap();
    let password = first
        .new_admin_password
        .clone()
        .expect("generated on first start");
    let stored = first
        .state
        .store
        .get_meta("admin_password_argon2id".into())
        .await
        .unwrap()
        .unwrap();
    assert!(stored.starts_with("$argon2id$") && !stored.contains(password.expose()));
    drop(first);
    let second = Gateway::open(config, "127.0.0.1:1".parse().unwrap())
        .await
        .unwrap();
    assert!(second.new_admin_password.is_none(), "shown once");
    let ok = send(
        &second.state,
        from([127, 0, 0, 1], sign_in_request(password.expose())),
    )
    .await;
    assert_eq!(ok.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_page_is_served_with_strict_security_headers() {
    let dir = tempfile::tempdir().unwrap();
    let state = open(dir.path()).await;
    for (path, mime) in [
        ("/", "text/html"),
        ("/runs/r_abc", "text/html"),
        ("/assets/app.mjs", "text/javascript"),
        ("/assets/ansi.mjs", "text/javascript"),
        ("/assets/app.css", "text/css"),
    ] {
        let resp = send(&state, Request::get(path).body(Body::empty()).unwrap()).await;
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        let h = resp.headers();
        assert!(
            h[header::CONTENT_TYPE].to_str().unwrap().starts_with(mime),
            "{path}"
        );
        let csp = h[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"));
        assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"));
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(h[header::REFERRER_POLICY], "no-referrer");
        let etag = h[header::ETAG].clone();
        let again = Request::get(path)
            .header(header::IF_NONE_MATCH, etag)
            .body(Body::empty())
            .unwrap();
        assert_eq!(send(&state, again).await.status(), StatusCode::NOT_MODIFIED);
    }
    let html = axum::body::to_bytes(
        send(&state, Request::get("/").body(Body::empty()).unwrap())
            .await
            .into_body(),
        usize::MAX,
    )
    .await
    .unwrap();
    let html = String::from_utf8(html.to_vec()).unwrap();
    assert!(
        !html.contains("<script>") && !html.contains(" style="),
        "no inline script or style"
    );
    let missing = send(
        &state,
        Request::get("/assets/nope.js").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

// ---------- streams ----------

async fn create_run(state: &AppState) -> CreatedRun {
    let req = Request::post("/api/runs")
        .header(header::AUTHORIZATION, "Bearer admin-token-for-web-tests")
        .body(Body::empty())
        .unwrap();
    serde_json::from_value(json_of(send(state, req).await).await).unwrap()
}

async fn ingest(state: &AppState, run: &CreatedRun, seqs: std::ops::RangeInclusive<u64>) {
    let events: Vec<Event> = seqs
        .map(|s| Event {
            sequence: s,
            kind: EventKind::Stdout,
            data: json!(format!("line {s}")),
            ts: 1000 + s as i64,
        })
        .collect();
    let req = support::ingest_for(state, run, events);
    assert_eq!(send(state, req).await.status(), StatusCode::OK);
}

/// Open `path` as `b`, resuming after `last_id` if given.
async fn open_stream(state: &AppState, b: &Browser, path: &str, last_id: Option<u64>) -> SseStream {
    let mut req = b.get(path);
    if let Some(id) = last_id {
        req.headers_mut()
            .insert("last-event-id", id.to_string().parse().unwrap());
    }
    SseStream::new(send(state, req).await)
}

#[tokio::test]
async fn a_run_stream_replays_then_goes_live_with_no_gap_and_no_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let state = open(dir.path()).await;
    let b = sign_in(&state).await;
    let run = create_run(&state).await;
    ingest(&state, &run, 1..=3).await;

    let path = format!("/api/runs/{}/stream", run.run_id);
    let mut s = open_stream(&state, &b, &path, Some(1)).await;
    assert_eq!(
        s.ids_through(3).await,
        [2, 3],
        "resumes after Last-Event-ID"
    );
    assert!(s.text.starts_with("retry: "));

    ingest(&state, &run, 4..=6).await;
    // Batches the hub cannot vouch for: a stale copy, then one past a gap (not stored).
    state
        .live
        .publish_events(&run.run_id, vec![ev(5).to_raw(), ev(6).to_raw()]);
    state.live.publish_events(&run.run_id, vec![ev(9).to_raw()]);
    ingest(&state, &run, 7..=8).await;
    assert_eq!(s.ids_through(8).await, [2, 3, 4, 5, 6, 7, 8]);

    let q = format!("/api/runs/{}/stream?after=6", run.run_id);
    let mut from_query = open_stream(&state, &b, &q, None).await;
    assert_eq!(
        from_query.ids_through(8).await,
        [7, 8],
        "?after= when no header"
    );
}

fn ev(sequence: u64) -> Event {
    Event {
        sequence,
        kind: EventKind::Stdout,
        data: json!("from the hub"),
        ts: 0,
    }
}

#[tokio::test]
async fn a_stream_resumes_after_a_gateway_restart() {
    let dir = tempfile::tempdir().unwrap();
    let state = open(dir.path()).await;
    let b = sign_in(&state).await;
    let run = create_run(&state).await;
    ingest(&state, &run, 1..=4).await;
    let path = format!("/api/runs/{}/stream", run.run_id);
    let mut s = open_stream(&state, &b, &path, None).await;
    assert_eq!(s.ids_through(4).await, [1, 2, 3, 4]);
    drop(s);
    drop(state);

    let state = open(dir.path()).await;
    ingest(&state, &run, 5..=6).await;
    let mut s = open_stream(&state, &b, &path, Some(4)).await;
    assert_eq!(s.ids_through(6).await, [5, 6]);
}

#[tokio::test]
async fn the_list_stream_sends_a_snapshot_then_run_changes() {
    let dir = tempfile::tempdir().unwrap();
    let state = open(dir.path()).await;
    let b = sign_in(&state).await;
    let resp = send(&state, b.get("/api/stream")).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let mut body = resp.into_body().into_data_stream();
    let mut text = String::new();
    macro_rules! read_until {
        ($needle:expr) => {{
            let needle: String = $needle;
            tokio::time::timeout(Duration::from_secs(10), async {
                while !text.contains(&needle) {
                    let chunk = body.next().await.unwrap().unwrap();
                    text.push_str(std::str::from_utf8(&chunk).unwrap());
                }
            })
            .await
            .unwrap_or_else(|_| panic!("{needle} never came"));
        }};
    }
    read_until!("event: runs\ndata: []".into());
    let run = create_run(&state).await;
    read_until!(format!("\"id\":\"{}\"", run.run_id));
    ingest(&state, &run, 1..=2).await;
    read_until!("\"status\":\"running\"".into());
    assert_eq!(
        send(
            &state,
            Request::get("/api/stream").body(Body::empty()).unwrap()
        )
        .await
        .status(),
        StatusCode::UNAUTHORIZED,
        "streams need a session or the admin token"
    );
}

/// Behind a trusted reverse proxy each client it names has its own sign-in limit; a header from
/// anyone else is ignored, so a client cannot give itself fresh attempts by inventing addresses.
#[tokio::test]
async fn the_limiter_counts_the_client_a_trusted_proxy_names_and_ignores_spoofed_headers() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = support::plain_config(dir.path());
    config.public_url = Some("https://localhost:3100".into());
    config.admin_password = Some(Secret::new(PASSWORD));
    config.trusted_proxies = gateway::http::TrustedProxies::parse("10.0.0.0/8").unwrap();
    let gw = gateway::Gateway::open(config, "127.0.0.1:3100".parse().unwrap())
        .await
        .unwrap();
    let state = gw.state;
    let via = |xff: &str, req: Request<Body>| {
        let mut req = req;
        req.headers_mut()
            .insert("x-forwarded-for", xff.parse().unwrap());
        req
    };

    // A client straight on the internet rotating X-Forwarded-For: one address, one limit.
    for i in 0..5 {
        let req = via(&format!("198.51.100.{i}"), sign_in_request("guess"));
        let r = send(&state, from([203, 0, 113, 9], req)).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let req = via("198.51.100.99", sign_in_request(PASSWORD));
    let r = send(&state, from([203, 0, 113, 9], req)).await;
    assert_eq!(
        r.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "the spoofed header changed nothing"
    );

    // Through the proxy (10.0.0.5): the client it names is counted, not the proxy.
    for _ in 0..5 {
        let req = via("192.0.2.1", sign_in_request("guess"));
        let r = send(&state, from([10, 0, 0, 5], req)).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let req = via("192.0.2.1", sign_in_request(PASSWORD));
    let r = send(&state, from([10, 0, 0, 5], req)).await;
    assert_eq!(
        r.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "that client is limited"
    );
    let req = via("192.0.2.2", sign_in_request(PASSWORD));
    let r = send(&state, from([10, 0, 0, 5], req)).await;
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "another client behind the same proxy is not"
    );
    // A client's own claim to the left of what the proxy saw is not believed.
    let req = via("192.0.2.2, 192.0.2.1", sign_in_request(PASSWORD));
    let r = send(&state, from([10, 0, 0, 5], req)).await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
}

/// The UI installs on a phone: the page links a web app manifest, and the service worker that
/// shows push notifications (and posts their actions) is served at the root, so its scope is
/// the whole gateway.
#[tokio::test]
async fn the_manifest_and_the_service_worker_are_served_from_the_root() {
    let dir = tempfile::tempdir().unwrap();
    let state = open(dir.path()).await;
    let page = send(&state, Request::get("/").body(Body::empty()).unwrap()).await;
    let html = axum::body::to_bytes(page.into_body(), usize::MAX)
        .await
        .unwrap();
    let html = String::from_utf8(html.to_vec()).unwrap();
    assert!(html.contains(r#"<link rel="manifest" href="/manifest.webmanifest">"#));

    let resp = send(
        &state,
        Request::get("/manifest.webmanifest")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.headers()[header::CONTENT_TYPE],
        "application/manifest+json"
    );
    let manifest = json_of(resp).await;
    assert_eq!(
        (
            &manifest["start_url"],
            &manifest["scope"],
            &manifest["display"]
        ),
        (&json!("/"), &json!("/"), &json!("standalone"))
    );
    let icon = manifest["icons"][0]["src"].as_str().unwrap().to_string();
    let resp = send(&state, Request::get(&icon).body(Body::empty()).unwrap()).await;
    assert_eq!(resp.status(), StatusCode::OK, "{icon}");

    let resp = send(&state, Request::get("/sw.js").body(Body::empty()).unwrap()).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.headers()[header::CONTENT_TYPE],
        "text/javascript; charset=utf-8"
    );
    assert!(
        resp.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .contains("default-src 'self'")
    );
    let sw = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    let sw = String::from_utf8(sw.to_vec()).unwrap();
    for part in ["'push'", "'notificationclick'", "showNotification", "token"] {
        assert!(sw.contains(part), "the worker handles {part}");
    }
}

#[tokio::test]
async fn passkey_sign_ins_started_from_one_address_are_limited_before_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let state = open(dir.path()).await;
    let options = |ip: [u8; 4]| {
        from(
            ip,
            support::page_post("/api/session/passkey/options", Value::Null),
        )
    };
    for n in 0..120 {
        let resp = send(&state, options([203, 0, 113, 7])).await;
        assert_eq!(resp.status(), StatusCode::OK, "start {n}");
    }
    let resp = send(&state, options([203, 0, 113, 7])).await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(resp.headers().contains_key(header::RETRY_AFTER));
    // Another address is not held back.
    let resp = send(&state, options([198, 51, 100, 2])).await;
    assert_eq!(resp.status(), StatusCode::OK);
}
