//! The secret redactor: every byte the runner prints, stores or sends passes through here first.
//!
//! [`Redactor`] is streaming: feed it chunks as they arrive, get back only bytes that are safe to
//! emit, and call [`Redactor::finish`] at the end. Output is held back to the end of a line (or
//! [`MAX_PENDING`] bytes for a line without end), so a secret split across chunks is still seen
//! whole. Each match becomes [`REDACTED`]; [`Redactor::counts`] tells how often each rule fired.

use regex::bytes::Regex;
use std::collections::BTreeMap;
use std::sync::Arc;

/// What a secret is replaced with.
pub const REDACTED: &str = "[REDACTED]";
/// Longest stretch without a newline held back before it is redacted and released anyway.
pub const MAX_PENDING: usize = 64 * 1024;

/// One pattern rule. If the regex has a group named `secret`, only that group is replaced (so
/// `api_key=` stays readable); otherwise the whole match is.
#[derive(Debug)]
struct PatternRule {
    name: String,
    regex: Regex,
}

/// A compiled rule set, shared by all redactors of a process.
#[derive(Debug)]
pub struct Rules {
    patterns: Vec<PatternRule>,
    known: Vec<Vec<u8>>,
}

/// A rule that failed to compile.
#[derive(Debug, thiserror::Error)]
#[error("redaction rule {name:?}: {source}")]
pub struct RuleError {
    pub name: String,
    #[source]
    pub source: regex::Error,
}

/// The built-in pattern rules: `(name, regex)`.
const SEED_RULES: &[(&str, &str)] = &[
    ("private_key", r"-----BEGIN[ A-Z0-9]*PRIVATE KEY-----"),
    (
        "api_key",
        r#"(?i)\bapi[_-]?key["']?\s*[:=]\s*["']?(?P<secret>[^\s"',;&]+)"#,
    ),
    (
        "token",
        r#"(?i)\b(?:access_|auth_)?token["']?\s*[:=]\s*["']?(?P<secret>[^\s"',;&]+)"#,
    ),
    (
        "password",
        r#"(?i)\bpass(?:word|wd)["']?\s*[:=]\s*["']?(?P<secret>[^\s"',;&]+)"#,
    ),
    (
        "bearer",
        r"(?i)\bbearer\s+(?P<secret>[A-Za-z0-9._~+/=-]{8,})",
    ),
    ("sk", r"\bsk-[A-Za-z0-9_-]{16,}"),
    ("github", r"\bgh[ps]_[A-Za-z0-9]{30,}"),
    ("npm", r"\bnpm_[A-Za-z0-9]{30,}"),
];

impl Rules {
    /// The built-in rules with no known values.
    pub fn seed() -> Self {
        Self::new(&[], Vec::new()).expect("built-in rules compile")
    }

    /// The built-in rules, plus `extra` `(name, regex)` patterns and known secret values
    /// (values shorter than 6 bytes are ignored: they would redact ordinary words).
    pub fn new(extra: &[(String, String)], known: Vec<String>) -> Result<Self, RuleError> {
        let mut patterns = Vec::new();
        let builtin = SEED_RULES
            .iter()
            .map(|(n, r)| (n.to_string(), r.to_string()));
        for (name, re) in builtin.chain(extra.iter().cloned()) {
            let regex = Regex::new(&re).map_err(|source| RuleError {
                name: name.clone(),
                source,
            })?;
            patterns.push(PatternRule { name, regex });
        }
        let mut known: Vec<Vec<u8>> = known
            .into_iter()
            .filter(|v| v.len() >= 6)
            .map(String::into_bytes)
            .collect();
        // Longest first, so a value that contains another is replaced whole.
        known.sort_by_key(|v| std::cmp::Reverse(v.len()));
        known.dedup();
        Ok(Self { patterns, known })
    }

    /// Redact one complete piece of text (no streaming), counting into `counts`.
    fn redact_line(&self, line: &[u8], counts: &mut BTreeMap<String, u64>) -> Vec<u8> {
        let mut cur = line.to_vec();
        for value in &self.known {
            let mut hits = 0;
            cur = replace_all_bytes(&cur, value, &mut hits);
            if hits > 0 {
                *counts.entry("known_value".into()).or_default() += hits;
            }
        }
        for rule in &self.patterns {
            if !rule.regex.is_match(&cur) {
                continue;
            }
            let mut out = Vec::with_capacity(cur.len());
            let mut last = 0;
            let mut hits = 0;
            for caps in rule.regex.captures_iter(&cur) {
                let m = caps
                    .name("secret")
                    .unwrap_or_else(|| caps.get(0).expect("group 0"));
                out.extend_from_slice(&cur[last..m.start()]);
                out.extend_from_slice(REDACTED.as_bytes());
                last = m.end();
                hits += 1;
            }
            out.extend_from_slice(&cur[last..]);
            cur = out;
            *counts.entry(rule.name.clone()).or_default() += hits;
        }
        cur
    }
}

fn replace_all_bytes(hay: &[u8], needle: &[u8], hits: &mut u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(hay.len());
    let mut i = 0;
    while i < hay.len() {
        if hay[i..].starts_with(needle) {
            out.extend_from_slice(REDACTED.as_bytes());
            i += needle.len();
            *hits += 1;
        } else {
            out.push(hay[i]);
            i += 1;
        }
    }
    out
}

/// Redact a whole text at once.
pub fn redact_text(rules: &Arc<Rules>, text: &str) -> String {
    let mut r = Redactor::new(Arc::clone(rules));
    let mut out = Vec::new();
    r.push(text.as_bytes(), &mut out);
    r.finish(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// A streaming redactor for one byte stream (one per stdout, stderr, file, …).
#[derive(Debug)]
pub struct Redactor {
    rules: Arc<Rules>,
    pending: Vec<u8>,
    in_private_key: bool,
    counts: BTreeMap<String, u64>,
}

impl Redactor {
    pub fn new(rules: Arc<Rules>) -> Self {
        Self {
            rules,
            pending: Vec::new(),
            in_private_key: false,
            counts: BTreeMap::new(),
        }
    }

    /// Feed a chunk; append the bytes that are now safe to emit to `out`.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        self.pending.extend_from_slice(chunk);
        let end = match memrchr(b'\n', &self.pending) {
            Some(p) => p + 1,
            None if self.pending.len() >= MAX_PENDING => self.pending.len(),
            None => return,
        };
        let ready: Vec<u8> = self.pending.drain(..end).collect();
        self.emit_lines(&ready, out);
    }

    /// End of stream: release what is held back, redacted.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        let rest = std::mem::take(&mut self.pending);
        self.emit_lines(&rest, out);
        if self.in_private_key {
            // An unterminated key block is still a key.
            self.in_private_key = false;
        }
    }

    /// How many times each rule fired so far (counts only, never values).
    pub fn counts(&self) -> &BTreeMap<String, u64> {
        &self.counts
    }

    fn emit_lines(&mut self, text: &[u8], out: &mut Vec<u8>) {
        for line in text.split_inclusive(|&b| b == b'\n') {
            if self.in_private_key {
                if contains(line, b"-----END") && contains(line, b"PRIVATE KEY-----") {
                    self.in_private_key = false;
                }
                continue;
            }
            let mut counts = std::mem::take(&mut self.counts);
            let red = self.rules.redact_line(line, &mut counts);
            self.counts = counts;
            // A key block starts: keep what came before it, drop the rest until its end line.
            if let Some(p) = find(line, b"-----BEGIN") {
                if contains(&line[p..], b"PRIVATE KEY-----")
                    && !(contains(&line[p..], b"-----END") && line[p..].ends_with(b"-----\n"))
                {
                    self.in_private_key = !contains(&line[p + 10..], b"-----END");
                }
            }
            out.extend_from_slice(&red);
        }
    }
}

fn memrchr(b: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().rposition(|&x| x == b)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    find(hay, needle).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn red(text: &str) -> String {
        redact_text(&Arc::new(Rules::seed()), text)
    }

    #[test]
    fn seed_rules() {
        let cases = [
            ("api_key=abc123xyz", "api_key=[REDACTED]"),
            ("apiKey: \"abc123xyz\"", "apiKey: \"[REDACTED]\""),
            ("url?token=s3cr3tvalue&x=1", "url?token=[REDACTED]&x=1"),
            (
                "Authorization: Bearer abcdefghijkl",
                "Authorization: Bearer [REDACTED]",
            ),
            ("password=hunter22", "password=[REDACTED]"),
            ("key sk-abcdefghijklmnopqrstuv end", "key [REDACTED] end"),
            ("ghp_abcdefghijklmnopqrstuvwxyz0123456789", "[REDACTED]"),
            ("ghs_abcdefghijklmnopqrstuvwxyz0123456789", "[REDACTED]"),
            ("npm_abcdefghijklmnopqrstuvwxyz0123456789", "[REDACTED]"),
            ("nothing to see here", "nothing to see here"),
        ];
        for (input, want) in cases {
            assert_eq!(red(input), want, "input {input:?}");
        }
    }

    #[test]
    fn private_key_block_is_replaced() {
        let text = "before\n-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nAAAA\n-----END RSA PRIVATE KEY-----\nafter\n";
        let out = red(text);
        assert_eq!(out, "before\n[REDACTED]\nafter\n");
    }

    #[test]
    fn split_chunks_are_joined_before_matching() {
        let rules = Arc::new(Rules::new(&[], vec!["topsecretvalue".into()]).unwrap());
        let mut r = Redactor::new(rules);
        let mut out = Vec::new();
        r.push(b"x topsec", &mut out);
        assert!(out.is_empty(), "nothing is released before the line ends");
        r.push(b"retvalue y\nnext", &mut out);
        r.finish(&mut out);
        assert_eq!(String::from_utf8(out).unwrap(), "x [REDACTED] y\nnext");
        assert_eq!(r.counts()["known_value"], 1);
    }

    #[test]
    fn bad_extra_rule_names_itself() {
        let err = Rules::new(&[("mine".into(), "(".into())], vec![]).unwrap_err();
        assert_eq!(err.name, "mine");
    }
}
