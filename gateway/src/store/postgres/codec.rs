//! Rows to values and back as PostgreSQL stores them, and how a driver failure becomes a
//! [`StoreError`].

use std::fmt;

use common::wire::{
    ArtifactInfo, ClaudeStats, Command, Delivery, EventKind, RawEvent, RunStatus, RunSummary,
};
use tokio_postgres::Row;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::FromSql;

use crate::store::{RunRecord, StoreError};

/// A failure of the database, with what was being done; for the log, never for a client.
pub(super) fn backend(context: impl fmt::Display, err: tokio_postgres::Error) -> StoreError {
    let detail = match err.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => err.to_string(),
    };
    StoreError::Backend(format!("{context}: {detail}"))
}

/// A unique or primary key constraint broken is the caller's conflict, not a failure.
pub(super) fn conflict_or(context: impl fmt::Display, err: tokio_postgres::Error) -> StoreError {
    if err.code() == Some(&SqlState::UNIQUE_VIOLATION) {
        StoreError::Conflict
    } else {
        backend(context, err)
    }
}

/// A value that does not read as what the column should hold.
pub(super) fn bad(what: impl fmt::Display) -> StoreError {
    StoreError::Backend(format!("unreadable row: {what}"))
}

/// Column `index` of `row`.
pub(super) fn col<'a, T: FromSql<'a>>(row: &'a Row, index: usize) -> Result<T, StoreError> {
    row.try_get(index)
        .map_err(|e| bad(format!("column {index}: {e}")))
}

/// A non-negative `bigint` column as `u64`.
pub(super) fn col_u64(row: &Row, index: usize) -> Result<u64, StoreError> {
    let v: i64 = col(row, index)?;
    u64::try_from(v).map_err(|_| bad(format!("column {index} is negative: {v}")))
}

/// A `bytea` column of exactly `N` bytes.
pub(super) fn col_bytes<const N: usize>(row: &Row, index: usize) -> Result<[u8; N], StoreError> {
    let v: Vec<u8> = col(row, index)?;
    v.try_into()
        .map_err(|_| bad(format!("column {index} is not {N} bytes")))
}

/// `u64` as PostgreSQL's `bigint`, clamped.
pub(super) fn big(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A count as a `LIMIT`, clamped.
pub(super) fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// 128 random bits as 32 hex digits: ids unique without a shared counter.
pub(super) fn random_id(prefix: &str) -> Result<String, StoreError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| StoreError::Backend(format!("random id: {e}")))?;
    Ok(format!("{prefix}{}", hex::encode(bytes)))
}

pub(super) const RUN_COLUMNS: &str = "id, name, status, prompt, cwd, created_at, finished_at, exit_code, \
    last_seq, last_event_at, key, delivery, claude, pinned, \
    (SELECT name FROM agents WHERE agents.id = runs.agent_id), \
    coalesce((SELECT NOT online FROM agents WHERE agents.id = runs.agent_id), false), \
    reason";

/// Reads a row selected with [`RUN_COLUMNS`].
pub(super) fn run_record(row: &Row) -> Result<RunRecord, StoreError> {
    let status: &str = col(row, 2)?;
    let status =
        RunStatus::parse(status).ok_or_else(|| bad(format!("unknown run status {status:?}")))?;
    let delivery: Option<&str> = col(row, 11)?;
    let agent_offline: bool = col(row, 15)?;
    let last_seq = col_u64(row, 8)?;
    Ok(RunRecord {
        summary: RunSummary {
            id: col(row, 0)?,
            name: col(row, 1)?,
            status,
            prompt: col(row, 3)?,
            cwd: col(row, 4)?,
            created_at: col(row, 5)?,
            finished_at: col(row, 6)?,
            exit_code: col(row, 7)?,
            last_sequence: last_seq,
            last_event_at: col(row, 9)?,
            delivery: match delivery {
                None => None,
                Some(d) => {
                    Some(Delivery::parse(d).ok_or_else(|| bad(format!("unknown delivery {d:?}")))?)
                }
            },
            claude: claude_stats(col(row, 12)?),
            pinned: col(row, 13)?,
            agent: col(row, 14)?,
            // Only a run that can still hear from its agent waits for it.
            agent_offline: agent_offline && !status.is_terminal(),
            reason: col(row, 16)?,
        },
        key: col_bytes(row, 10)?,
    })
}

/// The stored Claude session of a run; a value this gateway cannot read counts as none.
pub(super) fn claude_stats(text: Option<&str>) -> Option<ClaudeStats> {
    serde_json::from_str(text?).ok()
}

/// Reads `seq, kind, ts, data` into an event, its data as stored.
pub(super) fn event(row: &Row) -> Result<RawEvent, StoreError> {
    let kind: &str = col(row, 1)?;
    let data: String = col(row, 3)?;
    Ok(RawEvent {
        sequence: col_u64(row, 0)?,
        kind: EventKind::parse(kind).ok_or_else(|| bad(format!("unknown event kind {kind:?}")))?,
        ts: col(row, 2)?,
        data: serde_json::value::RawValue::from_string(data)
            .map_err(|e| bad(format!("event data is not JSON: {e}")))?,
    })
}

/// Reads `id, body, created_at`.
pub(super) fn command(row: &Row) -> Result<Command, StoreError> {
    let body: &str = col(row, 1)?;
    Ok(Command {
        id: col(row, 0)?,
        kind: serde_json::from_str(body).map_err(|e| bad(format!("command body: {e}")))?,
        created_at: col(row, 2)?,
    })
}

/// Reads `name, size, sha256, created_at`.
pub(super) fn artifact_info(row: &Row) -> Result<ArtifactInfo, StoreError> {
    Ok(ArtifactInfo {
        name: col(row, 0)?,
        size: col_u64(row, 1)?,
        sha256: col(row, 2)?,
        created_at: col(row, 3)?,
    })
}

/// Every row read with `read`.
pub(super) fn rows<T>(
    rows: Vec<Row>,
    read: impl Fn(&Row) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    rows.iter().map(read).collect()
}
