//! What every connection of this backend shares: its lock and statement settings, the writer's
//! mutex, and how a SQLite failure becomes a [`StoreError`].

use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::Connection;

use crate::store::StoreError;

/// How long a statement waits for a lock held by another process before failing.
pub(super) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Enough for every statement this backend prepares.
pub(super) const STATEMENT_CACHE: usize = 32;

/// A panic while the lock was held cannot leave a transaction half-applied (dropping a rusqlite
/// transaction rolls it back), so a poisoned lock is safe to take over.
pub(super) fn lock(conn: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    conn.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A failure of the database, with what was being done; for the log, never for a client.
pub(super) fn backend(context: impl fmt::Display, err: rusqlite::Error) -> StoreError {
    StoreError::Backend(format!("{context}: {err}"))
}
