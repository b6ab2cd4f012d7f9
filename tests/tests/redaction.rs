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

/// Every file under `dir` (the gateway's database, its WAL, stored artifacts), as bytes.
fn files_under(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else if let Ok(bytes) = std::fs::read(&p) {
                out.push((p.display().to_string(), bytes));
            }
        }
    }
    out
}

fn has(hay: &[u8], needle: &str) -> bool {
    hay.windows(needle.len()).any(|w| w == needle.as_bytes())
}

/// The run's name and working directory pass the redactor; a secret learned on stdout is
/// redacted when stderr repeats it bare; a secret variable too short to redact is reported by
/// name (info and marker) and leaves Claude's session id alone; every hit is counted; nothing
/// reaches the gateway's database files.
#[tokio::test]
async fn strings_sent_learned_secrets_and_short_values() {
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start(dir.path());
    let gh = "ghp_Q7wErTy8UiOp9AsDfGh0JkLzXcVbNm12Ab34";
    let cwd = dir.path().join(format!("work-{gh}"));
    std::fs::create_dir_all(&cwd).unwrap();
    let init =
        r#"{"type":"system","subtype":"init","session_id":"4f1c2a3b-1d2e-4f5a-8b9c-0d1e2f3a4b5c"}"#;
    let child = script(
        &dir.path().join("learner"),
        &format!(
            r#"echo '{init}'
echo 'session ready'
echo 'password=S3cretPass99-Learned'
sleep 0.2
echo 'again: S3cretPass99-Learned' >&2
exit 0
"#
        ),
    );
    let out = runner(dir.path())
        .arg("--env-file")
        .arg(&gw.runner_env)
        .args([
            "start",
            "--name",
            "deploy password=Hunter2hunter",
            "--cmd",
            "x",
        ])
        .arg("--cwd")
        .arg(&cwd)
        .env("CLAUDE_COMMAND", &child)
        .env("CACHE_KEY", "session")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let run_id = run_id_from(&stderr);
    let run = serde_json::to_string(&gw.admin_get(&format!("/api/runs/{run_id}")).await).unwrap();
    assert!(!run.contains("Hunter2hunter") && !run.contains(gh), "{run}");
    assert!(run.contains("deploy password=[REDACTED]"), "{run}");

    let events = gw.events(&run_id).await;
    let stored = serde_json::to_string(&events).unwrap();
    assert!(!stored.contains("S3cretPass99"), "{stored}");
    assert!(
        stored.contains("4f1c2a3b-1d2e-4f5a-8b9c-0d1e2f3a4b5c"),
        "session id kept"
    );
    assert!(stored.contains("session ready"), "{stored}");
    let skipped = events
        .iter()
        .find(|e| e.data["event"] == "redaction_skipped")
        .expect("a redaction_skipped marker");
    assert_eq!(skipped.data["names"], serde_json::json!(["CACHE_KEY"]));
    assert!(
        stored.contains("CACHE_KEY hold"),
        "an info names it: {stored}"
    );
    let counts = events
        .iter()
        .find(|e| e.data["event"] == "redactions")
        .map(|e| e.data["counts"].clone())
        .expect("a redactions marker");
    assert!(counts["password"].as_u64() >= Some(1), "{counts}");
    assert!(counts["learned_value"].as_u64() >= Some(1), "{counts}");

    // Every file the gateway and the runner wrote: database, WAL, artifacts, spool, claude.log
    // (the test's own script excepted).
    for (path, bytes) in files_under(&gw.dir) {
        if path.ends_with("learner") {
            continue;
        }
        for secret in ["S3cretPass99", "Hunter2hunter", gh] {
            assert!(!has(&bytes, secret), "{secret} in {path}");
        }
    }
}
