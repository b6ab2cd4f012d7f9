//! A run's Claude transcript, derived from its stored events by `common::claude` (the one module
//! that knows Claude's stream-json). Served as JSON and as downloads by `routes/transcript.rs`.
//!
//! Built incrementally: [`Transcripts`] keeps the transcripts of the runs read last, each with
//! the sequence it has folded in, and a request reads only the events stored since. A cache,
//! never the truth: another gateway process builds its own from the same store, and one that
//! lost its copy reads the run from the start again.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use common::claude::Transcript;

use crate::error::ApiError;
use crate::store::Store;

/// Events read per store call while building a transcript.
const PAGE: usize = 5_000;
/// Transcripts kept; the one read longest ago goes first.
const KEPT: usize = 16;

/// A transcript as far as it is built.
#[derive(Clone)]
struct Built {
    /// The run's creation time: a run deleted and created again under its id starts over.
    created_at: i64,
    /// Every event up to this sequence is folded in.
    through: u64,
    transcript: Arc<Transcript>,
    /// When it was last read (a counter, for eviction).
    used: u64,
}

/// The transcripts of the runs read last, kept to be extended rather than rebuilt.
#[derive(Default)]
pub struct Transcripts {
    built: Mutex<HashMap<String, Built>>,
    clock: AtomicU64,
    events_read: AtomicU64,
}

impl std::fmt::Debug for Transcripts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transcripts")
            .field("events_read", &self.events_read())
            .finish_non_exhaustive()
    }
}

impl Transcripts {
    /// Events read from the store to build transcripts since the gateway started.
    pub fn events_read(&self) -> u64 {
        self.events_read.load(Ordering::Relaxed)
    }

    fn take(&self, run_id: &str) -> Option<Built> {
        let built = self.built.lock().unwrap_or_else(PoisonError::into_inner);
        built.get(run_id).cloned()
    }

    fn keep(&self, run_id: &str, mut b: Built) {
        b.used = self.clock.fetch_add(1, Ordering::Relaxed);
        let mut built = self.built.lock().unwrap_or_else(PoisonError::into_inner);
        // A slower request that built less must not replace a longer one.
        if built
            .get(run_id)
            .is_some_and(|old| old.created_at == b.created_at && old.through > b.through)
        {
            return;
        }
        built.insert(run_id.to_string(), b);
        while built.len() > KEPT {
            let Some(oldest) = built
                .iter()
                .min_by_key(|(_, b)| b.used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            built.remove(&oldest);
        }
    }

    /// The run's transcript up to its last stored event, reading only what was stored since
    /// the kept copy; `404 no such run` for a run that does not exist.
    pub async fn get(&self, store: &dyn Store, run_id: &str) -> Result<Arc<Transcript>, ApiError> {
        let run = crate::http::stored_run(store, run_id).await?.summary;
        let kept = self
            .take(run_id)
            .filter(|b| b.created_at == run.created_at && b.through <= run.last_sequence);
        let (mut transcript, mut after) = match kept {
            Some(b) if b.through == run.last_sequence => {
                self.keep(run_id, b.clone());
                return Ok(b.transcript);
            }
            Some(b) => (b.transcript, b.through),
            None => (Arc::new(Transcript::default()), 0),
        };
        {
            // Cloned only if a request is still sending the kept copy.
            let t = Arc::make_mut(&mut transcript);
            loop {
                let events = store.events(run_id.to_string(), after, PAGE).await?;
                self.events_read
                    .fetch_add(events.len() as u64, Ordering::Relaxed);
                let Some(last) = events.last() else { break };
                after = last.sequence;
                for e in &events {
                    t.push_event(&e.parsed());
                }
                if events.len() < PAGE {
                    break;
                }
            }
        }
        self.keep(
            run_id,
            Built {
                created_at: run.created_at,
                through: after,
                transcript: Arc::clone(&transcript),
                used: 0,
            },
        );
        Ok(transcript)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::NewRun;
    use crate::store::sqlite::SqliteStore;
    use common::wire::{Event, EventKind, RawEvent};
    use serde_json::json;

    fn answer(sequence: u64, text: &str) -> Event {
        let line =
            json!({"type": "assistant", "message": {"content": [{"type": "text", "text": text}]}});
        Event {
            sequence,
            kind: EventKind::Stdout,
            data: json!(line.to_string()),
            ts: 1,
        }
    }

    async fn append(store: &SqliteStore, events: Vec<Event>) {
        let raw: Arc<[RawEvent]> = events.iter().map(Event::to_raw).collect();
        store.append_events("r".into(), raw, None).await.unwrap();
    }

    /// A long run's transcript is read once; later requests read only the events stored since,
    /// and build the same transcript as a fresh read would.
    #[tokio::test]
    async fn a_long_runs_transcript_reads_only_new_events() {
        let store = SqliteStore::open_in_memory().unwrap();
        store
            .create_run(NewRun {
                id: "r".into(),
                name: None,
                prompt: None,
                cwd: None,
                key: [1; 32],
                created_at: 5,
            })
            .await
            .unwrap();
        append(&store, (1..=12_000).map(|s| answer(s, "old")).collect()).await;
        let cache = Transcripts::default();
        let first = cache.get(&store, "r").await.unwrap();
        assert_eq!(first.entries.len(), 12_000);
        assert_eq!(cache.events_read(), 12_000);

        let again = cache.get(&store, "r").await.unwrap();
        assert!(Arc::ptr_eq(&first, &again), "nothing new: the kept copy");
        assert_eq!(cache.events_read(), 12_000);

        append(&store, vec![answer(12_001, "new"), answer(12_002, "newer")]).await;
        let grown = cache.get(&store, "r").await.unwrap();
        assert_eq!(
            cache.events_read(),
            12_002,
            "only the two new events were read"
        );
        assert_eq!(grown.entries.len(), 12_002);
        assert_eq!(grown.entries[12_001].text, "newer");
        assert_eq!(
            first.entries.len(),
            12_000,
            "a copy being sent is not changed"
        );
        let fresh = Transcripts::default().get(&store, "r").await.unwrap();
        assert_eq!(*grown, *fresh);

        assert!(matches!(
            cache.get(&store, "nope").await,
            Err(ApiError::NotFound(_))
        ));
    }

    #[tokio::test]
    async fn only_the_runs_read_last_are_kept() {
        let store = SqliteStore::open_in_memory().unwrap();
        let cache = Transcripts::default();
        for i in 0..KEPT + 3 {
            let id = format!("r{i}");
            store
                .create_run(NewRun {
                    id: id.clone(),
                    name: None,
                    prompt: None,
                    cwd: None,
                    key: [1; 32],
                    created_at: 5,
                })
                .await
                .unwrap();
            cache.get(&store, &id).await.unwrap();
        }
        let built = cache.built.lock().unwrap();
        assert_eq!(built.len(), KEPT);
        assert!(!built.contains_key("r0") && built.contains_key(&format!("r{}", KEPT + 2)));
    }
}
