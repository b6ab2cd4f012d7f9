//! Liveness: the unsigned health answer and the signed ping, both with the gateway's clock
//! (runners measure their skew with it), and the build's version.

use axum::Json;
use axum::Router;
use axum::routing::get;
use common::wire::{self, Ping};

use crate::auth::signed::{self, Signed};
use crate::clock::now_secs;
use crate::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/health", get(health))
        .route("/api/runner/ping", get(ping))
        .route("/api/version", get(version))
}

fn ping_body() -> Ping {
    Ping {
        ok: true,
        protocol: wire::PROTOCOL_VERSION.into(),
        server_time: now_secs(),
        version: crate::version::VERSION.into(),
    }
}

/// Unsigned liveness answer with the gateway's clock (runners measure their skew with it).
async fn health() -> Json<Ping> {
    Json(ping_body())
}

/// Signed echo: proves the runner's secret (or run token) is right.
async fn ping(_signed: Signed<signed::Ping>) -> Json<Ping> {
    Json(ping_body())
}

/// `GET /api/version`: the build, for an operator checking what runs after an upgrade. Public,
/// like the release number `/api/health` already gives.
async fn version() -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "version": crate::version::VERSION,
        "commit": crate::version::COMMIT,
        "protocol": wire::PROTOCOL_VERSION,
    }))
}
