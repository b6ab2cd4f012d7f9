//! Ingest on the writer connection: batches queue, and whoever holds the writer commits every
//! batch queued by then in one transaction (group commit), each inside its own savepoint, then
//! answers each after the commit.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use common::digest::StreamDigest;
use common::wire::{Delivery, RawEvent, RunStatus};
use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use super::checkpoint::Checkpointer;
use super::codec::{bad_column, chunk, claude_stats, push_chunk_event, sql_seq};
use super::conn::{backend, lock};
use crate::store::rules::{self, Progress};
use crate::store::{AppendOutcome, Nonce, StoreError};

/// Ingest batches waiting for the writer.
#[derive(Default)]
pub(super) struct Queue(Mutex<Vec<PendingAppend>>);

impl Queue {
    /// Commits `events` of `run_id` with the request's `nonce`: queued, then written by this call
    /// or by the one holding `writer` when it was queued (see [`append_group`]); `checkpointer`
    /// hears of each commit.
    pub(super) fn append(
        &self,
        writer: &Mutex<Connection>,
        checkpointer: Option<&Checkpointer>,
        run_id: String,
        events: Arc<[RawEvent]>,
        nonce: Option<Nonce>,
    ) -> Result<AppendOutcome, StoreError> {
        let (answer, answered) = std::sync::mpsc::sync_channel(1);
        self.lock().push(PendingAppend {
            run_id,
            events,
            nonce,
            answer,
        });
        {
            // Whoever holds the writer next writes every batch queued by then, this one
            // included unless a writer before took it already (then its answer is sent).
            let mut conn = lock(writer);
            loop {
                let group: Vec<PendingAppend> = {
                    let mut queue = self.lock();
                    let n = queue.len().min(GROUP_MAX);
                    queue.drain(..n).collect()
                };
                if group.is_empty() {
                    break;
                }
                append_group(&mut conn, group);
                if let Some(c) = checkpointer {
                    c.nudge();
                }
                if let Ok(result) = answered.try_recv() {
                    return result;
                }
            }
        }
        answered
            .recv()
            .unwrap_or_else(|_| Err(StoreError::Backend("ingest writer went away".into())))
    }

    /// An ingest batch is waiting for the writer.
    pub(super) fn busy(&self) -> bool {
        !self.lock().is_empty()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<PendingAppend>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// An ingest batch waiting for the writer, and where its answer goes.
struct PendingAppend {
    run_id: String,
    events: Arc<[RawEvent]>,
    nonce: Option<Nonce>,
    answer: std::sync::mpsc::SyncSender<Result<AppendOutcome, StoreError>>,
}

/// Most batches committed together.
const GROUP_MAX: usize = 64;

/// Group commit: the batches that queued while the writer was busy are written in one
/// transaction, each inside its own savepoint (a batch that fails, a gap say, leaves the others
/// alone), and committed with one sync of the WAL; every answer is sent after that commit.
fn append_group(conn: &mut Connection, group: Vec<PendingAppend>) {
    let mut answers = Vec::with_capacity(group.len());
    let result = (|| {
        let mut tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| backend("begin ingest", e))?;
        for item in &group {
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
            answers.push(outcome);
        }
        tx.commit().map_err(|e| backend("commit ingest", e))
    })();
    // A group that failed to commit stored nothing: its batches get the failure, except those
    // the rules refused (that answer holds either way).
    let failed = result.err().map(|e| e.to_string());
    let mut answers = answers.into_iter();
    for item in group {
        let answer = match (answers.next(), &failed) {
            (Some(answer), None) => answer,
            (Some(Err(e)), Some(_)) if !matches!(e, StoreError::Backend(_)) => Err(e),
            (_, why) => {
                Err(StoreError::Backend(why.clone().unwrap_or_else(|| {
                    "the ingest batch was not written".into()
                })))
            }
        };
        let _ = item.answer.send(answer);
    }
}

/// Records `nonce` inside the caller's transaction; `false` if it was recorded before.
pub(super) fn insert_nonce(conn: &Connection, nonce: Nonce) -> Result<bool, StoreError> {
    conn.prepare_cached("INSERT OR IGNORE INTO nonces (expires_at, hash) VALUES (?1, ?2)")
        .and_then(|mut stmt| stmt.execute(rusqlite::params![nonce.expires_at, &nonce.hash[..]]))
        .map(|n| n == 1)
        .map_err(|e| backend("record nonce", e))
}

/// One ingest batch inside the caller's transaction; see [`rules::plan_append_with`].
fn append(
    conn: &Connection,
    run_id: &str,
    events: &[RawEvent],
) -> Result<AppendOutcome, StoreError> {
    let tx = conn;
    let before = tx
        .prepare_cached(
            "SELECT status, last_seq, last_event_at, exit_code, finished_at, stop_requested,
                 stream_state, delivery, claude
             FROM runs WHERE id = ?1",
        )
        .and_then(|mut stmt| {
            stmt.query_row([run_id], |row| {
                let status: String = row.get(0)?;
                let status = RunStatus::parse(&status).ok_or_else(|| {
                    bad_column(0, Type::Text, format!("unknown run status {status:?}"))
                })?;
                Ok(Progress {
                    status,
                    last_seq: row.get(1)?,
                    last_event_at: row.get(2)?,
                    exit_code: row.get(3)?,
                    finished_at: row.get(4)?,
                    stop_requested: row.get(5)?,
                    // Parsed below: an absent state is rebuilt from the stored events.
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
    let mut before = before;
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
    {
        // The new events are one row: one chunk, whatever the batch's size.
        body.push(b']');
        let body = String::from_utf8(body)
            .map_err(|e| StoreError::Backend(format!("encode events of {run_id}: {e}")))?;
        let (first, last) = (fresh[0].sequence, after.last_seq);
        tx.prepare_cached(
            "INSERT INTO event_chunks (run_id, first_seq, last_seq, body) VALUES (?1, ?2, ?3, ?4)",
        )
        .and_then(|mut stmt| stmt.execute(rusqlite::params![run_id, first, last, body]))
        .map_err(|e| backend(format!("insert events {run_id}/{first}..={last}"), e))?;
    }
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
            after.stream.save(),
            after.delivery.map(Delivery::as_str),
            after
                .claude
                .as_ref()
                .and_then(|c| serde_json::to_string(c).ok())
        ])
    })
    .map_err(|e| backend(format!("update run {run_id}"), e))?;
    Ok(AppendOutcome {
        acked_through: after.last_seq,
        inserted: fresh.len(),
        status: after.status,
        delivery: after.delivery,
    })
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

    use common::wire::Event;

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
                let (answer, answered) = std::sync::mpsc::sync_channel(1);
                answers.push(answered);
                PendingAppend {
                    run_id: run.into(),
                    events: lines(from, to).iter().map(Event::to_raw).collect(),
                    nonce,
                    answer,
                }
            })
            .collect();
        let before = wal_commits(&path);
        assert!(before >= 2, "the counter sees the runs' commits: {before}");
        append_group(&mut lock(&sqlite.inner.writer), group);
        assert_eq!(wal_commits(&path), before + 1, "one commit for the group");

        let got: Vec<_> = answers.iter().map(|a| a.recv().unwrap()).collect();
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
