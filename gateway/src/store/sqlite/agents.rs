//! Agents, enrollment tokens and the queue of runs, in SQL. A claim is one `IMMEDIATE`
//! transaction on the writer: no other claim, from this process or another, can come between
//! its read of the queue and its assignment.

use common::agents::{AgentProfile, AgentSummary, ApiTokenInfo, RunRequest, admits};
use common::wire::RunStatus;
use rusqlite::types::Type;
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior};

use super::codec::{bad_column, is_primary_key_conflict, last_event_at_sql, last_seq_sql};
use super::conn::backend;
use crate::store::{AgentRecord, Claimed, NewAgent, QueuedRun, StoreError, claimable};

const AGENT_COLUMNS: &str = "id, name, profile, created_at, last_seen, online, drain_requested, \
    revoked_at, key, (SELECT count(*) FROM runs WHERE runs.agent_id = agents.id \
    AND runs.status IN ('pending', 'running'))";

fn agent_record(row: &Row<'_>) -> rusqlite::Result<AgentRecord> {
    let profile: AgentProfile = serde_json::from_str(row.get_ref(2)?.as_str()?)
        .map_err(|e| bad_column(2, Type::Text, format!("agent profile: {e}")))?;
    Ok(AgentRecord {
        summary: AgentSummary {
            id: row.get(0)?,
            name: row.get(1)?,
            profile,
            created_at: row.get(3)?,
            last_seen: row.get(4)?,
            online: row.get(5)?,
            drain_requested: row.get(6)?,
            revoked: row.get::<_, Option<i64>>(7)?.is_some(),
            running: row.get(9)?,
        },
        key: row.get(8)?,
    })
}

fn profile_json(profile: &AgentProfile) -> Result<String, StoreError> {
    serde_json::to_string(profile).map_err(|e| StoreError::Backend(format!("agent profile: {e}")))
}

fn is_unique_conflict(err: &rusqlite::Error) -> bool {
    matches!(
        err,
        rusqlite::Error::SqliteFailure(e, _)
            if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
    ) || is_primary_key_conflict(err)
}

pub(super) fn create_enrollment(
    conn: &Connection,
    token_hash: [u8; 32],
    created_at: i64,
    expires_at: i64,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO enrollments (token_hash, created_at, expires_at) VALUES (?1, ?2, ?3)",
    )
    .and_then(|mut stmt| stmt.execute(rusqlite::params![&token_hash[..], created_at, expires_at]))
    .map_err(|e| {
        if is_primary_key_conflict(&e) {
            StoreError::Conflict
        } else {
            backend("create enrollment token", e)
        }
    })?;
    Ok(())
}

pub(super) fn enroll_agent(
    conn: &mut Connection,
    token_hash: [u8; 32],
    agent: NewAgent,
) -> Result<(), StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| backend("begin enrollment", e))?;
    let used = tx
        .prepare_cached(
            "UPDATE enrollments SET agent_id = ?2
             WHERE token_hash = ?1 AND agent_id IS NULL AND expires_at > ?3",
        )
        .and_then(|mut stmt| {
            stmt.execute(rusqlite::params![
                &token_hash[..],
                agent.id,
                agent.created_at
            ])
        })
        .map_err(|e| backend("use enrollment token", e))?;
    if used != 1 {
        return Err(StoreError::NotFound);
    }
    let profile = profile_json(&agent.profile)?;
    tx.prepare_cached(
        "INSERT INTO agents (id, name, key, profile, created_at, last_seen)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
    )
    .and_then(|mut stmt| {
        stmt.execute(rusqlite::params![
            agent.id,
            agent.name,
            agent.key,
            profile,
            agent.created_at
        ])
    })
    .map_err(|e| {
        if is_unique_conflict(&e) {
            StoreError::Conflict
        } else {
            backend(format!("store agent {}", agent.name), e)
        }
    })?;
    tx.commit().map_err(|e| backend("commit enrollment", e))
}

pub(super) fn agent(conn: &Connection, id: &str) -> Result<Option<AgentRecord>, StoreError> {
    conn.prepare_cached(&format!("SELECT {AGENT_COLUMNS} FROM agents WHERE id = ?1"))
        .and_then(|mut stmt| stmt.query_row([id], agent_record).optional())
        .map_err(|e| backend(format!("read agent {id}"), e))
}

pub(super) fn list_agents(conn: &Connection) -> Result<Vec<AgentSummary>, StoreError> {
    conn.prepare_cached(&format!(
        "SELECT {AGENT_COLUMNS} FROM agents ORDER BY name, created_at"
    ))
    .and_then(|mut stmt| {
        stmt.query_map([], |row| agent_record(row).map(|r| r.summary))?
            .collect()
    })
    .map_err(|e| backend("list agents", e))
}

pub(super) fn agent_seen(
    conn: &Connection,
    id: String,
    profile: Option<AgentProfile>,
    now: i64,
) -> Result<Option<AgentSummary>, StoreError> {
    let profile = profile.as_ref().map(profile_json).transpose()?;
    let changed = conn
        .prepare_cached(
            "UPDATE agents SET last_seen = max(last_seen, ?2), online = 1,
                 profile = ifnull(?3, profile)
             WHERE id = ?1 AND revoked_at IS NULL",
        )
        .and_then(|mut stmt| stmt.execute(rusqlite::params![id, now, profile]))
        .map_err(|e| backend(format!("record agent {id} seen"), e))?;
    if changed == 0 {
        return Ok(None);
    }
    Ok(agent(conn, &id)?.map(|a| a.summary))
}

pub(super) fn set_agent_drain(
    conn: &Connection,
    id: String,
    drain: bool,
) -> Result<bool, StoreError> {
    conn.prepare_cached("UPDATE agents SET drain_requested = ?2 WHERE id = ?1")
        .and_then(|mut stmt| stmt.execute(rusqlite::params![id, drain]))
        .map(|n| n > 0)
        .map_err(|e| backend(format!("drain agent {id}"), e))
}

pub(super) fn revoke_agent(conn: &Connection, id: String, now: i64) -> Result<bool, StoreError> {
    conn.prepare_cached("UPDATE agents SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL")
        .and_then(|mut stmt| stmt.execute(rusqlite::params![id, now]))
        .map(|n| n > 0)
        .map_err(|e| backend(format!("revoke agent {id}"), e))
}

pub(super) fn mark_agents_offline(
    conn: &Connection,
    seen_before: i64,
) -> Result<Vec<String>, StoreError> {
    conn.prepare_cached(
        "UPDATE agents SET online = 0 WHERE online = 1 AND last_seen < ?1 RETURNING id",
    )
    .and_then(|mut stmt| stmt.query_map([seen_before], |row| row.get(0))?.collect())
    .map_err(|e| backend("mark agents offline", e))
}

pub(super) fn queue_run(conn: &Connection, queued: QueuedRun) -> Result<(), StoreError> {
    let run = queued.run;
    let request = serde_json::to_string(&queued.request)
        .map_err(|e| StoreError::Backend(format!("run request: {e}")))?;
    conn.prepare_cached(
        "INSERT INTO runs (id, name, prompt, cwd, key, status, created_at, request)
         VALUES (?1, ?2, ?3, ?4, ?5, 'queued', ?6, ?7)",
    )
    .and_then(|mut stmt| {
        stmt.execute(rusqlite::params![
            run.id,
            run.name,
            run.prompt,
            run.cwd,
            run.key,
            run.created_at,
            request
        ])
    })
    .map_err(|e| {
        if is_primary_key_conflict(&e) {
            StoreError::Conflict
        } else {
            backend(format!("queue run {}", run.id), e)
        }
    })?;
    Ok(())
}

pub(super) fn claim_run(
    conn: &mut Connection,
    agent_id: String,
    now: i64,
) -> Result<Option<Claimed>, StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| backend("begin claim", e))?;
    let Some(agent) = agent(&tx, &agent_id)? else {
        return Ok(None);
    };
    if !claimable(&agent.summary) {
        return Ok(None);
    }
    let mut found = None;
    {
        let mut stmt = tx
            .prepare_cached(
                "SELECT id, name, key, request FROM runs WHERE status = 'queued' ORDER BY rowid",
            )
            .map_err(|e| backend("prepare queue read", e))?;
        let rows = stmt
            .query_map([], |row| {
                let request: RunRequest = serde_json::from_str(row.get_ref(3)?.as_str()?)
                    .map_err(|e| bad_column(3, Type::Text, format!("run request: {e}")))?;
                Ok(Claimed {
                    run_id: row.get(0)?,
                    name: row.get(1)?,
                    key: row.get(2)?,
                    request,
                })
            })
            .map_err(|e| backend("read the queue", e))?;
        for row in rows {
            let claimed = row.map_err(|e| backend("read the queue", e))?;
            if admits(
                &agent.summary.name,
                &agent.summary.profile,
                &claimed.request,
            )
            .is_ok()
            {
                found = Some(claimed);
                break;
            }
        }
    }
    let Some(claimed) = found else {
        return Ok(None);
    };
    tx.prepare_cached(
        "UPDATE runs SET status = ?2, agent_id = ?3, assigned_at = ?4
         WHERE id = ?1 AND status = 'queued'",
    )
    .and_then(|mut stmt| {
        stmt.execute(rusqlite::params![
            claimed.run_id,
            RunStatus::Pending.as_str(),
            agent_id,
            now
        ])
    })
    .map_err(|e| backend(format!("assign run {}", claimed.run_id), e))?;
    tx.commit().map_err(|e| backend("commit claim", e))?;
    Ok(Some(claimed))
}

pub(super) fn cancel_queued_run(
    conn: &Connection,
    id: String,
    reason: String,
    now: i64,
) -> Result<bool, StoreError> {
    conn.prepare_cached(
        "UPDATE runs SET status = 'stopped', finished_at = ?2, reason = ?3
         WHERE id = ?1 AND status = 'queued'",
    )
    .and_then(|mut stmt| stmt.execute(rusqlite::params![id, now, reason]))
    .map(|n| n > 0)
    .map_err(|e| backend(format!("cancel run {id}"), e))
}

pub(super) fn lose_runs(
    conn: &mut Connection,
    agent_id: String,
    holding: Vec<String>,
    reason: String,
    now: i64,
) -> Result<Vec<String>, StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| backend("begin losing runs", e))?;
    let open: Vec<String> = tx
        .prepare_cached(
            "SELECT id FROM runs WHERE agent_id = ?1 AND status IN ('pending', 'running')
             ORDER BY rowid",
        )
        .and_then(|mut stmt| stmt.query_map([&agent_id], |row| row.get(0))?.collect())
        .map_err(|e| backend(format!("runs of agent {agent_id}"), e))?;
    let lost: Vec<String> = open
        .into_iter()
        .filter(|id| !holding.contains(id))
        .collect();
    for id in &lost {
        // The row's progress brought up to its chunks' (ingest leaves it behind while the run
        // lives; see `writer.rs`), as the end of a run's stream would have.
        tx.prepare_cached(concat!(
            "UPDATE runs SET status = 'lost', finished_at = ?2, reason = ?3, last_seq = ",
            last_seq_sql!(),
            ", last_event_at = ",
            last_event_at_sql!(),
            " WHERE id = ?1"
        ))
        .and_then(|mut stmt| stmt.execute(rusqlite::params![id, now, reason]))
        .map_err(|e| backend(format!("lose run {id}"), e))?;
    }
    tx.commit().map_err(|e| backend("commit lost runs", e))?;
    Ok(lost)
}

pub(super) fn run_request(conn: &Connection, id: &str) -> Result<Option<RunRequest>, StoreError> {
    let text: Option<Option<String>> = conn
        .prepare_cached("SELECT request FROM runs WHERE id = ?1")
        .and_then(|mut stmt| stmt.query_row([id], |row| row.get(0)).optional())
        .map_err(|e| backend(format!("read the request of run {id}"), e))?;
    text.flatten()
        .map(|t| {
            serde_json::from_str(&t)
                .map_err(|e| StoreError::Backend(format!("run request of {id}: {e}")))
        })
        .transpose()
}

/// The columns [`api_token_info`] reads, in its order.
const API_TOKEN_COLUMNS: &str =
    "id, name, scopes, created_at, revoked_at, person_id, expires_at, first_used_at";

fn api_token_info(row: &Row<'_>) -> rusqlite::Result<ApiTokenInfo> {
    let scopes: String = row.get(2)?;
    Ok(ApiTokenInfo {
        id: row.get(0)?,
        name: row.get(1)?,
        scopes: scopes
            .split(',')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
        created_at: row.get(3)?,
        revoked: row.get::<_, Option<i64>>(4)?.is_some(),
        person_id: row.get::<_, Option<String>>(5)?.unwrap_or_default(),
        expires_at: row.get(6)?,
        first_used_at: row.get(7)?,
    })
}

pub(super) fn create_api_token(
    conn: &Connection,
    info: ApiTokenInfo,
    hash: [u8; 32],
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO api_tokens (id, hash, name, scopes, created_at, person_id, expires_at,
             first_used_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )
    .and_then(|mut stmt| {
        stmt.execute(rusqlite::params![
            info.id,
            &hash[..],
            info.name,
            info.scopes.join(","),
            info.created_at,
            info.person_id,
            info.expires_at,
            info.first_used_at,
        ])
    })
    .map_err(|e| {
        if is_unique_conflict(&e) {
            StoreError::Conflict
        } else {
            backend("create API token", e)
        }
    })?;
    Ok(())
}

/// Replaces the token with `info.id` (hash, scopes, owner; not revoked), or creates it.
pub(super) fn put_api_token(
    conn: &Connection,
    info: ApiTokenInfo,
    hash: [u8; 32],
) -> Result<(), StoreError> {
    conn.prepare_cached("DELETE FROM api_tokens WHERE id = ?1")
        .and_then(|mut stmt| stmt.execute([&info.id]))
        .map_err(|e| backend("replace API token", e))?;
    create_api_token(conn, info, hash)
}

pub(super) fn api_token(
    conn: &Connection,
    hash: [u8; 32],
) -> Result<Option<ApiTokenInfo>, StoreError> {
    conn.prepare_cached(&format!(
        "SELECT {API_TOKEN_COLUMNS} FROM api_tokens WHERE hash = ?1"
    ))
    .and_then(|mut stmt| stmt.query_row([&hash[..]], api_token_info).optional())
    .map_err(|e| backend("read API token", e))
}

/// Notes the token's first use at `at`; `true` if this was it.
pub(super) fn note_api_token_used(
    conn: &Connection,
    id: String,
    at: i64,
) -> Result<bool, StoreError> {
    conn.prepare_cached(
        "UPDATE api_tokens SET first_used_at = ?2 WHERE id = ?1 AND first_used_at IS NULL",
    )
    .and_then(|mut stmt| stmt.execute(rusqlite::params![id, at]))
    .map(|n| n > 0)
    .map_err(|e| backend("note an API token's first use", e))
}

/// Gives the tokens that have no person (made before tokens had one) to `person_id`.
pub(super) fn claim_api_tokens(conn: &Connection, person_id: String) -> Result<u64, StoreError> {
    conn.prepare_cached("UPDATE api_tokens SET person_id = ?1 WHERE person_id IS NULL")
        .and_then(|mut stmt| stmt.execute([&person_id]))
        .map(|n| n as u64)
        .map_err(|e| backend("give API tokens their person", e))
}

pub(super) fn list_api_tokens(conn: &Connection) -> Result<Vec<ApiTokenInfo>, StoreError> {
    conn.prepare_cached(&format!(
        "SELECT {API_TOKEN_COLUMNS} FROM api_tokens ORDER BY created_at, id"
    ))
    .and_then(|mut stmt| stmt.query_map([], api_token_info)?.collect())
    .map_err(|e| backend("list API tokens", e))
}

pub(super) fn revoke_api_token(conn: &Connection, id: String) -> Result<bool, StoreError> {
    conn.prepare_cached(
        "UPDATE api_tokens SET revoked_at = strftime('%s', 'now') WHERE id = ?1 AND revoked_at IS NULL",
    )
    .and_then(|mut stmt| stmt.execute([&id]))
    .map(|n| n > 0)
    .map_err(|e| backend(format!("revoke API token {id}"), e))
}
