//! What replicas sharing one store tell each other, and what a replica does when it hears it.
//!
//! A replica that commits a batch, changes a run, queues a command or a run tells the others
//! through the store's [`Channel`] (PostgreSQL: NOTIFY), in a short text: which run, which
//! sequences, which bell. The data itself is never in the message: the hearer reads the events
//! from the store (only when someone here watches the run) and hands them to its own hub, or
//! rings its own bell, so the long polls and streams of every replica work as on one. A message
//! lost while the listener reconnected costs no data: every bell is rung (each waiter re-reads
//! the store), and every run stream reconciles with the store by itself within a second
//! (`routes/stream.rs`).

use crate::store::{Heard, Store};

use super::Live;

/// One replica's news, as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Signal<'a> {
    /// Events `first..=last` of the run are committed.
    Events {
        run_id: &'a str,
        first: u64,
        last: u64,
    },
    /// The run was created or changed.
    Run { run_id: &'a str },
    /// A bell (a run's command queue, or the queue of runs) was rung.
    Bell { key: &'a str },
}

impl<'a> Signal<'a> {
    pub(super) fn encode(&self) -> String {
        match self {
            Self::Events {
                run_id,
                first,
                last,
            } => format!("e {first} {last} {run_id}"),
            Self::Run { run_id } => format!("r {run_id}"),
            Self::Bell { key } => format!("b {key}"),
        }
    }

    pub(super) fn decode(text: &'a str) -> Option<Self> {
        let (kind, rest) = text.split_once(' ')?;
        match kind {
            "e" => {
                let mut parts = rest.splitn(3, ' ');
                let first = parts.next()?.parse().ok()?;
                let last = parts.next()?.parse().ok()?;
                let run_id = parts.next()?;
                (first >= 1 && last >= first).then_some(Self::Events {
                    run_id,
                    first,
                    last,
                })
            }
            "r" => Some(Self::Run { run_id: rest }),
            "b" => Some(Self::Bell { key: rest }),
            _ => None,
        }
    }
}

/// Hands on what the other replicas tell, until the channel closes.
pub(super) async fn follow(
    live: &Live,
    store: &dyn Store,
    mut heard: tokio::sync::mpsc::Receiver<Heard>,
) {
    while let Some(news) = heard.recv().await {
        let text = match news {
            Heard::Message(text) => text,
            Heard::Connected => {
                // Whatever was sent before is not heard: every waiter re-reads the store.
                live.listening
                    .store(true, std::sync::atomic::Ordering::Relaxed);
                live.waiters.ring_all();
                continue;
            }
        };
        match Signal::decode(&text) {
            Some(Signal::Events {
                run_id,
                first,
                last,
            }) => {
                if live.hub.watched(run_id) {
                    let count = usize::try_from(last - first + 1).unwrap_or(usize::MAX);
                    match store.events(run_id.to_string(), first - 1, count).await {
                        Ok(events) => {
                            live.hub.publish(run_id, events);
                            live.relayed
                                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                        // The run's streams reconcile with the store by themselves.
                        Err(e) => tracing::warn!(run = %run_id, error = %e, "read relayed events"),
                    }
                }
                live.announce_run_here(store, run_id).await;
            }
            Some(Signal::Run { run_id }) => live.announce_run_here(store, run_id).await,
            Some(Signal::Bell { key }) => live.waiters.ring(key),
            None => {
                tracing::warn!(message = %text, "a message from another gateway not understood")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_read_back_as_sent() {
        for signal in [
            Signal::Events {
                run_id: "r_1 with space",
                first: 3,
                last: 9,
            },
            Signal::Run { run_id: "r_2" },
            Signal::Bell { key: "queue:" },
        ] {
            assert_eq!(Signal::decode(&signal.encode()), Some(signal.clone()));
        }
        for bad in ["", "e 0 1 r", "e 5 4 r", "e x 1 r", "z r", "e 1"] {
            assert_eq!(Signal::decode(bad), None, "{bad:?}");
        }
    }
}
