//! The secret redactor: every byte the runner prints, stores or sends passes through here first.
//!
//! [`Redactor`] is streaming: feed it chunks as they arrive, get back only bytes that are safe to
//! emit, and call [`Redactor::finish`] at the end. Output is held back to the end of a line (`\n`
//! or `\r`), so a secret split across chunks is still seen whole; a line without end is released
//! once [`MAX_PENDING`] bytes are held, except its last [`MAX_MATCH`] bytes and any match that
//! reaches into them. A private-key block is replaced whole, however many lines and chunks it
//! spans. Each match becomes [`REDACTED`]; [`Redactor::counts`] tells how often each rule fired.
//!
//! Speed comes from one prefilter regex over every rule's literal anchors, every known value and
//! ESC: lines it does not hit are copied as they are, and only the rest are matched rule by rule.

mod ansi;
mod builtin;
mod config;
mod known;
mod rules;

pub use config::{Config, ConfigError, DEFAULT_CONFIG};
pub use known::{MIN_KNOWN_LEN, SECRET_ENV_SUFFIXES, secret_env_values};
pub use rules::{RuleError, Rules};

use rules::{Span, Tail};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// What a secret is replaced with.
pub const REDACTED: &str = "[REDACTED]";
/// Longest stretch without a line end held back before part of it is released anyway.
pub const MAX_PENDING: usize = 64 * 1024;
/// Longest match a line without end is guaranteed to catch whole (a longer token there is replaced
/// up to the release point, and its rest is released as it is).
pub const MAX_MATCH: usize = 16 * 1024;
/// Most bytes of a private-key block dropped while waiting for its footer; past it the block is
/// taken to have ended unseen and output resumes.
pub const MAX_KEY_BLOCK: usize = 1024 * 1024;
/// Bytes kept back inside a key block, so a footer split across chunks is still found.
const FOOTER_HOLD: usize = 128;

/// `line` without its terminal escape sequences (colours, cursor moves, OSC links), as text a
/// person reads and searches; bytes that are not UTF-8 after stripping become U+FFFD.
pub fn strip_escapes(line: &str) -> String {
    if !line.contains('\x1b') {
        return line.to_string();
    }
    String::from_utf8_lossy(&ansi::strip(line.as_bytes()).0).into_owned()
}

/// Redact a whole text at once.
pub fn redact_text(rules: &Arc<Rules>, text: &str) -> String {
    let mut r = Redactor::new(Arc::clone(rules));
    let mut out = Vec::with_capacity(text.len());
    r.push(text.as_bytes(), &mut out);
    r.finish(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// A streaming redactor for one byte stream (one per stdout, stderr, file, …).
pub struct Redactor {
    rules: Arc<Rules>,
    pending: Vec<u8>,
    /// Inside a private-key block: how many bytes of it were dropped so far.
    in_key: Option<usize>,
    counts: BTreeMap<String, u64>,
}

impl fmt::Debug for Redactor {
    // The held-back bytes may be a secret in the making: never show them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactor")
            .field("pending_len", &self.pending.len())
            .field("in_key", &self.in_key.is_some())
            .field("counts", &self.counts)
            .finish()
    }
}

/// `line` with the letter of each JSON `\n`, `\r` and `\t` escape replaced by a blank: same
/// length, so offsets still hold, but word boundaries are where the decoded text has them.
fn unescape_blanks(line: &[u8]) -> Vec<u8> {
    let mut view = line.to_vec();
    let mut i = 0;
    while i + 1 < view.len() {
        if view[i] == b'\\' {
            if matches!(view[i + 1], b'n' | b'r' | b't') {
                view[i + 1] = b' ';
            }
            i += 2;
        } else {
            i += 1;
        }
    }
    view
}

fn is_sep(b: &u8) -> bool {
    *b == b'\n' || *b == b'\r'
}

impl Redactor {
    pub fn new(rules: Arc<Rules>) -> Self {
        Self {
            rules,
            pending: Vec::new(),
            in_key: None,
            counts: BTreeMap::new(),
        }
    }

    /// Feed a chunk; append the bytes that are now safe to emit to `out`.
    pub fn push(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        if self.pending.is_empty() && self.in_key.is_none() {
            // The common case: no carry-over, so lines are taken straight from the chunk.
            let done = self.drain(chunk, out, false);
            self.pending.extend_from_slice(&chunk[done..]);
            return;
        }
        self.pending.extend_from_slice(chunk);
        let pending = std::mem::take(&mut self.pending);
        let done = self.drain(&pending, out, false);
        self.pending = pending;
        self.pending.drain(..done);
    }

    /// End of stream: release what is held back, redacted. An unterminated key block is dropped.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        let pending = std::mem::take(&mut self.pending);
        self.drain(&pending, out, true);
        self.in_key = None;
    }

    /// How many times each rule fired so far (counts only, never values).
    pub fn counts(&self) -> &BTreeMap<String, u64> {
        &self.counts
    }

    /// Emit what can be emitted of `buf`; return how many bytes of it were consumed.
    fn drain(&mut self, buf: &[u8], out: &mut Vec<u8>, fin: bool) -> usize {
        let mut pos = 0;
        loop {
            let rest = &buf[pos..];
            if let Some(dropped) = self.in_key {
                if let Some(m) = self.rules.key_end.find(rest) {
                    pos += m.end();
                    self.in_key = None;
                    continue;
                }
                let n = if fin {
                    rest.len()
                } else {
                    rest.len().saturating_sub(FOOTER_HOLD)
                };
                pos += n;
                if dropped + n <= MAX_KEY_BLOCK {
                    self.in_key = Some(dropped + n);
                    return pos;
                }
                self.in_key = None;
            }
            let rest = &buf[pos..];
            let end = if fin {
                rest.len()
            } else {
                rest.iter().rposition(is_sep).map_or(0, |p| p + 1)
            };
            if end > 0 {
                if let Some(done) = self.lines(&rest[..end], out) {
                    pos += done;
                    self.in_key = Some(0);
                    continue;
                }
                pos += end;
            }
            let partial = &buf[pos..];
            if partial.len() < MAX_PENDING || fin {
                return pos;
            }
            pos += self.long_line(partial, out);
        }
    }

    /// Emit whole lines, the last ending `batch`. Returns where a key block opened, if one did
    /// (the lines after it are left to the caller).
    fn lines(&mut self, batch: &[u8], out: &mut Vec<u8>) -> Option<usize> {
        let rules = Arc::clone(&self.rules);
        // The next hit of each finder at or after `from` (usize::MAX: none left). Finder 0 is
        // ESC: a line whose only hit it is needs a look only if an escape splits a word.
        let mut next: Vec<usize> = vec![0; rules.finders.len()];
        let (mut emitted, mut from) = (0, 0);
        let mut first = true;
        loop {
            for (n, f) in next.iter_mut().zip(&rules.finders) {
                if first || *n < from {
                    *n = f.find_at(batch, from).map_or(usize::MAX, |m| m.start());
                }
            }
            first = false;
            let hit = next.iter().copied().min().unwrap_or(usize::MAX);
            if hit == usize::MAX {
                break;
            }
            let start = batch[from..hit]
                .iter()
                .rposition(is_sep)
                .map_or(from, |p| from + p + 1);
            let end = batch[hit..]
                .iter()
                .position(is_sep)
                .map_or(batch.len(), |p| hit + p + 1);
            let line = &batch[start..end];
            if next[1..].iter().all(|&n| n >= end) && !ansi::splits_word(line) {
                from = end;
                continue;
            }
            out.extend_from_slice(&batch[emitted..start]);
            let (spans, tail) = self.scan(line, true);
            self.emit(line, &spans, out);
            (emitted, from) = (end, end);
            if tail == Tail::OpenKey {
                return Some(end);
            }
        }
        out.extend_from_slice(&batch[emitted..]);
        None
    }

    /// Release the start of a line without end, keeping back its last [`MAX_MATCH`] bytes and
    /// any match that reaches into them. Returns how many bytes were consumed.
    fn long_line(&mut self, partial: &[u8], out: &mut Vec<u8>) -> usize {
        let (spans, _) = self.scan(partial, false);
        let mut cut = partial.len() - MAX_MATCH;
        if let Some(s) = spans.iter().find(|s| s.start < cut && s.end > cut) {
            cut = s.start;
        }
        if cut == 0 {
            // One match longer than the bound: only a key block can be. Drop it to its footer.
            self.emit(partial, &spans, out);
            if spans
                .last()
                .is_some_and(|s| s.rule == 0 && s.end == partial.len())
            {
                self.in_key = Some(partial.len());
            }
            return partial.len();
        }
        let kept: Vec<Span> = spans.into_iter().filter(|s| s.end <= cut).collect();
        self.emit(&partial[..cut], &kept, out);
        cut
    }

    /// The spans to replace in `line`, matched with escape sequences stripped and JSON escapes
    /// neutralised (`\n` reads as a blank, so `\nghp_…` still starts a word).
    fn scan(&self, line: &[u8], complete: bool) -> (Vec<Span>, Tail) {
        if !line.contains(&0x1b) {
            if !line.contains(&b'\\') {
                return self.rules.spans(line, complete);
            }
            return self.rules.spans(&unescape_blanks(line), complete);
        }
        let (mut view, map) = ansi::strip(line);
        if view.contains(&b'\\') {
            view = unescape_blanks(&view);
        }
        if !self.rules.prefilter.is_match(&view) {
            return (Vec::new(), Tail::Closed);
        }
        let (mut spans, tail) = self.rules.spans(&view, complete);
        for s in &mut spans {
            let open = tail == Tail::OpenKey && s.end == view.len();
            s.start = map[s.start];
            s.end = if open { line.len() } else { map[s.end - 1] + 1 };
        }
        (spans, tail)
    }

    fn emit(&mut self, line: &[u8], spans: &[Span], out: &mut Vec<u8>) {
        let mut last = 0;
        for s in spans {
            out.extend_from_slice(&line[last..s.start]);
            out.extend_from_slice(REDACTED.as_bytes());
            last = s.end;
            *self
                .counts
                .entry(self.rules.names[s.rule].clone())
                .or_default() += 1;
        }
        out.extend_from_slice(&line[last..]);
    }
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
