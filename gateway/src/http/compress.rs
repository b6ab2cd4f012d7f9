//! gzip for the JSON answers that can be large (event pages, transcripts, search hits), and the
//! `Accept-Encoding` reading the web assets share.
//!
//! Only `GET` answers with `Content-Type: application/json` of the routes that take the
//! [`gzip_json`] layer are compressed, never an event stream (it would hold events back until a
//! compressed block fills) and never an answer that carries a token (BREACH needs a secret and
//! text an attacker chooses in one compressed body). The compressed answers hold run data, which
//! is already what the reader may see, and no token (the CSRF token comes from
//! `GET /api/session`, the run token from run creation: neither takes this layer).

use std::io::Write;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::Response;

/// Smaller answers go out as they are: a gzip header and a round trip cost more than they save.
const MIN_BYTES: usize = 1024;
/// Largest answer read into memory to compress (event pages are bounded well below it).
const MAX_BYTES: usize = 64 << 20;
/// Bodies above this size are compressed on the blocking pool.
const INLINE_BYTES: usize = 64 << 10;

/// `body` gzipped at `level` (0–9).
pub fn gzip(body: &[u8], level: u32) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 4),
        flate2::Compression::new(level),
    );
    // Writing to a Vec cannot fail.
    enc.write_all(body).expect("gzip into memory");
    enc.finish().expect("gzip into memory")
}

/// Whether the request's `Accept-Encoding` takes gzip (listed, or `*`, without `q=0`).
pub fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';').map(str::trim);
            let coding = parts.next().unwrap_or_default();
            let refused = parts.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q == 0.0)
            });
            (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
        })
}

/// Middleware: gzips a `GET` answer's JSON body for a client that takes gzip (level 4: JSON
/// shrinks 5–10× at a few ms per MiB).
pub async fn gzip_json(request: Request, next: Next) -> Response {
    let wanted = request.method() == Method::GET && accepts_gzip(request.headers());
    let mut response = next.run(request).await;
    if !wanted {
        return response;
    }
    let h = response.headers_mut();
    h.append(header::VARY, HeaderValue::from_static("accept-encoding"));
    let json = h
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json"));
    if !json || h.contains_key(header::CONTENT_ENCODING) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_BYTES).await {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(error = %e, "could not read an answer to compress it");
            return Response::from_parts(parts, Body::empty());
        }
    };
    if bytes.len() < MIN_BYTES {
        return Response::from_parts(parts, Body::from(bytes));
    }
    let packed = if bytes.len() > INLINE_BYTES {
        match tokio::task::spawn_blocking(move || gzip(&bytes, 4)).await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "compressing an answer failed");
                parts.status = axum::http::StatusCode::INTERNAL_SERVER_ERROR;
                return Response::from_parts(parts, Body::empty());
            }
        }
    } else {
        gzip(&bytes, 4)
    };
    parts.headers.remove(header::CONTENT_LENGTH);
    parts
        .headers
        .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    Response::from_parts(parts, Body::from(packed))
}
