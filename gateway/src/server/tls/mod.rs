//! Server-side TLS: a local CA and leaf certificate kept in the data directory, or user-provided files.
//!
//! On first start [`load_or_generate`] creates a local CA (ECDSA P-256) and a leaf certificate
//! signed by it; later starts reuse them and re-issue only the leaf when it is missing, expires
//! within [`RENEW_BEFORE_DAYS`] days, or lacks a requested name. The server presents the chain
//! `[leaf, CA]`, so a runner can pin the CA's SHA-256 fingerprint (which survives leaf re-issues)
//! or trust `ca.pem` directly.
//!
//! The CA is name-constrained to the names it was generated for (`localhost`, the loopback
//! addresses, `GATEWAY_TLS_NAMES`): imported into a browser, it can never vouch for another
//! domain. It lives [`CA_VALIDITY_DAYS`] days, the leaf [`LEAF_VALIDITY_DAYS`]; the running
//! gateway renews the leaf by itself ([`renew`]) and serves the new one without a restart. A CA
//! generated before the constraints existed is kept (runners trust or pin it) with a warning at
//! every start saying how to replace it.

pub mod acme;
mod dates;
mod issue;
mod names;
mod renew;
#[cfg(test)]
mod tests;

use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, anyhow, bail};
use rcgen::{Issuer, KeyPair, NameConstraints};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

pub use issue::{
    CA_CERT_FILE, CA_COMMON_NAME, CA_KEY_FILE, CA_VALIDITY_DAYS, LEAF_CERT_FILE, LEAF_KEY_FILE,
    LEAF_VALIDITY_DAYS, RENEW_BEFORE_DAYS, fingerprint,
};
pub use names::DEFAULT_NAMES;
pub use renew::{Renewer, renew_forever};

use self::dates::{DAY, not_after, set_validity};
use self::issue::{
    ca_params, check_leaf, issue_leaf, load_leaf, pkcs8, provider, read_first_cert, write_atomic,
    write_leaf,
};
use self::names::{Name, is_name_constrained, permitted_subtrees, requested_names};
use crate::clock::now_secs;

/// Everything the gateway needs to serve TLS, plus what it should print at start.
#[derive(Debug, Clone)]
pub struct TlsMaterial {
    /// Ready server configuration (ring provider, ALPN `h2` and `http/1.1`).
    pub config: Arc<rustls::ServerConfig>,
    /// SHA-256 of the CA certificate's DER, 64 lowercase hex characters. For a generated CA this
    /// is the value runners put in `GATEWAY_CERT_SHA256`. For user-provided files it is the
    /// fingerprint of the last certificate of the chain when the chain has more than one.
    pub ca_fingerprint: Option<String>,
    /// Path of the generated CA certificate (`ca.pem`), for runners' `GATEWAY_CA_FILE`.
    pub ca_path: Option<PathBuf>,
    /// SHA-256 of the leaf (end-entity) certificate's DER, 64 lowercase hex characters.
    pub leaf_fingerprint: String,
    /// True when the CA (and with it the leaf) was created on this start.
    pub generated: bool,
    /// For a generated CA: what renews the served leaf while the gateway runs.
    pub renewer: Option<Arc<Renewer>>,
    /// For ACME: the certificates served, obtained and renewed while the gateway runs.
    pub acme: Option<Arc<acme::AcmeCerts>>,
}

/// Loads the local CA and leaf certificate from `dir`, creating or renewing them as needed.
///
/// `extra_names` are host names or IP addresses (IP-looking names become IP SANs) the leaf must
/// cover in addition to [`DEFAULT_NAMES`]. The CA key is only read when the leaf has to be
/// re-issued, so it may be kept offline once a long-lived leaf exists.
pub fn load_or_generate(dir: &Path, extra_names: &[String]) -> anyhow::Result<TlsMaterial> {
    let names = requested_names(extra_names)?;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create the TLS directory {}", dir.display()))?;

    let ca_path = dir.join(CA_CERT_FILE);
    let ca_key_path = dir.join(CA_KEY_FILE);
    let leaf_path = dir.join(LEAF_CERT_FILE);
    let leaf_key_path = dir.join(LEAF_KEY_FILE);

    if !ca_path.exists() {
        if ca_key_path.exists() {
            tracing::warn!(
                "{} exists without {}; generating a new local CA",
                ca_key_path.display(),
                ca_path.display()
            );
        }
        return generate_all(dir, &names);
    }

    let ca_der = read_first_cert(&ca_path)?;
    let now = now_secs();
    if let Some(ca_end) = not_after(&ca_der)
        && ca_end < now + RENEW_BEFORE_DAYS * DAY
    {
        tracing::warn!(
            "the local CA in {} expires within {RENEW_BEFORE_DAYS} days; generating a new CA: \
             runners that pin or trust the old one must be updated",
            dir.display()
        );
        return generate_all(dir, &names);
    }
    if !is_name_constrained(&ca_der) {
        tracing::warn!(
            "the local CA {} was generated before CAs were name-constrained: trusted by a browser, \
             it could vouch for any domain if its key ({}) leaked. It is kept so that runners \
             trusting or pinning it go on working. To replace it with a CA limited to this \
             gateway's names: stop the gateway, delete {}, start it, and give runners the new \
             ca.pem or fingerprint",
            ca_path.display(),
            ca_key_path.display(),
            dir.display()
        );
    }
    let provider = provider();

    // Reuse the existing leaf when it is still good.
    match load_leaf(&leaf_path, &leaf_key_path) {
        Ok((leaf, key)) => match check_leaf(&leaf, &ca_der, &names, &provider) {
            Ok(()) => match generated_material(dir, &names, &ca_der, &leaf, key, false) {
                Ok(material) => return Ok(material),
                Err(e) => tracing::info!("re-issuing the leaf certificate: {e:#}"),
            },
            Err(reason) => tracing::info!("re-issuing the leaf certificate: {reason}"),
        },
        Err(reason) => tracing::info!("issuing a new leaf certificate: {reason:#}"),
    }

    let ca_key_pem = fs::read_to_string(&ca_key_path).with_context(|| {
        format!(
            "the leaf certificate must be re-issued but the CA key {} cannot be read; restore it, \
             or delete {} to generate a new CA (runners that pin or trust the old CA must then be updated)",
            ca_key_path.display(),
            ca_path.display()
        )
    })?;
    let ca_key = KeyPair::from_pem(&ca_key_pem)
        .map_err(|e| anyhow!("cannot parse the CA key {}: {e}", ca_key_path.display()))?;
    let issuer = Issuer::new(ca_params(), ca_key);
    let (leaf, leaf_key) = issue_leaf(&issuer, &names, LEAF_VALIDITY_DAYS)?;
    if let Err(reason) = check_leaf(&leaf, &ca_der, &names, &provider) {
        if reason.contains("name constraint") || reason.contains("NameConstraint") {
            bail!(
                "the local CA in {} may only vouch for the names it was generated for, and a \
                 requested name is not one of them ({reason}): delete {} to generate a CA for the \
                 new names (runners that pin or trust the old CA must then be updated)",
                dir.display(),
                dir.display()
            );
        }
        bail!(
            "the local CA in {} does not validate a freshly issued certificate ({reason}); it may \
             be damaged or not match its key: delete {} and {} to generate a new one",
            dir.display(),
            ca_path.display(),
            ca_key_path.display()
        );
    }
    write_leaf(dir, &leaf, &leaf_key, &ca_der)?;
    generated_material(dir, &names, &ca_der, &leaf, pkcs8(&leaf_key), false)
}

/// Loads a user-provided PEM certificate chain (leaf first) and private key (PKCS#8, RSA or SEC1).
pub fn load_files(cert: &Path, key: &Path) -> anyhow::Result<TlsMaterial> {
    let chain = CertificateDer::pem_file_iter(cert)
        .with_context(|| format!("cannot read the TLS certificate file {}", cert.display()))?
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("cannot parse the TLS certificate file {}", cert.display()))?;
    let Some(leaf) = chain.first().cloned() else {
        bail!(
            "the TLS certificate file {} contains no PEM CERTIFICATE block",
            cert.display()
        );
    };
    let key_der = PrivateKeyDer::from_pem_file(key).with_context(|| {
        format!(
            "cannot read a private key (PKCS#8, RSA or SEC1 PEM) from {}",
            key.display()
        )
    })?;
    let ca_fingerprint = (chain.len() > 1)
        .then(|| chain.last().map(|c| fingerprint(c)))
        .flatten();
    let config = server_config(chain, key_der).with_context(|| {
        format!(
            "cannot use the certificate {} with the key {}",
            cert.display(),
            key.display()
        )
    })?;
    Ok(TlsMaterial {
        config,
        ca_fingerprint,
        ca_path: None,
        leaf_fingerprint: fingerprint(&leaf),
        generated: false,
        renewer: None,
        acme: None,
    })
}

fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .context("the TLS provider supports no safe protocol version")?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .context("the certificate and private key do not form a usable pair")?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The material of a generated CA: the leaf is served through a [`Renewer`], which the running
/// gateway renews.
fn generated_material(
    dir: &Path,
    names: &[Name],
    ca_der: &CertificateDer<'static>,
    leaf: &CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
    generated: bool,
) -> anyhow::Result<TlsMaterial> {
    let renewer = Arc::new(Renewer::new(
        dir.to_path_buf(),
        names.to_vec(),
        ca_der.clone(),
        leaf,
        key,
    )?);
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .context("the TLS provider supports no safe protocol version")?
        .with_no_client_auth()
        .with_cert_resolver(renewer.clone());
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsMaterial {
        config: Arc::new(config),
        ca_fingerprint: Some(fingerprint(ca_der)),
        ca_path: Some(dir.join(CA_CERT_FILE)),
        leaf_fingerprint: fingerprint(leaf),
        generated,
        renewer: Some(renewer),
        acme: None,
    })
}

fn generate_all(dir: &Path, names: &[Name]) -> anyhow::Result<TlsMaterial> {
    let ca_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .map_err(|e| anyhow!("cannot generate the CA key: {e}"))?;
    let mut params = ca_params();
    params.name_constraints = Some(NameConstraints {
        permitted_subtrees: permitted_subtrees(names),
        excluded_subtrees: Vec::new(),
    });
    set_validity(&mut params, CA_VALIDITY_DAYS);
    let ca_cert = params
        .self_signed(&ca_key)
        .map_err(|e| anyhow!("cannot create the CA certificate: {e}"))?;
    let ca_der = ca_cert.der().clone();
    let ca_path = dir.join(CA_CERT_FILE);
    write_atomic(
        &dir.join(CA_KEY_FILE),
        ca_key.serialize_pem().as_bytes(),
        0o600,
    )?;
    write_atomic(&ca_path, ca_cert.pem().as_bytes(), 0o644)?;

    let issuer = Issuer::new(params, ca_key);
    let (leaf, leaf_key) = issue_leaf(&issuer, names, LEAF_VALIDITY_DAYS)?;
    write_leaf(dir, &leaf, &leaf_key, &ca_der)?;
    tracing::info!(
        "generated a local CA in {} (sha256 {})",
        dir.display(),
        fingerprint(&ca_der)
    );
    generated_material(dir, names, &ca_der, &leaf, pkcs8(&leaf_key), true)
}
