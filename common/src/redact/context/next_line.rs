//! A secret's value on the line after its name: a YAML list item that gives the name as data
//! (`- name: DB_PASSWORD`, then `value: …`), a block scalar (`password: |`), pretty-printed JSON
//! (`"password":` at a line's end), a shell line continued (`--password \`), a heredoc's first
//! line, a list's or a table's items, a Terraform variable's `default`, and a sentence that ends
//! with a colon (`Your new password is:`). [`name_given_as_data`] finds the name and says how to
//! read the next line ([`NextLine`]); [`value_line`] reads it. The redactor holds a line back
//! while a name waits for its value; in a view, where a tool's output is one line with its
//! breaks, [`alone_after_sentence`] and [`new_value_after_reset`] look across the break.

use super::Strength;
use super::data::{NAME_KEYS, VALUE_KEYS, field_value, host_member, host_tokens_name, skip};
use super::names::{classify, eq_any, name_byte};
use super::values::{plausible, plausible_item, trim_value};

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
    /// The `"value":` member of an object named for a secret (`"db_password": {` at a line's
    /// end), its `"sensitive"` and `"type"` members allowed before it: Terraform's `output
    /// -json`.
    ObjectValue,
    /// A word alone on the next line, bare or quoted after a number (`2) "…"`), after a
    /// secret's name alone on its line: a Redis hash's field and value as `redis-cli HGETALL`
    /// prints them.
    Paired,
}

/// `1) ` before an item of `redis-cli`'s numbered list: where the item starts in `t`.
fn after_number(t: &[u8]) -> usize {
    let d = t.iter().take_while(|b| b.is_ascii_digit()).count();
    if d > 0 && t[d..].starts_with(b") ") {
        d + 2
    } else {
        0
    }
}

/// A secret's name alone on its line, bare or quoted after a number (`password`, `1)
/// "requirepass"`): its range.
fn name_alone(line: &[u8]) -> Option<(usize, usize)> {
    let (a, b) = item_alone(line)?;
    let name = &line[a..b];
    (!name.is_empty()
        && name.len() <= 64
        && name.iter().all(|&c| name_byte(c))
        && name.iter().any(u8::is_ascii_alphabetic))
    .then_some((a, b))
}

/// What stands alone on `line`, blanks around it: the line's text, or `redis-cli`'s numbered
/// item in its quotes (`2) "…"`). Its range.
fn item_alone(line: &[u8]) -> Option<(usize, usize)> {
    let lead = skip(line, 0, b" \t");
    let t = line[lead..].trim_ascii_end();
    let n = after_number(t);
    let (a, b) = match t[n..].strip_prefix(b"\"") {
        Some(q) if n > 0 => (n + 1, n + 1 + q.strip_suffix(b"\"")?.len()),
        _ => (n, t.len()),
    };
    Some((lead + a, lead + b))
}

/// In a view of a tool's output: the value alone on the line after a secret's name alone on
/// its line at `s` (see [`NextLine::Paired`]), read at strength `st`.
pub(crate) fn alone_after_name(
    line: &[u8],
    s: usize,
    e: usize,
    st: Strength,
) -> Option<(usize, usize)> {
    // (Every such hit of a view asks: a line break, or a quote and one, right after the name
    // turns away all others at once.)
    let after = &line[e.min(line.len())..];
    if !matches!(after, [b'\n' | b'\r', ..] | [b'"', b'\n' | b'\r', ..]) {
        return None;
    }
    value_after_line_in_view(line, s, name_alone, st, NextLine::Paired)
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
    if (line.trim_ascii_start().starts_with(b"|")
        || line.first() == Some(&b' ')
        || memchr::memchr(b'\t', line).is_some())
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
    // (Not Python's `pass` statement alone on its line.)
    if let Some((a, b)) = name_alone(line)
        && !line[a..b].eq_ignore_ascii_case(b"pass")
        && !line[a..b].eq_ignore_ascii_case(b"pwd")
    {
        return Some((classify(&line[a..b])?, a, b, NextLine::Paired));
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
        // Composer's `"bearer": {`: a token for each host on the lines after. Another
        // secret's name: its object's `"value"` (Terraform's outputs).
        let r = r.trim_ascii_end().strip_suffix(b":")?.trim_ascii_end();
        let r = r.strip_suffix(b"\"")?;
        let start = r.iter().rposition(|&c| !name_byte(c)).map_or(0, |p| p + 1);
        if start == r.len() || start == 0 || line[start - 1] != b'"' {
            return None;
        }
        if host_tokens_name(&r[start..]) {
            return Some((Strength::Strong, start, r.len(), NextLine::Members));
        }
        return Some((
            classify(&r[start..])?,
            start,
            r.len(),
            NextLine::ObjectValue,
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
/// [`NextLine::ValueMember`]): AWS's `"Type": "WORD",`, or one whose value is empty, null or
/// a boolean (Azure Key Vault's `"tags": {},`, Azure app settings' `"slotSetting": false,`).
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
                    .is_some_and(|v| matches!(v, b"{}," | b"[]," | b"null," | b"true," | b"false,"))
        });
    typed || empty
}

/// Whether `line` is a member of a Terraform output that may come before its `"value"` (see
/// [`NextLine::ObjectValue`]): `"sensitive": true,` (or `false`), `"type": "string",`.
pub(crate) fn output_member(line: &[u8]) -> bool {
    let t = line.trim_ascii();
    let sensitive = t.strip_prefix(b"\"sensitive\":").is_some_and(|v| {
        let v = v.trim_ascii_start();
        v == b"true," || v == b"false,"
    });
    sensitive
        || member(line).is_some_and(|(k, ke, v, ve)| {
            &line[k..ke] == b"type"
                && line[v..ve].iter().all(u8::is_ascii_alphabetic)
                && line[ve + 1..].trim_ascii() == b","
        })
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
        NextLine::Paired => {
            let (a, b) = item_alone(line)?;
            let word = &line[a..b];
            // One word, not in lower case alone, not another field's name (`HKEYS`' list),
            // and no code: a block's `else:`, a call, an assignment, a member (`.k_2`), roff.
            // A path, or a constant's name after another's (a list of constants in code).
            let constant = word
                .iter()
                .all(|&c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'_')
                && word.contains(&b'_');
            let code = constant
                || matches!(word.first(), Some(b'.' | b'\\' | b'/'))
                || matches!(word.last(), Some(b':' | b';' | b',' | b'{'))
                || word.iter().any(|&c| matches!(c, b'(' | b')'))
                || word
                    .iter()
                    .position(|&c| c == b'=')
                    .is_some_and(|p| word[p..].iter().any(|&c| c != b'='));
            if word.is_empty()
                || code
                || word.iter().any(u8::is_ascii_whitespace)
                || word.iter().all(u8::is_ascii_lowercase)
                || word.iter().all(|&c| name_byte(c)) && classify(word).is_some()
            {
                return None;
            }
            (a, b)
        }
        NextLine::ObjectValue => {
            let (k, ke, v, ve) = member(line)?;
            if &line[k..ke] != b"value" {
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
