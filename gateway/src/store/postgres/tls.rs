//! TLS to PostgreSQL, as libpq's connection parameters ask for it: `sslmode` (`disable`,
//! `allow`, `prefer` — the default —, `require`, `verify-ca`, `verify-full`) and `sslrootcert`
//! (a PEM file of the certificates to trust, or `system`), in the URL's query or a `key=value`
//! string. rustls with the gateway's `ring` provider; `tokio-postgres-rustls` joins it to the
//! driver (and gives SCRAM channel binding).
//!
//! * `disable`: no TLS.
//! * `allow`, `prefer`: TLS when the server offers it, plain when it does not (`allow` is taken
//!   as `prefer`); as libpq, the server's certificate is not checked.
//! * `require`: TLS or no connection; the certificate is not checked (libpq's meaning too):
//!   encrypted against a listener on the path, not against someone posing as the server.
//! * `verify-ca`: TLS, and the certificate chains to a trusted one; its name is not checked.
//! * `verify-full`: TLS, the chain, and the name the URL connects to (host or address) is the
//!   certificate's. What a database across a network wants.
//!
//! The certificates trusted are those of `sslrootcert` (a file of PEM certificates); without it,
//! or with `system`, the public web's roots (`webpki-roots`, as the gateway's webhooks use):
//! managed databases with public certificates work as they are, a private CA needs its file.

use std::path::Path;
use std::sync::Arc;

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, Error, RootCertStore, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::store::StoreError;

/// The driver's TLS: one connector for every connection of a store (the pool's and the
/// listener's).
pub type Tls = MakeRustlsConnect;

/// How much of the server's certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verify {
    /// Nothing (`prefer`, `require`).
    Nothing,
    /// The chain to a trusted certificate (`verify-ca`).
    Chain,
    /// The chain and the name (`verify-full`).
    Full,
}

/// Connection settings and the TLS they ask for.
pub struct Settings {
    pub config: tokio_postgres::Config,
    pub tls: Tls,
}

/// Shows nothing: the settings hold the database's password.
impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings").finish_non_exhaustive()
    }
}

/// The settings of a `postgres://` URL or a `key=value` string. The errors name what is wrong,
/// never the URL (it may hold a password).
pub fn settings(url: &str) -> Result<Settings, StoreError> {
    use tokio_postgres::config::SslMode;
    let (rest, mode, root) = split(url)?;
    // The driver knows disable, prefer and require; the verifying modes require TLS.
    let (driver_mode, verify) = match mode.as_deref() {
        Some("disable") => (SslMode::Disable, Verify::Nothing),
        None | Some("allow" | "prefer") => (SslMode::Prefer, Verify::Nothing),
        Some("require") => (SslMode::Require, Verify::Nothing),
        Some("verify-ca") => (SslMode::Require, Verify::Chain),
        Some("verify-full") => (SslMode::Require, Verify::Full),
        Some(other) => {
            return Err(StoreError::Backend(format!(
                "DATABASE_URL: sslmode {other:?} is not one of disable, allow, prefer, require, \
                 verify-ca, verify-full"
            )));
        }
    };
    let mut config = super::config(&rest)?;
    config.ssl_mode(driver_mode);
    let roots = root.as_deref().filter(|r| *r != "system").map(Path::new);
    Ok(Settings {
        config,
        tls: connector(verify, roots)?,
    })
}

/// A connector that checks what `verify` says against the certificates in the PEM file `roots`
/// (the public web's roots without one).
pub fn connector(verify: Verify, roots: Option<&Path>) -> Result<Tls, StoreError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut store = RootCertStore::empty();
    match roots {
        Some(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|e| {
                    StoreError::Backend(format!(
                        "DATABASE_URL: sslrootcert {}: {e}",
                        path.display()
                    ))
                })?;
            let (added, _) = store.add_parsable_certificates(certs);
            if added == 0 {
                return Err(StoreError::Backend(format!(
                    "DATABASE_URL: sslrootcert {} holds no certificate",
                    path.display()
                )));
            }
        }
        None => store.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider.clone())
        .build()
        .map_err(|e| StoreError::Backend(format!("database TLS: {e}")))?;
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError::Backend(format!("database TLS: {e}")))?;
    let config =
        match verify {
            Verify::Full => builder.with_webpki_verifier(webpki),
            Verify::Chain | Verify::Nothing => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Lenient {
                    webpki,
                    chain: verify == Verify::Chain,
                    algorithms: provider.signature_verification_algorithms,
                })),
        }
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

/// `verify-ca` (the chain, whatever the name) and `prefer`/`require` (no check of the
/// certificate); the handshake's signatures are checked either way.
#[derive(Debug)]
struct Lenient {
    webpki: Arc<WebPkiServerVerifier>,
    chain: bool,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for Lenient {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        if !self.chain {
            return Ok(ServerCertVerified::assertion());
        }
        match self.webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Err(Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// `url` without `sslmode` and `sslrootcert`, and their values. A URL's query is decoded and
/// written again; a `key=value` string keeps its other words as they are.
fn split(url: &str) -> Result<(String, Option<String>, Option<String>), StoreError> {
    let (mut mode, mut root) = (None, None);
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let Some((base, query)) = url.split_once('?') else {
            return Ok((url.to_string(), None, None));
        };
        let mut kept = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
            match &*k {
                "sslmode" => mode = Some(v.into_owned()),
                "sslrootcert" => root = Some(v.into_owned()),
                _ => {
                    kept.append_pair(&k, &v);
                }
            }
        }
        let kept = kept.finish();
        let rest = if kept.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{kept}")
        };
        return Ok((rest, mode, root));
    }
    let mut kept = Vec::new();
    for word in url.split_ascii_whitespace() {
        match word.split_once('=') {
            Some(("sslmode", v)) => mode = Some(v.trim_matches('\'').to_string()),
            Some(("sslrootcert", v)) => root = Some(v.trim_matches('\'').to_string()),
            _ => kept.push(word),
        }
    }
    if mode.is_none() && root.is_none() {
        // Nothing taken out: the string goes to the driver as it is (quoted values and all).
        return Ok((url.to_string(), None, None));
    }
    Ok((kept.join(" "), mode, root))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sslmode_and_sslrootcert_are_taken_out_of_urls_and_key_value_strings() {
        let (rest, mode, root) = split(
            "postgres://g%40w@db.internal:5432/gw?application_name=gw&sslmode=verify-full\
             &sslrootcert=%2Fetc%2Fca%20dir%2Froot.pem",
        )
        .unwrap();
        assert_eq!(
            rest,
            "postgres://g%40w@db.internal:5432/gw?application_name=gw"
        );
        assert_eq!(mode.as_deref(), Some("verify-full"));
        assert_eq!(root.as_deref(), Some("/etc/ca dir/root.pem"));
        let (rest, mode, root) = split("postgres://db/gw?sslmode=require").unwrap();
        assert_eq!(
            (rest.as_str(), mode.as_deref(), root),
            ("postgres://db/gw", Some("require"), None)
        );
        let (rest, mode, root) =
            split("host=db user=gw sslmode=verify-ca sslrootcert=/ca.pem dbname=gw").unwrap();
        assert_eq!(rest, "host=db user=gw dbname=gw");
        assert_eq!(mode.as_deref(), Some("verify-ca"));
        assert_eq!(root.as_deref(), Some("/ca.pem"));
        let plain = "host=db application_name='two  spaces'";
        assert_eq!(split(plain).unwrap(), (plain.to_string(), None, None));
    }

    #[test]
    fn modes_map_to_the_driver_and_bad_settings_are_named() {
        use tokio_postgres::config::SslMode;
        for (url, want) in [
            ("postgres://db/gw", SslMode::Prefer),
            ("postgres://db/gw?sslmode=disable", SslMode::Disable),
            ("postgres://db/gw?sslmode=allow", SslMode::Prefer),
            ("postgres://db/gw?sslmode=require", SslMode::Require),
            ("postgres://db/gw?sslmode=verify-ca", SslMode::Require),
            ("postgres://db/gw?sslmode=verify-full", SslMode::Require),
        ] {
            assert_eq!(settings(url).unwrap().config.get_ssl_mode(), want, "{url}");
        }
        let err = |url: &str| match settings(url) {
            Err(StoreError::Backend(m)) => m,
            Ok(_) => panic!("{url} was taken"),
            Err(e) => panic!("{e:?}"),
        };
        let m = err("postgres://someone@db/gw?sslmode=verify-everything");
        assert!(
            m.contains("verify-everything") && !m.contains("someone"),
            "{m}"
        );
        let m = err("postgres://db/gw?sslmode=verify-full&sslrootcert=/no/such/file.pem");
        assert!(m.contains("/no/such/file.pem"), "{m}");
        let empty = tempfile::NamedTempFile::new().unwrap();
        let m = err(&format!(
            "postgres://db/gw?sslmode=verify-full&sslrootcert={}",
            empty.path().display()
        ));
        assert!(m.contains("no certificate"), "{m}");
    }
}
