//! The rest of what a run and the gateway keep: commands, artifacts, sign-in sessions, the
//! key/value table, and the pruning of expired nonces (recording one is ingest's, `writer.rs`).

use common::wire::{ArtifactInfo, Command, CommandKind};
use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};
use sha2::{Digest, Sha256};

use super::codec::{artifact_info, bad_column, command, command_kind_name};
use super::conn::backend;
use super::runs::run_exists;
use crate::clock::now_ms;
use crate::store::{StoreError, StoredSession};

pub(super) fn enqueue_command(
    conn: &mut Connection,
    run_id: String,
    kind: CommandKind,
    created_at: i64,
) -> Result<Command, StoreError> {
    let body = serde_json::to_string(&kind)
        .map_err(|e| StoreError::Backend(format!("encode command: {e}")))?;
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| backend("begin enqueue", e))?;
    if !run_exists(&tx, &run_id)? {
        return Err(StoreError::NotFound);
    }
    // 128 random bits from SQLite's own CSPRNG: unique without a shared counter.
    let id: String = tx
        .prepare_cached(
            "INSERT INTO commands (id, run_id, kind, body, created_at)
             VALUES (lower(hex(randomblob(16))), ?1, ?2, ?3, ?4) RETURNING id",
        )
        .and_then(|mut stmt| {
            stmt.query_row(
                rusqlite::params![run_id, command_kind_name(&kind), body, created_at],
                |row| row.get(0),
            )
        })
        .map_err(|e| backend(format!("enqueue command for {run_id}"), e))?;
    tx.commit().map_err(|e| backend("commit enqueue", e))?;
    Ok(Command {
        id,
        kind,
        created_at,
    })
}

pub(super) fn pending_commands(
    conn: &Connection,
    run_id: String,
) -> Result<Vec<Command>, StoreError> {
    conn.prepare_cached(
        "SELECT id, body, created_at FROM commands
         WHERE run_id = ?1 AND acked_at IS NULL ORDER BY rowid",
    )
    .and_then(|mut stmt| stmt.query_map([&run_id], command)?.collect())
    .map_err(|e| backend(format!("read commands of {run_id}"), e))
}

pub(super) fn ack_command(
    conn: &Connection,
    run_id: String,
    command_id: String,
) -> Result<bool, StoreError> {
    let changed = conn
        .prepare_cached(
            "UPDATE commands SET acked_at = ?3
             WHERE id = ?1 AND run_id = ?2 AND acked_at IS NULL",
        )
        .and_then(|mut stmt| stmt.execute(rusqlite::params![command_id, run_id, now_ms()]))
        .map_err(|e| backend(format!("ack command {command_id}"), e))?;
    Ok(changed == 1)
}

pub(super) fn put_artifact(
    conn: &mut Connection,
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
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| backend("begin artifact", e))?;
    if !run_exists(&tx, &run_id)? {
        return Err(StoreError::NotFound);
    }
    tx.prepare_cached(
        "INSERT INTO artifacts (run_id, name, size, sha256, created_at, data)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (run_id, name) DO UPDATE SET size = excluded.size,
             sha256 = excluded.sha256, created_at = excluded.created_at,
             data = excluded.data",
    )
    .and_then(|mut stmt| {
        stmt.execute(rusqlite::params![
            run_id,
            info.name,
            info.size,
            info.sha256,
            info.created_at,
            bytes
        ])
    })
    .map_err(|e| backend(format!("store artifact {run_id}/{}", info.name), e))?;
    tx.commit().map_err(|e| backend("commit artifact", e))?;
    Ok(info)
}

pub(super) fn list_artifacts(
    conn: &Connection,
    run_id: String,
) -> Result<Vec<ArtifactInfo>, StoreError> {
    conn.prepare_cached(
        "SELECT name, size, sha256, created_at FROM artifacts
         WHERE run_id = ?1 ORDER BY name",
    )
    .and_then(|mut stmt| stmt.query_map([&run_id], artifact_info)?.collect())
    .map_err(|e| backend(format!("list artifacts of {run_id}"), e))
}

pub(super) fn artifact(
    conn: &Connection,
    run_id: String,
    name: String,
) -> Result<Option<(ArtifactInfo, Vec<u8>)>, StoreError> {
    conn.prepare_cached(
        "SELECT name, size, sha256, created_at, data FROM artifacts
         WHERE run_id = ?1 AND name = ?2",
    )
    .and_then(|mut stmt| {
        stmt.query_row([&run_id, &name], |row| {
            Ok((artifact_info(row)?, row.get(4)?))
        })
        .optional()
    })
    .map_err(|e| backend(format!("read artifact {run_id}/{name}"), e))
}

pub(super) fn get_meta(conn: &Connection, key: String) -> Result<Option<String>, StoreError> {
    conn.prepare_cached("SELECT value FROM meta WHERE key = ?1")
        .and_then(|mut stmt| stmt.query_row([&key], |row| row.get(0)).optional())
        .map_err(|e| backend(format!("read meta {key}"), e))
}

pub(super) fn set_meta(conn: &Connection, key: String, value: String) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .and_then(|mut stmt| stmt.execute([&key, &value]))
    .map_err(|e| backend(format!("write meta {key}"), e))?;
    Ok(())
}

pub(super) fn save_session(conn: &Connection, session: StoredSession) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO sessions (id_hash, created_at, last_seen) VALUES (?1, ?2, ?3)
         ON CONFLICT (id_hash) DO UPDATE SET last_seen = excluded.last_seen",
    )
    .and_then(|mut stmt| {
        stmt.execute(rusqlite::params![
            &session.id_hash[..],
            session.created_at,
            session.last_seen
        ])
    })
    .map_err(|e| backend("save session", e))?;
    Ok(())
}

pub(super) fn touch_session(
    conn: &Connection,
    id_hash: [u8; 32],
    last_seen: i64,
) -> Result<bool, StoreError> {
    conn.prepare_cached("UPDATE sessions SET last_seen = ?2 WHERE id_hash = ?1")
        .and_then(|mut stmt| stmt.execute(rusqlite::params![&id_hash[..], last_seen]))
        .map(|n| n > 0)
        .map_err(|e| backend("touch session", e))
}

pub(super) fn sessions(conn: &Connection) -> Result<Vec<StoredSession>, StoreError> {
    conn.prepare_cached("SELECT id_hash, created_at, last_seen FROM sessions")
        .and_then(|mut stmt| {
            stmt.query_map([], |row| {
                let hash: Vec<u8> = row.get(0)?;
                Ok(StoredSession {
                    id_hash: hash
                        .try_into()
                        .map_err(|_| bad_column(0, Type::Blob, "a session hash is not 32 bytes"))?,
                    created_at: row.get(1)?,
                    last_seen: row.get(2)?,
                })
            })?
            .collect()
        })
        .map_err(|e| backend("read sessions", e))
}

pub(super) fn delete_session(conn: &Connection, id_hash: [u8; 32]) -> Result<bool, StoreError> {
    conn.prepare_cached("DELETE FROM sessions WHERE id_hash = ?1")
        .and_then(|mut stmt| stmt.execute([&id_hash[..]]))
        .map(|n| n > 0)
        .map_err(|e| backend("delete session", e))
}

pub(super) fn prune_nonces(conn: &Connection, before: i64) -> Result<u64, StoreError> {
    conn.prepare_cached("DELETE FROM nonces WHERE expires_at < ?1")
        .and_then(|mut stmt| stmt.execute([before]))
        .map(|n| n as u64)
        .map_err(|e| backend("prune nonces", e))
}
