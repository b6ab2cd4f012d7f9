//! Search on SQLite: an FTS5 trigram index over stretches of each run's output finds the
//! candidate stretches, and `store::search` decides on each line.
//!
//! The index (migration 7) is built beside ingest, not inside it ([`index_step`], run by
//! `indexer.rs` while no ingest batch waits): tokenising every line inside the ingest
//! transaction would have cost more than the rest of ingest. Each row of `search_chunks` is one
//! indexed stretch of a run (up to [`STRETCH_EVENTS`] events or [`STRETCH_BYTES`] of text), its
//! `id` the rowid of its text in `search_text`, a contentless FTS5 table (the text is not kept
//! twice: lines are read back from `event_chunks`) with `detail=none` (rowids only, no
//! positions: about a third of the size, and a stretch is checked line by line anyway).
//! `runs.indexed_seq` is how far a run is indexed; what lies past it is read line by line, so
//! a search answers the same before, during and after indexing.

use std::collections::{HashMap, HashSet};

use common::wire::RunSummary;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use super::codec::{RUN_COLUMN_COUNT, RUN_COLUMNS, last_seq_sql, run_record, sql_seq};
use super::conn::backend;
use super::runs::events;
use crate::store::StoreError;
use crate::store::search::{HitField, LineHit, LinePage, Needle, RunHit, RunSearch, TextOf};

/// Most events in one indexed stretch.
pub(super) const STRETCH_EVENTS: usize = 2_000;
/// Most text in one indexed stretch, in bytes (a stretch ends after the line that crosses it).
const STRETCH_BYTES: usize = 256 << 10;
/// Events read per call while scanning what is not indexed.
const SCAN_PAGE: usize = 5_000;
/// Most indexed stretches a search across runs reads to confirm matches.
const RUNS_CANDIDATES: usize = 2_000;
/// Most unindexed events a search across runs reads (the tails of live runs).
const RUNS_TAIL_EVENTS: usize = 200_000;
/// Trigrams of a query given to the index; a longer query's first ones select well enough.
const MAX_TRIGRAMS: usize = 24;

/// The FTS5 query for `needle`: its distinct trigrams, all required (`detail=none` has no
/// phrases). `None` below three characters, which a trigram index cannot narrow.
fn fts_query(needle: &Needle) -> Option<String> {
    let chars: Vec<char> = needle.as_str().chars().collect();
    if chars.len() < 3 {
        return None;
    }
    let mut seen = HashSet::new();
    let terms: Vec<String> = chars
        .windows(3)
        .map(|w| w.iter().collect::<String>())
        .filter(|t| seen.insert(t.clone()))
        .take(MAX_TRIGRAMS)
        .map(|t| format!("\"{}\"", t.replace('"', "\"\"")))
        .collect();
    Some(terms.join(" AND "))
}

/// Runs whose stored lines are not all indexed. A live run's row may be behind its chunks
/// (ingest writes the row only when more than its progress changes), a finished one's is not
/// (its end wrote it); so the chunks are asked only for live runs, and finding work costs a
/// look at each row, as it did when every row was current.
pub(super) const BEHIND: &str = concat!(
    "SELECT id, indexed_seq FROM runs WHERE purging = 0 AND (last_seq > indexed_seq
         OR (status IN ('pending', 'running') AND ",
    last_seq_sql!(),
    " > indexed_seq)) LIMIT 1"
);

/// Indexes the next stretch of one run that is behind, in one transaction; `false` when every
/// run is indexed.
pub(super) fn index_step(conn: &mut Connection) -> Result<bool, StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| backend("begin indexing", e))?;
    let next: Option<(String, u64)> = tx
        .prepare_cached(BEHIND)
        .and_then(|mut stmt| {
            stmt.query_row([], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()
        })
        .map_err(|e| backend("find a run to index", e))?;
    let Some((run_id, indexed)) = next else {
        return Ok(false);
    };
    let stretch = events(&tx, run_id.clone(), indexed, STRETCH_EVENTS)?;
    let Some(first) = stretch.first().map(|e| e.sequence) else {
        // `last_seq` says more is stored, the chunks do not: never loop on it.
        return Err(StoreError::Backend(format!(
            "run {run_id} is stored up to its last_seq but no events follow {indexed}"
        )));
    };
    let mut text = String::new();
    let mut last = first;
    let mut of = TextOf::default();
    for e in &stretch {
        if let Some(t) = of.event(e) {
            text.push_str(&t);
            text.push('\n');
        }
        last = e.sequence;
        if text.len() >= STRETCH_BYTES {
            break;
        }
    }
    let id: i64 = tx
        .prepare_cached(
            "INSERT INTO search_chunks (run_id, first_seq, last_seq) VALUES (?1, ?2, ?3)
             RETURNING id",
        )
        .and_then(|mut stmt| {
            stmt.query_row(
                rusqlite::params![run_id, sql_seq(first), sql_seq(last)],
                |row| row.get(0),
            )
        })
        .map_err(|e| backend(format!("record indexed stretch of {run_id}"), e))?;
    tx.prepare_cached("INSERT INTO search_text (rowid, body) VALUES (?1, ?2)")
        .and_then(|mut stmt| stmt.execute(rusqlite::params![id, text]))
        .map_err(|e| backend(format!("index {run_id}/{first}..={last}"), e))?;
    tx.prepare_cached("UPDATE runs SET indexed_seq = ?2 WHERE id = ?1")
        .and_then(|mut stmt| stmt.execute(rusqlite::params![run_id, sql_seq(last)]))
        .map_err(|e| backend(format!("record indexing of {run_id}"), e))?;
    tx.commit().map_err(|e| backend("commit indexing", e))?;
    Ok(true)
}

/// Collects hits of one run in sequence order, up to `want`.
struct Collector<'a> {
    needle: &'a Needle,
    after: u64,
    want: usize,
    hits: Vec<LineHit>,
}

impl Collector<'_> {
    fn full(&self) -> bool {
        self.hits.len() >= self.want
    }

    /// Checks a stretch of consecutive events read with one [`TextOf`].
    fn check(&mut self, of: &mut TextOf, stretch: &[common::wire::RawEvent]) {
        for e in stretch {
            if self.full() {
                return;
            }
            let Some(text) = of.event(e) else { continue };
            if e.sequence > self.after && self.needle.find(&text) {
                self.hits.push(LineHit {
                    sequence: e.sequence,
                    kind: e.kind,
                    ts: e.ts,
                    text: self.needle.snippet(&text),
                });
            }
        }
    }
}

/// The indexed stretches `(first_seq, last_seq)` of a run past `after` that may hold `needle`,
/// ascending.
#[cfg(test)]
pub(super) fn candidate_stretches(
    conn: &Connection,
    run_id: &str,
    needle: &Needle,
    after: u64,
) -> Result<Vec<(u64, u64)>, StoreError> {
    let mut all = Vec::new();
    each_candidate(conn, run_id, needle, after, |s| {
        all.push(s);
        Ok(true)
    })?;
    Ok(all)
}

/// Calls `f` with each indexed stretch `(first_seq, last_seq)` of a run past `after` that may
/// hold `needle`, ascending, until it answers `false`. FTS5 is asked for rowids alone, in
/// order, and each is looked up by its key: the candidates are read only as far as needed.
fn each_candidate(
    conn: &Connection,
    run_id: &str,
    needle: &Needle,
    after: u64,
    mut f: impl FnMut((u64, u64)) -> Result<bool, StoreError>,
) -> Result<(), StoreError> {
    let fail = |e| backend(format!("search the index of {run_id}"), e);
    let Some(query) = fts_query(needle) else {
        let mut stmt = conn
            .prepare_cached(
                "SELECT first_seq, last_seq FROM search_chunks
                 WHERE run_id = ?1 AND last_seq > ?2 ORDER BY first_seq",
            )
            .map_err(fail)?;
        let mut rows = stmt
            .query(rusqlite::params![run_id, sql_seq(after)])
            .map_err(fail)?;
        while let Some(row) = rows.next().map_err(fail)? {
            if !f((row.get(0).map_err(fail)?, row.get(1).map_err(fail)?))? {
                break;
            }
        }
        return Ok(());
    };
    // The run's rows lie between its first and last id (other runs' rows interleave): FTS5
    // seeks straight to that range.
    let bounds: (Option<i64>, Option<i64>) = conn
        .prepare_cached(
            "SELECT min(id), max(id) FROM search_chunks WHERE run_id = ?1 AND last_seq > ?2",
        )
        .and_then(|mut stmt| {
            stmt.query_row(rusqlite::params![run_id, sql_seq(after)], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
        })
        .map_err(fail)?;
    let (Some(lo), Some(hi)) = bounds else {
        return Ok(());
    };
    let mut stmt = conn
        .prepare_cached(
            "SELECT rowid FROM search_text
             WHERE search_text MATCH ?1 AND rowid BETWEEN ?2 AND ?3 ORDER BY rowid",
        )
        .map_err(fail)?;
    let mut rows = stmt.query(rusqlite::params![query, lo, hi]).map_err(fail)?;
    let mut stretch = conn
        .prepare_cached("SELECT run_id, first_seq, last_seq FROM search_chunks WHERE id = ?1")
        .map_err(fail)?;
    while let Some(row) = rows.next().map_err(fail)? {
        let id: i64 = row.get(0).map_err(fail)?;
        let found: Option<(String, u64, u64)> = stretch
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()
            .map_err(fail)?;
        if let Some((run, first, last)) = found
            && run == run_id
            && last > after
            && !f((first, last))?
        {
            break;
        }
    }
    Ok(())
}

/// One run's hits past `after`; see `Store::search_run`.
pub(super) fn search_run(
    conn: &Connection,
    run_id: String,
    needle: Needle,
    after: u64,
    limit: usize,
) -> Result<LinePage, StoreError> {
    // One snapshot: the indexer may commit meanwhile.
    let tx = conn
        .unchecked_transaction()
        .map_err(|e| backend("begin search", e))?;
    let indexed: Option<u64> = tx
        .prepare_cached("SELECT indexed_seq FROM runs WHERE id = ?1 AND purging = 0")
        .and_then(|mut stmt| stmt.query_row([&run_id], |row| row.get(0)).optional())
        .map_err(|e| backend(format!("read run {run_id}"), e))?;
    let Some(indexed) = indexed else {
        return Ok(LinePage {
            hits: Vec::new(),
            next_after: None,
        });
    };
    let mut found = Collector {
        needle: &needle,
        after,
        want: limit.saturating_add(1),
        hits: Vec::new(),
    };
    if after < indexed {
        each_candidate(&tx, &run_id, &needle, after, |(first, last)| {
            let count = usize::try_from(last - first + 1).unwrap_or(usize::MAX);
            let stretch = events(&tx, run_id.clone(), first - 1, count)?;
            found.check(&mut TextOf::default(), &stretch);
            Ok(!found.full())
        })?;
    }
    // Past the index, line by line (a tool result still finds its call within this part).
    let mut from = after.max(indexed);
    let mut of = TextOf::default();
    while !found.full() {
        let page = events(&tx, run_id.clone(), from, SCAN_PAGE)?;
        let Some(last) = page.last() else { break };
        from = last.sequence;
        found.check(&mut of, &page);
        if page.len() < SCAN_PAGE {
            break;
        }
    }
    let mut hits = found.hits;
    let next_after = if hits.len() > limit {
        hits.truncate(limit);
        hits.last().map(|h| h.sequence)
    } else {
        None
    };
    Ok(LinePage { hits, next_after })
}

/// Runs matching a search; see `Store::search_runs`.
pub(super) fn search_runs(conn: &Connection, search: RunSearch) -> Result<Vec<RunHit>, StoreError> {
    let tx = conn
        .unchecked_transaction()
        .map_err(|e| backend("begin search", e))?;
    let needle = &search.needle;
    // The runs the filters let through, newest first, with how far each is indexed.
    let runs: Vec<(RunSummary, u64)> = tx
        .prepare_cached(&format!(
            "SELECT {RUN_COLUMNS}, indexed_seq FROM runs
             WHERE purging = 0 AND (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR created_at >= ?2)
             ORDER BY created_at DESC, rowid DESC"
        ))
        .and_then(|mut stmt| {
            stmt.query_map(
                rusqlite::params![search.status.map(|s| s.as_str()), search.since],
                |row| Ok((run_record(row)?.summary, row.get(RUN_COLUMN_COUNT)?)),
            )?
            .collect()
        })
        .map_err(|e| backend("list runs to search", e))?;
    let mut hits: HashMap<String, RunHit> = HashMap::new();
    for (run, _) in &runs {
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
    let by_id: HashMap<&str, &(RunSummary, u64)> =
        runs.iter().map(|r| (r.0.id.as_str(), r)).collect();
    // Name and prompt hits do not stop the search for output: a newer run may match there.
    let named = hits.len();
    let enough = |hits: &HashMap<String, RunHit>| hits.len() - named >= search.limit;

    // The indexed output, newest stretches first.
    if let Some(query) = fts_query(needle)
        && !enough(&hits)
    {
        let mut stmt = tx
            .prepare_cached(
                "SELECT rowid FROM search_text WHERE search_text MATCH ?1 ORDER BY rowid DESC",
            )
            .map_err(|e| backend("prepare the search across runs", e))?;
        let mut stretch = tx
            .prepare_cached("SELECT run_id, first_seq, last_seq FROM search_chunks WHERE id = ?1")
            .map_err(|e| backend("prepare the search across runs", e))?;
        let rows = stmt
            .query_map([query], |row| row.get::<_, i64>(0))
            .map_err(|e| backend("search across runs", e))?;
        for row in rows.take(RUNS_CANDIDATES) {
            let id = row.map_err(|e| backend("search across runs", e))?;
            let Some((run_id, first, last)) = stretch
                .query_row([id], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, u64>(1)?,
                        r.get::<_, u64>(2)?,
                    ))
                })
                .optional()
                .map_err(|e| backend("search across runs", e))?
            else {
                continue;
            };
            if hits.contains_key(&run_id) || !by_id.contains_key(run_id.as_str()) {
                continue;
            }
            let count = usize::try_from(last - first + 1).unwrap_or(usize::MAX);
            let lines = events(&tx, run_id.clone(), first - 1, count)?;
            if let Some(hit) = first_hit(needle, &lines)
                && let Some((run, _)) = by_id.get(run_id.as_str())
            {
                hits.insert(run_id, output_hit(run, hit));
                if enough(&hits) {
                    break;
                }
            }
        }
    }

    // What is not indexed yet: the newest lines of live runs, within a budget.
    let mut budget = RUNS_TAIL_EVENTS;
    for (run, indexed) in &runs {
        if enough(&hits) || budget == 0 {
            break;
        }
        if hits.contains_key(&run.id) || run.last_sequence <= *indexed {
            continue;
        }
        let mut from = *indexed;
        let mut of = TextOf::default();
        while budget > 0 {
            let page = events(&tx, run.id.clone(), from, SCAN_PAGE.min(budget))?;
            let Some(last) = page.last() else { break };
            from = last.sequence;
            budget = budget.saturating_sub(page.len());
            let mut c = Collector {
                needle,
                after: 0,
                want: 1,
                hits: Vec::new(),
            };
            c.check(&mut of, &page);
            if let Some(hit) = c.hits.pop() {
                hits.insert(run.id.clone(), output_hit(run, hit));
                break;
            }
        }
    }

    let mut hits: Vec<RunHit> = hits.into_values().collect();
    hits.sort_by(|a, b| (b.run.created_at, &b.run.id).cmp(&(a.run.created_at, &a.run.id)));
    hits.truncate(search.limit);
    Ok(hits)
}

fn first_hit(needle: &Needle, stretch: &[common::wire::RawEvent]) -> Option<LineHit> {
    let mut c = Collector {
        needle,
        after: 0,
        want: 1,
        hits: Vec::new(),
    };
    c.check(&mut TextOf::default(), stretch);
    c.hits.pop()
}

fn output_hit(run: &RunSummary, hit: LineHit) -> RunHit {
    RunHit {
        run: run.clone(),
        field: HitField::Output,
        sequence: Some(hit.sequence),
        snippet: hit.text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_become_trigrams_quoted_for_fts5() {
        let q = |s: &str| fts_query(&Needle::new(s).unwrap());
        assert_eq!(q("ab"), None);
        assert_eq!(q("Error").as_deref(), Some(r#""err" AND "rro" AND "ror""#));
        assert_eq!(q(r#"a"bc"#).as_deref(), Some(r#""a""b" AND """bc""#));
        assert_eq!(q("aaaa").as_deref(), Some(r#""aaa""#));
        let long = q("abcdefghijklmnopqrstuvwxyz0123456789").unwrap();
        assert_eq!(long.matches(" AND ").count(), MAX_TRIGRAMS - 1);
    }
}
