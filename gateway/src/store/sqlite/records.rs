//! The rest of what a run and the gateway keep: commands, artifacts, sign-in sessions, people
//! and invitations, the key/value table, and the pruning of expired nonces (recording one is ingest's, `writer.rs`).

use common::wire::{ArtifactInfo, Command, CommandKind};
use rusqlite::types::Type;
use rusqlite::{Connection, ErrorCode, OptionalExtension, Row, TransactionBehavior};
use sha2::{Digest, Sha256};

use super::codec::{artifact_info, bad_column, command, command_kind_name, sql_limit};
use super::conn::backend;
use super::runs::run_exists;
use crate::clock::now_ms;
use crate::store::{
    ArtifactBody, AuditEntry, Invitation, Person, Role, StoreError, StoredPasskey, StoredSession,
};

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
    upsert_artifact(&tx, &run_id, &info, &bytes, None)?;
    tx.commit().map_err(|e| backend("commit artifact", e))?;
    Ok(info)
}

/// Inserts or replaces the artifact's row; a replaced object body is queued for deletion by the
/// `artifact_object_replaced` trigger.
fn upsert_artifact(
    tx: &rusqlite::Transaction<'_>,
    run_id: &str,
    info: &ArtifactInfo,
    data: &[u8],
    object_key: Option<&str>,
) -> Result<(), StoreError> {
    tx.prepare_cached(
        "INSERT INTO artifacts (run_id, name, size, sha256, created_at, data, object_key)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (run_id, name) DO UPDATE SET size = excluded.size,
             sha256 = excluded.sha256, created_at = excluded.created_at,
             data = excluded.data, object_key = excluded.object_key",
    )
    .and_then(|mut stmt| {
        stmt.execute(rusqlite::params![
            run_id,
            info.name,
            info.size,
            info.sha256,
            info.created_at,
            data,
            object_key
        ])
    })
    .map_err(|e| backend(format!("store artifact {run_id}/{}", info.name), e))?;
    Ok(())
}

pub(super) fn put_artifact_object(
    conn: &mut Connection,
    run_id: String,
    info: ArtifactInfo,
    key: String,
) -> Result<(), StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| backend("begin artifact", e))?;
    if !run_exists(&tx, &run_id)? {
        return Err(StoreError::NotFound);
    }
    upsert_artifact(&tx, &run_id, &info, &[], Some(&key))?;
    tx.prepare_cached("DELETE FROM object_deletions WHERE key = ?1")
        .and_then(|mut stmt| stmt.execute([&key]))
        .map_err(|e| backend("keep the uploaded object", e))?;
    tx.commit().map_err(|e| backend("commit artifact", e))?;
    Ok(())
}

pub(super) fn queue_object_deletion(
    conn: &Connection,
    key: String,
    due: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO object_deletions (key, due) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET due = min(due, excluded.due)",
    )
    .and_then(|mut stmt| stmt.execute(rusqlite::params![key, due]))
    .map_err(|e| backend("queue an object's deletion", e))?;
    Ok(())
}

pub(super) fn due_object_deletions(
    conn: &Connection,
    now: i64,
    limit: usize,
) -> Result<Vec<String>, StoreError> {
    conn.prepare_cached(
        "SELECT key FROM object_deletions WHERE due <= ?1 ORDER BY due, key LIMIT ?2",
    )
    .and_then(|mut stmt| {
        stmt.query_map(rusqlite::params![now, sql_limit(limit)], |row| row.get(0))?
            .collect()
    })
    .map_err(|e| backend("read the object deletion queue", e))
}

pub(super) fn forget_object_deletions(
    conn: &mut Connection,
    keys: Vec<String>,
) -> Result<(), StoreError> {
    let tx = conn
        .transaction()
        .map_err(|e| backend("begin forgetting deleted objects", e))?;
    {
        let mut stmt = tx
            .prepare_cached("DELETE FROM object_deletions WHERE key = ?1")
            .map_err(|e| backend("forget deleted objects", e))?;
        for key in &keys {
            stmt.execute([key])
                .map_err(|e| backend("forget a deleted object", e))?;
        }
    }
    tx.commit()
        .map_err(|e| backend("commit forgetting deleted objects", e))
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
) -> Result<Option<(ArtifactInfo, ArtifactBody)>, StoreError> {
    conn.prepare_cached(
        "SELECT name, size, sha256, created_at, object_key, data FROM artifacts
         WHERE run_id = ?1 AND name = ?2",
    )
    .and_then(|mut stmt| {
        stmt.query_row([&run_id, &name], |row| {
            let body = match row.get::<_, Option<String>>(4)? {
                Some(key) => ArtifactBody::Object(key),
                None => ArtifactBody::Inline(row.get(5)?),
            };
            Ok((artifact_info(row)?, body))
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

pub(super) fn meta_or_insert(
    conn: &Connection,
    key: String,
    value: String,
) -> Result<String, StoreError> {
    conn.prepare_cached(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO NOTHING",
    )
    .and_then(|mut stmt| stmt.execute([&key, &value]))
    .map_err(|e| backend(format!("write meta {key}"), e))?;
    conn.prepare_cached("SELECT value FROM meta WHERE key = ?1")
        .and_then(|mut stmt| stmt.query_row([&key], |row| row.get(0)))
        .map_err(|e| backend(format!("read meta {key}"), e))
}

pub(super) fn save_session(conn: &Connection, session: StoredSession) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO sessions (id_hash, created_at, last_seen, person_id, device)
         VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (id_hash) DO UPDATE SET last_seen = excluded.last_seen,
             person_id = excluded.person_id, device = excluded.device",
    )
    .and_then(|mut stmt| {
        stmt.execute(rusqlite::params![
            &session.id_hash[..],
            session.created_at,
            session.last_seen,
            session.person_id,
            session.device,
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
    conn.prepare_cached("SELECT id_hash, created_at, last_seen, person_id, device FROM sessions")
        .and_then(|mut stmt| {
            stmt.query_map([], |row| {
                Ok(StoredSession {
                    id_hash: hash32(row, 0, "a session hash is not 32 bytes")?,
                    created_at: row.get(1)?,
                    last_seen: row.get(2)?,
                    person_id: row.get(3)?,
                    device: row.get(4)?,
                })
            })?
            .collect()
        })
        .map_err(|e| backend("read sessions", e))
}

pub(super) fn session(
    conn: &Connection,
    id_hash: [u8; 32],
) -> Result<Option<StoredSession>, StoreError> {
    conn.prepare_cached(
        "SELECT id_hash, created_at, last_seen, person_id, device FROM sessions WHERE id_hash = ?1",
    )
    .and_then(|mut stmt| {
        stmt.query_row([&id_hash[..]], |row| {
            Ok(StoredSession {
                id_hash: hash32(row, 0, "a session hash is not 32 bytes")?,
                created_at: row.get(1)?,
                last_seen: row.get(2)?,
                person_id: row.get(3)?,
                device: row.get(4)?,
            })
        })
        .optional()
    })
    .map_err(|e| backend("read session", e))
}

pub(super) fn count(
    conn: &Connection,
    key: String,
    window: i64,
    delta: i64,
) -> Result<i64, StoreError> {
    conn.prepare_cached(
        "INSERT INTO counters (key, window_start, count) VALUES (?1, ?2, ?3)
         ON CONFLICT (key) DO UPDATE SET
             count = CASE WHEN window_start = excluded.window_start
                 THEN count + excluded.count ELSE excluded.count END,
             window_start = excluded.window_start
         RETURNING count",
    )
    .and_then(|mut stmt| stmt.query_row(rusqlite::params![key, window, delta], |row| row.get(0)))
    .map_err(|e| backend("count", e))
}

pub(super) fn delete_session(conn: &Connection, id_hash: [u8; 32]) -> Result<bool, StoreError> {
    conn.prepare_cached("DELETE FROM sessions WHERE id_hash = ?1")
        .and_then(|mut stmt| stmt.execute([&id_hash[..]]))
        .map(|n| n > 0)
        .map_err(|e| backend("delete session", e))
}

pub(super) fn delete_sessions_of(conn: &Connection, person_id: String) -> Result<u64, StoreError> {
    conn.prepare_cached("DELETE FROM sessions WHERE person_id = ?1")
        .and_then(|mut stmt| stmt.execute([&person_id]))
        .map(|n| n as u64)
        .map_err(|e| backend("delete sessions of a person", e))
}

/// A 32-byte hash in column `index`.
fn hash32(row: &Row<'_>, index: usize, why: &str) -> rusqlite::Result<[u8; 32]> {
    let hash: Vec<u8> = row.get(index)?;
    hash.try_into()
        .map_err(|_| bad_column(index, Type::Blob, why))
}

fn role(row: &Row<'_>, index: usize) -> rusqlite::Result<Role> {
    let text: String = row.get(index)?;
    Role::parse(&text)
        .ok_or_else(|| bad_column(index, Type::Text, format!("unknown role {text:?}")))
}

/// A unique constraint broken is the caller's conflict, not a failure of the database.
fn conflict_or(what: &str, e: rusqlite::Error) -> StoreError {
    match e.sqlite_error_code() {
        Some(ErrorCode::ConstraintViolation) => StoreError::Conflict,
        _ => backend(what, e),
    }
}

const PERSON_COLUMNS: &str = "id, name, role, created_at, disabled_at, password_hash";

fn person_row(row: &Row<'_>) -> rusqlite::Result<Person> {
    Ok(Person {
        id: row.get(0)?,
        name: row.get(1)?,
        role: role(row, 2)?,
        created_at: row.get(3)?,
        disabled_at: row.get(4)?,
        password_hash: row.get(5)?,
    })
}

pub(super) fn create_person(conn: &Connection, p: Person) -> Result<(), StoreError> {
    conn.prepare_cached(&format!(
        "INSERT INTO people ({PERSON_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
    ))
    .and_then(|mut stmt| {
        stmt.execute(rusqlite::params![
            p.id,
            p.name,
            p.role.as_str(),
            p.created_at,
            p.disabled_at,
            p.password_hash
        ])
    })
    .map_err(|e| conflict_or("create person", e))?;
    Ok(())
}

pub(super) fn update_person(conn: &Connection, p: Person) -> Result<bool, StoreError> {
    conn.prepare_cached(
        "UPDATE people SET name = ?2, role = ?3, disabled_at = ?4, password_hash = ?5
         WHERE id = ?1",
    )
    .and_then(|mut stmt| {
        stmt.execute(rusqlite::params![
            p.id,
            p.name,
            p.role.as_str(),
            p.disabled_at,
            p.password_hash
        ])
    })
    .map(|n| n > 0)
    .map_err(|e| conflict_or("update person", e))
}

pub(super) fn person(conn: &Connection, id: String) -> Result<Option<Person>, StoreError> {
    conn.prepare_cached(&format!(
        "SELECT {PERSON_COLUMNS} FROM people WHERE id = ?1"
    ))
    .and_then(|mut stmt| stmt.query_row([&id], person_row).optional())
    .map_err(|e| backend("read person", e))
}

pub(super) fn person_by_name(
    conn: &Connection,
    name: String,
) -> Result<Option<Person>, StoreError> {
    conn.prepare_cached(&format!(
        "SELECT {PERSON_COLUMNS} FROM people WHERE name = ?1"
    ))
    .and_then(|mut stmt| stmt.query_row([&name], person_row).optional())
    .map_err(|e| backend("read person by name", e))
}

pub(super) fn people(conn: &Connection) -> Result<Vec<Person>, StoreError> {
    conn.prepare_cached(&format!(
        "SELECT {PERSON_COLUMNS} FROM people ORDER BY created_at, rowid"
    ))
    .and_then(|mut stmt| stmt.query_map([], person_row)?.collect())
    .map_err(|e| backend("read people", e))
}

const INVITATION_COLUMNS: &str = "token_hash, name, role, created_by, created_at, expires_at";

fn invitation_row(row: &Row<'_>) -> rusqlite::Result<Invitation> {
    Ok(Invitation {
        token_hash: hash32(row, 0, "an invitation hash is not 32 bytes")?,
        name: row.get(1)?,
        role: role(row, 2)?,
        created_by: row.get(3)?,
        created_at: row.get(4)?,
        expires_at: row.get(5)?,
    })
}

pub(super) fn create_invitation(conn: &Connection, i: Invitation) -> Result<(), StoreError> {
    conn.prepare_cached(&format!(
        "INSERT INTO invitations ({INVITATION_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
    ))
    .and_then(|mut stmt| {
        stmt.execute(rusqlite::params![
            &i.token_hash[..],
            i.name,
            i.role.as_str(),
            i.created_by,
            i.created_at,
            i.expires_at
        ])
    })
    .map_err(|e| conflict_or("create invitation", e))?;
    Ok(())
}

pub(super) fn invitation(
    conn: &Connection,
    token_hash: [u8; 32],
    now: i64,
) -> Result<Option<Invitation>, StoreError> {
    conn.prepare_cached(&format!(
        "SELECT {INVITATION_COLUMNS} FROM invitations
         WHERE token_hash = ?1 AND used_at IS NULL AND expires_at > ?2"
    ))
    .and_then(|mut stmt| {
        stmt.query_row(rusqlite::params![&token_hash[..], now], invitation_row)
            .optional()
    })
    .map_err(|e| backend("read invitation", e))
}

pub(super) fn take_invitation(
    conn: &Connection,
    token_hash: [u8; 32],
    now: i64,
) -> Result<Option<Invitation>, StoreError> {
    conn.prepare_cached(&format!(
        "UPDATE invitations SET used_at = ?2
         WHERE token_hash = ?1 AND used_at IS NULL AND expires_at > ?2
         RETURNING {INVITATION_COLUMNS}"
    ))
    .and_then(|mut stmt| {
        stmt.query_row(rusqlite::params![&token_hash[..], now], invitation_row)
            .optional()
    })
    .map_err(|e| backend("use invitation", e))
}

pub(super) fn open_invitations(conn: &Connection, now: i64) -> Result<Vec<Invitation>, StoreError> {
    conn.prepare_cached(&format!(
        "SELECT {INVITATION_COLUMNS} FROM invitations
         WHERE used_at IS NULL AND expires_at > ?1 ORDER BY created_at"
    ))
    .and_then(|mut stmt| stmt.query_map([now], invitation_row)?.collect())
    .map_err(|e| backend("read invitations", e))
}

const PASSKEY_COLUMNS: &str =
    "credential_id, person_id, static_state, dynamic_state, created_at, last_used_at";

fn passkey_row(row: &Row<'_>) -> rusqlite::Result<StoredPasskey> {
    let dynamic: Vec<u8> = row.get(3)?;
    Ok(StoredPasskey {
        credential_id: row.get(0)?,
        person_id: row.get(1)?,
        static_state: row.get(2)?,
        dynamic_state: dynamic
            .try_into()
            .map_err(|_| bad_column(3, Type::Blob, "a passkey's state is not 7 bytes"))?,
        created_at: row.get(4)?,
        last_used_at: row.get(5)?,
    })
}

pub(super) fn add_passkey(conn: &Connection, p: StoredPasskey) -> Result<(), StoreError> {
    conn.prepare_cached(&format!(
        "INSERT INTO passkeys ({PASSKEY_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
    ))
    .and_then(|mut stmt| {
        stmt.execute(rusqlite::params![
            p.credential_id,
            p.person_id,
            p.static_state,
            &p.dynamic_state[..],
            p.created_at,
            p.last_used_at
        ])
    })
    .map_err(|e| conflict_or("add passkey", e))?;
    Ok(())
}

pub(super) fn passkey(
    conn: &Connection,
    credential_id: Vec<u8>,
) -> Result<Option<StoredPasskey>, StoreError> {
    conn.prepare_cached(&format!(
        "SELECT {PASSKEY_COLUMNS} FROM passkeys WHERE credential_id = ?1"
    ))
    .and_then(|mut stmt| stmt.query_row([&credential_id], passkey_row).optional())
    .map_err(|e| backend("read passkey", e))
}

pub(super) fn passkeys_of(
    conn: &Connection,
    person_id: String,
) -> Result<Vec<StoredPasskey>, StoreError> {
    conn.prepare_cached(&format!(
        "SELECT {PASSKEY_COLUMNS} FROM passkeys WHERE person_id = ?1 ORDER BY created_at, rowid"
    ))
    .and_then(|mut stmt| stmt.query_map([&person_id], passkey_row)?.collect())
    .map_err(|e| backend("read passkeys", e))
}

pub(super) fn use_passkey(
    conn: &Connection,
    credential_id: Vec<u8>,
    dynamic_state: [u8; 7],
    at: i64,
) -> Result<bool, StoreError> {
    conn.prepare_cached(
        "UPDATE passkeys SET dynamic_state = ?2, last_used_at = ?3 WHERE credential_id = ?1",
    )
    .and_then(|mut stmt| stmt.execute(rusqlite::params![credential_id, &dynamic_state[..], at]))
    .map(|n| n > 0)
    .map_err(|e| backend("record passkey use", e))
}

pub(super) fn create_pairing(
    conn: &Connection,
    code_hash: [u8; 32],
    person_id: String,
    expires_at: i64,
) -> Result<(), StoreError> {
    // Pairings past their time are of no use: they go when a new one is made.
    conn.prepare_cached("DELETE FROM pairings WHERE expires_at < ?1")
        .and_then(|mut stmt| stmt.execute([crate::clock::now_ms()]))
        .map_err(|e| backend("forget old pairings", e))?;
    conn.prepare_cached(
        "INSERT INTO pairings (code_hash, person_id, expires_at) VALUES (?1, ?2, ?3)",
    )
    .and_then(|mut stmt| stmt.execute(rusqlite::params![&code_hash[..], person_id, expires_at]))
    .map_err(|e| conflict_or("create pairing", e))?;
    Ok(())
}

pub(super) fn take_pairing(
    conn: &Connection,
    code_hash: [u8; 32],
    now: i64,
) -> Result<Option<String>, StoreError> {
    conn.prepare_cached(
        "UPDATE pairings SET used_at = ?2
         WHERE code_hash = ?1 AND used_at IS NULL AND expires_at > ?2
         RETURNING person_id",
    )
    .and_then(|mut stmt| {
        stmt.query_row(rusqlite::params![&code_hash[..], now], |row| row.get(0))
            .optional()
    })
    .map_err(|e| backend("use pairing", e))
}

pub(super) fn create_ceremony(
    conn: &Connection,
    challenge: [u8; 16],
    kind: &'static str,
    state: Vec<u8>,
    expires_at: i64,
    limit: u64,
) -> Result<bool, StoreError> {
    conn.prepare_cached("DELETE FROM passkey_ceremonies WHERE expires_at <= ?1")
        .and_then(|mut stmt| stmt.execute([crate::clock::now_ms()]))
        .map_err(|e| backend("forget expired passkey ceremonies", e))?;
    conn.prepare_cached(
        "INSERT INTO passkey_ceremonies (challenge, kind, state, expires_at)
         SELECT ?1, ?2, ?3, ?4 WHERE (SELECT count(*) FROM passkey_ceremonies) < ?5",
    )
    .and_then(|mut stmt| {
        stmt.execute(rusqlite::params![
            &challenge[..],
            kind,
            state,
            expires_at,
            i64::try_from(limit).unwrap_or(i64::MAX)
        ])
    })
    .map(|n| n > 0)
    .map_err(|e| conflict_or("store passkey ceremony", e))
}

pub(super) fn take_ceremony(
    conn: &Connection,
    challenge: [u8; 16],
    kind: &'static str,
    now: i64,
) -> Result<Option<Vec<u8>>, StoreError> {
    let taken: Option<(Vec<u8>, i64)> = conn
        .prepare_cached(
            "DELETE FROM passkey_ceremonies WHERE challenge = ?1 AND kind = ?2
             RETURNING state, expires_at",
        )
        .and_then(|mut stmt| {
            stmt.query_row(rusqlite::params![&challenge[..], kind], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .optional()
        })
        .map_err(|e| backend("take passkey ceremony", e))?;
    Ok(taken.and_then(|(state, expires_at)| (expires_at > now).then_some(state)))
}

const AUDIT_COLUMNS: &str = "id, at, actor_id, actor_name, action, run_id, target, detail, source";

fn audit_row(row: &Row<'_>) -> rusqlite::Result<AuditEntry> {
    let detail: String = row.get(7)?;
    Ok(AuditEntry {
        id: row.get(0)?,
        at: row.get(1)?,
        actor_id: row.get(2)?,
        actor_name: row.get(3)?,
        action: row.get(4)?,
        run_id: row.get(5)?,
        target: row.get(6)?,
        detail: serde_json::from_str(&detail)
            .map_err(|e| bad_column(7, Type::Text, format!("audit detail is not JSON: {e}")))?,
        source: row.get(8)?,
    })
}

pub(super) fn append_audit(conn: &Connection, e: AuditEntry) -> Result<u64, StoreError> {
    conn.prepare_cached(
        "INSERT INTO audit (at, actor_id, actor_name, action, run_id, target, detail, source)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) RETURNING id",
    )
    .and_then(|mut stmt| {
        stmt.query_row(
            rusqlite::params![
                e.at,
                e.actor_id,
                e.actor_name,
                e.action,
                e.run_id,
                e.target,
                e.detail.to_string(),
                e.source
            ],
            |row| row.get(0),
        )
    })
    .map_err(|e| backend("append to the audit log", e))
}

pub(super) fn audit(
    conn: &Connection,
    before: Option<u64>,
    limit: usize,
) -> Result<Vec<AuditEntry>, StoreError> {
    let before = before.map_or(i64::MAX, |b| i64::try_from(b).unwrap_or(i64::MAX));
    conn.prepare_cached(&format!(
        "SELECT {AUDIT_COLUMNS} FROM audit WHERE id < ?1 ORDER BY id DESC LIMIT ?2"
    ))
    .and_then(|mut stmt| {
        stmt.query_map(rusqlite::params![before, limit as i64], audit_row)?
            .collect()
    })
    .map_err(|e| backend("read the audit log", e))
}

pub(super) fn audit_after(
    conn: &Connection,
    after: u64,
    limit: usize,
) -> Result<Vec<AuditEntry>, StoreError> {
    let after = i64::try_from(after).unwrap_or(i64::MAX);
    conn.prepare_cached(&format!(
        "SELECT {AUDIT_COLUMNS} FROM audit WHERE id > ?1 ORDER BY id LIMIT ?2"
    ))
    .and_then(|mut stmt| {
        stmt.query_map(rusqlite::params![after, limit as i64], audit_row)?
            .collect()
    })
    .map_err(|e| backend("read the audit log forwards", e))
}

pub(super) fn run_audit(conn: &Connection, run_id: String) -> Result<Vec<AuditEntry>, StoreError> {
    conn.prepare_cached(&format!(
        "SELECT {AUDIT_COLUMNS} FROM audit WHERE run_id = ?1 ORDER BY id"
    ))
    .and_then(|mut stmt| stmt.query_map([&run_id], audit_row)?.collect())
    .map_err(|e| backend(format!("read the audit log of {run_id}"), e))
}

pub(super) fn prune_nonces(conn: &Connection, before: i64) -> Result<u64, StoreError> {
    conn.prepare_cached("DELETE FROM nonces WHERE expires_at < ?1")
        .and_then(|mut stmt| stmt.execute([before]))
        .map(|n| n as u64)
        .map_err(|e| backend("prune nonces", e))
}
