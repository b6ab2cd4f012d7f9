//! Writes the upgrade fixture: `cargo run -p gateway --example schema_fixture -- OUT.db` makes a
//! database of this build's schema holding `tests/fixtures/content.rs`. Run it once per release
//! whose schema changed and commit the file as `tests/fixtures/schema-<version>.db`; the upgrade
//! test opens every such file with the code of the day.

#[path = "../tests/fixtures/content.rs"]
mod content;

use anyhow::Context;
use gateway::store::Store;
use gateway::store::sqlite::SqliteStore;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let out = std::env::args_os()
        .nth(1)
        .context("usage: schema_fixture OUT.db")?;
    let out = std::path::PathBuf::from(out);
    anyhow::ensure!(!out.exists(), "{} exists already", out.display());
    let store = SqliteStore::open(&out)?;
    content::fill(&store).await;
    let runs = store.list_runs(10).await?.len();
    drop(store);
    // One self-contained file, as a cleanly stopped gateway leaves it: the WAL folded in.
    let conn = rusqlite::Connection::open(&out)?;
    conn.execute_batch("VACUUM")?;
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    println!("{}: schema version {version}, {runs} runs", out.display());
    Ok(())
}
