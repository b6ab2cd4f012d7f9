//! The family corpus: one or more samples of every token family (`data/families.tsv`, 200+
//! families), each in every presentation a secret takes in real output — plain, cut into single
//! bytes, split by a terminal escape, deep in a line over 64 KiB, JSON-escaped one to three
//! times, in XML and YAML, and later bare, URL-encoded and base64-encoded after a first
//! appearance in context. No presentation may leak the secret or any 12-byte piece of it.

use common::redact::{DEFAULT_CONFIG, Redactor, Rules};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

mod support;
use support::{base64_no_pad, family_rows, url_encoded};

fn fresh_rules() -> Arc<Rules> {
    Arc::new(Rules::from_config(DEFAULT_CONFIG, &BTreeMap::new(), Vec::new()).unwrap())
}

/// Feed `parts` one after the other through one redactor, each cut into `chunk`-byte pushes.
fn run(rules: &Arc<Rules>, parts: &[Vec<u8>], chunk: usize) -> Vec<u8> {
    let mut r = Redactor::new(Arc::clone(rules));
    let mut out = Vec::new();
    for p in parts {
        for c in p.chunks(chunk.max(1)) {
            r.push(c, &mut out);
        }
    }
    r.finish(&mut out);
    out
}

/// The first 12-byte piece of `secret` found in `out` (or the secret, if shorter).
fn leak(out: &[u8], secret: &str) -> Option<String> {
    let s = secret.as_bytes();
    let w = 12.min(s.len());
    (0..=s.len() - w)
        .map(|i| &s[i..i + w])
        .find(|win| out.windows(w).any(|o| o == *win))
        .map(|win| String::from_utf8_lossy(win).into_owned())
}

fn json(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

/// The presentations of one row: `(name, parts fed in order, chunk size)`.
fn presentations(secret: &str, line: &str) -> Vec<(&'static str, Vec<Vec<u8>>, usize)> {
    let plain = format!("{line}\n");
    let mid = secret.len() / 2;
    let split = line.replacen(
        secret,
        &format!("{}\x1b[1;31m{}\x1b[0m", &secret[..mid], &secret[mid..]),
        1,
    );
    let mut long = "x".repeat(70 * 1024);
    long.push(' ');
    long.push_str(line);
    long.push_str(" tail\n");
    let mut nested = line.to_string();
    let mut jsons = Vec::new();
    for _ in 0..3 {
        nested = json(&format!("$ run\n{nested}\n"));
        jsons.push(format!("{{\"type\":\"user\",\"content\":{nested}}}\n"));
    }
    let yaml = match line.split_once('=') {
        Some((k, v)) if !k.contains(' ') && !line.contains('\n') => {
            format!("env:\n  {k}: \"{}\"\n", v.trim_matches('"'))
        }
        _ => format!("log: |\n  {}\n", line.replace('\n', "\n  ")),
    };
    let xml = format!("<entry><value>{line}</value></entry>\n");
    let first = plain.clone().into_bytes();
    let mut out = vec![
        ("plain", vec![first.clone()], 1 << 16),
        ("byte-split", vec![first.clone()], 1),
        ("ansi-split", vec![format!("{split}\n").into_bytes()], 7),
        ("long-line", vec![long.into_bytes()], 4096),
        ("xml", vec![xml.into_bytes()], 1 << 16),
        ("yaml", vec![yaml.into_bytes()], 1 << 16),
    ];
    for (i, j) in jsons.into_iter().enumerate() {
        out.push((["json-1", "json-2", "json-3"][i], vec![j.into_bytes()], 13));
    }
    for (name, later) in [
        ("bare-repeat", format!("echo {secret}\n")),
        ("url-encoded", format!("GET /x?v={}\n", url_encoded(secret))),
        (
            "base64",
            format!(
                "data {}\n",
                base64_no_pad(format!("k={secret};").as_bytes())
            ),
        ),
        (
            "ansi-repeat",
            format!("{}\x1b[0m{}\n", &secret[..mid], &secret[mid..]),
        ),
    ] {
        out.push((name, vec![first.clone(), later.into_bytes()], 1 << 16));
    }
    out
}

#[test]
fn every_family_in_every_presentation() {
    let rows = family_rows();
    let families: BTreeSet<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    assert!(families.len() >= 150, "{} families", families.len());
    let mut leaks = Vec::new();
    let mut cases = 0;
    for (family, secret, line) in &rows {
        for (name, parts, chunk) in presentations(secret, line) {
            // A fresh rule set per case: what one case learns must not help another.
            let out = run(&fresh_rules(), &parts, chunk);
            let visible = String::from_utf8_lossy(&out)
                .replace("\x1b[1;31m", "")
                .replace("\x1b[0m", "");
            cases += 1;
            if let Some(piece) = leak(&out, secret).or_else(|| leak(visible.as_bytes(), secret)) {
                leaks.push(format!(
                    "{family} {name}: {piece:?} in {:.300}",
                    String::from_utf8_lossy(&out)
                ));
            }
        }
    }
    assert!(
        leaks.is_empty(),
        "{} of {cases} cases leak:\n{}",
        leaks.len(),
        leaks.join("\n")
    );
}

/// Every family is counted under its own name (counts are per rule).
#[test]
fn every_family_counts_under_its_name() {
    let rules = fresh_rules();
    let mut wrong = Vec::new();
    for (family, _, line) in family_rows() {
        let mut r = Redactor::new(Arc::clone(&rules));
        let mut out = Vec::new();
        r.push(format!("{line}\n").as_bytes(), &mut out);
        r.finish(&mut out);
        if !r.counts().contains_key(&family) {
            wrong.push(format!("{family}: {:?} for {line:?}", r.counts()));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
