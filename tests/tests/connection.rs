//! `claude-runner test-connection` against a real gateway: OK with the right settings, and the
//! cause named in plain words for each way it can go wrong.

use e2e::{Gateway, runner};

fn test_connection(dir: &std::path::Path, env: &[(&str, &str)]) -> (i32, String) {
    let out = runner(dir)
        .arg("test-connection")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn says_ok_with_the_right_settings_by_ca_file_and_by_pin() {
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start(dir.path());
    let ca = gw.ca_file.display().to_string();
    let (code, out) = test_connection(
        dir.path(),
        &[
            ("GATEWAY_URL", &gw.url),
            ("HMAC_SECRET", &gw.hmac_secret),
            ("GATEWAY_CA_FILE", &ca),
        ],
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("OK: this runner can reach the gateway"),
        "{out}"
    );
    assert!(out.contains("ok    clock"), "{out}");

    let (code, out) = test_connection(
        dir.path(),
        &[
            ("GATEWAY_URL", &gw.url),
            ("HMAC_SECRET", &gw.hmac_secret),
            ("GATEWAY_CERT_SHA256", &gw.ca_fingerprint),
        ],
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("pinned"), "{out}");
}

#[test]
fn names_a_wrong_hmac_secret() {
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start(dir.path());
    let ca = gw.ca_file.display().to_string();
    let (code, out) = test_connection(
        dir.path(),
        &[
            ("GATEWAY_URL", &gw.url),
            ("HMAC_SECRET", "wrong-secret-value"),
            ("GATEWAY_CA_FILE", &ca),
        ],
    );
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("FAIL  secret") && out.contains("HMAC_SECRET differs from the gateway's"),
        "{out}"
    );
    assert!(
        !out.contains("wrong-secret-value"),
        "the secret is never printed"
    );
}

#[test]
fn names_an_untrusted_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start(dir.path());
    let (code, out) = test_connection(
        dir.path(),
        &[("GATEWAY_URL", &gw.url), ("HMAC_SECRET", &gw.hmac_secret)],
    );
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("FAIL  tls") && out.contains("not trusted"),
        "{out}"
    );
    assert!(out.contains("GATEWAY_CA_FILE"), "the fix is named: {out}");
}

#[test]
fn names_a_gateway_that_is_not_listening() {
    let dir = tempfile::tempdir().unwrap();
    // A port that was just free: bind, read it, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("https://127.0.0.1:{port}");
    let (code, out) = test_connection(
        dir.path(),
        &[("GATEWAY_URL", &url), ("HMAC_SECRET", "whatever-secret")],
    );
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("FAIL  tcp") && out.contains("nothing is listening"),
        "{out}"
    );
}

#[test]
fn names_clock_skew_over_300_seconds() {
    let faketime = std::path::Path::new("/usr/bin/faketime");
    assert!(
        faketime.exists(),
        "this test needs faketime (Debian package `faketime`; .ci/run installs it) to run the runner with a skewed clock"
    );
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start(dir.path());
    let out = std::process::Command::new(faketime)
        .args(["-f", "+400s"])
        .arg(e2e::bin("claude-runner"))
        .arg("test-connection")
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("GATEWAY_URL", &gw.url)
        .env("HMAC_SECRET", &gw.hmac_secret)
        .env("GATEWAY_CA_FILE", &gw.ca_file)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("FAIL  clock") && text.contains("ahead of the gateway's"),
        "{text}"
    );
    assert!(
        text.contains("FAIL  secret") && text.contains("clock skew"),
        "{text}"
    );
}
