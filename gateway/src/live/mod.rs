//! What is happening now, in memory: committed batches and run changes on their way to the
//! streams that watch them, queued commands on their way to the runners that wait for them.
//!
//! Nothing here is durable: the store is the truth, and every reader can catch up from it (a
//! stream that lags or sees a gap reads the store; a long poll reads the store before it waits).
//! It is the part of live delivery that several replicas must share: a batch committed by one
//! replica must reach viewers connected to another, a command queued on one must wake a runner
//! polling another. Every publish and every wait goes through [`Live`]; when the store is shared
//! (PostgreSQL), [`Live`] also tells the other replicas through the store's [`Channel`]
//! (`relay.rs`: which signals, and what a replica does when it hears one), so handlers do not
//! change. (The rest of what a process keeps in memory is listed in ARCHITECTURE.md, `gateway/`.)

mod hub;
mod relay;
mod waiters;

use std::sync::Arc;

use common::wire::{RawEvent, RunSummary};
use tokio::sync::broadcast;

pub use hub::Batch;

/// The queue's bell among the runs' bells: not a run id (those have no colon).
const QUEUE_BELL: &str = "queue:";
pub use waiters::Joined;

use crate::store::{AppendOutcome, Channel, Store};

/// The live fan-out and the command bells of this process, and the channel that carries them to
/// the other replicas of a shared store.
#[derive(Default)]
pub struct Live {
    hub: hub::Hub,
    waiters: waiters::Waiters,
    channel: Option<Arc<dyn Channel>>,
    /// The channel's listener has connected at least once.
    listening: std::sync::atomic::AtomicBool,
    /// Batches of other replicas handed to this process's streams.
    relayed: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for Live {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Live")
            .field("hub", &self.hub)
            .field("shared", &self.channel.is_some())
            .finish_non_exhaustive()
    }
}

impl Live {
    /// The live side of a gateway whose store is `store`: shared with the other replicas
    /// through the store's channel, if it has one.
    pub fn for_store(store: &dyn Store) -> Self {
        Self {
            channel: store.channel(),
            ..Self::default()
        }
    }

    /// Hear the other replicas and hand on what they did, for as long as the future is polled
    /// (returns at once for a store no other process shares).
    pub async fn follow(&self, store: &dyn Store) {
        if let Some(channel) = &self.channel {
            relay::follow(self, store, channel.listen()).await;
        }
    }

    /// Whether this process hears the other replicas (always `false` for a store it owns).
    pub fn listening(&self) -> bool {
        self.listening.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// How many batches committed by other replicas this process handed to its streams.
    pub fn relayed(&self) -> u64 {
        self.relayed.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn tell(&self, signal: relay::Signal<'_>) {
        if let Some(channel) = &self.channel {
            channel.send(signal.encode());
        }
    }

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
        self.tell(relay::Signal::Events {
            run_id,
            first: first_new,
            last: outcome.acked_through,
        });
        self.announce_run_here(store, run_id).await;
    }

    /// Publish a run's current summary to the runs list (after it was created or changed).
    pub async fn announce_run(&self, store: &dyn Store, run_id: &str) {
        self.tell(relay::Signal::Run { run_id });
        self.announce_run_here(store, run_id).await;
    }

    /// [`Live::announce_run`] to this process's runs lists only.
    async fn announce_run_here(&self, store: &dyn Store, run_id: &str) {
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
        self.tell(relay::Signal::Bell { key: run_id });
    }

    /// The bell of the queue of runs, held while an agent waits for an assignment.
    pub fn queue_bell(&self) -> Joined<'_> {
        self.waiters.join(QUEUE_BELL)
    }

    /// A run was queued, or an agent's capacity freed: wake every agent waiting.
    pub fn ring_queue(&self) {
        self.waiters.ring(QUEUE_BELL);
        self.tell(relay::Signal::Bell { key: QUEUE_BELL });
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
