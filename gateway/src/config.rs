//! Gateway settings: command-line flags over environment over `.env` over built-in defaults.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;
use common::Secret;
use common::settings::{Layers, parse_bool};

use crate::store::Location;

/// Command-line flags. Every flag also has an environment variable (shown in `--help`); the
/// flag wins, then the environment, then `.env` in the working directory, then the default.
#[derive(Debug, Default, Parser)]
#[command(
    name = "gateway",
    version = crate::version::describe(),
    about = "Self-hosted HTTPS gateway for claude-runner: stores signed run events and serves them",
    long_about = "Self-hosted HTTPS gateway for claude-runner.\n\n\
        With no configuration it listens on https://127.0.0.1:3100, keeps its SQLite database, \
        certificates and secrets in .data/gateway, creates a local CA and a certificate for \
        localhost on first start, and prints the CA fingerprint, the admin token and how to \
        start a runner against it."
)]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Address to listen on [env: GATEWAY_LISTEN] [default: 127.0.0.1:3100]
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
    /// Data directory: database, certificates, secrets [env: GATEWAY_DATA_DIR] [default: .data/gateway]
    #[arg(long, value_name = "DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// Database URL: sqlite:PATH or postgres://… [env: DATABASE_URL] [default: sqlite:<data-dir>/gateway.db]
    #[arg(long, value_name = "URL", global = true)]
    pub database_url: Option<String>,
    /// Base URL people and runners use to reach this gateway [env: GATEWAY_PUBLIC_URL]
    #[arg(long, value_name = "URL")]
    pub public_url: Option<String>,
    /// PEM certificate chain to serve instead of the generated one [env: GATEWAY_TLS_CERT]
    #[arg(long, value_name = "PATH", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert [env: GATEWAY_TLS_KEY]
    #[arg(long, value_name = "PATH", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Obtain and renew a public certificate for these domains by ACME (TLS-ALPN-01 on this
    /// port), comma-separated [env: GATEWAY_ACME_DOMAINS]
    #[arg(long, value_name = "DOMAINS")]
    pub acme_domains: Option<String>,
    /// Contact e-mail for the ACME account [env: GATEWAY_ACME_EMAIL]
    #[arg(long, value_name = "EMAIL")]
    pub acme_email: Option<String>,
    /// ACME directory URL [env: GATEWAY_ACME_DIRECTORY] [default: Let's Encrypt]
    #[arg(long, value_name = "URL")]
    pub acme_directory: Option<String>,
    /// Extra CA (PEM) to trust for the ACME directory's own HTTPS [env: GATEWAY_ACME_CA_FILE]
    #[arg(long, value_name = "PATH")]
    pub acme_ca_file: Option<PathBuf>,
    /// Extra DNS names or IPs for the generated certificate, comma-separated [env: GATEWAY_TLS_NAMES]
    #[arg(long, value_name = "NAMES")]
    pub tls_names: Option<String>,
    /// Serve plain HTTP instead of HTTPS (loopback only unless --allow-plain-http-remote) [env: GATEWAY_PLAIN_HTTP]
    #[arg(long)]
    pub plain_http: bool,
    /// Allow plain HTTP on a non-loopback address (secrets would cross the network in clear)
    #[arg(long, requires = "plain_http")]
    pub allow_plain_http_remote: bool,
    /// Seconds a client has to send a request head (from connecting or its previous answer)
    /// [env: GATEWAY_HEADER_TIMEOUT] [default: 20]
    #[arg(long, value_name = "SECS")]
    pub header_timeout: Option<u64>,
    /// Seconds a connection may stay without a request in progress before it is closed
    /// [env: GATEWAY_IDLE_TIMEOUT] [default: 120]
    #[arg(long, value_name = "SECS")]
    pub idle_timeout: Option<u64>,
    /// Seconds without a heartbeat after which an agent and its runs show as offline
    /// [env: GATEWAY_AGENT_OFFLINE_AFTER] [default: 30]
    #[arg(long, value_name = "SECS")]
    pub agent_offline_after: Option<u64>,
    /// Connections served at once; past it clients get 503 [env: GATEWAY_MAX_CONNECTIONS] [default: 1000]
    #[arg(long, value_name = "N")]
    pub max_connections: Option<u64>,
    /// Milliseconds an ingest batch that overtook the one before it waits for that one before
    /// its gap is answered with 409; 0 to 10000 [env: GATEWAY_INGEST_ORDER_WAIT_MS] [default: 2000]
    #[arg(long, value_name = "MS")]
    pub ingest_order_wait_ms: Option<u64>,
    /// Reverse proxies whose X-Forwarded-For / Forwarded header names the client, comma-separated
    /// addresses or networks (10.0.0.0/8) [env: GATEWAY_TRUSTED_PROXIES] [default: none]
    #[arg(long, value_name = "ADDRS")]
    pub trusted_proxies: Option<String>,
    /// Print a new admin token (and forget the old one), then serve
    #[arg(long)]
    pub rotate_admin_token: bool,
    /// Read this file instead of ./.env
    #[arg(long, value_name = "PATH", global = true)]
    pub env_file: Option<PathBuf>,
}

/// What to do instead of serving.
#[derive(Debug, Clone, PartialEq, Eq, clap::Subcommand)]
pub enum Command {
    /// Print a one-time enrollment token for `claude-runner agent --enroll-token` (valid an
    /// hour), made in this gateway's database; the gateway may be running
    Enroll,
    /// Write a consistent backup of the database, secrets and certificates to FILE, also while
    /// the gateway runs (SQLite; for PostgreSQL see the README)
    Backup {
        /// The backup file to write (must not exist); it holds every secret: keep it private
        #[arg(long, value_name = "FILE")]
        to: PathBuf,
    },
    /// Restore a backup into an empty data directory, then start the gateway on it
    Restore {
        /// A file written by `gateway backup`
        #[arg(long, value_name = "FILE")]
        from: PathBuf,
    },
}

/// The effective configuration.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: String,
    pub data_dir: PathBuf,
    /// `DATABASE_URL`: the store to open.
    pub database: Location,
    pub public_url: Option<String>,
    pub tls: TlsChoice,
    /// `HMAC_SECRET`; generated and kept in the data directory when unset.
    pub hmac_secret: Option<Secret>,
    /// `GATEWAY_ADMIN_TOKEN`; generated on first start when unset. It is the first admin's API
    /// token with every scope (`auth::tokens::adopt_admin_token`).
    pub admin_token: Option<Secret>,
    /// `GATEWAY_ADMIN_PASSWORD` for the web UI; generated on first start when unset.
    pub admin_password: Option<Secret>,
    /// `GATEWAY_METRICS_TOKEN`: a Bearer token that reads `/metrics` and nothing else.
    pub metrics_token: Option<Secret>,
    pub rotate_admin_token: bool,
    pub limits: Limits,
    /// How long ended runs are kept (`GATEWAY_RETENTION`, `GATEWAY_RETENTION_<STATUS>`).
    pub retention: crate::retention::Policy,
    /// `GATEWAY_TRUSTED_PROXIES`: whose forwarding headers name the client.
    pub trusted_proxies: crate::http::TrustedProxies,
    /// `ARTIFACT_STORE` (+ the AWS variables): artifact bodies in object storage; `None`: in
    /// the database.
    pub artifact_store: Option<crate::artifacts::ObjectsConfig>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TlsChoice {
    /// Generate (first start) or reuse a local CA and leaf in `<data>/tls`.
    Generated {
        extra_names: Vec<String>,
    },
    Files {
        cert: PathBuf,
        key: PathBuf,
    },
    /// A public certificate by ACME, kept in `<data>/acme`.
    Acme(crate::server::tls::acme::AcmeSettings),
    /// Plain HTTP; `remote_allowed` when forced on a non-loopback address.
    PlainHttp {
        remote_allowed: bool,
    },
}

/// Request-size, connection and cache bounds.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_ingest_bytes: usize,
    pub max_json_bytes: usize,
    pub max_artifact_bytes: usize,
    pub nonce_cache_entries: usize,
    /// Connections served at once (`GATEWAY_MAX_CONNECTIONS`).
    pub max_connections: usize,
    /// Time to send a request head (`GATEWAY_HEADER_TIMEOUT`).
    pub header_timeout: Duration,
    /// Time a connection may stay without a request in progress (`GATEWAY_IDLE_TIMEOUT`).
    pub idle_timeout: Duration,
    /// An agent not heard from for this long is offline, and so are its runs
    /// (`GATEWAY_AGENT_OFFLINE_AFTER`).
    pub agent_offline_after: Duration,
    /// Longest an ingest batch waits for an earlier batch of its run still being handled before
    /// its gap is answered with 409 (`GATEWAY_INGEST_ORDER_WAIT_MS`; `routes::ingest`).
    pub ingest_order_wait: Duration,
}

/// Longest `GATEWAY_INGEST_ORDER_WAIT_MS` accepted. A waiting batch holds its connection and
/// its body (up to 4 MiB); an earlier batch that takes longer than this is stuck, and the
/// runner resends the later one after the earlier one's answer anyway.
pub const MAX_INGEST_ORDER_WAIT: Duration = Duration::from_secs(10);

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_ingest_bytes: common::wire::MAX_BATCH_BYTES,
            max_json_bytes: 64 * 1024,
            max_artifact_bytes: 32 * 1024 * 1024,
            // About 24 bytes each (see `auth::replay::NonceCache`): 100,000 entries are ~2.4 MB
            // at most and hold ~330 signed requests per second (each is remembered for 300 s);
            // past that the store alone answers, as it does for every replay anyway: the front
            // only refuses one sooner. `loadgen`'s 1,000 runners at 10 lines/s sign ~900
            // requests a second, ~265,000 live nonces (~6 MB) after five minutes; the former
            // bound, 2 M entries, allowed ~50 MB (BENCHMARKS.md, "Memory per connection").
            // `GATEWAY_NONCE_CACHE_ENTRIES`.
            nonce_cache_entries: 100_000,
            // Within the usual open-file limit of 1,024 (raised to the hard limit at start, see
            // `server::files`) with room for the database's own files.
            max_connections: 1000,
            header_timeout: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(120),
            // Three heartbeats (an agent sends one every 10 s) missed.
            agent_offline_after: Duration::from_secs(30),
            // Two batches of a run sent back to back reach the gateway milliseconds apart and
            // the earlier one is committed in milliseconds; 2 s leaves room for a slow disk.
            ingest_order_wait: Duration::from_secs(2),
        }
    }
}

impl Config {
    /// Resolve flags, environment and `.env` into a configuration. No side effects.
    pub fn resolve(args: Args, layers: &Layers) -> anyhow::Result<Self> {
        let get = |name: &str, flag: Option<String>, default: Option<&str>| {
            layers.resolve(name, flag.as_deref(), default).value
        };
        let listen = get("GATEWAY_LISTEN", args.listen, Some("127.0.0.1:3100")).unwrap_or_default();
        let data_dir = PathBuf::from(
            get(
                "GATEWAY_DATA_DIR",
                args.data_dir.map(|p| p.display().to_string()),
                Some(".data/gateway"),
            )
            .unwrap_or_default(),
        );
        let database = match get("DATABASE_URL", args.database_url, None) {
            None => Location::Sqlite(data_dir.join("gateway.db")),
            Some(url) => Location::parse(&url)?,
        };
        let plain = args.plain_http
            || match get("GATEWAY_PLAIN_HTTP", None, None) {
                Some(v) => parse_bool(&v).context("GATEWAY_PLAIN_HTTP must be true or false")?,
                None => false,
            };
        let cert = get(
            "GATEWAY_TLS_CERT",
            args.tls_cert.map(|p| p.display().to_string()),
            None,
        );
        let key = get(
            "GATEWAY_TLS_KEY",
            args.tls_key.map(|p| p.display().to_string()),
            None,
        );
        let acme_domains: Vec<String> = get("GATEWAY_ACME_DOMAINS", args.acme_domains, None)
            .map(|s| {
                s.split(',')
                    .map(|d| d.trim().trim_end_matches('.').to_ascii_lowercase())
                    .filter(|d| !d.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let tls = match (plain, cert, key) {
            (true, _, _) => TlsChoice::PlainHttp {
                remote_allowed: args.allow_plain_http_remote,
            },
            (false, None, None) if !acme_domains.is_empty() => {
                TlsChoice::Acme(crate::server::tls::acme::AcmeSettings {
                    domains: acme_domains,
                    email: get("GATEWAY_ACME_EMAIL", args.acme_email, None)
                        .filter(|e| !e.trim().is_empty()),
                    directory: get(
                        "GATEWAY_ACME_DIRECTORY",
                        args.acme_directory,
                        Some(crate::server::tls::acme::LETS_ENCRYPT),
                    )
                    .unwrap_or_default(),
                    directory_ca: get(
                        "GATEWAY_ACME_CA_FILE",
                        args.acme_ca_file.map(|p| p.display().to_string()),
                        None,
                    )
                    .map(PathBuf::from),
                })
            }
            (false, Some(_), Some(_)) if !acme_domains.is_empty() => {
                bail!("GATEWAY_ACME_DOMAINS and GATEWAY_TLS_CERT exclude each other: choose one")
            }
            (false, Some(cert), Some(key)) => TlsChoice::Files {
                cert: cert.into(),
                key: key.into(),
            },
            (false, None, None) => TlsChoice::Generated {
                extra_names: get("GATEWAY_TLS_NAMES", args.tls_names, None)
                    .map(|s| {
                        s.split(',')
                            .map(str::trim)
                            .filter(|n| !n.is_empty())
                            .map(String::from)
                            .collect()
                    })
                    .unwrap_or_default(),
            },
            _ => bail!("GATEWAY_TLS_CERT and GATEWAY_TLS_KEY must be given together"),
        };
        let number = |name: &str, flag: Option<u64>, default: u64| -> anyhow::Result<u64> {
            let Some(text) = get(name, flag.map(|n| n.to_string()), None) else {
                return Ok(default);
            };
            text.trim()
                .parse::<u64>()
                .ok()
                .filter(|n| *n > 0)
                .with_context(|| format!("{name} {text:?} must be a whole number above 0"))
        };
        let defaults = Limits::default();
        let limits = Limits {
            header_timeout: Duration::from_secs(number(
                "GATEWAY_HEADER_TIMEOUT",
                args.header_timeout,
                defaults.header_timeout.as_secs(),
            )?),
            idle_timeout: Duration::from_secs(number(
                "GATEWAY_IDLE_TIMEOUT",
                args.idle_timeout,
                defaults.idle_timeout.as_secs(),
            )?),
            agent_offline_after: Duration::from_secs(number(
                "GATEWAY_AGENT_OFFLINE_AFTER",
                args.agent_offline_after,
                defaults.agent_offline_after.as_secs(),
            )?),
            max_connections: usize::try_from(number(
                "GATEWAY_MAX_CONNECTIONS",
                args.max_connections,
                defaults.max_connections as u64,
            )?)
            .context("GATEWAY_MAX_CONNECTIONS is too large")?,
            max_artifact_bytes: usize::try_from(number(
                "GATEWAY_MAX_ARTIFACT_BYTES",
                None,
                defaults.max_artifact_bytes as u64,
            )?)
            .context("GATEWAY_MAX_ARTIFACT_BYTES is too large")?,
            nonce_cache_entries: usize::try_from(number(
                "GATEWAY_NONCE_CACHE_ENTRIES",
                None,
                defaults.nonce_cache_entries as u64,
            )?)
            .context("GATEWAY_NONCE_CACHE_ENTRIES is too large")?,
            ingest_order_wait: match get(
                "GATEWAY_INGEST_ORDER_WAIT_MS",
                args.ingest_order_wait_ms.map(|n| n.to_string()),
                None,
            ) {
                None => defaults.ingest_order_wait,
                Some(text) => text
                    .trim()
                    .parse::<u64>()
                    .ok()
                    .map(Duration::from_millis)
                    .filter(|wait| *wait <= MAX_INGEST_ORDER_WAIT)
                    .with_context(|| {
                        format!(
                            "GATEWAY_INGEST_ORDER_WAIT_MS {text:?} must be a whole number of \
                             milliseconds from 0 to {}",
                            MAX_INGEST_ORDER_WAIT.as_millis()
                        )
                    })?,
            },
            ..defaults
        };
        Ok(Self {
            listen,
            data_dir,
            database,
            public_url: get("GATEWAY_PUBLIC_URL", args.public_url, None),
            tls,
            hmac_secret: get("HMAC_SECRET", None, None).map(Secret::new),
            admin_token: get("GATEWAY_ADMIN_TOKEN", None, None).map(Secret::new),
            admin_password: get("GATEWAY_ADMIN_PASSWORD", None, None).map(Secret::new),
            metrics_token: get("GATEWAY_METRICS_TOKEN", None, None)
                .filter(|t| !t.trim().is_empty())
                .map(Secret::new),
            rotate_admin_token: args.rotate_admin_token,
            limits,
            retention: crate::retention::Policy::resolve(|name| get(name, None, None))?,
            trusted_proxies: crate::http::TrustedProxies::parse(
                &get("GATEWAY_TRUSTED_PROXIES", args.trusted_proxies, None).unwrap_or_default(),
            )
            .context("GATEWAY_TRUSTED_PROXIES")?,
            artifact_store: crate::artifacts::ObjectsConfig::resolve(|name| get(name, None, None))?,
        })
    }

    /// Check the listen address against the TLS choice: plain HTTP stays on loopback unless forced.
    pub fn check_listen(&self, addr: SocketAddr) -> anyhow::Result<Option<String>> {
        match self.tls {
            TlsChoice::PlainHttp { remote_allowed } if !addr.ip().is_loopback() => {
                if remote_allowed {
                    Ok(Some(format!(
                        "serving plain HTTP on {addr}: tokens and secrets cross the network unencrypted"
                    )))
                } else {
                    bail!(
                        "refusing plain HTTP on non-loopback address {addr}: use HTTPS, or pass \
                         --allow-plain-http-remote if a TLS proxy in front of this host handles it"
                    )
                }
            }
            _ => Ok(None),
        }
    }

    /// The base URL for links, given the address actually bound.
    pub fn base_url(&self, bound: SocketAddr) -> String {
        if let Some(u) = &self.public_url {
            return u.trim_end_matches('/').to_string();
        }
        let scheme = if matches!(self.tls, TlsChoice::PlainHttp { .. }) {
            "http"
        } else {
            "https"
        };
        if let TlsChoice::Acme(acme) = &self.tls {
            let port = bound.port();
            return match port {
                443 => format!("https://{}", acme.domains[0]),
                _ => format!("https://{}:{port}", acme.domains[0]),
            };
        }
        let host = if bound.ip().is_loopback() || bound.ip().is_unspecified() {
            "localhost".to_string()
        } else {
            bound.ip().to_string()
        };
        format!("{scheme}://{host}:{}", bound.port())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layers(env: &[(&str, &str)]) -> Layers {
        let mut l = Layers::default();
        for (k, v) in env {
            l.env.insert(k.to_string(), v.to_string());
        }
        l
    }

    #[test]
    fn defaults() {
        let c = Config::resolve(Args::default(), &Layers::default()).unwrap();
        assert_eq!(c.listen, "127.0.0.1:3100");
        assert_eq!(
            c.database,
            Location::Sqlite(PathBuf::from(".data/gateway/gateway.db"))
        );
        assert_eq!(
            c.tls,
            TlsChoice::Generated {
                extra_names: vec![]
            }
        );
        assert!(c.hmac_secret.is_none());
    }

    #[test]
    fn flags_beat_env() {
        let args = Args {
            listen: Some("127.0.0.1:0".into()),
            ..Args::default()
        };
        let c = Config::resolve(
            args,
            &layers(&[
                ("GATEWAY_LISTEN", "0.0.0.0:1"),
                ("GATEWAY_TLS_NAMES", "a.example, 10.0.0.1"),
            ]),
        )
        .unwrap();
        assert_eq!(c.listen, "127.0.0.1:0");
        assert_eq!(
            c.tls,
            TlsChoice::Generated {
                extra_names: vec!["a.example".into(), "10.0.0.1".into()]
            }
        );
    }

    #[test]
    fn plain_http_needs_loopback_or_force() {
        let c = Config::resolve(
            Args {
                plain_http: true,
                ..Args::default()
            },
            &Layers::default(),
        )
        .unwrap();
        assert!(
            c.check_listen("127.0.0.1:1".parse().unwrap())
                .unwrap()
                .is_none()
        );
        assert!(c.check_listen("0.0.0.0:1".parse().unwrap()).is_err());
        let forced = Args {
            plain_http: true,
            allow_plain_http_remote: true,
            ..Args::default()
        };
        let c = Config::resolve(forced, &Layers::default()).unwrap();
        assert!(
            c.check_listen("0.0.0.0:1".parse().unwrap())
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn connection_limits_come_from_flags_or_env_and_must_be_positive() {
        let c = Config::resolve(Args::default(), &Layers::default()).unwrap();
        assert_eq!(c.limits.max_connections, 1000);
        assert_eq!(c.limits.header_timeout, Duration::from_secs(20));
        assert_eq!(c.limits.idle_timeout, Duration::from_secs(120));
        let args = Args {
            idle_timeout: Some(5),
            ..Args::default()
        };
        let c = Config::resolve(
            args,
            &layers(&[
                ("GATEWAY_IDLE_TIMEOUT", "9"),
                ("GATEWAY_HEADER_TIMEOUT", " 3 "),
                ("GATEWAY_MAX_CONNECTIONS", "7"),
            ]),
        )
        .unwrap();
        assert_eq!(
            c.limits.idle_timeout,
            Duration::from_secs(5),
            "the flag wins"
        );
        assert_eq!(c.limits.header_timeout, Duration::from_secs(3));
        assert_eq!(c.limits.max_connections, 7);
        for bad in ["0", "-1", "ten", "1.5"] {
            let err = Config::resolve(
                Args::default(),
                &layers(&[("GATEWAY_MAX_CONNECTIONS", bad)]),
            )
            .unwrap_err();
            assert!(
                err.to_string().contains("GATEWAY_MAX_CONNECTIONS"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn the_nonce_front_is_bounded_by_env() {
        let c = Config::resolve(Args::default(), &Layers::default()).unwrap();
        assert_eq!(
            c.limits.nonce_cache_entries,
            Limits::default().nonce_cache_entries
        );
        let c = Config::resolve(
            Args::default(),
            &layers(&[("GATEWAY_NONCE_CACHE_ENTRIES", "5000")]),
        )
        .unwrap();
        assert_eq!(c.limits.nonce_cache_entries, 5000);
        let err = Config::resolve(
            Args::default(),
            &layers(&[("GATEWAY_NONCE_CACHE_ENTRIES", "0")]),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("GATEWAY_NONCE_CACHE_ENTRIES"),
            "{err}"
        );
    }

    #[test]
    fn the_ingest_order_wait_comes_from_flag_or_env_within_bounds() {
        let c = Config::resolve(Args::default(), &Layers::default()).unwrap();
        assert_eq!(c.limits.ingest_order_wait, Duration::from_secs(2));
        let c = Config::resolve(
            Args::default(),
            &layers(&[("GATEWAY_INGEST_ORDER_WAIT_MS", " 250 ")]),
        )
        .unwrap();
        assert_eq!(c.limits.ingest_order_wait, Duration::from_millis(250));
        let args = Args {
            ingest_order_wait_ms: Some(0),
            ..Args::default()
        };
        let c = Config::resolve(args, &layers(&[("GATEWAY_INGEST_ORDER_WAIT_MS", "9")])).unwrap();
        assert_eq!(c.limits.ingest_order_wait, Duration::ZERO, "the flag wins");
        let c = Config::resolve(
            Args::default(),
            &layers(&[("GATEWAY_INGEST_ORDER_WAIT_MS", "10000")]),
        )
        .unwrap();
        assert_eq!(c.limits.ingest_order_wait, MAX_INGEST_ORDER_WAIT);
        for bad in ["10001", "-1", "2s", "1.5", " "] {
            let err = Config::resolve(
                Args::default(),
                &layers(&[("GATEWAY_INGEST_ORDER_WAIT_MS", bad)]),
            )
            .unwrap_err()
            .to_string();
            assert!(
                err.contains("GATEWAY_INGEST_ORDER_WAIT_MS") && err.contains("0 to 10000"),
                "{bad:?}: {err}"
            );
        }
        let args = Args {
            ingest_order_wait_ms: Some(60_000),
            ..Args::default()
        };
        let err = Config::resolve(args, &Layers::default()).unwrap_err();
        assert!(err.to_string().contains("60000"), "{err}");
    }

    #[test]
    fn acme_domains_choose_acme_and_the_public_url() {
        let c = Config::resolve(
            Args::default(),
            &layers(&[
                ("GATEWAY_ACME_DOMAINS", " GW.example.com., www.example.com"),
                ("GATEWAY_ACME_EMAIL", "ops@example.com"),
            ]),
        )
        .unwrap();
        let TlsChoice::Acme(acme) = &c.tls else {
            panic!("{:?}", c.tls)
        };
        assert_eq!(acme.domains, ["gw.example.com", "www.example.com"]);
        assert_eq!(acme.email.as_deref(), Some("ops@example.com"));
        assert_eq!(acme.directory, crate::server::tls::acme::LETS_ENCRYPT);
        assert_eq!(
            c.base_url("0.0.0.0:443".parse().unwrap()),
            "https://gw.example.com"
        );
        assert_eq!(
            c.base_url("0.0.0.0:8443".parse().unwrap()),
            "https://gw.example.com:8443"
        );
        let err = Config::resolve(
            Args::default(),
            &layers(&[
                ("GATEWAY_ACME_DOMAINS", "gw.example.com"),
                ("GATEWAY_TLS_CERT", "c.pem"),
                ("GATEWAY_TLS_KEY", "k.pem"),
            ]),
        )
        .unwrap_err();
        assert!(err.to_string().contains("exclude each other"), "{err}");
    }

    #[test]
    fn database_url_must_be_sqlite_or_postgres() {
        let err = Config::resolve(Args::default(), &layers(&[("DATABASE_URL", "mysql://x")]))
            .unwrap_err();
        assert!(err.to_string().contains("only sqlite:, postgres:"), "{err}");
        let c = Config::resolve(
            Args::default(),
            &layers(&[("DATABASE_URL", "postgres://gw@db/gw")]),
        )
        .unwrap();
        assert_eq!(c.database, Location::Postgres("postgres://gw@db/gw".into()));
        let c = Config::resolve(
            Args::default(),
            &layers(&[("DATABASE_URL", "sqlite:///tmp/x.db")]),
        )
        .unwrap();
        assert_eq!(c.database, Location::Sqlite(PathBuf::from("/tmp/x.db")));
    }
}
