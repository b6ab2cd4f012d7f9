//! Real TLS handshakes between the gateway's server material and the runner's client trust modes.
//!
//! In the e2e crate, replace the `use tlsdev::...` lines with
//! `use gateway::server::tls as gateway_tls;` and `use claude_runner::tls as runner_tls;`.

use std::path::Path;
use std::sync::Arc;

use claude_runner::tls::{self as runner_tls, Trust};
use gateway::server::tls as gateway_tls;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Serves TLS with `config` on 127.0.0.1:<ephemeral>; each connection gets "hello" and a close.
async fn serve(config: Arc<rustls::ServerConfig>) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(mut tls) = acceptor.accept(tcp).await {
                    let _ = tls.write_all(b"hello").await;
                    let _ = tls.shutdown().await;
                }
            });
        }
    });
    addr
}

/// Connects with `trust` using `name` as the server name; returns the negotiated ALPN.
async fn connect(
    addr: std::net::SocketAddr,
    trust: &Trust,
    name: &str,
) -> Result<Option<Vec<u8>>, std::io::Error> {
    let config = runner_tls::client_config(trust).expect("client config");
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let server_name = ServerName::try_from(name.to_string()).expect("server name");
    let tcp = TcpStream::connect(addr).await?;
    let mut tls = connector.connect(server_name, tcp).await?;
    let mut got = Vec::new();
    tls.read_to_end(&mut got).await?;
    assert_eq!(got, b"hello");
    Ok(tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec))
}

fn generated(dir: &Path) -> gateway_tls::TlsMaterial {
    gateway_tls::load_or_generate(dir, &[]).expect("generate")
}

#[tokio::test]
async fn ca_file_is_trusted_for_covered_names() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let m = generated(tmp.path());
    let addr = serve(m.config.clone()).await;
    let trust = Trust::CaFile(m.ca_path.clone().expect("ca path"));
    for name in ["localhost", "127.0.0.1"] {
        let alpn = connect(addr, &trust, name).await.expect(name);
        assert_eq!(alpn.as_deref(), Some(&b"h2"[..]), "{name}");
    }
}

#[tokio::test]
async fn ca_file_rejects_a_name_the_leaf_does_not_cover() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let m = generated(tmp.path());
    let addr = serve(m.config.clone()).await;
    let trust = Trust::CaFile(m.ca_path.clone().expect("ca path"));
    let err = connect(addr, &trust, "example.com")
        .await
        .expect_err("name mismatch");
    let text = runner_tls::explain_tls_error(&err);
    assert!(
        text.contains("not valid for the name example.com"),
        "{text}"
    );
    assert!(text.contains("localhost"), "{text}");
}

#[tokio::test]
async fn pin_of_the_ca_fingerprint_is_trusted() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let m = generated(tmp.path());
    let addr = serve(m.config.clone()).await;
    let fp = m.ca_fingerprint.clone().expect("fingerprint");
    // Any case, with colons, as people paste it.
    let pasted = fp
        .to_uppercase()
        .as_bytes()
        .chunks(2)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(":");
    let trust = Trust::Pin(pasted);
    assert_eq!(
        connect(addr, &trust, "localhost")
            .await
            .expect("pinned CA")
            .as_deref(),
        Some(&b"h2"[..])
    );
    // Pinning the CA keeps hostname checks on.
    let err = connect(addr, &trust, "example.com")
        .await
        .expect_err("name mismatch");
    assert!(
        runner_tls::explain_tls_error(&err).contains("not valid for the name"),
        "{err}"
    );
}

#[tokio::test]
async fn ca_pin_survives_a_leaf_reissue() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let names = ["gw.example.net".to_string()];
    let first = gateway_tls::load_or_generate(tmp.path(), &names).expect("generate");
    // The leaf is re-issued (here: it went missing; also when it nears expiry) by the same CA.
    std::fs::remove_file(tmp.path().join(gateway_tls::LEAF_CERT_FILE)).expect("rm");
    let second = gateway_tls::load_or_generate(tmp.path(), &names).expect("reissue");
    assert_ne!(first.leaf_fingerprint, second.leaf_fingerprint);
    assert_eq!(first.ca_fingerprint, second.ca_fingerprint);
    let addr = serve(second.config.clone()).await;
    let trust = Trust::Pin(first.ca_fingerprint.clone().expect("fingerprint"));
    connect(addr, &trust, "gw.example.net")
        .await
        .expect("new name, old CA pin");
}

#[tokio::test]
async fn pin_of_the_leaf_fingerprint_is_trusted_for_any_name() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let m = generated(tmp.path());
    let addr = serve(m.config.clone()).await;
    let trust = Trust::Pin(m.leaf_fingerprint.clone());
    connect(addr, &trust, "localhost")
        .await
        .expect("pinned leaf");
    connect(addr, &trust, "example.com")
        .await
        .expect("leaf pin skips hostname checks");
}

#[tokio::test]
async fn wrong_pin_fails_and_lists_presented_fingerprints() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let m = generated(tmp.path());
    let addr = serve(m.config.clone()).await;
    let trust = Trust::Pin("ab".repeat(32));
    let err = connect(addr, &trust, "localhost")
        .await
        .expect_err("wrong pin");
    let ca_fp = m.ca_fingerprint.clone().expect("fingerprint");
    let raw = err.to_string();
    assert!(raw.contains(&m.leaf_fingerprint), "{raw}");
    assert!(raw.contains(&ca_fp), "{raw}");
    let text = runner_tls::explain_tls_error(&err);
    assert!(
        text.contains("matches no certificate the gateway presented"),
        "{text}"
    );
    assert!(
        text.contains(&format!("(it presented: {}, {ca_fp})", m.leaf_fingerprint)),
        "{text}"
    );
}

#[tokio::test]
async fn system_roots_do_not_trust_the_local_ca() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let m = generated(tmp.path());
    let addr = serve(m.config.clone()).await;
    let err = connect(addr, &Trust::System, "localhost")
        .await
        .expect_err("unknown issuer");
    let text = runner_tls::explain_tls_error(&err);
    assert!(text.contains("not trusted"), "{text}");
    assert!(text.contains("GATEWAY_CA_FILE"), "{text}");
    assert!(text.contains("GATEWAY_CERT_SHA256"), "{text}");
}

#[tokio::test]
async fn insecure_accepts_anything() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let m = generated(tmp.path());
    let addr = serve(m.config.clone()).await;
    connect(addr, &Trust::Insecure, "example.com")
        .await
        .expect("insecure");
}

#[tokio::test]
async fn user_provided_files_serve_the_same_chain() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let g = generated(tmp.path());
    let m = gateway_tls::load_files(&tmp.path().join("cert.pem"), &tmp.path().join("key.pem"))
        .expect("load files");
    let addr = serve(m.config.clone()).await;
    let trust = Trust::CaFile(g.ca_path.clone().expect("ca path"));
    connect(addr, &trust, "localhost").await.expect("ca file");
    let trust = Trust::Pin(m.ca_fingerprint.clone().expect("fingerprint"));
    connect(addr, &trust, "localhost").await.expect("pin");
}

#[tokio::test]
async fn a_plain_tcp_server_is_explained() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        if let Ok((mut tcp, _)) = listener.accept().await {
            let mut buf = [0u8; 512];
            let _ = tcp.read(&mut buf).await;
            let _ = tcp
                .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
                .await;
        }
    });
    let err = connect(addr, &Trust::Insecure, "localhost")
        .await
        .expect_err("not TLS");
    let text = runner_tls::explain_tls_error(&err);
    assert!(text.contains("did not answer with TLS"), "{text}");
}
