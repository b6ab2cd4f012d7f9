//! The served certificate of a generated CA, renewed while the gateway runs.
//!
//! [`Renewer`] is rustls' certificate resolver for the TLS listener: every handshake takes the
//! leaf it holds now. [`renew_forever`] checks it a few times a day and, once it expires within
//! [`RENEW_BEFORE_DAYS`] days, issues a new leaf from the CA key on disk, writes it to the data
//! directory (so a restart keeps it) and swaps it in: connections opened from then on get the new
//! one, open ones keep theirs. No restart, no dropped connection.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use rcgen::{Issuer, KeyPair};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::dates::{DAY, not_after};
use super::issue::{
    CA_KEY_FILE, LEAF_VALIDITY_DAYS, RENEW_BEFORE_DAYS, ca_params, check_leaf, fingerprint,
    issue_leaf, pkcs8, provider, write_leaf,
};
use super::names::Name;
use crate::clock::now_secs;

/// How often the running gateway looks at its leaf's expiry.
const CHECK_EVERY: Duration = Duration::from_secs(6 * 60 * 60);

/// The leaf being served, with its expiry.
struct Served {
    key: Arc<CertifiedKey>,
    not_after: i64,
}

/// Serves the current leaf of a generated CA and renews it.
pub struct Renewer {
    dir: PathBuf,
    names: Vec<Name>,
    ca: CertificateDer<'static>,
    served: RwLock<Served>,
}

impl std::fmt::Debug for Renewer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Renewer")
            .field("dir", &self.dir)
            .field("leaf", &self.leaf_fingerprint())
            .finish_non_exhaustive()
    }
}

/// The chain `[leaf, CA]` with its key, ready for rustls; refused if the key is not the leaf's.
fn certified(
    leaf: &CertificateDer<'static>,
    ca: &CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
) -> anyhow::Result<Served> {
    let key = CertifiedKey::from_der(vec![leaf.clone(), ca.clone()], key, &provider())
        .context("the certificate and private key do not form a usable pair")?;
    let not_after = not_after(leaf).ok_or_else(|| anyhow!("the leaf's expiry cannot be read"))?;
    Ok(Served {
        key: Arc::new(key),
        not_after,
    })
}

impl Renewer {
    /// Serve `leaf` (signed by the CA `ca`, for `names`) with `key`; renewals go to `dir`.
    pub(super) fn new(
        dir: PathBuf,
        names: Vec<Name>,
        ca: CertificateDer<'static>,
        leaf: &CertificateDer<'static>,
        key: PrivateKeyDer<'static>,
    ) -> anyhow::Result<Self> {
        let served = certified(leaf, &ca, key)?;
        Ok(Self {
            dir,
            names,
            ca,
            served: RwLock::new(served),
        })
    }

    /// SHA-256 of the leaf served now.
    pub fn leaf_fingerprint(&self) -> String {
        let served = self.served.read().unwrap_or_else(|p| p.into_inner());
        served
            .key
            .cert
            .first()
            .map_or_else(String::new, |c| fingerprint(c))
    }

    /// When the leaf served now expires (unix seconds).
    pub fn leaf_not_after(&self) -> i64 {
        self.served
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .not_after
    }

    /// Issue and serve a new leaf if the one served expires within [`RENEW_BEFORE_DAYS`] days
    /// of `now` (unix seconds); `true` if it did. Blocking (key generation, file writes).
    pub fn renew_if_due(&self, now: i64) -> anyhow::Result<bool> {
        if self.leaf_not_after() - now > RENEW_BEFORE_DAYS * DAY {
            return Ok(false);
        }
        let ca_key_path = self.dir.join(CA_KEY_FILE);
        let ca_key_pem = std::fs::read_to_string(&ca_key_path).with_context(|| {
            format!(
                "the leaf certificate is due for renewal but the CA key {} cannot be read",
                ca_key_path.display()
            )
        })?;
        let ca_key = KeyPair::from_pem(&ca_key_pem)
            .map_err(|e| anyhow!("cannot parse the CA key {}: {e}", ca_key_path.display()))?;
        let issuer = Issuer::new(ca_params(), ca_key);
        let (leaf, leaf_key) = issue_leaf(&issuer, &self.names, LEAF_VALIDITY_DAYS)?;
        if let Err(reason) = check_leaf(&leaf, &self.ca, &self.names, &provider()) {
            bail!("a renewed leaf does not validate against the local CA: {reason}");
        }
        let served = certified(&leaf, &self.ca, pkcs8(&leaf_key))?;
        write_leaf(&self.dir, &leaf, &leaf_key, &self.ca)?;
        *self.served.write().unwrap_or_else(|p| p.into_inner()) = served;
        tracing::info!(
            sha256 = %fingerprint(&leaf),
            "renewed the TLS leaf certificate; new connections get it"
        );
        Ok(true)
    }
}

impl ResolvesServerCert for Renewer {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(
            &self.served.read().unwrap_or_else(|p| p.into_inner()).key,
        ))
    }
}

/// Renew the leaf whenever it is due, checking every few hours, for as long as it is polled.
pub async fn renew_forever(renewer: Arc<Renewer>) {
    let mut tick = tokio::time::interval(CHECK_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let r = Arc::clone(&renewer);
        match tokio::task::spawn_blocking(move || r.renew_if_due(now_secs())).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(
                "could not renew the TLS leaf certificate: {e:#}; the current one is served \
                 until it expires"
            ),
            Err(e) => tracing::warn!(error = %e, "the certificate renewal task failed"),
        }
    }
}
