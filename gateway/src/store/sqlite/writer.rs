//! Ingest on the writer connection: batches queue, and one drainer on the blocking pool commits
//! every batch queued by then in one transaction (group commit), each inside its own savepoint,
//! then answers each after the commit.
//!
//! A request waits for its answer as a future, not on a thread: only the drainer holds a
//! blocking-pool thread, started by the batch that finds the queue idle and running until the
//! queue is empty. (Each request used to hold a thread of its own, parked on the writer's mutex
//! while the group before it committed: under 1,000 runners sending 10 lines/s that was ~180
//! threads and two thread wake-ups per batch.)

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use common::digest::StreamDigest;
use common::wire::{Delivery, RawEvent};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};
use tokio::sync::oneshot;

use super::checkpoint::Checkpointer;
use super::codec::{chunk, claude_stats, push_chunk_event, run_status, sql_seq};
use super::conn::{backend, lock};
use crate::store::rules::{self, Progress};
use crate::store::{AppendOutcome, Nonce, StoreError};

/// The answer to one ingest batch.
pub(super) type Answer = oneshot::Receiver<Result<AppendOutcome, StoreError>>;

/// Ingest batches waiting for the writer.
#[derive(Default)]
pub(super) struct Queue(Mutex<QueueState>);

#[derive(Default)]
struct QueueState {
    pending: Vec<PendingAppend>,
    /// A drainer is running (or about to): a new batch only joins the queue.
    draining: bool,
}

impl Queue {
    /// Queues `events` of `run_id` with the request's `nonce`. The answer comes once a drainer
    /// has committed it; `true` asks the caller to start one with [`Queue::drain`] (the queue was
    /// idle), `false` means the running drainer will take this batch.
    pub(super) fn submit(
        &self,
        run_id: String,
        events: Arc<[RawEvent]>,
        nonce: Option<Nonce>,
    ) -> (Answer, bool) {
        let (answer, answered) = oneshot::channel();
        let start = self.push(PendingAppend {
            run_id,
            events,
            nonce,
            answer: Reply::Batch(answer),
        });
        (answered, start)
    }

    /// Queues a signed request's nonce alone, recorded in the next group's transaction (one
    /// WAL sync shared with the batches and nonces queued with it, instead of a transaction and
    /// a sync of its own). The answer, `true` if the nonce was new, comes after the commit;
    /// `true` as the second value asks the caller to start a drainer, as for [`Queue::submit`].
    pub(super) fn record(
        &self,
        nonce: Nonce,
    ) -> (oneshot::Receiver<Result<bool, StoreError>>, bool) {
        let (answer, answered) = oneshot::channel();
        let start = self.push(PendingAppend {
            run_id: String::new(),
            events: Arc::from([]),
            nonce: Some(nonce),
            answer: Reply::Nonce(answer),
        });
        (answered, start)
    }

    /// Queues `item`; `true` if no drainer runs (the caller starts one).
    fn push(&self, item: PendingAppend) -> bool {
        let mut q = self.lock();
        q.pending.push(item);
        let start = !q.draining;
        q.draining = true;
        start
    }

    /// Commits queued batches, a group at a time, until none is left. Blocking: run it on the
    /// blocking pool. `checkpointer` hears of each commit, `inserted` of each group that stored
    /// events.
    pub(super) fn drain(
        &self,
        writer: &Mutex<Connection>,
        checkpointer: Option<&Checkpointer>,
        inserted: impl Fn(),
    ) {
        // Whatever ends this call (a panic included), the next batch starts a new drainer;
        // batches of a group that panicked get "went away" from their dropped answer.
        struct Idle<'a>(&'a Queue);
        impl Drop for Idle<'_> {
            fn drop(&mut self) {
                self.0.lock().draining = false;
            }
        }
        let idle = Idle(self);
        loop {
            let group: Vec<PendingAppend> = {
                let mut q = self.lock();
                if q.pending.is_empty() {
                    // Cleared under the same lock that saw the queue empty: a batch queued after
                    // this starts a drainer of its own.
                    q.draining = false;
                    std::mem::forget(idle);
                    return;
                }
                let n = q.pending.len().min(GROUP_MAX);
                q.pending.drain(..n).collect()
            };
            let stored = append_group(&mut lock(writer), group);
            if let Some(c) = checkpointer {
                c.nudge();
            }
            if stored {
                inserted();
            }
        }
    }

    /// An ingest batch is waiting for the writer.
    pub(super) fn busy(&self) -> bool {
        !self.lock().pending.is_empty()
    }

    fn lock(&self) -> MutexGuard<'_, QueueState> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// An ingest batch (or a signed request's nonce alone) waiting for the writer, and where its
/// answer goes.
struct PendingAppend {
    run_id: String,
    events: Arc<[RawEvent]>,
    nonce: Option<Nonce>,
    answer: Reply,
}

/// Where a queued write's answer goes.
enum Reply {
    /// An ingest batch: its outcome.
    Batch(oneshot::Sender<Result<AppendOutcome, StoreError>>),
    /// A nonce alone ([`Queue::record`]): `true` if it was new.
    Nonce(oneshot::Sender<Result<bool, StoreError>>),
}

impl From<oneshot::Sender<Result<AppendOutcome, StoreError>>> for Reply {
    fn from(tx: oneshot::Sender<Result<AppendOutcome, StoreError>>) -> Self {
        Reply::Batch(tx)
    }
}

/// What a queued write did.
enum Done {
    Appended(AppendOutcome),
    Recorded(bool),
}

/// Most batches committed together.
const GROUP_MAX: usize = 64;

/// Group commit: the batches that queued while the writer was busy are written in one
/// transaction, each inside its own savepoint (a batch that fails, a gap say, leaves the others
/// alone), and committed with one sync of the WAL; every answer is sent after that commit.
/// Returns whether any batch stored new events.
fn append_group(conn: &mut Connection, group: Vec<PendingAppend>) -> bool {
    let mut answers = Vec::with_capacity(group.len());
    let result = (|| {
        let mut tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| backend("begin ingest", e))?;
        for item in &group {
            if let (Reply::Nonce(_), Some(nonce)) = (&item.answer, item.nonce) {
                answers.push(Ok(Done::Recorded(insert_nonce(&tx, nonce)?)));
                continue;
            }
            // The nonce outside the batch's savepoint: it stays recorded if the rules refuse
            // the batch, and goes with it if the group fails to commit.
            if let Some(nonce) = item.nonce
                && !insert_nonce(&tx, nonce)?
            {
                answers.push(Err(StoreError::Replayed));
                continue;
            }
            let sp = tx.savepoint().map_err(|e| backend("begin savepoint", e))?;
            let outcome = append(&sp, &item.run_id, &item.events);
            if outcome.is_ok() {
                sp.commit().map_err(|e| backend("release savepoint", e))?;
            } // else dropping it rolls the batch back
            answers.push(outcome.map(Done::Appended));
        }
        tx.commit().map_err(|e| backend("commit ingest", e))
    })();
    // A group that failed to commit stored nothing: its batches get the failure, except those
    // the rules refused (that answer holds either way), but for a gap: its nonce is not recorded
    // either, and a gap is answered only once it is (the ingest route retries a gap without it).
    let failed = result.err().map(|e| e.to_string());
    let stored = failed.is_none()
        && answers
            .iter()
            .any(|a| matches!(a, Ok(Done::Appended(o)) if o.inserted > 0));
    let mut answers = answers.into_iter();
    for item in group {
        let answer = match (answers.next(), &failed) {
            (Some(answer), None) => answer,
            (Some(Err(e)), Some(_))
                if !matches!(e, StoreError::Backend(_) | StoreError::Gap { .. }) =>
            {
                Err(e)
            }
            (_, why) => {
                Err(StoreError::Backend(why.clone().unwrap_or_else(|| {
                    "the ingest batch was not written".into()
                })))
            }
        };
        // A request that went away no longer listens; its batch is stored all the same.
        let _ = match item.answer {
            Reply::Batch(tx) => tx
                .send(answer.and_then(|d| match d {
                    Done::Appended(o) => Ok(o),
                    Done::Recorded(_) => {
                        Err(StoreError::Backend("a batch recorded as a nonce".into()))
                    }
                }))
                .is_ok(),
            Reply::Nonce(tx) => tx
                .send(answer.and_then(|d| match d {
                    Done::Recorded(new) => Ok(new),
                    Done::Appended(_) => {
                        Err(StoreError::Backend("a nonce appended as a batch".into()))
                    }
                }))
                .is_ok(),
        };
    }
    stored
}

/// Records `nonce` inside the caller's transaction; `false` if it was recorded before.
pub(super) fn insert_nonce(conn: &Connection, nonce: Nonce) -> Result<bool, StoreError> {
    conn.prepare_cached("INSERT OR IGNORE INTO nonces (expires_at, hash) VALUES (?1, ?2)")
        .and_then(|mut stmt| stmt.execute(rusqlite::params![nonce.expires_at, &nonce.hash[..]]))
        .map(|n| n == 1)
        .map_err(|e| backend("record nonce", e))
}

/// One ingest batch inside the caller's transaction; see [`rules::plan_append_with`].
///
/// The run's progress (its last sequence, the time of its last event, the digest of its events)
/// is kept with each chunk, and read back from the run's last one: a batch that changes nothing
/// else about its run writes its chunk and leaves the `runs` row alone. Under many runners each
/// sending a line at a time that halves the pages a group commit writes: a batch dirtied its
/// run's leaf of the chunks' key index and its run's row, each on a page of its own (see
/// BENCHMARKS.md). A batch that changes the run's status, exit, stop request, delivery or
/// Claude session writes the row too, its progress with it.
fn append(
    conn: &Connection,
    run_id: &str,
    events: &[RawEvent],
) -> Result<AppendOutcome, StoreError> {
    let tx = conn;
    let mut before = run_progress(tx, run_id)?;
    if before.stream.events() != before.last_seq {
        // A run from before migration 3 (or a damaged state): hash what is stored, once.
        before.stream = stored_digest(tx, run_id, before.last_seq)?;
    }

    let mut body = Vec::new();
    let (fresh, after) = rules::plan_append_with(&before, events, |event, _| {
        push_chunk_event(&mut body, event)
    })?;
    if fresh.is_empty() {
        return Ok(AppendOutcome {
            acked_through: before.last_seq,
            inserted: 0,
            status: before.status,
            delivery: before.delivery,
        });
    }
    let state = after.stream.save();
    {
        // The new events are one row: one chunk, whatever the batch's size.
        body.push(b']');
        let body = String::from_utf8(body)
            .map_err(|e| StoreError::Backend(format!("encode events of {run_id}: {e}")))?;
        let (first, last) = (fresh[0].sequence, after.last_seq);
        tx.prepare_cached(
            "INSERT INTO event_chunks (run_id, first_seq, last_seq, body, last_event_at, stream_state)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .and_then(|mut stmt| {
            stmt.execute(rusqlite::params![
                run_id,
                first,
                last,
                body,
                after.last_event_at,
                state
            ])
        })
        .map_err(|e| backend(format!("insert events {run_id}/{first}..={last}"), e))?;
    }
    if row_changes(&before, &after) {
        tx.prepare_cached(
            "UPDATE runs SET status = ?2, last_seq = ?3, last_event_at = ?4, exit_code = ?5,
                 finished_at = ?6, stop_requested = ?7, stream_state = ?8, delivery = ?9,
                 claude = ?10
             WHERE id = ?1",
        )
        .and_then(|mut stmt| {
            stmt.execute(rusqlite::params![
                run_id,
                after.status.as_str(),
                after.last_seq,
                after.last_event_at,
                after.exit_code,
                after.finished_at,
                after.stop_requested,
                state,
                after.delivery.map(Delivery::as_str),
                after
                    .claude
                    .as_ref()
                    .and_then(|c| serde_json::to_string(c).ok())
            ])
        })
        .map_err(|e| backend(format!("update run {run_id}"), e))?;
    }
    Ok(AppendOutcome {
        acked_through: after.last_seq,
        inserted: fresh.len(),
        status: after.status,
        delivery: after.delivery,
    })
}

/// Whether a batch changed what only the run's row holds (anything but its progress).
fn row_changes(before: &Progress, after: &Progress) -> bool {
    before.status != after.status
        || before.exit_code != after.exit_code
        || before.finished_at != after.finished_at
        || before.stop_requested != after.stop_requested
        || before.delivery != after.delivery
        || before.claude != after.claude
}

/// A run's progress as ingest left it: the row, with the progress of the run's last chunk where
/// that chunk has one (a chunk of before migration 20 has none, and its run's row is current).
/// A state that cannot be read leaves the digest to be rebuilt from the stored events.
fn run_progress(tx: &Connection, run_id: &str) -> Result<Progress, StoreError> {
    let mut progress = tx
        .prepare_cached(
            "SELECT status, last_seq, last_event_at, exit_code, finished_at, stop_requested,
                 stream_state, delivery, claude
             FROM runs WHERE id = ?1",
        )
        .and_then(|mut stmt| {
            stmt.query_row([run_id], |row| {
                Ok(Progress {
                    status: run_status(row, 0)?,
                    last_seq: row.get(1)?,
                    last_event_at: row.get(2)?,
                    exit_code: row.get(3)?,
                    finished_at: row.get(4)?,
                    stop_requested: row.get(5)?,
                    stream: StreamDigest::restore(row.get_ref(6)?.as_str_or_null()?.unwrap_or(""))
                        .unwrap_or_default(),
                    delivery: row.get_ref(7)?.as_str_or_null()?.and_then(Delivery::parse),
                    claude: claude_stats(row.get_ref(8)?.as_str_or_null()?),
                })
            })
            .optional()
        })
        .map_err(|e| backend(format!("read run {run_id}"), e))?
        .ok_or(StoreError::NotFound)?;
    tx.prepare_cached(
        "SELECT last_seq, last_event_at, stream_state FROM event_chunks
         WHERE run_id = ?1 ORDER BY first_seq DESC LIMIT 1",
    )
    .and_then(|mut stmt| {
        stmt.query_row([run_id], |row| {
            let state = row.get_ref(2)?.as_str_or_null()?;
            if state.is_none() && row.get::<_, u64>(0)? == progress.last_seq {
                return Ok(());
            }
            progress.last_seq = row.get(0)?;
            progress.last_event_at = row.get::<_, Option<i64>>(1)?.or(progress.last_event_at);
            progress.stream = StreamDigest::restore(state.unwrap_or("")).unwrap_or_default();
            Ok(())
        })
        .optional()
    })
    .map_err(|e| backend(format!("read progress of run {run_id}"), e))?;
    Ok(progress)
}

/// The digest of a run's stored events `1..=last_seq`, read in sequence order.
fn stored_digest(
    conn: &Connection,
    run_id: &str,
    last_seq: u64,
) -> Result<StreamDigest, StoreError> {
    let mut digest = StreamDigest::new();
    let mut stmt = conn
        .prepare_cached(
            "SELECT first_seq, last_seq, body FROM event_chunks
             WHERE run_id = ?1 AND first_seq <= ?2 ORDER BY first_seq",
        )
        .map_err(|e| backend("prepare digest read", e))?;
    let rows = stmt
        .query_map(rusqlite::params![run_id, sql_seq(last_seq)], chunk)
        .map_err(|e| backend(format!("read events of {run_id}"), e))?;
    for row in rows {
        let events = row.map_err(|e| backend(format!("read events of {run_id}"), e))?;
        let mut line = Vec::with_capacity(256);
        for event in events.iter().filter(|e| e.sequence <= last_seq) {
            line.clear();
            common::digest::canonical_raw_line(
                event.data.get(),
                event.sequence,
                event.kind.as_str(),
                &mut line,
            );
            digest.push_line(&line);
        }
    }
    Ok(digest)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use common::wire::{Event, RunStatus};

    use super::super::SqliteStore;
    use super::super::tests::{lines, new_run};
    use super::*;
    use crate::store::Store;

    /// Transactions committed to the WAL since it last restarted: its valid frames (those with
    /// the header's salts) that end a transaction (only those carry the database's size).
    fn wal_commits(db: &Path) -> usize {
        let wal = std::fs::read(db.with_extension("db-wal")).unwrap_or_default();
        let Some(header) = wal.get(..32) else {
            return 0;
        };
        let page = u32::from_be_bytes(header[8..12].try_into().unwrap()) as usize;
        wal[32..]
            .chunks_exact(24 + page)
            .filter(|frame| frame[8..16] == header[16..24] && frame[4..8] != [0; 4])
            .count()
    }

    /// The database pages written since the WAL restarted: the page number of each valid frame.
    fn wal_pages(db: &Path) -> Vec<u32> {
        let wal = std::fs::read(db.with_extension("db-wal")).unwrap_or_default();
        let Some(header) = wal.get(..32) else {
            return Vec::new();
        };
        let page = u32::from_be_bytes(header[8..12].try_into().unwrap()) as usize;
        wal[32..]
            .chunks_exact(24 + page)
            .filter(|frame| frame[8..16] == header[16..24])
            .map(|frame| u32::from_be_bytes(frame[..4].try_into().unwrap()))
            .collect()
    }

    /// A batch of lines writes its chunk and leaves its run's row alone: the run's progress is
    /// read back from its last chunk, so under many runners sending a line at a time a group
    /// commit writes one page a batch, not two. A batch that ends the run writes the row. Each
    /// batch is committed alone, on a WAL emptied before it, under the writer's lock (so neither
    /// the indexer nor the checkpointer writes in between), and the run's summary follows.
    #[tokio::test]
    async fn a_batch_of_lines_leaves_its_runs_row_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gateway.db");
        let sqlite = SqliteStore::open(&path).unwrap();
        sqlite.create_run(new_run("a", 1)).await.unwrap();
        let batch = |events: Vec<Event>| {
            let (answer, answered) = oneshot::channel();
            let item = PendingAppend {
                run_id: "a".into(),
                events: events.iter().map(Event::to_raw).collect(),
                nonce: None,
                answer: answer.into(),
            };
            (vec![item], answered)
        };
        let committed_alone = |events: Vec<Event>| {
            let mut writer = lock(&sqlite.inner.writer);
            let busy: i64 = writer
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| row.get(0))
                .unwrap();
            assert_eq!(busy, 0, "the WAL was emptied");
            let runs_page: u32 = writer
                .query_row(
                    "SELECT rootpage FROM sqlite_schema WHERE name = 'runs'",
                    [],
                    |row| row.get(0),
                )
                .unwrap();
            let (group, mut answered) = batch(events);
            assert!(append_group(&mut writer, group));
            assert!(answered.try_recv().unwrap().is_ok());
            (wal_pages(&path), runs_page)
        };
        // The first batch starts the run: its row changes.
        let (pages, runs_page) = committed_alone(lines(1, 2));
        assert!(pages.contains(&runs_page), "{pages:?}");
        let (pages, runs_page) = committed_alone(lines(3, 5));
        assert!(!pages.is_empty());
        assert!(
            !pages.contains(&runs_page),
            "page {runs_page} of the runs' rows written: {pages:?}"
        );
        let run = sqlite.run("a".into()).await.unwrap().unwrap().summary;
        assert_eq!((run.last_sequence, run.last_event_at), (5, Some(1_005)));

        let sha = common::digest::stream_sha256(&lines(1, 5));
        let finished = Event {
            sequence: 6,
            kind: common::wire::EventKind::Marker,
            data: serde_json::json!({"event": "finished", "exitCode": 0, "durationMs": 1,
                                     "eventCount": 5, "streamSha256": sha}),
            ts: 2_000,
        };
        let (pages, runs_page) = committed_alone(vec![finished]);
        assert!(pages.contains(&runs_page), "{pages:?}");
        let run = sqlite.run("a".into()).await.unwrap().unwrap().summary;
        assert_eq!(
            (run.status, run.delivery, run.last_sequence),
            (RunStatus::Finished, Some(Delivery::Complete), 6)
        );
    }

    /// Many requests at once, each waiting for its answer as a future: every batch is committed
    /// and answered in its run's order, however the drainers start and stop between them (a
    /// batch queued just as a drainer found the queue empty must start the next one, or its
    /// request would wait for ever), and the queue ends idle.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_batches_are_all_answered_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let sqlite =
            std::sync::Arc::new(SqliteStore::open(&dir.path().join("gateway.db")).unwrap());
        let runs: Vec<String> = (0..16).map(|i| format!("run{i}")).collect();
        for id in &runs {
            sqlite.create_run(new_run(id, 1)).await.unwrap();
        }
        let senders = runs.iter().map(|id| {
            let (sqlite, id) = (sqlite.clone(), id.clone());
            tokio::spawn(async move {
                for seq in 1..=40u64 {
                    let batch = lines(seq, seq).iter().map(Event::to_raw).collect();
                    use sha2::Digest;
                    let nonce = Some(Nonce {
                        hash: sha2::Sha256::digest(format!("{id}/{seq}")).into(),
                        expires_at: 100,
                    });
                    let got = sqlite
                        .append_events(id.clone(), batch, nonce)
                        .await
                        .unwrap();
                    assert_eq!((got.acked_through, got.inserted), (seq, 1), "{id}");
                }
            })
        });
        for sender in senders.collect::<Vec<_>>() {
            sender.await.unwrap();
        }
        for id in &runs {
            assert_eq!(sqlite.events(id.clone(), 0, 100).await.unwrap().len(), 40);
        }
        assert!(!sqlite.inner.appends.busy(), "nothing left queued");
    }

    /// Group commit, without the luck of timing: one group with batches that succeed, leave a
    /// gap, replay a nonce and name no run is one transaction, and each batch gets its own answer.
    #[tokio::test]
    async fn a_group_is_one_transaction_with_an_answer_per_batch() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gateway.db");
        let sqlite = SqliteStore::open(&path).unwrap();
        for id in ["a", "b"] {
            sqlite.create_run(new_run(id, 1)).await.unwrap();
        }
        let nonce = |n: u8| {
            Some(Nonce {
                hash: [n; 32],
                expires_at: 100,
            })
        };
        let batches = [
            ("a", 1, 3, nonce(1)),
            ("b", 2, 2, nonce(2)),
            ("a", 4, 5, nonce(1)),
            ("a", 4, 5, nonce(3)),
            ("nope", 1, 1, None),
        ];
        let mut answers = Vec::new();
        let group = batches
            .iter()
            .map(|&(run, from, to, nonce)| {
                let (answer, answered) = oneshot::channel();
                answers.push(answered);
                PendingAppend {
                    run_id: run.into(),
                    events: lines(from, to).iter().map(Event::to_raw).collect(),
                    nonce,
                    answer: answer.into(),
                }
            })
            .collect();
        // Counted under the writer's lock: the search indexer, which shares the writer, may
        // commit between an unlocked count and the group.
        {
            let mut writer = lock(&sqlite.inner.writer);
            let before = wal_commits(&path);
            assert!(before >= 2, "the counter sees the runs' commits: {before}");
            assert!(append_group(&mut writer, group));
            assert_eq!(wal_commits(&path), before + 1, "one commit for the group");
        }

        let got: Vec<_> = answers
            .into_iter()
            .map(|mut a| a.try_recv().unwrap())
            .collect();
        assert!(matches!(
            got[0],
            Ok(AppendOutcome {
                acked_through: 3,
                inserted: 3,
                ..
            })
        ));
        assert!(matches!(got[1], Err(StoreError::Gap { expected: 1 })));
        assert!(matches!(got[2], Err(StoreError::Replayed)));
        assert!(
            matches!(
                got[3],
                Ok(AppendOutcome {
                    acked_through: 5,
                    inserted: 2,
                    ..
                })
            ),
            "a batch sees the batches before it in its group: {:?}",
            got[3]
        );
        assert!(matches!(got[4], Err(StoreError::NotFound)));
        let events = |run: &str| {
            let store = &sqlite;
            let run = run.to_string();
            async move { store.events(run, 0, 100).await.unwrap().len() }
        };
        assert_eq!((events("a").await, events("b").await), (5, 0));
        let conn = lock(&sqlite.inner.writer);
        assert!(
            !insert_nonce(&conn, nonce(2).unwrap()).unwrap(),
            "the refused batch's nonce stays recorded"
        );
    }
}
