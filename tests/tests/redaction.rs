//! Secrets printed by the child never reach the gateway or `claude.log`: the runner's own HMAC
//! secret, an exported `*_TOKEN`, well-known token shapes, and a private key split across writes.

use e2e::{Gateway, run_id_from, runner, script};

const FOO_TOKEN: &str = "foo-token-value-7f3a9c21";
const GH_TOKEN: &str = "ghp_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef0123";
const KEY_BODY: &str = "MIIEowIBAAKCAQEAuZ3kq1vF0uNqZp0Gd7Y9mQ8xT2wVb4rLs3HcJk";

#[tokio::test]
async fn no_secret_reaches_the_gateway_or_claude_log() {
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start(dir.path());
    // The key block is written in pieces with pauses, so it arrives in several reads.
    let child = script(
        &dir.path().join("leaky"),
        &format!(
            r#"echo "my secret is $HMAC_COPY"
echo "token from env: $FOO_TOKEN"
echo "json: {{\"auth\": \"$FOO_TOKEN\"}}"
echo "url-encoded: foo%2D$FOO_TOKEN"
printf 'gh %s done\n' '{GH_TOKEN}'
echo "here comes a key" >&2
printf -- '-----BEGIN RSA PRIV'
sleep 0.1
printf 'ATE KEY-----\n{KEY_BODY}'
sleep 0.1
printf '\n{KEY_BODY}\n-----END RSA'
sleep 0.1
printf ' PRIVATE KEY-----\nafter the key\n'
exit 0
"#
        ),
    );
    let out = runner(dir.path())
        .arg("--env-file")
        .arg(&gw.runner_env)
        .args(["start", "--cmd", "leak things"])
        .env("CLAUDE_COMMAND", &child)
        .env("HMAC_COPY", &gw.hmac_secret)
        .env("FOO_TOKEN", FOO_TOKEN)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let run_id = run_id_from(&stderr);

    let stored = serde_json::to_string(&gw.events(&run_id).await).unwrap();
    let log = std::fs::read_to_string(
        dir.path()
            .join(".data/runs")
            .join(&run_id)
            .join("claude.log"),
    )
    .unwrap();
    let terminal = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr);
    let resp = gw
        .client()
        .get(format!("{}/api/runs/{run_id}/artifacts/claude.log", gw.url))
        .bearer_auth(&gw.admin_token)
        .send()
        .await
        .unwrap();
    assert!(
        resp.status().is_success(),
        "claude.log artifact: {}",
        resp.status()
    );
    let artifact = resp.text().await.unwrap();
    for (place, text) in [
        ("stored events", &stored),
        ("claude.log", &log),
        ("the claude.log artifact", &artifact),
        ("the runner's terminal", &terminal),
    ] {
        for secret in [
            gw.hmac_secret.as_str(),
            FOO_TOKEN,
            GH_TOKEN,
            KEY_BODY,
            "PRIVATE KEY",
        ] {
            assert!(
                !text.contains(secret),
                "{secret:?} leaked into {place}:\n{text}"
            );
        }
        assert!(
            text.contains("after the key"),
            "output after the key block is kept in {place}"
        );
        assert!(text.contains("[REDACTED]"), "{place}");
    }
    // The end-of-run marker counts what was redacted, by rule, without values.
    let events = gw.events(&run_id).await;
    let counts = events
        .iter()
        .find(|e| e.data["event"] == "redactions")
        .map(|e| e.data["counts"].clone())
        .expect("a redactions marker");
    assert!(
        counts.as_object().is_some_and(|c| !c.is_empty()),
        "{counts}"
    );
}
