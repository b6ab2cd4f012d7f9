//! The bells runners long-poll on: one [`Notify`] per run with a runner waiting for commands,
//! rung when a command is queued or the run is deleted. Entries live only while someone waits.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

/// One [`Notify`] per run with a runner waiting on it; entries live only while someone waits.
#[derive(Debug, Default)]
pub struct Waiters {
    runs: Mutex<HashMap<String, Arc<Notify>>>,
}

/// A waiter's hold on its run's bell, released on drop.
#[derive(Debug)]
pub struct Joined<'a> {
    waiters: &'a Waiters,
    run_id: String,
    bell: Option<Arc<Notify>>,
}

impl std::ops::Deref for Joined<'_> {
    type Target = Notify;
    fn deref(&self) -> &Notify {
        self.bell.as_deref().expect("held until drop")
    }
}

impl Drop for Joined<'_> {
    fn drop(&mut self) {
        if let Some(bell) = self.bell.take() {
            self.waiters.release(&self.run_id, bell);
        }
    }
}

impl Waiters {
    /// The run's bell, created if nobody waits yet. Give it back with [`Waiters::release`].
    pub fn join<'a>(&'a self, run_id: &str) -> Joined<'a> {
        let mut runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        let bell = runs.entry(run_id.to_string()).or_default().clone();
        Joined {
            waiters: self,
            run_id: run_id.to_string(),
            bell: Some(bell),
        }
    }

    /// Give back a bell; the entry goes when its last waiter leaves. Called by [`Joined`]'s drop,
    /// so a poll whose client disconnects mid-wait (its future dropped) still leaves no entry.
    fn release(&self, run_id: &str, bell: Arc<Notify>) {
        drop(bell);
        let mut runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        // Clones are only made under this lock, so a count of one means nobody else holds it.
        if runs.get(run_id).is_some_and(|b| Arc::strong_count(b) == 1) {
            runs.remove(run_id);
        }
    }

    /// Wake every runner waiting on `run_id`.
    pub fn ring(&self, run_id: &str) {
        let runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(bell) = runs.get(run_id) {
            bell.notify_waiters();
        }
    }

    /// Wake every waiter of every run (what woke them may have been missed).
    pub fn ring_all(&self) {
        let runs = self.runs.lock().unwrap_or_else(|p| p.into_inner());
        for bell in runs.values() {
            bell.notify_waiters();
        }
    }

    /// How many runs have a waiter (for tests).
    pub fn len(&self) -> usize {
        self.runs.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn a_bell_wakes_its_waiter_and_leaves_no_entry_behind() {
        let w = Arc::new(Waiters::default());
        let bell = w.join("r");
        {
            let rung = bell.notified();
            tokio::pin!(rung);
            rung.as_mut().enable();
            w.ring("other");
            w.ring("r");
            tokio::time::timeout(Duration::from_secs(1), rung)
                .await
                .expect("woken");
        }
        assert_eq!(w.len(), 1);
        let second = w.join("r");
        drop(bell);
        assert_eq!(w.len(), 1, "still held by the second waiter");
        drop(second);
        assert_eq!(w.len(), 0);
    }
}
