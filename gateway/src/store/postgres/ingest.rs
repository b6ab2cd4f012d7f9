//! Ingest: one batch is one transaction that records the request's nonce, locks the run's row
//! (`SELECT … FOR UPDATE`), applies `rules::plan_append_with` to what it read, inserts the new
//! events and writes the run's progress back. Another batch of the same run, from this
//! replica or another, waits on the row lock until this one commits, so it reads the
//! `last_seq`, stream digest and delivery verdict this one wrote.
//!
//! Group commit: PostgreSQL flushes the WAL of transactions that commit together once
//! (`commit_delay`/`commit_siblings` widen the group if wanted), so concurrent batches on the
//! pool's connections already share their syncs; no queue of our own is needed.

use common::digest::StreamDigest;
use common::wire::{Delivery, RawEvent, RunStatus};
use deadpool_postgres::GenericClient;

use super::Conn;
use super::codec::{backend, big, claude_stats, col, col_u64, event};
use crate::store::rules::{self, Progress};
use crate::store::search::TextOf;
use crate::store::{AppendOutcome, Nonce, StoreError};

/// Commits one ingest batch; see `Store::append_events`.
pub(super) async fn append_events(
    mut conn: Conn,
    run_id: String,
    events: std::sync::Arc<[RawEvent]>,
    nonce: Option<Nonce>,
) -> Result<AppendOutcome, StoreError> {
    // The searched text is worked out before the transaction: no lock is held meanwhile.
    let texts = search_texts(&events);
    let tx = conn
        .transaction()
        .await
        .map_err(|e| backend("begin ingest", e))?;
    if let Some(nonce) = nonce
        && !insert_nonce(&tx, nonce).await?
    {
        return Err(StoreError::Replayed); // dropping the transaction rolls it back
    }
    match append(&tx, &run_id, &events, &texts).await {
        Ok(outcome) => {
            tx.commit().await.map_err(|e| backend("commit ingest", e))?;
            Ok(outcome)
        }
        Err(e @ StoreError::Backend(_)) => Err(e),
        Err(refused) => {
            // The rules refused the batch before anything but the nonce was written: the
            // nonce stays recorded, so a replay is refused as a replay.
            if nonce.is_some() {
                tx.commit().await.map_err(|e| backend("commit nonce", e))?;
            }
            Err(refused)
        }
    }
}

/// The searched text of each event of the batch (NUL removed: PostgreSQL's text cannot hold
/// it, and no query can ask for it).
pub(super) fn search_texts(events: &[RawEvent]) -> Vec<Option<String>> {
    let mut of = TextOf::default();
    events
        .iter()
        .map(|e| {
            of.event(e).map(|t| {
                if t.contains('\0') {
                    t.replace('\0', "")
                } else {
                    t
                }
            })
        })
        .collect()
}

/// Records `nonce` inside the caller's transaction; `false` if it was recorded before.
pub(super) async fn insert_nonce(
    client: &impl GenericClient,
    nonce: Nonce,
) -> Result<bool, StoreError> {
    let stmt = client
        .prepare_cached(
            "INSERT INTO nonces (expires_at, hash) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        )
        .await
        .map_err(|e| backend("prepare nonce", e))?;
    client
        .execute(&stmt, &[&nonce.expires_at, &&nonce.hash[..]])
        .await
        .map(|n| n == 1)
        .map_err(|e| backend("record nonce", e))
}

/// One ingest batch inside the caller's transaction.
async fn append(
    tx: &impl GenericClient,
    run_id: &str,
    events: &[RawEvent],
    texts: &[Option<String>],
) -> Result<AppendOutcome, StoreError> {
    let read = tx
        .prepare_cached(
            "SELECT status, last_seq, last_event_at, exit_code, finished_at, stop_requested,
                 stream_state, delivery, claude
             FROM runs WHERE id = $1 FOR UPDATE",
        )
        .await
        .map_err(|e| backend("prepare run read", e))?;
    let row = tx
        .query_opt(&read, &[&run_id])
        .await
        .map_err(|e| backend(format!("read run {run_id}"), e))?
        .ok_or(StoreError::NotFound)?;
    let status: &str = col(&row, 0)?;
    let mut before = Progress {
        status: RunStatus::parse(status)
            .ok_or_else(|| StoreError::Backend(format!("unknown run status {status:?}")))?,
        last_seq: col_u64(&row, 1)?,
        last_event_at: col(&row, 2)?,
        exit_code: col(&row, 3)?,
        finished_at: col(&row, 4)?,
        stop_requested: col(&row, 5)?,
        stream: StreamDigest::restore(col::<Option<&str>>(&row, 6)?.unwrap_or(""))
            .unwrap_or_default(),
        delivery: col::<Option<&str>>(&row, 7)?.and_then(Delivery::parse),
        claude: claude_stats(col(&row, 8)?),
    };
    if before.stream.events() != before.last_seq {
        // A damaged state: hash what is stored, once.
        before.stream = stored_digest(tx, run_id, before.last_seq).await?;
    }

    let (fresh, after) = rules::plan_append_with(&before, events, |_, _| {})?;
    if fresh.is_empty() {
        return Ok(AppendOutcome {
            acked_through: before.last_seq,
            inserted: 0,
            status: before.status,
            delivery: before.delivery,
        });
    }
    let mut seqs = Vec::with_capacity(fresh.len());
    let mut kinds = Vec::with_capacity(fresh.len());
    let mut stamps = Vec::with_capacity(fresh.len());
    let mut data = Vec::with_capacity(fresh.len());
    for e in &fresh {
        seqs.push(big(e.sequence));
        kinds.push(e.kind.as_str());
        stamps.push(e.ts);
        data.push(e.data.get());
    }
    // The same filter as the rules' `fresh`, so each text stays with its event.
    let search: Vec<Option<&str>> = events
        .iter()
        .zip(texts)
        .filter(|(e, _)| e.sequence > before.last_seq)
        .map(|(_, t)| t.as_deref())
        .collect();
    let insert = tx
        .prepare_cached(
            "INSERT INTO events (run_id, seq, kind, ts, data, search)
             SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::bigint[], $5::text[],
                 $6::text[])",
        )
        .await
        .map_err(|e| backend("prepare event insert", e))?;
    tx.execute(&insert, &[&run_id, &seqs, &kinds, &stamps, &data, &search])
        .await
        .map_err(|e| {
            backend(
                format!("insert events {run_id}/{}..={}", seqs[0], after.last_seq),
                e,
            )
        })?;
    let update = tx
        .prepare_cached(
            "UPDATE runs SET status = $2, last_seq = $3, last_event_at = $4, exit_code = $5,
                 finished_at = $6, stop_requested = $7, stream_state = $8, delivery = $9,
                 claude = $10
             WHERE id = $1",
        )
        .await
        .map_err(|e| backend("prepare run update", e))?;
    let claude = after
        .claude
        .as_ref()
        .and_then(|c| serde_json::to_string(c).ok());
    tx.execute(
        &update,
        &[
            &run_id,
            &after.status.as_str(),
            &big(after.last_seq),
            &after.last_event_at,
            &after.exit_code,
            &after.finished_at,
            &after.stop_requested,
            &after.stream.save(),
            &after.delivery.map(Delivery::as_str),
            &claude,
        ],
    )
    .await
    .map_err(|e| backend(format!("update run {run_id}"), e))?;
    Ok(AppendOutcome {
        acked_through: after.last_seq,
        inserted: fresh.len(),
        status: after.status,
        delivery: after.delivery,
    })
}

/// The digest of a run's stored events `1..=last_seq`, read in sequence order.
async fn stored_digest(
    client: &impl GenericClient,
    run_id: &str,
    last_seq: u64,
) -> Result<StreamDigest, StoreError> {
    let rows = client
        .query(
            "SELECT seq, kind, ts, data FROM events WHERE run_id = $1 AND seq <= $2 ORDER BY seq",
            &[&run_id, &big(last_seq)],
        )
        .await
        .map_err(|e| backend(format!("read events of {run_id}"), e))?;
    let mut digest = StreamDigest::new();
    let mut line = Vec::with_capacity(256);
    for row in &rows {
        let e = event(row)?;
        line.clear();
        common::digest::canonical_raw_line(e.data.get(), e.sequence, e.kind.as_str(), &mut line);
        digest.push_line(&line);
    }
    Ok(digest)
}
