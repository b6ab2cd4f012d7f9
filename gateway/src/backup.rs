//! `gateway backup` and `gateway restore`: the whole gateway in one file, taken while it runs.
//!
//! A backup is a SQLite database: a consistent snapshot of the gateway's database
//! (`VACUUM INTO`, one read transaction: every batch whole, and neither ingest nor the live
//! gateway waits for it), with the data directory's other files (the HMAC secret, `runner.env`,
//! the TLS keys and certificates) added in a table of their own. It therefore holds every secret
//! the gateway has: it is written owner-only (0600), and the command says so. A restore goes
//! only into an empty data directory and leaves the gateway's database exactly as the snapshot
//! was; the gateway migrates it at start if the backup came from an earlier release.
//!
//! PostgreSQL keeps its data outside the data directory: back it up with `pg_dump` (README,
//! "Backups"), and the data directory with any file copy. Artifact bodies in object storage
//! (`ARTIFACT_STORE`) are not in the file either, only their metadata: the bucket is backed up
//! on its own, and the command says so.

use std::fs;
use std::io::Read;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, ensure};
use rusqlite::{Connection, OpenFlags};

use crate::config::Config;
use crate::store::Location;

/// The data directory's files in a backup: path relative to the directory, mode, contents.
const FILES: &str = "gateway_backup_files";
/// What the backup is: when and by which build it was taken.
const INFO: &str = "gateway_backup";
/// The first bytes of every SQLite database.
const SQLITE_MAGIC: &[u8; 16] = b"SQLite format 3\0";

/// What a backup or restore moved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub runs: u64,
    /// Files of the data directory, besides the database.
    pub files: Vec<PathBuf>,
    pub bytes: u64,
}

/// Where the database is, for the two commands: SQLite only.
fn sqlite_path(config: &Config) -> anyhow::Result<&Path> {
    match &config.database {
        Location::Sqlite(path) => Ok(path),
        Location::Postgres(_) => anyhow::bail!(
            "backup and restore copy a SQLite database; back up a PostgreSQL database with \
             pg_dump and restore it with pg_restore (see README.md, \"Backup\")"
        ),
    }
}

/// Writes a backup of the gateway configured by `config` to `to`, which must not exist.
/// Safe while the gateway runs and runs stream.
pub fn backup(config: &Config, to: &Path) -> anyhow::Result<Report> {
    let db = std::path::absolute(sqlite_path(config)?).context("resolve the database path")?;
    let to = std::path::absolute(to).context("resolve the backup path")?;
    ensure!(
        !to.exists(),
        "{} exists already; name a new file",
        to.display()
    );
    ensure!(
        db.exists(),
        "no database at {}: nothing to back up",
        db.display()
    );
    let partial = with_suffix(&to, ".partial");
    let _ = fs::remove_file(&partial);
    create_private(&partial)?;
    let written = write_backup(config, &db, &to, &partial);
    if written.is_err() {
        let _ = fs::remove_file(&partial);
    }
    let report = written?;
    fs::File::open(&partial)
        .and_then(|f| f.sync_all())
        .with_context(|| format!("sync {}", partial.display()))?;
    fs::rename(&partial, &to).with_context(|| format!("rename to {}", to.display()))?;
    sync_parent(&to)?;
    Ok(report)
}

fn write_backup(config: &Config, db: &Path, to: &Path, partial: &Path) -> anyhow::Result<Report> {
    // Read-write without create: a wrong path is an error, not a new empty database. The
    // snapshot is one read transaction; the gateway's writer goes on beside it (WAL).
    let source = Connection::open_with_flags(
        db,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .with_context(|| format!("open {}", db.display()))?;
    source
        .busy_timeout(std::time::Duration::from_secs(30))
        .context("set a busy timeout")?;
    let target = partial.to_str().context("the backup path is not UTF-8")?;
    source
        .execute("VACUUM INTO ?1", [target])
        .with_context(|| format!("copy {} into {}", db.display(), partial.display()))?;
    drop(source);

    let conn = Connection::open(partial).context("open the backup")?;
    conn.execute_batch(&format!(
        "CREATE TABLE {FILES} (path TEXT PRIMARY KEY NOT NULL, mode INTEGER NOT NULL, data BLOB NOT NULL);
         CREATE TABLE {INFO} (key TEXT PRIMARY KEY NOT NULL, value TEXT);"
    ))
    .context("add the file table to the backup")?;
    let skip = [
        db.to_path_buf(),
        with_suffix(db, "-wal"),
        with_suffix(db, "-shm"),
        with_suffix(db, "-journal"),
        to.to_path_buf(),
        partial.to_path_buf(),
    ];
    let data_dir = std::path::absolute(&config.data_dir).context("resolve the data directory")?;
    let mut files = Vec::new();
    if data_dir.exists() {
        collect(&data_dir, &data_dir, &skip, &mut files)?;
    }
    let tx = conn
        .unchecked_transaction()
        .context("begin writing files")?;
    let mut bytes = 0;
    for (path, mode, data) in &files {
        bytes += data.len() as u64;
        tx.execute(
            &format!("INSERT INTO {FILES} (path, mode, data) VALUES (?1, ?2, ?3)"),
            rusqlite::params![path.to_str(), mode, data],
        )
        .with_context(|| format!("add {} to the backup", path.display()))?;
    }
    let version: i64 = tx
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .context("read the schema version")?;
    for (key, value) in [
        ("taken_at_ms", crate::clock::now_ms().to_string()),
        ("gateway_version", crate::version::describe().to_string()),
        ("schema_version", version.to_string()),
    ] {
        tx.execute(
            &format!("INSERT INTO {INFO} (key, value) VALUES (?1, ?2)"),
            [key, &value],
        )
        .context("describe the backup")?;
    }
    let runs: u64 = tx
        .query_row("SELECT count(*) FROM runs", [], |r| r.get(0))
        .context("count the runs in the backup")?;
    tx.commit().context("write the files into the backup")?;
    conn.close()
        .map_err(|(_, e)| e)
        .context("close the backup")?;
    bytes += fs::metadata(partial)?.len();
    Ok(Report {
        runs,
        files: files.into_iter().map(|(p, _, _)| p).collect(),
        bytes,
    })
}

/// Every regular file under `dir`, relative to `root`, except `skip` and SQLite databases
/// (an earlier backup kept in the data directory does not go into the next one).
fn collect(
    root: &Path,
    dir: &Path,
    skip: &[PathBuf],
    out: &mut Vec<(PathBuf, u32, Vec<u8>)>,
) -> anyhow::Result<()> {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .with_context(|| format!("list {}", dir.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("list {}", dir.display()))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        let kind = entry.file_type()?;
        if skip.contains(&path) {
            continue;
        }
        if kind.is_dir() {
            collect(root, &path, skip, out)?;
        } else if kind.is_file() {
            let mut data = Vec::new();
            fs::File::open(&path)
                .and_then(|mut f| f.read_to_end(&mut data))
                .with_context(|| format!("read {}", path.display()))?;
            if data.starts_with(SQLITE_MAGIC) {
                continue;
            }
            let mode = entry.metadata()?.permissions().mode() & 0o777;
            let rel = path
                .strip_prefix(root)
                .context("a file outside the data directory")?;
            out.push((rel.to_path_buf(), mode, data));
        }
    }
    Ok(())
}

/// Restores the backup `from` into the empty data directory (and database path) of `config`.
pub fn restore(config: &Config, from: &Path) -> anyhow::Result<Report> {
    let data_dir = std::path::absolute(&config.data_dir).context("resolve the data directory")?;
    let db = std::path::absolute(sqlite_path(config)?).context("resolve the database path")?;
    if data_dir.exists() {
        let mut entries =
            fs::read_dir(&data_dir).with_context(|| format!("list {}", data_dir.display()))?;
        ensure!(
            entries.next().is_none(),
            "{} is not empty: a restore goes only into an empty data directory (move the old one \
             aside, or name another with --data-dir)",
            data_dir.display()
        );
    }
    ensure!(!db.exists(), "{} exists already", db.display());
    let backup = Connection::open_with_flags(from, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .with_context(|| format!("open {}", from.display()))?;
    let is_backup: bool = backup
        .query_row(
            "SELECT count(*) = 2 FROM sqlite_schema WHERE type = 'table' AND name IN (?1, ?2)",
            [FILES, INFO],
            |r| r.get(0),
        )
        .unwrap_or(false);
    ensure!(
        is_backup,
        "{} is not a gateway backup (made by `gateway backup --to FILE`)",
        from.display()
    );
    let files: Vec<(String, u32, Vec<u8>)> = backup
        .prepare(&format!(
            "SELECT path, mode, data FROM {FILES} ORDER BY path"
        ))
        .and_then(|mut s| {
            s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect()
        })
        .context("read the files in the backup")?;
    for (path, _, _) in &files {
        let plain = Path::new(path)
            .components()
            .all(|c| matches!(c, Component::Normal(_)));
        ensure!(
            plain && !path.is_empty(),
            "the backup names a file outside the data directory: {path:?}"
        );
    }

    make_private_dir(&data_dir)?;
    if let Some(parent) = db.parent() {
        make_private_dir(parent)?;
    }
    let partial = with_suffix(&db, ".partial");
    let _ = fs::remove_file(&partial);
    create_private(&partial)?;
    let restored = (|| -> anyhow::Result<u64> {
        let target = partial.to_str().context("the database path is not UTF-8")?;
        backup
            .execute("VACUUM INTO ?1", [target])
            .context("copy the database out of the backup")?;
        let conn = Connection::open(&partial).context("open the restored database")?;
        conn.execute_batch(&format!("DROP TABLE {FILES}; DROP TABLE {INFO}; VACUUM;"))
            .context("drop the backup's own tables")?;
        let ok: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .context("check the restored database")?;
        ensure!(ok == "ok", "the restored database is damaged: {ok}");
        let runs: u64 = conn
            .query_row("SELECT count(*) FROM runs", [], |r| r.get(0))
            .context("count the restored runs")?;
        conn.close().map_err(|(_, e)| e)?;
        Ok(runs)
    })();
    let runs = match restored {
        Ok(runs) => runs,
        Err(e) => {
            let _ = fs::remove_file(&partial);
            return Err(e);
        }
    };
    let mut bytes = fs::metadata(&partial)?.len();
    let mut names = Vec::new();
    for (path, mode, data) in files {
        let dest = data_dir.join(&path);
        if let Some(parent) = dest.parent() {
            make_private_dir(parent)?;
        }
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode & 0o777)
            .open(&dest)
            .with_context(|| format!("create {}", dest.display()))?;
        std::io::Write::write_all(&mut f, &data)
            .and_then(|()| f.sync_all())
            .with_context(|| format!("write {}", dest.display()))?;
        fs::set_permissions(&dest, fs::Permissions::from_mode(mode & 0o777))?;
        bytes += data.len() as u64;
        names.push(PathBuf::from(path));
    }
    fs::File::open(&partial)
        .and_then(|f| f.sync_all())
        .with_context(|| format!("sync {}", partial.display()))?;
    fs::rename(&partial, &db).with_context(|| format!("rename to {}", db.display()))?;
    sync_parent(&db)?;
    Ok(Report {
        runs,
        files: names,
        bytes,
    })
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// An empty file only the owner can read, before anything is written into it.
fn create_private(path: &Path) -> anyhow::Result<()> {
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("create {}", path.display()))?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o600))
        .with_context(|| format!("restrict {}", path.display()))
}

fn make_private_dir(dir: &Path) -> anyhow::Result<()> {
    if !dir.exists() {
        fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
        fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
            .with_context(|| format!("restrict {}", dir.display()))?;
    }
    Ok(())
}

fn sync_parent(path: &Path) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        fs::File::open(parent)
            .and_then(|d| d.sync_all())
            .with_context(|| format!("sync {}", parent.display()))?;
    }
    Ok(())
}
