//! The gateway: a self-hosted HTTPS server that stores signed run events from claude-runner and
//! serves them to people.
//!
//! Entry points: [`serve`] (what `main` and the tests call), [`Gateway::open`] + [`Gateway::run`]
//! when the caller wants the start-up facts (URL, CA fingerprint, first-start secrets) before
//! serving, and [`routes::router`] for handler tests without a socket.

pub mod agents;
pub mod artifacts;
pub mod audit;
pub mod auth;
pub mod backup;
pub mod clock;
pub mod commands;
pub mod config;
pub mod error;
pub mod http;
pub mod ingest_order;
pub mod live;
pub mod metrics;
pub mod notify;
pub mod retention;
pub mod routes;
pub mod secrets;
pub mod server;
pub mod state;
pub mod store;
pub mod team;
pub mod transcript;
pub mod version;
pub mod web;
pub mod web_session;

use std::future::Future;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use tokio::net::TcpListener;

use crate::config::{Config, TlsChoice};
use crate::state::{AppState, StateInner};

/// A gateway ready to serve: storage open, secrets and certificates in place.
#[derive(Debug)]
pub struct Gateway {
    pub state: AppState,
    pub tls: Option<server::tls::TlsMaterial>,
    /// Base URL people and runners use.
    pub base_url: String,
    /// Set on first start (or rotation): the admin token, to show once.
    pub new_admin_token: Option<common::Secret>,
    /// Set on first start when no password is configured: the web UI's password, to show once.
    pub new_admin_password: Option<common::Secret>,
    /// Set when the HMAC secret was generated on this start.
    pub generated_secret_path: Option<PathBuf>,
    /// `<data>/runner.env`, the settings a local runner needs.
    pub runner_env_path: PathBuf,
    /// A warning to show (plain HTTP on a non-loopback address).
    pub warning: Option<String>,
}

/// Gateways sharing a store must share their HMAC secret: a run made by one is verified by
/// whichever the runner reaches next. The first to start stores a fingerprint of its secret
/// (HMAC of a fixed text: it tells nothing of the secret); one whose fingerprint differs stops
/// with the reason instead of refusing runners' requests at random later.
async fn same_secret_as_the_others(
    store: &dyn store::Store,
    secret: &common::Secret,
) -> anyhow::Result<()> {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.expose().as_bytes())
        .expect("HMAC takes any key length");
    mac.update(b"gateway replicas share this secret v1");
    let mine = hex::encode(mac.finalize().into_bytes());
    let theirs = store
        .meta_or_insert("hmac_secret_fingerprint".into(), mine.clone())
        .await
        .context("compare the HMAC secret with the other gateways'")?;
    anyhow::ensure!(
        theirs == mine,
        "HMAC_SECRET differs from the one the other gateways on this database use: every \
         replica needs the same HMAC_SECRET (a run made on one is checked on another). To \
         change it on every replica, stop them all, then run `DELETE FROM meta WHERE key = \
         'hmac_secret_fingerprint'` in the database and start them with the new secret"
    );
    Ok(())
}

impl Gateway {
    /// Prepare everything for `bound` (the listener's address): data directory, database,
    /// secrets, TLS material, `runner.env`.
    pub async fn open(mut config: Config, bound: SocketAddr) -> anyhow::Result<Self> {
        // Absolute, so the paths printed and written into runner.env work from anywhere.
        config.data_dir =
            std::path::absolute(&config.data_dir).context("resolve the data directory")?;
        let warning = config.check_listen(bound)?;
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("create data directory {}", config.data_dir.display()))?;
        // The directory holds the database (every run's key), the HMAC secret and TLS keys:
        // owner only, whatever the umask.
        std::fs::set_permissions(&config.data_dir, std::fs::Permissions::from_mode(0o700))
            .with_context(|| format!("restrict {}", config.data_dir.display()))?;
        let store = store::open(&config.database)
            .await
            .with_context(|| format!("open the database {}", config.database))?;
        let secrets = secrets::load_or_create(
            &config.data_dir,
            config.hmac_secret.clone(),
            config.admin_token.clone(),
            config.rotate_admin_token,
            store.as_ref(),
        )
        .await?;
        if store.channel().is_some() {
            same_secret_as_the_others(store.as_ref(), &secrets.hmac_secret).await?;
        }
        if secrets.new_admin_token.is_some() {
            let made = audit::Event::new("token_created").target(auth::ADMIN_TOKEN_ID);
            audit::record(store.as_ref(), &audit::Who::gateway(), None, made).await;
        }
        let (sessions, new_admin_password) =
            web_session::Sessions::open(store.as_ref(), config.admin_password.clone()).await?;
        // The admin token is the first admin's API token with every scope; tokens from before
        // tokens had a person become the first admin's.
        let first_admin = team::first_admin_id(store.as_ref())
            .await?
            .context("the first admin is missing")?;
        auth::tokens::adopt_admin_token(store.as_ref(), secrets.admin_token_hash, &first_admin)
            .await
            .context("make the admin token one of the API tokens")?;
        let tls = match &config.tls {
            TlsChoice::Generated { extra_names } => Some(server::tls::load_or_generate(
                &config.data_dir.join("tls"),
                extra_names,
            )?),
            TlsChoice::Files { cert, key } => Some(server::tls::load_files(cert, key)?),
            TlsChoice::Acme(settings) => Some(server::tls::acme::material(
                &config.data_dir.join("acme"),
                settings.clone(),
            )?),
            TlsChoice::PlainHttp { .. } => None,
        };
        let base_url = config.base_url(bound);
        let ca_path = tls.as_ref().and_then(|t| t.ca_path.as_deref());
        let runner_env_path =
            secrets::write_runner_env(&config.data_dir, &base_url, &secrets.hmac_secret, ca_path)?;
        // The contact a push service sees in the VAPID token (RFC 8292: https: or mailto:).
        let vapid_subject = if base_url.starts_with("https://") {
            base_url.clone()
        } else {
            "mailto:claude-runner-gateway@localhost".to_string()
        };
        let vapid = if store.channel().is_some() {
            notify::Vapid::shared(store.as_ref(), &config.data_dir, vapid_subject).await?
        } else {
            notify::Vapid::load_or_create(&config.data_dir, vapid_subject)
                .context("load or create the VAPID key")?
        };
        let notifier = Arc::new(notify::Notifier::new(
            store.clone(),
            base_url.clone(),
            Some(vapid),
        )?);
        // The user handles of passkeys are keyed with the HMAC secret, so they stay the same
        // across restarts.
        let passkeys =
            web_session::Passkeys::new(&base_url, secrets.hmac_secret.expose().as_bytes());
        let artifact_bodies = match &config.artifact_store {
            None => artifacts::Bodies::Database,
            Some(objects) => {
                let objects = artifacts::Objects::connect(objects.clone())?;
                // A bucket that does not answer now may answer later: uploads get 503s meanwhile.
                match objects.check().await {
                    Ok(()) => {
                        tracing::info!(store = %objects.describe(), "artifact bodies go to object storage")
                    }
                    Err(e) => {
                        tracing::warn!(store = %objects.describe(), error = %e, "the artifact store does not answer yet")
                    }
                }
                artifacts::Bodies::Objects(Arc::new(objects))
            }
        };
        let live = live::Live::for_store(store.as_ref());
        let state = AppState::new(StateInner {
            artifact_bodies,
            body_slots: Default::default(),
            notifier,
            store,
            hmac_secret: secrets.hmac_secret,
            metrics_token_hash: config
                .metrics_token
                .as_ref()
                .map(|t| auth::tokens::token_hash(t.expose().trim())),
            nonces: auth::replay::NonceCache::new(config.limits.nonce_cache_entries),
            run_keys: auth::run_keys::RunKeys::new((config.limits.max_connections * 2).max(4_096)),
            limits: config.limits.clone(),
            retention: config.retention.clone(),
            trusted_proxies: config.trusted_proxies.clone(),
            base_url: base_url.clone(),
            tls: tls.is_some(),
            sessions,
            passkeys,
            live,
            metrics: Default::default(),
            transcripts: Default::default(),
            ingest_in_flight: Default::default(),
        });
        Ok(Self {
            state,
            tls,
            base_url,
            new_admin_token: secrets.new_admin_token,
            new_admin_password,
            generated_secret_path: secrets.hmac_generated.then_some(secrets.hmac_path),
            runner_env_path,
            warning,
        })
    }

    /// Serve until `shutdown` resolves.
    pub async fn run(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let app = routes::router(self.state.clone());
        let pruner = tokio::spawn(auth::replay::prune_forever(self.state.store.clone()));
        let sweeper = tokio::spawn(agents::sweep_forever(self.state.clone()));
        let keys = self.state.clone();
        let retention = tokio::spawn(retention::sweep_forever(
            self.state.store.clone(),
            self.state.retention.clone(),
            self.state.artifact_bodies.clone(),
            move |run: &str| keys.run_keys.forget(run),
        ));
        let deleter = match &self.state.artifact_bodies {
            artifacts::Bodies::Objects(objects) => Some(tokio::spawn(
                Arc::clone(objects).sweep_forever(self.state.store.clone()),
            )),
            artifacts::Bodies::Database => None,
        };
        let dispatcher = tokio::spawn(notify::run_forever(self.state.notifier.clone()));
        // The other replicas' news (a store no other process shares has none: returns at once).
        let follower = {
            let state = self.state.clone();
            tokio::spawn(async move { state.live.follow(state.store.as_ref()).await })
        };
        let renewal = self
            .tls
            .as_ref()
            .and_then(|t| t.renewer.clone())
            .map(|r| tokio::spawn(server::tls::renew_forever(r)));
        let acme = self
            .tls
            .as_ref()
            .and_then(|t| t.acme.clone())
            .map(|a| tokio::spawn(server::tls::acme::renew_forever(a)));
        let limits = server::ConnLimits {
            max_connections: server::files::fit_connections(self.state.limits.max_connections),
            header_timeout: self.state.limits.header_timeout,
            idle_timeout: self.state.limits.idle_timeout,
        };
        let served = server::run(
            app,
            listener,
            self.tls.map(|t| t.config),
            limits,
            self.state.metrics.clone(),
            shutdown,
        )
        .await;
        pruner.abort();
        sweeper.abort();
        retention.abort();
        if let Some(d) = deleter {
            d.abort();
        }
        dispatcher.abort();
        follower.abort();
        if let Some(r) = renewal {
            r.abort();
        }
        if let Some(a) = acme {
            a.abort();
        }
        served
    }
}

/// Open the gateway for `config` and serve on `listener` until `shutdown` resolves.
pub async fn serve(
    config: Config,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let bound = listener
        .local_addr()
        .context("read the listener's address")?;
    Gateway::open(config, bound)
        .await?
        .run(listener, shutdown)
        .await
}
