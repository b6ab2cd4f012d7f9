//! The search indexer thread: indexes what ingest committed (`search::index_step`), one stretch
//! at a time on the writer connection, out of ingest's way.
//!
//! It waits while an ingest batch is queued for the writer, and after each stretch it rests: nine
//! times as long as the stretch took while ingest is committing (so it holds the writer at most a
//! tenth of the time and ingest keeps its pace), as long as it took otherwise. It catches up
//! when ingest pauses. Searches read past the index line by line, so a lag costs time, never
//! hits.

use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use rusqlite::Connection;

use super::conn::lock;
use super::search::index_step;
use super::writer::Queue;

/// How often an idle indexer waits for a queued ingest batch to be written.
const BUSY_WAIT: Duration = Duration::from_millis(2);
/// Rest after a failed step before trying again.
const AFTER_FAILURE: Duration = Duration::from_secs(60);
/// Ingest counts as running while it committed this recently.
const INGEST_QUIET: Duration = Duration::from_millis(200);
/// Rest per unit of indexing time while ingest runs, and while it does not.
const REST_BUSY: u32 = 9;
const REST_IDLE: u32 = 1;

struct State {
    /// Something was committed since the indexer last found nothing to do.
    work: bool,
    stop: bool,
    /// When ingest last committed.
    committed: Instant,
}

type Shared = Arc<(Mutex<State>, Condvar)>;

pub(super) struct Indexer {
    shared: Shared,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Indexer {
    /// Starts the thread, which first catches up with what is stored.
    pub(super) fn start(
        writer: Arc<Mutex<Connection>>,
        appends: Arc<Queue>,
    ) -> std::io::Result<Self> {
        let shared: Shared = Arc::new((
            Mutex::new(State {
                work: true,
                stop: false,
                committed: Instant::now(),
            }),
            Condvar::new(),
        ));
        let thread = std::thread::Builder::new()
            .name("sqlite-search-index".into())
            .spawn({
                let shared = Arc::clone(&shared);
                move || run(&shared, &writer, &appends)
            })?;
        Ok(Self {
            shared,
            thread: Some(thread),
        })
    }

    /// Something was committed.
    pub(super) fn nudge(&self) {
        let (state, wake) = &*self.shared;
        let mut s = state.lock().unwrap_or_else(PoisonError::into_inner);
        s.committed = Instant::now();
        if !s.work {
            s.work = true;
            wake.notify_one();
        }
    }
}

/// How long to rest after a stretch that took `took`.
fn rest_after(shared: &Shared, took: Duration) -> Duration {
    let (state, _) = &**shared;
    let ingesting = state
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .committed
        .elapsed()
        < INGEST_QUIET;
    took * if ingesting { REST_BUSY } else { REST_IDLE }
}

/// Waits `for_` unless told to stop; `false` once stopped.
fn rest(shared: &Shared, for_: Duration) -> bool {
    let (state, wake) = &**shared;
    let s = state.lock().unwrap_or_else(PoisonError::into_inner);
    let (s, _) = wake
        .wait_timeout_while(s, for_, |s| !s.stop)
        .unwrap_or_else(PoisonError::into_inner);
    !s.stop
}

fn run(shared: &Shared, writer: &Mutex<Connection>, appends: &Queue) {
    let (state, wake) = &**shared;
    loop {
        {
            let mut s = state.lock().unwrap_or_else(PoisonError::into_inner);
            while !s.work && !s.stop {
                s = wake.wait(s).unwrap_or_else(PoisonError::into_inner);
            }
            if s.stop {
                return;
            }
            s.work = false;
        }
        loop {
            if appends.busy() {
                if !rest(shared, BUSY_WAIT) {
                    return;
                }
                continue;
            }
            let started = Instant::now();
            let step = index_step(&mut lock(writer));
            match step {
                Ok(true) => {
                    if !rest(shared, rest_after(shared, started.elapsed())) {
                        return;
                    }
                }
                Ok(false) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "search indexing failed; searches read the unindexed lines");
                    if !rest(shared, AFTER_FAILURE) {
                        return;
                    }
                    break;
                }
            }
        }
    }
}

impl Drop for Indexer {
    fn drop(&mut self) {
        {
            let (state, wake) = &*self.shared;
            state.lock().unwrap_or_else(PoisonError::into_inner).stop = true;
            wake.notify_all();
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
