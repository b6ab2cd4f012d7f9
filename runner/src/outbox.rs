//! Events framed but not yet acknowledged by the gateway, bounded so a flood slows the child
//! (through its pipe) instead of growing memory.

use std::collections::VecDeque;
use std::sync::Mutex;

use common::wire::Event;
use tokio::sync::Notify;

/// A bounded queue of events awaiting acknowledgement.
#[derive(Debug)]
pub struct Outbox {
    inner: Mutex<Inner>,
    /// Signalled when events arrive or the outbox closes.
    work: Notify,
    /// Signalled when acknowledged events free room.
    room: Notify,
    capacity: usize,
}

#[derive(Debug, Default)]
struct Inner {
    events: VecDeque<Event>,
    closed: bool,
    /// Sending has failed for good: further events are only counted.
    abandoned: bool,
    dropped: u64,
    acked_through: u64,
}

impl Outbox {
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            work: Notify::new(),
            room: Notify::new(),
            capacity,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queue an event, waiting while the outbox is full.
    pub async fn push(&self, event: Event) {
        loop {
            let room = self.room.notified();
            {
                let mut inner = self.lock();
                if inner.abandoned {
                    inner.dropped += 1;
                    return;
                }
                if inner.events.len() < self.capacity {
                    inner.events.push_back(event);
                    drop(inner);
                    self.work.notify_one();
                    return;
                }
            }
            room.await;
        }
    }

    /// No more events will be pushed.
    pub fn close(&self) {
        self.lock().closed = true;
        self.work.notify_one();
    }

    /// Wait for events and return copies of up to `max_events` from the front (bounded by an
    /// estimate of `max_bytes` of JSON), or `None` when closed and empty.
    pub async fn next_batch(&self, max_events: usize, max_bytes: usize) -> Option<Vec<Event>> {
        loop {
            let work = self.work.notified();
            {
                let inner = self.lock();
                if !inner.events.is_empty() {
                    let mut bytes = 0;
                    let batch: Vec<Event> = inner
                        .events
                        .iter()
                        .take(max_events)
                        .take_while(|e| {
                            bytes += approx_json_len(e);
                            bytes <= max_bytes
                        })
                        .cloned()
                        .collect();
                    // One event larger than the bound still goes, alone.
                    return Some(if batch.is_empty() {
                        vec![inner.events[0].clone()]
                    } else {
                        batch
                    });
                }
                if inner.closed || inner.abandoned {
                    return None;
                }
            }
            work.await;
        }
    }

    /// The gateway committed every sequence up to `through`.
    pub fn ack(&self, through: u64) {
        let mut inner = self.lock();
        while inner.events.front().is_some_and(|e| e.sequence <= through) {
            inner.events.pop_front();
        }
        inner.acked_through = inner.acked_through.max(through);
        drop(inner);
        self.room.notify_waiters();
    }

    /// Give up sending: drop what is queued (it stays in `claude.log`) and stop blocking pushers.
    pub fn abandon(&self) {
        let mut inner = self.lock();
        inner.abandoned = true;
        inner.dropped += inner.events.len() as u64;
        inner.events.clear();
        drop(inner);
        self.room.notify_waiters();
        self.work.notify_one();
    }

    /// Events not delivered: still queued plus dropped after abandoning.
    pub fn undelivered(&self) -> u64 {
        let inner = self.lock();
        inner.events.len() as u64 + inner.dropped
    }

    pub fn acked_through(&self) -> u64 {
        self.lock().acked_through
    }
}

/// A cheap upper-bound estimate of an event's JSON size.
fn approx_json_len(e: &Event) -> usize {
    64 + match &e.data {
        serde_json::Value::String(s) => s.len() + s.len() / 8,
        other => other.to_string().len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use common::wire::EventKind;
    use std::sync::Arc;

    fn ev(seq: u64) -> Event {
        Event {
            sequence: seq,
            kind: EventKind::Stdout,
            data: serde_json::json!("x"),
            ts: 0,
        }
    }

    #[tokio::test]
    async fn batches_ack_and_close() {
        let o = Outbox::new(10);
        for s in 1..=5 {
            o.push(ev(s)).await;
        }
        let b = o.next_batch(3, 1 << 20).await.unwrap();
        assert_eq!(
            b.iter().map(|e| e.sequence).collect::<Vec<_>>(),
            vec![1, 2, 3]
        );
        o.ack(3);
        let b = o.next_batch(10, 1 << 20).await.unwrap();
        assert_eq!(b.first().unwrap().sequence, 4);
        o.ack(5);
        o.close();
        assert!(o.next_batch(10, 1 << 20).await.is_none());
    }

    #[tokio::test]
    async fn a_full_outbox_blocks_the_producer_until_acked() {
        let o = Arc::new(Outbox::new(2));
        o.push(ev(1)).await;
        o.push(ev(2)).await;
        let o2 = o.clone();
        let pusher = tokio::spawn(async move { o2.push(ev(3)).await });
        tokio::task::yield_now().await;
        assert!(!pusher.is_finished(), "the third push waits for room");
        o.ack(1);
        pusher.await.unwrap();
        assert_eq!(o.undelivered(), 2);
    }

    #[tokio::test]
    async fn abandon_unblocks_and_counts() {
        let o = Outbox::new(1);
        o.push(ev(1)).await;
        o.abandon();
        o.push(ev(2)).await;
        assert_eq!(o.undelivered(), 2);
        assert!(o.next_batch(10, 100).await.is_none());
    }
}
