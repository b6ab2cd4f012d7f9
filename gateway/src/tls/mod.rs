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

use std::fs;
use std::io::Write;
use std::net::IpAddr;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use rcgen::{
    BasicConstraints, CertificateParams, CidrSubnet, DnType, ExtendedKeyUsagePurpose,
    GeneralSubtree, IsCa, Issuer, KeyPair, KeyUsagePurpose, NameConstraints, SanType,
};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls::crypto::CryptoProvider;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use sha2::{Digest, Sha256};

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
/// Names every generated leaf certificate covers.
pub const DEFAULT_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];
/// The leaf is re-issued when it expires within this many days.
pub const RENEW_BEFORE_DAYS: i64 = 30;
/// How long a generated leaf certificate is valid.
pub const LEAF_VALIDITY_DAYS: i64 = 90;
/// How long a generated CA is valid (a new one means updating every runner that trusts it).
pub const CA_VALIDITY_DAYS: i64 = 825;

mod renew;
pub use renew::{Renewer, renew_forever};

const LEAF_COMMON_NAME: &str = "claude-runner gateway";
const DAY: i64 = 86_400;
/// DER of the object identifier of the name constraints extension (2.5.29.30).
const NAME_CONSTRAINTS_OID: &[u8] = &[0x06, 0x03, 0x55, 0x1d, 0x1e];

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
}

/// SHA-256 of a certificate's DER encoding as 64 lowercase hex characters, no separators.
#[must_use]
pub fn fingerprint(der: &[u8]) -> String {
    hex::encode(Sha256::digest(der))
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
    })
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
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
    })
}

/// Whether a certificate carries the name constraints extension.
fn is_name_constrained(cert: &[u8]) -> bool {
    cert.windows(NAME_CONSTRAINTS_OID.len())
        .any(|w| w == NAME_CONSTRAINTS_OID)
}

/// The subtrees a CA generated for `names` is limited to: each DNS name (and the names under
/// it; a wildcard's base), each IP address alone.
fn permitted_subtrees(names: &[Name]) -> Vec<GeneralSubtree> {
    names
        .iter()
        .map(|n| match n {
            Name::Dns(s) => GeneralSubtree::DnsName(s.trim_start_matches("*.").to_string()),
            Name::Ip(ip) => GeneralSubtree::IpAddress(CidrSubnet::from_addr_prefix(
                *ip,
                if ip.is_ipv4() { 32 } else { 128 },
            )),
        })
        .collect()
}

/// A name the leaf must cover, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Name {
    Dns(String),
    Ip(IpAddr),
}

impl Name {
    fn san(&self) -> String {
        match self {
            Name::Dns(s) => s.clone(),
            Name::Ip(ip) => ip.to_string(),
        }
    }

    /// A server name a client could use, to check the leaf covers this name.
    fn server_name(&self) -> Option<ServerName<'static>> {
        match self {
            Name::Ip(ip) => Some(ServerName::IpAddress((*ip).into())),
            Name::Dns(s) => {
                let probe = match s.strip_prefix("*.") {
                    Some(rest) => format!("wildcard-probe.{rest}"),
                    None => s.clone(),
                };
                ServerName::try_from(probe).ok()
            }
        }
    }
}

fn parse_name(raw: &str) -> anyhow::Result<Name> {
    let s = raw.trim();
    let unbracketed = s
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(s);
    if let Ok(ip) = unbracketed.parse::<IpAddr>() {
        return Ok(Name::Ip(ip));
    }
    let lower = s.trim_end_matches('.').to_ascii_lowercase();
    let name = Name::Dns(lower);
    if name.server_name().is_none() {
        bail!("{raw:?} is neither an IP address nor a valid DNS name for the TLS certificate");
    }
    Ok(name)
}

fn requested_names(extra: &[String]) -> anyhow::Result<Vec<Name>> {
    let mut names = Vec::new();
    for raw in DEFAULT_NAMES
        .iter()
        .copied()
        .chain(extra.iter().map(String::as_str))
    {
        if raw.trim().is_empty() {
            continue;
        }
        let name = parse_name(raw)?;
        if !names.contains(&name) {
            names.push(name);
        }
    }
    Ok(names)
}

fn ca_params() -> CertificateParams {
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

fn issue_leaf(
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

fn write_leaf(
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

fn pem_cert(der: &[u8]) -> String {
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

fn pkcs8(key: &KeyPair) -> PrivateKeyDer<'static> {
    PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()))
}

fn read_first_cert(path: &Path) -> anyhow::Result<CertificateDer<'static>> {
    let mut certs = CertificateDer::pem_file_iter(path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    match certs.next() {
        Some(Ok(cert)) => Ok(cert),
        Some(Err(e)) => Err(anyhow!("cannot parse {}: {e}", path.display())),
        None => bail!("{} contains no PEM CERTIFICATE block", path.display()),
    }
}

fn load_leaf(
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
fn check_leaf(
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

/// Sets not-before to yesterday (tolerates clock skew) and not-after to `days` from today,
/// both at midnight UTC.
fn set_validity(params: &mut CertificateParams, days: i64) {
    let today = now_secs().div_euclid(DAY);
    let (y, m, d) = civil_from_days(today - 1);
    params.not_before = rcgen::date_time_ymd(y, m, d);
    let (y, m, d) = civil_from_days(today + days);
    params.not_after = rcgen::date_time_ymd(y, m, d);
}

/// Calendar date (proleptic Gregorian, UTC) of a count of days since 1970-01-01.
/// Howard Hinnant's `civil_from_days`; always yields a valid date.
fn civil_from_days(days: i64) -> (i32, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        i32::try_from(year).unwrap_or(1970),
        u8::try_from(month).unwrap_or(1),
        u8::try_from(day).unwrap_or(1),
    )
}

/// Days since 1970-01-01 of a proleptic Gregorian date (inverse of [`civil_from_days`]).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// One DER element: (tag, contents, rest). `None` on malformed input.
fn der_next(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&len0, mut rest) = rest.split_first()?;
    let len = if len0 < 0x80 {
        usize::from(len0)
    } else {
        let n = usize::from(len0 & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let bytes = rest.get(..n)?;
        rest = rest.get(n..)?;
        bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b))
    };
    Some((tag, rest.get(..len)?, rest.get(len..)?))
}

/// The notAfter of a DER certificate as unix seconds; `None` when it cannot be read.
fn not_after(cert: &[u8]) -> Option<i64> {
    let (_, cert_body, _) = der_next(cert)?;
    let (_, tbs, _) = der_next(cert_body)?;
    let mut rest = tbs;
    if let (0xa0, _, after_version) = der_next(rest)? {
        rest = after_version;
    }
    // serialNumber, signature algorithm, issuer
    for _ in 0..3 {
        rest = der_next(rest)?.2;
    }
    let (_, validity, _) = der_next(rest)?;
    let not_before_rest = der_next(validity)?.2;
    let (tag, time, _) = der_next(not_before_rest)?;
    parse_der_time(tag, time)
}

/// `UTCTime` (`YYMMDDHHMMSSZ`) or `GeneralizedTime` (`YYYYMMDDHHMMSSZ`) as unix seconds.
fn parse_der_time(tag: u8, text: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(text).ok()?.strip_suffix('Z')?;
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let num = |r: std::ops::Range<usize>| text.get(r)?.parse::<i64>().ok();
    let (year, rest) = match (tag, text.len()) {
        (0x17, 12) => {
            let yy = num(0..2)?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, 2)
        }
        (0x18, 14) => (num(0..4)?, 4),
        _ => return None,
    };
    let month = num(rest..rest + 2)?;
    let day = num(rest + 2..rest + 4)?;
    let hour = num(rest + 4..rest + 6)?;
    let minute = num(rest + 6..rest + 8)?;
    let second = num(rest + 8..rest + 10)?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    Some(days_from_civil(year, month, day) * DAY + hour * 3600 + minute * 60 + second)
}

/// Writes `data` to `path` through a temporary file in the same directory and a rename, so a
/// reader never sees a half-written file. The file gets `mode`.
fn write_atomic(path: &Path, data: &[u8], mode: u32) -> anyhow::Result<()> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).map_or(0, |m| m.permissions().mode() & 0o777)
    }

    fn leaf_der(dir: &Path) -> CertificateDer<'static> {
        read_first_cert(&dir.join(LEAF_CERT_FILE)).expect("leaf readable")
    }

    #[test]
    fn first_start_generates_ca_and_leaf_with_private_keys() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("tls");
        let m = load_or_generate(&dir, &[]).expect("generate");
        assert!(m.generated);
        assert_eq!(m.ca_path.as_deref(), Some(dir.join(CA_CERT_FILE).as_path()));
        let fp = m.ca_fingerprint.clone().expect("ca fingerprint");
        assert_eq!(fp.len(), 64);
        assert!(
            fp.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
        let ca = read_first_cert(&dir.join(CA_CERT_FILE)).expect("ca");
        assert_eq!(fp, fingerprint(&ca));
        assert_eq!(m.leaf_fingerprint, fingerprint(&leaf_der(&dir)));
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join(CA_KEY_FILE)), 0o600);
        assert_eq!(mode(&dir.join(LEAF_KEY_FILE)), 0o600);
        assert_eq!(
            m.config.alpn_protocols,
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        );
        // cert.pem holds the chain [leaf, CA].
        let chain = CertificateDer::pem_file_iter(dir.join(LEAF_CERT_FILE))
            .expect("open")
            .collect::<Result<Vec<_>, _>>()
            .expect("parse");
        assert_eq!(chain.len(), 2);
        assert_eq!(chain[1], ca);
        // Validity: CA about 27 months, leaf about 90 days, both started yesterday.
        let now = now_secs();
        let ca_end = not_after(&ca).expect("ca not_after");
        let leaf_end = not_after(&chain[0]).expect("leaf not_after");
        assert!(ca_end > now + 820 * DAY && ca_end < now + 830 * DAY);
        assert!(leaf_end > now + 85 * DAY && leaf_end < now + 95 * DAY);
        assert!(is_name_constrained(&ca));
        let names = requested_names(&[]).expect("names");
        check_leaf(&chain[0], &ca, &names, &provider()).expect("leaf valid for defaults");
    }

    #[test]
    fn second_start_reuses_everything() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let first = load_or_generate(tmp.path(), &[]).expect("first");
        let leaf_before = fs::read(tmp.path().join(LEAF_CERT_FILE)).expect("read");
        let second = load_or_generate(tmp.path(), &[]).expect("second");
        assert!(!second.generated);
        assert_eq!(first.ca_fingerprint, second.ca_fingerprint);
        assert_eq!(first.leaf_fingerprint, second.leaf_fingerprint);
        assert_eq!(
            leaf_before,
            fs::read(tmp.path().join(LEAF_CERT_FILE)).expect("read")
        );
    }

    #[test]
    fn extra_names_reissue_the_leaf_from_the_same_ca() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let extra = vec!["gateway.example.org".to_string(), "10.1.2.3".to_string()];
        // A CA made for the extra names, then a start with fewer of them and a leaf for those.
        let first = load_or_generate(tmp.path(), &extra[..1]).expect("first");
        fs::remove_file(tmp.path().join(CA_CERT_FILE)).expect("rm");
        let first = {
            drop(first);
            load_or_generate(tmp.path(), &extra).expect("CA for both")
        };
        let ca_key =
            KeyPair::from_pem(&fs::read_to_string(tmp.path().join(CA_KEY_FILE)).expect("read"))
                .expect("ca key");
        let (narrow, narrow_key) = issue_leaf(
            &Issuer::new(ca_params(), ca_key),
            &requested_names(&[]).expect("names"),
            90,
        )
        .expect("issue");
        let ca = read_first_cert(&tmp.path().join(CA_CERT_FILE)).expect("ca");
        write_leaf(tmp.path(), &narrow, &narrow_key, &ca).expect("write");
        let second = load_or_generate(tmp.path(), &extra).expect("second");
        assert!(!second.generated);
        assert_eq!(first.ca_fingerprint, second.ca_fingerprint);
        assert_ne!(fingerprint(&narrow), second.leaf_fingerprint);
        let ca = read_first_cert(&tmp.path().join(CA_CERT_FILE)).expect("ca");
        let names = requested_names(&extra).expect("names");
        check_leaf(&leaf_der(tmp.path()), &ca, &names, &provider()).expect("covers extra names");
        // Same names again: no further re-issue.
        let third = load_or_generate(tmp.path(), &extra).expect("third");
        assert_eq!(second.leaf_fingerprint, third.leaf_fingerprint);
        // A subset of the names is still covered: no re-issue either.
        let fourth = load_or_generate(tmp.path(), &extra[..1]).expect("fourth");
        assert_eq!(second.leaf_fingerprint, fourth.leaf_fingerprint);
    }

    #[test]
    fn missing_or_mismatched_leaf_is_reissued() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let first = load_or_generate(tmp.path(), &[]).expect("first");
        fs::remove_file(tmp.path().join(LEAF_CERT_FILE)).expect("rm");
        let second = load_or_generate(tmp.path(), &[]).expect("second");
        assert_eq!(first.ca_fingerprint, second.ca_fingerprint);
        assert_ne!(first.leaf_fingerprint, second.leaf_fingerprint);
        // A key that does not belong to the certificate.
        let stray = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
        write_atomic(
            &tmp.path().join(LEAF_KEY_FILE),
            stray.serialize_pem().as_bytes(),
            0o600,
        )
        .expect("write");
        let third = load_or_generate(tmp.path(), &[]).expect("third");
        assert_eq!(first.ca_fingerprint, third.ca_fingerprint);
        assert_ne!(second.leaf_fingerprint, third.leaf_fingerprint);
    }

    #[test]
    fn expiring_leaf_is_reissued() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let first = load_or_generate(tmp.path(), &[]).expect("first");
        let ca_key =
            KeyPair::from_pem(&fs::read_to_string(tmp.path().join(CA_KEY_FILE)).expect("read"))
                .expect("ca key");
        let issuer = Issuer::new(ca_params(), ca_key);
        let names = requested_names(&[]).expect("names");
        let (short, short_key) = issue_leaf(&issuer, &names, 3).expect("issue");
        let ca = read_first_cert(&tmp.path().join(CA_CERT_FILE)).expect("ca");
        write_leaf(tmp.path(), &short, &short_key, &ca).expect("write");
        let reason = check_leaf(&short, &ca, &names, &provider()).expect_err("expiring");
        assert!(reason.contains("expires within"), "{reason}");
        let second = load_or_generate(tmp.path(), &[]).expect("second");
        assert_eq!(first.ca_fingerprint, second.ca_fingerprint);
        assert_ne!(second.leaf_fingerprint, fingerprint(&short));
        check_leaf(&leaf_der(tmp.path()), &ca, &names, &provider()).expect("renewed");
    }

    #[test]
    fn missing_ca_key_is_fine_until_a_reissue_is_needed() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let first = load_or_generate(tmp.path(), &[]).expect("first");
        fs::remove_file(tmp.path().join(CA_KEY_FILE)).expect("rm");
        let second = load_or_generate(tmp.path(), &[]).expect("leaf still good");
        assert_eq!(first.leaf_fingerprint, second.leaf_fingerprint);
        let err = load_or_generate(tmp.path(), &["new.example".to_string()])
            .expect_err("needs the CA key");
        assert!(format!("{err:#}").contains(CA_KEY_FILE), "{err:#}");
    }

    #[test]
    fn missing_ca_cert_regenerates_everything() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let first = load_or_generate(tmp.path(), &[]).expect("first");
        fs::remove_file(tmp.path().join(CA_CERT_FILE)).expect("rm");
        let second = load_or_generate(tmp.path(), &[]).expect("second");
        assert!(second.generated);
        assert_ne!(first.ca_fingerprint, second.ca_fingerprint);
    }

    #[test]
    fn damaged_ca_gives_a_clear_error() {
        let tmp = tempfile::tempdir().expect("tempdir");
        load_or_generate(tmp.path(), &[]).expect("first");
        fs::write(tmp.path().join(CA_CERT_FILE), "not a certificate\n").expect("write");
        let err = load_or_generate(tmp.path(), &[]).expect_err("damaged");
        assert!(format!("{err:#}").contains(CA_CERT_FILE), "{err:#}");
        // A CA that does not match its key.
        let other = tempfile::tempdir().expect("tempdir");
        load_or_generate(other.path(), &[]).expect("other");
        fs::copy(
            other.path().join(CA_CERT_FILE),
            tmp.path().join(CA_CERT_FILE),
        )
        .expect("copy");
        let err = load_or_generate(tmp.path(), &[]).expect_err("mismatched CA");
        assert!(format!("{err:#}").contains("delete"), "{err:#}");
    }

    #[test]
    fn bad_names_are_rejected_without_panicking() {
        let tmp = tempfile::tempdir().expect("tempdir");
        for bad in ["exa mple.com", "a..b", "-", "bad_name!"] {
            let err = load_or_generate(tmp.path(), &[bad.to_string()]).expect_err(bad);
            assert!(format!("{err:#}").contains("valid DNS name"), "{err:#}");
        }
        let names = requested_names(&[
            "[fe80::1]".into(),
            "LOCALHOST".into(),
            " ".into(),
            "*.internal.example".into(),
        ])
        .expect("names");
        assert!(names.contains(&Name::Ip("fe80::1".parse().expect("ip"))));
        assert!(names.contains(&Name::Dns("*.internal.example".into())));
        assert_eq!(names.iter().filter(|n| n.san() == "localhost").count(), 1);
        let m = load_or_generate(tmp.path(), &["*.internal.example".into()]).expect("wildcard");
        assert!(m.generated);
    }

    /// The generated CA vouches only for the names it was generated for: a leaf it signs for
    /// any other domain does not validate, so importing it into a browser risks nothing else.
    #[test]
    fn the_generated_ca_is_limited_to_its_names() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let extra = vec!["gw.example.org".to_string(), "10.1.2.3".to_string()];
        load_or_generate(tmp.path(), &extra).expect("generate");
        let ca = read_first_cert(&tmp.path().join(CA_CERT_FILE)).expect("ca");
        let ca_key =
            KeyPair::from_pem(&fs::read_to_string(tmp.path().join(CA_KEY_FILE)).expect("read"))
                .expect("ca key");
        let issuer = Issuer::new(ca_params(), ca_key);
        for (name, ok) in [
            ("localhost", true),
            ("app.localhost", true),
            ("127.0.0.1", true),
            ("::1", true),
            ("gw.example.org", true),
            ("a.gw.example.org", true),
            ("10.1.2.3", true),
            ("www.bank.example", false),
            ("example.org", false),
            ("10.1.2.4", false),
            ("127.0.0.2", false),
        ] {
            let names = vec![parse_name(name).expect("name")];
            let (leaf, _) = issue_leaf(&issuer, &names, 90).expect("issue");
            let verdict = check_leaf(&leaf, &ca, &names, &provider());
            assert_eq!(verdict.is_ok(), ok, "{name}: {verdict:?}");
        }
        // Asking for a name the CA was not made for says what to do.
        let err = load_or_generate(tmp.path(), &["new.example".to_string()])
            .expect_err("not a name of this CA");
        assert!(format!("{err:#}").contains("generated for"), "{err:#}");
    }

    /// A data directory from before the constraints keeps its CA (runners trust or pin it):
    /// the gateway starts and serves a leaf from it.
    #[test]
    fn an_unconstrained_ca_from_an_older_gateway_is_kept() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let ca_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("key");
        let mut params = ca_params();
        set_validity(&mut params, 3650);
        let ca = params.self_signed(&ca_key).expect("old CA");
        write_atomic(
            &tmp.path().join(CA_KEY_FILE),
            ca_key.serialize_pem().as_bytes(),
            0o600,
        )
        .expect("write");
        write_atomic(&tmp.path().join(CA_CERT_FILE), ca.pem().as_bytes(), 0o644).expect("write");
        assert!(!is_name_constrained(ca.der()));
        let m = load_or_generate(tmp.path(), &[]).expect("kept");
        assert!(!m.generated);
        assert_eq!(m.ca_fingerprint, Some(fingerprint(ca.der())));
    }

    /// The running gateway renews a leaf that is due and serves it on the next handshake,
    /// through the same server configuration: no restart.
    #[tokio::test]
    async fn a_due_leaf_is_renewed_and_served_without_a_restart() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let m = load_or_generate(tmp.path(), &[]).expect("generate");
        let renewer = m.renewer.clone().expect("a generated CA renews");
        let ca = read_first_cert(&tmp.path().join(CA_CERT_FILE)).expect("ca");
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca).expect("root");
        let first = handshake_leaf(m.config.clone(), roots.clone()).await;
        assert_eq!(first, m.leaf_fingerprint);
        let now = now_secs();
        assert!(!renewer.renew_if_due(now).expect("not due"), "not due yet");
        // Two months on, the leaf is within its renewal window.
        assert!(renewer.renew_if_due(now + 65 * DAY).expect("renewed"));
        let second = handshake_leaf(m.config.clone(), roots).await;
        assert_ne!(second, first, "new connections get the new leaf");
        assert_eq!(
            second,
            fingerprint(&leaf_der(tmp.path())),
            "and it is on disk"
        );
        let again = load_or_generate(tmp.path(), &[]).expect("restart");
        assert_eq!(again.leaf_fingerprint, second, "a restart keeps it");
    }

    /// A TLS handshake with `config` over an in-memory pipe; the SHA-256 of the leaf served.
    async fn handshake_leaf(
        config: Arc<rustls::ServerConfig>,
        roots: rustls::RootCertStore,
    ) -> String {
        let (client_io, server_io) = tokio::io::duplex(64 * 1024);
        let server = tokio::spawn(async move {
            tokio_rustls::TlsAcceptor::from(config)
                .accept(server_io)
                .await
                .map(drop)
        });
        let client_config = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        let stream = tokio_rustls::TlsConnector::from(Arc::new(client_config))
            .connect(ServerName::try_from("localhost").expect("name"), client_io)
            .await
            .expect("handshake");
        let leaf = stream
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|c| c.first().cloned())
            .expect("a leaf");
        server.await.expect("server task").expect("server side");
        fingerprint(&leaf)
    }

    #[test]
    fn load_files_uses_the_generated_pair() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let generated = load_or_generate(tmp.path(), &[]).expect("generate");
        let m = load_files(
            &tmp.path().join(LEAF_CERT_FILE),
            &tmp.path().join(LEAF_KEY_FILE),
        )
        .expect("load");
        assert!(!m.generated);
        assert_eq!(m.ca_path, None);
        assert_eq!(m.ca_fingerprint, generated.ca_fingerprint);
        assert_eq!(m.leaf_fingerprint, generated.leaf_fingerprint);
        assert_eq!(
            m.config.alpn_protocols,
            vec![b"h2".to_vec(), b"http/1.1".to_vec()]
        );
    }

    #[test]
    fn load_files_reports_bad_input() {
        let tmp = tempfile::tempdir().expect("tempdir");
        load_or_generate(tmp.path(), &[]).expect("generate");
        let cert = tmp.path().join(LEAF_CERT_FILE);
        let key = tmp.path().join(LEAF_KEY_FILE);
        let missing = tmp.path().join("nope.pem");
        let empty = tmp.path().join("empty.pem");
        fs::write(&empty, "").expect("write");
        let cases = [
            (&missing, &key, "nope.pem"),
            (&cert, &missing, "nope.pem"),
            (&empty, &key, "no PEM CERTIFICATE"),
            (&cert, &empty, "private key"),
            (
                &cert,
                &tmp.path().join(CA_KEY_FILE),
                "do not form a usable pair",
            ),
        ];
        for (c, k, want) in cases {
            let err = load_files(c, k).expect_err(want);
            assert!(format!("{err:#}").contains(want), "{want}: {err:#}");
        }
    }

    #[test]
    fn pem_encoding_round_trips() {
        for len in [0usize, 1, 2, 3, 47, 48, 49, 100] {
            let data: Vec<u8> = (0..len)
                .map(|i| u8::try_from(i * 37 % 256).unwrap_or(0))
                .collect();
            let pem = pem_cert(&data);
            let back = CertificateDer::from_pem_slice(pem.as_bytes());
            if len == 0 {
                continue;
            }
            assert_eq!(back.expect("parse").as_ref(), data.as_slice(), "len {len}");
        }
    }

    #[test]
    fn dates_and_der_times() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(days_from_civil(2024, 2, 29), 19_782);
        for d in [-1000, 0, 59, 10_000, 20_000, 50_000] {
            let (y, m, day) = civil_from_days(d);
            assert_eq!(days_from_civil(y.into(), m.into(), day.into()), d);
        }
        assert_eq!(parse_der_time(0x17, b"700101000000Z"), Some(0));
        assert_eq!(
            parse_der_time(0x18, b"20240229000001Z"),
            Some(19_782 * DAY + 1)
        );
        assert_eq!(parse_der_time(0x17, b"7001010000Z"), None);
        assert_eq!(parse_der_time(0x17, b"70010100000xZ"), None);
        assert_eq!(not_after(b""), None);
        assert_eq!(not_after(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), None);
    }
}
