//! Downloads a browser saves rather than renders: artifacts and transcript exports.

use axum::http::{HeaderValue, header};
use axum::response::Response;

use crate::error::ApiError;

/// Served with every download: no script, no plugin, no same-origin access, even if opened.
const SANDBOX_CSP: &str = "default-src 'none'; sandbox";

/// A download the browser saves rather than renders: `Content-Disposition: attachment`, no
/// sniffing, a sandboxing CSP, not cached. `filename` must be a plain name of `[A-Za-z0-9._-]`
/// (artifact names pass `check_name`, transcript names are built from a run id), so it needs no
/// quoting or escaping.
pub fn attachment(
    body: impl Into<axum::body::Body>,
    content_type: &'static str,
    filename: &str,
) -> Result<Response, ApiError> {
    let mut resp = Response::new(body.into());
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    let disposition = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\""))
        .map_err(|e| ApiError::Internal(format!("attachment header: {e}")))?;
    h.insert(header::CONTENT_DISPOSITION, disposition);
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(SANDBOX_CSP),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    Ok(resp)
}
