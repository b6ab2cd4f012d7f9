//! The HTTP routes, one file per group, and [`router`], which puts them together with the layers
//! every request passes. Handlers take their helpers from below (`crate::http`, `crate::auth`,
//! the domain modules, `crate::store`), never from each other.

mod agents;
mod artifacts;
mod assets;
mod audit;
mod commands;
mod health;
mod ingest;
mod metrics;
mod notifications;
mod people;
mod runs;
mod search;
mod session;
mod stream;
mod tokens;
mod transcript;

use axum::Router;

use crate::error::ApiError;
use crate::http;
use crate::state::AppState;

/// The whole router; handlers are tested through it with `oneshot`.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(health::routes())
        .merge(runs::routes())
        .merge(agents::routes())
        .merge(tokens::routes())
        .merge(ingest::routes())
        .merge(commands::routes())
        .merge(stream::routes())
        .merge(session::routes())
        .merge(people::routes())
        .merge(audit::routes())
        .merge(assets::routes())
        .merge(artifacts::routes())
        .merge(transcript::routes())
        .merge(search::routes())
        .merge(metrics::routes())
        .merge(notifications::routes())
        .fallback(not_found)
        .with_state(state.clone())
        // Every answer gets the security headers, even a refusal by the CSRF check.
        .layer(axum::middleware::from_fn_with_state(
            http::edge::Edge {
                tls: state.tls,
                page_scheme: state.page_scheme(),
                metrics: state.metrics.clone(),
            },
            http::edge::edge,
        ))
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such route")
}
