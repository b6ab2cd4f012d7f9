//! Secrets printed by the child never reach the gateway or `claude.log`: the runner's own HMAC
//! secret, an exported `*_TOKEN`, well-known token shapes, and a private key split across writes.

use e2e::{Gateway, files_under, run_id_from, runner, script};

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

/// `(family, secret, line)` rows of the family corpus (`common/tests/data/families.tsv`); `\n`
/// in a line stands for a line break.
fn family_rows() -> Vec<(String, String, String)> {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../common/tests/data/families.tsv");
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.splitn(3, '\t').collect();
            (f[0].into(), f[1].into(), f[2].replace("\\n", "\n"))
        })
        .collect()
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

fn url_encoded(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn base64_of(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes)
}

/// `s` percent-encoded but for letters and digits (`-`, `_` and `.` too, so no token keeps its
/// shape), as a query string or form body built from it carries it.
fn percent_all(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// `b` with its percent escapes decoded.
fn percent_decoded(b: &[u8]) -> Vec<u8> {
    let hex = |c: u8| (c as char).to_digit(16);
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && let (Some(h), Some(l)) = (
                b.get(i + 1).and_then(|&c| hex(c)),
                b.get(i + 2).and_then(|&c| hex(c)),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

/// What the child prints for the corpus, as files it writes in order: `(file, to stderr, one
/// byte per write)`. Every row appears first encoded (`encoded.out`: percent-encoded in a query
/// string and in base64, every other row taking the base64 form first, so each encoding is a
/// first appearance for half the rows, nothing having taught the secret before), then in
/// context on stderr, then in every presentation
/// on stdout: cut into single-byte writes, split by colour codes, inside Claude stream-json
/// (JSON-escaped one to three times), in XML and YAML, deep in one line over 64 KiB, and later
/// bare, URL-encoded, base64-encoded and bare split by a colour code.
fn corpus_files(rows: &[(String, String, String)]) -> Vec<(&'static str, String, bool, bool)> {
    let plain: String = rows.iter().map(|(_, _, l)| format!("{l}\n")).collect();
    let mut ansi = String::new();
    let mut json = String::from(
        "{\"type\":\"system\",\"subtype\":\"init\",\"session_id\":\"4f1c2a3b-1d2e-4f5a-8b9c-0d1e2f3a4b5c\",\"model\":\"claude-test\",\"cwd\":\"/w\",\"tools\":[]}\n",
    );
    let mut markup = String::new();
    let mut long = "x".repeat(50 * 1024);
    let mut later = String::new();
    let mut encoded = String::new();
    for (i, (_, secret, line)) in rows.iter().enumerate() {
        let query = format!("GET /cb?state=x&q={}&page=2\n", percent_all(line));
        let b64 = format!("  config: {}\n", base64_of(line.as_bytes()));
        if i % 2 == 0 {
            encoded.push_str(&format!("{query}{b64}"));
        } else {
            encoded.push_str(&format!("{b64}{query}"));
        }
        let mid = secret.len() / 2;
        let split = format!("{}\x1b[1;31m{}\x1b[0m", &secret[..mid], &secret[mid..]);
        ansi.push_str(&line.replacen(secret.as_str(), &split, 1));
        ansi.push('\n');
        json.push_str(&format!(
            "{{\"type\":\"assistant\",\"message\":{{\"id\":\"msg_{i}\",\"role\":\"assistant\",\"content\":[{{\"type\":\"text\",\"text\":{}}}]}}}}\n",
            json_str(&format!("Found this:\n{line}\n"))
        ));
        json.push_str(&format!(
            "{{\"type\":\"user\",\"message\":{{\"role\":\"user\",\"content\":[{{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_{i}\",\"content\":{}}}]}}}}\n",
            json_str(&json_str(&format!("$ run\n{line}\n")))
        ));
        let three = json_str(&json_str(&json_str(&format!("$ run\n{line}\n"))));
        json.push_str(&format!("{{\"type\":\"user\",\"content\":{three}}}\n"));
        markup.push_str(&format!("<entry><value>{line}</value></entry>\n"));
        match line.split_once('=') {
            Some((k, v)) if !k.contains(' ') && !line.contains('\n') => {
                markup.push_str(&format!("env:\n  {k}: \"{}\"\n", v.trim_matches('"')))
            }
            _ => markup.push_str(&format!("log: |\n  {}\n", line.replace('\n', "\n  "))),
        }
        if !line.contains('\n') {
            long.push_str(&format!(" {line} {}", "y".repeat(200)));
        }
        later.push_str(&format!(
            "echo {secret}\nGET /x?v={}\ndata {}\n{}\x1b[0m{}\n",
            url_encoded(secret),
            base64_of(format!("k={secret};").as_bytes()),
            &secret[..mid],
            &secret[mid..]
        ));
    }
    long.push('\n');
    vec![
        ("encoded.out", encoded, false, false),
        ("first.err", plain.clone(), true, false),
        ("bytes.out", plain, false, true),
        ("ansi.out", ansi, false, false),
        ("json.out", json, false, false),
        ("markup.out", markup, false, false),
        ("long.out", long, false, false),
        ("later.out", later, false, false),
    ]
}

/// GET `path` as the admin, the body as bytes.
async fn admin_bytes(gw: &Gateway, path: &str) -> Vec<u8> {
    let resp = gw
        .client()
        .get(format!("{}{path}", gw.url))
        .bearer_auth(&gw.admin_token)
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "GET {path}: {}", resp.status());
    resp.bytes().await.unwrap().to_vec()
}

/// Every token family of the corpus in every presentation, through the real runner and
/// gateway: no 12-byte piece of any secret, and no base64 copy, in any sink — the runner's
/// terminal, its data directory (spool, `claude.log`, outbox), the gateway's data directory
/// (database file, WAL, stored artifacts), the events API, the live stream (SSE), the run, the
/// transcript and both its exports, and every artifact.
#[tokio::test]
async fn every_family_in_every_presentation_reaches_no_sink() {
    let rows = family_rows();
    let families: std::collections::BTreeSet<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert!(families.len() >= 150, "{} families", families.len());
    let dir = tempfile::tempdir().unwrap();
    let inputs = tempfile::tempdir().unwrap();
    let gw = Gateway::start(dir.path());
    let mut body = String::new();
    for (name, text, stderr, bytewise) in corpus_files(&rows) {
        let path = inputs.path().join(name);
        std::fs::write(&path, text).unwrap();
        let p = path.display();
        body.push_str(&match (stderr, bytewise) {
            (true, _) => format!("cat '{p}' >&2\n"),
            (false, true) => format!("dd if='{p}' bs=1 status=none\n"),
            (false, false) => format!("cat '{p}'\n"),
        });
    }
    body.push_str("echo corpus-done\nexit 0\n");
    let child = script(&inputs.path().join("corpus"), &body);
    let started = std::time::Instant::now();
    let out = runner(dir.path())
        .arg("--env-file")
        .arg(&gw.runner_env)
        .args([
            "start",
            "--name",
            "family corpus",
            "--cmd",
            "print every family",
        ])
        .env("CLAUDE_COMMAND", &child)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr:.2000}");
    let run_id = run_id_from(&stderr);
    eprintln!("run {run_id} done after {:?}", started.elapsed());

    let mut sinks: Vec<(String, Vec<u8>)> = vec![
        ("the runner's stdout".into(), out.stdout.clone()),
        ("the runner's stderr".into(), out.stderr.clone()),
    ];
    let events = gw.events(&run_id).await;
    assert!(
        serde_json::to_string(&events)
            .unwrap()
            .contains("corpus-done"),
        "the whole corpus arrived"
    );
    sinks.push((
        "the events API".into(),
        serde_json::to_vec(&events).unwrap(),
    ));
    for path in [
        format!("/api/runs/{run_id}"),
        format!("/api/runs/{run_id}/stream"),
        format!("/api/runs/{run_id}/transcript"),
        format!("/api/runs/{run_id}/transcript.md"),
        format!("/api/runs/{run_id}/transcript.json"),
    ] {
        let bytes = admin_bytes(&gw, &path).await;
        sinks.push((path, bytes));
    }
    let transcript = &sinks.last().unwrap().1;
    assert!(
        has(transcript, "Found this:"),
        "the transcript holds the stream-json answers"
    );
    let stream = &sinks[sinks.len() - 4].1;
    assert!(has(stream, "corpus-done"), "the stream replayed the run");
    let artifacts = gw.admin_get(&format!("/api/runs/{run_id}/artifacts")).await;
    let names: Vec<String> = artifacts
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap().to_string())
        .collect();
    assert!(names.iter().any(|n| n == "claude.log"), "{names:?}");
    for name in names {
        let bytes = admin_bytes(&gw, &format!("/api/runs/{run_id}/artifacts/{name}")).await;
        sinks.push((format!("artifact {name}"), bytes));
    }
    // The gateway's data directory (database, WAL, artifacts) and the runner's (spool,
    // claude.log, outbox): the child's inputs live elsewhere.
    sinks.extend(files_under(dir.path()));
    assert!(
        sinks.iter().any(|(p, _)| p.ends_with("-wal")),
        "the WAL is among the files: {:?}",
        sinks.iter().map(|s| &s.0).collect::<Vec<_>>()
    );

    // Every 12-byte piece of every secret, and a base64 piece of each, searched at once. A
    // piece that says nothing about the secret is left out: one the corpus prints outside the
    // secrets (the public prefix `access_token$` names the context of other rows), or one of
    // fewer than four distinct bytes (`AAAAAAAAAAAA` is in every PEM certificate too).
    let context: String = rows
        .iter()
        .map(|(_, secret, line)| line.replace(secret.as_str(), "\n"))
        .collect();

    let mut pieces: Vec<Vec<u8>> = Vec::new();
    let mut owner: Vec<(usize, &str)> = Vec::new();
    let mut left_out = 0;
    for (i, (_, secret, _)) in rows.iter().enumerate() {
        let s = secret.as_bytes();
        let w = 12.min(s.len());
        for k in 0..=s.len() - w {
            let piece = &s[k..k + w];
            let distinct: std::collections::BTreeSet<&u8> = piece.iter().collect();
            if distinct.len() < 4 || has(context.as_bytes(), &String::from_utf8_lossy(piece)) {
                left_out += 1;
                continue;
            }
            pieces.push(piece.to_vec());
            owner.push((i, "piece"));
        }
        let b64 = base64_of(format!("k={secret};").as_bytes());
        pieces.push(b64.as_bytes()[4..b64.len().min(24)].to_vec());
        owner.push((i, "base64 piece"));
    }
    assert!(
        left_out * 50 < pieces.len(),
        "{left_out} pieces left out of {}",
        pieces.len()
    );
    let finder = aho_corasick::AhoCorasick::new(&pieces).unwrap();
    let mut leaks = Vec::new();
    for (place, bytes) in &sinks {
        // What a reader sees: colour codes (raw or JSON-escaped) do not hide a piece.
        let visible = String::from_utf8_lossy(bytes)
            .replace("\\u001b[1;31m", "")
            .replace("\\u001b[0m", "")
            .replace("\x1b[1;31m", "")
            .replace("\x1b[0m", "");
        // And what a reader who decodes its percent escapes sees.
        let decoded = percent_decoded(visible.as_bytes());
        let mut seen = std::collections::BTreeSet::new();
        for (how, text) in [
            ("", visible.as_bytes()),
            (" (percent-decoded)", &decoded[..]),
        ] {
            for m in finder.find_overlapping_iter(text) {
                let (row, what) = owner[m.pattern().as_usize()];
                if seen.insert(row) {
                    let piece = String::from_utf8_lossy(&pieces[m.pattern().as_usize()]);
                    leaks.push(format!("{}: {what} {piece:?} in {place}{how}", rows[row].0));
                }
            }
        }
    }
    assert!(
        leaks.is_empty(),
        "{} leaks over {} sinks:\n{}",
        leaks.len(),
        sinks.len(),
        leaks.join("\n")
    );
    eprintln!(
        "{} sinks checked after {:?}",
        sinks.len(),
        started.elapsed()
    );
}
