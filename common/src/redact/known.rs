//! Known secret values and the forms they take in output: raw, JSON-escaped (one to three
//! times), URL-encoded and base64 at each of the three byte alignments; and which environment
//! variables hold them.

use super::rules::RuleError;
use aho_corasick::{
    AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, Anchored, Input, MatchKind, StartKind,
};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Shortest value (or piece of a multi-line value) redacted wherever it appears: shorter ones
/// are ordinary words (`CACHE_KEY=session`). They are reported, not used.
pub const MIN_KNOWN_LEN: usize = 8;
/// Environment variable name endings whose values are secrets (besides every name
/// the redactor's `context` module takes for a secret's: `*PASSWORD*`, `*SECRET*`, `*_PAT`, `*_DSN`, …).
pub const SECRET_ENV_SUFFIXES: &[&str] = &[
    "_KEY",
    "_TOKEN",
    "_SECRET",
    "_PASSWORD",
    "_PRIVATE_KEY",
    "_CONNECTION_STRING",
];

/// The environment's secrets: values to redact, and the names of those too short to.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct EnvSecrets {
    pub values: Vec<String>,
    /// Names (never values) of secret variables whose value is shorter than [`MIN_KNOWN_LEN`].
    pub too_short: Vec<String>,
}

/// Whether `name` matches `pattern`, case-insensitively; `*` stands for any run of bytes.
pub fn glob_match(pattern: &str, name: &str) -> bool {
    let (p, n) = (pattern.to_ascii_uppercase(), name.to_ascii_uppercase());
    let pieces: Vec<&str> = p.split('*').collect();
    if pieces.len() == 1 {
        return p == n;
    }
    let (first, last) = (pieces[0], pieces[pieces.len() - 1]);
    if !n.starts_with(first) || !n[first.len()..].ends_with(last) {
        return false;
    }
    let mut rest = &n[first.len()..n.len() - last.len()];
    for mid in &pieces[1..pieces.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

/// Values of `env` whose name is a secret's: by its parts (case-insensitive, see
/// the redactor's `context` module), ending in one of `suffixes`, or matching one of `names` (globs allowed).
/// Empty values are skipped; values shorter than [`MIN_KNOWN_LEN`] are named in `too_short`.
pub fn secret_env_values(
    env: &BTreeMap<String, String>,
    suffixes: &[String],
    names: &[String],
) -> EnvSecrets {
    let mut out = EnvSecrets::default();
    for (k, v) in env {
        let upper = k.to_ascii_uppercase();
        let listed = names.iter().any(|n| glob_match(n, k))
            || suffixes
                .iter()
                .any(|s| upper.ends_with(&s.to_ascii_uppercase()))
            || super::context::secret_env_name(k);
        if !listed || v.trim().is_empty() {
            continue;
        }
        if v.trim().len() < MIN_KNOWN_LEN {
            out.too_short.push(k.clone());
        } else {
            out.values.push(v.clone());
        }
    }
    out
}

/// Most values learned in one run; past it, new ones are still redacted where their context is.
pub const MAX_LEARNED: usize = 256;
/// Longest value learned (a longer one is a blob, not a credential).
const MAX_LEARNED_LEN: usize = 4096;
/// Most bytes learned in one run, all values together: each value learned rebuilds the
/// matchers over every form of every value learned before it, so this bounds what learning
/// costs a run (a line of `pass=` repeated made a value at each name, the rest of the line).
pub(crate) const MAX_LEARNED_BYTES: usize = 64 * 1024;

/// The bytes of `values` together.
fn total_bytes(values: &[String]) -> usize {
    values.iter().map(String::len).sum()
}

/// Known values in every form, and which forms are base64 (found inside longer base64 text;
/// the others only where they do not continue a word or make a JSON key).
pub(crate) struct ValueMatcher {
    ac: AhoCorasick,
    /// The prefilter's first look: Teddy (SIMD) for up to [`PACKED_FORMS`] forms, [`Stride`]
    /// past them.
    first: First,
    base64: Vec<bool>,
    values: usize,
}

/// Most forms a packed SIMD search (Teddy) takes; past it, an automaton walks every byte, ~250
/// MB/s whatever the text, and [`Stride`] looks first.
const PACKED_FORMS: usize = 64;

/// Where the prefilter first looks for a form.
enum First {
    /// Teddy, built here rather than left to the automaton: the automaton's own choice of a
    /// first look depends on the values' bytes (a value whose bytes rank as rare in English
    /// text gets a search for two or three single bytes instead, which log text is full of),
    /// so the same output cost up to a sixth more of the runner's CPU depending on the run's
    /// random token.
    Packed(aho_corasick::packed::Searcher),
    /// Too many forms for Teddy.
    Stride(Stride),
    /// No SIMD Teddy on this CPU: the automaton's own prefilter.
    Automaton,
}

/// A first look for any number of forms, at one table read every four bytes. Every form is
/// [`MIN_KNOWN_LEN`] (8) bytes or longer, so wherever one starts, one of the four positions at
/// or after its start that a read every four bytes lands on begins four of its bytes: its bytes
/// 0–3, 1–4, 2–5 or 3–6. Those four keys of every form, hashed, make a bit set (sized so that
/// about one read in 256 passes by chance); a read that passes is confirmed by an anchored
/// search of the value automaton (built for both kinds of search then) at the four starts it
/// may belong to.
struct Stride {
    bits: Vec<u64>,
    shift: u32,
}

fn stride_slot(key: &[u8], shift: u32) -> usize {
    let k = u32::from_le_bytes(key.try_into().expect("four bytes"));
    (k.wrapping_mul(0x9e37_79b1) >> shift) as usize
}

impl Stride {
    fn new(forms: &[&[u8]]) -> Self {
        let log = (4 * 256 * forms.len())
            .next_power_of_two()
            .trailing_zeros()
            .clamp(12, 23);
        let shift = 32 - log;
        let mut bits = vec![0u64; (1usize << log) / 64];
        for f in forms {
            assert!(
                f.len() >= MIN_KNOWN_LEN,
                "forms are {MIN_KNOWN_LEN} bytes or longer"
            );
            for k in 0..4 {
                let slot = stride_slot(&f[k..k + 4], shift);
                bits[slot / 64] |= 1 << (slot % 64);
            }
        }
        Self { bits, shift }
    }

    /// A place at or after `from` where some form starts, in the first line that holds one.
    fn find_at(&self, ac: &AhoCorasick, hay: &[u8], from: usize) -> Option<usize> {
        let mut p = from;
        while p + 4 <= hay.len() {
            let slot = stride_slot(&hay[p..p + 4], self.shift);
            if self.bits[slot / 64] >> (slot % 64) & 1 != 0 {
                for q in p.saturating_sub(3).max(from)..=p {
                    let input = Input::new(hay).span(q..hay.len()).anchored(Anchored::Yes);
                    if ac.find(input).is_some() {
                        return Some(q);
                    }
                }
            }
            p += 4;
        }
        None
    }
}

impl ValueMatcher {
    pub fn new(values: &[String]) -> Result<Option<Self>, RuleError> {
        let forms = variants(values);
        if forms.is_empty() {
            return Ok(None);
        }
        let err = |e: aho_corasick::BuildError| RuleError {
            name: format!("known values: {e}"),
            source: regex::Error::Syntax(String::new()),
        };
        let bytes: Vec<&[u8]> = forms.iter().map(|(f, _)| f.as_bytes()).collect();
        let first = if bytes.len() > PACKED_FORMS {
            First::Stride(Stride::new(&bytes))
        } else {
            aho_corasick::packed::Config::new()
                .heuristic_pattern_limits(false)
                .builder()
                .extend(&bytes)
                .build()
                .map_or(First::Automaton, First::Packed)
        };
        let starts = if matches!(first, First::Stride(_)) {
            StartKind::Both
        } else {
            StartKind::Unanchored
        };
        // With a first look of its own, the automaton only reads the lines that look holds,
        // and it is rebuilt each time a run learns a value: a contiguous NFA builds in a
        // fraction of a DFA's time (a DFA was 1.7 % of the bench's instructions, four builds
        // a pass). Without one, the automaton reads every byte: a DFA.
        let kind = match first {
            First::Automaton => None,
            First::Packed(_) | First::Stride(_) => Some(AhoCorasickKind::ContiguousNFA),
        };
        let ac = AhoCorasickBuilder::new()
            .match_kind(MatchKind::LeftmostLongest)
            .start_kind(starts)
            .kind(kind)
            .build(&bytes)
            .map_err(err)?;
        Ok(Some(Self {
            ac,
            first,
            base64: forms.iter().map(|(_, b)| *b).collect(),
            values: values.len(),
        }))
    }

    pub fn len(&self) -> usize {
        self.values
    }

    /// The first place at or after `from` where some form occurs (for the prefilter).
    pub fn find_at(&self, hay: &[u8], from: usize) -> Option<usize> {
        match &self.first {
            First::Packed(p) => p
                .find_in(hay, aho_corasick::Span::from(from..hay.len()))
                .map(|m| m.start()),
            First::Stride(s) => s.find_at(&self.ac, hay, from),
            First::Automaton => self.ac.find(&hay[from..]).map(|m| from + m.start()),
        }
    }

    /// Where the values occur in `view`, as ranges.
    pub fn find(&self, view: &[u8]) -> Vec<(usize, usize)> {
        let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
        let mut out = Vec::new();
        for m in self.ac.find_iter(view) {
            let (s, e) = (m.start(), m.end());
            // A value made of letters alone could be part of an ordinary word or a JSON key
            // (`CACHE_KEY=sessionkey` in `"sessionkeys"`): it must stand alone. A value of
            // digits alone must not continue a number; a value with letters and digits, or
            // symbols, is matched wherever it is.
            let wordlike = view[s..e]
                .iter()
                .all(|b| b.is_ascii_alphabetic() || *b == b'_');
            let base64 = self.base64[m.pattern().as_usize()];
            // A number inside a longer number (`123456789012` around `1234567890`: an account
            // id, a timestamp) is another number.
            if !base64
                && view[s..e].iter().all(u8::is_ascii_digit)
                && (s > 0 && view[s - 1].is_ascii_digit()
                    || e < view.len() && view[e].is_ascii_digit())
            {
                continue;
            }
            if wordlike && !base64 {
                if s > 0 && word(view[s - 1]) || e < view.len() && word(view[e]) {
                    continue;
                }
                let closes = view[e..].starts_with(b"\":") || view[e..].starts_with(b"\": ");
                if closes && s > 0 && view[s - 1] == b'"' {
                    continue; // a JSON key
                }
            }
            out.push((s, e));
        }
        out
    }
}

/// Values learned from context during a run, shared by all its redactors: each takes the
/// current matchers when [`Learned::generation`] moves.
#[derive(Default)]
pub(crate) struct Learned {
    generation: AtomicU64,
    /// The run's known values, for [`Current::either`].
    known: Vec<String>,
    inner: Mutex<LearnedInner>,
}

#[derive(Default)]
struct LearnedInner {
    values: Vec<String>,
    matcher: Option<Arc<ValueMatcher>>,
    either: Option<Arc<ValueMatcher>>,
}

/// The learned values' matchers at one generation.
#[derive(Default, Clone)]
pub(crate) struct Current {
    pub generation: u64,
    /// The learned values alone (a match is a `learned_value`).
    pub learned: Option<Arc<ValueMatcher>>,
    /// Known and learned values together, for the prefilter: one search over every byte
    /// instead of two. `None` while nothing is learned (the known values' matcher serves).
    pub either: Option<Arc<ValueMatcher>>,
}

impl Learned {
    pub fn with_known(known: &[String]) -> Self {
        Self {
            known: known.to_vec(),
            ..Self::default()
        }
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub fn current(&self) -> Current {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        Current {
            generation: self.generation(),
            learned: inner.matcher.clone(),
            either: inner.either.clone(),
        }
    }

    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values
            .len()
    }

    /// The bytes of the values learned so far.
    #[cfg(test)]
    pub fn bytes(&self) -> usize {
        total_bytes(&self.inner.lock().unwrap_or_else(|e| e.into_inner()).values)
    }

    /// Learn `value`; whether it was new.
    pub fn add(&self, value: &[u8]) -> bool {
        let value = String::from_utf8_lossy(value).trim().to_string();
        if value.len() < MIN_KNOWN_LEN || value.len() > MAX_LEARNED_LEN || value.contains('\n') {
            return false;
        }
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if inner.values.len() >= MAX_LEARNED
            || total_bytes(&inner.values) + value.len() > MAX_LEARNED_BYTES
            || inner.values.contains(&value)
        {
            return false;
        }
        inner.values.push(value);
        let both: Vec<String> = self.known.iter().chain(&inner.values).cloned().collect();
        match (ValueMatcher::new(&inner.values), ValueMatcher::new(&both)) {
            (Ok(m), Ok(e)) => {
                inner.matcher = m.map(Arc::new);
                inner.either = e.map(Arc::new);
            }
            _ => {
                inner.values.pop();
                return false;
            }
        }
        self.generation.fetch_add(1, Ordering::Release);
        true
    }
}

/// Every form to look for, longest first and without duplicates, each with whether it is base64.
pub(crate) fn variants(values: &[String]) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    for value in values {
        for piece in value.split(['\n', '\r']) {
            let piece = piece.trim();
            if piece.len() < MIN_KNOWN_LEN {
                continue;
            }
            out.push((piece.to_string(), false));
            let mut json = piece.to_string();
            for _ in 0..3 {
                let quoted = serde_json::to_string(&json).expect("a string serialises");
                json = quoted[1..quoted.len() - 1].to_string();
                out.push((json.clone(), false));
            }
            out.push((url_encode(piece), false));
            for align in 0..3 {
                let b64 = base64_core(piece.as_bytes(), align);
                if b64.len() >= MIN_KNOWN_LEN {
                    out.push((b64.replace('+', "-").replace('/', "_"), true));
                    out.push((b64, true));
                }
            }
        }
    }
    out.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.cmp(b)));
    out.dedup_by(|a, b| a.0 == b.0);
    out
}

/// Percent-encoding of every byte outside the URL-unreserved set.
fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The base64 characters that depend only on `value` when it sits `align` bytes (0–2) past a
/// three-byte boundary of a longer encoded stream: whatever surrounds it, these appear verbatim.
fn base64_core(value: &[u8], align: usize) -> String {
    use base64::Engine;
    let mut bytes = vec![0u8; align];
    bytes.extend_from_slice(value);
    let chars = base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes);
    // Character i covers bits [6i, 6i+6); the value covers bits [8·align, 8·(align+len)).
    let first = (8 * align).div_ceil(6);
    let last = (8 * (align + value.len())) / 6; // exclusive
    chars[first..last.max(first)].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::Rng;
    use proptest::test_runner::{RngAlgorithm, TestRng};

    /// A line of one assignment repeated (`pass=pass=pass=…`, 4 KiB) makes a value at every
    /// name, each the rest of the line: each was learned, and each learning rebuilt both
    /// matchers over every value learned so far in all its forms (13 s for that one line).
    /// The bytes learned in a run are bounded, so the rebuilds are.
    #[test]
    fn a_line_of_one_repeated_assignment_learns_a_bounded_number_of_bytes() {
        let rules = std::sync::Arc::new(crate::redact::Rules::new(&[], vec![]).unwrap());
        let mut r = crate::redact::Redactor::new(rules.clone());
        let mut out = Vec::new();
        r.push(
            format!("{}\n", "pass=".repeat(4096 / 5)).as_bytes(),
            &mut out,
        );
        r.finish(&mut out);
        assert!(!String::from_utf8_lossy(&out).contains("pass=pass="));
        let learned = rules.learned.bytes();
        assert!(learned <= MAX_LEARNED_BYTES, "{learned} bytes learned");
        assert!(rules.learned_count() >= 1);
    }

    #[test]
    fn many_forms_are_found_where_the_automaton_finds_them() {
        forms_are_found_where_the_automaton_finds_them(40);
    }

    /// A few values take Teddy whatever their bytes: `QZjXqVkz`-like values, whose bytes rank
    /// rare, made the automaton's own prefilter a search for single bytes.
    #[test]
    fn few_forms_are_found_by_teddy_where_the_automaton_finds_them() {
        forms_are_found_where_the_automaton_finds_them(3);
        let m = ValueMatcher::new(&["QZjXqVkzQZjXqVkz".to_string()])
            .unwrap()
            .unwrap();
        if std::is_x86_feature_detected!("ssse3") {
            assert!(
                matches!(m.first, First::Packed(_)),
                "Teddy takes rare bytes"
            );
        } else {
            eprintln!("SKIPPED: no SSSE3 on this CPU, so no Teddy to check");
        }
    }

    fn forms_are_found_where_the_automaton_finds_them(n: usize) {
        // Deterministic: the same text every run.
        let mut rng = TestRng::deterministic_rng(RngAlgorithm::XorShift);
        let mut next = || rng.next_u64();
        let alphabet = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/+\"= \n";
        let values: Vec<String> = (0..n)
            .map(|i| {
                let len = 8 + (next() % 20) as usize;
                let mut v: String = (0..len)
                    .map(|_| alphabet[(next() % 62) as usize] as char)
                    .collect();
                if i % 4 == 0 {
                    v.push_str("\"/+x"); // forms that differ: JSON-escaped, percent-encoded
                }
                v
            })
            .collect();
        let m = ValueMatcher::new(&values).unwrap().unwrap();
        let stride = matches!(m.first, First::Stride(_));
        assert_eq!(
            stride,
            m.base64.len() > PACKED_FORMS,
            "{} forms, stride look {stride}",
            m.base64.len()
        );
        let forms = variants(&values);
        let (mut found, mut cases) = (0, 0);
        for _ in 0..3_000 {
            let mut hay = Vec::new();
            let len = (next() % 400) as usize;
            while hay.len() < len {
                if next() % 9 == 0 {
                    let f = &forms[(next() % forms.len() as u64) as usize].0;
                    hay.extend_from_slice(f.as_bytes());
                } else {
                    hay.push(alphabet[(next() % alphabet.len() as u64) as usize]);
                }
            }
            let from = (next() % (hay.len() as u64 + 1)) as usize;
            let want = m.ac.find(&hay[from..]).map(|f| from + f.start());
            let got = m.find_at(&hay, from);
            cases += 1;
            match (want, got) {
                (None, None) => {}
                (Some(w), Some(g)) => {
                    found += 1;
                    assert!(g >= w && !hay[w..g].contains(&b'\n'), "{w} {g}");
                    // Teddy finds the leftmost start, as the automaton does.
                    assert!(stride || g == w, "{w} {g}");
                    if stride {
                        let at = Input::new(&hay).span(g..hay.len()).anchored(Anchored::Yes);
                        assert!(m.ac.find(at).is_some(), "a form starts at {g}");
                    }
                }
                _ => panic!(
                    "automaton {want:?}, first look {got:?} in {:?} from {from}",
                    String::from_utf8_lossy(&hay)
                ),
            }
        }
        assert!(found > cases / 4, "{found} of {cases}");
    }

    #[test]
    fn base64_cores_appear_in_every_alignment() {
        // "secretvalue1" behind 0, 1 and 2 other bytes, encoded by GNU base64.
        let cases: [(&[u8], &str); 3] = [
            (b"secretvalue1", "c2VjcmV0dmFsdWUx"),
            (b"Asecretvalue1", "QXNlY3JldHZhbHVlMQ=="),
            (b"ABsecretvalue1", "QUJzZWNyZXR2YWx1ZTE="),
        ];
        for (align, (_, encoded)) in cases.iter().enumerate() {
            let core = base64_core(b"secretvalue1", align);
            assert!(core.len() >= 14, "core {core:?} too short");
            assert!(
                encoded.contains(&core),
                "align {align}: {core:?} not in {encoded:?}"
            );
        }
        assert_eq!(base64_core(b"secretvalue1", 0), "c2VjcmV0dmFsdWUx");
    }

    #[test]
    fn a_number_is_found_alone_not_inside_a_longer_number() {
        let m = ValueMatcher::new(&["1234567890".to_string()])
            .unwrap()
            .unwrap();
        let found = |t: &str| -> Vec<String> {
            m.find(t.as_bytes())
                .iter()
                .map(|&(s, e)| t[s..e].to_string())
                .collect()
        };
        assert_eq!(found("pin 1234567890."), ["1234567890"]);
        assert_eq!(found("id=1234567890;x"), ["1234567890"]);
        assert_eq!(found("PIN1234567890abc"), ["1234567890"]);
        // An account id, a timestamp: other numbers.
        assert!(found("arn:aws:iam::123456789012:role/x").is_empty());
        assert!(found("ts=91234567890").is_empty());
        // A value with letters is still found inside a longer token.
        let m = ValueMatcher::new(&["12345abcde".to_string()])
            .unwrap()
            .unwrap();
        assert_eq!(m.find(b"x912345abcde9").len(), 1);
    }

    #[test]
    fn url_and_json_forms() {
        let v: Vec<String> = variants(&["p@ss\"w/rd 1".into()])
            .into_iter()
            .map(|v| v.0)
            .collect();
        assert!(v.contains(&"p%40ss%22w%2Frd%201".to_string()), "{v:?}");
        assert!(v.contains(&"p@ss\\\"w/rd 1".to_string()), "{v:?}");
    }

    #[test]
    fn names_are_matched_in_any_case_by_parts_and_globs() {
        let env: BTreeMap<String, String> = [
            ("PGPASSWORD", "pg-pass-123"),
            ("mysql_pwd", "my-pass-123"),
            ("Db_Pass", "db-pass-123"),
            ("SECRET_KEY_BASE", "rails-base-123"),
            ("GITHUB_PAT", "ghpat-value-1"),
            ("SENTRY_DSN", "https://k@o.ingest.sentry.io/1"),
            ("SLACK_WEBHOOK_URL", "https://hooks.slack.com/x"),
            ("CLIENT_SECRET_VALUE", "client-secret-1"),
            ("PASSWORD", "bare-password-1"),
            ("APIKEY", "bare-apikey-1"),
            ("ACME_THING", "by-glob-value-1"),
            ("CACHE_KEY", "session"),
            ("PWD", "/home/someone"),
            ("TERM", "xterm-256color"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let got = secret_env_values(&env, &[], &["acme_*".into()]);
        assert_eq!(got.values.len(), 11, "{:?}", got.too_short);
        assert_eq!(got.too_short, vec!["CACHE_KEY"]);
        assert!(glob_match("*_THING", "acme_thing") && !glob_match("A*B", "AC"));
    }

    #[test]
    fn env_selection_by_suffix_length_and_name() {
        let env: BTreeMap<String, String> = [
            ("FOO_TOKEN", "tok-123456"),
            ("HOME_DIR", "/home/someone/x"),
            ("SHORT_KEY", "abc"),
            ("HOME", "/home/someone"),
            ("HMAC_SECRET", "hmac-secret-value"),
            ("MY_THING", "listed-by-name"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let suffixes: Vec<String> = SECRET_ENV_SUFFIXES.iter().map(|s| s.to_string()).collect();
        let got = secret_env_values(&env, &suffixes, &["MY_THING".into()]);
        assert_eq!(
            got.values,
            vec!["tok-123456", "hmac-secret-value", "listed-by-name"]
        );
        assert_eq!(got.too_short, vec!["SHORT_KEY"]);
    }
}
