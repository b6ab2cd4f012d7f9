//! Secrets in data fields: a secret's name given as data, its value in the field beside it
//! (`{"name": "DB_PASSWORD", "value": "…"}`), an HTML form's password field, a JSON Web
//! Key's private members, Composer's tokens keyed by host, a URL's `key` parameter. The forms
//! that give the value on the next line are `next_line`'s.

use super::names::eq_any;
use super::values::plausible;
use super::{Found, Strength, gaps, quoted_or_word, run_end, skip_read_number, value};

/// Keys whose value names a variable or parameter (`{"name": "DB_PASSWORD", …}`), and the keys
/// of the field beside them that hold its value.
pub(super) const NAME_KEYS: &[&[u8]] = &[b"name", b"key", b"parameterkey", b"parametername"];
pub(super) const VALUE_KEYS: &[&[u8]] = &[b"value", b"parametervalue"];

/// The members of a JSON Web Key that make it private (RFC 7518): RSA's private exponent and
/// primes, an EC or OKP key's `d`, a symmetric key's `k`.
const JWK_PRIVATE: &[&[u8]] = &[b"d", b"p", b"q", b"dp", b"dq", b"qi", b"k"];

/// A private JSON Web Key, `hit` at its `"kty`: the values of its private members, from the
/// first to the last (in whatever order the members come; public members between them go
/// too), the key's object its context. A public key has none.
pub(super) fn private_jwk(line: &[u8], hit: usize) -> Option<Found> {
    if line.get(skip(line, hit + 5, b" \t")) != Some(&b':') {
        return None; // `jwk["kty"]`, a key's name in code
    }
    let open = line[..hit].iter().rposition(|&b| b == b'{')?;
    let close = hit + line[hit..].iter().position(|&b| b == b'}')?;
    let (mut first, mut last) = (None, 0);
    let mut at = open + 1;
    while let Some(q) = line[at..close].iter().position(|&b| b == b'"') {
        let k = at + q + 1;
        let k_end = k + line[k..close].iter().position(|&b| b == b'"')?;
        let colon = skip(line, k_end + 1, b" \t");
        if line.get(colon) != Some(&b':') {
            return None;
        }
        let v = skip(line, colon + 1, b" \t");
        if line.get(v) != Some(&b'"') {
            // A number, a list (`key_ops`, `oth`): on to the next member.
            at = v + line[v..close].iter().position(|&b| b == b',')?;
            continue;
        }
        let v_end = v + 1 + line[v + 1..close].iter().position(|&b| b == b'"')?;
        if eq_any(&line[k..k_end], JWK_PRIVATE) && v_end - v > 8 {
            first.get_or_insert(v + 1);
            last = v_end;
        }
        at = v_end + 1;
    }
    let start = first?;
    Some(Found {
        ctx: open,
        start,
        end: last,
        list: None,
    })
}

/// An HTML password field's value: `line[s..e]` the `password` of `type="password"` inside an
/// `<input …>` tag, the value its `value` attribute before or after it (`<input
/// type="password" value="…">`, the form a page's source or a template shows).
pub(super) fn password_field(line: &[u8], s: usize, e: usize) -> Option<Found> {
    if !line[s..e].eq_ignore_ascii_case(b"password") {
        return None;
    }
    let eq = skip_back(line, s, b"\"'");
    if eq == 0 || line[eq - 1] != b'=' || !line[..eq - 1].to_ascii_lowercase().ends_with(b"type") {
        return None;
    }
    let open = line[..s].iter().rposition(|&b| b == b'<')?;
    if !line[open..]
        .get(..7)
        .is_some_and(|t| t.eq_ignore_ascii_case(b"<input "))
        || line[open..s].contains(&b'>')
    {
        return None;
    }
    let close = e + line[e..].iter().position(|&b| b == b'>' || b == b'\n')?;
    let tag = &line[open..close];
    let at = tag
        .windows(7)
        .position(|w| w.eq_ignore_ascii_case(b" value="))?;
    let mut v = open + at + 7;
    let quote = match line[v] {
        q @ (b'"' | b'\'') => {
            v += 1;
            Some(q)
        }
        _ => None,
    };
    let end = match quote {
        Some(q) => v + line[v..close].iter().position(|&b| b == q)?,
        None => {
            v + line[v..close]
                .iter()
                .position(|b| b.is_ascii_whitespace() || *b == b'/')
                .unwrap_or(close - v)
        }
    };
    // The context starts at the name, or at the value when the value comes first.
    value(line, s.min(v), v, end, Strength::Strong, b"password", false)
}

/// A secret's name given as data, `line[s..e]`, the value of a `name`-like key, and its value in
/// a `value`-like field beside it in the same object: Kubernetes and ECS environment lists
/// (`{"name": "DB_PASSWORD", "value": "…"}`, `- {name: X, value: …}`), CloudFormation
/// parameters (`"ParameterKey": "DbPassword", "ParameterValue": "…"`).
pub(super) fn beside(
    line: &[u8],
    s: usize,
    e: usize,
    strength: Strength,
    lname: &[u8],
) -> Option<Found> {
    // Back from the name: a quote, blanks, `:`, blanks, a quote, the key. (The name may end a
    // path: AWS's parameter `"Name": "/prod/db/password"`.)
    let path = skip_back(line, s, b"/");
    let path = if path < s {
        let from = line[..path]
            .iter()
            .rposition(|b| !(b.is_ascii_alphanumeric() || b"_.-/".contains(b)))
            .map_or(0, |i| i + 1);
        if from > 0 && matches!(line[from - 1], b'"' | b'\'') {
            from
        } else {
            s
        }
    } else {
        s
    };
    let p = skip_back(line, skip_back(line, path, b"\"'"), b" \t");
    // `:` in JSON and YAML, `=` between XML attributes (`<add key="ApiKey" value="…"/>`).
    let op = match p.checked_sub(1).map(|i| line[i]) {
        Some(c @ (b':' | b'=')) => c,
        _ => return None,
    };
    let p = skip_back(line, skip_back(line, p - 1, b" \t"), b"\"'");
    let k = line[..p]
        .iter()
        .rposition(|b| !b.is_ascii_alphanumeric())
        .map_or(0, |i| i + 1);
    if !eq_any(&line[k..p], NAME_KEYS) {
        return None;
    }
    // Java's XML properties: `<entry key="db.password">VALUE</entry>`.
    let closed = skip(line, e, b"\"'");
    if op == b'=' && line.get(closed) == Some(&b'>') {
        let v = closed + 1;
        let end = v + line[v..].iter().position(|&b| b == b'<')?;
        if !line[end..].starts_with(b"</") {
            return None;
        }
        return value(line, s, v, end, strength, lname, false);
    }
    // Forward, within the object: the first key after the name's value, after a `,` or, in a
    // view, after the blank a JSON-escaped line break reads as (`- name: X\n  value: …` in a
    // tool's output inside stream-json).
    let mut q = skip(line, e, b"\"' \t\n");
    let blank = line[e..q].iter().any(|b| matches!(b, b' ' | b'\t' | b'\n'));
    match line.get(q) {
        Some(b',') => q = skip(line, q + 1, b"\"' \t\n"),
        // In a view of a file the Read tool shows, the next line's number comes first.
        _ if blank => q = skip_read_number(line, q),
        _ => return None,
    }
    let key_end = |q: usize| {
        q + line[q..]
            .iter()
            .position(|b| !b.is_ascii_alphanumeric())
            .unwrap_or(line.len() - q)
    };
    // Past a few other fields of one scalar each (AWS's `"Type": "SecureString"` between
    // `Name` and `Value`).
    for _ in 0..3 {
        let k = key_end(q);
        if k == q || eq_any(&line[q..k], VALUE_KEYS) {
            break;
        }
        let c = skip(line, skip(line, k, b"\"'"), b" \t");
        if line.get(c) != Some(&op) {
            return None;
        }
        let w = skip(line, c + 1, b" \t");
        let after = match line.get(w) {
            Some(&qc @ (b'"' | b'\'')) => {
                let close = run_end(line, w + 1, Some(qc));
                (line.get(close) == Some(&qc)).then_some(close + 1)
            }
            Some(b) if b.is_ascii_alphanumeric() => Some(
                w + line[w..]
                    .iter()
                    .position(|b| !b.is_ascii_alphanumeric())
                    .unwrap_or(line.len() - w),
            ),
            // An empty object or list (Azure Key Vault's `"tags": {}` between `name` and
            // `value`).
            Some(b'{') if line.get(w + 1) == Some(&b'}') => Some(w + 2),
            Some(b'[') if line.get(w + 1) == Some(&b']') => Some(w + 2),
            _ => None,
        };
        let comma = skip(line, after?, b" \t");
        if line.get(comma) != Some(&b',') {
            return None;
        }
        q = skip(line, comma + 1, b"\"' \t\n");
    }
    let key_end = key_end(q);
    if !eq_any(&line[q..key_end], VALUE_KEYS) {
        return None; // `valueFrom`, another field
    }
    let v = skip(line, skip(line, key_end, b"\"'"), b" \t");
    if line.get(v) != Some(&op) {
        return None;
    }
    let mut v = skip(line, v + 1, b" \t");
    let mut quote = None;
    if let Some(&c @ (b'"' | b'\'')) = line.get(v) {
        quote = Some(c);
        v += 1;
    }
    let end = match quote {
        Some(_) => run_end(line, v, quote),
        // Unquoted in a flow map: up to the `,` or `}` that ends it.
        None => {
            v + line[v..]
                .iter()
                .position(|&b| matches!(b, b',' | b'}' | b']') || b.is_ascii_whitespace())
                .unwrap_or(line.len() - v)
        }
    };
    value(line, s, v, end, strength, lname, false)
}

/// Where `line[p..]` stops holding bytes of `what`.
pub(super) fn skip(line: &[u8], mut p: usize, what: &[u8]) -> usize {
    while p < line.len() && what.contains(&line[p]) {
        p += 1;
    }
    p
}

/// Where `line[..p]` stops ending in bytes of `what`.
pub(super) fn skip_back(line: &[u8], mut p: usize, what: &[u8]) -> usize {
    while p > 0 && what.contains(&line[p - 1]) {
        p -= 1;
    }
    p
}

/// The value of the YAML field `key` (`name:`, `value:`) that starts `line` after blanks and,
/// where `item`, a list item's `- `: its range, without the quotes around it.
pub(super) fn field_value(line: &[u8], key: &[u8], item: bool) -> Option<(usize, usize)> {
    let mut p = skip(line, 0, b" \t");
    if item && line[p..].starts_with(b"- ") {
        p += 2;
    }
    if !line[p..].starts_with(key) {
        return None;
    }
    let mut a = skip(line, p + key.len(), b" \t");
    let mut b = line.iter().rposition(|c| !c.is_ascii_whitespace())? + 1;
    if b > a && matches!(line[a], b'"' | b'\'') && line[b - 1] == line[a] {
        (a, b) = (a + 1, b - 1);
    }
    (a < b).then_some((a, b))
}

/// Composer's `auth.json` keys whose object holds a token for each host (`"bearer":
/// {"repo.example.org": "…"}`); `http-basic`'s hold objects, whose `password` is found by name.
const HOST_TOKENS: &[&[u8]] = &[
    b"bearer",
    b"github-oauth",
    b"gitlab-oauth",
    b"gitlab-token",
    b"bitbucket-oauth",
];

/// Whether `name` (in any case) holds tokens keyed by host (see [`HOST_TOKENS`]).
pub(crate) fn host_tokens_name(name: &[u8]) -> bool {
    // The first letter first: every keyword hit of a scanned line asks.
    name.first()
        .is_some_and(|b| matches!(b | 0x20, b'b' | b'g'))
        && eq_any(name, HOST_TOKENS)
}

/// `"bearer": {"HOST": "VALUE", …}` with the quoted name at `s..e`: the first member's value,
/// marked as a list's first item so that [`super::next_in_list`] reads the others.
pub(super) fn host_tokens(line: &[u8], s: usize, e: usize) -> Option<Found> {
    if s == 0 || line[s - 1] != b'"' || line.get(e) != Some(&b'"') {
        return None;
    }
    let open = past_colon(line, e + 1)?;
    if line.get(open) != Some(&b'{') {
        return None;
    }
    let f = host_member(line, s, gaps(line, open + 1))?;
    Some(Found {
        list: Some(Strength::Strong),
        ..f
    })
}

/// Where a member's value starts when a colon follows `i` (blanks and escaped line breaks
/// skipped on either side).
fn past_colon(line: &[u8], i: usize) -> Option<usize> {
    let colon = gaps(line, i);
    (line.get(colon) == Some(&b':')).then(|| gaps(line, colon + 1))
}

/// The value of the member `"HOST": "VALUE"` at `k` (a host has a dot; a value that is an
/// object, as `http-basic`'s, is none), its name's start `ctx`.
pub(super) fn host_member(line: &[u8], ctx: usize, k: usize) -> Option<Found> {
    let k = skip_read_number(line, k);
    if line.get(k) != Some(&b'"') {
        return None;
    }
    let key_end = k + 1 + line[k + 1..].iter().position(|&c| c == b'"')?;
    if !line[k + 1..key_end].contains(&b'.') {
        return None;
    }
    let v = past_colon(line, key_end + 1)?;
    if line.get(v) != Some(&b'"') {
        return None;
    }
    let (a, b) = quoted_or_word(line, v);
    value(line, ctx, a, b, Strength::Strong, b"token", false)
}

/// Where a URL's `key` parameter is in `url` (`?key=VALUE`, `&key=VALUE`: Google's APIs and
/// many others take their API key so), or VS Code's connection token (`?tkn=VALUE`), as
/// `(start, end)` of its value: to the next `&`, `#`, blank, quote or bracket. Judged as after
/// a weak name: `key=created_at` names a column.
pub(crate) fn url_key(url: &[u8]) -> Option<(usize, usize)> {
    memchr::memchr_iter(b'=', url)
        .filter(|&k| {
            k >= 4 && matches!(url[k - 4], b'?' | b'&') && matches!(&url[k - 3..k], b"key" | b"tkn")
        })
        .find_map(|k| url_key_at(url, k + 1).map(|f| (f.start, f.end)))
}

/// The value of a URL's `key` parameter whose value starts at `v` (see [`url_key`]), at most
/// [`URL_KEY_REACH`] bytes.
pub(crate) fn url_key_at(line: &[u8], v: usize) -> Option<Found> {
    let reach = line.len().min(v + URL_KEY_REACH);
    let end = line[v..reach]
        .iter()
        .position(|b| {
            b.is_ascii_whitespace()
                || matches!(
                    b,
                    b'&' | b'?' | b'#' | b'"' | b'\'' | b'`' | b'<' | b'>' | b')' | b'\\'
                )
        })
        .map_or(reach, |p| v + p);
    let key = &line[v..end];
    // An object's path or a cache key (`?key=uploads/2024/report.pdf`, `user:42:profile`).
    let named = key.iter().any(|b| matches!(b, b'/' | b':' | b'%'));
    (end > v && !named && plausible(key, Strength::Weak)).then_some(Found {
        ctx: v - 4,
        start: v,
        end,
        list: None,
    })
}

/// Longest value of a URL's `key` parameter read.
const URL_KEY_REACH: usize = 512;
