//! Public certificates by ACME against Pebble, Let's Encrypt's test CA (Debian's `pebble`
//! package), started here on loopback with its companion DNS server answering every name with
//! 127.0.0.1. The gateway obtains a certificate by TLS-ALPN-01 on its own port, serves it, renews
//! a short-lived one while a runner streams through it (no event lost, the runner trusting only
//! Pebble's root), and explains a challenge the CA could not complete.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use e2e::{Gateway, eventually, run_id_from, runner, script};

/// A free loopback port for a program that takes a port number, not a listener.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Pebble and pebble-challtestsrv, killed on drop.
struct Pebble {
    children: Vec<Child>,
    directory: String,
    /// Pebble's issuing root (regenerated at every start), what runners trust.
    root: PathBuf,
    /// The CA of Pebble's own HTTPS, for the gateway's ACME client.
    own_ca: PathBuf,
    dns_management: u16,
}

impl Drop for Pebble {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Pebble {
    /// `None` (with a loud line) when Pebble is not installed.
    async fn start(dir: &Path, tls_port: u16, validity_secs: u64) -> Option<Self> {
        if !Path::new("/usr/bin/pebble").exists() {
            eprintln!("SKIPPED: /usr/bin/pebble is missing (apt install pebble); ACME not tested");
            return None;
        }
        // Pebble's own certificate, for its directory's HTTPS.
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params =
            rcgen::CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
        params.is_ca = rcgen::IsCa::NoCa;
        let cert = params.self_signed(&key).unwrap();
        let (cert_path, key_path) = (dir.join("pebble-cert.pem"), dir.join("pebble-key.pem"));
        std::fs::write(&cert_path, cert.pem()).unwrap();
        std::fs::write(&key_path, key.serialize_pem()).unwrap();

        // Ports are picked free and then bound by Pebble: another test may take one in
        // between, and Pebble then exits at once. So a start whose servers exit is tried
        // again on fresh ports, and a start that never answers says what Pebble logged.
        let mut attempt = 0;
        let (mut me, root) = loop {
            attempt += 1;
            let (listen, management, dns, dns_management) =
                (free_port(), free_port(), free_port(), free_port());
            let config = serde_json::json!({"pebble": {
                "listenAddress": format!("127.0.0.1:{listen}"),
                "managementListenAddress": format!("127.0.0.1:{management}"),
                "certificate": cert_path,
                "privateKey": key_path,
                "httpPort": free_port(),
                "tlsPort": tls_port,
                "ocspResponderURL": "",
                "externalAccountBindingRequired": false,
                "certificateValidityPeriod": validity_secs,
            }});
            let config_path = dir.join("pebble.json");
            std::fs::write(&config_path, config.to_string()).unwrap();
            let log = |name: &str| std::fs::File::create(dir.join(name)).unwrap();
            let dns_server = Command::new("pebble-challtestsrv")
                .args(["-dns01", &format!("127.0.0.1:{dns}")])
                .args(["-http01", "", "-https01", "", "-tlsalpn01", ""])
                .args(["-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""])
                .args(["-management", &format!("127.0.0.1:{dns_management}")])
                .stdout(log("challtestsrv.log"))
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let pebble = Command::new("pebble")
                .arg("-config")
                .arg(&config_path)
                .args(["-dnsserver", &format!("127.0.0.1:{dns}")])
                // Validate at once (not after a random pause), accept every good nonce, and
                // validate a renewal's challenge again instead of reusing the authorization.
                .env("PEBBLE_VA_NOSLEEP", "1")
                .env("PEBBLE_WFE_NONCEREJECT", "0")
                .env("PEBBLE_AUTHZREUSE", "0")
                .stdout(log("pebble.log"))
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let mut me = Self {
                children: vec![dns_server, pebble],
                directory: format!("https://127.0.0.1:{listen}/dir"),
                root: dir.join("pebble-root.pem"),
                own_ca: cert_path.clone(),
                dns_management,
            };
            // Ready when its directory answers; then fetch this run's root.
            let client = https_client(&me.own_ca);
            let deadline = std::time::Instant::now() + Duration::from_secs(60);
            let root = loop {
                let url = format!("https://127.0.0.1:{management}/roots/0");
                let ready = async {
                    client
                        .get(&me.directory)
                        .send()
                        .await
                        .ok()?
                        .error_for_status()
                        .ok()?;
                    client.get(&url).send().await.ok()?.text().await.ok()
                };
                if let Some(root) = ready.await {
                    break Some(root);
                }
                let exited = me
                    .children
                    .iter_mut()
                    .any(|c| !matches!(c.try_wait(), Ok(None)));
                assert!(
                    std::time::Instant::now() < deadline,
                    "pebble did not answer within 60 s; its log:\n{}",
                    std::fs::read_to_string(dir.join("pebble.log")).unwrap_or_default()
                );
                if exited {
                    break None;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            };
            match root {
                Some(root) => break (me, root),
                None => {
                    let log = std::fs::read_to_string(dir.join("pebble.log")).unwrap_or_default();
                    drop(me);
                    assert!(
                        attempt < 3,
                        "pebble exited at each of 3 starts; its log:\n{log}"
                    );
                    eprintln!("pebble exited at start {attempt} (a port taken?), starting again");
                }
            }
        };
        std::fs::write(&me.root, root).unwrap();
        me.children.shrink_to_fit();
        Some(me)
    }

    /// Make the DNS server answer `host` with `ip` (a domain that points elsewhere).
    async fn point(&self, host: &str, ip: &str) {
        let resp = https_client(&self.own_ca)
            .post(format!("http://127.0.0.1:{}/add-a", self.dns_management))
            .body(serde_json::json!({"host": host, "addresses": [ip]}).to_string())
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "{}", resp.status());
    }
}

/// A TLS client configuration trusting only the certificates in `root`.
fn trusting(root: &Path) -> Option<rustls::ClientConfig> {
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls_pki_types::CertificateDer::pem_file_iter(root).ok()? {
        roots.add(c.ok()?).ok()?;
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .ok()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Some(config)
}

/// An HTTP client trusting only `ca` (plain `http://` works too).
fn https_client(ca: &Path) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_backend_preconfigured(trusting(ca).expect("a PEM CA"))
        .no_proxy()
        .build()
        .unwrap()
}

/// The certificate the gateway on `port` serves for `name`, verified against `root`: its DER.
async fn served_certificate(port: u16, name: &str, root: &Path) -> Option<Vec<u8>> {
    let config = trusting(root)?;
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .ok()?;
    let server_name = rustls_pki_types::ServerName::try_from(name.to_string()).ok()?;
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(server_name, tcp)
        .await
        .ok()?;
    Some(
        tls.get_ref()
            .1
            .peer_certificates()?
            .first()?
            .as_ref()
            .to_vec(),
    )
}

fn acme_flags<'a>(pebble: &'a Pebble, domains: &'a str) -> Vec<String> {
    vec![
        "--acme-domains".into(),
        domains.into(),
        "--acme-email".into(),
        "ops@example.com".into(),
        "--acme-directory".into(),
        pebble.directory.clone(),
        "--acme-ca-file".into(),
        pebble.own_ca.display().to_string(),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_from_pebble_is_served_renewed_while_a_runner_streams_and_trusted() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    // 30-second certificates: renewed 20 s into their life, while the runner below streams.
    let Some(pebble) = Pebble::start(dir.path(), port, 30).await else {
        return;
    };
    let flags = acme_flags(&pebble, "localhost");
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let listen = format!("127.0.0.1:{port}");
    let mut gw = Gateway::start_on(dir.path(), &listen, &flags);
    assert_eq!(gw.url, format!("https://localhost:{port}"));
    gw.ca_file = pebble.root.clone();

    // Issued and served: the handshake verifies against Pebble's root alone.
    let first = eventually(Duration::from_secs(60), || {
        served_certificate(port, "localhost", &pebble.root)
    })
    .await;
    let kept = dir.path().join("gateway-data/acme");
    for file in ["account.json", "cert.pem", "key.pem"] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(kept.join(file))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{file}");
    }

    // A runner trusting only Pebble's root streams for longer than the certificate lives.
    let child = script(
        &dir.path().join("slow"),
        "i=1; while [ $i -le 140 ]; do echo \"line $i\"; i=$((i+1)); sleep 0.25; done\n",
    );
    let started = Instant::now();
    let mut cmd = runner(dir.path());
    cmd.args(["start", "--name", "acme", "--cmd", "stream"])
        .env("GATEWAY_URL", &gw.url)
        .env("GATEWAY_CA_FILE", &pebble.root)
        .env("HMAC_SECRET", &gw.hmac_secret)
        .env("CLAUDE_COMMAND", &child);
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    eprintln!("the runner streamed for {:?}", started.elapsed());

    // Renewed meanwhile: a new certificate is served, and it is the one kept on disk.
    let second = served_certificate(port, "localhost", &pebble.root)
        .await
        .unwrap();
    assert_ne!(
        first, second,
        "the certificate was renewed while the runner streamed"
    );
    let log = gw.log();
    assert!(
        log.matches("obtained a certificate by ACME").count() >= 2,
        "{log}"
    );

    // Every line arrived, and the gateway judges the stream complete.
    let run_id = run_id_from(&stderr);
    let run = gw.admin_get(&format!("/api/runs/{run_id}")).await;
    assert_eq!(run["delivery"], "complete", "{run}");
    let events = gw.events(&run_id).await;
    let lines = events
        .iter()
        .filter(|e| e.kind == common::wire::EventKind::Stdout)
        .count();
    assert_eq!(lines, 140);
    gw.kill();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_domain_that_points_elsewhere_is_explained() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let Some(pebble) = Pebble::start(dir.path(), port, 300).await else {
        return;
    };
    // The name resolves to 127.0.0.2, where nothing listens on the gateway's port.
    pebble.point("elsewhere.test", "127.0.0.2").await;
    let flags = acme_flags(&pebble, "elsewhere.test");
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let mut gw = Gateway::start_on(dir.path(), &format!("127.0.0.1:{port}"), &flags);
    let log = eventually(Duration::from_secs(60), || {
        let log = gw.log();
        async move {
            log.contains("could not obtain a certificate by ACME")
                .then_some(log)
        }
    })
    .await;
    assert!(
        log.contains("could not validate [\"elsewhere.test\"] by TLS-ALPN-01"),
        "{log}"
    );
    assert!(log.contains("must resolve to this machine"), "{log}");
    assert!(
        log.contains("127.0.0.2"),
        "Pebble's own reason is passed on: {log}"
    );
    assert!(log.contains("trying again in 5s"), "{log}");
    let said = log
        .lines()
        .find(|l| l.contains("could not obtain"))
        .unwrap_or_default();
    eprintln!("the gateway says: {said}");
    gw.kill();
}
