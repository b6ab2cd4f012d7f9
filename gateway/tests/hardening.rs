//! Transport hardening through `Router::oneshot`: HSTS on the TLS listener only, and the CSRF
//! guard comparing an `Origin`'s scheme as well as its host.

mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::Secret;
use gateway::config::{Args, Config};
use gateway::state::AppState;
use support::send;

const ADMIN: &str = "admin-token-for-hardening-tests";

/// A gateway over `dir`: TLS with the generated CA, or plain HTTP, optionally behind `public_url`.
async fn open(dir: &std::path::Path, tls: bool, public_url: Option<&str>) -> AppState {
    let mut config = Config::resolve(
        Args {
            plain_http: !tls,
            data_dir: Some(dir.to_path_buf()),
            public_url: public_url.map(String::from),
            ..Args::default()
        },
        &Default::default(),
    )
    .unwrap();
    config.admin_token = Some(Secret::new(ADMIN));
    config.admin_password = Some(Secret::new("a password for the hardening tests"));
    gateway::Gateway::open(config, "127.0.0.1:3100".parse().unwrap())
        .await
        .unwrap()
        .state
}

/// HSTS on the TLS listener, for every host but `localhost` (a browser would force HTTPS on
/// every port of it, other local servers included).
#[tokio::test]
async fn hsts_is_sent_on_the_tls_listener_only() {
    let cases = [
        (true, "gateway.example:3100", true),
        (true, "10.0.0.5:3100", true),
        (true, "localhost:3100", false),
        (true, "app.localhost", false),
        (false, "gateway.example:3100", false),
    ];
    for (tls, host, want) in cases {
        let dir = tempfile::tempdir().unwrap();
        let state = open(dir.path(), tls, None).await;
        for path in ["/api/health", "/", "/no/such/route"] {
            let req = Request::get(path)
                .header(header::HOST, host)
                .body(Body::empty())
                .unwrap();
            let resp = send(&state, req).await;
            let hsts = resp.headers().get(header::STRICT_TRANSPORT_SECURITY);
            assert_eq!(hsts.is_some(), want, "tls {tls}, {host}{path}: {hsts:?}");
            if let Some(v) = hsts {
                let v = v.to_str().unwrap();
                assert!(v.starts_with("max-age=") && !v.contains("max-age=0"), "{v}");
            }
        }
    }
}

/// The guard refuses a state-changing request whose `Origin` differs from the gateway's own in
/// scheme, not only in host: a page served over plain HTTP must not act on the HTTPS gateway.
#[tokio::test]
async fn the_origin_must_match_in_scheme_as_well_as_host() {
    // (listener is TLS, public URL, Origin sent, refused as cross-site)
    let cases = [
        (true, None, "https://localhost:3100", false),
        (true, None, "http://localhost:3100", true),
        (true, None, "HTTPS://LOCALHOST:3100", false),
        (true, None, "https://evil.example", true),
        (false, None, "http://localhost:3100", false),
        (false, None, "https://localhost:3100", true),
        // Plain HTTP behind a TLS proxy: the public URL names the scheme browsers use.
        (
            false,
            Some("https://localhost:3100"),
            "https://localhost:3100",
            false,
        ),
        (
            false,
            Some("https://localhost:3100"),
            "http://localhost:3100",
            true,
        ),
        (true, None, "null", true),
    ];
    for (tls, public_url, origin, refused) in cases {
        let dir = tempfile::tempdir().unwrap();
        let state = open(dir.path(), tls, public_url).await;
        let req = Request::post("/api/runs")
            .header(header::HOST, "localhost:3100")
            .header(header::ORIGIN, origin)
            .header(header::AUTHORIZATION, format!("Bearer {ADMIN}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from("{}"))
            .unwrap();
        let status = send(&state, req).await.status();
        let want = if refused {
            StatusCode::FORBIDDEN
        } else {
            StatusCode::CREATED
        };
        assert_eq!(
            status, want,
            "tls {tls}, public {public_url:?}, Origin {origin}"
        );
    }
}
