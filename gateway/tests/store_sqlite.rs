//! The store conformance suite (`store/conformance.rs`) on the SQLite backend, one database file
//! in a temporary directory per case. Tests of what only SQLite has (WAL checkpoints,
//! `synchronous=FULL`, migrations, group commit) are unit tests in `src/store/sqlite/`.

mod store;

use std::sync::Arc;

use gateway::store::Store;
use gateway::store::sqlite::SqliteStore;
use store::conformance::{Database, Opening};

/// A database file in a directory of its own, removed with it.
struct Sqlite {
    dir: tempfile::TempDir,
}

impl Sqlite {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("a temporary directory"),
        }
    }
}

impl Database for Sqlite {
    fn open(&self) -> Opening<'_> {
        let path = self.dir.path().join("gateway.db");
        Box::pin(async move {
            let store: Arc<dyn Store> =
                Arc::new(SqliteStore::open(&path).expect("the database opens"));
            store
        })
    }
}

store::conformance_tests!(Sqlite::new());
