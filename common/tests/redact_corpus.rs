//! Corpus tests for the redactor: every rule family's samples are caught plain, JSON-escaped and
//! split at every offset; benign text (this repository's own source, typical tool output) is left
//! alone except for the documented false positives in `data/accepted_false_positives.txt`.

use common::redact::{DEFAULT_CONFIG, REDACTED, Redactor, Rules};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

mod support;
use support::base64_no_pad;

const PRIVATE_KEY: &str = "-----BEGIN RSA PRIVATE KEY-----\n\
MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\n\
VTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK\n\
LxoS2tFczGkPLPgizskuemMghRniWaoLcyehkd3qqGElvW/VDL5AaWTg0nLVkjRo\n\
-----END RSA PRIVATE KEY-----\n";

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn rules() -> Arc<Rules> {
    Arc::new(Rules::from_config(DEFAULT_CONFIG, &BTreeMap::new(), Vec::new()).unwrap())
}

fn redact_chunks(rules: &Arc<Rules>, chunks: &[&[u8]]) -> (String, BTreeMap<String, u64>) {
    let mut r = Redactor::new(Arc::clone(rules));
    let mut out = Vec::new();
    for c in chunks {
        r.push(c, &mut out);
    }
    r.finish(&mut out);
    (
        String::from_utf8_lossy(&out).into_owned(),
        r.counts().clone(),
    )
}

/// `(rule, secret, line)` rows of `data/secrets.tsv`.
fn samples() -> Vec<(String, String, String)> {
    let text = std::fs::read_to_string(data("secrets.tsv")).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let mut f = l.splitn(3, '\t');
            let mut next = || f.next().expect("three tab-separated fields").to_string();
            (next(), next(), next())
        })
        .collect()
}

/// The line as Claude's stream-json would carry it: inside a JSON-escaped string.
fn stream_json(line: &str) -> String {
    let text = serde_json::to_string(&format!("I ran it:\n{line}\nDone.")).unwrap();
    format!(r#"{{"type":"assistant","message":{{"content":[{{"type":"text","text":{text}}}]}}}}"#)
        + "\n"
}

fn assert_clean(out: &str, secret: &str, what: &str) {
    let escaped = serde_json::to_string(secret).unwrap();
    let escaped = &escaped[1..escaped.len() - 1];
    assert!(
        !out.contains(secret) && !out.contains(escaped),
        "{what}: secret survives in {out:?}"
    );
    assert!(
        out.contains(REDACTED),
        "{what}: nothing redacted in {out:?}"
    );
}

#[test]
fn every_family_is_redacted_plain_json_and_split_anywhere() {
    let rules = rules();
    let rows = samples();
    let families: std::collections::BTreeSet<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert!(families.len() >= 25, "corpus covers only {families:?}");
    let mut miscounted = Vec::new();
    for (rule, _, line) in &rows {
        let plain = format!("{line}\n");
        let (_, counts) = redact_chunks(&rules, &[plain.as_bytes()]);
        if !counts.contains_key(rule) {
            miscounted.push(format!("{rule}: counted as {counts:?} for {line:?}"));
        }
    }
    assert!(miscounted.is_empty(), "{}", miscounted.join("\n"));
    for (rule, secret, line) in &rows {
        let plain = format!("{line}\n");
        let (out, _) = redact_chunks(&rules, &[plain.as_bytes()]);
        assert_clean(&out, secret, &format!("{rule} plain"));
        let json = stream_json(line);
        for text in [&plain, &json] {
            let bytes = text.as_bytes();
            for cut in 0..=bytes.len() {
                let (out, _) = redact_chunks(&rules, &[&bytes[..cut], &bytes[cut..]]);
                assert_clean(&out, secret, &format!("{rule} cut at {cut} of {text:?}"));
            }
        }
    }
}

#[test]
fn private_key_blocks_are_replaced_whole_in_any_chunking() {
    let rules = rules();
    let text = format!("key follows\n{PRIVATE_KEY}after\n");
    let body_lines: Vec<&str> = PRIVATE_KEY.lines().collect();
    let check = |out: &str, what: &str| {
        for l in &body_lines {
            assert!(!out.contains(l), "{what}: {l:?} survives in {out:?}");
        }
        assert!(
            out.starts_with("key follows\n") && out.ends_with("after\n"),
            "{what}: {out:?}"
        );
    };
    let bytes = text.as_bytes();
    for size in [1, 2, 3, 7, 16, 64, 65, 1000] {
        let chunks: Vec<&[u8]> = bytes.chunks(size).collect();
        let (out, counts) = redact_chunks(&rules, &chunks);
        check(&out, &format!("chunks of {size}"));
        assert_eq!(counts.get("private_key"), Some(&1), "chunks of {size}");
    }
    // Inside stream-json, `\n` escapes and all, cut anywhere.
    let json = stream_json(PRIVATE_KEY.trim_end());
    let jb = json.as_bytes();
    for cut in 0..=jb.len() {
        let (out, _) = redact_chunks(&rules, &[&jb[..cut], &jb[cut..]]);
        for l in &body_lines {
            assert!(
                !out.contains(l),
                "json cut at {cut}: {l:?} survives in {out:?}"
            );
        }
        assert!(
            out.ends_with("}]}}\n"),
            "json cut at {cut}: the line's end is kept: {out:?}"
        );
    }
}

#[test]
fn known_values_in_every_encoding() {
    let env = BTreeMap::from([
        ("FOO_TOKEN".to_string(), "foo-token-Value/42".to_string()),
        ("PATH".to_string(), "/usr/bin:/bin".to_string()),
    ]);
    let rules = Arc::new(
        Rules::from_config(DEFAULT_CONFIG, &env, vec!["hmac-Secret+0123456789".into()]).unwrap(),
    );
    for value in ["foo-token-Value/42", "hmac-Secret+0123456789"] {
        let url: String = value
            .bytes()
            .map(|b| match b {
                b'/' => "%2F".to_string(),
                b'+' => "%2B".to_string(),
                _ => (b as char).to_string(),
            })
            .collect();
        let mut forms = vec![value.to_string(), url];
        for prefix in ["", "a", "ab"] {
            forms.push(base64_no_pad(
                format!("{prefix}{value} trailing").as_bytes(),
            ));
        }
        for form in forms {
            let line = format!("echo {form} done\n");
            let (out, counts) = redact_chunks(&rules, &[line.as_bytes()]);
            assert!(!out.contains(&form), "{form:?} survives in {out:?}");
            assert!(counts.contains_key("known_value"), "{form:?}: {counts:?}");
        }
    }
    let (out, _) = redact_chunks(&rules, &[b"PATH=/usr/bin:/bin\n"]);
    assert_eq!(
        out, "PATH=/usr/bin:/bin\n",
        "other variables are not secrets"
    );
}

/// Files of the repository that hold no deliberate secrets: sources, manifests, docs.
fn repository_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let mut files = Vec::new();
    let mut dirs = vec![root.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            if p.is_dir() {
                // Test trees, the redactor's own unit tests and its bench plant fake secrets on
                // purpose; build output is not source.
                let skip = [
                    "target",
                    "tests",
                    "data",
                    "node_modules",
                    "redact",
                    "benches",
                ];
                if !name.starts_with('.') && !skip.contains(&name.as_str()) {
                    dirs.push(p);
                }
            } else if [
                ".rs", ".toml", ".md", ".rules", ".sh", ".js", ".html", ".css",
            ]
            .iter()
            .any(|x| name.ends_with(x))
            {
                files.push(p);
            }
        }
    }
    files.sort();
    files
}

#[test]
fn benign_text_is_left_alone_but_for_accepted_false_positives() {
    let rules = rules();
    let accepted_text = std::fs::read_to_string(data("accepted_false_positives.txt")).unwrap();
    let accepted: Vec<&str> = accepted_text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .collect();
    let mut files = repository_files();
    assert!(
        files.iter().any(|f| f.ends_with("common/src/sign.rs")),
        "walk found {files:?}"
    );
    files.push(data("benign.log"));
    let mut unexpected = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let bytes = text.as_bytes();
        // Odd-sized chunks, so lines are also split across pushes.
        let chunks: Vec<&[u8]> = bytes.chunks(997).collect();
        let (out, _) = redact_chunks(&rules, &chunks);
        if out == text {
            continue;
        }
        let (ins, outs): (Vec<&str>, Vec<&str>) = (text.lines().collect(), out.lines().collect());
        assert_eq!(ins.len(), outs.len(), "{}: lines were lost", file.display());
        for (a, b) in ins.iter().zip(&outs) {
            if a != b && !accepted.iter().any(|acc| a.contains(acc)) {
                unexpected.push(format!("{}: {a:?} -> {b:?}", file.display()));
            }
        }
    }
    assert!(
        unexpected.is_empty(),
        "unexpected redactions:\n{}",
        unexpected.join("\n")
    );
}

/// Token lengths are open-ended: a token longer than any cap a shape might have had (and a
/// `name=value` value of kilobytes) is replaced whole, with nothing of it left over.
#[test]
fn long_tokens_are_replaced_whole() {
    let rules = rules();
    let body: String = (0..3000)
        .map(|i| (b'a' + (i * 7 % 26) as u8) as char)
        .collect();
    for (prefix, rule) in [
        (format!("gh{}_", 'p'), "github"),
        (format!("Authorization: Bear{} ", "er"), "authorization"),
        ("api_to".to_string() + "ken=", "token"),
    ] {
        let line = format!("before {prefix}{body} after\n");
        let (out, counts) = redact_chunks(&rules, &[line.as_bytes()]);
        assert!(!out.contains(&body[..40]), "{rule}: {out:.200}");
        assert!(
            out.ends_with(&format!("{REDACTED} after\n")),
            "{rule}: {out:.200}"
        );
        assert_eq!(counts.values().sum::<u64>(), 1, "{rule}: {counts:?}");
    }
}

/// Real developer output (`data/benign_dev.log`: git log and diff, cargo, npm, pytest, docker,
/// Claude stream-json with session ids, UUIDs, hashes, integrity strings, a base64 image, prose
/// and code about tokens and passwords) and `data/benign.log` pass through unchanged, with short
/// secret-named variables such as `CACHE_KEY=session` set, whole or cut into small chunks.
#[test]
fn developer_output_is_unchanged_even_with_short_secret_values_set() {
    let env: BTreeMap<String, String> = [
        ("CACHE_KEY", "session"),
        ("AUTH_MODE", "token"),
        ("DB_PASS", "dev"),
        ("PWD", "/home/dev/project"),
        ("TOKENIZERS_PARALLELISM", "false"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let rules = Arc::new(Rules::from_config(DEFAULT_CONFIG, &env, Vec::new()).unwrap());
    // `AUTH_MODE` names how one signs in, not a secret: it is not looked for at all.
    assert_eq!(rules.too_short(), ["CACHE_KEY", "DB_PASS"]);
    let mut lines = 0;
    for name in ["benign_dev.log", "benign.log"] {
        let text = std::fs::read_to_string(data(name)).unwrap();
        lines += text.lines().count();
        for size in [text.len(), 61] {
            let chunks: Vec<&[u8]> = text.as_bytes().chunks(size).collect();
            let (out, counts) = redact_chunks(&rules, &chunks);
            for (a, b) in text.lines().zip(out.lines()) {
                assert_eq!(a, b, "{name}, chunks of {size}");
            }
            assert_eq!(out, text, "{name}: {counts:?}");
        }
    }
    assert!(lines >= 300, "{lines} lines");
}
