//! Ingest requests in progress, per run, so that a batch arriving before the earlier batch of its
//! run is stored can wait for it (`routes::ingest`, PROTOCOL.md "Ingest").

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::Notify;

/// The ingest requests being handled, per run, and a bell rung whenever one of a run's ends.
#[derive(Debug, Default, Clone)]
pub struct InFlight(Arc<Mutex<Runs>>);

/// Per run: its requests in progress and its bell.
type Runs = HashMap<String, (usize, Arc<Notify>)>;

impl InFlight {
    /// Counts a request of `run_id` in until the ticket is dropped.
    pub fn enter(&self, run_id: &str) -> Ticket {
        let mut runs = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let (n, bell) = runs.entry(run_id.to_string()).or_default();
        *n += 1;
        Ticket {
            runs: self.clone(),
            run_id: run_id.to_string(),
            bell: bell.clone(),
        }
    }
}

/// One ingest request in progress; dropping it (the request answered, or gone) rings its run's
/// bell.
#[derive(Debug)]
pub struct Ticket {
    runs: InFlight,
    run_id: String,
    pub bell: Arc<Notify>,
}

impl Ticket {
    /// Other requests of the same run are being handled.
    pub fn others(&self) -> bool {
        let runs = self.runs.0.lock().unwrap_or_else(PoisonError::into_inner);
        runs.get(&self.run_id).is_some_and(|(n, _)| *n > 1)
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut runs = self.runs.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((n, _)) = runs.get_mut(&self.run_id) {
            *n -= 1;
            if *n == 0 {
                runs.remove(&self.run_id);
            }
        }
        self.bell.notify_waiters();
    }
}
