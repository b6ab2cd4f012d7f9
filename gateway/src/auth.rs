//! Who may call what: runner signatures (HMAC, timestamp window, nonce cache) and the admin token.

use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;

use axum::http::{HeaderMap, Method, Uri};
use common::sign::{self, AuthReason, SignedParts};
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::state::AppState;

/// What a verified runner request is allowed to act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// Signed with the shared `HMAC_SECRET` (no run).
    Shared,
    /// Signed with the key of this run.
    Run(String),
}

/// Remembers nonces until their signatures could no longer pass the timestamp check.
///
/// Bounded: when full of live entries it refuses new ones (the caller answers 503 and the runner
/// retries) rather than forgetting a nonce that could still be replayed. Compact, because its
/// size caps the signed requests per second a gateway sustains (capacity / 300 s): a nonce is kept
/// as a 64-bit keyed hash (SipHash with a per-process random key, so nobody can aim for a
/// collision) in a set, and in a bucket of the second it expires, about 20 bytes in all. A
/// collision, about one in 10^6 at millions of entries, reads as a replay, which a runner answers
/// by signing again. A nonce expires when its own timestamp leaves the window (`timestamp + 300 s`),
/// not 600 s after it was seen.
#[derive(Debug)]
pub struct NonceCache {
    inner: Mutex<NonceInner>,
    capacity: usize,
    key: std::collections::hash_map::RandomState,
}

#[derive(Debug, Default)]
struct NonceInner {
    seen: HashSet<u64>,
    /// Hashes by the second after which their timestamp no longer passes the window check.
    by_expiry: BTreeMap<i64, Vec<u64>>,
}

/// The outcome of recording a nonce.
#[derive(Debug, PartialEq, Eq)]
pub enum NonceOutcome {
    Fresh,
    Replayed,
    Full,
}

impl NonceCache {
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Mutex::new(NonceInner::default()),
            capacity,
            key: Default::default(),
        }
    }

    /// Record `nonce` of a request signed at `timestamp` (already checked against the window),
    /// at time `now` (unix seconds).
    pub fn record(&self, nonce: &str, timestamp: i64, now: i64) -> NonceOutcome {
        use std::hash::BuildHasher;
        let hash = self.key.hash_one(nonce);
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        while let Some(entry) = inner.by_expiry.first_entry() {
            if *entry.key() >= now {
                break;
            }
            for old in entry.remove() {
                inner.seen.remove(&old);
            }
        }
        if inner.seen.contains(&hash) {
            return NonceOutcome::Replayed;
        }
        if inner.seen.len() >= self.capacity {
            return NonceOutcome::Full;
        }
        // Accepted while `now - timestamp <= window`: replayable until `timestamp + window`.
        let expiry = timestamp.max(now - sign::MAX_SKEW_SECS) + sign::MAX_SKEW_SECS;
        inner.seen.insert(hash);
        inner.by_expiry.entry(expiry).or_default().push(hash);
        NonceOutcome::Fresh
    }

    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .seen
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<&'a str, ApiError> {
    headers
        .get(name)
        .ok_or(ApiError::Unauthorized(AuthReason::MissingHeader))?
        .to_str()
        .map_err(|_| ApiError::Unauthorized(AuthReason::MalformedHeader))
}

/// Unix seconds now.
pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A runner request whose headers, timestamp and key passed the cheap checks; its body has not
/// been read yet. Handlers read the body only after [`begin_runner`], so an unauthenticated
/// client cannot make the gateway buffer a large body, then call [`RunnerCheck::finish`].
#[derive(Debug)]
pub struct RunnerCheck {
    timestamp: i64,
    nonce: String,
    run_id: String,
    signature: String,
    key: Vec<u8>,
    caller: Caller,
}

/// The first half of [`verify_runner`]: headers well-formed, timestamp inside the window, and
/// the key of the named run (or the shared secret). Nothing is recorded yet.
pub async fn begin_runner(state: &AppState, headers: &HeaderMap) -> Result<RunnerCheck, ApiError> {
    let ts_raw = header(headers, sign::HEADER_TIMESTAMP)?;
    let nonce = header(headers, sign::HEADER_NONCE)?;
    let run_id = header(headers, sign::HEADER_RUN).unwrap_or("");
    let signature = header(headers, sign::HEADER_SIGNATURE)?;
    let timestamp: i64 = ts_raw
        .trim()
        .parse()
        .map_err(|_| ApiError::Unauthorized(AuthReason::MalformedHeader))?;
    if !sign::valid_nonce(nonce) {
        return Err(ApiError::Unauthorized(AuthReason::MalformedHeader));
    }
    sign::check_timestamp(now_secs(), timestamp).map_err(ApiError::Unauthorized)?;

    let (key, caller): (Vec<u8>, Caller) = if run_id.is_empty() {
        (
            state.hmac_secret.expose().as_bytes().to_vec(),
            Caller::Shared,
        )
    } else {
        if !common::wire::valid_run_id(run_id) {
            return Err(ApiError::Unauthorized(AuthReason::UnknownRun));
        }
        let run = state
            .store
            .run(run_id.to_string())
            .await?
            .ok_or(ApiError::Unauthorized(AuthReason::UnknownRun))?;
        (run.key.to_vec(), Caller::Run(run_id.to_string()))
    };
    Ok(RunnerCheck {
        timestamp,
        nonce: nonce.to_string(),
        run_id: run_id.to_string(),
        signature: signature.to_string(),
        key,
        caller,
    })
}

impl RunnerCheck {
    /// The second half: the signature over the received bytes in constant time, and only then
    /// the nonce, so a forged request can neither use up a genuine nonce nor fill the cache.
    pub fn finish(
        self,
        state: &AppState,
        method: &Method,
        uri: &Uri,
        body: &[u8],
    ) -> Result<Caller, ApiError> {
        let parts = SignedParts {
            method: method.as_str(),
            path: uri.path(),
            query: uri.query().unwrap_or(""),
            run_id: &self.run_id,
            timestamp: self.timestamp,
            nonce: &self.nonce,
            body,
        };
        sign::verify(&self.key, &parts, &self.signature).map_err(ApiError::Unauthorized)?;
        // The clock is read again: reading a slow body must not stretch the window.
        let now = now_secs();
        sign::check_timestamp(now, self.timestamp).map_err(ApiError::Unauthorized)?;
        match state.nonces.record(&self.nonce, self.timestamp, now) {
            NonceOutcome::Fresh => Ok(self.caller),
            NonceOutcome::Replayed => Err(ApiError::Unauthorized(AuthReason::ReplayedNonce)),
            NonceOutcome::Full => Err(ApiError::Busy {
                message: "too many signed requests in the replay window; retry shortly",
                retry_after: 5,
            }),
        }
    }

    /// The run the request names, if any (known to exist).
    pub fn run_id(&self) -> Option<&str> {
        match &self.caller {
            Caller::Run(id) => Some(id),
            Caller::Shared => None,
        }
    }
}

/// Verify a runner request whose body is already in hand (or empty): [`begin_runner`] then
/// [`RunnerCheck::finish`]. Order matters: timestamp, key lookup, signature over the received
/// bytes in constant time, and only then the nonce.
pub async fn verify_runner(
    state: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Caller, ApiError> {
    begin_runner(state, headers)
        .await?
        .finish(state, method, uri, body)
}

/// SHA-256 of an admin token, as stored.
pub fn token_hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Admit `Authorization: Bearer <admin token>` (checked against the stored hash, in constant
/// time) or, without that header, the web UI's session cookie. The one gate of the admin API; the
/// CSRF guard (`session::csrf_guard`) has already checked state-changing cookie requests.
pub fn require_admin(state: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(authorization) = headers.get(axum::http::header::AUTHORIZATION) else {
        return if crate::session::authenticated(state, headers) {
            Ok(())
        } else {
            Err(ApiError::AdminRequired)
        };
    };
    let presented = authorization
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(ApiError::AdminRequired)?;
    let hash = token_hash(presented.trim());
    if sign::constant_time_eq(&hash, &state.admin_token_hash) {
        Ok(())
    } else {
        Err(ApiError::AdminRequired)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonce_cache_detects_replay_and_expires() {
        let c = NonceCache::new(10);
        assert_eq!(c.record("a", 1000, 1000), NonceOutcome::Fresh);
        assert_eq!(c.record("a", 1000, 1000), NonceOutcome::Replayed);
        // Still inside the window of its timestamp (now - ts <= 300): still a replay.
        assert_eq!(c.record("a", 1000, 1000 + 300), NonceOutcome::Replayed);
        assert_eq!(
            c.record("a", 1000, 1000 + 301),
            NonceOutcome::Fresh,
            "forgotten once its timestamp can no longer pass the window check"
        );
        // A timestamp ahead of the gateway's clock stays remembered until it too leaves the window.
        assert_eq!(c.record("b", 2300, 2000), NonceOutcome::Fresh);
        assert_eq!(c.record("b", 2300, 2599), NonceOutcome::Replayed);
        assert_eq!(c.record("b", 2300, 2601), NonceOutcome::Fresh);
    }

    #[test]
    fn nonce_cache_is_bounded() {
        let c = NonceCache::new(3);
        for n in ["a", "b", "c"] {
            assert_eq!(c.record(n, 0, 0), NonceOutcome::Fresh);
        }
        assert_eq!(c.record("d", 0, 0), NonceOutcome::Full);
        assert_eq!(c.len(), 3);
        assert_eq!(
            c.record("d", 700, 700),
            NonceOutcome::Fresh,
            "room again once old ones expire"
        );
        assert_eq!(c.len(), 1);
    }
}
