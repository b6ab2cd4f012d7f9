//! The security headers every answer carries, API and page alike: a JSON answer is never
//! rendered as a page either.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// Scripts, styles, images and connections from this origin only; no inline script or style
/// sheet, no `eval`, no plugins, no framing, no `<base>` games, forms post here only.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; \
    base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// One year; no `includeSubDomains`: the gateway speaks for its own host only.
const HSTS: &str = "max-age=31536000";

/// Middleware on every route; its state says whether the listener serves TLS. A handler that set
/// a stricter policy keeps it (artifact downloads are sandboxed).
pub async fn security_headers(State(tls): State<bool>, req: Request, next: Next) -> Response {
    // HSTS on the TLS listener, except for `localhost`: a browser would then force HTTPS on
    // every port of it, breaking other local development servers (IP addresses it ignores).
    let hsts = tls && !is_localhost(req.headers());
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
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
    resp
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
