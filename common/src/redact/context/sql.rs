//! SQL that gives a password by its own syntax rather than after an operator: MySQL's
//! `IDENTIFIED BY '…'`, and a password column's place in every row of `INSERT INTO … VALUES
//! (…), (…)`. (SQL's `PASSWORD '…'` after a user or a role, and MySQL's `SET PASSWORD FOR`,
//! are read with the other commands' syntax in `commands`.)

use super::names::Strength;
use super::shell::command_end;
use super::{
    COMMAND_REACH, Found, classify, gaps, line_start, name_byte, quoted_or_word, trim_name, value,
};

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
/// (a call, `crypt(…)`, or a parameter, `$2`, `?`, gives none). The rows after it are read by
/// [`next_inserted_row`].
pub(super) fn sql_inserted(
    line: &[u8],
    s: usize,
    e: usize,
    strength: Strength,
    lname: &[u8],
) -> Option<Found> {
    let (column, close) = inserted_column(line, s, e)?;
    let v = gaps(line, close + 1);
    if !line
        .get(v..v + 6)
        .is_some_and(|w| w.eq_ignore_ascii_case(b"values"))
    {
        return None;
    }
    // (In a view, a file's rows may each start a line: `VALUES\n  ('…', '…'),\n  (…)`.)
    let row = gaps(line, v + 6);
    row_value(line, row, column, s, strength, lname)
}

/// The next row's item after `f`, an item [`sql_inserted`] or this found: `(…, 'VALUE'), (…,
/// 'NEXT')`, the rows split by a comma and gaps.
pub(crate) fn next_inserted_row(line: &[u8], f: &Found) -> Option<Found> {
    let s = f.ctx;
    let e = s + line[s..].iter().take_while(|&&b| name_byte(b)).count();
    let (column, close) = inserted_column(line, s, e)?;
    // (The item is quoted: its closing quote, then the rest of its row.)
    if f.start <= close || !matches!(line.get(f.end), Some(b'\'' | b'"')) {
        return None;
    }
    let (_, end) = row_items(line, f.end + 1, usize::MAX)?;
    let comma = gaps(line, end + 1);
    if line.get(comma) != Some(&b',') {
        return None;
    }
    let row = gaps(line, comma + 1);
    let name = trim_name(&line[s..e]);
    let strength = classify(name)?;
    row_value(line, row, column, s, strength, &name.to_ascii_lowercase())
}

/// The place of the column named at `s..e` in `INSERT INTO TABLE (…)`, and where that list of
/// columns closes.
fn inserted_column(line: &[u8], s: usize, e: usize) -> Option<(usize, usize)> {
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
    let reach = line.len().min(e + COMMAND_REACH);
    let close = e + line[e..reach].iter().position(|&b| b == b')')?;
    let column = line[open..s].iter().filter(|&&b| b == b',').count();
    Some((column, close))
}

/// The item in place `column` of the row whose `(` is at `row`, judged as the value of the
/// name at `s`, when it is a quoted string.
fn row_value(
    line: &[u8],
    row: usize,
    column: usize,
    s: usize,
    strength: Strength,
    lname: &[u8],
) -> Option<Found> {
    if line.get(row) != Some(&b'(') {
        return None;
    }
    let ((start, at), _) = row_items(line, row + 1, column)?;
    let t = &line[start..at];
    let a = start + (t.len() - t.trim_ascii_start().len());
    let end = start + t.trim_ascii_end().len();
    let q = *line.get(a)?;
    (end > a + 1 && matches!(q, b'\'' | b'"') && line[end - 1] == q)
        .then(|| value(line, s, a + 1, end - 1, strength, lname, false))
        .flatten()
}

/// A row's items from `from` (after its `(`, or inside it at the top level), split at commas
/// outside quotes (SQL doubles a quote inside one) and outside a call's parentheses: the
/// bounds of item `column` counted from `from` (empty where the row has fewer), and where the
/// row's `)` is. At most [`COMMAND_REACH`] bytes are read.
fn row_items(line: &[u8], from: usize, column: usize) -> Option<((usize, usize), usize)> {
    let (mut item, mut at, mut depth, mut quote) = (0, from, 0usize, None::<u8>);
    let (mut start, mut found) = (at, (at, at));
    let reach = line.len().min(from + COMMAND_REACH);
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
                        found = (start, at);
                    }
                    if b == b')' {
                        return Some((found, at));
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
