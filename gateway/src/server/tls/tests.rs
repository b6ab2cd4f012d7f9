//! Tests of the generated and loaded TLS material.

use std::os::unix::fs::PermissionsExt;

use rustls_pki_types::ServerName;

use super::dates::*;
use super::issue::*;
use super::names::*;
use super::*;

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
    let err =
        load_or_generate(tmp.path(), &["new.example".to_string()]).expect_err("needs the CA key");
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
async fn handshake_leaf(config: Arc<rustls::ServerConfig>, roots: rustls::RootCertStore) -> String {
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
