//! Search through the router: within a run (`GET /api/runs/:id/search`) and across runs
//! (`GET /api/search`), as the web UI calls them.

mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::wire::{CreatedRun, Event, EventKind};
use gateway::state::AppState;
use serde_json::{Value, json};

async fn get(state: &AppState, admin: &str, path: &str) -> (StatusCode, Value) {
    let req = Request::get(path)
        .header("authorization", format!("Bearer {admin}"))
        .body(Body::empty())
        .unwrap();
    support::send_json(state, req).await
}

async fn create_run(state: &AppState, admin: &str, name: &str, prompt: &str) -> CreatedRun {
    let req = Request::post("/api/runs")
        .header("authorization", format!("Bearer {admin}"))
        .header("content-type", "application/json")
        .body(Body::from(
            json!({"name": name, "prompt": prompt}).to_string(),
        ))
        .unwrap();
    let (status, body) = support::send_json(state, req).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    serde_json::from_value(body).unwrap()
}

async fn ingest(state: &AppState, run: &CreatedRun, events: Vec<Event>) {
    let (status, body) = support::send_json(state, support::ingest_for(state, run, events)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

fn out(sequence: u64, text: String) -> Event {
    Event {
        sequence,
        kind: EventKind::Stdout,
        data: json!(text),
        ts: 1_700_000_000_000 + sequence as i64,
    }
}

/// A 100,000-line run: the hits of a query on every 10,000th line, a page at a time through
/// `next_after`, in order; the line text as the terminal shows it.
#[tokio::test]
async fn a_runs_hits_come_page_by_page_from_a_100000_line_run() {
    let dir = tempfile::tempdir().unwrap();
    let (state, admin) = support::open(dir.path()).await;
    let run = create_run(&state, &admin, "big", "flood").await;
    for b in 0..20u64 {
        let events = (b * 5000 + 1..=(b + 1) * 5000)
            .map(|s| {
                if s % 10_000 == 0 {
                    out(s, format!("\u{1b}[1mFAILED\u{1b}[0m test number {s}"))
                } else {
                    out(s, format!("ok line {s}"))
                }
            })
            .collect();
        ingest(&state, &run, events).await;
    }
    let path = |after: u64| {
        format!(
            "/api/runs/{}/search?q=failed%20test&after={after}&limit=4",
            run.run_id
        )
    };
    let (status, page) = get(&state, &admin, &path(0)).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(
        page["hits"][0],
        json!({"sequence": 10_000, "type": "stdout", "ts": 1_700_000_010_000_i64,
               "text": "FAILED test number 10000"})
    );
    let mut seqs: Vec<u64> = Vec::new();
    let mut after = 0;
    loop {
        let (_, page) = get(&state, &admin, &path(after)).await;
        let hits = page["hits"].as_array().unwrap();
        assert!(hits.len() <= 4);
        seqs.extend(hits.iter().map(|h| h["sequence"].as_u64().unwrap()));
        match page["next_after"].as_u64() {
            Some(n) => after = n,
            None => break,
        }
    }
    assert_eq!(seqs, (1..=10).map(|k| k * 10_000).collect::<Vec<_>>());
}

#[tokio::test]
async fn bad_searches_get_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (state, admin) = support::open(dir.path()).await;
    let run = create_run(&state, &admin, "r", "p").await;
    let long = "x".repeat(300);
    for (path, status, code) in [
        (
            format!("/api/runs/{}/search", run.run_id),
            StatusCode::BAD_REQUEST,
            "invalid_query",
        ),
        (
            format!("/api/runs/{}/search?q=%20%20", run.run_id),
            StatusCode::BAD_REQUEST,
            "invalid_query",
        ),
        (
            format!("/api/runs/{}/search?q={long}", run.run_id),
            StatusCode::BAD_REQUEST,
            "invalid_query",
        ),
        (
            "/api/runs/r_nobody/search?q=x".to_string(),
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            "/api/search?q=x&status=bogus".to_string(),
            StatusCode::BAD_REQUEST,
            "invalid_field",
        ),
        (
            "/api/search".to_string(),
            StatusCode::BAD_REQUEST,
            "invalid_query",
        ),
    ] {
        let (got, body) = get(&state, &admin, &path).await;
        let why = body["reason"].as_str().or(body["error"].as_str());
        assert_eq!((got, why), (status, Some(code)), "{path}: {body}");
    }
}

/// Across runs: a name, a prompt and a line of output, each with the run as the list shows it;
/// filters by status; an agent filter leaves none while no run has an agent.
#[tokio::test]
async fn runs_are_found_by_name_prompt_and_output() {
    let dir = tempfile::tempdir().unwrap();
    let (state, admin) = support::open(dir.path()).await;
    let named = create_run(&state, &admin, "Release Checklist", "go").await;
    let prompted = create_run(&state, &admin, "b", "update the release notes").await;
    let output = create_run(&state, &admin, "c", "build").await;
    ingest(
        &state,
        &output,
        vec![out(1, "cutting release 1.2.0".into())],
    )
    .await;
    let (status, body) = get(&state, &admin, "/api/search?q=RELEASE&limit=10").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let hits: Vec<(&str, &str, String, &str)> = body["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["run"]["id"].as_str().unwrap(),
                h["field"].as_str().unwrap(),
                h["sequence"].to_string(),
                h["snippet"].as_str().unwrap(),
            )
        })
        .collect();
    let mut want = vec![
        (
            output.run_id.as_str(),
            "output",
            "1".to_string(),
            "cutting release 1.2.0",
        ),
        (
            prompted.run_id.as_str(),
            "prompt",
            "null".to_string(),
            "update the release notes",
        ),
        (
            named.run_id.as_str(),
            "name",
            "null".to_string(),
            "Release Checklist",
        ),
    ];
    // Created within the same millisecond, runs keep no order among themselves.
    let mut sorted = hits.clone();
    sorted.sort();
    want.sort();
    assert_eq!(sorted, want);
    assert!(body["hits"][0]["run"]["status"].is_string(), "{body}");

    let (_, running) = get(&state, &admin, "/api/search?q=release&status=running").await;
    let ids: Vec<&str> = running["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["run"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [output.run_id.as_str()],
        "only the run that has output is running"
    );
    let (_, agents) = get(&state, &admin, "/api/search?q=release&agent=build-box").await;
    assert_eq!(agents, json!({"hits": []}));
}
