//! The open-file limit, which bounds the connections served: each connection is one descriptor.
//!
//! At start the gateway raises its soft `RLIMIT_NOFILE` to the hard limit (as Go's runtime does:
//! the soft limit of 1,024 is a leftover of `select(2)`, which nothing here uses), then keeps
//! [`RESERVED`] descriptors for the database, the log and the certificates. A connection cap
//! (`GATEWAY_MAX_CONNECTIONS`) beyond what is left is lowered to it with a warning, so a client
//! past the limit gets the cap's `503` instead of an `accept` failing with `EMFILE`.

use nix::sys::resource::{Resource, getrlimit, setrlimit};

/// Descriptors kept for everything but client connections: SQLite's database, WAL and shared
/// memory for the writer and each reader, the listener, artifacts being written, the log.
pub const RESERVED: u64 = 128;

/// The connection cap that fits the open-file limit, after raising the soft limit to the hard one.
pub fn fit_connections(wanted: usize) -> usize {
    let limit = match raise_soft_limit() {
        Ok(limit) => limit,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the open-file limit; the connection cap stays");
            return wanted;
        }
    };
    let room = cap_within(wanted, limit);
    if room < wanted {
        tracing::warn!(
            wanted,
            serving = room,
            open_files = limit,
            "GATEWAY_MAX_CONNECTIONS is above what the open-file limit leaves; raise the hard \
             limit (ulimit -Hn, LimitNOFILE= in a systemd unit) to serve more"
        );
    }
    room
}

/// The soft open-file limit after raising it to the hard one (when it was lower).
fn raise_soft_limit() -> nix::Result<u64> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    if soft >= hard {
        return Ok(soft);
    }
    match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
        Ok(()) => Ok(hard),
        Err(e) => {
            tracing::warn!(error = %e, soft, hard, "cannot raise the open-file limit");
            Ok(soft)
        }
    }
}

/// At most `wanted`, leaving [`RESERVED`] of `limit` descriptors (and serving at least one).
fn cap_within(wanted: usize, limit: u64) -> usize {
    let room = usize::try_from(limit.saturating_sub(RESERVED)).unwrap_or(usize::MAX);
    wanted.min(room).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_leaves_the_reserve() {
        for (wanted, limit, want) in [
            (1000, 1024, 896),
            (1000, 1_048_576, 1000),
            (6000, 20_000, 6000),
            (6000, 4096, 3968),
            (10, 64, 1),
            (10, u64::MAX, 10),
        ] {
            assert_eq!(cap_within(wanted, limit), want, "{wanted} within {limit}");
        }
    }

    #[test]
    fn the_soft_limit_ends_at_the_hard_one() {
        let raised = raise_soft_limit().unwrap();
        let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
        assert_eq!(raised, soft);
        assert_eq!(soft, hard, "the soft limit was raised to the hard one");
    }
}
