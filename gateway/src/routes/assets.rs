//! The web UI's page and its assets (`crate::web` holds and serves the files).

use axum::Router;
use axum::extract::Path;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::error::ApiError;
use crate::state::AppState;
use crate::web;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(page))
        .route("/runs/{id}", get(page))
        .route("/join", get(page))
        .route("/pair", get(page))
        .route("/people", get(page))
        .route("/account", get(page))
        .route("/audit", get(page))
        .route("/assets/{name}", get(asset))
        .route("/sw.js", get(service_worker))
        .route("/manifest.webmanifest", get(manifest))
}

/// The service worker, at the root so that its scope is the whole gateway.
async fn service_worker(headers: HeaderMap) -> Response {
    web::asset(&headers, "sw.js")
        .unwrap_or_else(|| ApiError::NotFound("no such asset").into_response())
}

/// The web app manifest: the UI installs on a phone's home screen.
async fn manifest(headers: HeaderMap) -> Response {
    web::asset(&headers, "manifest.webmanifest")
        .unwrap_or_else(|| ApiError::NotFound("no such asset").into_response())
}

/// The page, for `/`, the links to runs (`/runs/:id`), invitations (`/join#…`), phone pairing (`/pair#…`) and the team's
/// pages.
async fn page(headers: HeaderMap) -> Response {
    web::page(&headers)
}

async fn asset(headers: HeaderMap, Path(name): Path<String>) -> Response {
    web::asset(&headers, &name)
        .unwrap_or_else(|| ApiError::NotFound("no such asset").into_response())
}
