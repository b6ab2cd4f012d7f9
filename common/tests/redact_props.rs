//! Property tests for the redactor: whatever the text around them, however the stream is cut into
//! chunks, and with terminal escapes spliced into them, planted secrets never come out.

use common::redact::{DEFAULT_CONFIG, Redactor, Rules};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

mod support;
use support::{family_rows, percent_all, planted_line, redact_in_chunks};

const KNOWN: &str = "Run-Token_9f8e7d6c5b4a";

/// `(text to plant, the secret part of it)`: the secret part must never appear in the output.
const PLANTS: &[(&str, &str)] = &[
    (
        "ghp_Q7wErTy8UiOp9AsDfGh0JkLzXcVbNm12Ab34",
        "ghp_Q7wErTy8UiOp9AsDfGh0JkLzXcVbNm12Ab34",
    ),
    ("AKIAQWERTYUIOP234567", "AKIAQWERTYUIOP234567"),
    (
        "sk-ant-api03-Zq9Xw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0FeDcBa-_Zq9Xw8Vu7Ts6Rq5PoAA",
        "sk-ant-api03-Zq9Xw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0FeDcBa-_Zq9Xw8Vu7Ts6Rq5PoAA",
    ),
    (
        "sk-proj-Ab12Cd34Ef56Gh78Ij90Kl12Mn34Op56",
        "sk-proj-Ab12Cd34Ef56Gh78Ij90Kl12Mn34Op56",
    ),
    (
        "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
        "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx",
    ),
    ("glpat-Xy9Zw8Vu7Ts6Rq5Po4Nm", "glpat-Xy9Zw8Vu7Ts6Rq5Po4Nm"),
    (
        "npm_Ab1Cd2Ef3Gh4Ij5Kl6Mn7Op8Qr9St0Uv1Wx2",
        "npm_Ab1Cd2Ef3Gh4Ij5Kl6Mn7Op8Qr9St0Uv1Wx2",
    ),
    (
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJydW4tNDIifQ.Qm9ndXNTaWduYXR1cmVYeXo",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJydW4tNDIifQ.Qm9ndXNTaWduYXR1cmVYeXo",
    ),
    ("password=Pa55-Word-XyZ-42", "Pa55-Word-XyZ-42"),
    ("api_key: QwErTy123456UiOp", "QwErTy123456UiOp"),
    (
        "Authorization: Bearer Zm9vYmFyQmF6UXV4MTIzNDU2",
        "Zm9vYmFyQmF6UXV4MTIzNDU2",
    ),
    (
        "https://deploy:Url-Pa55-Word9@git.example.com/x",
        "Url-Pa55-Word9",
    ),
    (KNOWN, KNOWN),
    (
        "UnVuLVRva2VuXzlmOGU3ZDZjNWI0YQ==",
        "UnVuLVRva2VuXzlmOGU3ZDZjNWI0YQ",
    ),
];

const KEY_BODY: &[&str] = &[
    "MIIEpAIBAAKCAQEA1x2y3z4QwErTyUiOpAsDfGhJkLzXcVbNm0123456789abcd",
    "Zq9Xw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0FeDcBaZq9Xw8Vu7Ts6Rq5Po4Nm3Lk2Ji1H",
];

fn rules() -> Arc<Rules> {
    static RULES: OnceLock<Arc<Rules>> = OnceLock::new();
    Arc::clone(RULES.get_or_init(|| {
        let env = BTreeMap::from([("RUN_TOKEN".to_string(), KNOWN.to_string())]);
        Arc::new(Rules::from_config(DEFAULT_CONFIG, &env, Vec::new()).unwrap())
    }))
}

fn run(text: &[u8], cuts: &[usize]) -> Vec<u8> {
    let mut r = Redactor::new(rules());
    let mut out = Vec::new();
    let mut rest = text;
    for &c in cuts {
        let (head, tail) = rest.split_at(c.min(rest.len()));
        r.push(head, &mut out);
        rest = tail;
    }
    r.push(rest, &mut out);
    r.finish(&mut out);
    out
}

fn strip_ansi(b: &[u8]) -> Vec<u8> {
    let re = regex::bytes::Regex::new(r"\x1b(?:\[[0-9;]*[A-Za-z]|\][^\x07]*\x07)").unwrap();
    re.replace_all(b, &b""[..]).into_owned()
}

/// No 12-byte window of `secret` appears in `out`: neither the secret nor a long part of it.
fn leaks(out: &[u8], secret: &str) -> Option<String> {
    leaks_beyond(out, secret, b"")
}

/// As `leaks`, but a window that `shown` holds is no leak: text the input prints outside every
/// secret, such as another line's `"access_token":` key beside Braintree's
/// `access_token$production$…`, whose first 12 bytes are that key.
fn leaks_beyond(out: &[u8], secret: &str, shown: &[u8]) -> Option<String> {
    let s = secret.as_bytes();
    let w = 12.min(s.len());
    // One automaton over every window: a pass per window would be quadratic on 4 MiB lines.
    let windows: Vec<&[u8]> = (0..=s.len() - w)
        .map(|i| &s[i..i + w])
        .filter(|win| memchr::memmem::find(shown, win).is_none())
        .collect();
    if windows.is_empty() {
        return None;
    }
    let ac = aho_corasick::AhoCorasick::new(&windows).unwrap();
    ac.find(out)
        .map(|m| String::from_utf8_lossy(&out[m.start()..m.end()]).into_owned())
}

/// What the planted lines print around their secrets, every secret taken out: text the input
/// shows outside them, which [`leaks_beyond`] does not count.
fn shown_around<'a>(lines: impl Iterator<Item = &'a str>, secrets: &[&str]) -> String {
    lines
        .map(|line| {
            secrets
                .iter()
                .fold(line.to_string(), |l, s| l.replace(s, "\n"))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn filler() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            4 => "[a-z0-9]{1,9}",
            2 => Just(" ".to_string()),
            1 => Just("\n".to_string()),
            1 => "[.,:/=-]",
            1 => Just("\x1b[32m".to_string()),
            1 => Just("\x1b[0m".to_string()),
            1 => Just("{\"text\":\"".to_string()),
        ],
        0..40,
    )
    .prop_map(|v| v.concat())
}

const ESCAPES: &[&str] = &[
    "\x1b[31m",
    "\x1b[0m",
    "\x1b[1;33m",
    "\x1b]8;;https://x.test\x07",
];

/// `plant` with escapes spliced in at the given interior offsets (taken modulo its length).
fn splice(plant: &str, at: &[(usize, usize)]) -> String {
    let mut offsets: Vec<(usize, &str)> = at
        .iter()
        .map(|&(o, e)| (1 + o % (plant.len() - 1), ESCAPES[e % ESCAPES.len()]))
        .collect();
    offsets.sort();
    let mut out = String::new();
    let mut last = 0;
    for (o, esc) in offsets {
        out.push_str(&plant[last..o]);
        out.push_str(esc);
        last = o;
    }
    out.push_str(&plant[last..]);
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn planted_secrets_never_come_out(
        parts in prop::collection::vec((filler(), 0..PLANTS.len(), prop::bool::ANY), 1..6),
        tail in filler(),
        cuts in prop::collection::vec(0usize..80, 0..30),
    ) {
        let mut text = String::new();
        for (fill, i, newline) in &parts {
            text.push_str(fill);
            text.push(if *newline { '\n' } else { ' ' });
            text.push_str(PLANTS[*i].0);
            text.push(' ');
        }
        text.push_str(&tail);
        let out = run(text.as_bytes(), &cuts);
        for (_, i, _) in &parts {
            let secret = PLANTS[*i].1;
            prop_assert!(leaks(&out, secret).is_none(), "{:?} leaks from {:?}: {:?}",
                secret, text, String::from_utf8_lossy(&out));
        }
    }

    #[test]
    fn escapes_spliced_into_secrets_do_not_hide_them(
        before in filler(),
        i in 0..PLANTS.len(),
        at in prop::collection::vec((0usize..200, 0usize..4), 1..4),
        after in filler(),
        cuts in prop::collection::vec(0usize..40, 0..20),
    ) {
        let (plant, secret) = PLANTS[i];
        let text = format!("{before} {}\x1b[0m {after}\n", splice(plant, &at));
        let out = run(text.as_bytes(), &cuts);
        let visible = strip_ansi(&out);
        prop_assert!(leaks(&visible, secret).is_none() && leaks(&out, secret).is_none(),
            "{:?} leaks from {:?}: {:?}", secret, text, String::from_utf8_lossy(&out));
    }

    #[test]
    fn private_keys_never_come_out(
        before in filler(),
        after in filler(),
        json in prop::bool::ANY,
        cuts in prop::collection::vec(0usize..50, 0..40),
    ) {
        let block = format!("-----BEGIN OPENSSH PRIVATE KEY-----\n{}\n-----END OPENSSH PRIVATE KEY-----", KEY_BODY.join("\n"));
        let block = if json { serde_json::to_string(&block).unwrap() } else { block };
        let text = format!("{before}\n{block}\n{after}");
        let out = run(text.as_bytes(), &cuts);
        for line in KEY_BODY {
            prop_assert!(leaks(&out, line).is_none(), "key leaks: {:?}", String::from_utf8_lossy(&out));
        }
    }
}

#[test]
fn a_line_without_end_is_released_in_bounded_pieces_without_cutting_a_secret() {
    let secret = PLANTS[0].0;
    let mut text = Vec::new();
    while text.len() < 300 * 1024 {
        text.extend_from_slice(b"abc def ghi jkl ");
        text.extend_from_slice(secret.as_bytes());
        text.push(b' ');
    }
    let mut r = Redactor::new(rules());
    let mut out = Vec::new();
    for chunk in text.chunks(4093) {
        r.push(chunk, &mut out);
    }
    let before_finish = out.len();
    r.finish(&mut out);
    let held = out.len() - before_finish;
    assert!(
        before_finish > 0 && held <= 64 * 1024,
        "held back {held} of {}",
        out.len()
    );
    assert!(
        leaks(&out, secret).is_none(),
        "no secret is split at a release point"
    );
    let count = r.counts().get("github").copied().unwrap_or(0) as usize;
    let planted = text
        .windows(secret.len())
        .filter(|w| *w == secret.as_bytes())
        .count();
    assert_eq!(count, planted, "every planted secret counted once");
}

/// Secrets of every family (`data/families.tsv`), as printed in context.
fn family_plants() -> &'static [(String, String)] {
    static ROWS: OnceLock<Vec<(String, String)>> = OnceLock::new();
    ROWS.get_or_init(|| {
        family_rows()
            .into_iter()
            .map(|(_, secret, line)| (line, secret))
            .collect()
    })
}

/// Whether `out` is `input` with some ranges replaced by `[REDACTED]`: every byte of the output
/// is accounted for, and nothing was dropped without a marker in its place.
fn accounted(input: &[u8], out: &[u8]) -> bool {
    let marker = b"[REDACTED]";
    let mut pieces = Vec::new();
    let mut rest = out;
    let markers = aho_corasick::AhoCorasick::new([marker]).unwrap();
    while let Some(p) = markers.find(rest).map(|m| m.start()) {
        pieces.push(&rest[..p]);
        rest = &rest[p + marker.len()..];
    }
    pieces.push(rest);
    // memmem, not an automaton: a piece can be the whole 300 KiB line, and building a DFA for a
    // pattern that long took seconds per case (minutes per run on a loaded machine).
    let find = |hay: &[u8], needle: &[u8]| memchr::memmem::find(hay, needle);
    if !input.starts_with(pieces[0]) {
        return false;
    }
    let mut at = pieces[0].len();
    let n = pieces.len();
    for (i, piece) in pieces.iter().enumerate().skip(1) {
        let from = at + 1; // each marker stands for at least one byte
        if from > input.len() {
            return false;
        }
        if i == n - 1 {
            return input.len() >= from + piece.len() && input.ends_with(piece);
        }
        match find(&input[from..], piece) {
            Some(p) => at = from + p + piece.len(),
            None => return false,
        }
    }
    at == input.len()
}

fn json_levels(s: &str, n: usize) -> String {
    let mut s = s.to_string();
    for _ in 0..n {
        let q = serde_json::to_string(&s).unwrap();
        s = q[1..q.len() - 1].to_string();
    }
    s
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Every family, at a random offset of a line up to 4 MiB, JSON-escaped 0–3 times, an escape
    /// spliced in, fed in random chunks: no secret and no 12-byte piece of one comes out, and the
    /// output is the input with ranges replaced by markers.
    #[test]
    fn every_family_at_any_offset_of_long_lines(
        picks in prop::collection::vec((0usize..10_000, 0usize..4, prop::bool::ANY, 0usize..10_000), 1..4),
        len_class in 0usize..4,
        fill_len in 0usize..1_000_000,
        chunk in prop_oneof![1usize..64, 64usize..8192, 8192usize..(1 << 20)],
    ) {
        let plants = family_plants();
        // Lines of any length up to 4 MiB (`redact_leaks` also drives 4 MiB lines at fixed offsets).
        let total = [2_000, 70_000, 300_000, 4 << 20][len_class].min(fill_len * 8 + 2_000);
        let parts: Vec<(usize, String, String)> = picks
            .iter()
            .map(|&(i, json, ansi, at)| {
                let (line, secret) = &plants[i % plants.len()];
                let mut text = line.clone();
                if ansi && secret.len() > 4 {
                    let mid = secret.len() / 2;
                    text = text.replacen(secret, &format!("{}\x1b[33m{}", &secret[..mid], &secret[mid..]), 1);
                }
                (at * total / 10_000, json_levels(&text, json), secret.clone())
            })
            .collect();
        let input = planted_line(parts.iter().map(|(at, text, _)| (*at, text.as_str())), total);
        let out = redact_in_chunks(&input, chunk);
        let visible = strip_ansi(&out);
        // What the plants print around their secrets, every secret taken out.
        let secrets: Vec<&str> = parts.iter().map(|(_, _, secret)| secret.as_str()).collect();
        let shown = shown_around(
            picks.iter().map(|&(i, ..)| plants[i % plants.len()].0.as_str()),
            &secrets,
        );
        for (_, _, secret) in &parts {
            prop_assert!(
                leaks_beyond(&out, secret, shown.as_bytes()).is_none()
                    && leaks_beyond(&visible, secret, shown.as_bytes()).is_none(),
                "{:?} leaks", secret);
        }
        prop_assert!(accounted(&input, &out), "output not accounted for");
    }
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

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Every family first seen encoded: its line percent-encoded (in a query string) or in
    /// base64 (standard or URL-safe, padded or not), at a random offset of a line up to 300 KB,
    /// fed in random chunks. No piece of a secret comes out, raw or encoded, and the output is
    /// the input with ranges replaced by markers.
    #[test]
    fn every_family_first_seen_encoded(
        picks in prop::collection::vec((0usize..10_000, 0usize..4, 0usize..10_000), 1..4),
        len_class in 0usize..3,
        fill_len in 0usize..100_000,
        chunk in prop_oneof![1usize..64, 64usize..8192, 8192usize..(1 << 20)],
    ) {
        use base64::Engine;
        use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
        let plants = family_plants();
        let total = [2_000, 70_000, 300_000][len_class].min(fill_len * 4 + 2_000);
        let parts: Vec<(usize, String, String)> = picks
            .iter()
            .map(|&(i, enc, at)| {
                let (line, secret) = &plants[i % plants.len()];
                let text = match enc {
                    0 => format!("GET /cb?state=1&q={}&page=2", percent_all(line)),
                    1 => format!("next={}", percent_all(&percent_all(line))),
                    2 => format!("data: {}", STANDARD.encode(line)),
                    _ => format!("token.{}.sig", URL_SAFE_NO_PAD.encode(line)),
                };
                (at * total / 10_000, text, secret.clone())
            })
            .collect();
        let input = planted_line(parts.iter().map(|(at, text, _)| (*at, text.as_str())), total);
        let out = redact_in_chunks(&input, chunk);
        // What a reader who decodes the output sees (escapes of escapes too).
        let decoded = percent_decoded(&percent_decoded(&out));
        // What the plants print around their secrets, every secret taken out: another plant's
        // `"access_token":` key, decoded, is the first 12 bytes of Braintree's
        // `access_token$production$…` and no leak of it.
        let secrets: Vec<&str> = parts.iter().map(|(_, _, secret)| secret.as_str()).collect();
        let shown = shown_around(
            picks.iter().map(|&(i, ..)| plants[i % plants.len()].0.as_str()),
            &secrets,
        );
        for (_, _, secret) in &parts {
            prop_assert!(
                leaks_beyond(&out, secret, shown.as_bytes()).is_none()
                    && leaks_beyond(&decoded, secret, shown.as_bytes()).is_none(),
                "{:?} leaks", secret);
        }
        prop_assert!(accounted(&input, &out), "output not accounted for");
    }
}
