//! Issuing and checking the generated certificates: the CA's parameters, a leaf signed by it,
//! both written to the data directory (keys owner-only, atomically), and the check that a leaf
//! chains to its CA and covers every name now and a while from now.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls::crypto::CryptoProvider;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, UnixTime};
use sha2::{Digest, Sha256};

use super::dates::{DAY, set_validity};
use super::names::Name;
use crate::clock::now_secs;

/// File name of the local CA certificate (PEM) inside the TLS directory.
pub const CA_CERT_FILE: &str = "ca.pem";
/// File name of the local CA private key (PEM, PKCS#8, mode 0600).
pub const CA_KEY_FILE: &str = "ca-key.pem";
/// File name of the leaf certificate chain (PEM: leaf, then CA).
pub const LEAF_CERT_FILE: &str = "cert.pem";
/// File name of the leaf private key (PEM, PKCS#8, mode 0600).
pub const LEAF_KEY_FILE: &str = "key.pem";
/// Common name of the generated local CA.
pub const CA_COMMON_NAME: &str = "claude-runner gateway local CA";
/// The leaf is re-issued when it expires within this many days.
pub const RENEW_BEFORE_DAYS: i64 = 30;
/// How long a generated leaf certificate is valid.
pub const LEAF_VALIDITY_DAYS: i64 = 90;
/// How long a generated CA is valid (a new one means updating every runner that trusts it).
pub const CA_VALIDITY_DAYS: i64 = 825;

const LEAF_COMMON_NAME: &str = "claude-runner gateway";

/// SHA-256 of a certificate's DER encoding as 64 lowercase hex characters, no separators.
#[must_use]
pub fn fingerprint(der: &[u8]) -> String {
    hex::encode(Sha256::digest(der))
}

pub(super) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

pub(super) fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    params
        .distinguished_name
        .push(DnType::CommonName, CA_COMMON_NAME);
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    params
}

pub(super) fn issue_leaf(
    issuer: &Issuer<'_, KeyPair>,
    names: &[Name],
    validity_days: i64,
) -> anyhow::Result<(CertificateDer<'static>, KeyPair)> {
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)
        .map_err(|e| anyhow!("cannot generate the leaf key: {e}"))?;
    let mut params = CertificateParams::default();
    params
        .distinguished_name
        .push(DnType::CommonName, LEAF_COMMON_NAME);
    params.subject_alt_names = names
        .iter()
        .map(|n| match n {
            Name::Ip(ip) => Ok(SanType::IpAddress(*ip)),
            Name::Dns(s) => s
                .clone()
                .try_into()
                .map(SanType::DnsName)
                .map_err(|e| anyhow!("{s:?} cannot be put in a certificate: {e}")),
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    params.use_authority_key_identifier_extension = true;
    set_validity(&mut params, validity_days);
    let cert = params
        .signed_by(&key, issuer)
        .map_err(|e| anyhow!("cannot issue the leaf certificate: {e}"))?;
    Ok((cert.der().clone(), key))
}

pub(super) fn write_leaf(
    dir: &Path,
    leaf: &CertificateDer<'_>,
    key: &KeyPair,
    ca: &CertificateDer<'_>,
) -> anyhow::Result<()> {
    // Key first: a crash between the two writes leaves a mismatched pair, re-issued next start.
    write_atomic(
        &dir.join(LEAF_KEY_FILE),
        key.serialize_pem().as_bytes(),
        0o600,
    )?;
    let chain = format!("{}{}", pem_cert(leaf), pem_cert(ca));
    write_atomic(&dir.join(LEAF_CERT_FILE), chain.as_bytes(), 0o644)
}

pub(super) fn pem_cert(der: &[u8]) -> String {
    use std::fmt::Write as _;
    // Standard base64 with 64-character lines, as PEM requires.
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = String::with_capacity(der.len().div_ceil(3) * 4);
    for chunk in der.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                b64.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                b64.push('=');
            }
        }
    }
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        let _ = writeln!(out, "{}", String::from_utf8_lossy(line));
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

pub(super) fn pkcs8(key: &KeyPair) -> PrivateKeyDer<'static> {
    PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()))
}

pub(super) fn read_first_cert(path: &Path) -> anyhow::Result<CertificateDer<'static>> {
    let mut certs = CertificateDer::pem_file_iter(path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    match certs.next() {
        Some(Ok(cert)) => Ok(cert),
        Some(Err(e)) => Err(anyhow!("cannot parse {}: {e}", path.display())),
        None => bail!("{} contains no PEM CERTIFICATE block", path.display()),
    }
}

pub(super) fn load_leaf(
    cert: &Path,
    key: &Path,
) -> anyhow::Result<(CertificateDer<'static>, PrivateKeyDer<'static>)> {
    let leaf = read_first_cert(cert)?;
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("cannot read the key {}", key.display()))?;
    Ok((leaf, key))
}

/// Checks the leaf chains to the CA, covers every name, and is valid now and in
/// [`RENEW_BEFORE_DAYS`] days. The error is a plain-words reason.
pub(super) fn check_leaf(
    leaf: &CertificateDer<'_>,
    ca: &CertificateDer<'static>,
    names: &[Name],
    provider: &Arc<CryptoProvider>,
) -> Result<(), String> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(ca.clone())
        .map_err(|e| format!("the CA certificate is unusable: {e}"))?;
    let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| format!("cannot build a verifier: {e}"))?;
    let now = Duration::from_secs(u64::try_from(now_secs()).unwrap_or(0));
    let later = now + Duration::from_secs(u64::try_from(RENEW_BEFORE_DAYS * DAY).unwrap_or(0));
    for name in names {
        let Some(server_name) = name.server_name() else {
            return Err(format!("{} is not a usable server name", name.san()));
        };
        for (when, label) in [(now, "now"), (later, "soon")] {
            let at = UnixTime::since_unix_epoch(when);
            if let Err(e) = verifier.verify_server_cert(leaf, &[], &server_name, &[], at) {
                return Err(match e {
                    rustls::Error::InvalidCertificate(
                        rustls::CertificateError::Expired
                        | rustls::CertificateError::ExpiredContext { .. },
                    ) if label == "soon" => {
                        format!("it expires within {RENEW_BEFORE_DAYS} days")
                    }
                    rustls::Error::InvalidCertificate(
                        rustls::CertificateError::Expired
                        | rustls::CertificateError::ExpiredContext { .. },
                    ) => "it has expired".to_string(),
                    rustls::Error::InvalidCertificate(
                        rustls::CertificateError::NotValidForName
                        | rustls::CertificateError::NotValidForNameContext { .. },
                    ) => format!("it does not cover {}", name.san()),
                    other => format!("it does not validate against the CA: {other}"),
                });
            }
        }
    }
    Ok(())
}

/// Writes `data` to `path` through a temporary file in the same directory and a rename, so a
/// reader never sees a half-written file. The file gets `mode`.
pub(super) fn write_atomic(path: &Path, data: &[u8], mode: u32) -> anyhow::Result<()> {
    let file_name = path
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| anyhow!("{} is not a file path", path.display()))?;
    let tmp = path.with_file_name(format!(".{file_name}.tmp-{}", std::process::id()));
    let _ = fs::remove_file(&tmp);
    let result = (|| -> std::io::Result<()> {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        file.write_all(data)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.with_context(|| format!("cannot write {}", path.display()))
}
