//! The checkpoint thread: copies the WAL into the database file beside the writer, so that
//! ingest commits do not.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rusqlite::Connection;

use super::conn::{BUSY_TIMEOUT, backend};
use crate::store::StoreError;

/// WAL pages past which a commit checkpoints by itself (SQLite's own default is 1,000): only
/// reached if the [`Checkpointer`] falls behind.
pub(super) const WAL_BACKSTOP_PAGES: i64 = 16_000;
/// Bytes of WAL file kept after it restarts.
pub(super) const WAL_KEEP_BYTES: i64 = 64 << 20;
/// Least time between two background checkpoints.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(200);

/// Copies the WAL into the database file on its own thread and connection, so that ingest
/// commits do not. SQLite's automatic checkpoint runs inside the commit that takes the WAL past
/// 1,000 pages: while a flood was ingested that was 13 % of the gateway's CPU, plus an fsync of
/// the database file, all on the path of an ingest answer. A `PASSIVE` checkpoint here runs
/// beside the writer and never blocks it; it runs at most every [`CHECKPOINT_EVERY`], and only
/// after commits.
pub(super) struct Checkpointer {
    shared: Arc<(Mutex<CheckpointState>, std::sync::Condvar)>,
    thread: Option<std::thread::JoinHandle<()>>,
}

#[derive(Default)]
struct CheckpointState {
    commits: bool,
    stop: bool,
}

impl Checkpointer {
    pub(super) fn start(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path)
            .map_err(|e| backend(format!("open {} for checkpoints", path.display()), e))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| backend("configure the checkpoint connection", e))?;
        let shared = Arc::new((
            Mutex::new(CheckpointState::default()),
            std::sync::Condvar::new(),
        ));
        let thread = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn({
                let shared = Arc::clone(&shared);
                move || Self::run(&conn, &shared)
            })
            .map_err(|e| StoreError::Backend(format!("start the checkpoint thread: {e}")))?;
        Ok(Self {
            shared,
            thread: Some(thread),
        })
    }

    fn run(conn: &Connection, shared: &(Mutex<CheckpointState>, std::sync::Condvar)) {
        let (state, wake) = shared;
        let mut last: Option<std::time::Instant> = None;
        loop {
            {
                let mut s = state.lock().unwrap_or_else(PoisonError::into_inner);
                loop {
                    if s.stop {
                        return;
                    }
                    let due = last.map_or(Duration::ZERO, |t| {
                        CHECKPOINT_EVERY.saturating_sub(t.elapsed())
                    });
                    if s.commits && due.is_zero() {
                        break;
                    }
                    s = if s.commits {
                        wake.wait_timeout(s, due)
                            .unwrap_or_else(PoisonError::into_inner)
                            .0
                    } else {
                        wake.wait(s).unwrap_or_else(PoisonError::into_inner)
                    };
                }
                s.commits = false;
            }
            last = Some(std::time::Instant::now());
            if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                tracing::warn!(error = %e, "background checkpoint failed; commits will checkpoint");
            }
        }
    }

    /// Something was committed.
    pub(super) fn nudge(&self) {
        let (state, wake) = &*self.shared;
        let mut s = state.lock().unwrap_or_else(PoisonError::into_inner);
        if !s.commits {
            s.commits = true;
            wake.notify_one();
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        {
            let (state, wake) = &*self.shared;
            state.lock().unwrap_or_else(PoisonError::into_inner).stop = true;
            wake.notify_one();
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
