//! Handler tests through `Router::oneshot`: signatures, replay, limits, idempotent ingest.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::Secret;
use common::sign::{self, SignedParts};
use common::wire::{CreatedRun, Event, EventKind, EventPage, IngestBatch};
use gateway::auth::replay::NonceCache;
use gateway::auth::token_hash;
use gateway::config::Limits;
use gateway::state::{AppState, StateInner};
use gateway::store::Store;
use gateway::store::sqlite::SqliteStore;
use serde_json::{Value, json};
use tower::ServiceExt;

const SECRET: &str = "test-shared-secret-0123456789";
const ADMIN: &str = "admin-token-for-tests";

struct Harness {
    _dir: tempfile::TempDir,
    state: AppState,
}

async fn harness() -> Harness {
    harness_with(test_limits()).await
}

async fn harness_with(limits: Limits) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let state = state_with(&dir.path().join("g.db"), limits).await;
    Harness { _dir: dir, state }
}

/// The limits of these tests: small bodies, the rest as configured by default.
fn test_limits() -> Limits {
    Limits {
        max_ingest_bytes: 64 * 1024,
        ..Limits::default()
    }
}

/// A gateway's state over the database at `path`: a second one over the same file is what a
/// restarted gateway (or another replica) sees. `ADMIN` is an admin's token with every scope.
async fn state_on(path: &std::path::Path) -> AppState {
    state_with(path, test_limits()).await
}

async fn state_with(path: &std::path::Path, limits: Limits) -> AppState {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(path).unwrap());
    if store.person("p_admin".into()).await.unwrap().is_none() {
        store
            .create_person(gateway::store::Person {
                id: "p_admin".into(),
                name: "admin".into(),
                role: gateway::store::Role::Admin,
                created_at: 1,
                disabled_at: None,
                password_hash: None,
            })
            .await
            .unwrap();
    }
    gateway::auth::tokens::adopt_admin_token(store.as_ref(), token_hash(ADMIN), "p_admin")
        .await
        .unwrap();
    AppState::new(StateInner {
        artifact_bodies: Default::default(),
        body_slots: Default::default(),
        notifier: Arc::new(
            gateway::notify::Notifier::new(store.clone(), "https://localhost:3100".into(), None)
                .unwrap(),
        ),
        store,
        hmac_secret: Secret::new(SECRET),
        passkeys: None,
        metrics_token_hash: None,
        nonces: NonceCache::new(1000),
        run_keys: gateway::auth::run_keys::RunKeys::new(1000),
        limits,
        retention: Default::default(),
        trusted_proxies: Default::default(),
        base_url: "https://localhost:3100".into(),
        tls: true,
        live: Default::default(),
        sessions: Default::default(),
        metrics: Default::default(),
        transcripts: Default::default(),
        ingest_in_flight: Default::default(),
    })
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn nonce() -> String {
    let mut b = [0u8; 18];
    getrandom::fill(&mut b).unwrap();
    sign::encode_nonce(&b)
}

/// A signed request; `tamper` edits the parts after signing.
struct Signed {
    method: &'static str,
    path: String,
    run_id: String,
    key: Vec<u8>,
    ts: i64,
    nonce: String,
    body: Vec<u8>,
}

impl Signed {
    fn new(method: &'static str, path: &str, run_id: &str, key: &[u8], body: Vec<u8>) -> Self {
        Self {
            method,
            path: path.into(),
            run_id: run_id.into(),
            key: key.to_vec(),
            ts: now(),
            nonce: nonce(),
            body,
        }
    }

    fn signature(&self) -> String {
        let (path, query) = self.path.split_once('?').unwrap_or((&self.path, ""));
        sign::sign(
            &self.key,
            &SignedParts {
                method: self.method,
                path,
                query,
                run_id: &self.run_id,
                timestamp: self.ts,
                nonce: &self.nonce,
                body: &self.body,
            },
        )
    }

    fn request_with(&self, signature: &str, body: Vec<u8>) -> Request<Body> {
        Request::builder()
            .method(self.method)
            .uri(&self.path)
            .header(sign::HEADER_TIMESTAMP, self.ts.to_string())
            .header(sign::HEADER_NONCE, &self.nonce)
            .header(sign::HEADER_RUN, &self.run_id)
            .header(sign::HEADER_SIGNATURE, signature)
            .header("content-type", "application/json")
            .body(Body::from(body))
            .unwrap()
    }

    fn request(&self) -> Request<Body> {
        self.request_with(&self.signature(), self.body.clone())
    }
}

async fn call(state: &AppState, req: Request<Body>) -> (StatusCode, Value) {
    let resp = gateway::routes::router(state.clone())
        .oneshot(req)
        .await
        .unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn admin_get(state: &AppState, path: &str) -> (StatusCode, Value) {
    let req = Request::get(path)
        .header("authorization", format!("Bearer {ADMIN}"))
        .body(Body::empty())
        .unwrap();
    call(state, req).await
}

async fn create_run(state: &AppState) -> CreatedRun {
    let s = Signed::new(
        "POST",
        "/api/runner/runs",
        "",
        SECRET.as_bytes(),
        br#"{"name":"t"}"#.to_vec(),
    );
    let (status, body) = call(state, s.request()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let run: CreatedRun = serde_json::from_value(body).unwrap();
    assert!(
        run.token.starts_with("rt_"),
        "a token never starts with '-'"
    );
    run
}

fn run_key(run: &CreatedRun) -> [u8; 32] {
    sign::derive_run_key(SECRET.as_bytes(), &run.run_id, &run.token)
}

fn batch(run_id: &str, seqs: std::ops::RangeInclusive<u64>) -> Vec<u8> {
    let events = seqs
        .map(|s| Event {
            sequence: s,
            kind: EventKind::Stdout,
            data: json!(format!("line {s}")),
            ts: 1,
        })
        .collect();
    serde_json::to_vec(&IngestBatch {
        run_id: run_id.into(),
        events,
    })
    .unwrap()
}

async fn ingest(state: &AppState, run: &CreatedRun, body: Vec<u8>) -> (StatusCode, Value) {
    let s = Signed::new(
        "POST",
        "/api/ingest/event",
        &run.run_id,
        &run_key(run),
        body,
    );
    call(state, s.request()).await
}

/// Events `seqs` of `run` sent on a task of their own, as a batch on its way beside others.
fn send_apart(
    state: &AppState,
    run: &CreatedRun,
    seqs: std::ops::RangeInclusive<u64>,
) -> tokio::task::JoinHandle<(StatusCode, Value)> {
    let (state, run) = (state.clone(), run.clone());
    tokio::spawn(async move { ingest(&state, &run, batch(&run.run_id, seqs)).await })
}

/// Returns once a batch waits for an earlier batch of its run.
async fn until_a_batch_waits(state: &AppState) {
    while state.metrics.ingest_order_waits() == 0 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}

async fn stored(state: &AppState, run: &CreatedRun) -> Vec<u64> {
    let (status, body) = admin_get(
        state,
        &format!("/api/runs/{}/events?after=0&limit=5000", run.run_id),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let page: EventPage = serde_json::from_value(body).unwrap();
    page.events.iter().map(|e| e.sequence).collect()
}

fn reason(body: &Value) -> &str {
    body["reason"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn ingest_is_idempotent_and_refuses_gaps() {
    let h = harness().await;
    let run = create_run(&h.state).await;
    let (s, b) = ingest(&h.state, &run, batch(&run.run_id, 1..=3)).await;
    assert_eq!((s, b["acked_through"].as_u64()), (StatusCode::OK, Some(3)));
    // A resend overlapping what is stored is acked, nothing doubled.
    let (s, b) = ingest(&h.state, &run, batch(&run.run_id, 2..=5)).await;
    assert_eq!((s, b["acked_through"].as_u64()), (StatusCode::OK, Some(5)));
    // A gap answers 409 with where to resume, and stores nothing.
    let (s, b) = ingest(&h.state, &run, batch(&run.run_id, 8..=9)).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_eq!(b["expected"], 6);
    assert_eq!(stored(&h.state, &run).await, vec![1, 2, 3, 4, 5]);
}

/// A runner has two batches on their way at once (PROTOCOL.md, "Ingest"): the later one may be
/// handled first, and then waits for the earlier instead of answering 409.
#[tokio::test]
async fn a_batch_that_overtakes_the_one_before_it_waits_for_it() {
    let h = harness().await;
    let run = create_run(&h.state).await;
    let (s, _) = ingest(&h.state, &run, batch(&run.run_id, 1..=2)).await;
    assert_eq!(s, StatusCode::OK);
    // The earlier batch is held back (its request still counted in, as while its body is being
    // read) until the later one has found the gap and waits.
    let earlier = h.state.ingest_in_flight.enter(&run.run_id);
    let later = send_apart(&h.state, &run, 6..=8);
    until_a_batch_waits(&h.state).await;
    assert!(!later.is_finished(), "the later batch waits");
    let (s, b) = ingest(&h.state, &run, batch(&run.run_id, 3..=5)).await;
    assert_eq!((s, b["acked_through"].as_u64()), (StatusCode::OK, Some(5)));
    drop(earlier);
    let (s, b) = later.await.unwrap();
    assert_eq!(
        (s, b["acked_through"].as_u64()),
        (StatusCode::OK, Some(8)),
        "{b}"
    );
    assert_eq!(stored(&h.state, &run).await, (1..=8).collect::<Vec<_>>());
}

/// The earlier batch fails: the later one waiting for it gets its 409 once the earlier request
/// has ended, not after the whole wait; a resend of both, twice and overlapping, stores each
/// event once.
#[tokio::test]
async fn a_waiting_batch_gets_its_gap_when_the_batch_before_it_fails() {
    let h = harness().await;
    let run = create_run(&h.state).await;
    let earlier = h.state.ingest_in_flight.enter(&run.run_id);
    let later = send_apart(&h.state, &run, 4..=6);
    until_a_batch_waits(&h.state).await;
    // The earlier batch is refused (a line that is not a string): nothing is stored.
    let bad = serde_json::to_vec(&json!({
        "run_id": run.run_id,
        "events": [{"sequence": 1, "kind": "stdout", "data": {"not": "a line"}, "ts": 1}],
    }))
    .unwrap();
    let (s, _) = ingest(&h.state, &run, bad).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    drop(earlier);
    let (s, b) = later.await.unwrap();
    assert_eq!((s, b["expected"].as_u64()), (StatusCode::CONFLICT, Some(1)));
    // No request of the run in progress: a gap is answered at once, as before.
    let (s, b) = ingest(&h.state, &run, batch(&run.run_id, 4..=6)).await;
    assert_eq!((s, b["expected"].as_u64()), (StatusCode::CONFLICT, Some(1)));
    // The runner resends both, and a retry of each arrives beside them, in any order (counted in
    // meanwhile, as a request whose body is still on its way).
    let resending = h.state.ingest_in_flight.enter(&run.run_id);
    let sends = [4..=6, 1..=3, 4..=6, 1..=3].map(|seqs| send_apart(&h.state, &run, seqs));
    let [later, earlier, later_again, earlier_again] = sends;
    for send in [earlier, earlier_again] {
        let (s, b) = send.await.unwrap();
        assert_eq!(s, StatusCode::OK, "{b}");
        assert!(b["acked_through"].as_u64() >= Some(3), "{b}");
    }
    drop(resending);
    for send in [later, later_again] {
        let (s, b) = send.await.unwrap();
        assert_eq!(
            (s, b["acked_through"].as_u64()),
            (StatusCode::OK, Some(6)),
            "{b}"
        );
    }
    assert_eq!(stored(&h.state, &run).await, (1..=6).collect::<Vec<_>>());
}

/// The order wait is the configured one (`GATEWAY_INGEST_ORDER_WAIT_MS`): beside an earlier
/// request of the run that does not end, a later batch gets its 409 once that wait is over, not
/// after the default 2 s; with a wait of 0 it gets it without waiting.
#[tokio::test]
async fn a_batch_waits_for_the_one_before_it_as_long_as_configured() {
    use std::time::{Duration, Instant};
    for wait in [Duration::from_millis(200), Duration::ZERO] {
        let h = harness_with(Limits {
            ingest_order_wait: wait,
            ..test_limits()
        })
        .await;
        let run = create_run(&h.state).await;
        let _earlier = h.state.ingest_in_flight.enter(&run.run_id);
        let started = Instant::now();
        let (s, b) = ingest(&h.state, &run, batch(&run.run_id, 4..=6)).await;
        let took = started.elapsed();
        assert_eq!((s, b["expected"].as_u64()), (StatusCode::CONFLICT, Some(1)));
        assert!(
            took >= wait && took < Duration::from_secs(2),
            "{wait:?}: answered after {took:?}"
        );
        let waited = h.state.metrics.ingest_order_waits();
        assert_eq!(waited > 0, !wait.is_zero(), "{wait:?}: {waited} waits");
    }
}

#[tokio::test]
async fn forged_tampered_stale_replayed_and_unknown_requests_are_refused_and_store_nothing() {
    let h = harness().await;
    let run = create_run(&h.state).await;
    let body = batch(&run.run_id, 1..=1);

    // Forged: signed with a key derived from a wrong token.
    let wrong = sign::derive_run_key(SECRET.as_bytes(), &run.run_id, "not-the-token");
    let s = Signed::new(
        "POST",
        "/api/ingest/event",
        &run.run_id,
        &wrong,
        body.clone(),
    );
    let (status, b) = call(&h.state, s.request()).await;
    assert_eq!(
        (status, reason(&b)),
        (StatusCode::UNAUTHORIZED, "bad_signature")
    );

    // Forged with the shared secret instead of the run key.
    let s = Signed::new(
        "POST",
        "/api/ingest/event",
        &run.run_id,
        SECRET.as_bytes(),
        body.clone(),
    );
    let (status, b) = call(&h.state, s.request()).await;
    assert_eq!(
        (status, reason(&b)),
        (StatusCode::UNAUTHORIZED, "bad_signature")
    );

    // Tampered: a valid signature over a different body.
    let s = Signed::new(
        "POST",
        "/api/ingest/event",
        &run.run_id,
        &run_key(&run),
        body.clone(),
    );
    let other = batch(&run.run_id, 1..=2);
    let (status, b) = call(&h.state, s.request_with(&s.signature(), other)).await;
    assert_eq!(
        (status, reason(&b)),
        (StatusCode::UNAUTHORIZED, "bad_signature")
    );

    // Tampered path: signed for the ping, sent to ingest.
    let mut s = Signed::new(
        "POST",
        "/api/runner/ping",
        &run.run_id,
        &run_key(&run),
        body.clone(),
    );
    let sig = s.signature();
    s.path = "/api/ingest/event".into();
    let (status, b) = call(&h.state, s.request_with(&sig, body.clone())).await;
    assert_eq!(
        (status, reason(&b)),
        (StatusCode::UNAUTHORIZED, "bad_signature")
    );

    // Stale, both ways. The test's clock reads the second before the
    // gateway's does: a timestamp one second past the limit into the past
    // only grows staler, but one into the future would come within the
    // limit if a second boundary passed between the two reads, so the
    // future one is further out.
    let max = sign::MAX_SKEW_SECS;
    for skew in [-(max + 1), max + 30] {
        let mut s = Signed::new(
            "POST",
            "/api/ingest/event",
            &run.run_id,
            &run_key(&run),
            body.clone(),
        );
        s.ts += skew;
        let (status, b) = call(&h.state, s.request()).await;
        assert_eq!(
            (status, reason(&b)),
            (StatusCode::UNAUTHORIZED, "stale_timestamp"),
            "skew {skew}"
        );
    }

    // Unknown run.
    let s = Signed::new(
        "POST",
        "/api/ingest/event",
        "r_nosuchrun",
        &run_key(&run),
        body.clone(),
    );
    let (status, b) = call(&h.state, s.request()).await;
    assert_eq!(
        (status, reason(&b)),
        (StatusCode::UNAUTHORIZED, "unknown_run")
    );

    // Missing and malformed headers.
    let req = Request::post("/api/ingest/event")
        .body(Body::from(body.clone()))
        .unwrap();
    let (status, b) = call(&h.state, req).await;
    assert_eq!(
        (status, reason(&b)),
        (StatusCode::UNAUTHORIZED, "missing_header")
    );
    let mut s = Signed::new(
        "POST",
        "/api/ingest/event",
        &run.run_id,
        &run_key(&run),
        body.clone(),
    );
    s.nonce = "short".into();
    let (status, b) = call(&h.state, s.request()).await;
    assert_eq!(
        (status, reason(&b)),
        (StatusCode::UNAUTHORIZED, "malformed_header")
    );

    assert!(
        stored(&h.state, &run).await.is_empty(),
        "no refused request reached storage"
    );

    // Replayed: the same signed request twice.
    let s = Signed::new(
        "POST",
        "/api/ingest/event",
        &run.run_id,
        &run_key(&run),
        body.clone(),
    );
    let (status, _) = call(&h.state, s.request()).await;
    assert_eq!(status, StatusCode::OK);
    let (status, b) = call(&h.state, s.request()).await;
    assert_eq!(
        (status, reason(&b)),
        (StatusCode::UNAUTHORIZED, "replayed_nonce")
    );
    assert_eq!(stored(&h.state, &run).await, vec![1]);
}

#[tokio::test]
async fn a_forged_request_does_not_use_up_its_nonce() {
    let h = harness().await;
    let run = create_run(&h.state).await;
    let body = batch(&run.run_id, 1..=1);
    let good = Signed::new(
        "POST",
        "/api/ingest/event",
        &run.run_id,
        &run_key(&run),
        body.clone(),
    );
    let forged = good.request_with(&format!("v1={}", "0".repeat(64)), body);
    let (status, _) = call(&h.state, forged).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = call(&h.state, good.request()).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "the genuine request with the same nonce still passes"
    );
}

#[tokio::test]
async fn finished_runs_take_no_new_events_but_ack_resends() {
    let h = harness().await;
    let run = create_run(&h.state).await;
    let events = vec![
        Event {
            sequence: 1,
            kind: EventKind::Stdout,
            data: json!("hi"),
            ts: 1,
        },
        Event {
            sequence: 2,
            kind: EventKind::Marker,
            data: json!({"event": "finished", "exitCode": 0, "durationMs": 5}),
            ts: 2,
        },
    ];
    let body = serde_json::to_vec(&IngestBatch {
        run_id: run.run_id.clone(),
        events,
    })
    .unwrap();
    let (status, _) = ingest(&h.state, &run, body.clone()).await;
    assert_eq!(status, StatusCode::OK);
    let (status, b) = ingest(&h.state, &run, body).await;
    assert_eq!(
        (status, b["acked_through"].as_u64()),
        (StatusCode::OK, Some(2)),
        "a resend is still acked"
    );
    let (status, b) = ingest(&h.state, &run, batch(&run.run_id, 3..=3)).await;
    assert_eq!(
        (status, reason(&b)),
        (StatusCode::UNAUTHORIZED, "run_finished")
    );
    let (_, summary) = admin_get(&h.state, &format!("/api/runs/{}", run.run_id)).await;
    assert_eq!(summary["status"], "finished");
    assert_eq!(summary["exit_code"], 0);
}

#[tokio::test]
async fn bad_bodies_get_clear_errors() {
    let h = harness().await;
    let run = create_run(&h.state).await;
    // Oversized: over the 64 KiB limit of this harness.
    let big = batch(&run.run_id, 1..=4000);
    assert!(big.len() > 64 * 1024);
    let (status, b) = ingest(&h.state, &run, big).await;
    assert_eq!(
        (status, b["error"].as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, Some("payload_too_large"))
    );
    // Malformed JSON.
    let (status, b) = ingest(&h.state, &run, b"{not json".to_vec()).await;
    assert_eq!(
        (status, reason(&b)),
        (StatusCode::BAD_REQUEST, "malformed_json")
    );
    // Wrong data type for the kind.
    let body = json!({"run_id": run.run_id, "events": [{"sequence": 1, "type": "marker", "data": "x", "ts": 0}]});
    let (status, b) = ingest(&h.state, &run, serde_json::to_vec(&body).unwrap()).await;
    assert_eq!(
        (status, reason(&b)),
        (StatusCode::BAD_REQUEST, "invalid_event")
    );
    // Sequence 0.
    let body = json!({"run_id": run.run_id, "events": [{"sequence": 0, "type": "stdout", "data": "x", "ts": 0}]});
    let (status, b) = ingest(&h.state, &run, serde_json::to_vec(&body).unwrap()).await;
    assert_eq!(
        (status, reason(&b)),
        (StatusCode::BAD_REQUEST, "invalid_event")
    );
    // Body for another run.
    let (status, b) = ingest(&h.state, &run, batch("r_other", 1..=1)).await;
    assert_eq!(
        (status, reason(&b)),
        (StatusCode::BAD_REQUEST, "run_mismatch")
    );
    assert!(stored(&h.state, &run).await.is_empty());
}

#[tokio::test]
async fn admin_api_needs_the_token_and_pages_events() {
    let h = harness().await;
    let req = Request::get("/api/runs").body(Body::empty()).unwrap();
    let (status, b) = call(&h.state, req).await;
    assert_eq!(
        (status, reason(&b)),
        (StatusCode::UNAUTHORIZED, "admin_required")
    );
    let req = Request::get("/api/runs")
        .header("authorization", "Bearer wrong")
        .body(Body::empty())
        .unwrap();
    assert_eq!(call(&h.state, req).await.0, StatusCode::UNAUTHORIZED);

    let run = create_run(&h.state).await;
    ingest(&h.state, &run, batch(&run.run_id, 1..=10)).await;
    let (status, b) = admin_get(
        &h.state,
        &format!("/api/runs/{}/events?after=4&limit=3", run.run_id),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let page: EventPage = serde_json::from_value(b).unwrap();
    assert_eq!(
        page.events.iter().map(|e| e.sequence).collect::<Vec<_>>(),
        vec![5, 6, 7]
    );
    assert_eq!((page.next_after, page.last_sequence), (7, 10));
    let (status, runs) = admin_get(&h.state, "/api/runs").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(runs[0]["id"], run.run_id.as_str());
    assert_eq!(
        admin_get(&h.state, "/api/runs/..%2Fx/events").await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn run_keys_cannot_create_runs_and_ping_needs_a_signature() {
    let h = harness().await;
    let run = create_run(&h.state).await;
    let s = Signed::new(
        "POST",
        "/api/runner/runs",
        &run.run_id,
        &run_key(&run),
        b"{}".to_vec(),
    );
    assert_eq!(
        call(&h.state, s.request()).await.0,
        StatusCode::UNAUTHORIZED
    );
    let s = Signed::new("GET", "/api/runner/ping", "", SECRET.as_bytes(), vec![]);
    let (status, b) = call(&h.state, s.request()).await;
    assert_eq!((status, b["ok"].as_bool()), (StatusCode::OK, Some(true)));
    let s = Signed::new("GET", "/api/runner/ping", "", b"wrong-secret", vec![]);
    let (status, b) = call(&h.state, s.request()).await;
    assert_eq!(
        (status, reason(&b)),
        (StatusCode::UNAUTHORIZED, "bad_signature")
    );
}

/// A body that never ends: answering at all proves the gateway did not wait to buffer it.
fn endless() -> Body {
    Body::from_stream(futures_util::stream::pending::<
        Result<axum::body::Bytes, std::io::Error>,
    >())
}

#[tokio::test]
async fn every_signed_route_refuses_before_reading_the_body() {
    let h = harness().await;
    let run = create_run(&h.state).await;
    let other = create_run(&h.state).await;
    let routes = [
        "/api/runner/runs".to_string(),
        "/api/ingest/event".to_string(),
        format!("/api/ingest/artifact?run_id={}&name=a.log", run.run_id),
        format!("/api/runs/{}/commands/c1/ack", run.run_id),
        format!("/api/runs/{}/assist", run.run_id),
    ];
    // (what is wrong, run header, timestamp, expected status and reason)
    let cases: [(&str, Option<&str>, i64, StatusCode, &str); 4] = [
        (
            "no headers",
            None,
            0,
            StatusCode::UNAUTHORIZED,
            "missing_header",
        ),
        (
            "stale",
            Some(""),
            -1000,
            StatusCode::UNAUTHORIZED,
            "stale_timestamp",
        ),
        (
            "unknown run",
            Some("r_nobody"),
            0,
            StatusCode::UNAUTHORIZED,
            "unknown_run",
        ),
        (
            "another run",
            Some(other.run_id.as_str()),
            0,
            StatusCode::BAD_REQUEST,
            "run_mismatch",
        ),
    ];
    for uri in &routes {
        for (what, run_header, skew, status, want) in &cases {
            if *what == "another run" && uri.as_str() == "/api/runner/runs" {
                continue; // signed with the shared secret: no run to mismatch
            }
            if *what == "another run" && uri.as_str() == "/api/ingest/event" {
                continue; // the body names the run: checked once it is read and verified
            }
            let mut req = Request::post(uri.as_str()).header("content-type", "application/json");
            if let Some(run_id) = run_header {
                req = req
                    .header(sign::HEADER_TIMESTAMP, (now() + skew).to_string())
                    .header(sign::HEADER_NONCE, nonce())
                    .header(sign::HEADER_RUN, *run_id)
                    .header(sign::HEADER_SIGNATURE, format!("v1={}", "0".repeat(64)));
            }
            let answer = tokio::time::timeout(
                std::time::Duration::from_secs(5),
                call(&h.state, req.body(endless()).unwrap()),
            )
            .await;
            let (got, b) = answer
                .unwrap_or_else(|_| panic!("{uri} ({what}): the gateway waited for the body"));
            assert_eq!((got, reason(&b)), (*status, *want), "{uri} ({what}): {b}");
        }
    }
}

#[tokio::test]
async fn malformed_queries_get_the_json_error_shape() {
    let h = harness().await;
    let run = create_run(&h.state).await;
    let (status, b) = admin_get(
        &h.state,
        &format!("/api/runs/{}/events?after=abc", run.run_id),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        (b["error"].as_str(), reason(&b)),
        (Some("bad_request"), "invalid_request"),
        "{b}"
    );
}

/// A signed request captured before a restart is refused by the restarted gateway: the nonces are
/// kept by the store, not only in the memory of the process that saw them.
#[tokio::test]
async fn a_request_replayed_after_a_restart_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("g.db");
    let first = state_on(&db).await;
    let run = create_run(&first).await;
    let key = run_key(&run);
    let captured = [
        Signed::new(
            "POST",
            "/api/runner/runs",
            "",
            SECRET.as_bytes(),
            br#"{"name":"replayed"}"#.to_vec(),
        ),
        Signed::new(
            "POST",
            &format!("/api/ingest/artifact?run_id={}&name=r.txt", run.run_id),
            &run.run_id,
            &key,
            b"the first version".to_vec(),
        ),
        Signed::new(
            "POST",
            "/api/ingest/event",
            &run.run_id,
            &key,
            batch(&run.run_id, 1..=2),
        ),
        Signed::new(
            "GET",
            &format!("/api/runs/{}/commands?wait=0", run.run_id),
            &run.run_id,
            &key,
            Vec::new(),
        ),
    ];
    for s in &captured {
        let (status, b) = call(&first, s.request()).await;
        assert!(status.is_success(), "{} {}: {status} {b}", s.method, s.path);
    }
    drop(first);
    let restarted = state_on(&db).await;
    for s in &captured {
        let (status, b) = call(&restarted, s.request()).await;
        assert_eq!(
            (status, reason(&b)),
            (StatusCode::UNAUTHORIZED, "replayed_nonce"),
            "{} {}: {b}",
            s.method,
            s.path
        );
    }
    let (_, runs) = admin_get(&restarted, "/api/runs").await;
    assert_eq!(
        runs.as_array().unwrap().len(),
        2,
        "the replay made no run: {runs}"
    );
    assert_eq!(stored(&restarted, &run).await, vec![1, 2]);
}

/// Numbers a `serde_json::Value` would rewrite (an integer past 2^64, floats as another language
/// writes them) are stored and served exactly as received, and the stream digest a runner
/// computes from what it sent (PROTOCOL.md §5) matches the gateway's.
#[tokio::test]
async fn event_data_is_kept_exactly_as_received() {
    use sha2::{Digest, Sha256};
    let h = harness().await;
    let run = create_run(&h.state).await;
    // Written by hand: key order, spacing and escapes as another runner might send them.
    let sent = r#"{ "event": "probe", "text": "\u00e9 ✓ \/", "neg": -18446744073709551617,
        "big": 18446744073709551616, "cost": 1.5e-05, "small": 0.000015, "exp": 1E+2, "z": [0.10, -0] }"#;
    let canonical = r#"{"big":18446744073709551616,"cost":1.5e-05,"event":"probe","exp":1E+2,"neg":-18446744073709551617,"small":0.000015,"text":"é ✓ /","z":[0.10,-0]}"#;
    let line = format!("{{\"data\":{canonical},\"sequence\":1,\"type\":\"marker\"}}\n");
    let sha = hex::encode(Sha256::digest(line.as_bytes()));
    let body = format!(
        r#"{{"run_id":"{}","events":[{{"sequence":1,"type":"marker","data":{sent},"ts":1}},
        {{"sequence":2,"type":"marker","ts":2,"data":{{"event":"finished","exitCode":0,"durationMs":1,"eventCount":1,"streamSha256":"{sha}"}}}}]}}"#,
        run.run_id
    );
    let (status, b) = ingest(&h.state, &run, body.into_bytes()).await;
    assert_eq!(status, StatusCode::OK, "{b}");
    let resp = gateway::routes::router(h.state.clone())
        .oneshot(
            Request::get(format!("/api/runs/{}/events?after=0", run.run_id))
                .header("authorization", format!("Bearer {ADMIN}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let text = String::from_utf8(
        axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap()
            .to_vec(),
    )
    .unwrap();
    assert!(text.contains(&format!("\"data\":{canonical}")), "{text}");
    let (_, summary) = admin_get(&h.state, &format!("/api/runs/{}", run.run_id)).await;
    assert_eq!(summary["delivery"], "complete", "{summary}");
}

/// Data whose meaning is ambiguous or not text is refused with a reason, and nothing is stored.
#[tokio::test]
async fn ambiguous_event_data_is_refused() {
    let h = harness().await;
    let run = create_run(&h.state).await;
    for data in [r#"{"a":1,"a":2}"#, r#""\ud800""#, r#"{"x":{"y":1,"y":1}}"#] {
        let kind = if data.starts_with('"') {
            "stdout"
        } else {
            "marker"
        };
        let body = format!(
            r#"{{"run_id":"{}","events":[{{"sequence":1,"type":"{kind}","data":{data},"ts":1}}]}}"#,
            run.run_id
        );
        let (status, b) = ingest(&h.state, &run, body.into_bytes()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{data}: {b}");
    }
    assert!(stored(&h.state, &run).await.is_empty());
}

/// An artifact whose body is in object storage, read through a gateway that has none configured
/// (`ARTIFACT_STORE` unset since): a clear `503`, not an empty or broken body. Its metadata is
/// still listed.
#[tokio::test]
async fn an_artifact_in_object_storage_without_an_artifact_store_is_a_503() {
    let h = harness().await;
    let run = create_run(&h.state).await;
    let info = common::wire::ArtifactInfo {
        name: "claude.log".into(),
        size: 3,
        sha256: sign::sha256_hex(b"abc"),
        created_at: 1,
    };
    h.state
        .store
        .put_artifact_object(run.run_id.clone(), info.clone(), "gw/r/k-claude.log".into())
        .await
        .unwrap();
    let (status, listed) =
        admin_get(&h.state, &format!("/api/runs/{}/artifacts", run.run_id)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed, json!([info]));
    let (status, b) = admin_get(
        &h.state,
        &format!("/api/runs/{}/artifacts/claude.log", run.run_id),
    )
    .await;
    assert_eq!(
        (status, reason(&b)),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "artifact_store_unavailable"
        ),
        "{b}"
    );
}
