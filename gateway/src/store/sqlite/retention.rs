//! Retention's SQL: pins, the runs past their time, deleting a run in small steps, and giving
//! the freed pages back to the file system (`auto_vacuum = INCREMENTAL`, `schema.rs`).

use common::wire::RunStatus;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use super::codec::{last_event_at_sql, last_seq_sql, sql_limit};
use super::conn::backend;
use crate::store::{Purge, StoreError};

pub(super) fn set_pinned(
    conn: &Connection,
    run_id: String,
    pinned: bool,
) -> Result<bool, StoreError> {
    conn.prepare_cached("UPDATE runs SET pinned = ?2 WHERE id = ?1 AND purging = 0")
        .and_then(|mut stmt| stmt.execute(rusqlite::params![run_id, pinned]))
        .map(|n| n == 1)
        .map_err(|e| backend(format!("pin run {run_id}"), e))
}

pub(super) fn expired_runs(
    conn: &Connection,
    cutoffs: &[(RunStatus, i64)],
    limit: usize,
) -> Result<Vec<String>, StoreError> {
    // One `(status = ? AND ended < ?)` per ended status with a cutoff; a few runs' rows at most
    // thousands, read once an hour: a scan is fine.
    let mut clauses = Vec::new();
    let mut params: Vec<rusqlite::types::Value> = vec![sql_limit(limit).into()];
    for (status, cutoff) in cutoffs.iter().filter(|(s, _)| s.is_terminal()) {
        clauses.push(format!(
            "(status = ?{} AND coalesce(finished_at, created_at) < ?{})",
            params.len() + 1,
            params.len() + 2
        ));
        params.push(status.as_str().to_string().into());
        params.push((*cutoff).into());
    }
    let expired = if clauses.is_empty() {
        "0".to_string()
    } else {
        format!("pinned = 0 AND ({})", clauses.join(" OR "))
    };
    let sql = format!(
        "SELECT id FROM runs WHERE purging = 1 OR ({expired})
         ORDER BY purging DESC, coalesce(finished_at, created_at) LIMIT ?1"
    );
    conn.prepare(&sql)
        .and_then(|mut stmt| {
            stmt.query_map(rusqlite::params_from_iter(params), |row| row.get(0))?
                .collect()
        })
        .map_err(|e| backend("find expired runs", e))
}

pub(super) fn purge_run(
    conn: &mut Connection,
    run_id: String,
    max_rows: usize,
) -> Result<Purge, StoreError> {
    let fail = |what: &str, e| backend(format!("{what} of run {run_id}"), e);
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| fail("begin purge", e))?;
    let row: Option<(bool, bool)> = tx
        .prepare_cached("SELECT pinned, purging FROM runs WHERE id = ?1")
        .and_then(|mut stmt| {
            stmt.query_row([&run_id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
        })
        .map_err(|e| fail("read", e))?;
    let Some((pinned, purging)) = row else {
        return Ok(Purge::Gone);
    };
    if !purging {
        if pinned {
            return Ok(Purge::Kept);
        }
        // The row's progress brought up to its chunks' before they go (ingest leaves it behind
        // while a run lives; see `writer.rs`): a late resend to the hidden run is still a resend.
        tx.execute(
            concat!(
                "UPDATE runs SET purging = 1, last_seq = ",
                last_seq_sql!(),
                ", last_event_at = ",
                last_event_at_sql!(),
                " WHERE id = ?1"
            ),
            [&run_id],
        )
        .map_err(|e| fail("hide", e))?;
    }
    let limit = sql_limit(max_rows.max(1));
    let chunks = tx
        .prepare_cached(
            "DELETE FROM event_chunks WHERE run_id = ?1 AND first_seq IN (
                 SELECT first_seq FROM event_chunks WHERE run_id = ?1
                 ORDER BY first_seq LIMIT ?2)",
        )
        .and_then(|mut stmt| stmt.execute(rusqlite::params![run_id, limit]))
        .map_err(|e| fail("delete events", e))?;
    let mut done = false;
    if (chunks as i64) < limit {
        let left = limit - chunks as i64;
        let artifacts = tx
            .prepare_cached(
                "DELETE FROM artifacts WHERE run_id = ?1 AND name IN (
                     SELECT name FROM artifacts WHERE run_id = ?1 LIMIT ?2)",
            )
            .and_then(|mut stmt| stmt.execute(rusqlite::params![run_id, left]))
            .map_err(|e| fail("delete artifacts", e))?;
        if (artifacts as i64) < left {
            // Commands are small; they go with the row (ON DELETE CASCADE).
            tx.execute("DELETE FROM runs WHERE id = ?1", [&run_id])
                .map_err(|e| fail("delete", e))?;
            done = true;
        }
    }
    tx.commit().map_err(|e| fail("commit purge", e))?;
    Ok(if done { Purge::Gone } else { Purge::More })
}

pub(super) fn reclaim_space(conn: &Connection, max_bytes: u64) -> Result<u64, StoreError> {
    let pragma = |name: &str| -> Result<i64, StoreError> {
        conn.pragma_query_value(None, name, |row| row.get(0))
            .map_err(|e| backend(format!("read {name}"), e))
    };
    // Without incremental auto-vacuum (its switch failed, or an in-memory database) free pages
    // are only reused.
    if pragma("auto_vacuum")? != 2 {
        return Ok(0);
    }
    let page = pragma("page_size")?.max(512) as u64;
    let free = pragma("freelist_count")?.max(0) as u64;
    let pages = free.min((max_bytes / page).max(1));
    if pages == 0 {
        return Ok(0);
    }
    // The pragma frees one page per step of its statement (a result row each): step it through.
    conn.prepare(&format!("PRAGMA incremental_vacuum({pages})"))
        .and_then(|mut stmt| {
            let mut rows = stmt.query([])?;
            while rows.next()?.is_some() {}
            Ok(())
        })
        .map_err(|e| backend("incremental vacuum", e))?;
    if pages == free {
        // The file shrinks when the WAL is copied back; do it now rather than at the next
        // commit's checkpoint.
        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
            .map_err(|e| backend("checkpoint after vacuum", e))?;
    }
    Ok(pages * page)
}
