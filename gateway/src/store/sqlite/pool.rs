//! A small pool of read-only connections to the store's database file.

use std::ops::Deref;
use std::path::PathBuf;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use rusqlite::{Connection, OpenFlags};

use super::conn::{BUSY_TIMEOUT, STATEMENT_CACHE, backend};
use crate::store::StoreError;

/// Most read-only connections open at once: a few UI readers side by side; more would only contend
/// for the same pages.
const READERS: usize = 4;

/// Up to [`READERS`] read-only connections, opened on first need and kept.
pub(super) struct ReadPool {
    path: PathBuf,
    state: Mutex<PoolState>,
    returned: Condvar,
}

struct PoolState {
    idle: Vec<Connection>,
    open: usize,
}

impl ReadPool {
    pub(super) fn new(path: PathBuf) -> Self {
        ReadPool {
            path,
            state: Mutex::new(PoolState {
                idle: Vec::new(),
                open: 0,
            }),
            returned: Condvar::new(),
        }
    }

    /// An idle connection, a new one while fewer than [`READERS`] exist, or else waits for one.
    pub(super) fn get(&self) -> Result<Reader<'_>, StoreError> {
        let mut state = self.state();
        loop {
            if let Some(conn) = state.idle.pop() {
                return Ok(Reader {
                    pool: self,
                    conn: Some(conn),
                });
            }
            if state.open < READERS {
                state.open += 1;
                drop(state);
                return match self.connect() {
                    Ok(conn) => Ok(Reader {
                        pool: self,
                        conn: Some(conn),
                    }),
                    Err(e) => {
                        self.state().open -= 1;
                        self.returned.notify_one();
                        Err(e)
                    }
                };
            }
            state = self
                .returned
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// The state is a list and a count, valid whatever a panicking holder was doing.
    fn state(&self) -> MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn connect(&self) -> Result<Connection, StoreError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&self.path, flags)
            .map_err(|e| backend(format!("open reader on {}", self.path.display()), e))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| backend("configure reader", e))?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(conn)
    }
}

/// A pooled connection, handed back on drop (also when a read panics).
pub(super) struct Reader<'a> {
    pool: &'a ReadPool,
    /// `Some` until `drop`.
    conn: Option<Connection>,
}

impl Deref for Reader<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        self.conn
            .as_ref()
            .expect("a reader holds its connection until drop")
    }
}

impl Drop for Reader<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            self.pool.state().idle.push(conn);
            self.pool.returned.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_most_readers_connections_and_they_are_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.db");
        Connection::open(&path)
            .unwrap()
            .execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (x);")
            .unwrap();
        let pool = ReadPool::new(path);
        let held: Vec<_> = (0..READERS).map(|_| pool.get().unwrap()).collect();
        assert_eq!(pool.state().open, READERS);
        std::thread::scope(|s| {
            let waiter = s.spawn(|| {
                let conn = pool.get().unwrap();
                conn.query_row("SELECT count(*) FROM t", [], |r| r.get::<_, i64>(0))
                    .unwrap()
            });
            drop(held);
            assert_eq!(waiter.join().unwrap(), 0);
        });
        assert_eq!(pool.state().open, READERS);
        assert_eq!(pool.state().idle.len(), READERS);
    }

    #[test]
    fn readers_cannot_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.db");
        Connection::open(&path)
            .unwrap()
            .execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (x);")
            .unwrap();
        let pool = ReadPool::new(path);
        assert!(
            pool.get()
                .unwrap()
                .execute("INSERT INTO t VALUES (1)", [])
                .is_err()
        );
    }

    #[test]
    fn a_missing_file_is_an_error_and_frees_the_slot() {
        let dir = tempfile::tempdir().unwrap();
        let pool = ReadPool::new(dir.path().join("absent.db"));
        for _ in 0..READERS + 1 {
            assert!(matches!(pool.get(), Err(StoreError::Backend(_))));
        }
        assert_eq!(pool.state().open, 0);
    }
}
