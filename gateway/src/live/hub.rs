//! The fan-out of one process: newly stored events go to the streams watching their run, run
//! changes to the runs list.
//!
//! One bounded `tokio::sync::broadcast` channel per watched run carries the batches ingest has
//! committed, and one channel carries run summaries for the list. Nothing here is durable: the
//! store is the truth, and a subscriber that falls behind (the channel answers `Lagged`) or sees a
//! gap reads the missing events from the store (see `routes/stream.rs`). Channels exist only
//! while someone listens, so a run nobody watches costs nothing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use common::wire::{RawEvent, RunSummary};
use tokio::sync::broadcast;

/// Batches a run's channel holds for a slow reader before it lags. A batch can be large (up to
/// 5,000 events), and a broadcast channel keeps its last values alive, so this stays small.
const RUN_CAPACITY: usize = 16;
/// Run changes the list channel holds before a reader lags (it then reloads the list).
const LIST_CAPACITY: usize = 256;

/// Events committed together, ascending by sequence.
pub type Batch = Arc<[RawEvent]>;

/// The in-memory fan-out, shared through the gateway's state.
#[derive(Debug)]
pub struct Hub {
    runs: Mutex<HashMap<String, broadcast::Sender<Batch>>>,
    list: broadcast::Sender<Arc<RunSummary>>,
}

impl Default for Hub {
    fn default() -> Self {
        Self {
            runs: Mutex::new(HashMap::new()),
            list: broadcast::channel(LIST_CAPACITY).0,
        }
    }
}

impl Hub {
    /// Listen to the batches of `run_id` committed from now on.
    pub fn subscribe(&self, run_id: &str) -> broadcast::Receiver<Batch> {
        let mut runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        runs.entry(run_id.to_string())
            .or_insert_with(|| broadcast::channel(RUN_CAPACITY).0)
            .subscribe()
    }

    /// Hand newly stored events of `run_id` to whoever watches it. Call after the commit.
    pub fn publish(&self, run_id: &str, events: impl Into<Batch>) {
        let events: Batch = events.into();
        if events.is_empty() {
            return;
        }
        let mut runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        let Some(tx) = runs.get(run_id) else {
            return;
        };
        if tx.send(events).is_err() {
            // Every receiver is gone: forget the channel (and the batches it kept).
            runs.remove(run_id);
        }
    }

    /// Whether anyone watches `run_id` (skip reading events nobody would get).
    pub fn watched(&self, run_id: &str) -> bool {
        let runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        runs.get(run_id).is_some_and(|tx| tx.receiver_count() > 0)
    }

    /// Listen to run changes (created, new events, status).
    pub fn subscribe_list(&self) -> broadcast::Receiver<Arc<RunSummary>> {
        self.list.subscribe()
    }

    /// Announce a run's new state to the runs list.
    pub fn publish_run(&self, run: RunSummary) {
        // No receivers is fine: nobody has the list open.
        let _ = self.list.send(Arc::new(run));
    }

    /// Whether anyone watches the runs list (skip building a summary when not).
    pub fn list_watched(&self) -> bool {
        self.list.receiver_count() > 0
    }

    /// Open streams: receivers of run channels plus of the runs list (for `/metrics`).
    pub fn subscribers(&self) -> usize {
        let runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        runs.values().map(|tx| tx.receiver_count()).sum::<usize>() + self.list.receiver_count()
    }

    /// How many runs have a live channel (for tests and diagnostics).
    pub fn watched_runs(&self) -> usize {
        self.runs.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::wire::EventKind;
    use tokio::sync::broadcast::error::{RecvError, TryRecvError};

    fn ev(sequence: u64) -> RawEvent {
        common::wire::Event {
            sequence,
            kind: EventKind::Stdout,
            data: serde_json::json!(format!("line {sequence}")),
            ts: 0,
        }
        .to_raw()
    }

    #[test]
    fn subscribers_get_batches_published_after_they_subscribed() {
        let hub = Hub::default();
        hub.publish("r", vec![ev(1)]);
        let mut a = hub.subscribe("r");
        let mut b = hub.subscribe("r");
        hub.publish("r", vec![ev(2), ev(3)]);
        hub.publish("other", vec![ev(1)]);
        for rx in [&mut a, &mut b] {
            let batch = rx.try_recv().unwrap();
            assert_eq!(batch.iter().map(|e| e.sequence).collect::<Vec<_>>(), [2, 3]);
            assert!(matches!(rx.try_recv(), Err(TryRecvError::Empty)));
        }
    }

    #[test]
    fn a_channel_is_dropped_when_its_last_subscriber_leaves() {
        let hub = Hub::default();
        let rx = hub.subscribe("r");
        assert_eq!(hub.watched_runs(), 1);
        drop(rx);
        hub.publish("r", vec![ev(1)]);
        assert_eq!(hub.watched_runs(), 0);
    }

    #[tokio::test]
    async fn a_slow_subscriber_lags_instead_of_blocking_ingest() {
        let hub = Hub::default();
        let mut rx = hub.subscribe("r");
        for s in 1..=(RUN_CAPACITY as u64 + 5) {
            hub.publish("r", vec![ev(s)]);
        }
        assert!(matches!(rx.recv().await, Err(RecvError::Lagged(5))));
        assert_eq!(rx.recv().await.unwrap()[0].sequence, 6);
    }
}
