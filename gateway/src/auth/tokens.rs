//! The bearer tokens people and scrapers present (`Authorization: Bearer …`) and the SHA-256
//! they are kept as: the gateway never stores a token itself.

use axum::http::{HeaderMap, header};
use sha2::{Digest, Sha256};

/// SHA-256 of a token, as stored.
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// What `Authorization` says, if the request has that header: `Some(None)` for anything but a
/// `Bearer` token, `Some(Some(token))` (trimmed) for one.
pub fn bearer(headers: &HeaderMap) -> Option<Option<&str>> {
    let value = headers.get(header::AUTHORIZATION)?;
    Some(
        value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim),
    )
}

/// Whether `token` hashes to `hash`, compared in constant time.
pub fn matches(token: &str, hash: &[u8; 32]) -> bool {
    common::sign::constant_time_eq(&token_hash(token), hash)
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn bearer_tokens_are_read_and_matched_by_hash() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        for (value, want) in [
            ("Bearer abc", Some("abc")),
            ("Bearer  abc ", Some("abc")),
            ("bearer abc", None),
            ("Basic YTpi", None),
        ] {
            h.insert(header::AUTHORIZATION, HeaderValue::from_static(value));
            assert_eq!(bearer(&h), Some(want), "{value}");
        }
        assert!(matches("abc", &token_hash("abc")));
        assert!(!matches("abd", &token_hash("abc")));
    }
}
