//! Finding the few lines that may hold a secret, fast: every byte of output passes here, and
//! only lines found here are matched rule by rule.
//!
//! Three kinds of evidence, each one cheap pass over a batch of lines:
//! * **Keywords** of secrets' names (`assw`, `ecret`, `oken`, `_key`, …) in small literal groups
//!   (a dozen literals keep a pass on SIMD search); a hit counts only if the name around it is a
//!   secret's ([`context::classify`]), so `input_tokens` or `PASSED` cost a few nanoseconds.
//! * **Long runs**: every token family's value is a run of 16+ token bytes. Runs are found eight
//!   bytes at a time (SWAR, no `unsafe`), and a run counts only if a family anchor sits in or
//!   just before it — one small automaton over a few dozen bytes, whatever the number of
//!   families.
//! * **Values**: known and learned secrets in every encoding; and ESC, for escapes spliced into a
//!   word.

use super::context;
use aho_corasick::AhoCorasick;
use regex::bytes::Regex;

/// Shortest run of token bytes a family's value makes.
pub(crate) const MIN_RUN: usize = 16;
/// How far before a run its family anchor may sit (`hooks.slack.com/services/T…/B…/` + value).
pub(crate) const ANCHOR_REACH: usize = 64;

const L: u64 = 0x0101_0101_0101_0101;
const H: u64 = 0x8080_8080_8080_8080;

/// High bit of each byte set where the byte is a token byte: `0-9 : ; < = > ? @ A-Z [ \ ] ^ _
/// ` a-z { | } ~` or `-` (a superset of every family's alphabet but `.`, `/` and `+`, which
/// anchors reach across).
#[inline(always)]
fn token_bytes(x: u64) -> u64 {
    let ge30 = ((x & !H) + 0x50 * L) & !x & H;
    let y = x ^ (0x2d * L);
    let dash = !(((y & !H) + !H) | y) & H;
    ge30 | dash
}

fn token_byte(b: u8) -> bool {
    (0x30..0x80).contains(&b) || b == b'-'
}

/// The first run of at least [`MIN_RUN`] token bytes in `buf`, as `(start, end)`.
pub(crate) fn next_run(buf: &[u8]) -> Option<(usize, usize)> {
    let mut run = 0usize;
    let mut i = 0;
    let mut words = buf.chunks_exact(8);
    for w in &mut words {
        let x = u64::from_le_bytes(w.try_into().expect("eight bytes"));
        let m = token_bytes(x);
        if m == H {
            run += 8;
        } else {
            let breaks = !m & H;
            let lead = (breaks.trailing_zeros() / 8) as usize;
            if run + lead >= MIN_RUN {
                return Some((i + lead - (run + lead), i + lead));
            }
            run = (breaks.leading_zeros() / 8) as usize;
        }
        i += 8;
    }
    for &b in words.remainder() {
        if token_byte(b) {
            run += 1;
        } else {
            if run >= MIN_RUN {
                return Some((i - run, i));
            }
            run = 0;
        }
        i += 1;
    }
    (run >= MIN_RUN).then(|| (i - run, i))
}

/// Keyword literals, grouped for the literal passes. Each is a piece of a secret's name in the
/// casings names come in; special ones (`://`, `-----BEGIN`, `earer`, …) have their own checks.
pub(crate) const KEYWORD_GROUPS: &[&[&str]] = &[
    &[
        "assw", "ASSW", "pwd", "PWD", "Pwd", "ecret", "ECRET", "oken", "OKEN", "earer", "EARER",
    ],
    &[
        "pass", "PASS", "Pass", "auth", "AUTH", "Auth", "dsn", "DSN", "ebhook", "EBHOOK",
    ],
    &[
        "redential",
        "REDENTIAL",
        "pikey",
        "PIKEY",
        "piKey",
        "_pat",
        "_PAT",
        "://",
        "-----BEGIN",
    ],
    &[
        "_key",
        "_KEY",
        "Key",
        "-key",
        "-KEY",
        "KEY=",
        "Private-Lines",
        "_auth",
    ],
];

/// Whether a keyword hit at `hit` in `buf` is worth a closer look.
pub(crate) fn keyword_hit(buf: &[u8], hit: usize, lit: &[u8]) -> bool {
    match lit {
        b"://" => {
            // user-info: `scheme://user:pass@host` before the next blank or quote.
            let rest = &buf[hit + 3..];
            let end = rest
                .iter()
                .position(|b| {
                    b.is_ascii_whitespace() || matches!(b, b'"' | b'\'' | b'<' | b'>' | b'/')
                })
                .unwrap_or(rest.len());
            let auth = &rest[..end];
            auth.contains(&b'@') && auth.contains(&b':')
        }
        b"-----BEGIN" | b"Private-Lines" => true,
        b"earer" | b"EARER" => buf.get(hit + 5) == Some(&b' '),
        _ => {
            let mut s = hit;
            while s > 0 && context::name_byte(buf[s - 1]) {
                s -= 1;
            }
            let mut e = hit;
            while e < buf.len() && context::name_byte(buf[e]) {
                e += 1;
            }
            context::classify(&buf[s..e]).is_some()
        }
    }
}

/// The compiled literal passes and the family-anchor automaton.
pub(crate) struct Finders {
    pub keywords: Vec<Regex>,
    /// Family anchors, case-insensitive; pattern `i` belongs to family `anchor_family[i]`.
    pub anchors: AhoCorasick,
    pub anchor_family: Vec<usize>,
}

impl Finders {
    /// The families whose anchors occur in `region`, added to `into` (indices into the table).
    pub fn families_in(&self, region: &[u8], into: &mut Vec<usize>) {
        for m in self.anchors.find_overlapping_iter(region) {
            into.push(self.anchor_family[m.pattern().as_usize()]);
        }
    }

    /// Whether some family anchor sits in `buf[start..end]` or up to [`ANCHOR_REACH`] bytes
    /// before it.
    pub fn run_has_anchor(&self, buf: &[u8], start: usize, end: usize) -> bool {
        let from = start.saturating_sub(ANCHOR_REACH);
        self.anchors.is_match(&buf[from..end])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(buf: &[u8]) -> Option<(usize, usize)> {
        let mut run = 0;
        for (i, &b) in buf.iter().enumerate() {
            if token_byte(b) {
                run += 1;
            } else {
                if run >= MIN_RUN {
                    return Some((i - run, i));
                }
                run = 0;
            }
        }
        (run >= MIN_RUN).then(|| (buf.len() - run, buf.len()))
    }

    #[test]
    fn runs_agree_with_a_byte_at_a_time_scan() {
        let samples: &[&[u8]] = &[
            b"short words only here, nothing long",
            b"x ghp_abcdefghijklmnopqrstuvwxyz0123456789 y",
            b"0123456789abcde",
            b"0123456789abcdef",
            b"  \"session_id\":\"1f0c2b3a-1111-2222-3333-444455556666\"",
            b"a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s/t/u/v/w/x/y/z",
            b"\xffabcdefghijklmnopqrstuvwxyz\xff",
        ];
        for s in samples {
            for off in 0..8 {
                let mut buf = vec![b' '; off];
                buf.extend_from_slice(s);
                assert_eq!(
                    next_run(&buf),
                    naive(&buf),
                    "{:?} at {off}",
                    String::from_utf8_lossy(s)
                );
            }
        }
    }
}
