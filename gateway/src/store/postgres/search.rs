//! Search on PostgreSQL: each event's searched text (`store::search`, worked out at ingest) is
//! in `events.search` under a `pg_trgm` GIN index, so `ILIKE '%query%'` finds the candidate
//! lines (the index narrows queries of three characters or more; shorter ones read the run's
//! lines), and `Needle::find` decides on each, as on every backend.

use std::collections::HashMap;

use common::wire::{EventKind, RunStatus, RunSummary};
use tokio_postgres::Row;

use super::Conn;
use super::codec::{RUN_COLUMNS, backend, bad, big, col, col_u64, limit, run_record};
use crate::store::StoreError;
use crate::store::search::{HitField, LineHit, LinePage, Needle, RunHit, RunSearch};

/// Candidate lines read per query while paging through one run.
const LINE_PAGE: usize = 500;
/// Most candidate lines a search across runs reads.
const RUNS_CANDIDATES: usize = 20_000;

/// `needle` as an `ILIKE` pattern: a substring, its own `%`, `_` and `\` taken literally.
fn pattern(needle: &Needle) -> String {
    let mut p = String::with_capacity(needle.as_str().len() + 2);
    p.push('%');
    for c in needle.as_str().chars().filter(|&c| c != '\0') {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// A candidate row `seq, kind, ts, search` that holds the needle, as a hit.
fn hit(needle: &Needle, row: &Row, text_at: usize) -> Result<Option<LineHit>, StoreError> {
    let text: &str = col(row, text_at)?;
    if !needle.find(text) {
        return Ok(None);
    }
    let kind: &str = col(row, text_at - 2)?;
    Ok(Some(LineHit {
        sequence: col_u64(row, text_at - 3)?,
        kind: EventKind::parse(kind).ok_or_else(|| bad(format!("unknown event kind {kind:?}")))?,
        ts: col(row, text_at - 1)?,
        text: needle.snippet(text),
    }))
}

/// One run's hits past `after`; see `Store::search_run`.
pub(super) async fn search_run(
    conn: Conn,
    run_id: String,
    needle: Needle,
    after: u64,
    n: usize,
) -> Result<LinePage, StoreError> {
    let empty = LinePage {
        hits: Vec::new(),
        next_after: None,
    };
    let known = conn
        .query_opt(
            "SELECT 1 FROM runs WHERE id = $1 AND NOT purging",
            &[&run_id],
        )
        .await
        .map_err(|e| backend(format!("read run {run_id}"), e))?;
    if known.is_none() {
        return Ok(empty);
    }
    let like = pattern(&needle);
    let want = n.saturating_add(1);
    let mut hits = Vec::new();
    let mut from = after;
    let stmt = conn
        .prepare_cached(
            "SELECT seq, kind, ts, search FROM events
             WHERE run_id = $1 AND seq > $2 AND search ILIKE $3 ORDER BY seq LIMIT $4",
        )
        .await
        .map_err(|e| backend("prepare line search", e))?;
    'pages: loop {
        let page = conn
            .query(&stmt, &[&run_id, &big(from), &like, &limit(LINE_PAGE)])
            .await
            .map_err(|e| backend(format!("search run {run_id}"), e))?;
        for row in &page {
            from = col_u64(row, 0)?;
            if let Some(h) = hit(&needle, row, 3)? {
                hits.push(h);
                if hits.len() >= want {
                    break 'pages;
                }
            }
        }
        if page.len() < LINE_PAGE {
            break;
        }
    }
    let next_after = if hits.len() > n {
        hits.truncate(n);
        hits.last().map(|h| h.sequence)
    } else {
        None
    };
    Ok(LinePage { hits, next_after })
}

/// Runs matching a search; see `Store::search_runs`. Output is read for queries of three
/// characters or more, at most [`RUNS_CANDIDATES`] candidate lines, newest runs first.
pub(super) async fn search_runs(conn: Conn, search: RunSearch) -> Result<Vec<RunHit>, StoreError> {
    let needle = &search.needle;
    let status = search.status.map(RunStatus::as_str);
    let found = conn
        .query(
            &format!(
                "SELECT {RUN_COLUMNS} FROM runs
                 WHERE NOT purging AND ($1::text IS NULL OR status = $1)
                     AND ($2::bigint IS NULL OR created_at >= $2)
                 ORDER BY created_at DESC, pos DESC"
            ),
            &[&status, &search.since],
        )
        .await
        .map_err(|e| backend("list runs to search", e))?;
    let runs: Vec<RunSummary> = found
        .iter()
        .map(|r| run_record(r).map(|r| r.summary))
        .collect::<Result<_, _>>()?;
    let mut hits: HashMap<String, RunHit> = HashMap::new();
    for run in &runs {
        let field = [
            (HitField::Name, run.name.as_deref()),
            (HitField::Prompt, run.prompt.as_deref()),
        ]
        .into_iter()
        .find_map(|(field, text)| text.filter(|t| needle.find(t)).map(|t| (field, t)));
        if let Some((field, text)) = field {
            hits.insert(
                run.id.clone(),
                RunHit {
                    run: run.clone(),
                    field,
                    sequence: None,
                    snippet: needle.snippet(text),
                },
            );
        }
    }
    // Name and prompt hits do not stop the search for output: a newer run may match there.
    let named = hits.len();
    if needle.as_str().chars().count() >= 3 && search.limit > 0 {
        let by_id: HashMap<&str, &RunSummary> = runs.iter().map(|r| (r.id.as_str(), r)).collect();
        let candidates = conn
            .query(
                "SELECT e.run_id, e.seq, e.kind, e.ts, e.search FROM events e
                 JOIN runs r ON r.id = e.run_id
                 WHERE e.search ILIKE $1 AND NOT r.purging
                     AND ($2::text IS NULL OR r.status = $2)
                     AND ($3::bigint IS NULL OR r.created_at >= $3)
                 ORDER BY r.created_at DESC, r.pos DESC, e.seq LIMIT $4",
                &[
                    &pattern(needle),
                    &status,
                    &search.since,
                    &limit(RUNS_CANDIDATES),
                ],
            )
            .await
            .map_err(|e| backend("search across runs", e))?;
        for row in &candidates {
            if hits.len() - named >= search.limit {
                break;
            }
            let run_id: &str = col(row, 0)?;
            if hits.contains_key(run_id) {
                continue;
            }
            let (Some(run), Some(line)) = (by_id.get(run_id), hit(needle, row, 4)?) else {
                continue;
            };
            hits.insert(
                run_id.to_string(),
                RunHit {
                    run: (*run).clone(),
                    field: HitField::Output,
                    sequence: Some(line.sequence),
                    snippet: line.text,
                },
            );
        }
    }
    let mut hits: Vec<RunHit> = hits.into_values().collect();
    hits.sort_by(|a, b| (b.run.created_at, &b.run.id).cmp(&(a.run.created_at, &a.run.id)));
    hits.truncate(search.limit);
    Ok(hits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_take_the_query_literally() {
        let p = |s: &str| pattern(&Needle::new(s).unwrap());
        assert_eq!(p("Error"), "%error%");
        assert_eq!(p(r"50%_a\b"), r"%50\%\_a\\b%");
    }
}
