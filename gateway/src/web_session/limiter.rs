//! The sign-in rate limiter: fixed-window counts of failed sign-ins, per client address and in
//! all; in memory, or in the store when gateways share it (`reserve_shared`). A flood of wrong passwords can delay the admin's own sign-in for a minute, by choice (the
//! admin token keeps working).

use std::collections::HashMap;
use std::net::IpAddr;

use crate::store::{Store, StoreError};

/// Rate limit: failed sign-ins allowed per window, per client address and in all.
const WINDOW_MS: i64 = 60 * 1000;
const PER_IP_FAILURES: u32 = 5;
const GLOBAL_FAILURES: u32 = 30;
/// Client addresses the limiter tracks before it counts only the global limit.
const MAX_TRACKED_IPS: usize = 10_000;

/// Fixed-window counters of failed sign-ins (or, with other limits, of any attempts).
#[derive(Debug)]
pub(super) struct Limiter {
    window_start: i64,
    global: u32,
    per_ip: HashMap<IpAddr, u32>,
    per_ip_limit: u32,
    global_limit: u32,
}

impl Default for Limiter {
    /// The sign-in limits.
    fn default() -> Self {
        Self::with_limits(PER_IP_FAILURES, GLOBAL_FAILURES)
    }
}

impl Limiter {
    /// At most `per_ip` attempts per window from one address and `global` in all.
    pub(super) fn with_limits(per_ip: u32, global: u32) -> Self {
        Self {
            window_start: 0,
            global: 0,
            per_ip: HashMap::new(),
            per_ip_limit: per_ip,
            global_limit: global,
        }
    }

    /// Count an attempt before checking the password; `Err(seconds)` when over a limit.
    pub(super) fn reserve(&mut self, ip: Option<IpAddr>, now: i64) -> Result<(), u64> {
        if now - self.window_start >= WINDOW_MS || now < self.window_start {
            self.window_start = now;
            self.global = 0;
            self.per_ip.clear();
        }
        let retry = ((self.window_start + WINDOW_MS - now) / 1000 + 1) as u64;
        let ip_count = ip.and_then(|ip| self.per_ip.get(&ip).copied()).unwrap_or(0);
        if self.global >= self.global_limit || ip_count >= self.per_ip_limit {
            return Err(retry);
        }
        self.global += 1;
        if let Some(ip) = ip
            && (self.per_ip.len() < MAX_TRACKED_IPS || self.per_ip.contains_key(&ip))
        {
            *self.per_ip.entry(ip).or_default() += 1;
        }
        Ok(())
    }

    /// The password was right: the attempt does not count.
    pub(super) fn refund(&mut self, ip: Option<IpAddr>) {
        self.global = self.global.saturating_sub(1);
        if let Some(n) = ip.and_then(|ip| self.per_ip.get_mut(&ip)) {
            *n = n.saturating_sub(1);
        }
    }
}

/// The window `now` falls in, for counters in the store: windows start on whole minutes, the
/// same on every gateway.
fn window_of(now: i64) -> i64 {
    now - now.rem_euclid(WINDOW_MS)
}

fn ip_key(ip: IpAddr) -> String {
    format!("signin:{ip}")
}

const GLOBAL_KEY: &str = "signin:*";

/// [`Limiter::reserve`] with counters in the store, shared by every gateway using it: counted
/// first, taken back when over a limit.
pub(super) async fn reserve_shared(
    store: &dyn Store,
    ip: Option<IpAddr>,
    now: i64,
) -> Result<Result<(), u64>, StoreError> {
    let window = window_of(now);
    let retry = ((window + WINDOW_MS - now) / 1000 + 1) as u64;
    let global = store.count(GLOBAL_KEY.into(), window, 1).await?;
    if global > i64::from(GLOBAL_FAILURES) {
        store.count(GLOBAL_KEY.into(), window, -1).await?;
        return Ok(Err(retry));
    }
    if let Some(ip) = ip {
        let mine = store.count(ip_key(ip), window, 1).await?;
        if mine > i64::from(PER_IP_FAILURES) {
            store.count(ip_key(ip), window, -1).await?;
            store.count(GLOBAL_KEY.into(), window, -1).await?;
            return Ok(Err(retry));
        }
    }
    Ok(Ok(()))
}

/// [`Limiter::refund`] with counters in the store, for the attempt made at `now`.
pub(super) async fn refund_shared(
    store: &dyn Store,
    ip: Option<IpAddr>,
    now: i64,
) -> Result<(), StoreError> {
    let window = window_of(now);
    store.count(GLOBAL_KEY.into(), window, -1).await?;
    if let Some(ip) = ip {
        store.count(ip_key(ip), window, -1).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limiter_counts_per_address_and_in_all_and_resets_each_window() {
        let mut l = Limiter::default();
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        for _ in 0..PER_IP_FAILURES {
            assert!(l.reserve(Some(a), 1000).is_ok());
        }
        assert_eq!(
            l.reserve(Some(a), 1000),
            Err(60),
            "seconds left in the window"
        );
        assert!(
            l.reserve(Some(b), 1000).is_ok(),
            "another address is not blocked"
        );
        l.refund(Some(a));
        assert!(
            l.reserve(Some(a), 1000).is_ok(),
            "a right password gives the attempt back"
        );
        for i in 0..GLOBAL_FAILURES {
            let ip = IpAddr::from([10, 1, (i / 256) as u8, (i % 256) as u8]);
            let _ = l.reserve(Some(ip), 2000);
        }
        assert!(l.reserve(None, 2000).is_err(), "the global limit holds");
        assert!(l.reserve(Some(a), 1000 + WINDOW_MS).is_ok(), "a new window");
    }
}
