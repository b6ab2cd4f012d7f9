//! Runs, their events, commands and artifacts: create, read, list, count, delete; events read
//! page by page, forwards or backwards. Artifacts are a `bytea` each behind `put_artifact` and
//! `artifact`, so another place for their bytes plugs in behind the same two calls.

use common::wire::{ArtifactInfo, Command, CommandKind, RawEvent, RunStatus, RunSummary};
use deadpool_postgres::GenericClient;
use sha2::{Digest, Sha256};

use super::Conn;
use super::codec::{
    RUN_COLUMNS, artifact_info, backend, big, col, col_u64, command, conflict_or, event, limit,
    random_id, rows, run_record,
};
use crate::clock::now_ms;
use crate::store::{ArtifactBody, NewRun, RunRecord, StoreError, command_kind_name};

pub(super) async fn create_run(conn: Conn, run: NewRun) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO runs (id, name, prompt, cwd, key, status, created_at)
         VALUES ($1, $2, $3, $4, $5, 'pending', $6)",
        &[
            &run.id,
            &run.name,
            &run.prompt,
            &run.cwd,
            &&run.key[..],
            &run.created_at,
        ],
    )
    .await
    .map_err(|e| conflict_or(format!("create run {}", run.id), e))?;
    Ok(())
}

pub(super) async fn delete_run(conn: Conn, id: String) -> Result<bool, StoreError> {
    // Events, commands and artifacts go with it (ON DELETE CASCADE).
    conn.execute("DELETE FROM runs WHERE id = $1", &[&id])
        .await
        .map(|n| n > 0)
        .map_err(|e| backend(format!("delete run {id}"), e))
}

pub(super) async fn run(conn: Conn, id: String) -> Result<Option<RunRecord>, StoreError> {
    let stmt = conn
        .prepare_cached(&format!(
            "SELECT {RUN_COLUMNS} FROM runs WHERE id = $1 AND NOT purging"
        ))
        .await
        .map_err(|e| backend("prepare run read", e))?;
    conn.query_opt(&stmt, &[&id])
        .await
        .map_err(|e| backend(format!("read run {id}"), e))?
        .as_ref()
        .map(run_record)
        .transpose()
}

pub(super) async fn list_runs(conn: Conn, n: usize) -> Result<Vec<RunSummary>, StoreError> {
    let found = conn
        .query(
            &format!(
                "SELECT {RUN_COLUMNS} FROM runs WHERE NOT purging
                 ORDER BY created_at DESC, pos DESC LIMIT $1"
            ),
            &[&limit(n)],
        )
        .await
        .map_err(|e| backend("list runs", e))?;
    rows(found, |r| run_record(r).map(|r| r.summary))
}

pub(super) async fn run_counts(conn: Conn) -> Result<Vec<(RunStatus, u64)>, StoreError> {
    let found = conn
        .query(
            "SELECT status, count(*) FROM runs WHERE NOT purging GROUP BY status",
            &[],
        )
        .await
        .map_err(|e| backend("count runs", e))?;
    let mut counts = Vec::new();
    for row in &found {
        if let Some(status) = RunStatus::parse(col(row, 0)?) {
            counts.push((status, col_u64(row, 1)?));
        }
    }
    Ok(counts)
}

pub(super) async fn events(
    conn: Conn,
    run_id: String,
    after: u64,
    n: usize,
) -> Result<Vec<RawEvent>, StoreError> {
    events_after(&conn, &run_id, after, n).await
}

/// At most `n` events of a run with `sequence > after`, ascending.
pub(super) async fn events_after(
    client: &impl GenericClient,
    run_id: &str,
    after: u64,
    n: usize,
) -> Result<Vec<RawEvent>, StoreError> {
    if n == 0 {
        return Ok(Vec::new());
    }
    let stmt = client
        .prepare_cached(
            "SELECT seq, kind, ts, data FROM events WHERE run_id = $1 AND seq > $2
             ORDER BY seq LIMIT $3",
        )
        .await
        .map_err(|e| backend("prepare event read", e))?;
    let found = client
        .query(&stmt, &[&run_id, &big(after), &limit(n)])
        .await
        .map_err(|e| backend(format!("read events of {run_id}"), e))?;
    rows(found, event)
}

pub(super) async fn events_before(
    conn: Conn,
    run_id: String,
    before: u64,
    n: usize,
) -> Result<Vec<RawEvent>, StoreError> {
    if n == 0 {
        return Ok(Vec::new());
    }
    let stmt = conn
        .prepare_cached(
            "SELECT seq, kind, ts, data FROM events WHERE run_id = $1 AND seq < $2
             ORDER BY seq DESC LIMIT $3",
        )
        .await
        .map_err(|e| backend("prepare event read", e))?;
    let found = conn
        .query(&stmt, &[&run_id, &big(before), &limit(n)])
        .await
        .map_err(|e| backend(format!("read events of {run_id}"), e))?;
    let mut page = rows(found, event)?;
    page.reverse();
    Ok(page)
}

/// Locks the run's row for the rest of the transaction, if it exists and is not being purged:
/// a write that needs its run cannot race the run's deletion.
async fn lock_run(client: &impl GenericClient, run_id: &str) -> Result<bool, StoreError> {
    client
        .query_opt(
            "SELECT 1 FROM runs WHERE id = $1 AND NOT purging FOR SHARE",
            &[&run_id],
        )
        .await
        .map(|r| r.is_some())
        .map_err(|e| backend(format!("look up run {run_id}"), e))
}

pub(super) async fn enqueue_command(
    mut conn: Conn,
    run_id: String,
    kind: CommandKind,
    created_at: i64,
) -> Result<Command, StoreError> {
    let body = serde_json::to_string(&kind)
        .map_err(|e| StoreError::Backend(format!("encode command: {e}")))?;
    let id = random_id("")?;
    let tx = conn
        .transaction()
        .await
        .map_err(|e| backend("begin enqueue", e))?;
    if !lock_run(&tx, &run_id).await? {
        return Err(StoreError::NotFound);
    }
    tx.execute(
        "INSERT INTO commands (id, run_id, kind, body, created_at) VALUES ($1, $2, $3, $4, $5)",
        &[&id, &run_id, &command_kind_name(&kind), &body, &created_at],
    )
    .await
    .map_err(|e| backend(format!("enqueue command for {run_id}"), e))?;
    tx.commit()
        .await
        .map_err(|e| backend("commit enqueue", e))?;
    Ok(Command {
        id,
        kind,
        created_at,
    })
}

pub(super) async fn pending_commands(
    conn: Conn,
    run_id: String,
) -> Result<Vec<Command>, StoreError> {
    let stmt = conn
        .prepare_cached(
            "SELECT id, body, created_at FROM commands
             WHERE run_id = $1 AND acked_at IS NULL ORDER BY pos",
        )
        .await
        .map_err(|e| backend("prepare command read", e))?;
    let found = conn
        .query(&stmt, &[&run_id])
        .await
        .map_err(|e| backend(format!("read commands of {run_id}"), e))?;
    rows(found, command)
}

pub(super) async fn ack_command(
    conn: Conn,
    run_id: String,
    command_id: String,
) -> Result<bool, StoreError> {
    conn.execute(
        "UPDATE commands SET acked_at = $3 WHERE id = $1 AND run_id = $2 AND acked_at IS NULL",
        &[&command_id, &run_id, &now_ms()],
    )
    .await
    .map(|n| n == 1)
    .map_err(|e| backend(format!("ack command {command_id}"), e))
}

pub(super) async fn put_artifact(
    mut conn: Conn,
    run_id: String,
    name: String,
    bytes: Vec<u8>,
    created_at: i64,
) -> Result<ArtifactInfo, StoreError> {
    let info = ArtifactInfo {
        sha256: hex::encode(Sha256::digest(&bytes)),
        size: bytes.len() as u64,
        name,
        created_at,
    };
    let tx = conn
        .transaction()
        .await
        .map_err(|e| backend("begin artifact", e))?;
    if !lock_run(&tx, &run_id).await? {
        return Err(StoreError::NotFound);
    }
    tx.execute(
        "INSERT INTO artifacts (run_id, name, size, sha256, created_at, data)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (run_id, name) DO UPDATE SET size = excluded.size,
             sha256 = excluded.sha256, created_at = excluded.created_at, data = excluded.data,
             object_key = NULL",
        &[
            &run_id,
            &info.name,
            &big(info.size),
            &info.sha256,
            &info.created_at,
            &bytes,
        ],
    )
    .await
    .map_err(|e| backend(format!("store artifact {run_id}/{}", info.name), e))?;
    tx.commit()
        .await
        .map_err(|e| backend("commit artifact", e))?;
    Ok(info)
}

pub(super) async fn list_artifacts(
    conn: Conn,
    run_id: String,
) -> Result<Vec<ArtifactInfo>, StoreError> {
    let found = conn
        .query(
            "SELECT name, size, sha256, created_at FROM artifacts WHERE run_id = $1 ORDER BY name",
            &[&run_id],
        )
        .await
        .map_err(|e| backend(format!("list artifacts of {run_id}"), e))?;
    rows(found, artifact_info)
}

pub(super) async fn artifact(
    conn: Conn,
    run_id: String,
    name: String,
) -> Result<Option<(ArtifactInfo, ArtifactBody)>, StoreError> {
    conn.query_opt(
        "SELECT name, size, sha256, created_at, object_key, data FROM artifacts
         WHERE run_id = $1 AND name = $2",
        &[&run_id, &name],
    )
    .await
    .map_err(|e| backend(format!("read artifact {run_id}/{name}"), e))?
    .map(|row| {
        let body = match col::<Option<String>>(&row, 4)? {
            Some(key) => ArtifactBody::Object(key),
            None => ArtifactBody::Inline(col(&row, 5)?),
        };
        Ok((artifact_info(&row)?, body))
    })
    .transpose()
}

pub(super) async fn put_artifact_object(
    mut conn: Conn,
    run_id: String,
    info: ArtifactInfo,
    key: String,
) -> Result<(), StoreError> {
    let tx = conn
        .transaction()
        .await
        .map_err(|e| backend("begin artifact", e))?;
    if !lock_run(&tx, &run_id).await? {
        return Err(StoreError::NotFound);
    }
    let empty: &[u8] = &[];
    tx.execute(
        "INSERT INTO artifacts (run_id, name, size, sha256, created_at, data, object_key)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (run_id, name) DO UPDATE SET size = excluded.size,
             sha256 = excluded.sha256, created_at = excluded.created_at, data = excluded.data,
             object_key = excluded.object_key",
        &[
            &run_id,
            &info.name,
            &big(info.size),
            &info.sha256,
            &info.created_at,
            &empty,
            &key,
        ],
    )
    .await
    .map_err(|e| backend(format!("store artifact {run_id}/{}", info.name), e))?;
    tx.execute("DELETE FROM object_deletions WHERE key = $1", &[&key])
        .await
        .map_err(|e| backend("keep the uploaded object", e))?;
    tx.commit().await.map_err(|e| backend("commit artifact", e))
}

pub(super) async fn queue_object_deletion(
    conn: Conn,
    key: String,
    due: i64,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO object_deletions (key, due) VALUES ($1, $2)
         ON CONFLICT (key) DO UPDATE SET due = LEAST(object_deletions.due, excluded.due)",
        &[&key, &due],
    )
    .await
    .map_err(|e| backend("queue an object's deletion", e))?;
    Ok(())
}

pub(super) async fn due_object_deletions(
    conn: Conn,
    now: i64,
    max: usize,
) -> Result<Vec<String>, StoreError> {
    let found = conn
        .query(
            "SELECT key FROM object_deletions WHERE due <= $1 ORDER BY due, key LIMIT $2",
            &[&now, &limit(max)],
        )
        .await
        .map_err(|e| backend("read the object deletion queue", e))?;
    rows(found, |row| col(row, 0))
}

pub(super) async fn forget_object_deletions(
    conn: Conn,
    keys: Vec<String>,
) -> Result<(), StoreError> {
    conn.execute("DELETE FROM object_deletions WHERE key = ANY($1)", &[&keys])
        .await
        .map_err(|e| backend("forget deleted objects", e))?;
    Ok(())
}

pub(super) async fn get_meta(conn: Conn, key: String) -> Result<Option<String>, StoreError> {
    conn.query_opt("SELECT value FROM meta WHERE key = $1", &[&key])
        .await
        .map_err(|e| backend(format!("read meta {key}"), e))?
        .map(|row| col(&row, 0))
        .transpose()
}

pub(super) async fn meta_or_insert(
    conn: Conn,
    key: String,
    value: String,
) -> Result<String, StoreError> {
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
        &[&key, &value],
    )
    .await
    .map_err(|e| backend(format!("write meta {key}"), e))?;
    let row = conn
        .query_one("SELECT value FROM meta WHERE key = $1", &[&key])
        .await
        .map_err(|e| backend(format!("read meta {key}"), e))?;
    col(&row, 0)
}

pub(super) async fn set_meta(conn: Conn, key: String, value: String) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO meta (key, value) VALUES ($1, $2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        &[&key, &value],
    )
    .await
    .map_err(|e| backend(format!("write meta {key}"), e))?;
    Ok(())
}
