//! The web UI: static files compiled into the binary, the page's routes, and the security headers
//! every answer carries.
//!
//! No build step and no framework: `index.html`, `app.css` and two ES modules (`app.mjs`, and
//! `ansi.mjs`, the terminal colour parser) are served as written. Run output reaches the DOM only
//! as text (`textContent`); the Content-Security-Policy allows scripts and styles from this origin
//! only, so even a rendering bug could not run injected script.

use std::sync::OnceLock;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::extract::Path;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use sha2::{Digest, Sha256};

use crate::state::AppState;

/// Scripts, styles, images and connections from this origin only; no inline script or style
/// sheet, no `eval`, no plugins, no framing, no `<base>` games, forms post here only.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; \
    base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

struct Asset {
    name: &'static str,
    mime: &'static str,
    body: &'static [u8],
}

const INDEX: &[u8] = include_bytes!("index.html");

const ASSETS: &[Asset] = &[
    Asset {
        name: "app.mjs",
        mime: "text/javascript; charset=utf-8",
        body: include_bytes!("app.mjs"),
    },
    Asset {
        name: "ansi.mjs",
        mime: "text/javascript; charset=utf-8",
        body: include_bytes!("ansi.mjs"),
    },
    Asset {
        name: "app.css",
        mime: "text/css; charset=utf-8",
        body: include_bytes!("app.css"),
    },
    // The runner's built-in `exec` allowlist, offered as suggestions (the runner decides).
    Asset {
        name: "allowlist.txt",
        mime: "text/plain; charset=utf-8",
        body: include_bytes!("../../../config/allowlist.txt"),
    },
    Asset {
        name: "icon.svg",
        mime: "image/svg+xml",
        body: include_bytes!("icon.svg"),
    },
];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/runs/{id}", get(index))
        .route("/assets/{name}", get(asset))
}

/// Strong ETags (hash of the content), computed once.
fn etags() -> &'static [String] {
    static TAGS: OnceLock<Vec<String>> = OnceLock::new();
    TAGS.get_or_init(|| {
        std::iter::once(INDEX)
            .chain(ASSETS.iter().map(|a| a.body))
            .map(|body| format!("\"{}\"", &hex::encode(Sha256::digest(body))[..20]))
            .collect()
    })
}

/// Serve `body`, or 304 when the browser's copy is current. `no-cache` makes the browser ask each
/// time (a cheap 304), so a new gateway version is picked up at the next load.
fn serve(headers: &HeaderMap, etag: &str, mime: &'static str, body: &'static [u8]) -> Response {
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut resp = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, mime)], body).into_response()
    };
    let h = resp.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    resp
}

/// The page (for `/` and for the links to runs, `/runs/:id`).
async fn index(headers: HeaderMap) -> Response {
    serve(&headers, &etags()[0], "text/html; charset=utf-8", INDEX)
}

async fn asset(headers: HeaderMap, Path(name): Path<String>) -> Response {
    match ASSETS.iter().position(|a| a.name == name) {
        Some(i) => serve(&headers, &etags()[i + 1], ASSETS[i].mime, ASSETS[i].body),
        None => crate::error::ApiError::NotFound("no such asset").into_response(),
    }
}

/// Added to every answer, API included: a JSON answer is never rendered as a page either. A
/// handler that set a stricter policy keeps it (artifact downloads are sandboxed).
pub async fn security_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
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
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
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
