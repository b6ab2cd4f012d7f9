//! The CSRF guard every state-changing request passes, and the CSRF token of a session: an HMAC
//! of the cookie value, so it needs no storage and a cross-site page, which cannot read the
//! cookie, cannot compute it.

use axum::extract::Request;
use axum::http::{Method, header};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::cookie::cookie_value;
use crate::error::ApiError;

/// The routes that start a session, which a browser may call with a stale cookie and so without
/// a token, as when it signs in with a password or a passkey, joins by invitation or pairs a
/// phone.
const SIGN_IN_PATHS: &[&str] = &[
    "/api/session",
    "/api/session/passkey/options",
    "/api/session/passkey",
    "/api/join/check",
    "/api/join",
    "/api/join/passkey/options",
    "/api/join/passkey",
    "/api/pair",
];

/// The header the page sends its CSRF token in.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The CSRF token of a session: HMAC-SHA256 keyed by the cookie value, hex.
pub fn csrf_token(value: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(value.as_bytes()).expect("any key length");
    mac.update(b"gateway csrf v1");
    hex::encode(mac.finalize().into_bytes())
}

/// The host the request was sent to (`Host`, or the HTTP/2 authority).
fn request_host(request: &Request) -> Option<String> {
    request
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| request.uri().authority().map(|a| a.to_string()))
}

/// Checked on every route (`crate::http::edge`): a state-changing request (not
/// GET/HEAD/OPTIONS) from a browser must be same-origin (`Sec-Fetch-Site`, `Origin` in scheme and
/// host), and one that carries the session cookie must also carry the session's CSRF token
/// (except the routes that start a session, `SIGN_IN_PATHS`, which have none yet, and a push
/// notification's action, which carries a single-use token instead).
/// Runners and scripts send none of these headers nor the cookie, so they pass untouched.
/// `page_scheme` is the scheme of the pages this gateway serves (`StateInner::page_scheme`).
/// `Err` is the refusal to answer instead of the route.
pub fn csrf_check(page_scheme: &str, request: &Request) -> Result<(), ApiError> {
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        return Ok(());
    }
    let headers = request.headers();
    let cross_site = || ApiError::Forbidden {
        reason: "cross_site",
        message: "cross-site requests are refused",
    };
    if let Some(site) = headers.get("sec-fetch-site")
        && !matches!(site.to_str(), Ok("same-origin" | "none"))
    {
        return Err(cross_site());
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let parts = origin.to_str().ok().and_then(|o| o.split_once("://"));
        let same = match (parts, request_host(request)) {
            (Some((scheme, authority)), Some(host)) => {
                scheme.eq_ignore_ascii_case(page_scheme) && authority.eq_ignore_ascii_case(&host)
            }
            _ => false,
        };
        if !same {
            return Err(cross_site());
        }
    }
    let signing_in =
        request.method() == Method::POST && SIGN_IN_PATHS.contains(&request.uri().path());
    // A push notification's action, posted by the service worker, which has no CSRF token: the
    // single-use action token in its body, bound to this session, does that token's work.
    let push_action =
        request.method() == Method::POST && request.uri().path() == "/api/push/action";
    if let Some(value) = cookie_value(headers)
        && !signing_in
        && !push_action
        && !headers.contains_key(header::AUTHORIZATION)
    {
        let want = csrf_token(value);
        let sent = headers
            .get(CSRF_HEADER)
            .map(|v| v.as_bytes())
            .unwrap_or_default();
        if !common::sign::constant_time_eq(sent, want.as_bytes()) {
            return Err(ApiError::Forbidden {
                reason: "csrf",
                message: "missing or wrong X-CSRF-Token",
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderMap;

    use super::super::cookie::set_cookie;
    use super::*;

    #[test]
    fn cookie_and_csrf() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            "a=1; __Host-gw_session=abc ; b=2".parse().unwrap(),
        );
        assert_eq!(cookie_value(&h), Some("abc"));
        assert_ne!(csrf_token("abc"), csrf_token("abd"));
        assert_eq!(csrf_token("abc").len(), 64);
        let c = set_cookie("v", 60);
        let c = c.to_str().unwrap();
        for attr in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/"] {
            assert!(c.contains(attr), "{c}");
        }
    }
}
