//! Run keys read recently, so that a runner's every request does not read its run from the
//! store: at 1,000 runners a gateway checks thousands of signatures a second, each of which
//! read the whole run record on a blocking thread before (a tenth of the gateway's CPU).
//!
//! A run's key never changes, so a remembered key is never wrong; what may change is whether the
//! run still exists. An entry is therefore trusted for [`KEY_TTL`] from when it was read and
//! then read again: a run deleted through another replica (or purged by another replica's
//! retention sweep) is refused within that time, and at once on the replica that deleted or
//! purged it ([`RunKeys::forget`]). The map holds at most `capacity` runs; past that, expired
//! entries go first and then the whole map (the next requests read their runs again), so a
//! flood of run ids costs reads, never memory.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// How long a key read from the store is used before it is read again.
pub const KEY_TTL: Duration = Duration::from_secs(60);

pub struct RunKeys {
    capacity: usize,
    ttl: Duration,
    keys: Mutex<HashMap<String, ([u8; 32], Instant)>>,
}

impl std::fmt::Debug for RunKeys {
    // The keys themselves are never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunKeys")
            .field("capacity", &self.capacity)
            .field("held", &self.len())
            .finish()
    }
}

impl RunKeys {
    pub fn new(capacity: usize) -> Self {
        Self::with_ttl(capacity, KEY_TTL)
    }

    pub fn with_ttl(capacity: usize, ttl: Duration) -> Self {
        Self {
            capacity: capacity.max(1),
            ttl,
            keys: Mutex::new(HashMap::new()),
        }
    }

    fn keys(&self) -> MutexGuard<'_, HashMap<String, ([u8; 32], Instant)>> {
        self.keys.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The key of `run_id` if it was read less than the TTL ago.
    pub fn get(&self, run_id: &str) -> Option<[u8; 32]> {
        self.keys()
            .get(run_id)
            .filter(|(_, read)| read.elapsed() < self.ttl)
            .map(|(key, _)| *key)
    }

    /// Remember the key just read from the store.
    pub fn put(&self, run_id: &str, key: [u8; 32]) {
        let mut keys = self.keys();
        if keys.len() >= self.capacity && !keys.contains_key(run_id) {
            keys.retain(|_, (_, read)| read.elapsed() < self.ttl);
            if keys.len() >= self.capacity {
                keys.clear();
            }
        }
        keys.insert(run_id.to_string(), (key, Instant::now()));
    }

    /// The run is deleted (by a person or by retention): its key is read again, and refused.
    pub fn forget(&self, run_id: &str) {
        self.keys().remove(run_id);
    }

    pub fn len(&self) -> usize {
        self.keys().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_used_until_its_time_is_up_or_it_is_forgotten() {
        let keys = RunKeys::with_ttl(8, Duration::from_millis(200));
        keys.put("r_a", [1; 32]);
        assert_eq!(keys.get("r_a"), Some([1; 32]));
        assert_eq!(keys.get("r_b"), None);
        keys.forget("r_a");
        assert_eq!(keys.get("r_a"), None);
        keys.put("r_a", [2; 32]);
        std::thread::sleep(Duration::from_millis(250));
        assert_eq!(keys.get("r_a"), None, "an expired key is read again");
    }

    #[test]
    fn the_map_never_holds_more_than_its_capacity() {
        let keys = RunKeys::new(100);
        for i in 0..10_000 {
            keys.put(&format!("r_{i}"), [0; 32]);
            assert!(keys.len() <= 100);
        }
        // The newest is always kept.
        assert_eq!(keys.get("r_9999"), Some([0; 32]));
    }
}
