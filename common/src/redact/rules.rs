//! [`Rules`]: the compiled rule set — built-in shapes, extra patterns and known values — and the
//! one-line matcher that turns a line into the byte ranges to replace.

use super::builtin::{self, BUILTINS, Check};
use super::known;
use regex::bytes::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};
use std::fmt;

/// A rule that failed to compile.
#[derive(Debug, thiserror::Error)]
#[error("redaction rule {name:?}: {source}")]
pub struct RuleError {
    pub name: String,
    #[source]
    pub source: regex::Error,
}

/// A range of a line to replace, and the rule (index into [`Rules::names`]) that found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub start: usize,
    pub end: usize,
    pub rule: usize,
}

/// What the private-key finder saw at the end of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tail {
    /// Nothing open.
    Closed,
    /// A key header with no footer and no closing quote: the block goes on past this text.
    OpenKey,
}

/// One compiled pattern rule.
struct Pattern {
    regex: Regex,
    check: Check,
    /// Whether the regex has groups named `secret…`: then only those are replaced.
    grouped: bool,
}

/// Literals per finder regex (measured: past about a dozen, SIMD literal search slows down faster
/// than passes add up).
const LITERALS_PER_FINDER: usize = 11;
/// Known-value literals per finder regex (longer literals, so more fit).
const KNOWN_PER_FINDER: usize = 24;
/// Regex fragments (`name` then `=`) per finder regex.
const FRAGMENTS_PER_FINDER: usize = 3;

/// A compiled rule set, shared (behind an `Arc`) by every redactor of a process.
pub struct Rules {
    /// Rule names: `private_key`, then one per pattern, then `known_value`.
    pub(crate) names: Vec<String>,
    patterns: Vec<Pattern>,
    /// All patterns at once, to learn which ones a candidate line needs.
    set: RegexSet,
    /// Known values in every encoding, as one literal alternation.
    known: Option<Regex>,
    /// Anchors of every rule and every known value, in one regex: a line (ANSI stripped) with no
    /// match here cannot hold a secret.
    pub(crate) prefilter: Regex,
    /// ESC, then the same anchors split into small groups: a few literals per regex keep each
    /// pass on its SIMD literal search, and many fast passes beat one slow one.
    pub(crate) finders: Vec<Regex>,
    key_begin: Regex,
    pub(crate) key_end: Regex,
    known_count: usize,
}

impl fmt::Debug for Rules {
    // Known values are secrets: show only how many there are.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rules")
            .field("rules", &self.names)
            .field("known_values", &self.known_count)
            .finish()
    }
}

fn compile(name: &str, re: &str) -> Result<Regex, RuleError> {
    RegexBuilder::new(re)
        .size_limit(64 << 20)
        .dfa_size_limit(16 << 20)
        .build()
        .map_err(|source| RuleError {
            name: name.to_string(),
            source,
        })
}

impl Rules {
    /// The built-in rules with no known values.
    pub fn seed() -> Self {
        Self::new(&[], Vec::new()).expect("built-in rules compile")
    }

    /// The built-in rules, plus `extra` `(name, regex)` patterns and known secret values. Values
    /// shorter than 6 bytes are ignored (they would redact ordinary words); a multi-line value is
    /// matched line by line. If an extra regex has groups named `secret…`, only they are replaced.
    pub fn new(extra: &[(String, String)], known: Vec<String>) -> Result<Self, RuleError> {
        let mut names = vec!["private_key".to_string()];
        let mut patterns = Vec::new();
        let mut sources = Vec::new();
        // Plain literals (escaped here) and regex fragments, kept apart for the finders.
        let mut plain = vec![regex::escape(builtin::PRIVATE_KEY_ANCHOR)];
        let mut fancy = Vec::new();
        for b in BUILTINS {
            let regex = compile(b.name, b.regex)?;
            let grouped = regex
                .capture_names()
                .flatten()
                .any(|n| n.starts_with("secret"));
            names.push(b.name.to_string());
            patterns.push(Pattern {
                regex,
                check: b.check,
                grouped,
            });
            sources.push(b.regex.to_string());
            for a in b.anchors {
                if a.contains(['(', '[', '|', '?', '*', '\\']) {
                    fancy.push(a.to_string());
                } else {
                    plain.push(regex::escape(a));
                }
            }
        }
        for (name, re) in extra {
            let regex = compile(name, re)?;
            let grouped = regex
                .capture_names()
                .flatten()
                .any(|n| n.starts_with("secret"));
            names.push(name.clone());
            patterns.push(Pattern {
                regex,
                check: Check::None,
                grouped,
            });
            sources.push(re.clone());
            // An extra rule has no declared anchors: the prefilter carries the regex itself.
            fancy.push(format!("(?:{})", strip_names(re)));
        }
        names.push("known_value".into());

        let variants = known::variants(&known);
        let known_count = variants.len();
        let known_alt: Vec<String> = variants.iter().map(|v| regex::escape(v)).collect();
        let known_re = if known_alt.is_empty() {
            None
        } else {
            Some(compile(
                "known_value",
                &format!("(?-u){}", known_alt.join("|")),
            )?)
        };
        for v in [&mut plain, &mut fancy] {
            v.sort();
            v.dedup();
        }
        // Plain literals share a pass; fragments that may need the regex engine past their
        // literal prefix go a few at a time.
        let mut finders = vec![compile("prefilter", r"\x1b")?];
        let groups = plain
            .chunks(LITERALS_PER_FINDER)
            .chain(fancy.chunks(FRAGMENTS_PER_FINDER))
            .chain(known_alt.chunks(KNOWN_PER_FINDER));
        for group in groups {
            finders.push(compile("prefilter", &format!("(?-u){}", group.join("|")))?);
        }
        let all: Vec<String> = [plain, fancy, known_alt].concat();
        let prefilter = compile("prefilter", &format!("(?-u){}", all.join("|")))?;
        let set = RegexSetBuilder::new(&sources)
            .size_limit(64 << 20)
            .dfa_size_limit(16 << 20)
            .build()
            .map_err(|source| RuleError {
                name: "rule set".into(),
                source,
            })?;
        Ok(Self {
            names,
            patterns,
            set,
            known: known_re,
            prefilter,
            finders,
            key_begin: compile("private_key", builtin::PRIVATE_KEY_BEGIN)?,
            key_end: compile("private_key", builtin::PRIVATE_KEY_END)?,
            known_count,
        })
    }

    /// The prefilter regexes alone, for benchmarks.
    #[doc(hidden)]
    pub fn prefilter_regexes(&self) -> &[Regex] {
        &self.finders
    }

    /// Index of the `known_value` rule in [`Self::names`].
    fn known_rule(&self) -> usize {
        self.names.len() - 1
    }

    /// Every range of `line` (ANSI already stripped) to replace, sorted and merged. `complete`
    /// says whether `line` ends where the line does (else more of it may follow).
    pub(crate) fn spans(&self, line: &[u8], complete: bool) -> (Vec<Span>, Tail) {
        let mut found = Vec::new();
        let tail = self.private_keys(line, complete, &mut found);
        if let Some(known) = &self.known {
            for m in known.find_iter(line) {
                found.push(Span {
                    start: m.start(),
                    end: m.end(),
                    rule: self.known_rule(),
                });
            }
        }
        for i in self.set.matches(line).iter() {
            let p = &self.patterns[i];
            let rule = i + 1;
            if !p.grouped {
                for m in p.regex.find_iter(line) {
                    found.push(Span {
                        start: m.start(),
                        end: m.end(),
                        rule,
                    });
                }
                continue;
            }
            for caps in p.regex.captures_iter(line) {
                let groups = p.regex.capture_names().enumerate();
                for (g, _) in groups.filter(|(_, n)| n.is_some_and(|n| n.starts_with("secret"))) {
                    let Some(m) = caps.get(g) else { continue };
                    if p.check == Check::Value && !builtin::plausible_value(m.as_bytes()) {
                        continue;
                    }
                    found.push(Span {
                        start: m.start(),
                        end: m.end(),
                        rule,
                    });
                }
            }
        }
        (merge(found), tail)
    }

    /// Private-key blocks in one line: header to footer, or to the closing quote of a
    /// JSON-escaped string, or (no footer yet) to the end, reported as an open block.
    fn private_keys(&self, line: &[u8], complete: bool, found: &mut Vec<Span>) -> Tail {
        let mut from = 0;
        while let Some(h) = self.key_begin.find_at(line, from) {
            if let Some(e) = self.key_end.find_at(line, h.end()) {
                found.push(Span {
                    start: h.start(),
                    end: e.end(),
                    rule: 0,
                });
                from = e.end();
                continue;
            }
            if let Some(q) = closing_quote(&line[h.end()..]) {
                found.push(Span {
                    start: h.start(),
                    end: h.end() + q,
                    rule: 0,
                });
                from = h.end() + q;
                continue;
            }
            found.push(Span {
                start: h.start(),
                end: line.len(),
                rule: 0,
            });
            return if complete {
                Tail::OpenKey
            } else {
                Tail::Closed
            };
        }
        Tail::Closed
    }
}

/// The offset of the first `"` not preceded by a backslash, if any.
fn closing_quote(s: &[u8]) -> Option<usize> {
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b'\\' => i += 2,
            b'"' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// `re` with its named groups turned into plain groups.
fn strip_names(re: &str) -> String {
    let mut out = String::with_capacity(re.len());
    let mut rest = re;
    while let Some(p) = rest.find("(?P<").or_else(|| rest.find("(?<")) {
        let skip = if rest[p..].starts_with("(?P<") { 4 } else { 3 };
        out.push_str(&rest[..p]);
        out.push_str("(?:");
        rest = &rest[p + skip..];
        rest = rest.find('>').map_or("", |g| &rest[g + 1..]);
    }
    out.push_str(rest);
    out
}

/// Sort spans and fuse overlapping ones; a fused span keeps the rule of the earliest-listed
/// rule that found part of it, so one secret is counted once.
fn merge(mut spans: Vec<Span>) -> Vec<Span> {
    spans.sort_by_key(|s| (s.start, std::cmp::Reverse(s.end)));
    let mut out: Vec<Span> = Vec::with_capacity(spans.len());
    for s in spans {
        match out.last_mut() {
            Some(last) if s.start < last.end => {
                last.end = last.end.max(s.end);
                last.rule = last.rule.min(s.rule);
            }
            _ => out.push(s),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_stripped_for_the_prefilter() {
        assert_eq!(strip_names(r"a(?P<secret>x)b(?<s2>y)"), "a(?:x)b(?:y)");
    }

    #[test]
    fn overlapping_spans_fuse_and_keep_the_first_rule() {
        let s = |start, end, rule| Span { start, end, rule };
        let got = merge(vec![s(5, 9, 3), s(0, 6, 7), s(20, 25, 1)]);
        assert_eq!(got, vec![s(0, 9, 3), s(20, 25, 1)]);
    }

    #[test]
    fn json_string_ends_at_unescaped_quote() {
        assert_eq!(closing_quote(br#"ab\"cd"ef"#), Some(6));
        assert_eq!(closing_quote(br"ab\ncd"), None);
    }
}
