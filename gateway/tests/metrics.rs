//! `GET /metrics` through `Router::oneshot`: who may scrape it, and that its series exist and move
//! with ingest, resends, gaps, refusals, redaction markers and open streams.

mod support;

use std::collections::HashMap;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::Secret;
use common::sign;
use common::wire::{CreatedRun, Event, EventKind};
use gateway::state::AppState;
use serde_json::json;
use support::{ingest, send};

const ADMIN: &str = "admin-token-for-metrics-tests";
const SCRAPER: &str = "metrics-token-for-tests";

async fn open(dir: &std::path::Path) -> AppState {
    let mut config = support::plain_config(dir);
    config.admin_token = Some(Secret::new(ADMIN));
    config.admin_password = Some(Secret::new("a password for the metrics tests"));
    config.metrics_token = Some(Secret::new(SCRAPER));
    gateway::Gateway::open(config, "127.0.0.1:3100".parse().unwrap())
        .await
        .unwrap()
        .state
}

fn bearer(path: &str, token: &str) -> Request<Body> {
    Request::get(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap()
}

/// Scrape with `token` and parse the samples: `name{labels}` → value.
async fn scrape(state: &AppState, token: &str) -> HashMap<String, f64> {
    let resp = send(state, bearer("/metrics", token)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(
        resp.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    let text = String::from_utf8(body.to_vec()).unwrap();
    let mut samples = HashMap::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (series, value) = line.rsplit_once(' ').expect("sample line");
        samples.insert(series.to_string(), value.parse::<f64>().expect(line));
    }
    samples
}

fn line(sequence: u64) -> Event {
    Event {
        sequence,
        kind: EventKind::Stdout,
        data: json!(format!("line {sequence}")),
        ts: 1,
    }
}

fn redactions(sequence: u64) -> Event {
    Event {
        sequence,
        kind: EventKind::Marker,
        data: json!({"event": "redactions", "counts": {"github_token": 3, "aws_access_key": 1}}),
        ts: 1,
    }
}

#[tokio::test]
async fn metrics_need_a_credential_and_their_series_move() {
    let dir = tempfile::tempdir().unwrap();
    let state = open(dir.path()).await;

    // Who may scrape: the metrics token or the admin token; nobody else.
    assert_eq!(
        send(
            &state,
            Request::get("/metrics").body(Body::empty()).unwrap()
        )
        .await
        .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        send(&state, bearer("/metrics", "not-a-token"))
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        send(&state, bearer("/api/runs", SCRAPER)).await.status(),
        StatusCode::UNAUTHORIZED,
        "the metrics token reads nothing else"
    );
    let before = scrape(&state, ADMIN).await;
    for series in [
        "gateway_events_ingested_total",
        "gateway_ingest_bytes_total",
        "gateway_events_resent_total",
        "gateway_ingest_gaps_total",
        "gateway_ingest_order_waits_total",
        "gateway_ingest_duration_seconds_count",
        "gateway_ingest_duration_seconds_bucket{le=\"+Inf\"}",
        "gateway_active_runs",
        "gateway_runs{status=\"running\"}",
        "gateway_sse_subscribers",
        "gateway_store_errors_total",
        "gateway_internal_errors_total",
        "gateway_unauthorized_total{reason=\"bad_signature\"}",
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
    ] {
        assert!(before.contains_key(series), "{series} missing: {before:?}");
    }
    assert_eq!(before["gateway_events_ingested_total"], 0.0);
    // The three refused scrapes above.
    assert_eq!(
        before["gateway_unauthorized_total{reason=\"admin_required\"}"],
        3.0
    );

    // A run with a batch carrying a redactions marker, then the same batch again, then a gap.
    let resp = send(
        &state,
        Request::post("/api/runs")
            .header(header::AUTHORIZATION, format!("Bearer {ADMIN}"))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let created: CreatedRun = serde_json::from_slice(
        &axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap(),
    )
    .unwrap();
    let key = sign::derive_run_key(
        state.hmac_secret.expose().as_bytes(),
        &created.run_id,
        &created.token,
    );
    let stream = send(
        &state,
        bearer(&format!("/api/runs/{}/stream", created.run_id), ADMIN),
    )
    .await;
    assert_eq!(stream.status(), StatusCode::OK);

    let batch = vec![line(1), line(2), redactions(3)];
    assert_eq!(
        send(&state, ingest(&created.run_id, &key, batch.clone()))
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        send(&state, ingest(&created.run_id, &key, batch))
            .await
            .status(),
        StatusCode::OK,
        "a resend is acknowledged"
    );
    assert_eq!(
        send(&state, ingest(&created.run_id, &key, vec![line(9)]))
            .await
            .status(),
        StatusCode::CONFLICT
    );
    assert_eq!(
        send(&state, ingest(&created.run_id, b"wrong key", vec![line(4)]))
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );

    let after = scrape(&state, SCRAPER).await;
    let moved = |series: &str| after[series] - before.get(series).copied().unwrap_or(0.0);
    assert_eq!(moved("gateway_events_ingested_total"), 3.0);
    assert_eq!(moved("gateway_ingest_batches_total"), 2.0);
    assert_eq!(moved("gateway_events_resent_total"), 3.0);
    assert_eq!(moved("gateway_ingest_gaps_total"), 1.0);
    assert!(moved("gateway_ingest_bytes_total") > 100.0);
    assert_eq!(moved("gateway_ingest_duration_seconds_count"), 2.0);
    assert_eq!(
        after["gateway_ingest_duration_seconds_bucket{le=\"+Inf\"}"],
        after["gateway_ingest_duration_seconds_count"]
    );
    assert_eq!(
        after["gateway_redactions_total{rule=\"github_token\"}"],
        3.0
    );
    assert_eq!(
        after["gateway_redactions_total{rule=\"aws_access_key\"}"],
        1.0
    );
    assert_eq!(
        moved("gateway_unauthorized_total{reason=\"bad_signature\"}"),
        1.0
    );
    assert_eq!(after["gateway_runs{status=\"running\"}"], 1.0);
    assert_eq!(after["gateway_active_runs"], 1.0);
    assert_eq!(after["gateway_sse_subscribers"], 1.0);
    assert!(after["process_resident_memory_bytes"] > 0.0);

    // No run id, key or token appears anywhere in the exposition.
    let resp = send(&state, bearer("/metrics", SCRAPER)).await;
    let text = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&text);
    for secret in [
        created.run_id.as_str(),
        created.token.as_str(),
        ADMIN,
        SCRAPER,
    ] {
        assert!(!text.contains(secret), "{secret} leaked into /metrics");
    }

    drop(stream);
    let gone = gateway_sse_subscribers_eventually_zero(&state).await;
    assert_eq!(gone, 0.0, "a closed stream is no longer counted");
}

/// The stream's pump notices the closed body on its next wake-up; wait for it.
async fn gateway_sse_subscribers_eventually_zero(state: &AppState) -> f64 {
    for _ in 0..200 {
        let n = scrape(state, SCRAPER).await["gateway_sse_subscribers"];
        if n == 0.0 {
            return n;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    scrape(state, SCRAPER).await["gateway_sse_subscribers"]
}

/// Sign-in refusals pass the error boundary like every other 401, so they are counted by reason.
#[tokio::test]
async fn sign_in_refusals_are_counted_by_reason() {
    let dir = tempfile::tempdir().unwrap();
    let state = open(dir.path()).await;
    let wrong = Request::post("/api/session")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(r#"{"password": "not the password"}"#))
        .unwrap();
    assert_eq!(send(&state, wrong).await.status(), StatusCode::UNAUTHORIZED);
    for _ in 0..2 {
        let no_session = Request::get("/api/session").body(Body::empty()).unwrap();
        assert_eq!(
            send(&state, no_session).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let m = scrape(&state, SCRAPER).await;
    assert_eq!(
        m[r#"gateway_unauthorized_total{reason="bad_password"}"#],
        1.0
    );
    assert_eq!(m[r#"gateway_unauthorized_total{reason="signed_out"}"#], 2.0);
    assert_eq!(m[r#"gateway_unauthorized_total{reason="other"}"#], 0.0);
}
