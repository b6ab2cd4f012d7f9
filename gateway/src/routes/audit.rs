//! The audit log for admins: read it page by page, or export it whole as JSON lines.

use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use crate::auth::{AdminOnly, Authorized};
use crate::error::ApiError;
use crate::http::attachment;
use crate::state::AppState;
use crate::store::AuditEntry;

/// Lines read from the store at a time while exporting.
const EXPORT_PAGE: usize = 1000;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/audit", get(page))
        .route("/api/audit.jsonl", get(export))
}

#[derive(Debug, Deserialize)]
struct PageQuery {
    before: Option<u64>,
    limit: Option<usize>,
}

/// `GET /api/audit?before=&limit=100`: lines newest first; pass the last `id` as `before` for
/// the next page.
async fn page(
    State(state): State<AppState>,
    Query(q): Query<PageQuery>,
    _caller: Authorized<AdminOnly>,
) -> Result<Json<Vec<AuditEntry>>, ApiError> {
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    Ok(Json(state.store.audit(q.before, limit).await?))
}

/// `GET /api/audit.jsonl`: the whole log, oldest first, one JSON object a line, as a download.
/// Streamed a page at a time, so a long log is never held whole; it ends at the newest line
/// when the export started.
async fn export(
    State(state): State<AppState>,
    _caller: Authorized<AdminOnly>,
) -> Result<Response, ApiError> {
    let newest = state
        .store
        .audit(None, 1)
        .await?
        .first()
        .map_or(0, |e| e.id);
    let store = state.store.clone();
    let pages = futures_util::stream::unfold(Some(0), move |after| {
        let store = store.clone();
        async move {
            let after = after?;
            match store.audit_after(after, EXPORT_PAGE).await {
                Ok(page) => {
                    let page: Vec<_> = page.into_iter().filter(|e| e.id <= newest).collect();
                    let next = match page.last() {
                        Some(last) if last.id < newest => Some(last.id),
                        _ => None,
                    };
                    if page.is_empty() {
                        return None;
                    }
                    let mut out = Vec::new();
                    for entry in page {
                        // Plain data: it always serialises.
                        if serde_json::to_writer(&mut out, &entry).is_ok() {
                            out.push(b'\n');
                        }
                    }
                    Some((Ok(out), next))
                }
                Err(e) => {
                    tracing::error!(error = %e, "audit export stopped");
                    Some((
                        Err(std::io::Error::other("the audit log could not be read")),
                        None,
                    ))
                }
            }
        }
    });
    attachment(
        axum::body::Body::from_stream(pages),
        "application/x-ndjson",
        "audit.jsonl",
    )
}
