//! What every request and answer passes, in one middleware: the CSRF check before the route,
//! then, on the way out, plain-text rejections made JSON, the security headers, and the
//! refusal counters. One layer rather than four: each `from_fn` layer boxes and clones the rest
//! of the stack for every request, which at thousands of runner requests a second was a
//! measurable share of the gateway's CPU (`BENCHMARKS.md`).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::headers::{add_security_headers, wants_hsts};
use crate::metrics::Metrics;

/// The middleware's state.
#[derive(Clone)]
pub struct Edge {
    /// The listener serves TLS (HSTS).
    pub tls: bool,
    /// The scheme of the pages this gateway serves (the CSRF check's `Origin`).
    pub page_scheme: &'static str,
    pub metrics: Arc<Metrics>,
}

impl std::fmt::Debug for Edge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Edge")
            .field("tls", &self.tls)
            .field("page_scheme", &self.page_scheme)
            .finish_non_exhaustive()
    }
}

/// In order: a state-changing browser request that fails the CSRF check is refused without
/// reaching its route; a route's plain-text rejection becomes JSON; every answer, a refusal
/// included, gets the security headers and is counted.
pub async fn edge(State(edge): State<Edge>, req: Request, next: Next) -> Response {
    let hsts = wants_hsts(edge.tls, req.headers());
    let mut resp = match crate::web_session::csrf_check(edge.page_scheme, &req) {
        Err(refused) => refused.into_response(),
        Ok(()) => crate::error::json_rejections(next.run(req).await).await,
    };
    add_security_headers(&mut resp, hsts);
    edge.metrics.count_answer(&resp);
    resp
}
