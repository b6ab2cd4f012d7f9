//! Runs and their events: create, read, list, count, delete; events read back from their chunks
//! page by page, forwards or backwards.

use common::wire::{RawEvent, RunStatus, RunSummary};
use rusqlite::{Connection, OptionalExtension};

use super::codec::{RUN_COLUMNS, chunk, is_primary_key_conflict, run_record, sql_limit, sql_seq};
use super::conn::backend;
use crate::store::{NewRun, RunRecord, StoreError};

pub(super) fn create_run(conn: &Connection, run: NewRun) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO runs (id, name, prompt, cwd, key, status, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6)",
    )
    .and_then(|mut stmt| {
        stmt.execute(rusqlite::params![
            run.id,
            run.name,
            run.prompt,
            run.cwd,
            run.key,
            run.created_at
        ])
    })
    .map_err(|e| {
        if is_primary_key_conflict(&e) {
            StoreError::Conflict
        } else {
            backend(format!("create run {}", run.id), e)
        }
    })?;
    Ok(())
}

pub(super) fn delete_run(conn: &Connection, id: String) -> Result<bool, StoreError> {
    // Events, commands and artifacts go with it (ON DELETE CASCADE).
    conn.prepare_cached("DELETE FROM runs WHERE id = ?1")
        .and_then(|mut stmt| stmt.execute([&id]))
        .map(|n| n > 0)
        .map_err(|e| backend(format!("delete run {id}"), e))
}

pub(super) fn run(conn: &Connection, id: String) -> Result<Option<RunRecord>, StoreError> {
    conn.prepare_cached(&format!(
        "SELECT {RUN_COLUMNS} FROM runs WHERE id = ?1 AND purging = 0"
    ))
    .and_then(|mut stmt| stmt.query_row([&id], run_record).optional())
    .map_err(|e| backend(format!("read run {id}"), e))
}

pub(super) fn list_runs(conn: &Connection, limit: usize) -> Result<Vec<RunSummary>, StoreError> {
    conn.prepare_cached(&format!(
        "SELECT {RUN_COLUMNS} FROM runs WHERE purging = 0
         ORDER BY created_at DESC, rowid DESC LIMIT ?1"
    ))
    .and_then(|mut stmt| {
        stmt.query_map([sql_limit(limit)], |row| run_record(row).map(|r| r.summary))?
            .collect()
    })
    .map_err(|e| backend("list runs", e))
}

pub(super) fn run_counts(conn: &Connection) -> Result<Vec<(RunStatus, u64)>, StoreError> {
    let mut stmt = conn
        .prepare_cached("SELECT status, count(*) FROM runs WHERE purging = 0 GROUP BY status")
        .map_err(|e| backend("prepare run counts", e))?;
    let rows = stmt
        .query_map([], |row| {
            let status: String = row.get(0)?;
            Ok((RunStatus::parse(&status), row.get::<_, u64>(1)?))
        })
        .map_err(|e| backend("count runs", e))?;
    let mut counts = Vec::new();
    for row in rows {
        if let (Some(status), n) = row.map_err(|e| backend("count runs", e))? {
            counts.push((status, n));
        }
    }
    Ok(counts)
}

pub(super) fn events(
    conn: &Connection,
    run_id: String,
    after: u64,
    limit: usize,
) -> Result<Vec<RawEvent>, StoreError> {
    let mut out = Vec::new();
    if limit == 0 {
        return Ok(out);
    }
    // From the chunk holding `after + 1` (the last one starting at or below it) on.
    let mut stmt = conn
        .prepare_cached(
            "SELECT first_seq, last_seq, body FROM event_chunks
             WHERE run_id = ?1 AND last_seq > ?2 AND first_seq >= (
                 SELECT ifnull(max(first_seq), 0) FROM event_chunks
                 WHERE run_id = ?1 AND first_seq <= ?2 + 1)
             ORDER BY first_seq",
        )
        .map_err(|e| backend("prepare event read", e))?;
    let rows = stmt
        .query_map(rusqlite::params![run_id, sql_seq(after)], chunk)
        .map_err(|e| backend(format!("read events of {run_id}"), e))?;
    for row in rows {
        let events = row.map_err(|e| backend(format!("read events of {run_id}"), e))?;
        let wanted = limit - out.len();
        out.extend(
            events
                .into_iter()
                .filter(|e| e.sequence > after)
                .take(wanted),
        );
        if out.len() >= limit {
            break;
        }
    }
    Ok(out)
}

pub(super) fn events_before(
    conn: &Connection,
    run_id: String,
    before: u64,
    limit: usize,
) -> Result<Vec<RawEvent>, StoreError> {
    // Newest first, each chunk's events reversed, until `limit`; then turned around.
    let mut page: Vec<RawEvent> = Vec::new();
    if limit == 0 {
        return Ok(page);
    }
    let mut stmt = conn
        .prepare_cached(
            "SELECT first_seq, last_seq, body FROM event_chunks
             WHERE run_id = ?1 AND first_seq < ?2 ORDER BY first_seq DESC",
        )
        .map_err(|e| backend("prepare event read", e))?;
    let rows = stmt
        .query_map(rusqlite::params![run_id, sql_seq(before)], chunk)
        .map_err(|e| backend(format!("read events of {run_id}"), e))?;
    for row in rows {
        let events = row.map_err(|e| backend(format!("read events of {run_id}"), e))?;
        let wanted = limit - page.len();
        page.extend(
            events
                .into_iter()
                .rev()
                .filter(|e| e.sequence < before)
                .take(wanted),
        );
        if page.len() >= limit {
            break;
        }
    }
    page.reverse();
    Ok(page)
}

pub(super) fn run_exists(conn: &Connection, run_id: &str) -> Result<bool, StoreError> {
    conn.prepare_cached("SELECT 1 FROM runs WHERE id = ?1 AND purging = 0")
        .and_then(|mut stmt| stmt.exists([run_id]))
        .map_err(|e| backend(format!("look up run {run_id}"), e))
}
