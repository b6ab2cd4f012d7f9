//! What is happening now, in memory: committed batches and run changes on their way to the
//! streams that watch them, queued commands on their way to the runners that wait for them.
//!
//! Nothing here is durable: the store is the truth, and every reader can catch up from it (a
//! stream that lags or sees a gap reads the store; a long poll reads the store before it waits).
//! It is the part of live delivery that several replicas must share: a batch committed by one
//! replica must reach viewers connected to another, a command queued on one must wake a runner
//! polling another. Every publish and every wait goes through [`Live`], so a shared
//! implementation (a database's notifications feeding each replica's own hub and bells) replaces
//! this module alone; handlers do not change. (The rest of what a process keeps in memory is
//! listed in ARCHITECTURE.md, `gateway/`.)

mod hub;
mod waiters;

use std::sync::Arc;

use common::wire::{RawEvent, RunSummary};
use tokio::sync::broadcast;

pub use hub::Batch;

/// The queue's bell among the runs' bells: not a run id (those have no colon).
const QUEUE_BELL: &str = "queue:";
pub use waiters::Joined;

use crate::store::{AppendOutcome, Store};

/// The live fan-out and the command bells of this process.
#[derive(Debug, Default)]
pub struct Live {
    hub: hub::Hub,
    waiters: waiters::Waiters,
}

impl Live {
    /// Listen to the batches of `run_id` committed from now on.
    pub fn subscribe_run(&self, run_id: &str) -> broadcast::Receiver<Batch> {
        self.hub.subscribe(run_id)
    }

    /// Listen to run changes (created, new events, status).
    pub fn subscribe_runs(&self) -> broadcast::Receiver<Arc<RunSummary>> {
        self.hub.subscribe_list()
    }

    /// Hand newly stored events of `run_id` to whoever watches it. Call after the commit.
    pub fn publish_events(&self, run_id: &str, events: impl Into<Batch>) {
        self.hub.publish(run_id, events);
    }

    /// After an ingest batch committed: publish its new events to the run's watchers and the
    /// run's new state to the runs list.
    pub async fn announce_append(
        &self,
        store: &dyn Store,
        run_id: &str,
        events: Batch,
        outcome: &AppendOutcome,
    ) {
        if outcome.inserted == 0 {
            return;
        }
        // The new events are the `inserted` sequences ending at `acked_through`: usually the
        // whole batch, handed on as it is; a batch that overlapped stored events is filtered.
        let first_new = outcome.acked_through + 1 - outcome.inserted as u64;
        let new = |e: &RawEvent| (first_new..=outcome.acked_through).contains(&e.sequence);
        if events.len() == outcome.inserted && events.iter().all(new) {
            self.hub.publish(run_id, events);
        } else {
            let fresh: Vec<RawEvent> = events.iter().filter(|e| new(e)).cloned().collect();
            self.hub.publish(run_id, fresh);
        }
        self.announce_run(store, run_id).await;
    }

    /// Publish a run's current summary to the runs list (after it was created or changed).
    pub async fn announce_run(&self, store: &dyn Store, run_id: &str) {
        if !self.hub.list_watched() {
            return;
        }
        match store.run(run_id.to_string()).await {
            Ok(Some(run)) => self.hub.publish_run(run.summary),
            Ok(None) => {}
            Err(e) => tracing::warn!(run = %run_id, error = %e, "read a run to announce it"),
        }
    }

    /// The bell of `run_id`'s command queue, held while a runner waits on it.
    pub fn bell(&self, run_id: &str) -> Joined<'_> {
        self.waiters.join(run_id)
    }

    /// A command was queued for `run_id`, or the run was deleted: wake every runner waiting.
    pub fn ring(&self, run_id: &str) {
        self.waiters.ring(run_id);
    }

    /// The bell of the queue of runs, held while an agent waits for an assignment.
    pub fn queue_bell(&self) -> Joined<'_> {
        self.waiters.join(QUEUE_BELL)
    }

    /// A run was queued, or an agent's capacity freed: wake every agent waiting.
    pub fn ring_queue(&self) {
        self.waiters.ring(QUEUE_BELL);
    }

    /// Open streams: run streams plus runs-list streams (for `/metrics`).
    pub fn subscribers(&self) -> usize {
        self.hub.subscribers()
    }

    /// Runs with a live event channel (for tests and diagnostics).
    pub fn watched_runs(&self) -> usize {
        self.hub.watched_runs()
    }

    /// Runs with a runner waiting on their bell (for tests and diagnostics).
    pub fn waiting_runs(&self) -> usize {
        self.waiters.len()
    }
}
