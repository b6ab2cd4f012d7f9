//! Notifications end to end, on loopback: the gateway's dispatcher posts to a receiver this test
//! runs (a webhook), signed, retried after a 500, with nothing of the run's output in it.

mod support;

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Request, StatusCode, header};
use common::wire::{CreatedRun, Event, EventKind};
use gateway::state::AppState;
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// A request the receiver got.
#[derive(Debug)]
struct Received {
    path: String,
    headers: HeaderMap,
    body: Bytes,
}

/// A receiver on `127.0.0.1:0` that answers the first request with `first` and every later one
/// with 204; each request is handed to the test.
async fn receiver(first: StatusCode) -> (String, mpsc::UnboundedReceiver<Received>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let answered = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let app = axum::Router::new().fallback(
        move |uri: axum::http::Uri, headers: HeaderMap, body: Bytes| {
            let tx = tx.clone();
            let answered = answered.clone();
            async move {
                let _ = tx.send(Received {
                    path: uri.path().to_string(),
                    headers,
                    body,
                });
                if answered.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
                    first
                } else {
                    StatusCode::NO_CONTENT
                }
            }
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), rx)
}

async fn next(rx: &mut mpsc::UnboundedReceiver<Received>) -> Received {
    tokio::time::timeout(Duration::from_secs(20), rx.recv())
        .await
        .expect("a delivery within 20 s")
        .expect("the receiver runs")
}

struct Harness {
    _dir: tempfile::TempDir,
    state: AppState,
    admin: String,
}

impl Harness {
    async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (state, admin) = support::open(&dir.path().join("data")).await;
        Self {
            _dir: dir,
            state,
            admin,
        }
    }

    async fn admin(&self, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {}", self.admin))
            .header(header::CONTENT_TYPE, "application/json")
            .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
            .unwrap();
        support::send_json(&self.state, req).await
    }

    /// The webhook's delivery log once `done` holds for it (the dispatcher records an attempt
    /// just after the receiver has answered); fails after 10 s.
    async fn log_when(&self, hook_id: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let read = async {
            loop {
                let (status, log) = self
                    .admin("GET", &format!("/api/webhooks/{hook_id}/deliveries"), None)
                    .await;
                assert_eq!(status, StatusCode::OK);
                let log = log.as_array().unwrap().clone();
                if done(&log) {
                    return log;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(10), read)
            .await
            .expect("the delivery log reaches the state")
    }

    async fn run(&self, name: &str) -> CreatedRun {
        let (status, v) = self
            .admin("POST", "/api/runs", Some(json!({ "name": name })))
            .await;
        assert_eq!(status, StatusCode::CREATED);
        serde_json::from_value(v).unwrap()
    }

    async fn ingest(&self, run: &CreatedRun, events: Vec<Event>) {
        let (status, v) =
            support::send_json(&self.state, support::ingest_for(&self.state, run, events)).await;
        assert_eq!(status, StatusCode::OK, "{v}");
    }
}

fn event(sequence: u64, kind: EventKind, data: Value) -> Event {
    Event {
        sequence,
        kind,
        data,
        ts: 1_700_000_000_000 + sequence as i64,
    }
}

fn marker(sequence: u64, data: Value) -> Event {
    event(sequence, EventKind::Marker, data)
}

/// The signature headers check out with `secret`, within the window; the delivery id.
fn verified(r: &Received, secret: &str) -> String {
    let h = |name: &str| r.headers[name].to_str().unwrap().to_string();
    let id = h(common::sign::WEBHOOK_HEADER_ID);
    let ts: i64 = h(common::sign::WEBHOOK_HEADER_TIMESTAMP).parse().unwrap();
    common::sign::check_timestamp(gateway::clock::now_secs(), ts).unwrap();
    common::sign::verify_webhook(
        secret.as_bytes(),
        ts,
        &id,
        &r.body,
        &h(common::sign::WEBHOOK_HEADER_SIGNATURE),
    )
    .expect("the signature verifies");
    assert!(
        common::sign::verify_webhook(
            b"another secret",
            ts,
            &id,
            &r.body,
            &h(common::sign::WEBHOOK_HEADER_SIGNATURE)
        )
        .is_err()
    );
    assert_eq!(r.headers[header::CONTENT_TYPE], "application/json");
    id
}

#[tokio::test]
async fn a_webhook_gets_signed_deliveries_retried_after_a_500() {
    let h = Harness::new().await;
    let dispatcher = tokio::spawn(gateway::notify::run_forever(h.state.notifier.clone()));
    let (base, mut rx) = receiver(StatusCode::INTERNAL_SERVER_ERROR).await;

    // Refused shapes first.
    for body in [
        json!({"url": "ftp://x/", "events": ["finished"]}),
        json!({"url": format!("{base}/hook"), "events": []}),
        json!({"url": format!("{base}/hook"), "events": ["lunch"]}),
        json!({"url": format!("{base}/hook"), "events": ["finished"], "secret": "mine"}),
    ] {
        let (status, v) = h.admin("POST", "/api/webhooks", Some(body.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {v}");
    }
    let (status, hook) = h
        .admin(
            "POST",
            "/api/webhooks",
            Some(json!({"url": format!("{base}/hook"),
                        "events": ["needs_approval", "finished", "needs_approval"]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{hook}");
    assert_eq!(hook["events"], json!(["needs_approval", "finished"]));
    assert_eq!(hook["format"], "json");
    let secret = hook["secret"].as_str().unwrap().to_string();
    let hook_id = hook["id"].as_str().unwrap().to_string();
    let (_, slack) = h
        .admin(
            "POST",
            "/api/webhooks",
            Some(
                json!({"url": format!("{base}/slack"), "events": ["finished"],
                        "format": "slack"}),
            ),
        )
        .await;
    let slack_secret = slack["secret"].as_str().unwrap().to_string();
    let (_, list) = h.admin("GET", "/api/webhooks", None).await;
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert!(
        list.to_string().find("whsec_").is_none(),
        "secrets are shown once: {list}"
    );

    // A tool call waits for a person: the first delivery is answered 500.
    let run = h.run("nightly tests").await;
    h.ingest(
        &run,
        vec![
            event(1, EventKind::Stdout, json!("TOPSECRET output line")),
            marker(
                2,
                json!({"event": "permission_request", "requestId": "pr_0123456789abcdef",
                       "tool": "Bash", "command": "curl TOPSECRET", "input": {"command": "curl TOPSECRET"},
                       "cwd": "/w", "expiresAt": 1_700_000_600_000_i64}),
            ),
        ],
    )
    .await;
    let first = next(&mut rx).await;
    assert_eq!(first.path, "/hook");
    let first_id = verified(&first, &secret);
    let body: Value = serde_json::from_slice(&first.body).unwrap();
    assert_eq!(body["event"], "needs_approval");
    assert_eq!(body["run"]["id"], run.run_id.as_str());
    assert_eq!(body["run"]["name"], "nightly tests");
    assert_eq!(body["run"]["status"], "running");
    assert_eq!(
        body["run"]["url"],
        format!("http://localhost:3100/runs/{}", run.run_id)
    );
    assert_eq!(
        body["approval"],
        json!({"request_id": "pr_0123456789abcdef", "tool": "Bash"})
    );
    assert_eq!(first.headers["x-webhook-event"], "needs_approval");

    // The retry: the same delivery id, signed again.
    let retry = next(&mut rx).await;
    assert_eq!(verified(&retry, &secret), first_id);
    assert_eq!(retry.body, first.body);

    // The run ends: both webhooks hear of it, the Slack one as text.
    h.ingest(
        &run,
        vec![
            marker(
                3,
                json!({"event": "permission_decision", "requestId": "pr_0123456789abcdef",
                             "decision": "allow", "by": "admin", "tool": "Bash"}),
            ),
            marker(
                4,
                json!({"event": "finished", "exitCode": 0, "durationMs": 5}),
            ),
        ],
    )
    .await;
    let mut finished = Vec::new();
    while finished.len() < 2 {
        finished.push(next(&mut rx).await);
    }
    finished.sort_by(|a, b| a.path.cmp(&b.path));
    let (json_hook, slack_hook) = (&finished[0], &finished[1]);
    assert_eq!(json_hook.path, "/hook");
    let finished_id = verified(json_hook, &secret);
    assert_ne!(finished_id, first_id);
    let body: Value = serde_json::from_slice(&json_hook.body).unwrap();
    assert_eq!(
        (body["event"].as_str(), body["run"]["status"].as_str()),
        (Some("finished"), Some("finished"))
    );
    assert_eq!(slack_hook.path, "/slack");
    verified(slack_hook, &slack_secret);
    let text: Value = serde_json::from_slice(&slack_hook.body).unwrap();
    assert_eq!(
        text["text"],
        format!(
            "*Finished*: nightly tests finished <http://localhost:3100/runs/{}|open>",
            run.run_id
        )
    );
    for r in [&first, &retry, json_hook, slack_hook] {
        let text = String::from_utf8_lossy(&r.body);
        assert!(!text.contains("TOPSECRET"), "{text}");
    }

    // The delivery log says how each went.
    let log = h
        .log_when(&hook_id, |log| {
            log.len() == 2 && log.iter().all(|d| d["state"] == "delivered")
        })
        .await;
    assert_eq!(log.len(), 2, "{log:?}");
    let approval = log.iter().find(|d| d["id"] == first_id.as_str()).unwrap();
    assert_eq!(
        (
            &approval["event"],
            &approval["state"],
            &approval["attempts"],
            &approval["last_status"]
        ),
        (
            &json!("needs_approval"),
            &json!("delivered"),
            &json!(2),
            &json!(204)
        )
    );
    assert_eq!(approval["last_error"], Value::Null);
    let ended = log
        .iter()
        .find(|d| d["id"] == finished_id.as_str())
        .unwrap();
    assert_eq!(
        (&ended["state"], &ended["attempts"], &ended["run_id"]),
        (&json!("delivered"), &json!(1), &json!(run.run_id))
    );

    // Deleted: no more deliveries, no log.
    let (status, _) = h
        .admin("DELETE", &format!("/api/webhooks/{hook_id}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = h
        .admin("GET", &format!("/api/webhooks/{hook_id}/deliveries"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    dispatcher.abort();
}

/// A delivery queued before a restart is sent by the next gateway on the same database: the
/// queue is the store, not the process.
#[tokio::test]
async fn a_retry_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let (state, admin) = support::open(&data).await;
    let h = Harness {
        _dir: tempfile::tempdir().unwrap(),
        state,
        admin,
    };
    let (base, mut rx) = receiver(StatusCode::SERVICE_UNAVAILABLE).await;
    let (_, hook) = h
        .admin(
            "POST",
            "/api/webhooks",
            Some(json!({"url": format!("{base}/h"), "events": ["failed"]})),
        )
        .await;
    let secret = hook["secret"].as_str().unwrap().to_string();
    let first_gateway = tokio::spawn(gateway::notify::run_forever(h.state.notifier.clone()));
    let run = h.run("flaky").await;
    h.ingest(
        &run,
        vec![marker(1, json!({"event": "finished", "exitCode": 3}))],
    )
    .await;
    let refused = next(&mut rx).await;
    let id = verified(&refused, &secret);
    // Stopped once the refusal is recorded (stopped mid-attempt, the delivery would come back
    // when its lease ends, a minute later).
    let log = h
        .log_when(hook["id"].as_str().unwrap(), |log| log[0]["attempts"] == 1)
        .await;
    assert_eq!(
        (
            &log[0]["state"],
            &log[0]["last_status"],
            &log[0]["last_error"]
        ),
        (&json!("pending"), &json!(503), &json!("answered 503"))
    );
    first_gateway.abort();
    let _ = first_gateway.await;

    // A new process: its own store and notifier over the same database file.
    let store: Arc<dyn gateway::store::Store> =
        Arc::new(gateway::store::sqlite::SqliteStore::open(&data.join("gateway.db")).unwrap());
    let notifier =
        Arc::new(gateway::notify::Notifier::new(store, "https://gw.example".into(), None).unwrap());
    let second_gateway = tokio::spawn(gateway::notify::run_forever(notifier));
    let retried = next(&mut rx).await;
    assert_eq!(verified(&retried, &secret), id);
    let body: Value = serde_json::from_slice(&retried.body).unwrap();
    assert_eq!(
        (body["event"].as_str(), body["run"]["status"].as_str()),
        (Some("failed"), Some("failed"))
    );
    second_gateway.abort();
}

/// A receiver that answers with a redirect does not get its signed body sent elsewhere: the
/// gateway follows no redirect (the target, another local server here, hears nothing) and
/// records a failed attempt that says so.
#[tokio::test]
async fn a_redirect_is_not_followed() {
    let h = Harness::new().await;
    let dispatcher = tokio::spawn(gateway::notify::run_forever(h.state.notifier.clone()));
    let (elsewhere, mut elsewhere_rx) = receiver(StatusCode::NO_CONTENT).await;
    let (redirects_tx, mut redirects) = mpsc::unbounded_channel();
    let target = format!("{elsewhere}/private");
    let app = axum::Router::new().fallback(move || {
        let (tx, target) = (redirects_tx.clone(), target.clone());
        async move {
            let _ = tx.send(());
            (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, target)])
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let (_, hook) = h
        .admin(
            "POST",
            "/api/webhooks",
            Some(json!({"url": format!("http://{addr}/hook"), "events": ["finished"]})),
        )
        .await;
    let run = h.run("moved").await;
    h.ingest(
        &run,
        vec![marker(1, json!({"event": "finished", "exitCode": 0}))],
    )
    .await;
    tokio::time::timeout(Duration::from_secs(20), redirects.recv())
        .await
        .expect("the first attempt")
        .unwrap();
    let log = h
        .log_when(hook["id"].as_str().unwrap(), |log| log[0]["attempts"] == 1)
        .await;
    assert_eq!(
        (&log[0]["state"], &log[0]["last_status"]),
        (&json!("pending"), &json!(307))
    );
    assert_eq!(
        log[0]["last_error"],
        "answered 307; redirects are not followed"
    );
    assert!(
        elsewhere_rx.try_recv().is_err(),
        "the redirect's target got nothing"
    );
    dispatcher.abort();
}
