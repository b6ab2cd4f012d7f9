//! Set-up shared by the gateway's handler tests: a gateway opened on plain HTTP over a temporary
//! data directory, driven through its router with `oneshot`.
#![allow(dead_code)] // each test binary uses its own subset

use std::path::Path;

use axum::body::Body;
use axum::http::Request;
use gateway::config::{Args, Config};
use gateway::state::AppState;
use tower::ServiceExt;

/// Plain HTTP, data in `dir`, every other setting at its default.
pub fn plain_config(dir: &Path) -> Config {
    Config::resolve(
        Args {
            plain_http: true,
            data_dir: Some(dir.to_path_buf()),
            ..Args::default()
        },
        &Default::default(),
    )
    .expect("a plain configuration resolves")
}

/// One request through the whole router, no socket.
pub async fn send(state: &AppState, req: Request<Body>) -> axum::response::Response {
    gateway::api::router(state.clone())
        .oneshot(req)
        .await
        .expect("the router answers")
}
