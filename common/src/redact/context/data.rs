//! A secret's name given as data, its value in the field beside it (`{"name": "DB_PASSWORD",
//! "value": "…"}`) or on the next line (`- name: DB_PASSWORD`, then `value: …`).

use super::names::{classify, eq_any, name_byte};
use super::values::{plausible, plausible_item, trim_value};
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

/// What the line after a secret's name gives its value as (see [`name_given_as_data`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NextLine {
    /// A `value:` field (`- name: DB_PASSWORD`, then `value: …`).
    ValueField,
    /// The whole line, trimmed: a YAML block scalar's (`password: |`, `api_key: >-`).
    Whole,
    /// A quoted string: pretty-printed JSON (`"password":` at a line's end).
    Quoted,
    /// The first word: a shell line continued (`DB_PASSWORD=\`, `--password \`).
    FirstWord,
    /// An item of a list, on each line until one that is not: a quoted string or a word and
    /// its comma (`"api_keys": [`, then `"…",`).
    Items,
    /// As [`NextLine::Items`], a YAML block sequence's: `api_keys:`, then `- …` lines.
    Dashed,
    /// An object's members keyed by host, one a line until one that is not: Composer's
    /// `"bearer": {`, then `"HOST": "…",` lines.
    Members,
    /// A `"Value":` member, a `"Type":` member of one word allowed before it: pretty-printed
    /// JSON that gives a secret's name as data (AWS's `"Name": "/prod/db/password",`).
    ValueMember,
    /// One word alone on the line, judged as prose: after a sentence that names a password and
    /// ends its line with a colon (Elasticsearch's `Password for the elastic user (reset with
    /// …):`, `Your new password is:`).
    Alone,
    /// A Markdown table's cell in a secret's column, on each row after the delimiter row
    /// until a line that is no row (`| Service | URL | Credentials |`).
    Column(super::tables::Header),
    /// A `New value:` label's value: Elasticsearch's `elasticsearch-reset-password`, after
    /// `Password for the [elastic] user successfully reset.`
    NewValue,
    /// A property list's `<string>…</string>` after `<key>NAME</key>` alone on its line.
    PlistString,
    /// A Terraform `variable` block's `default`, on a line after its label's (`variable
    /// "db_password" {`), other attributes, comments and blank lines allowed before it.
    Default,
}

/// Elasticsearch's `Password for the [USER] user successfully reset.`, whose next line gives
/// the new password (`New value: …`): the place of `Password`.
fn password_reset(line: &[u8]) -> Option<(usize, usize)> {
    let t = line.trim_ascii();
    let lead = line.len() - line.trim_ascii_start().len();
    (t.len() > 13
        && t[..13].eq_ignore_ascii_case(b"password for ")
        && t.ends_with(b" user successfully reset."))
    .then_some((lead, lead + 8))
}

/// Words of a prompt that asks for a password rather than gives one.
const PROMPT_WORDS: &[&[u8]] = &[b"enter", b"re-enter", b"retype", b"confirm", b"type"];

/// A sentence that names a password in its first three words, or after `following` or
/// `generated` in its first six (Jenkins' `Please use the following password to proceed to
/// installation:`), and ends its line with a colon: the name's place in it.
fn sentence_ending_in_colon(line: &[u8]) -> Option<(usize, usize)> {
    let t = line.trim_ascii();
    let body = t.strip_suffix(b":")?;
    let lead = line.len() - line.trim_ascii_start().len();
    if !body.contains(&b' ') || matches!(body.first(), Some(b'[' | b'"' | b'\'' | b'-')) {
        return None;
    }
    let mut at = 0;
    let mut announced = false;
    for (i, w) in body.split(|&b| b == b' ').enumerate() {
        let lw = w.to_ascii_lowercase();
        if eq_any(&lw, PROMPT_WORDS) {
            return None;
        }
        if (i < 3 || i < 6 && announced) && matches!(lw.as_slice(), b"password" | b"passphrase") {
            return Some((lead + at, lead + at + w.len()));
        }
        announced = matches!(lw.as_slice(), b"following" | b"generated");
        at += w.len() + 1;
    }
    None
}

/// In a view of a tool's output, where escaped line breaks read as breaks: a sentence that
/// names a password at `s` and ends its line with a colon (see [`sentence_ending_in_colon`]),
/// then one word alone on the next line, or on the one after a blank line (Jenkins' first
/// start): the word's range, judged as [`NextLine::Alone`] judges it.
pub(crate) fn alone_after_sentence(line: &[u8], s: usize) -> Option<(usize, usize)> {
    value_after_line_in_view(
        line,
        s,
        sentence_ending_in_colon,
        Strength::Weak,
        NextLine::Alone,
    )
}

/// In a view of a tool's output: the new password on the line after Elasticsearch's
/// `Password for the [USER] user successfully reset.` at `s` (see [`password_reset`]).
pub(crate) fn new_value_after_reset(line: &[u8], s: usize) -> Option<(usize, usize)> {
    if !line
        .get(s..s + 13)
        .is_some_and(|w| w.eq_ignore_ascii_case(b"password for "))
    {
        return None;
    }
    value_after_line_in_view(
        line,
        s,
        password_reset,
        Strength::Strong,
        NextLine::NewValue,
    )
}

/// In a view, where a tool's output is one line with its breaks: the value on the line after
/// the one at `s`, when `head` finds its name at `s` (one blank line may come between), read
/// as `how` at strength `st`.
fn value_after_line_in_view(
    line: &[u8],
    s: usize,
    head: fn(&[u8]) -> Option<(usize, usize)>,
    st: Strength,
    how: NextLine,
) -> Option<(usize, usize)> {
    let from = super::line_start(line, s);
    // (At most `COMMAND_REACH` bytes on: every hit of a scanned line asks, and reading each
    // to the end of a line of megabytes was quadratic.)
    let reach = line.len().min(s + super::COMMAND_REACH);
    let end = from + memchr::memchr2(b'\n', b'\r', &line[from..reach])?;
    let (a, _) = head(&line[from..end])?;
    if from + a != s {
        return None;
    }
    let mut next = end;
    for _ in 0..2 {
        // Past this line's break (`\r\n` as one).
        next += 1 + usize::from(line[next] == b'\r' && line.get(next + 1) == Some(&b'\n'));
        // To the next break, or to the end of the JSON string that holds the output.
        let stop = next
            + line[next..]
                .iter()
                .position(|&b| matches!(b, b'\n' | b'\r' | b'"'))
                .unwrap_or(line.len() - next);
        if line[next..stop].iter().all(|&b| b == b' ' || b == b'\t') {
            if stop == line.len() || line[stop] == b'"' {
                return None;
            }
            next = stop;
            continue; // one blank line between
        }
        let (v, e) = value_line(&line[next..stop], st, how)?;
        return Some((next + v, next + e));
    }
    None
}

/// A secret's name whose value the next line gives, and nothing else on its line: a YAML list
/// item that gives the name as data (`- name: DB_PASSWORD`), a YAML block scalar (`password:
/// |`), pretty-printed JSON (`"password":`), a shell line continued after `NAME=` or a flag
/// (`--password \`). The name's strength, where it is, and how to read the next line
/// ([`value_line`]).
pub(crate) fn name_given_as_data(line: &[u8]) -> Option<(Strength, usize, usize, NextLine)> {
    // (A Markdown row, or psql's header with a blank first.)
    if (line.trim_ascii_start().starts_with(b"|") || line.first() == Some(&b' '))
        && let Some(h) = super::tables::header(line)
    {
        return Some((h.strength, h.name.0, h.name.1, NextLine::Column(h)));
    }
    if let Some((a, b)) = field_value(line, b"name:", true) {
        if !line[a..b].iter().all(|&c| name_byte(c)) {
            return None;
        }
        return Some((classify(&line[a..b])?, a, b, NextLine::ValueField));
    }
    // A property list's key alone on its line: `<key>DB_PASSWORD</key>`.
    if let Some(k) = line.trim_ascii().strip_prefix(b"<key>")
        && let Some(name) = k.strip_suffix(b"</key>")
        && !name.is_empty()
        && name.iter().all(|&c| name_byte(c))
    {
        let a = line.len() - line.trim_ascii_start().len() + 5;
        return Some((classify(name)?, a, a + name.len(), NextLine::PlistString));
    }
    if let Some((a, b)) = password_reset(line) {
        return Some((Strength::Strong, a, b, NextLine::NewValue));
    }
    if let Some((a, b)) = sentence_ending_in_colon(line) {
        return Some((Strength::Weak, a, b, NextLine::Alone));
    }
    if let Some((a, b)) = name_member(line) {
        return Some((classify(&line[a..b])?, a, b, NextLine::ValueMember));
    }
    let t = line.trim_ascii_end();
    let (end, next) = if let Some(r) = t.strip_suffix(b"\\") {
        // `NAME=\`, `--password \`
        let r = r.trim_ascii_end();
        match r.strip_suffix(b"=") {
            Some(n) => (n.len(), NextLine::FirstWord),
            None if r.len() < t.len() - 1 => (r.len(), NextLine::FirstWord),
            None => return None,
        }
    } else if let Some(r) = t.strip_suffix(b"[") {
        // `"api_keys": [`, TOML's `api_keys = [`: a list, its items on the lines after.
        let r = r.trim_ascii_end();
        let r = r.strip_suffix(b":").or_else(|| r.strip_suffix(b"="))?;
        let r = r.trim_ascii_end();
        let r = r
            .strip_suffix(b"\"")
            .or_else(|| r.strip_suffix(b"'"))
            .unwrap_or(r);
        (r.len(), NextLine::Items)
    } else if let Some(r) = t.strip_suffix(b"{") {
        if let Some((a, b)) = terraform_variable(line, r.trim_ascii_end().len()) {
            return Some((classify(&line[a..b])?, a, b, NextLine::Default));
        }
        // Composer's `"bearer": {`: a token for each host on the lines after.
        let r = r.trim_ascii_end().strip_suffix(b":")?.trim_ascii_end();
        let r = r.strip_suffix(b"\"")?;
        let start = r.iter().rposition(|&c| !name_byte(c)).map_or(0, |p| p + 1);
        return (start < r.len() && host_tokens_name(&r[start..])).then_some((
            Strength::Strong,
            start,
            r.len(),
            NextLine::Members,
        ));
    } else if let Some(r) = t.strip_suffix(b":") {
        // `"password":`; a YAML key alone opens a mapping or a block sequence (`api_keys:`,
        // then `- …` lines): a sequence's items are the values.
        match r.last() {
            Some(b'"' | b'\'') => (r.len() - 1, NextLine::Quoted),
            // The key alone on its line (`Enter new password:` is a prompt).
            _ if r.trim_ascii_start().iter().all(|&c| name_byte(c)) => (r.len(), NextLine::Dashed),
            _ => return None,
        }
    } else if let Some(n) = heredoc(t) {
        // `api_token = <<EOF`: the heredoc's first line, one word (words are its text).
        (n, NextLine::Alone)
    } else {
        // `password: |`, `|-`, `|+`, `>`, `>-`, `>+`
        let r = t
            .strip_suffix(b"-")
            .or_else(|| t.strip_suffix(b"+"))
            .unwrap_or(t);
        let r = r.strip_suffix(b"|").or_else(|| r.strip_suffix(b">"))?;
        let r = r.trim_ascii_end().strip_suffix(b":")?;
        let r = r
            .strip_suffix(b"\"")
            .or_else(|| r.strip_suffix(b"'"))
            .unwrap_or(r);
        (r.len(), NextLine::Whole)
    };
    let start = line[..end]
        .iter()
        .rposition(|&c| !name_byte(c))
        .map_or(0, |p| p + 1);
    if start == end {
        return None;
    }
    // Continued after a blank: only a flag's value (`--password \`); prose wraps lines too
    // (`…, or pass \`).
    let flag = line[start] == b'-';
    if next == NextLine::FirstWord && line[end] != b'=' && !flag {
        return None;
    }
    // A flag keeps its dashes out of the name, which is judged by its parts.
    Some((classify(&line[start..end])?, start, end, next))
}

/// `NAME = <<EOF`, `<<-EOT`, `<<~KEY` at the end of `t` (HCL's and Ruby's heredocs, the
/// marker in capitals, quoted or not): where the name before the `=` ends.
fn heredoc(t: &[u8]) -> Option<usize> {
    // (Every scanned line asks, and a line may be megabytes long: its last bytes only.)
    let last = *t.last()?;
    if !(last.is_ascii_uppercase() || last.is_ascii_digit() || matches!(last, b'_' | b'"' | b'\''))
    {
        return None;
    }
    let from = t.len().saturating_sub(64);
    let at = from + memchr::memmem::rfind(&t[from..], b"<<")?;
    if heredoc_opener(&t[at..])? != t.len() - at {
        return None;
    }
    Some(
        t[..at]
            .trim_ascii_end()
            .strip_suffix(b"=")?
            .trim_ascii_end()
            .len(),
    )
}

/// The length of the heredoc opener at `r`'s start: `<<`, a `-` or `~`, the marker in
/// capitals (two or more of them, digits and `_`), quoted or not.
pub(crate) fn heredoc_opener(r: &[u8]) -> Option<usize> {
    let mut i = 2 + usize::from(matches!(r.get(2), Some(b'-' | b'~')));
    let quote = match r.get(i) {
        Some(&q @ (b'"' | b'\'')) => {
            i += 1;
            Some(q)
        }
        _ => None,
    };
    let n = r[i..]
        .iter()
        .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || **c == b'_')
        .count();
    if !r.starts_with(b"<<") || n < 2 {
        return None;
    }
    i += n;
    match quote {
        Some(q) if r.get(i) == Some(&q) => Some(i + 1),
        Some(_) => None,
        None => Some(i),
    }
}

/// A Terraform variable's label, `line[..end]` being `variable "NAME"` after blanks: the
/// name's place.
fn terraform_variable(line: &[u8], end: usize) -> Option<(usize, usize)> {
    let t = &line[..end];
    let lead = t.len() - t.trim_ascii_start().len();
    let rest = t[lead..].strip_prefix(b"variable")?;
    let label = rest.trim_ascii_start();
    let name = label.strip_prefix(b"\"")?.strip_suffix(b"\"")?;
    let a = end - 1 - name.len();
    (rest.len() > label.len() && !name.is_empty() && name.iter().all(|&c| name_byte(c)))
        .then_some((a, end - 1))
}

/// A line of a Terraform block that may come before its `default` (see
/// [`NextLine::Default`]): blank, a comment, or another attribute (`type = string`,
/// `sensitive = true`).
pub(crate) fn block_attribute(line: &[u8]) -> bool {
    let t = line.trim_ascii();
    if t.is_empty() || t.starts_with(b"#") || t.starts_with(b"//") {
        return true;
    }
    let key = t.iter().position(|&c| !name_byte(c)).unwrap_or(t.len());
    key > 0 && t[key..].trim_ascii_start().starts_with(b"=") && !t.starts_with(b"default")
}

/// A pretty-printed JSON member that gives a secret's name as data, alone on its line:
/// `"Name": "/prod/db/password",` (a [`NAME_KEYS`] key): the name, the last part of a path.
fn name_member(line: &[u8]) -> Option<(usize, usize)> {
    let (k, ke, v, ve) = member(line)?;
    if !eq_any(&line[k..ke], NAME_KEYS) || !line[ve + 1..].trim_ascii().eq(b",") {
        return None;
    }
    let a = line[v..ve]
        .iter()
        .rposition(|&c| c == b'/')
        .map_or(v, |p| v + p + 1);
    (a < ve && line[a..ve].iter().all(|&c| name_byte(c))).then_some((a, ve))
}

/// A JSON member alone on its line after blanks, its value a string: `"KEY": "VALUE"` (what
/// follows the closing quote left to the caller), as the key's and the value's ranges.
fn member(line: &[u8]) -> Option<(usize, usize, usize, usize)> {
    let k = skip(line, 0, b" \t");
    if line.get(k) != Some(&b'"') {
        return None;
    }
    let ke = k + 1 + line[k + 1..].iter().position(|&c| c == b'"')?;
    let colon = skip(line, ke + 1, b" \t");
    if line.get(colon) != Some(&b':') {
        return None;
    }
    let v = skip(line, colon + 1, b" \t");
    if line.get(v) != Some(&b'"') {
        return None;
    }
    let ve = v + 1 + line[v + 1..].iter().position(|&c| c == b'"')?;
    Some((k + 1, ke, v + 1, ve))
}

/// Whether `line` is a member that may sit between a name member and its value (see
/// [`NextLine::ValueMember`]): AWS's `"Type": "WORD",`, or one whose value is empty or null
/// (Azure Key Vault's `"tags": {},`).
pub(crate) fn type_member(line: &[u8]) -> bool {
    let typed = member(line).is_some_and(|(k, ke, v, ve)| {
        line[k..ke].eq_ignore_ascii_case(b"type")
            && line[v..ve].iter().all(u8::is_ascii_alphabetic)
            && line[ve + 1..].trim_ascii() == b","
    });
    let t = line.trim_ascii();
    let empty = t.first() == Some(&b'"')
        && t[1..].iter().position(|&b| b == b'"').is_some_and(|q| {
            let key = &t[1..1 + q];
            let rest = t[q + 2..].trim_ascii_start();
            key.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_')
                && rest
                    .strip_prefix(b":")
                    .map(<[u8]>::trim_ascii_start)
                    .is_some_and(|v| matches!(v, b"{}," | b"[]," | b"null,"))
        });
    typed || empty
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

/// The value the line after a secret's name gives (see [`NextLine`]), if it is a plausible
/// secret after a name of strength `st`: its range in `line`.
pub(crate) fn value_line(line: &[u8], st: Strength, next: NextLine) -> Option<(usize, usize)> {
    let (v, end) = match next {
        NextLine::Column(h) => return super::tables::column_value(line, &h),
        NextLine::ValueField => field_value(line, b"value:", false)?,
        NextLine::NewValue => field_value(line, b"New value:", false)?,
        NextLine::PlistString => {
            let v = skip(line, 0, b" \t");
            let (a, b) = super::plist_string(line, v)?;
            line[b + 9..].trim_ascii().is_empty().then_some((a, b))?
        }
        NextLine::Default => {
            let (a, b) = field_value(line, b"default", false)?;
            let a = skip(line, line[a..b].strip_prefix(b"=").map(|_| a + 1)?, b" \t");
            // A quoted string, or a word (`null`, a number, `var.x` are judged as any value).
            match line.get(a) {
                Some(b'"') => (
                    a + 1,
                    a + 1 + line[a + 1..b].iter().position(|&c| c == b'"')?,
                ),
                _ => (a, b),
            }
        }
        NextLine::Whole => {
            let a = skip(line, 0, b" \t");
            let b = line.iter().rposition(|c| !c.is_ascii_whitespace())? + 1;
            (a < b).then_some((a, b))?
        }
        NextLine::Alone => {
            let a = skip(line, 0, b" \t");
            let b = line.iter().rposition(|c| !c.is_ascii_whitespace())? + 1;
            let word = line.get(a..b)?;
            if word.iter().any(u8::is_ascii_whitespace)
                || word.iter().all(|c| c.is_ascii_lowercase())
            {
                return None;
            }
            (a, b)
        }
        NextLine::Items | NextLine::Dashed => {
            let a = skip(line, 0, b" \t");
            let a = match (line[a..].starts_with(b"- "), next) {
                (true, NextLine::Dashed) => skip(line, a + 2, b" \t"),
                (false, NextLine::Items) => a,
                _ => return None,
            };
            let (v, end, close) = match line.get(a) {
                Some(&q @ (b'"' | b'\'')) => {
                    let b = a + 1 + line[a + 1..].iter().position(|&c| c == q)?;
                    (a + 1, b, b + 1)
                }
                _ => {
                    let b = a + line[a..]
                        .iter()
                        .position(|c| c.is_ascii_whitespace() || *c == b',')
                        .unwrap_or(line.len() - a);
                    (a, b, b)
                }
            };
            // Nothing after the item but its comma.
            let rest = line[close..].trim_ascii();
            if !(rest.is_empty() || rest == b",") {
                return None;
            }
            (v, end)
        }
        NextLine::Members => {
            let f = host_member(line, 0, skip(line, 0, b" \t"))?;
            let rest = line[f.end + 1..].trim_ascii();
            if !(rest.is_empty() || rest == b",") {
                return None;
            }
            (f.start, f.end)
        }
        NextLine::Quoted => {
            let a = skip(line, 0, b" \t");
            if line.get(a) != Some(&b'"') {
                return None;
            }
            let b = a + 1 + line[a + 1..].iter().position(|&c| c == b'"')?;
            (a + 1, b)
        }
        NextLine::ValueMember => {
            let (k, ke, v, ve) = member(line)?;
            if !eq_any(&line[k..ke], VALUE_KEYS) {
                return None;
            }
            (v, ve)
        }
        NextLine::FirstWord => {
            let a = skip(line, 0, b" \t");
            let a = a + usize::from(matches!(line.get(a), Some(b'"' | b'\'')));
            let b = a + line[a..]
                .iter()
                .position(|c| c.is_ascii_whitespace() || matches!(c, b'"' | b'\'' | b'\\'))
                .unwrap_or(line.len() - a);
            if line.get(a) == Some(&b'-') {
                return None; // the next flag
            }
            (a, b)
        }
    };
    let trimmed = trim_value(&line[v..end]);
    let judge = match next {
        NextLine::Items | NextLine::Dashed | NextLine::Members => plausible_item,
        _ => plausible,
    };
    judge(trimmed, st).then_some((v, v + trimmed.len()))
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
