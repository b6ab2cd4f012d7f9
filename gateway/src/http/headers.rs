//! The security headers every answer carries, API and page alike: a JSON answer is never
//! rendered as a page either.

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;

/// Scripts, styles, images and connections from this origin only; no inline script or style
/// sheet, no `eval`, no plugins, no framing, no `<base>` games, forms post here only.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; \
    base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// One year; no `includeSubDomains`: the gateway speaks for its own host only.
const HSTS: &str = "max-age=31536000";

/// HSTS goes on answers of the TLS listener, except to `localhost`: a browser would then force
/// HTTPS on every port of it, breaking other local development servers (IP addresses it ignores).
pub fn wants_hsts(tls: bool, request: &HeaderMap) -> bool {
    tls && !is_localhost(request)
}

/// Put the security headers on an answer (`crate::http::edge`, every route). A handler that set
/// a stricter policy keeps it (artifact downloads are sandboxed).
pub fn add_security_headers(resp: &mut Response, hsts: bool) {
    let h = resp.headers_mut();
    // Room for all of them at once rather than growing the map insert by insert.
    h.reserve(8);
    if hsts {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("same-origin"),
    );
}

/// The request was sent to `localhost` or a name under it.
fn is_localhost(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost")
}
