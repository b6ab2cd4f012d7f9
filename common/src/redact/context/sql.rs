//! SQL that gives a password by its own syntax rather than after an operator: MySQL's
//! `IDENTIFIED BY '…'`, and a password column's place in `INSERT INTO … VALUES (…)`. (SQL's
//! `PASSWORD '…'` after a user or a role, and MySQL's `SET PASSWORD FOR`, are read with the
//! other commands' syntax in `commands`.)

use super::names::Strength;
use super::shell::command_end;
use super::{Found, blanks, line_start, quoted_or_word, value};

/// MySQL's `IDENTIFIED BY '…'` (also `IDENTIFIED WITH plugin BY '…'`), the name at `s..e`.
pub(super) fn identified_by(line: &[u8], s: usize, e: usize) -> Option<Found> {
    let end = command_end(line, e).min(e + 80);
    let by = e + line[e..end]
        .windows(4)
        .position(|w| w == b" BY " || w == b" by ")?;
    let mut v = by + 4;
    // MySQL's `BY PASSWORD '*…'` and Oracle's `BY VALUES '…'` give the hash: it goes too.
    for kw in [&b"PASSWORD "[..], b"VALUES "] {
        if line.len() >= v + kw.len() && line[v..v + kw.len()].eq_ignore_ascii_case(kw) {
            v += kw.len();
        }
    }
    if !matches!(line.get(v), Some(b'\'' | b'"')) {
        // Oracle's unquoted `ALTER USER scott IDENTIFIED BY VALUE;`, in a statement that
        // creates or alters a user, a role or a link (`identified by email` is prose).
        let from = line_start(line, s).max(s.saturating_sub(200));
        let stmt = line[from..s].to_ascii_lowercase();
        let sql = [
            &b"alter user "[..],
            b"create user ",
            b"alter role ",
            b"create role ",
            b"grant ",
            b"connect to ",
        ]
        .iter()
        .any(|k| memchr::memmem::find(&stmt, k).is_some());
        let end = v + line[v..]
            .iter()
            .position(|b| b.is_ascii_whitespace() || *b == b';')
            .unwrap_or(line.len() - v);
        if !sql || end == v || line[v..end].eq_ignore_ascii_case(b"random") {
            return None;
        }
        return value(line, s, v, end, Strength::Strong, b"password", false);
    }
    let (mut a, b) = quoted_or_word(line, v);
    // (MySQL's hash is `*` and 40 hex digits.)
    if line.get(a) == Some(&b'*') && b - a == 41 {
        a += 1;
    }
    value(line, s, a, b, Strength::Strong, b"password", false)
}

/// SQL's `INSERT INTO TABLE (…, password, …) VALUES (…, 'VALUE', …)`, the column's name at
/// `s..e`: the item in its place in the first row of values, when that item is a quoted string
/// (a call, `crypt(…)`, or a parameter, `$2`, `?`, gives none).
pub(super) fn sql_inserted(
    line: &[u8],
    s: usize,
    e: usize,
    strength: Strength,
    lname: &[u8],
) -> Option<Found> {
    let from = line_start(line, s);
    let open = from + line[from..s].iter().rposition(|&b| b == b'(')?;
    let head = &line[from..open];
    if line[open..s].contains(&b')')
        || !head
            .windows(11)
            .any(|w| w.eq_ignore_ascii_case(b"insert into"))
    {
        return None;
    }
    // (At most `COMMAND_REACH` bytes on, to the row's end: every hit of a scanned line asks.)
    let reach = line.len().min(e + super::COMMAND_REACH);
    let close = e + line[e..reach].iter().position(|&b| b == b')')?;
    let column = line[open..s].iter().filter(|&&b| b == b',').count();
    let v = blanks(line, close + 1);
    if !line
        .get(v..v + 6)
        .is_some_and(|w| w.eq_ignore_ascii_case(b"values"))
    {
        return None;
    }
    let row = blanks(line, v + 6);
    if line.get(row) != Some(&b'(') {
        return None;
    }
    // The row's items, split at commas outside quotes (SQL doubles a quote inside one) and
    // outside a call's parentheses.
    let (mut item, mut at, mut depth, mut quote) = (0, row + 1, 0usize, None::<u8>);
    let mut start = at;
    let reach = line.len().min(row + super::COMMAND_REACH);
    while at < reach {
        let b = line[at];
        match quote {
            Some(q) if b == q => {
                if line.get(at + 1) == Some(&q) {
                    at += 1; // a doubled quote
                } else {
                    quote = None;
                }
            }
            Some(_) => {}
            None => match b {
                b'\'' | b'"' => quote = Some(b),
                b'(' => depth += 1,
                b')' if depth > 0 => depth -= 1,
                b',' | b')' if depth == 0 => {
                    if item == column {
                        let t = &line[start..at];
                        let a = start + (t.len() - t.trim_ascii_start().len());
                        let end = start + t.trim_ascii_end().len();
                        let q = line[a];
                        return (end > a + 1 && matches!(q, b'\'' | b'"') && line[end - 1] == q)
                            .then(|| value(line, s, a + 1, end - 1, strength, lname, false))
                            .flatten();
                    }
                    if b == b')' {
                        return None;
                    }
                    item += 1;
                    start = at + 1;
                }
                _ => {}
            },
        }
        at += 1;
    }
    None
}
