//! Rows to values and back: runs, event chunks, commands and artifacts as SQLite stores them.

use common::wire::{
    ArtifactInfo, ClaudeStats, Command, Delivery, Event, EventKind, RawEvent, RunStatus, RunSummary,
};
use rusqlite::types::Type;
use rusqlite::{ErrorCode, Row};

use crate::store::RunRecord;

/// A run's last stored sequence, as an SQL expression over a `runs` row: its last chunk's, which
/// ingest writes with each batch (see `writer.rs`: the row's own `last_seq` is rewritten only
/// when something else about the run changes), or the row's for a run with no chunk. One step
/// down the chunks' key index.
macro_rules! last_seq_sql {
    () => {
        "ifnull((SELECT c.last_seq FROM event_chunks c WHERE c.run_id = runs.id \
         ORDER BY c.first_seq DESC LIMIT 1), runs.last_seq)"
    };
}
pub(super) use last_seq_sql;

/// The time of a run's last event, as [`last_seq_sql`] finds its last sequence.
macro_rules! last_event_at_sql {
    () => {
        "ifnull((SELECT c.last_event_at FROM event_chunks c WHERE c.run_id = runs.id \
         ORDER BY c.first_seq DESC LIMIT 1), runs.last_event_at)"
    };
}
pub(super) use last_event_at_sql;

pub(super) const RUN_COLUMNS: &str = concat!(
    "id, name, status, prompt, cwd, created_at, finished_at, exit_code, ",
    last_seq_sql!(),
    ", ",
    last_event_at_sql!(),
    ", key, delivery, claude, pinned, \
     (SELECT name FROM agents WHERE agents.id = runs.agent_id), \
     ifnull((SELECT NOT online FROM agents WHERE agents.id = runs.agent_id), 0), \
     reason"
);

/// How many columns [`RUN_COLUMNS`] names: the index of the first column a query selects after them.
pub(super) const RUN_COLUMN_COUNT: usize = 17;

/// A conversion failure of column `index`, reported like rusqlite's own.
pub(super) fn bad_column(index: usize, ty: Type, why: impl Into<String>) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(index, ty, why.into().into())
}

/// A run's status in column `index`.
pub(super) fn run_status(row: &Row<'_>, index: usize) -> rusqlite::Result<RunStatus> {
    let status = row.get_ref(index)?.as_str()?;
    RunStatus::parse(status)
        .ok_or_else(|| bad_column(index, Type::Text, format!("unknown run status {status:?}")))
}

/// Reads a row selected with [`RUN_COLUMNS`].
pub(super) fn run_record(row: &Row<'_>) -> rusqlite::Result<RunRecord> {
    let status = run_status(row, 2)?;
    Ok(RunRecord {
        summary: RunSummary {
            id: row.get(0)?,
            name: row.get(1)?,
            status,
            prompt: row.get(3)?,
            cwd: row.get(4)?,
            created_at: row.get(5)?,
            finished_at: row.get(6)?,
            exit_code: row.get(7)?,
            last_sequence: row.get(8)?,
            last_event_at: row.get(9)?,
            delivery: match row.get_ref(11)?.as_str_or_null()? {
                None => None,
                Some(d) => Some(Delivery::parse(d).ok_or_else(|| {
                    bad_column(11, Type::Text, format!("unknown delivery {d:?}"))
                })?),
            },
            claude: claude_stats(row.get_ref(12)?.as_str_or_null()?),
            pinned: row.get(13)?,
            agent: row.get(14)?,
            // Only a run that can still hear from its agent waits for it.
            agent_offline: row.get::<_, bool>(15)? && !status.is_terminal(),
            reason: row.get(16)?,
        },
        key: row.get(10)?,
    })
}

/// The stored Claude session of a run; a value this gateway cannot read counts as none.
pub(super) fn claude_stats(text: Option<&str>) -> Option<ClaudeStats> {
    serde_json::from_str(text?).ok()
}

/// Appends one event to the body of a chunk (consecutive sequences): a JSON array with one
/// `[type, ts, data]` per event, the sequence being the chunk's `first_seq` plus the index.
/// `data` is the event's canonical text, copied as it is. Close the array with `]`.
pub(super) fn push_chunk_event(out: &mut Vec<u8>, event: &RawEvent) {
    use std::io::Write as _;
    out.push(if out.is_empty() { b'[' } else { b',' });
    out.extend_from_slice(b"[\"");
    out.extend_from_slice(event.kind.as_str().as_bytes());
    out.extend_from_slice(b"\",");
    let _ = write!(out, "{}", event.ts);
    out.push(b',');
    out.extend_from_slice(event.data.get().as_bytes());
    out.push(b']');
}

/// Reads a chunk row `first_seq, last_seq, body` into its events, their data as stored.
pub(super) fn chunk(row: &Row<'_>) -> rusqlite::Result<Vec<RawEvent>> {
    let first: u64 = row.get(0)?;
    let last: u64 = row.get(1)?;
    let items: Vec<(&str, i64, Box<serde_json::value::RawValue>)> =
        serde_json::from_str(row.get_ref(2)?.as_str()?)
            .map_err(|e| bad_column(2, Type::Text, format!("event chunk is not JSON: {e}")))?;
    if last.checked_sub(first).and_then(|d| d.checked_add(1)) != Some(items.len() as u64) {
        return Err(bad_column(
            2,
            Type::Text,
            format!("event chunk {first}..={last} holds {} events", items.len()),
        ));
    }
    items
        .into_iter()
        .zip(first..)
        .map(|((kind, ts, data), sequence)| {
            let kind = EventKind::parse(kind)
                .ok_or_else(|| bad_column(2, Type::Text, format!("unknown event kind {kind:?}")))?;
            Ok(Event {
                sequence,
                kind,
                data,
                ts,
            })
        })
        .collect()
}

/// Reads `id, body, created_at`.
pub(super) fn command(row: &Row<'_>) -> rusqlite::Result<Command> {
    let kind = serde_json::from_str(row.get_ref(1)?.as_str()?)
        .map_err(|e| bad_column(1, Type::Text, format!("command body: {e}")))?;
    Ok(Command {
        id: row.get(0)?,
        kind,
        created_at: row.get(2)?,
    })
}

/// Reads `name, size, sha256, created_at`.
pub(super) fn artifact_info(row: &Row<'_>) -> rusqlite::Result<ArtifactInfo> {
    Ok(ArtifactInfo {
        name: row.get(0)?,
        size: row.get(1)?,
        sha256: row.get(2)?,
        created_at: row.get(3)?,
    })
}

pub(super) use crate::store::command_kind_name;

pub(super) fn is_primary_key_conflict(err: &rusqlite::Error) -> bool {
    matches!(
        err,
        rusqlite::Error::SqliteFailure(e, _)
            if e.code == ErrorCode::ConstraintViolation
                && e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
    )
}

/// Clamps a count to SQLite's integer range.
pub(super) fn sql_limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub(super) fn sql_seq(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
