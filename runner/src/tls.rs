//! Client-side TLS: how the runner decides to trust the gateway's certificate.
//!
//! Four modes ([`Trust`]): Mozilla's public roots, a CA file (e.g. the gateway's generated
//! `ca.pem`), a pinned SHA-256 certificate fingerprint, or no verification at all. Every mode
//! still checks the handshake signatures, so only the certificate decision differs.

use std::error::Error as StdError;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{
    CertificateError, DigitallySignedStruct, Error as TlsError, OtherError, SignatureScheme,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use sha2::{Digest, Sha256};

/// How the runner decides whether to trust the gateway's certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trust {
    /// Mozilla's public CA roots (bundled via `webpki-roots`), with normal hostname checks.
    System,
    /// The CA certificates in this PEM file (e.g. the gateway's `ca.pem`), with normal hostname checks.
    CaFile(PathBuf),
    /// A SHA-256 certificate fingerprint (hex, any case, colons and spaces allowed): the gateway
    /// is trusted when its leaf certificate, or a CA certificate it presents, has this fingerprint.
    Pin(String),
    /// No certificate verification at all. Callers must warn.
    Insecure,
}

/// Builds the client configuration for `trust` (ring provider, ALPN `h2` and `http/1.1`).
pub fn client_config(trust: &Trust) -> anyhow::Result<rustls::ClientConfig> {
    let provider = provider();
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .context("the TLS provider supports no safe protocol version")?;
    let mut config = match trust {
        Trust::System => {
            let roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        Trust::CaFile(path) => builder
            .with_root_certificates(load_ca_file(path)?)
            .with_no_client_auth(),
        Trust::Pin(pin) => {
            let verifier = PinVerifier {
                pin: normalize_fingerprint(pin)?,
                provider,
            };
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(verifier))
                .with_no_client_auth()
        }
        Trust::Insecure => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(InsecureVerifier { provider }))
            .with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// SHA-256 of a certificate's DER encoding as 64 lowercase hex characters, no separators
/// (the gateway prints the same form).
#[must_use]
pub fn fingerprint(der: &[u8]) -> String {
    hex::encode(Sha256::digest(der))
}

/// Normalizes a SHA-256 fingerprint: drops an optional `sha256:`/`SHA256 Fingerprint=` prefix,
/// colons and whitespace, lowercases, and requires exactly 64 hex digits.
pub fn normalize_fingerprint(s: &str) -> anyhow::Result<String> {
    let trimmed = s.trim();
    let lower = trimmed.to_ascii_lowercase();
    let body = ["sha256 fingerprint=", "sha256:", "sha256="]
        .iter()
        .find_map(|p| lower.strip_prefix(p))
        .unwrap_or(&lower);
    let hex: String = body
        .chars()
        .filter(|c| *c != ':' && !c.is_whitespace())
        .collect();
    if hex.is_empty() {
        bail!("the certificate fingerprint is empty; expected the 64 hex digits of a SHA-256");
    }
    if let Some(bad) = hex.chars().find(|c| !c.is_ascii_hexdigit()) {
        bail!(
            "the certificate fingerprint {trimmed:?} contains {bad:?}, which is not a hex digit; \
             expected the 64 hex digits of a SHA-256 (colons allowed)"
        );
    }
    if hex.len() != 64 {
        let hint = if hex.len() == 40 {
            " (that looks like a SHA-1 fingerprint; use the SHA-256 one)"
        } else {
            ""
        };
        bail!(
            "the certificate fingerprint has {} hex digits; a SHA-256 fingerprint has 64{hint}",
            hex.len()
        );
    }
    Ok(hex)
}

/// Plain words for the trust mode, for `info` and `test-connection`.
#[must_use]
pub fn describe(trust: &Trust) -> String {
    match trust {
        Trust::System => {
            "system roots (Mozilla's public CA list built into the runner)".to_string()
        }
        Trust::CaFile(path) => format!("CA file {}", path.display()),
        Trust::Pin(pin) => match normalize_fingerprint(pin) {
            Ok(fp) => format!("pinned certificate sha256 {fp}"),
            Err(e) => format!("pinned certificate sha256 {:?} (unusable: {e})", pin.trim()),
        },
        Trust::Insecure => "INSECURE: certificate not verified".to_string(),
    }
}

/// Explains a TLS failure in plain words with what to do about it.
///
/// Accepts any error (an `std::io::Error` from tokio-rustls, a `rustls::Error`, a reqwest or
/// anyhow error); the source chain, including errors wrapped inside `std::io::Error`, is searched
/// for the underlying `rustls::Error`.
#[must_use]
pub fn explain_tls_error(err: &(dyn StdError + 'static)) -> String {
    if let Some(tls) = find_tls_error(err) {
        return explain_rustls(tls);
    }
    if let Some(io) = find_io_error(err)
        && io.kind() == std::io::ErrorKind::UnexpectedEof
    {
        return "the connection was closed during the TLS handshake: check that GATEWAY_URL \
                points at the gateway's HTTPS port"
            .to_string();
    }
    format!("TLS connection failed: {}", chain_text(err))
}

fn explain_rustls(err: &TlsError) -> String {
    const TRUST_HINT: &str = "set GATEWAY_CA_FILE to the gateway's ca.pem, or GATEWAY_CERT_SHA256 \
                              to the fingerprint the gateway printed when it started";
    match err {
        TlsError::InvalidCertificate(cert) => match cert {
            CertificateError::UnknownIssuer => {
                format!("the gateway's certificate is not trusted (unknown issuer): {TRUST_HINT}")
            }
            CertificateError::NotValidForNameContext {
                expected,
                presented,
            } => format!(
                "the gateway's certificate is not valid for the name {} (it is valid for: {}): \
                 connect using one of those names, add this name to the gateway's certificate, \
                 or pin the gateway's leaf certificate fingerprint",
                server_name_text(expected),
                if presented.is_empty() {
                    "no names".to_string()
                } else {
                    presented
                        .iter()
                        .map(|p| presented_name_text(p))
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            ),
            CertificateError::NotValidForName => {
                "the gateway's certificate is not valid for the name in GATEWAY_URL: connect \
                 using a name the certificate covers, add this name to the gateway's \
                 certificate, or pin the gateway's leaf certificate fingerprint"
                    .to_string()
            }
            CertificateError::ExpiredContext { time, not_after } => format!(
                "the gateway's certificate expired {} ago: restart the gateway so it renews \
                 its certificate, or check this machine's clock",
                duration_text(time.as_secs().saturating_sub(not_after.as_secs()))
            ),
            CertificateError::Expired => "the gateway's certificate has expired: restart the \
                 gateway so it renews its certificate, or check this machine's clock"
                .to_string(),
            CertificateError::NotValidYetContext { time, not_before } => format!(
                "the gateway's certificate is not valid for another {}: this machine's clock \
                 is probably behind",
                duration_text(not_before.as_secs().saturating_sub(time.as_secs()))
            ),
            CertificateError::NotValidYet => "the gateway's certificate is not valid yet: this \
                 machine's clock is probably behind"
                .to_string(),
            CertificateError::BadSignature => {
                "the gateway's certificate has an invalid signature (corrupt or forged)".to_string()
            }
            CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
                "the gateway's certificate is not issued for TLS servers (extended key usage)"
                    .to_string()
            }
            CertificateError::Other(other) => {
                if let Some(mismatch) = other.0.downcast_ref::<PinMismatch>() {
                    format!(
                        "{mismatch}: if the gateway's certificate was regenerated, set \
                         GATEWAY_CERT_SHA256 to the fingerprint it now prints"
                    )
                } else {
                    format!("the gateway's certificate was rejected: {other}")
                }
            }
            other => format!("the gateway's certificate was rejected: {other:?}"),
        },
        TlsError::InvalidMessage(_) => "the server did not answer with TLS: check that \
             GATEWAY_URL starts with https:// and points at the gateway's HTTPS port"
            .to_string(),
        TlsError::AlertReceived(alert) => {
            format!("the gateway refused the TLS handshake (alert: {alert:?})")
        }
        TlsError::PeerIncompatible(why) => format!(
            "the gateway and the runner have no TLS version or cipher suite in common ({why:?})"
        ),
        TlsError::NoCertificatesPresented => "the gateway presented no certificate".to_string(),
        other => format!("TLS error: {other}"),
    }
}

fn server_name_text(name: &ServerName<'_>) -> String {
    match name {
        ServerName::DnsName(dns) => dns.as_ref().to_string(),
        ServerName::IpAddress(ip) => std::net::IpAddr::from(*ip).to_string(),
        other => format!("{other:?}"),
    }
}

/// rustls lists presented names as `DnsName("x")` / `IpAddress(x)`; show just `x`.
fn presented_name_text(s: &str) -> &str {
    s.strip_prefix("DnsName(\"")
        .and_then(|r| r.strip_suffix("\")"))
        .or_else(|| {
            s.strip_prefix("IpAddress(")
                .and_then(|r| r.strip_suffix(')'))
        })
        .unwrap_or(s)
}

fn duration_text(secs: u64) -> String {
    match secs {
        0..120 => format!("{secs} seconds"),
        120..7_200 => format!("{} minutes", secs / 60),
        7_200..172_800 => format!("{} hours", secs / 3_600),
        _ => format!("{} days", secs / 86_400),
    }
}

/// The source chain, also looking inside `std::io::Error` wrappers (whose `source()` skips
/// the wrapped error itself). Bounded, in case of a cycle.
fn error_chain<'a>(err: &'a (dyn StdError + 'static)) -> Vec<&'a (dyn StdError + 'static)> {
    let mut chain = Vec::new();
    let mut current = Some(err);
    while let Some(e) = current {
        if chain.len() >= 32 {
            break;
        }
        chain.push(e);
        current = match e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn StdError + 'static)),
            None => e.source(),
        };
    }
    chain
}

fn find_tls_error<'a>(err: &'a (dyn StdError + 'static)) -> Option<&'a TlsError> {
    error_chain(err)
        .into_iter()
        .find_map(|e| e.downcast_ref::<TlsError>())
}

fn find_io_error<'a>(err: &'a (dyn StdError + 'static)) -> Option<&'a std::io::Error> {
    error_chain(err)
        .into_iter()
        .find_map(|e| e.downcast_ref::<std::io::Error>())
}

fn chain_text(err: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    for e in error_chain(err) {
        let text = e.to_string();
        if parts.last().is_none_or(|last| !last.contains(&text)) {
            parts.push(text);
        }
    }
    parts.join(": ")
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn load_ca_file(path: &std::path::Path) -> anyhow::Result<rustls::RootCertStore> {
    let data = std::fs::read(path)
        .with_context(|| format!("cannot read the CA file {}", path.display()))?;
    let certs: Vec<CertificateDer<'static>> = if data.windows(11).any(|w| w == b"-----BEGIN ") {
        CertificateDer::pem_slice_iter(&data)
            .collect::<Result<_, _>>()
            .with_context(|| format!("cannot parse the PEM in the CA file {}", path.display()))?
    } else if data.first() == Some(&0x30) {
        // A single DER certificate.
        vec![CertificateDer::from(data)]
    } else {
        Vec::new()
    };
    if certs.is_empty() {
        bail!(
            "the CA file {} contains no certificate (expected PEM \"BEGIN CERTIFICATE\" blocks)",
            path.display()
        );
    }
    let mut roots = rustls::RootCertStore::empty();
    let (added, ignored) = roots.add_parsable_certificates(certs);
    if added == 0 {
        bail!(
            "none of the {ignored} certificate(s) in the CA file {} could be used as a trust anchor",
            path.display()
        );
    }
    if ignored > 0 {
        tracing::warn!(
            "ignored {ignored} unusable certificate(s) in the CA file {}",
            path.display()
        );
    }
    Ok(roots)
}

/// The error a pin mismatch carries, listing what the gateway presented.
#[derive(Debug)]
struct PinMismatch {
    pinned: String,
    presented: Vec<String>,
}

impl fmt::Display for PinMismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the pinned fingerprint {} matches no certificate the gateway presented (it presented: {})",
            self.pinned,
            self.presented.join(", ")
        )
    }
}

impl StdError for PinMismatch {}

/// Trusts the gateway when the pin matches the leaf (accepted as is, like an SSH host key) or a
/// presented CA/intermediate (the leaf must then chain to it, with hostname checks).
#[derive(Debug)]
struct PinVerifier {
    pin: String,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, TlsError> {
        if fingerprint(end_entity) == self.pin {
            return Ok(ServerCertVerified::assertion());
        }
        let Some(index) = intermediates
            .iter()
            .position(|c| fingerprint(c) == self.pin)
        else {
            let presented = std::iter::once(end_entity)
                .chain(intermediates)
                .map(|c| fingerprint(c))
                .collect();
            return Err(TlsError::InvalidCertificate(CertificateError::Other(
                OtherError(Arc::new(PinMismatch {
                    pinned: self.pin.clone(),
                    presented,
                })),
            )));
        };
        let mut roots = rustls::RootCertStore::empty();
        roots.add(intermediates[index].clone().into_owned())?;
        let others: Vec<CertificateDer<'_>> = intermediates
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != index)
            .map(|(_, c)| c.clone())
            .collect();
        let verifier =
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), self.provider.clone())
                .build()
                .map_err(|e| TlsError::General(format!("cannot verify against the pin: {e}")))?;
        verifier.verify_server_cert(end_entity, &others, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Accepts any certificate; still checks that the handshake is signed by its key.
#[derive(Debug)]
struct InsecureVerifier {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for InsecureVerifier {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, TlsError> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, TlsError> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::pki_types::DnsName;

    const FP: &str = "70f28083e3268fa2056054bb061eb1d09186f0bf285b599db8d84cc25a3834f9";

    #[test]
    fn normalize_accepts_common_spellings() {
        let colons = FP
            .to_uppercase()
            .as_bytes()
            .chunks(2)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join(":");
        for input in [
            FP.to_string(),
            FP.to_uppercase(),
            colons.clone(),
            format!("  {colons}\n"),
            format!("sha256:{FP}"),
            format!("SHA256 Fingerprint={colons}"),
            format!("{} {}", &FP[..32], &FP[32..]),
        ] {
            assert_eq!(normalize_fingerprint(&input).expect(&input), FP, "{input}");
        }
    }

    #[test]
    fn normalize_rejects_bad_input_clearly() {
        let cases = [
            ("", "empty"),
            ("  :: ", "empty"),
            (&FP[..63], "has 63 hex digits"),
            (&"ab".repeat(20), "SHA-1"),
            ("zz", "not a hex digit"),
        ];
        for (input, want) in cases {
            let err = normalize_fingerprint(input).expect_err(input);
            assert!(err.to_string().contains(want), "{input:?}: {err}");
        }
        let too_long = format!("{FP}00");
        assert!(normalize_fingerprint(&too_long).is_err());
        let err = normalize_fingerprint(&format!("{}g", &FP[..63])).expect_err("g");
        assert!(err.to_string().contains("'g'"), "{err}");
    }

    #[test]
    fn describe_in_plain_words() {
        assert!(describe(&Trust::System).starts_with("system roots"));
        assert_eq!(
            describe(&Trust::CaFile(PathBuf::from("/x/ca.pem"))),
            "CA file /x/ca.pem"
        );
        assert_eq!(
            describe(&Trust::Pin(FP.to_uppercase())),
            format!("pinned certificate sha256 {FP}")
        );
        assert!(describe(&Trust::Pin("nope".into())).contains("unusable"));
        assert_eq!(
            describe(&Trust::Insecure),
            "INSECURE: certificate not verified"
        );
    }

    #[test]
    fn configs_build_with_alpn() {
        for trust in [Trust::System, Trust::Pin(FP.into()), Trust::Insecure] {
            let config = client_config(&trust).expect("config");
            assert_eq!(
                config.alpn_protocols,
                vec![b"h2".to_vec(), b"http/1.1".to_vec()],
                "{trust:?}"
            );
        }
        let err = client_config(&Trust::Pin("12:34".into())).expect_err("short pin");
        assert!(err.to_string().contains("64"), "{err}");
    }

    #[test]
    fn ca_file_errors_are_clear() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let missing = tmp.path().join("missing.pem");
        let err = client_config(&Trust::CaFile(missing)).expect_err("missing");
        assert!(
            format!("{err:#}").contains("cannot read the CA file"),
            "{err:#}"
        );

        let empty = tmp.path().join("empty.pem");
        std::fs::write(&empty, "").expect("write");
        let err = client_config(&Trust::CaFile(empty)).expect_err("empty");
        assert!(
            format!("{err:#}").contains("contains no certificate"),
            "{err:#}"
        );

        let key_only = tmp.path().join("key.pem");
        std::fs::write(
            &key_only,
            "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n",
        )
        .expect("write");
        let err = client_config(&Trust::CaFile(key_only)).expect_err("no certs");
        assert!(
            format!("{err:#}").contains("contains no certificate"),
            "{err:#}"
        );

        let garbage = tmp.path().join("garbage.pem");
        std::fs::write(
            &garbage,
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )
        .expect("write");
        let err = client_config(&Trust::CaFile(garbage)).expect_err("garbage");
        assert!(format!("{err:#}").contains("could be used"), "{err:#}");

        let dir = tmp.path().to_path_buf();
        assert!(client_config(&Trust::CaFile(dir)).is_err());
    }

    #[test]
    fn explains_wrapped_rustls_errors() {
        let wrap = |e: TlsError| std::io::Error::new(std::io::ErrorKind::InvalidData, e);
        let unknown = wrap(TlsError::InvalidCertificate(
            CertificateError::UnknownIssuer,
        ));
        assert!(explain_tls_error(&unknown).contains("not trusted (unknown issuer)"));
        // Also through an anyhow context.
        let any = anyhow::Error::new(wrap(TlsError::InvalidCertificate(
            CertificateError::UnknownIssuer,
        )))
        .context("connecting to the gateway");
        assert!(explain_tls_error(any.as_ref()).contains("not trusted"));

        let name = TlsError::InvalidCertificate(CertificateError::NotValidForNameContext {
            expected: ServerName::DnsName(DnsName::try_from("gw.example").expect("dns")),
            presented: vec![
                "DnsName(\"localhost\")".into(),
                "IpAddress(127.0.0.1)".into(),
            ],
        });
        let text = explain_tls_error(&name);
        assert!(
            text.contains(
                "not valid for the name gw.example (it is valid for: localhost, 127.0.0.1)"
            ),
            "{text}"
        );

        let expired = TlsError::InvalidCertificate(CertificateError::ExpiredContext {
            time: UnixTime::since_unix_epoch(std::time::Duration::from_secs(10 * 86_400)),
            not_after: UnixTime::since_unix_epoch(std::time::Duration::from_secs(7 * 86_400)),
        });
        let text = explain_tls_error(&expired);
        assert!(text.contains("expired 3 days ago"), "{text}");

        let early = TlsError::InvalidCertificate(CertificateError::NotValidYetContext {
            time: UnixTime::since_unix_epoch(std::time::Duration::from_secs(0)),
            not_before: UnixTime::since_unix_epoch(std::time::Duration::from_secs(3 * 3_600)),
        });
        assert!(explain_tls_error(&early).contains("clock"));

        let eof = std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "eof");
        assert!(explain_tls_error(&eof).contains("closed during the TLS handshake"));

        let refused = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert!(explain_tls_error(&refused).contains("refused"));
    }

    #[test]
    fn pin_mismatch_lists_presented_fingerprints() {
        let err = TlsError::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(
            PinMismatch {
                pinned: FP.into(),
                presented: vec!["aa".into(), "bb".into()],
            },
        ))));
        let text = explain_tls_error(&err);
        assert!(
            text.contains("matches no certificate the gateway presented (it presented: aa, bb)"),
            "{text}"
        );
    }
}
