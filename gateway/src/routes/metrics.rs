//! `GET /metrics`: the counters of `crate::metrics` and the gauges read now, for a scraper holding
//! the metrics token or for the admin.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::auth::{Authorized, ReadMetrics};
use crate::error::ApiError;
use crate::metrics::{Gauges, render};
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/metrics", get(scrape))
}

async fn scrape(
    State(state): State<AppState>,
    _caller: Authorized<ReadMetrics>,
) -> Result<Response, ApiError> {
    let gauges = Gauges {
        runs: state.store.run_counts().await?,
        streams: state.live.subscribers(),
        nonces: state.nonces.len(),
        command_waiters: state.live.waiting_runs(),
        relayed: state.live.relayed(),
        store_errors: state.store.backend_errors(),
    };
    let text = render(&state.metrics, &gauges);
    let mut resp = text.into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(resp)
}
