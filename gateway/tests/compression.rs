//! JSON answers that can be large go out gzipped to a client that takes gzip; event streams and
//! answers that carry a secret never do.

mod support;

use std::io::Read;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::wire::{CreatedRun, Event, EventKind};
use gateway::state::AppState;
use serde_json::{Value, json};

async fn answer(
    state: &AppState,
    admin: &str,
    method: &str,
    path: &str,
    gzip: bool,
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {admin}"));
    if gzip {
        req = req.header(header::ACCEPT_ENCODING, "gzip, deflate, br");
    }
    let body = if method == "POST" {
        req = req.header("content-type", "application/json");
        Body::from(r#"{"name":"n"}"#)
    } else {
        Body::empty()
    };
    let resp = support::send(state, req.body(body).unwrap()).await;
    let (status, headers) = (resp.status(), resp.headers().clone());
    if headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        == Some("text/event-stream")
    {
        return (status, headers, Vec::new());
    }
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, headers, bytes.to_vec())
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .expect("gzip");
    out
}

fn encoding(h: &axum::http::HeaderMap) -> Option<&str> {
    h.get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn event_pages_transcripts_and_hits_are_gzipped_and_secrets_never_are() {
    let dir = tempfile::tempdir().unwrap();
    let (state, admin) = support::open(dir.path()).await;

    // Creating a run answers its token: never compressed.
    let (status, h, body) = answer(&state, &admin, "POST", "/api/runs", true).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        encoding(&h),
        None,
        "the run token's answer is not compressed"
    );
    let run: CreatedRun = serde_json::from_slice(&body).unwrap();
    let events: Vec<Event> = (1..=2000)
        .map(|s| Event {
            sequence: s,
            kind: EventKind::Stdout,
            data: json!(format!("compiling crate number {s} of the workspace")),
            ts: 1,
        })
        .collect();
    let (status, _) = support::send_json(&state, support::ingest_for(&state, &run, events)).await;
    assert_eq!(status, StatusCode::OK);

    let id = &run.run_id;
    for path in [
        format!("/api/runs/{id}/events?after=0&limit=5000"),
        format!("/api/runs/{id}/transcript"),
        format!("/api/runs/{id}/search?q=crate&limit=1000"),
        "/api/runs".to_string(),
    ] {
        let (status, plain_h, plain) = answer(&state, &admin, "GET", &path, false).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(encoding(&plain_h), None, "{path} without Accept-Encoding");
        let (_, h, packed) = answer(&state, &admin, "GET", &path, true).await;
        let vary = h
            .get_all(header::VARY)
            .iter()
            .any(|v| v == "accept-encoding");
        assert!(vary, "{path} varies by Accept-Encoding");
        if plain.len() < 1024 {
            assert_eq!(encoding(&h), None, "{path}: small answers go as they are");
            continue;
        }
        assert_eq!(encoding(&h), Some("gzip"), "{path}");
        assert!(
            packed.len() * 4 < plain.len(),
            "{path}: {} → {}",
            plain.len(),
            packed.len()
        );
        let a: Value = serde_json::from_slice(&gunzip(&packed)).unwrap();
        let b: Value = serde_json::from_slice(&plain).unwrap();
        assert_eq!(a, b, "{path}");
    }

    // The event stream is never held back in a compressor; the session's CSRF token is not
    // compressed.
    let (status, h, _) = answer(
        &state,
        &admin,
        "GET",
        &format!("/api/runs/{id}/stream"),
        true,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(encoding(&h), None, "event streams are not compressed");
    let (_, h, _) = answer(&state, &admin, "GET", "/api/session", true).await;
    assert_eq!(
        encoding(&h),
        None,
        "the CSRF token's answer is not compressed"
    );
}
