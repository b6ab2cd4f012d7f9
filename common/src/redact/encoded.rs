//! Secrets whose first appearance is encoded: percent-encoded (a query string, a form body, a
//! URL's user-info) or base64 (a config fragment, a Kubernetes Secret's `data:`, a
//! `.dockerconfigjson`, a JWT's payload). Known and learned values are matched in their encodings
//! by `known`; this module finds secrets nothing taught before.
//!
//! * **Percent escapes.** A line holding `%XX` is also matched decoded; each decoded byte
//!   remembers the escape it came from (the shape of `view`), so what the rules find maps back to
//!   the encoded bytes, escapes included.
//! * **Base64 runs.** A run of the base64 alphabets (standard or URL-safe, with its padding) of
//!   [`MIN_RUN`]+ bytes that decodes, at one of the four alignments, to at least [`MIN_TEXT`]
//!   printable bytes in a row is decoded and matched line by line; a secret inside replaces the
//!   whole run.
//!
//! Decoded text is matched by every rule, this one included, down to [`MAX_DEPTH`] levels
//! (base64 inside base64, `%252F`). What the rules find in decoded text is learned, so its
//! plain and encoded repeats are redacted like any learned value. Both passes start only where
//! the prefilter saw evidence: a `%` before two hex digits ([`next_escape`]), or a long run that
//! decodes to text ([`run_holds_text`]).

use super::key;
use super::known::ValueMatcher;
use super::rules::{Rules, Span, Tail};
use super::view::View;
use base64::Engine;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// How many decoding levels deep rules look.
pub(crate) const MAX_DEPTH: u8 = 3;
/// Shortest base64 run looked into.
pub(crate) const MIN_RUN: usize = 20;
/// Printable bytes in a row (whole groups of three) a run must decode to somewhere.
pub(crate) const MIN_TEXT: usize = 12;
/// How far beyond a prefilter run the base64 run it belongs to is looked at.
const REACH: usize = 64;
/// How much of the start of a base64 run the prefilter decodes, looking for text.
const HEAD: usize = 48;

const NOT_B64: u8 = 0xff;

/// Six-bit values of both base64 alphabets (`+`/`-` are 62, `/`/`_` are 63).
const B64: [u8; 256] = {
    let mut t = [NOT_B64; 256];
    let mut i = 0;
    while i < 26 {
        t[b'A' as usize + i] = i as u8;
        t[b'a' as usize + i] = 26 + i as u8;
        i += 1;
    }
    let mut d = 0;
    while d < 10 {
        t[b'0' as usize + d] = 52 + d as u8;
        d += 1;
    }
    t[b'+' as usize] = 62;
    t[b'-' as usize] = 62;
    t[b'/' as usize] = 63;
    t[b'_' as usize] = 63;
    t
};

fn is_b64(b: u8) -> bool {
    B64[b as usize] != NOT_B64
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// The byte the percent escape at `buf[i..]` stands for, if one is there.
fn escape_at(buf: &[u8], i: usize) -> Option<u8> {
    if buf.get(i) != Some(&b'%') {
        return None;
    }
    let (h, l) = (hex(*buf.get(i + 1)?)?, hex(*buf.get(i + 2)?)?);
    Some(h << 4 | l)
}

/// The first percent escape in `hay` (evidence that the line needs its decoded view matched),
/// the first `@tcp(` or `@unix(` of a Go MySQL DSN (`USER:VALUE@tcp(HOST)/DB`), whose
/// password may make no run and whose line may name no secret (`GOOSE_DBSTRING=…`), or the
/// first password hash (htpasswd's `$apr1$…`, bcrypt's `$2b$…`, crypt(3)'s `$6$…`, `$5$…`,
/// yescrypt's `$y$…`, Argon2's `$argon2id$…`), cut by `.` and `/` into pieces too short for a run: one pass looks for
/// the three bytes.
pub(crate) fn next_escape_dsn_or_hash(hay: &[u8]) -> Option<usize> {
    memchr::memchr3_iter(b'%', b'@', b'$', hay).find(|&p| match hay[p] {
        b'%' => escape_at(hay, p).is_some(),
        b'@' => hay[p + 1..].starts_with(b"tcp(") || hay[p + 1..].starts_with(b"unix("),
        _ => password_hash_at(&hay[p..]),
    })
}

/// Whether `rest` starts with a password hash's prefix: `$apr1$`, `$2a$`, `$2b$`, `$2y$`,
/// `$5$`, `$6$`, `$y$` or `$argon2`.
fn password_hash_at(rest: &[u8]) -> bool {
    match rest {
        [b'$', b'5' | b'6' | b'y', b'$', ..] => true,
        [b'$', b'2', b'a' | b'b' | b'y', b'$', ..] => true,
        _ => rest.starts_with(b"$apr1$") || rest.starts_with(b"$argon2"),
    }
}

/// The first percent escape in `hay`.
pub(crate) fn next_escape(hay: &[u8]) -> Option<usize> {
    let mut at = 0;
    while let Some(p) = memchr::memchr(b'%', &hay[at..]) {
        if escape_at(hay, at + p).is_some() {
            return Some(at + p);
        }
        at += p + 1;
    }
    None
}

fn printable(b: u8) -> bool {
    (0x20..0x7f).contains(&b) || matches!(b, b'\t' | b'\n' | b'\r')
}

/// The three bytes four base64 bytes stand for (all valid).
fn group(q: &[u8]) -> [u8; 3] {
    let v = |i: usize| u32::from(B64[q[i] as usize]);
    let n = v(0) << 18 | v(1) << 12 | v(2) << 6 | v(3);
    [(n >> 16) as u8, (n >> 8) as u8, n as u8]
}

/// Whether `b` can start a group that decodes to a printable first byte: its six bits are the
/// top of a byte in 0x08..0x7f (`C`, `D`, `I`–`Z`, `a`–`f`). One table read rejects most groups
/// of identifiers, hashes and binary.
fn may_lead(b: u8) -> bool {
    (2..32).contains(&B64[b as usize])
}

/// Where, in base64 run `run`, text starts: the offset of the first of [`MIN_TEXT`] / 3 groups
/// in a row that decode to printable bytes, at any of the four alignments.
fn text_start(run: &[u8]) -> Option<usize> {
    let need = MIN_TEXT / 3;
    let printable_at = |g: usize| {
        (0..need).all(|k| {
            group(&run[g + 4 * k..g + 4 * k + 4])
                .iter()
                .all(|&b| printable(b))
        })
    };
    if run.len() < 4 * need {
        return None;
    }
    if run.len() <= 64 {
        // A bit per byte that may lead a group; `x` keeps the offsets whose four group leads
        // all may: most runs of identifiers, hashes and binary have none, at one table read a
        // byte.
        let lead = run
            .iter()
            .enumerate()
            .fold(0u64, |m, (i, &b)| m | u64::from(may_lead(b)) << i);
        let mut x = (0..need).fold(u64::MAX, |x, k| x & lead >> (4 * k));
        x &= u64::MAX >> (64 - (run.len() - 4 * need + 1));
        while x != 0 {
            let g = x.trailing_zeros() as usize;
            if printable_at(g) {
                return Some(g);
            }
            x &= x - 1;
        }
        return None;
    }
    (0..4).find_map(|align| {
        let mut streak = 0;
        let mut g = align;
        while g + 4 <= run.len() {
            if may_lead(run[g]) && group(&run[g..g + 4]).iter().all(|&b| printable(b)) {
                streak += 1;
                if streak == need {
                    return Some(g + 4 - 4 * need);
                }
            } else {
                streak = 0;
            }
            g += 4;
        }
        None
    })
}

/// The base64 runs of `buf[lo..hi]`, as `(start, end)`: bytes of the two alphabets with the
/// padding after them, [`MIN_RUN`] bytes or more.
fn runs(buf: &[u8], lo: usize, hi: usize) -> impl Iterator<Item = (usize, usize)> + '_ {
    let mut at = lo;
    std::iter::from_fn(move || {
        while at < hi {
            while at < hi && !is_b64(buf[at]) {
                at += 1;
            }
            let s = at;
            while at < hi && is_b64(buf[at]) {
                at += 1;
            }
            let mut e = at;
            while e < hi && e - at < 2 && buf[e] == b'=' {
                e += 1;
            }
            at = e.max(at);
            if e - s >= MIN_RUN {
                return Some((s, e));
            }
        }
        None
    })
}

/// Whether a run of token bytes (`hay[s..e]`, found by the prefilter) belongs to a base64 run
/// that decodes to text: then its line is matched.
///
/// The run is widened by at most [`REACH`] bytes each side, over base64 bytes the prefilter does
/// not count as token bytes (`+`, `/`: a megabyte of base64 is thousands of runs, and each looks
/// only near itself).
pub(crate) fn run_holds_text(hay: &[u8], s: usize, e: usize) -> bool {
    let ok = |b: u8| is_b64(b) || b == b'=';
    let floor = s.saturating_sub(REACH);
    let lo = hay[floor..s]
        .iter()
        .rposition(|&b| !ok(b))
        .map_or(floor, |p| floor + p + 1);
    let ceil = (e + REACH).min(hay.len());
    let hi = hay[e..ceil]
        .iter()
        .position(|&b| !ok(b))
        .map_or(ceil, |p| e + p);
    if hi - lo <= 64 && !may_hold_text_at(hay, lo, hi) {
        return false;
    }
    // Text starts near a run's start (names glued before it end at `=`, which splits runs):
    // only the first bytes of each run are looked at here; a line found is matched whole.
    runs(hay, lo, hi).any(|(a, b)| b > s && a < e && text_start(&hay[a..b.min(a + HEAD)]).is_some())
}

/// Whether some base64 text could start in `window` (64 bytes at most): a place where 16
/// bytes in a row are base64 or padding and the four group leads among them may lead (see
/// [`may_lead`]). Every text [`text_start`] finds in a run of `window` has one, so a window
/// without one holds none; most windows of identifiers, paths and numbers have none. Bytes are
/// classified 16 at a time (SIMD compares, as the prefilter's), the rest is shifts of two masks.
#[cfg(test)]
fn may_hold_text(window: &[u8]) -> bool {
    may_hold_text_at(window, 0, window.len())
}

/// Whether some base64 text could start in `hay[lo..hi]`, as `may_hold_text` (the tests' form)
/// tells of a window: read in place where 64 bytes follow `lo` (bytes past `hi` are masked
/// off), as a copy into a block would be read back before its stores are done, which stalled
/// the loads (17 % of this check's samples).
fn may_hold_text_at(hay: &[u8], lo: usize, hi: usize) -> bool {
    use wide::i8x16;
    debug_assert!(hi - lo <= 64);
    // Zeroed and filled only at the end of `hay`, not on every call.
    let copy: [u8; 64];
    let block: &[u8; 64] = match hay.get(lo..lo + 64) {
        Some(b) => b.try_into().expect("64 bytes"),
        None => {
            let mut c = [0u8; 64];
            c[..hi - lo].copy_from_slice(&hay[lo..hi]);
            copy = c;
            &copy
        }
    };
    let inside = if hi - lo == 64 {
        !0u64
    } else {
        (1u64 << (hi - lo)) - 1
    };
    let range = |v: i8x16, lo: u8, hi: u8| {
        v.simd_gt(i8x16::splat(lo as i8 - 1)) & v.simd_lt(i8x16::splat(hi as i8 + 1))
    };
    // Only the 16-byte pieces the window covers, and the leads first: four of them four
    // bytes apart are rare in identifiers and numbers, so most windows end here after two
    // compares a piece.
    let pieces = (hi - lo).div_ceil(16);
    let vector = |k: usize| {
        let c: [u8; 16] = block[16 * k..16 * k + 16].try_into().expect("16 bytes");
        i8x16::new(wide::bytemuck::cast(c))
    };
    let mut lead = 0u64;
    for k in 0..pieces {
        let v = vector(k);
        let l = range(v, b'C', b'Z') | range(v, b'a', b'f');
        lead |= u64::from(l.to_bitmask()) << (16 * k);
    }
    let lead = lead & inside;
    let leads = lead & lead >> 4 & lead >> 8 & lead >> 12;
    if leads == 0 {
        return false;
    }
    let mut ok = 0u64;
    for k in 0..pieces {
        let v = vector(k);
        let letters = range(v, b'A', b'Z') | range(v, b'a', b'z');
        let o = letters
            | range(v, b'0', b'9')
            | [b'+', b'-', b'/', b'_', b'=']
                .iter()
                .fold(i8x16::splat(0), |m, &b| {
                    m | v.simd_eq(i8x16::splat(b as i8))
                });
        ok |= u64::from(o.to_bitmask()) << (16 * k);
    }
    // Bit g: bytes g ..= g + 15 all base64 or padding; and leads at g, g + 4, g + 8, g + 12.
    let mut w = ok & inside;
    w &= w >> 1;
    w &= w >> 2;
    w &= w >> 4;
    w &= w >> 8;
    w & leads != 0
}

/// Decoding that takes what a run holds: padding or none, stray low bits in the last byte.
const LENIENT: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_decode_padding_mode(DecodePaddingMode::Indifferent)
    .with_decode_allow_trailing_bits(true);
const STANDARD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);
const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);

/// Base64 `run` decoded from `from` (an offset at a group boundary), in the alphabet its bytes
/// say; a byte too many for a whole last byte is left out. Empty if it mixes the alphabets.
fn decode(run: &[u8], from: usize) -> Vec<u8> {
    let body = &run[from..];
    let body = &body[..body.iter().position(|&b| b == b'=').unwrap_or(body.len())];
    let body = &body[..body.len() - usize::from(body.len() % 4 == 1)];
    let engine = if body.iter().any(|&b| b == b'-' || b == b'_') {
        &URL_SAFE
    } else {
        &STANDARD
    };
    engine.decode(body).unwrap_or_default()
}

/// How many escapes from `i` on decode to one character: 1 for ASCII, 2 to 4 for a valid UTF-8
/// sequence, none for a byte that begins none (`%DB` of Windows' `%DB_PASSWORD%` is no
/// escape: decoded, the name became a value).
fn escaped_char(view: &[u8], i: usize) -> Option<usize> {
    let b = escape_at(view, i)?;
    let n = match b {
        0x00..=0x7f => return Some(1),
        0xc2..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf4 => 4,
        _ => return None,
    };
    (1..n)
        .all(|k| escape_at(view, i + 3 * k).is_some_and(|c| (0x80..0xc0).contains(&c)))
        .then_some(n)
}

/// The percent-decoded view of `view`, each byte mapped to the escape (or byte) it stands for.
fn percent_decoded(view: &[u8]) -> View {
    let mut v = View::empty(view.len());
    let mut i = 0;
    while i < view.len() {
        match escaped_char(view, i) {
            Some(n) => {
                for _ in 0..n {
                    let b = escape_at(view, i).expect("an escape");
                    v.push(b, i, i + 3);
                    i += 3;
                }
            }
            None => {
                v.push(view[i], i, i + 1);
                i += 1;
            }
        }
    }
    v
}

/// Spans of the secrets in decoded `text` (offsets into it), matched line by line with every
/// rule at `depth`; the values found are learned. A private key's header with a body on the
/// next line is replaced to its footer (or the end of the text).
fn scan_text(rules: &Rules, text: &[u8], learned: Option<&ValueMatcher>, depth: u8) -> Vec<Span> {
    let mut found = Vec::new();
    let mut start = 0;
    while start < text.len() {
        let end = text[start..]
            .iter()
            .position(|&b| b == b'\n' || b == b'\r')
            .map_or(text.len(), |p| start + p);
        let line = &text[start..end];
        let (spans, tail, learn) = rules.spans_at(line, true, learned, depth);
        for (s, e) in learn {
            rules.learned.add(&line[s..e]);
        }
        found.extend(spans.into_iter().map(|s| Span {
            start: start + s.start,
            end: start + s.end,
            ctx: start + s.ctx,
            ..s
        }));
        if let Tail::Header(h) = tail {
            let rest = &text[(end + 1).min(text.len())..];
            let next = rest
                .iter()
                .position(|&b| b == b'\n' || b == b'\r')
                .map_or(rest, |p| &rest[..p]);
            if key::classify_line(rules, next, true, true) == key::Next::Body {
                let after = start + h;
                let stop = rules
                    .key_end
                    .find(&text[after..])
                    .map_or(text.len(), |m| after + m.end());
                found.push(Span {
                    start: after,
                    end: stop,
                    rule: 0,
                    ctx: after,
                });
            }
        }
        start = end + 1;
    }
    found
}

/// Add to `found` the spans of `view` (offsets into it) that hold a secret once decoded: the
/// escapes of a percent-encoded one, the whole of a base64 run with one inside. `depth` is the
/// level of `view` (0: the line itself).
/// `learn` are the values the rules found in `view` itself: an encoded one is learned decoded
/// too (`password=p%26ss` teaches `p&ss`, which the decoded view alone, reading `&` as the end of
/// the value, would not).
pub(crate) fn spans(
    rules: &Rules,
    view: &[u8],
    learned: Option<&ValueMatcher>,
    depth: u8,
    learn: &[(usize, usize)],
    found: &mut Vec<Span>,
) {
    if depth >= MAX_DEPTH {
        return;
    }
    if next_escape(view).is_some() {
        for &(s, e) in learn {
            if next_escape(&view[s..e]).is_some() {
                rules.learned.add(&percent_decoded(&view[s..e]).bytes);
            }
        }
        let d = percent_decoded(view);
        for s in scan_text(rules, &d.bytes, learned, depth + 1) {
            let (start, end) = d.original(s.start, s.end);
            let ctx = d.original(s.ctx, s.ctx + 1).0.min(start);
            found.push(Span {
                start,
                end,
                ctx,
                ..s
            });
        }
    }
    for (s, e) in runs(view, 0, view.len()) {
        let run = &view[s..e];
        let Some(from) = text_start(run) else {
            continue;
        };
        // Text may start inside the run (a name glued before it); it decodes from the first
        // group of the alignment text was found at.
        let text = decode(run, from % 4);
        let inner = scan_text(rules, &text, learned, depth + 1);
        if let Some(rule) = inner.iter().map(|s| s.rule).min() {
            found.push(Span {
                start: s,
                end: e,
                rule,
                ctx: s,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::Rng;
    use proptest::test_runner::{RngAlgorithm, TestRng};

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    /// [`run_holds_text`] without the quick look: the runs of the window and their text.
    fn holds_text_slowly(hay: &[u8], lo: usize, hi: usize, s: usize, e: usize) -> bool {
        runs(hay, lo, hi)
            .any(|(a, b)| b > s && a < e && text_start(&hay[a..b.min(a + HEAD)]).is_some())
    }

    #[test]
    fn the_quick_look_passes_every_window_that_holds_text() {
        // Deterministic: the same text every run.
        let mut rng = TestRng::deterministic_rng(RngAlgorithm::XorShift);
        let mut next = || rng.next_u64();
        let words = [
            "password=hunter22",
            "token: abc",
            "user:pass",
            "{\"k\":1}",
            "hello world",
        ];
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_=.: ";
        let (mut with_text, mut checked) = (0, 0);
        for case in 0..20_000 {
            let mut w = Vec::new();
            while w.len() < 64 {
                match next() % 3 {
                    0 => {
                        let t = b64(words[(next() % 5) as usize]);
                        let from = (next() % 3) as usize;
                        w.extend_from_slice(&t.as_bytes()[from.min(t.len())..]);
                    }
                    _ => {
                        for _ in 0..1 + next() % 24 {
                            w.push(alphabet[(next() % alphabet.len() as u64) as usize]);
                        }
                    }
                }
            }
            let n = 16 + (case % 49);
            w.truncate(n);
            let slow = holds_text_slowly(&w, 0, n, 0, n);
            with_text += usize::from(slow);
            checked += 1;
            assert!(
                !slow || may_hold_text(&w),
                "{:?} holds text the quick look missed",
                String::from_utf8_lossy(&w)
            );
            // Read in place, with base64 of text after the window, the answer is the same.
            let mut hay = alphabet[..(next() % 9) as usize].to_vec();
            let lo = hay.len();
            hay.extend_from_slice(&w);
            hay.extend_from_slice(b64("password=hunter22 and more text").as_bytes());
            assert_eq!(
                may_hold_text_at(&hay, lo, lo + n),
                may_hold_text(&w),
                "{:?} read in place",
                String::from_utf8_lossy(&w)
            );
        }
        assert!(
            with_text > 1_000,
            "{with_text} of {checked} windows hold text"
        );
        // The quick look rejects what has no text: identifiers, paths, numbers.
        for w in [
            &b"tests::abcdefghijklmnop"[..],
            b"2025-05-01T12:34:56.789Z",
            b"io-6f17d22bba15001f/serde-1",
        ] {
            assert!(!may_hold_text(w), "{:?}", String::from_utf8_lossy(w));
        }
    }

    #[test]
    fn escapes_are_found_and_decoded_with_their_origin() {
        assert_eq!(next_escape(b"100% done %zz %2"), None);
        assert_eq!(next_escape(b"50% a%2Fb"), Some(5));
        let v = percent_decoded(b"a%2Fb%41");
        assert_eq!(v.bytes, b"a/bA");
        assert_eq!(v.original(1, 2), (1, 4));
        assert_eq!(v.original(3, 4), (5, 8));
    }

    #[test]
    fn text_is_told_from_binary_at_any_alignment() {
        let text = b64("user=app password=hunter2 host=db");
        assert_eq!(text_start(text.as_bytes()), Some(0));
        // Glued behind a name, the text starts at the alignment of its first group.
        let glued = format!("abc{text}");
        let from = text_start(glued.as_bytes()).unwrap();
        assert_eq!(from % 4, 3);
        assert_eq!(
            decode(glued.as_bytes(), from % 4),
            b"user=app password=hunter2 host=db"
        );
        // Hashes, UUIDs, identifiers, a PNG and a sha512 digest do not decode to text.
        for not_text in [
            "9fceb02d0ae598e95dc970b74767f19372d61af8",
            "4f1c2a3b-1d2e-4f5a-8b9c-0d1e2f3a4b5c",
            "very_long_function_name_in_snake_case",
            "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg",
            "z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg",
        ] {
            assert_eq!(text_start(not_text.as_bytes()), None, "{not_text}");
        }
    }

    #[test]
    fn short_and_long_runs_find_text_alike() {
        // The bit-mask path (runs up to 64 bytes) and the loop agree on where text starts.
        let text = b64("-- user=app password=hunter2 host=db port=5432 sslmode=require --");
        for glue in ["", "x", "xy", "xyz", "wxyz"] {
            let run = format!("{glue}{text}");
            let long = text_start(run.as_bytes()).unwrap();
            let short = text_start(&run.as_bytes()[..64]).unwrap();
            assert_eq!(long % 4, short % 4, "{glue:?}");
            assert_eq!(short % 4, glue.len() % 4);
        }
    }

    #[test]
    fn runs_end_at_their_padding() {
        let line = b"x: YWJjZGVmZ2hpamtsbW5vcA== next=aGVsbG8gd29ybGQgYWdhaW4K";
        let got: Vec<_> = runs(line, 0, line.len()).collect();
        assert_eq!(got, vec![(3, 27), (33, line.len())]);
        assert_eq!(decode(&line[3..27], 0), b"abcdefghijklmnop");
    }
}
