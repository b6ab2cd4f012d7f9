//! Replay protection: every signed request's nonce is recorded, durably and for every gateway
//! process using the store, once its signature is verified; a nonce recorded before is a replay.
//!
//! The record is the store's ([`Store::record_nonce`]; ingest records it in the batch's own
//! transaction, so it costs no extra sync). A small in-memory front ([`NonceCache`]) answers a
//! replay to the same process at once. Records expire with the timestamp window and are pruned
//! in the background ([`prune_forever`]), a minute late so that processes whose clocks differ a
//! little still agree on what is live.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::sign::{self, AuthReason};
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::store::{Nonce, Store};

/// How often expired nonces are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(60);
/// How long past its expiry a nonce is kept: the clocks of processes sharing a store may differ
/// by this much without a replay slipping through.
pub const PRUNE_GRACE_SECS: i64 = 60;

/// A verified request's nonce, not recorded yet.
#[derive(Debug, Clone)]
pub struct Claim {
    nonce: String,
    timestamp: i64,
    now: i64,
}

impl Claim {
    /// The nonce of a request signed at `timestamp` whose signature was verified at `now`.
    pub fn new(nonce: &str, timestamp: i64, now: i64) -> Self {
        Self {
            nonce: nonce.to_string(),
            timestamp,
            now,
        }
    }

    /// The nonce as the store keeps it: its SHA-256, and the second after which the request's
    /// timestamp no longer passes the window (so a replay could not be accepted anyway).
    pub fn stored(&self) -> Nonce {
        Nonce {
            hash: Sha256::digest(self.nonce.as_bytes()).into(),
            expires_at: expiry(self.timestamp, self.now),
        }
    }
}

/// Accepted while `now - timestamp <= window`: replayable until `timestamp + window`.
fn expiry(timestamp: i64, now: i64) -> i64 {
    timestamp.max(now - sign::MAX_SKEW_SECS) + sign::MAX_SKEW_SECS
}

/// The memory front's verdict: a replay this process saw is refused here.
pub fn check_front(nonces: &NonceCache, claim: &Claim) -> Result<(), ApiError> {
    match nonces.record(&claim.nonce, claim.timestamp, claim.now) {
        NonceOutcome::Replayed => Err(ApiError::Unauthorized(AuthReason::ReplayedNonce)),
        NonceOutcome::Fresh | NonceOutcome::Full => Ok(()),
    }
}

/// Record `claim` for good: the memory front, then the store; a replay is refused.
pub async fn record(nonces: &NonceCache, store: &dyn Store, claim: &Claim) -> Result<(), ApiError> {
    check_front(nonces, claim)?;
    if store.record_nonce(claim.stored()).await? {
        Ok(())
    } else {
        Err(ApiError::Unauthorized(AuthReason::ReplayedNonce))
    }
}

/// Forget expired nonces every minute, for as long as the future is polled.
pub async fn prune_forever(store: Arc<dyn Store>) {
    let mut tick = tokio::time::interval(PRUNE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let before = crate::clock::now_secs() - PRUNE_GRACE_SECS;
        match store.prune_nonces(before).await {
            Ok(n) if n > 0 => tracing::debug!(pruned = n, "expired nonces pruned"),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "could not prune expired nonces"),
        }
    }
}

/// The memory front: the nonces this process recorded, until their signatures could no longer
/// pass the timestamp check. It refuses a replay to this process without asking the store, and
/// is never the truth: a nonce it does not hold (another process saw it, or the front is full)
/// goes to the store, which answers for every process.
///
/// Bounded: when full of live entries it takes no more (they go to the store alone). Compact: a
/// nonce is kept
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
        let expiry = expiry(timestamp, now);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claim_expires_when_its_timestamp_leaves_the_window() {
        let claim = Claim::new("n", 1000, 1100);
        assert_eq!(claim.stored().expires_at, 1000 + sign::MAX_SKEW_SECS);
        assert_eq!(claim.stored(), Claim::new("n", 1000, 1250).stored());
        assert_ne!(
            claim.stored().hash,
            Claim::new("m", 1000, 1100).stored().hash
        );
    }

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
