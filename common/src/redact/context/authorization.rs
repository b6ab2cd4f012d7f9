//! The credentials of an `Authorization` header (and `Proxy-Authorization`): after its scheme
//! word, a listed one (`Bearer`, `Basic`, `Digest`, …) or a service's own (`Api-Key`, `SSWS`,
//! `GenieKey`), to the value's end or, for parameters (`Credential=…, Signature=…`), to the
//! line's end; and `Bearer VALUE` without the header's name.

use super::names::Strength;
use super::shell::echoed;
use super::values::plausible;
use super::{COMMAND_REACH, Found, VALUE_REACH, blanks, gaps, run_end, trim_value, value};

/// Scheme words after `Authorization:`.
const SCHEMES: &[&[u8]] = &[
    b"bearer",
    b"basic",
    b"token",
    b"bot",
    b"digest",
    b"negotiate",
    b"apikey",
    b"sso-key",
    b"ntlm",
];

/// The credentials of the header named `lname` at `s`, its value starting at `v` (after its
/// opening quote, if `quote`).
pub(super) fn credentials(
    line: &[u8],
    s: usize,
    v: usize,
    quote: Option<u8>,
    lname: &[u8],
) -> Option<Found> {
    // A scheme named alone, a quote or the line's end right after it (`a "Proxy-Authorization:
    // Basic" header`): prose about the header, no credentials.
    let word = line[v..]
        .iter()
        .take_while(|b| b.is_ascii_alphabetic() || **b == b'-')
        .count();
    if word > 0
        && SCHEMES.contains(&line[v..v + word].to_ascii_lowercase().as_slice())
        && matches!(
            line.get(v + word),
            None | Some(b'"' | b'\'' | b'\n' | b'\r')
        )
    {
        return None;
    }
    // Skip the scheme word; the credentials after it are the secret.
    let start = v;
    let mut v = v;
    let mut params = false;
    let mut listed = true;
    if let Some((w, known)) = scheme_word(line, v) {
        let c = gaps(line, v + w);
        params = line[v..v + w].eq_ignore_ascii_case(b"digest") || parameters(line, c);
        listed = known;
        v = c;
    }
    // Basic credentials encoded where they are given: `Basic $(echo -n 'USER:…' | base64)`
    // (after the header's closing quote too, `'Authorization: Basic '"$(…)"`): the password
    // of the quoted pair the substitution prints.
    let sub = v + usize::from(line[v..].starts_with(b"'\"$("));
    if line[sub..].starts_with(b"\"$(") || line[sub..].starts_with(b"$(") {
        return encoded_pair(line, s, sub + usize::from(line[sub] == b'"'), lname);
    }
    // Parameters (Digest's `username="a", nonce="…", response="…"`, AWS's `Credential=…,
    // SignedHeaders=…, Signature=…`) are comma-separated, some quoted: all of them go, to
    // the line's end or the quote around the header (`curl -H '…'`).
    let end = if params && quote.is_none() {
        // (At most `VALUE_REACH` bytes: a longer value is redacted to there.)
        let stop = |b: u8| b == b'\n' || b == b'\r' || s > 0 && line[s - 1] == b'\'' && b == b'\'';
        let reach = line.len().min(v + VALUE_REACH);
        line[v..reach]
            .iter()
            .position(|&b| stop(b))
            .map_or(reach, |p| v + p)
    } else {
        run_end(line, v, quote)
    };
    // A capitalised word nobody listed before prose is no scheme: the value is judged from
    // its start, as one without a scheme.
    if !listed && !params && !credential_like(trim_value(&line[v..end])) {
        let end = run_end(line, start, quote);
        return value(line, s, start, end, Strength::Strong, lname, false);
    }
    value(line, s, v, end, Strength::Strong, lname, false)
}

/// The password of a quoted `USER:VALUE` that an `echo` or a `printf` prints in the command
/// substitution at `v` (`$(echo -n 'admin:…' | base64)`), its pipe within [`COMMAND_REACH`]
/// bytes: the printed argument as [`echoed`] reads one piped into a command.
fn encoded_pair(line: &[u8], s: usize, v: usize, lname: &[u8]) -> Option<Found> {
    let reach = line.len().min(v + COMMAND_REACH);
    let close = v + line[v..reach].iter().position(|&b| b == b')')?;
    let bar = v + line[v..close].iter().position(|&b| b == b'|')?;
    let (a, b) = echoed(line, bar + 1)?;
    if !matches!(line[a - 1], b'\'' | b'"') {
        return None;
    }
    let colon = a + line[a..b].iter().position(|&c| c == b':')?;
    value(line, s, colon + 1, b, Strength::Strong, lname, false)
}

/// The length of the scheme word at `v` when a blank and more follow it, and whether it is a
/// listed one ([`SCHEMES`], in any case: `Basic`, `token`, `sso-key`). Services name their own
/// (`Api-Key`, `SSWS`, `GenieKey`, `Klaviyo-API-Key`, `Zoho-oauthtoken`, `AWS4-HMAC-SHA256`):
/// any other word of letters, digits, `-` and `_` that starts with a capital letter.
pub(super) fn scheme_word(line: &[u8], v: usize) -> Option<(usize, bool)> {
    let w = line[v..]
        .iter()
        .position(|b| !b.is_ascii_alphanumeric() && *b != b'-' && *b != b'_')?;
    if w == 0 || w > 40 || line.get(v + w) != Some(&b' ') {
        return None;
    }
    let word = line[v..v + w].to_ascii_lowercase();
    if SCHEMES.contains(&word.as_slice()) {
        return Some((w, true));
    }
    // (Not a token's run: a scheme's word has few digits, none among lower-case letters.)
    let word = &line[v..v + w];
    let digits = word.iter().filter(|b| b.is_ascii_digit()).count();
    let token = digits > 4 || digits > 0 && word.iter().any(u8::is_ascii_lowercase);
    (word[0].is_ascii_uppercase()
        && !token
        && !matches!(line.get(blanks(line, v + w)), None | Some(b'\n')))
    .then_some((w, false))
}

/// Whether what follows a scheme word nobody listed is a credential rather than prose
/// (`Authorization: Missing credentials`): a run with a digit or a symbol in it, or a long one.
fn credential_like(c: &[u8]) -> bool {
    plausible(c, Strength::Strong) && (c.len() >= 16 || !c.iter().all(u8::is_ascii_alphabetic))
}

/// Whether the credentials at `c` are parameters (`Credential=…, Signature=…`, Hawk's `id="…",
/// mac="…"`, OAuth 1.0's `oauth_consumer_key="…", …`): a word and `=`.
fn parameters(line: &[u8], c: usize) -> bool {
    let w = line[c..]
        .iter()
        .position(|b| !b.is_ascii_alphanumeric() && *b != b'_' && *b != b'-')
        .unwrap_or(line.len() - c);
    w > 0 && line[c].is_ascii_alphabetic() && line.get(c + w) == Some(&b'=')
}

pub(super) fn bearer(line: &[u8], s: usize, e: usize) -> Option<Found> {
    if line.get(e) != Some(&b' ') {
        return None;
    }
    let mut v = e;
    while v < line.len() && line[v] == b' ' {
        v += 1;
    }
    let end = v + line[v..]
        .iter()
        .position(|&b| !(b.is_ascii_alphanumeric() || b"._~+/=-".contains(&b)))
        .unwrap_or(line.len() - v);
    let val = &line[v..end];
    if val.len() < 8 {
        return None;
    }
    // `bearer authentication`, `Bearer token`: prose (a sentence's stop after it too).
    let word = val.strip_suffix(b".").unwrap_or(val);
    if word.iter().all(u8::is_ascii_lowercase) && word.len() < 24 {
        return None;
    }
    value(line, s, v, end, Strength::Strong, b"bearer", false)
}
