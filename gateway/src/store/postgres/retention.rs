//! Retention: pinning, choosing the runs that expired, and deleting one in small steps.
//! Space comes back through PostgreSQL's autovacuum, so `reclaim_space` keeps the trait's
//! default (nothing to do).

use common::wire::RunStatus;
use tokio_postgres::types::ToSql;

use super::Conn;
use super::codec::{backend, col, limit, rows};
use crate::store::{Purge, StoreError};

pub(super) async fn set_pinned(
    conn: Conn,
    run_id: String,
    pinned: bool,
) -> Result<bool, StoreError> {
    conn.execute(
        "UPDATE runs SET pinned = $2 WHERE id = $1 AND NOT purging",
        &[&run_id, &pinned],
    )
    .await
    .map(|n| n == 1)
    .map_err(|e| backend(format!("pin run {run_id}"), e))
}

pub(super) async fn expired_runs(
    conn: Conn,
    cutoffs: Vec<(RunStatus, i64)>,
    n: usize,
) -> Result<Vec<String>, StoreError> {
    let n = limit(n);
    let cutoffs: Vec<(&'static str, i64)> = cutoffs
        .iter()
        .filter(|(s, _)| s.is_terminal())
        .map(|(s, c)| (s.as_str(), *c))
        .collect();
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&n];
    let mut clauses = Vec::new();
    for (status, cutoff) in &cutoffs {
        clauses.push(format!(
            "(status = ${} AND coalesce(finished_at, created_at) < ${})",
            params.len() + 1,
            params.len() + 2
        ));
        params.push(status);
        params.push(cutoff);
    }
    let expired = if clauses.is_empty() {
        "false".to_string()
    } else {
        format!("NOT pinned AND ({})", clauses.join(" OR "))
    };
    let found = conn
        .query(
            &format!(
                "SELECT id FROM runs WHERE purging OR ({expired})
                 ORDER BY purging DESC, coalesce(finished_at, created_at) LIMIT $1"
            ),
            &params,
        )
        .await
        .map_err(|e| backend("find expired runs", e))?;
    rows(found, |r| col(r, 0))
}

pub(super) async fn purge_run(
    mut conn: Conn,
    run_id: String,
    max_rows: usize,
) -> Result<Purge, StoreError> {
    let fail = |what: &str, e| backend(format!("{what} of run {run_id}"), e);
    let tx = conn
        .transaction()
        .await
        .map_err(|e| fail("begin purge", e))?;
    let row = tx
        .query_opt(
            "SELECT pinned, purging FROM runs WHERE id = $1 FOR UPDATE",
            &[&run_id],
        )
        .await
        .map_err(|e| fail("read", e))?;
    let Some(row) = row else {
        return Ok(Purge::Gone);
    };
    let (pinned, purging): (bool, bool) = (col(&row, 0)?, col(&row, 1)?);
    if !purging {
        if pinned {
            return Ok(Purge::Kept);
        }
        tx.execute("UPDATE runs SET purging = true WHERE id = $1", &[&run_id])
            .await
            .map_err(|e| fail("hide", e))?;
    }
    let budget = limit(max_rows.max(1));
    let events = tx
        .execute(
            "DELETE FROM events WHERE run_id = $1 AND seq IN (
                 SELECT seq FROM events WHERE run_id = $1 ORDER BY seq LIMIT $2)",
            &[&run_id, &budget],
        )
        .await
        .map_err(|e| fail("delete events", e))? as i64;
    let mut done = false;
    if events < budget {
        let left = budget - events;
        let artifacts = tx
            .execute(
                "DELETE FROM artifacts WHERE run_id = $1 AND name IN (
                     SELECT name FROM artifacts WHERE run_id = $1 LIMIT $2)",
                &[&run_id, &left],
            )
            .await
            .map_err(|e| fail("delete artifacts", e))? as i64;
        if artifacts < left {
            tx.execute("DELETE FROM runs WHERE id = $1", &[&run_id])
                .await
                .map_err(|e| fail("delete", e))?;
            done = true;
        }
    }
    tx.commit().await.map_err(|e| fail("commit purge", e))?;
    Ok(if done { Purge::Gone } else { Purge::More })
}
