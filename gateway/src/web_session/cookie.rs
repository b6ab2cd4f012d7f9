//! The session cookie: its name and attributes, its value as a request carries it, and the
//! SHA-256 it is kept as (the store never holds a usable cookie).

use axum::http::{HeaderMap, HeaderValue, header};
use sha2::{Digest, Sha256};

/// The session cookie's name.
/// `__Host-`: the browser only accepts it Secure, for Path=/ and with no Domain, so a sibling
/// subdomain cannot plant or overwrite it.
pub const COOKIE: &str = "__Host-gw_session";

/// The session cookie's value, if the request carries one.
pub fn cookie_value(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim())
        .filter(|v| !v.is_empty())
}

/// The `Set-Cookie` value for `value`: `HttpOnly; Secure; SameSite=Strict`, for `max_age_secs`
/// (0 clears it).
pub fn set_cookie(value: &str, max_age_secs: i64) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{COOKIE}={value}; Path=/; Max-Age={max_age_secs}; HttpOnly; Secure; SameSite=Strict"
    ))
    .expect("cookie value is base64url")
}

/// What a session is kept under: the SHA-256 of its cookie value.
pub(super) fn session_hash(value: &str) -> [u8; 32] {
    Sha256::digest(value.as_bytes()).into()
}
