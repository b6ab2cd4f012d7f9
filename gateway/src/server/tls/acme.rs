//! Public certificates by ACME (RFC 8555), validated by TLS-ALPN-01 (RFC 8737) on the gateway's
//! own port: no second listener, no port 80.
//!
//! [`AcmeCerts`] is the TLS listener's certificate resolver. A handshake that offers only the
//! `acme-tls/1` protocol is the CA's validator: it gets the challenge certificate for the name it
//! asks (a self-signed certificate carrying the key authorization's digest in the
//! `acmeIdentifier` extension); every other handshake gets the certificate issued last. The ACME
//! protocol itself is `instant-acme`'s, talking to the directory through reqwest (the same
//! client stack as the runner's, rustls with ring; Mozilla's roots, plus a CA file for a test
//! or private directory).
//!
//! [`renew_forever`] obtains a certificate when there is none (or none for these domains), then
//! renews it once two thirds of its lifetime have passed (30 days before expiry for Let's
//! Encrypt's 90 days), retrying a failure with backoff from 5 s to an hour. A new certificate is
//! swapped in for new handshakes; open connections keep theirs. The account key
//! (`acme/account.json`) and the certificate with its key (`acme/cert.pem`, `acme/key.pem`) live
//! in the data directory, owner-only, so a restart serves at once and renews on schedule.

use std::collections::HashMap;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use instant_acme::{
    Account, AccountCredentials, AuthorizationStatus, BodyWrapper, BytesResponse, ChallengeType,
    HttpClient, Identifier, NewAccount, NewOrder, OrderStatus, RetryPolicy,
};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::TlsMaterial;
use super::dates::validity;
use super::issue::{fingerprint, provider, write_atomic};
use crate::clock::now_secs;

/// Let's Encrypt's production directory, the default.
pub const LETS_ENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";
/// The ALPN protocol of TLS-ALPN-01.
pub const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";
const ACCOUNT_FILE: &str = "account.json";
const CERT_FILE: &str = "cert.pem";
const KEY_FILE: &str = "key.pem";
/// Backoff after a failed attempt: from the first to the last, doubling.
const RETRY_FIRST: Duration = Duration::from_secs(5);
const RETRY_LAST: Duration = Duration::from_secs(60 * 60);

/// What `GATEWAY_ACME_*` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcmeSettings {
    /// The names the certificate covers (`GATEWAY_ACME_DOMAINS`), the first one being its name.
    pub domains: Vec<String>,
    /// `GATEWAY_ACME_EMAIL`: where the CA writes about expiry and incidents.
    pub email: Option<String>,
    /// `GATEWAY_ACME_DIRECTORY`, [`LETS_ENCRYPT`] by default.
    pub directory: String,
    /// `GATEWAY_ACME_CA_FILE`: an extra root to trust for the directory's own HTTPS (a test CA
    /// such as Pebble's, or a private ACME server).
    pub directory_ca: Option<PathBuf>,
}

/// The certificate served now, with its validity.
struct Served {
    key: Arc<CertifiedKey>,
    not_before: i64,
    not_after: i64,
}

/// The listener's certificates: the issued one, and the challenge ones while a validation runs.
pub struct AcmeCerts {
    dir: PathBuf,
    settings: AcmeSettings,
    served: RwLock<Option<Served>>,
    challenges: RwLock<HashMap<String, Arc<CertifiedKey>>>,
}

impl std::fmt::Debug for AcmeCerts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AcmeCerts")
            .field("dir", &self.dir)
            .field("domains", &self.settings.domains)
            .field("leaf", &self.leaf_fingerprint())
            .finish_non_exhaustive()
    }
}

fn lock<T>(r: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    r.read().unwrap_or_else(|p| p.into_inner())
}

fn lock_mut<T>(r: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    r.write().unwrap_or_else(|p| p.into_inner())
}

impl AcmeCerts {
    /// The resolver for `settings`, serving the certificate kept in `dir` if it covers the
    /// domains and has not expired.
    pub fn open(dir: &Path, settings: AcmeSettings) -> anyhow::Result<Self> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("create {}", dir.display()))?;
        let certs = Self {
            dir: dir.to_path_buf(),
            settings,
            served: RwLock::new(None),
            challenges: RwLock::default(),
        };
        match certs.load_kept() {
            Ok(Some(served)) => *lock_mut(&certs.served) = Some(served),
            Ok(None) => {}
            Err(e) => tracing::warn!(
                "the kept ACME certificate cannot be used ({e:#}); a new one is ordered"
            ),
        }
        Ok(certs)
    }

    fn load_kept(&self) -> anyhow::Result<Option<Served>> {
        let (cert, key) = (self.dir.join(CERT_FILE), self.dir.join(KEY_FILE));
        if !cert.exists() {
            return Ok(None);
        }
        let chain_pem = std::fs::read(&cert).with_context(|| format!("read {}", cert.display()))?;
        let key_pem = std::fs::read(&key).with_context(|| format!("read {}", key.display()))?;
        let served = served(&chain_pem, &key_pem)?;
        let names = san_dns_names(&served.key.cert[0]);
        if !self
            .settings
            .domains
            .iter()
            .all(|d| names.iter().any(|n| n.eq_ignore_ascii_case(d)))
        {
            tracing::info!(
                "the kept ACME certificate is for {names:?}; ordering one for the configured domains"
            );
            return Ok(None);
        }
        if served.not_after <= now_secs() {
            return Ok(None);
        }
        Ok(Some(served))
    }

    /// The domains the certificate is for.
    pub fn domains(&self) -> &[String] {
        &self.settings.domains
    }

    /// SHA-256 of the certificate served now; empty before the first one.
    pub fn leaf_fingerprint(&self) -> String {
        lock(&self.served)
            .as_ref()
            .and_then(|s| s.key.cert.first().map(|c| fingerprint(c)))
            .unwrap_or_default()
    }

    /// When the served certificate is due for renewal (unix seconds): two thirds into its
    /// lifetime; `None` when there is none.
    pub fn renew_at(&self) -> Option<i64> {
        lock(&self.served)
            .as_ref()
            .map(|s| s.not_before + (s.not_after - s.not_before) * 2 / 3)
    }

    /// Order a certificate for the configured domains, answer the TLS-ALPN-01 challenges on this
    /// listener, and serve the certificate once issued.
    pub async fn obtain(&self) -> anyhow::Result<()> {
        let account = self.account().await?;
        let identifiers: Vec<Identifier> = self
            .settings
            .domains
            .iter()
            .map(|d| Identifier::Dns(d.clone()))
            .collect();
        let mut order = account
            .new_order(&NewOrder::new(&identifiers))
            .await
            .context("the ACME server refused the order")?;
        let mut names = Vec::new();
        // The validator may try the challenge before the answer to "ready" is written: a
        // failed validation then comes back as that answer's error, and is explained as one
        // found by polling is.
        let mut refused = None;
        {
            let mut authorizations = order.authorizations();
            while let Some(authz) = authorizations.next().await {
                let mut authz = authz.context("read an authorization")?;
                match authz.status {
                    AuthorizationStatus::Pending => {}
                    AuthorizationStatus::Valid => continue,
                    other => bail!("the authorization is {other:?}"),
                }
                let mut challenge = authz.challenge(ChallengeType::TlsAlpn01).ok_or_else(|| {
                    anyhow!("the ACME server offers no TLS-ALPN-01 challenge, the only one this gateway answers")
                })?;
                let name = challenge.identifier().to_string();
                let digest = challenge.key_authorization().digest();
                let cert = challenge_cert(&name, digest.as_ref())?;
                lock_mut(&self.challenges).insert(name.clone(), cert);
                names.push(name);
                if let Err(e) = challenge.set_ready().await {
                    refused = Some(format!("tell the ACME server the challenge is ready: {e}"));
                    break;
                }
            }
        }
        if let Some(e) = refused {
            lock_mut(&self.challenges).clear();
            return Err(self.explain(&mut order, e).await);
        }
        let retry = RetryPolicy::new().timeout(Duration::from_secs(90));
        let status = order.poll_ready(&retry).await;
        // The validator has connected (or given up): the challenge certificates are done.
        lock_mut(&self.challenges).clear();
        let status = match status {
            Ok(s) => s,
            Err(e) => return Err(self.explain(&mut order, format!("{e}")).await),
        };
        if status != OrderStatus::Ready {
            return Err(self
                .explain(&mut order, format!("the order is {status:?}"))
                .await);
        }
        let key_pem = order.finalize().await.context("finalize the order")?;
        let chain_pem = order
            .poll_certificate(&retry)
            .await
            .context("download the certificate")?;
        let served = served(chain_pem.as_bytes(), key_pem.as_bytes())?;
        write_atomic(&self.dir.join(KEY_FILE), key_pem.as_bytes(), 0o600)?;
        write_atomic(&self.dir.join(CERT_FILE), chain_pem.as_bytes(), 0o600)?;
        tracing::info!(
            domains = ?self.settings.domains,
            sha256 = %fingerprint(&served.key.cert[0]),
            not_after = served.not_after,
            "obtained a certificate by ACME; new connections get it"
        );
        *lock_mut(&self.served) = Some(served);
        Ok(())
    }

    /// Why the order failed, from its challenges' errors, in words an operator can act on.
    async fn explain(&self, order: &mut instant_acme::Order, fallback: String) -> anyhow::Error {
        let mut reasons = Vec::new();
        let mut authorizations = order.authorizations();
        while let Some(Ok(mut authz)) = authorizations.next().await {
            let name = authz.identifier().to_string();
            let Ok(state) = authz.refresh().await else {
                continue;
            };
            for c in &state.challenges {
                if let Some(problem) = &c.error {
                    reasons.push(format!(
                        "{name}: {}",
                        problem
                            .detail
                            .clone()
                            .unwrap_or_else(|| format!("{problem:?}"))
                    ));
                }
            }
        }
        let reasons = if reasons.is_empty() {
            fallback
        } else {
            reasons.join("; ")
        };
        anyhow!(
            "the ACME server could not validate {:?} by TLS-ALPN-01: {reasons}. The domain must \
             resolve to this machine and the CA must reach this gateway's port directly (port 443 \
             for a public CA; a proxy that terminates TLS in front of it would answer instead)",
            self.settings.domains
        )
    }

    async fn account(&self) -> anyhow::Result<Account> {
        let path = self.dir.join(ACCOUNT_FILE);
        let http = directory_client(self.settings.directory_ca.as_deref())?;
        if let Ok(text) = std::fs::read_to_string(&path) {
            let credentials: AccountCredentials =
                serde_json::from_str(&text).with_context(|| format!("read {}", path.display()))?;
            if let Ok(account) = Account::builder_with_http(Box::new(http.clone()))
                .from_credentials(credentials)
                .await
            {
                return Ok(account);
            }
            tracing::warn!("the kept ACME account was not accepted; registering a new one");
        }
        let contact = self.settings.email.as_ref().map(|e| format!("mailto:{e}"));
        let contacts: Vec<&str> = contact.iter().map(String::as_str).collect();
        let (account, credentials) = Account::builder_with_http(Box::new(http))
            .create(
                &NewAccount {
                    contact: &contacts,
                    terms_of_service_agreed: true,
                    only_return_existing: false,
                },
                self.settings.directory.clone(),
                None,
            )
            .await
            .with_context(|| format!("register an account at {}", self.settings.directory))?;
        let text = serde_json::to_vec(&credentials).context("encode the ACME account")?;
        write_atomic(&path, &text, 0o600)?;
        Ok(account)
    }
}

impl ResolvesServerCert for AcmeCerts {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let validator = hello
            .alpn()
            .is_some_and(|mut protocols| protocols.all(|p| p == ACME_TLS_ALPN));
        if validator {
            let name = hello.server_name()?.to_ascii_lowercase();
            return lock(&self.challenges).get(&name).cloned();
        }
        lock(&self.served).as_ref().map(|s| Arc::clone(&s.key))
    }
}

/// Obtain a certificate when there is none, then renew each one two thirds into its lifetime,
/// retrying failures with backoff, for as long as it is polled.
pub async fn renew_forever(certs: Arc<AcmeCerts>) {
    let mut backoff = RETRY_FIRST;
    loop {
        if let Some(at) = certs.renew_at() {
            let wait = at.saturating_sub(now_secs()).max(0) as u64;
            if wait > 0 {
                tokio::time::sleep(Duration::from_secs(wait)).await;
                continue;
            }
        }
        match certs.obtain().await {
            Ok(()) => backoff = RETRY_FIRST,
            Err(e) => {
                tracing::warn!(
                    "could not obtain a certificate by ACME: {e:#}; trying again in {}s",
                    backoff.as_secs()
                );
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(RETRY_LAST);
            }
        }
    }
}

/// The certificate chain and key of an issued certificate, ready to serve.
fn served(chain_pem: &[u8], key_pem: &[u8]) -> anyhow::Result<Served> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(chain_pem)
        .collect::<Result<_, _>>()
        .context("the certificate chain is not PEM")?;
    let leaf = chain.first().context("the certificate chain is empty")?;
    let (not_before, not_after) =
        validity(leaf).context("the certificate's validity cannot be read")?;
    let key = PrivateKeyDer::from_pem_slice(key_pem).context("the certificate key is not PEM")?;
    let key = CertifiedKey::from_der(chain, key, &provider())
        .context("the certificate and its key do not form a usable pair")?;
    Ok(Served {
        key: Arc::new(key),
        not_before,
        not_after,
    })
}

/// The `dNSName` entries of the subjectAltName extension, read from the DER by hand (no X.509
/// parser in the tree): the extension's OID 2.5.29.17, then context tag `[2]` strings.
fn san_dns_names(cert: &[u8]) -> Vec<String> {
    const SAN_OID: &[u8] = &[0x06, 0x03, 0x55, 0x1d, 0x11];
    let Some(at) = cert.windows(SAN_OID.len()).position(|w| w == SAN_OID) else {
        return Vec::new();
    };
    let mut rest = &cert[at + SAN_OID.len()..];
    // An optional `critical` BOOLEAN, then the OCTET STRING holding the GeneralNames SEQUENCE.
    if rest.first() == Some(&0x01) {
        rest = rest.get(3..).unwrap_or_default();
    }
    let Some((0x04, octets, _)) = super::dates::der_next(rest) else {
        return Vec::new();
    };
    let Some((0x30, mut names, _)) = super::dates::der_next(octets) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    while let Some((tag, value, next)) = super::dates::der_next(names) {
        if tag == 0x82 {
            out.push(String::from_utf8_lossy(value).into_owned());
        }
        names = next;
    }
    out
}

/// The TLS-ALPN-01 certificate for `name`: self-signed, the key authorization's SHA-256 in a
/// critical `acmeIdentifier` extension (RFC 8737).
fn challenge_cert(name: &str, digest: &[u8]) -> anyhow::Result<Arc<CertifiedKey>> {
    let mut params = rcgen::CertificateParams::new(vec![name.to_string()])
        .map_err(|e| anyhow!("the challenge certificate for {name}: {e}"))?;
    params.custom_extensions = vec![rcgen::CustomExtension::new_acme_identifier(digest)];
    let key = rcgen::KeyPair::generate().map_err(|e| anyhow!("generate a key: {e}"))?;
    let cert = params
        .self_signed(&key)
        .map_err(|e| anyhow!("sign the challenge certificate: {e}"))?;
    // Not `CertifiedKey::from_der`: its check that key and certificate match parses the
    // certificate, and webpki refuses the critical extension this one must carry.
    let signing = provider()
        .key_provider
        .load_private_key(PrivateKeyDer::Pkcs8(key.serialize_der().into()))
        .context("load the challenge key")?;
    Ok(Arc::new(CertifiedKey::new(
        vec![cert.der().clone()],
        signing,
    )))
}

/// instant-acme's HTTP client: reqwest with rustls (ring), Mozilla's roots and the extra CA.
#[derive(Clone)]
struct DirectoryClient(reqwest::Client);

fn directory_client(extra_ca: Option<&Path>) -> anyhow::Result<DirectoryClient> {
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(path) = extra_ca {
        let pem = std::fs::read(path).with_context(|| format!("read {}", path.display()))?;
        for cert in CertificateDer::pem_slice_iter(&pem) {
            let cert = cert.with_context(|| format!("{} is not PEM", path.display()))?;
            roots
                .add(cert)
                .with_context(|| format!("a certificate of {}", path.display()))?;
        }
    }
    let tls = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .context("the TLS provider supports no safe protocol version")?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let client = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .timeout(Duration::from_secs(30))
        .build()
        .context("build the ACME HTTP client")?;
    Ok(DirectoryClient(client))
}

impl HttpClient for DirectoryClient {
    fn request(
        &self,
        req: axum::http::Request<BodyWrapper<axum::body::Bytes>>,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<BytesResponse, instant_acme::Error>> + Send>,
    > {
        let client = self.0.clone();
        Box::pin(async move {
            let (parts, mut body) = req.into_parts();
            let mut bytes = Vec::new();
            // The request body is one frame of bytes, never an error (`Infallible`).
            while let Some(Ok(frame)) = std::future::poll_fn(|cx| {
                axum::body::HttpBody::poll_frame(std::pin::Pin::new(&mut body), cx)
            })
            .await
            {
                if let Ok(data) = frame.into_data() {
                    bytes.extend_from_slice(&data);
                }
            }
            let req = axum::http::Request::from_parts(parts, bytes);
            let req = reqwest::Request::try_from(req)
                .map_err(|e| instant_acme::Error::Other(Box::new(e)))?;
            let resp = client
                .execute(req)
                .await
                .map_err(|e| instant_acme::Error::Other(Box::new(e)))?;
            Ok(BytesResponse::from(axum::http::Response::from(resp)))
        })
    }
}

/// The TLS material of an ACME listener: certificates kept in `dir` (`<data>/acme`).
pub fn material(dir: &Path, settings: AcmeSettings) -> anyhow::Result<TlsMaterial> {
    let certs = Arc::new(AcmeCerts::open(dir, settings)?);
    Ok(TlsMaterial {
        config: server_config(Arc::clone(&certs))?,
        ca_fingerprint: None,
        ca_path: None,
        leaf_fingerprint: certs.leaf_fingerprint(),
        generated: false,
        renewer: None,
        acme: Some(certs),
    })
}

/// The server configuration of an ACME listener: the resolver, ALPN `h2`, `http/1.1` and
/// `acme-tls/1`.
fn server_config(certs: Arc<AcmeCerts>) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .context("the TLS provider supports no safe protocol version")?
        .with_no_client_auth()
        .with_cert_resolver(certs);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec(), ACME_TLS_ALPN.to_vec()];
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_challenge_certificate_names_the_domain_and_carries_the_digest() {
        let digest = [7u8; 32];
        let cert = challenge_cert("gw.example.com", &digest).unwrap();
        let der = cert.cert[0].as_ref();
        assert_eq!(san_dns_names(der), ["gw.example.com"]);
        // id-pe-acmeIdentifier 1.3.6.1.5.5.7.1.31, then the digest as an OCTET STRING.
        let oid = [0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x01, 0x1f];
        assert!(der.windows(oid.len()).any(|w| w == oid));
        let mut value = vec![0x04, 0x20];
        value.extend_from_slice(&digest);
        assert!(der.windows(value.len()).any(|w| w == value.as_slice()));
    }
}
