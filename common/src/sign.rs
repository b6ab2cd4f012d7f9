//! Request signing, protocol v1: the canonical string, per-run key derivation, HMAC-SHA256.
//!
//! A runner signs every request with either the shared `HMAC_SECRET` (calls outside a run) or
//! the run key `K_run = HMAC-SHA256(HMAC_SECRET, "run\n" + run_id + "\n" + token)`. The gateway
//! stores `K_run` when it creates a run and never the token.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

pub const HEADER_TIMESTAMP: &str = "x-runner-timestamp";
pub const HEADER_NONCE: &str = "x-runner-nonce";
pub const HEADER_RUN: &str = "x-runner-run";
pub const HEADER_SIGNATURE: &str = "x-runner-signature";

/// Largest allowed difference between the runner's and the gateway's clocks, either way.
pub const MAX_SKEW_SECS: i64 = 300;
/// Shortest accepted nonce in base64url characters (22 characters = 132 bits).
pub const MIN_NONCE_LEN: usize = 22;
/// Longest accepted nonce.
pub const MAX_NONCE_LEN: usize = 128;

/// Why a signed request was refused. The snake_case name is the `reason` of the 401 answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
pub enum AuthReason {
    #[error("a signing header is missing")]
    MissingHeader,
    #[error("a signing header is malformed")]
    MalformedHeader,
    #[error("the timestamp is more than 300 s away from the gateway's clock")]
    StaleTimestamp,
    #[error("the signature does not match (wrong secret or token, or the request was altered)")]
    BadSignature,
    #[error("this nonce was already used")]
    ReplayedNonce,
    #[error("no such run")]
    UnknownRun,
    #[error("the run has finished and takes no more events")]
    RunFinished,
    #[error("no such agent")]
    UnknownAgent,
    #[error("the agent's credential was revoked")]
    AgentRevoked,
}

impl AuthReason {
    /// The stable code sent as `reason` in a 401 answer.
    pub fn code(self) -> &'static str {
        match self {
            AuthReason::MissingHeader => "missing_header",
            AuthReason::MalformedHeader => "malformed_header",
            AuthReason::StaleTimestamp => "stale_timestamp",
            AuthReason::BadSignature => "bad_signature",
            AuthReason::ReplayedNonce => "replayed_nonce",
            AuthReason::UnknownRun => "unknown_run",
            AuthReason::RunFinished => "run_finished",
            AuthReason::UnknownAgent => "unknown_agent",
            AuthReason::AgentRevoked => "agent_revoked",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Some(match code {
            "missing_header" => AuthReason::MissingHeader,
            "malformed_header" => AuthReason::MalformedHeader,
            "stale_timestamp" => AuthReason::StaleTimestamp,
            "bad_signature" => AuthReason::BadSignature,
            "replayed_nonce" => AuthReason::ReplayedNonce,
            "unknown_run" => AuthReason::UnknownRun,
            "run_finished" => AuthReason::RunFinished,
            "unknown_agent" => AuthReason::UnknownAgent,
            "agent_revoked" => AuthReason::AgentRevoked,
            _ => return None,
        })
    }
}

/// Everything the signature covers.
#[derive(Debug, Clone, Copy)]
pub struct SignedParts<'a> {
    /// Upper-case HTTP method.
    pub method: &'a str,
    /// The request path as sent, without the query (`/api/ingest/event`).
    pub path: &'a str,
    /// The raw query string without `?`, as sent; empty if none.
    pub query: &'a str,
    /// The run id, empty for calls outside a run.
    pub run_id: &'a str,
    /// Unix seconds.
    pub timestamp: i64,
    pub nonce: &'a str,
    /// The raw body bytes.
    pub body: &'a [u8],
}

/// The query pairs sorted bytewise and joined by `&`, each pair exactly as sent (no decoding).
pub fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<&str> = query.split('&').filter(|p| !p.is_empty()).collect();
    pairs.sort_unstable();
    pairs.join("&")
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The string the HMAC is computed over: eight lines joined by `\n`, no trailing newline.
pub fn canonical_string(p: &SignedParts<'_>) -> String {
    canonical_string_hashed(p, &sha256_hex(p.body))
}

/// [`canonical_string`] with the body's SHA-256 (lower-case hex) computed beforehand; `p.body`
/// is not read.
pub fn canonical_string_hashed(p: &SignedParts<'_>, body_sha256: &str) -> String {
    format!(
        "v1\n{}\n{}\n{}\n{}\n{}\n{}\n{}",
        p.method.to_ascii_uppercase(),
        p.path,
        canonical_query(p.query),
        p.run_id,
        p.timestamp,
        p.nonce,
        body_sha256
    )
}

/// `K_run = HMAC-SHA256(key = secret, "run\n" + run_id + "\n" + token)`.
pub fn derive_run_key(secret: &[u8], run_id: &str, token: &str) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(b"run\n");
    mac.update(run_id.as_bytes());
    mac.update(b"\n");
    mac.update(token.as_bytes());
    mac.finalize().into_bytes().into()
}

fn mac_for(key: &[u8], p: &SignedParts<'_>) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(canonical_string(p).as_bytes());
    mac
}

/// [`sign`] with the body's SHA-256 computed beforehand (a sender can hash a large body while
/// the previous request is on its way).
pub fn sign_hashed(key: &[u8], p: &SignedParts<'_>, body_sha256: &str) -> String {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(canonical_string_hashed(p, body_sha256).as_bytes());
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// The `X-Runner-Signature` header value: `v1=<64 hex digits>`.
pub fn sign(key: &[u8], p: &SignedParts<'_>) -> String {
    format!(
        "v1={}",
        hex::encode(mac_for(key, p).finalize().into_bytes())
    )
}

/// Check a `X-Runner-Signature` value in constant time.
pub fn verify(key: &[u8], p: &SignedParts<'_>, header: &str) -> Result<(), AuthReason> {
    verify_hashed(key, p, &sha256_hex(p.body), header)
}

/// [`verify`] with the body's SHA-256 (lower-case hex) computed beforehand: a receiver that
/// streams a large body elsewhere hashes it on the way; `p.body` is not read.
pub fn verify_hashed(
    key: &[u8],
    p: &SignedParts<'_>,
    body_sha256: &str,
    header: &str,
) -> Result<(), AuthReason> {
    let sig = signature_of(header)?;
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(canonical_string_hashed(p, body_sha256).as_bytes());
    mac.verify_slice(&sig).map_err(|_| AuthReason::BadSignature)
}

/// The MAC a `v1=<64 hex digits>` signature header carries.
fn signature_of(header: &str) -> Result<Vec<u8>, AuthReason> {
    header
        .trim()
        .strip_prefix("v1=")
        .filter(|h| h.len() == 64)
        .and_then(|h| hex::decode(h).ok())
        .ok_or(AuthReason::MalformedHeader)
}

/// Headers of a gateway's webhook delivery (`PROTOCOL.md`, "Webhooks"): the delivery's id (the
/// same on every retry, for de-duplication), the unix second it was signed, and the signature.
pub const WEBHOOK_HEADER_ID: &str = "x-webhook-id";
pub const WEBHOOK_HEADER_TIMESTAMP: &str = "x-webhook-timestamp";
pub const WEBHOOK_HEADER_SIGNATURE: &str = "x-webhook-signature";

/// The string a webhook delivery's signature covers: four lines joined by `\n`, no trailing
/// newline: `v1`, the timestamp, the delivery id, the lower-case hex SHA-256 of the body.
/// Unlike a runner's request it leaves out method, path and query, which proxies in front of a
/// receiver may rewrite.
pub fn webhook_canonical(timestamp: i64, delivery_id: &str, body: &[u8]) -> String {
    format!("v1\n{timestamp}\n{delivery_id}\n{}", sha256_hex(body))
}

/// The `X-Webhook-Signature` value: `v1=` + hex HMAC-SHA256 keyed by the webhook's secret.
pub fn webhook_signature(secret: &[u8], timestamp: i64, delivery_id: &str, body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(webhook_canonical(timestamp, delivery_id, body).as_bytes());
    format!("v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Check a webhook delivery's signature in constant time, as a receiver does (it should also
/// check the timestamp with [`check_timestamp`] and remember ids it has seen).
pub fn verify_webhook(
    secret: &[u8],
    timestamp: i64,
    delivery_id: &str,
    body: &[u8],
    header: &str,
) -> Result<(), AuthReason> {
    let sig = signature_of(header)?;
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(webhook_canonical(timestamp, delivery_id, body).as_bytes());
    mac.verify_slice(&sig).map_err(|_| AuthReason::BadSignature)
}

/// Accept a timestamp within [`MAX_SKEW_SECS`] of `now`, either way.
pub fn check_timestamp(now: i64, timestamp: i64) -> Result<(), AuthReason> {
    if now.abs_diff(timestamp) > MAX_SKEW_SECS as u64 {
        Err(AuthReason::StaleTimestamp)
    } else {
        Ok(())
    }
}

/// Compare two byte strings in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A nonce is 22..=128 base64url characters (≥ 128 random bits).
pub fn valid_nonce(nonce: &str) -> bool {
    (MIN_NONCE_LEN..=MAX_NONCE_LEN).contains(&nonce.len())
        && nonce
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Encode 16+ random bytes as an unpadded base64url nonce (the caller supplies the randomness,
/// keeping this crate free of I/O).
pub fn encode_nonce(random: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(random.len() * 4 / 3 + 2);
    for chunk in random.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn webhook_signature_vector() {
        // Checked against Python's hmac (PROTOCOL.md, "Webhooks").
        let body = br#"{"event":"finished"}"#;
        let sig = webhook_signature(b"whsec_test", 1_700_000_000, "wh_0123456789abcdef", body);
        assert_eq!(
            sig,
            "v1=c0b16ee373f9398c1937620f926e6c0365ab1007a3e591b648571005df23f44a"
        );
        let verify = |id: &str, body: &[u8], header: &str| {
            verify_webhook(b"whsec_test", 1_700_000_000, id, body, header)
        };
        assert_eq!(verify("wh_0123456789abcdef", body, &sig), Ok(()));
        assert_eq!(
            verify("wh_other", body, &sig),
            Err(AuthReason::BadSignature)
        );
        assert_eq!(
            verify("wh_0123456789abcdef", b"{}", &sig),
            Err(AuthReason::BadSignature)
        );
        assert_eq!(
            verify("wh_0123456789abcdef", body, "v1=zz"),
            Err(AuthReason::MalformedHeader)
        );
    }

    fn parts<'a>(body: &'a [u8]) -> SignedParts<'a> {
        SignedParts {
            method: "POST",
            path: "/api/ingest/event",
            query: "b=2&a=1",
            run_id: "r_test",
            timestamp: 1_700_000_000,
            nonce: "AAAAAAAAAAAAAAAAAAAAAA",
            body,
        }
    }

    // The expected values below were computed with Python's hmac/hashlib from the same inputs,
    // independently of this implementation.
    #[test]
    fn a_prehashed_body_signs_the_same() {
        let p = SignedParts {
            method: "POST",
            path: "/api/ingest/event",
            query: "",
            run_id: "r1",
            timestamp: 1_700_000_000,
            nonce: "abcdefghijklmnopqrstuvwxyz",
            body: b"{\"events\":[]}",
        };
        let hashed = sign_hashed(b"key", &p, &sha256_hex(p.body));
        assert_eq!(hashed, sign(b"key", &p));
        assert!(verify(b"key", &p, &hashed).is_ok());
        assert_ne!(sign_hashed(b"key", &p, &sha256_hex(b"other")), hashed);
        // A streamed body is verified by its hash alone; another hash is a bad signature.
        let streamed = SignedParts { body: &[], ..p };
        assert_eq!(
            verify_hashed(b"key", &streamed, &sha256_hex(p.body), &hashed),
            Ok(())
        );
        assert_eq!(
            verify_hashed(b"key", &streamed, &sha256_hex(b"other"), &hashed),
            Err(AuthReason::BadSignature)
        );
    }

    #[test]
    fn canonical_string_vector() {
        assert_eq!(
            canonical_string(&parts(b"{}")),
            "v1\nPOST\n/api/ingest/event\na=1&b=2\nr_test\n1700000000\nAAAAAAAAAAAAAAAAAAAAAA\n\
             44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
    }

    #[test]
    fn run_key_vector() {
        assert_eq!(
            hex::encode(derive_run_key(b"shared-secret", "r_test", "tok")),
            "2a1836add389bac858b30c03cebd5e9a3480ebdf98a21f017b3eb634898312e6"
        );
    }

    #[test]
    fn signature_vector() {
        let key = derive_run_key(b"shared-secret", "r_test", "tok");
        assert_eq!(
            sign(&key, &parts(b"{}")),
            "v1=bfe4b264123df5002fb0b44d88ade6b32f431bb15559ecedc9a28712ae0e7ead"
        );
    }

    #[test]
    fn verify_round_trip_and_rejections() {
        let key = b"k";
        let p = parts(b"body");
        let sig = sign(key, &p);
        assert_eq!(verify(key, &p, &sig), Ok(()));
        assert_eq!(verify(b"other", &p, &sig), Err(AuthReason::BadSignature));
        assert_eq!(verify(key, &p, "v2=00"), Err(AuthReason::MalformedHeader));
        assert_eq!(
            verify(key, &p, &format!("v1={}", "z".repeat(64))),
            Err(AuthReason::MalformedHeader)
        );
    }

    #[test]
    fn query_order_does_not_matter_but_content_does() {
        assert_eq!(canonical_query("b=2&a=1&"), "a=1&b=2");
        assert_eq!(canonical_query(""), "");
        assert_ne!(canonical_query("a=1"), canonical_query("a=%31"));
    }

    #[test]
    fn timestamps() {
        assert!(check_timestamp(1000, 1300).is_ok());
        assert!(check_timestamp(1000, 700).is_ok());
        assert_eq!(check_timestamp(1000, 1301), Err(AuthReason::StaleTimestamp));
        assert_eq!(check_timestamp(1000, 699), Err(AuthReason::StaleTimestamp));
    }

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }

    #[test]
    fn nonces() {
        let n = encode_nonce(&[0xff; 16]);
        assert_eq!(n.len(), 22);
        assert!(valid_nonce(&n));
        assert_eq!(encode_nonce(b"abc"), "YWJj");
        assert!(!valid_nonce("short"));
        assert!(!valid_nonce(&"a/".repeat(12)));
    }

    #[test]
    fn reason_codes_round_trip() {
        for r in [
            AuthReason::MissingHeader,
            AuthReason::MalformedHeader,
            AuthReason::StaleTimestamp,
            AuthReason::BadSignature,
            AuthReason::ReplayedNonce,
            AuthReason::UnknownRun,
            AuthReason::RunFinished,
        ] {
            assert_eq!(AuthReason::from_code(r.code()), Some(r));
            assert_eq!(
                serde_json::to_value(r).unwrap(),
                serde_json::json!(r.code())
            );
        }
    }

    #[derive(Debug, Clone)]
    struct Owned {
        method: String,
        path: String,
        query: String,
        run_id: String,
        timestamp: i64,
        nonce: String,
        body: Vec<u8>,
    }

    impl Owned {
        fn parts(&self) -> SignedParts<'_> {
            SignedParts {
                method: &self.method,
                path: &self.path,
                query: &self.query,
                run_id: &self.run_id,
                timestamp: self.timestamp,
                nonce: &self.nonce,
                body: &self.body,
            }
        }
    }

    fn owned() -> impl Strategy<Value = Owned> {
        (
            prop_oneof![Just("GET"), Just("POST"), Just("PUT"), Just("DELETE")],
            "/[a-z/]{0,20}",
            "([a-z]{1,3}=[a-z0-9]{0,3})?(&[a-z]{1,3}=[a-z0-9]{0,3}){0,2}",
            "[a-zA-Z0-9_-]{0,12}",
            0i64..4_000_000_000,
            "[A-Za-z0-9_-]{22,30}",
            proptest::collection::vec(any::<u8>(), 0..64),
        )
            .prop_map(|(m, path, query, run_id, timestamp, nonce, body)| Owned {
                method: m.to_string(),
                path,
                query,
                run_id,
                timestamp,
                nonce,
                body,
            })
    }

    proptest! {
        #[test]
        fn changing_any_signed_part_breaks_the_signature(o in owned(), which in 0usize..7, salt in "[a-z0-9]{1,4}") {
            let key = b"prop-key";
            let sig = sign(key, &o.parts());
            prop_assert_eq!(verify(key, &o.parts(), &sig), Ok(()));
            let mut t = o.clone();
            match which {
                0 => t.method = if o.method == "GET" { "POST".into() } else { "GET".into() },
                1 => t.path.push_str(&salt),
                2 => t.query = if o.query.is_empty() { format!("z={salt}") } else { format!("{}&z={salt}", o.query) },
                3 => t.run_id.push_str(&salt),
                4 => t.timestamp += 1,
                5 => t.nonce.push_str(&salt),
                _ => t.body.extend_from_slice(salt.as_bytes()),
            }
            prop_assert_eq!(verify(key, &t.parts(), &sig), Err(AuthReason::BadSignature));
        }

        #[test]
        fn a_different_key_never_verifies(o in owned(), k1 in "[a-z]{1,8}", k2 in "[a-z]{1,8}") {
            prop_assume!(k1 != k2);
            let sig = sign(k1.as_bytes(), &o.parts());
            prop_assert_eq!(verify(k2.as_bytes(), &o.parts(), &sig), Err(AuthReason::BadSignature));
        }
    }
}
