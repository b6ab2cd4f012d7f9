//! Which backend a database URL names, and opening it: the one place that knows the backends.
//! The gateway holds whatever this returns as an `Arc<dyn Store>`.

use std::fmt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::postgres::PgStore;
use super::sqlite::SqliteStore;
use super::{Store, StoreError};

/// The URL schemes this build opens.
pub const SCHEMES: &[&str] = &["sqlite", "postgres", "postgresql"];

/// A database a URL names.
#[derive(Clone, PartialEq, Eq)]
pub enum Location {
    /// `sqlite:PATH` or `sqlite://PATH`: a database file, created on first start.
    Sqlite(PathBuf),
    /// `postgres://…` or `postgresql://…`: a PostgreSQL database, which several gateways may
    /// share. Kept whole (it may hold a password); shown without its password.
    Postgres(String),
}

/// A URL with a scheme this build does not open. Names the scheme, never the URL: a database URL
/// may hold a password.
#[derive(Debug, thiserror::Error)]
#[error("DATABASE_URL {found}; this build supports only {} URLs", supported())]
pub struct UnsupportedUrl {
    found: String,
}

fn supported() -> String {
    SCHEMES
        .iter()
        .map(|s| format!("{s}:"))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Location {
    /// Read a `DATABASE_URL`.
    pub fn parse(url: &str) -> Result<Self, UnsupportedUrl> {
        if let Some(path) = url.strip_prefix("sqlite:") {
            return Ok(Self::Sqlite(PathBuf::from(path.trim_start_matches("//"))));
        }
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self::Postgres(url.to_string()));
        }
        let found = match url.split_once(':') {
            Some((scheme, _))
                if !scheme.is_empty()
                    && scheme
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b)) =>
            {
                format!("names a {scheme:?} database")
            }
            _ => "has no scheme".to_string(),
        };
        Err(UnsupportedUrl { found })
    }
}

/// Shows what a log may show: the path of a file, never a password.
impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "sqlite:{}", path.display()),
            Self::Postgres(url) => f.write_str(&without_password(url)),
        }
    }
}

/// `url` with the password of its user part (`user:password@`) replaced by `***`.
fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let host_start = rest.find(['/', '?']).unwrap_or(rest.len());
    match rest[..host_start].rsplit_once('@') {
        Some((user, host)) => {
            let user = user.split_once(':').map_or(user, |(name, _)| name);
            let masked = if rest[..host_start].contains(':') && user.len() < host_start {
                format!("{user}:***@{host}")
            } else {
                format!("{user}@{host}")
            };
            format!("{scheme}://{masked}{}", &rest[host_start..])
        }
        None => url.to_string(),
    }
}

/// Open the database at `location`, creating it and bringing its schema up to date.
pub async fn open(location: &Location) -> Result<Arc<dyn Store>, StoreError> {
    match location {
        Location::Sqlite(path) => Ok(Arc::new(open_sqlite(path)?)),
        Location::Postgres(url) => Ok(Arc::new(
            PgStore::open(url, super::postgres::DEFAULT_POOL).await?,
        )),
    }
}

/// The database file and its directory are created if missing; the file owner-only, before
/// SQLite would create it with the umask's mode (it holds every run's key).
fn open_sqlite(path: &Path) -> Result<SqliteStore, StoreError> {
    let fail = |what: &str, e: std::io::Error| {
        StoreError::Backend(format!("{what} {}: {e}", path.display()))
    };
    let path = std::path::absolute(path).map_err(|e| fail("resolve the database path", e))?;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| fail("create the directory of", e))?;
    }
    if !path.exists() {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| fail("create database", e))?;
    }
    SqliteStore::open(&path)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    #[test]
    fn urls_name_a_backend_or_the_schemes_this_build_has() {
        for (url, path) in [
            ("sqlite:///tmp/x.db", "/tmp/x.db"),
            ("sqlite:/tmp/x.db", "/tmp/x.db"),
            ("sqlite:data/x.db", "data/x.db"),
        ] {
            assert_eq!(
                Location::parse(url).unwrap(),
                Location::Sqlite(path.into()),
                "{url}"
            );
        }
        // Put together here, so that the source holds no URL with a password in it.
        let with_password = ["postgres://gw", ":hunter2@db:5433/gw?application_name=x"].concat();
        let location = Location::parse(&with_password).unwrap();
        assert_eq!(location, Location::Postgres(with_password.clone()));
        for shown in [location.to_string(), format!("{location:?}")] {
            assert_eq!(shown, "postgres://gw:***@db:5433/gw?application_name=x");
        }
        assert_eq!(
            Location::parse("postgresql://db/gw").unwrap().to_string(),
            "postgresql://db/gw"
        );
        assert_eq!(
            Location::parse("postgres://gw@db/gw").unwrap().to_string(),
            "postgres://gw@db/gw"
        );
        for (url, says) in [
            ("mysql://x", "names a \"mysql\" database"),
            ("/var/lib/gateway.db", "has no scheme"),
            ("", "has no scheme"),
        ] {
            let e = Location::parse(url).unwrap_err().to_string();
            assert!(e.contains(says), "{url}: {e}");
            assert!(
                e.contains("supports only sqlite:, postgres:, postgresql: URLs"),
                "{url}: {e}"
            );
        }
    }

    #[tokio::test]
    async fn a_new_sqlite_database_is_created_owner_only_with_its_directory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("deep/er/gateway.db");
        let store = open(&Location::Sqlite(path.clone())).await.unwrap();
        assert!(store.list_runs(1).await.unwrap().is_empty());
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(
            Location::Sqlite(path.clone()).to_string(),
            format!("sqlite:{}", path.display())
        );
    }
}
