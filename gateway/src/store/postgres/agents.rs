//! Agents, the queue of runs, and API tokens. A claim locks the agent's row (`FOR UPDATE`),
//! so two claims of one agent cannot both count its runs before either assigns one, and locks
//! the run it takes with `FOR UPDATE SKIP LOCKED`, re-checked to be still queued, so claims of
//! different agents never wait for each other and never take the same run.

use common::agents::{AgentProfile, AgentSummary, ApiTokenInfo, RunRequest, admits};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::Conn;
use super::codec::{backend, bad, col, col_bytes, conflict_or, rows};
use crate::store::{AgentRecord, Claimed, NewAgent, QueuedRun, StoreError, claimable};

const AGENT_COLUMNS: &str = "id, name, profile, created_at, last_seen, online, drain_requested, \
    revoked_at, key, (SELECT count(*) FROM runs WHERE runs.agent_id = agents.id \
    AND runs.status IN ('pending', 'running'))";

fn agent_record(row: &Row) -> Result<AgentRecord, StoreError> {
    let profile: &str = col(row, 2)?;
    let running: i64 = col(row, 9)?;
    Ok(AgentRecord {
        summary: AgentSummary {
            id: col(row, 0)?,
            name: col(row, 1)?,
            profile: serde_json::from_str(profile)
                .map_err(|e| bad(format!("agent profile: {e}")))?,
            created_at: col(row, 3)?,
            last_seen: col(row, 4)?,
            online: col(row, 5)?,
            drain_requested: col(row, 6)?,
            revoked: col::<Option<i64>>(row, 7)?.is_some(),
            running: u32::try_from(running).unwrap_or(u32::MAX),
        },
        key: col_bytes(row, 8)?,
    })
}

fn profile_json(profile: &AgentProfile) -> Result<String, StoreError> {
    serde_json::to_string(profile).map_err(|e| StoreError::Backend(format!("agent profile: {e}")))
}

pub(super) async fn create_enrollment(
    conn: Conn,
    token_hash: [u8; 32],
    created_at: i64,
    expires_at: i64,
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO enrollments (token_hash, created_at, expires_at) VALUES ($1, $2, $3)",
        &[&&token_hash[..], &created_at, &expires_at],
    )
    .await
    .map_err(|e| conflict_or("create enrollment token", e))?;
    Ok(())
}

pub(super) async fn enroll_agent(
    mut conn: Conn,
    token_hash: [u8; 32],
    agent: NewAgent,
) -> Result<(), StoreError> {
    let tx = conn
        .transaction()
        .await
        .map_err(|e| backend("begin enrollment", e))?;
    let used = tx
        .execute(
            "UPDATE enrollments SET agent_id = $2
             WHERE token_hash = $1 AND agent_id IS NULL AND expires_at > $3",
            &[&&token_hash[..], &agent.id, &agent.created_at],
        )
        .await
        .map_err(|e| backend("use enrollment token", e))?;
    if used != 1 {
        return Err(StoreError::NotFound);
    }
    let profile = profile_json(&agent.profile)?;
    tx.execute(
        "INSERT INTO agents (id, name, key, profile, created_at, last_seen)
         VALUES ($1, $2, $3, $4, $5, $5)",
        &[
            &agent.id,
            &agent.name,
            &&agent.key[..],
            &profile,
            &agent.created_at,
        ],
    )
    .await
    .map_err(|e| conflict_or(format!("store agent {}", agent.name), e))?;
    tx.commit()
        .await
        .map_err(|e| backend("commit enrollment", e))
}

async fn read_agent(
    client: &impl GenericClient,
    id: &str,
    lock: &str,
) -> Result<Option<AgentRecord>, StoreError> {
    client
        .query_opt(
            &format!("SELECT {AGENT_COLUMNS} FROM agents WHERE id = $1 {lock}"),
            &[&id],
        )
        .await
        .map_err(|e| backend(format!("read agent {id}"), e))?
        .as_ref()
        .map(agent_record)
        .transpose()
}

pub(super) async fn agent(conn: Conn, id: String) -> Result<Option<AgentRecord>, StoreError> {
    read_agent(&conn, &id, "").await
}

pub(super) async fn list_agents(conn: Conn) -> Result<Vec<AgentSummary>, StoreError> {
    let found = conn
        .query(
            &format!("SELECT {AGENT_COLUMNS} FROM agents ORDER BY name, created_at"),
            &[],
        )
        .await
        .map_err(|e| backend("list agents", e))?;
    rows(found, |r| agent_record(r).map(|a| a.summary))
}

pub(super) async fn agent_seen(
    conn: Conn,
    id: String,
    profile: Option<AgentProfile>,
    now: i64,
) -> Result<Option<AgentSummary>, StoreError> {
    let profile = profile.as_ref().map(profile_json).transpose()?;
    let changed = conn
        .execute(
            "UPDATE agents SET last_seen = greatest(last_seen, $2), online = true,
                 profile = coalesce($3, profile)
             WHERE id = $1 AND revoked_at IS NULL",
            &[&id, &now, &profile],
        )
        .await
        .map_err(|e| backend(format!("record agent {id} seen"), e))?;
    if changed == 0 {
        return Ok(None);
    }
    Ok(read_agent(&conn, &id, "").await?.map(|a| a.summary))
}

pub(super) async fn set_agent_drain(
    conn: Conn,
    id: String,
    drain: bool,
) -> Result<bool, StoreError> {
    conn.execute(
        "UPDATE agents SET drain_requested = $2 WHERE id = $1",
        &[&id, &drain],
    )
    .await
    .map(|n| n > 0)
    .map_err(|e| backend(format!("drain agent {id}"), e))
}

pub(super) async fn revoke_agent(conn: Conn, id: String, now: i64) -> Result<bool, StoreError> {
    conn.execute(
        "UPDATE agents SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
        &[&id, &now],
    )
    .await
    .map(|n| n > 0)
    .map_err(|e| backend(format!("revoke agent {id}"), e))
}

pub(super) async fn mark_agents_offline(
    conn: Conn,
    seen_before: i64,
) -> Result<Vec<String>, StoreError> {
    let found = conn
        .query(
            "UPDATE agents SET online = false WHERE online AND last_seen < $1 RETURNING id",
            &[&seen_before],
        )
        .await
        .map_err(|e| backend("mark agents offline", e))?;
    rows(found, |r| col(r, 0))
}

pub(super) async fn queue_run(conn: Conn, queued: QueuedRun) -> Result<(), StoreError> {
    let run = queued.run;
    let request = serde_json::to_string(&queued.request)
        .map_err(|e| StoreError::Backend(format!("run request: {e}")))?;
    conn.execute(
        "INSERT INTO runs (id, name, prompt, cwd, key, status, created_at, request)
         VALUES ($1, $2, $3, $4, $5, 'queued', $6, $7)",
        &[
            &run.id,
            &run.name,
            &run.prompt,
            &run.cwd,
            &&run.key[..],
            &run.created_at,
            &request,
        ],
    )
    .await
    .map_err(|e| conflict_or(format!("queue run {}", run.id), e))?;
    Ok(())
}

/// Queued runs a claim reads at a time.
const QUEUE_PAGE: i64 = 100;

pub(super) async fn claim_run(
    mut conn: Conn,
    agent_id: String,
    now: i64,
) -> Result<Option<Claimed>, StoreError> {
    let tx = conn
        .transaction()
        .await
        .map_err(|e| backend("begin claim", e))?;
    let Some(agent) = read_agent(&tx, &agent_id, "FOR UPDATE").await? else {
        return Ok(None);
    };
    if !claimable(&agent.summary) {
        return Ok(None);
    }
    // Oldest first, page by page, read without locks; the run the agent may take is then
    // locked on its own (`SKIP LOCKED`: one another claim holds is being taken, go on), and
    // checked to be still queued. Only the run taken is ever locked, so a claim answers `None`
    // only when no run it may take is free.
    let mut after = 0i64;
    let claimed = 'search: loop {
        let page = tx
            .query(
                "SELECT pos, id, name, key, request FROM runs
                 WHERE status = 'queued' AND pos > $1 ORDER BY pos LIMIT $2",
                &[&after, &QUEUE_PAGE],
            )
            .await
            .map_err(|e| backend("read the queue", e))?;
        for row in &page {
            after = col(row, 0)?;
            let request: &str = col(row, 4)?;
            let request: RunRequest =
                serde_json::from_str(request).map_err(|e| bad(format!("run request: {e}")))?;
            if admits(&agent.summary.name, &agent.summary.profile, &request).is_err() {
                continue;
            }
            let run_id: String = col(row, 1)?;
            let free = tx
                .query_opt(
                    "SELECT 1 FROM runs WHERE id = $1 AND status = 'queued'
                     FOR UPDATE SKIP LOCKED",
                    &[&run_id],
                )
                .await
                .map_err(|e| backend("lock a queued run", e))?;
            if free.is_some() {
                break 'search Claimed {
                    run_id,
                    name: col(row, 2)?,
                    key: col_bytes(row, 3)?,
                    request,
                };
            }
        }
        if (page.len() as i64) < QUEUE_PAGE {
            return Ok(None);
        }
    };
    tx.execute(
        "UPDATE runs SET status = 'pending', agent_id = $2, assigned_at = $3 WHERE id = $1",
        &[&claimed.run_id, &agent_id, &now],
    )
    .await
    .map_err(|e| backend(format!("assign run {}", claimed.run_id), e))?;
    tx.commit().await.map_err(|e| backend("commit claim", e))?;
    Ok(Some(claimed))
}

pub(super) async fn cancel_queued_run(
    conn: Conn,
    id: String,
    reason: String,
    now: i64,
) -> Result<bool, StoreError> {
    conn.execute(
        "UPDATE runs SET status = 'stopped', finished_at = $2, reason = $3
         WHERE id = $1 AND status = 'queued'",
        &[&id, &now, &reason],
    )
    .await
    .map(|n| n > 0)
    .map_err(|e| backend(format!("cancel run {id}"), e))
}

pub(super) async fn lose_runs(
    conn: Conn,
    agent_id: String,
    holding: Vec<String>,
    reason: String,
    now: i64,
) -> Result<Vec<String>, StoreError> {
    // One statement: the runs are locked as they are updated, in queue order.
    let found = conn
        .query(
            "WITH lost AS (
                 UPDATE runs SET status = 'lost', finished_at = $3, reason = $4
                 WHERE agent_id = $1 AND status IN ('pending', 'running') AND NOT (id = ANY($2))
                 RETURNING id, pos)
             SELECT id FROM lost ORDER BY pos",
            &[&agent_id, &holding, &now, &reason],
        )
        .await
        .map_err(|e| backend(format!("lose runs of agent {agent_id}"), e))?;
    rows(found, |r| col(r, 0))
}

pub(super) async fn run_request(conn: Conn, id: String) -> Result<Option<RunRequest>, StoreError> {
    let text: Option<String> = conn
        .query_opt("SELECT request FROM runs WHERE id = $1", &[&id])
        .await
        .map_err(|e| backend(format!("read the request of run {id}"), e))?
        .map(|row| col::<Option<String>>(&row, 0))
        .transpose()?
        .flatten();
    text.map(|t| {
        serde_json::from_str(&t)
            .map_err(|e| StoreError::Backend(format!("run request of {id}: {e}")))
    })
    .transpose()
}

/// The columns [`api_token_info`] reads, in its order.
const API_TOKEN_COLUMNS: &str =
    "id, name, scopes, created_at, revoked_at, person_id, expires_at, first_used_at";

fn api_token_info(row: &Row) -> Result<ApiTokenInfo, StoreError> {
    let scopes: &str = col(row, 2)?;
    Ok(ApiTokenInfo {
        id: col(row, 0)?,
        name: col(row, 1)?,
        scopes: scopes
            .split(',')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect(),
        created_at: col(row, 3)?,
        revoked: col::<Option<i64>>(row, 4)?.is_some(),
        person_id: col::<Option<String>>(row, 5)?.unwrap_or_default(),
        expires_at: col(row, 6)?,
        first_used_at: col(row, 7)?,
    })
}

pub(super) async fn create_api_token(
    conn: Conn,
    info: ApiTokenInfo,
    hash: [u8; 32],
) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO api_tokens (id, hash, name, scopes, created_at, person_id, expires_at,
             first_used_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[
            &info.id,
            &&hash[..],
            &info.name,
            &info.scopes.join(","),
            &info.created_at,
            &info.person_id,
            &info.expires_at,
            &info.first_used_at,
        ],
    )
    .await
    .map_err(|e| conflict_or("create API token", e))?;
    Ok(())
}

/// Replaces the token with `info.id` (hash, scopes, owner; not revoked), or creates it.
pub(super) async fn put_api_token(
    conn: Conn,
    info: ApiTokenInfo,
    hash: [u8; 32],
) -> Result<(), StoreError> {
    conn.execute("DELETE FROM api_tokens WHERE id = $1", &[&info.id])
        .await
        .map_err(|e| backend("replace API token", e))?;
    create_api_token(conn, info, hash).await
}

pub(super) async fn api_token(
    conn: Conn,
    hash: [u8; 32],
) -> Result<Option<ApiTokenInfo>, StoreError> {
    conn.query_opt(
        &format!("SELECT {API_TOKEN_COLUMNS} FROM api_tokens WHERE hash = $1"),
        &[&&hash[..]],
    )
    .await
    .map_err(|e| backend("read API token", e))?
    .as_ref()
    .map(api_token_info)
    .transpose()
}

/// Notes the token's first use at `at`; `true` if this was it.
pub(super) async fn note_api_token_used(
    conn: Conn,
    id: String,
    at: i64,
) -> Result<bool, StoreError> {
    conn.execute(
        "UPDATE api_tokens SET first_used_at = $2 WHERE id = $1 AND first_used_at IS NULL",
        &[&id, &at],
    )
    .await
    .map(|n| n > 0)
    .map_err(|e| backend("note an API token's first use", e))
}

/// Gives the tokens that have no person (made before tokens had one) to `person_id`.
pub(super) async fn claim_api_tokens(conn: Conn, person_id: String) -> Result<u64, StoreError> {
    conn.execute(
        "UPDATE api_tokens SET person_id = $1 WHERE person_id IS NULL",
        &[&person_id],
    )
    .await
    .map_err(|e| backend("give API tokens their person", e))
}

pub(super) async fn list_api_tokens(conn: Conn) -> Result<Vec<ApiTokenInfo>, StoreError> {
    let found = conn
        .query(
            &format!("SELECT {API_TOKEN_COLUMNS} FROM api_tokens ORDER BY created_at, id"),
            &[],
        )
        .await
        .map_err(|e| backend("list API tokens", e))?;
    rows(found, api_token_info)
}

pub(super) async fn revoke_api_token(conn: Conn, id: String) -> Result<bool, StoreError> {
    conn.execute(
        "UPDATE api_tokens SET revoked_at = extract(epoch FROM now())::bigint
         WHERE id = $1 AND revoked_at IS NULL",
        &[&id],
    )
    .await
    .map(|n| n > 0)
    .map_err(|e| backend(format!("revoke API token {id}"), e))
}
