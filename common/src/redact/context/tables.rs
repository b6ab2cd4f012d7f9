//! Printed tables: a secret's name and its value in aligned columns (`vault kv get`), a
//! Markdown or box-drawn row (`| password | VALUE |`, `│ DB_PASSWORD │ VALUE │`), psql's
//! expanded display (`password | VALUE`).

use super::names::{Strength, name_byte};
use super::{Found, Named, before_json_end, blanks, line_start, run_end, value};

/// The length of the table's cell rule at the start of `b`: Markdown's `|` or a box-drawing
/// vertical (`│`, `┃`, `║`); 0 if none.
fn cell_rule(b: &[u8]) -> usize {
    if b.first() == Some(&b'|') {
        1
    } else if ["│", "┃", "║"].iter().any(|r| b.starts_with(r.as_bytes())) {
        3
    } else {
        0
    }
}

/// A secret's name and its value in a printed table: aligned columns at a line's start (two
/// blanks or more, or a tab, between them and nothing after the value: `vault kv get`'s
/// `api_key    VALUE`), or a Markdown row's first two cells (`| password | VALUE |`, judged as
/// after a weak name: documentation tables describe).
pub(super) fn table_row(n: Named) -> Option<Found> {
    let Named {
        line,
        s,
        e,
        p,
        q,
        strength,
        lname,
    } = n;
    let before = &line[line_start(line, s)..s];
    // (Its end at most `COMMAND_REACH` bytes on: every hit of a scanned line asks.)
    let reach = line.len().min(q + super::text::COMMAND_REACH);
    let eol = memchr::memchr2(b'\n', b'\r', &line[q..reach]).map_or(reach, |i| q + i);
    // A row's first cell: a separator (Markdown's `|`, or a box-drawing rule as `rich` and
    // secret managers' CLIs draw tables) at the line's start, or after a blank or a quote (a
    // table printed inside a string).
    // (The name in a code span: `` | `DB_PASSWORD` | … ``.)
    // (In Markdown's bold, qualified or not: `| **Admin password** | … |`.)
    let start = line_start(line, s);
    let before = match super::bold_open(line, s) {
        Some(o) if o >= start && p > e => &line[start..o],
        _ => before,
    };
    let bt = before.trim_ascii_end();
    let bt = bt.strip_suffix(b"`").unwrap_or(bt).trim_ascii_end();
    let first_cell = |bt: &[u8]| {
        (1..=3).rev().any(|n| {
            n <= bt.len() && cell_rule(&bt[bt.len() - n..]) == n && {
                let r = &bt[..bt.len() - n];
                r.iter().all(|b| matches!(b, b' ' | b'\t'))
                    || matches!(r.last(), Some(b' ' | b'\t' | b'"'))
            }
        })
    };
    // (After words that qualify the name in its cell, in a Markdown table: `| Admin
    // password | … |`.)
    let qualified = || {
        let mut bt = bt;
        (0..2).any(|_| {
            let w = bt
                .iter()
                .rev()
                .take_while(|b| b.is_ascii_alphabetic())
                .count();
            if w == 0 || w == bt.len() || bt[bt.len() - w - 1] != b' ' {
                return false;
            }
            bt = bt[..bt.len() - w].trim_ascii_end();
            bt.ends_with(b"|") && first_cell(bt)
        })
    };
    let row = first_cell(bt) || qualified();
    if row {
        // `| name | value |`, `│ NAME      │ value      │`
        let c = blanks(line, p);
        let rule = cell_rule(&line[c..eol]);
        if rule == 0 {
            return None;
        }
        let a = c + rule;
        let end = (a..eol).find(|&i| cell_rule(&line[i..eol]) > 0)?;
        let (mut a, mut b) = (a, end);
        while a < b && matches!(line[a], b' ' | b'`') {
            a += 1;
        }
        while b > a && matches!(line[b - 1], b' ' | b'`') {
            b -= 1;
        }
        return value(line, s, a, b, Strength::Weak, lname, false);
    }
    // psql's expanded display (`\x`): `password | VALUE`, the value one word to the line's end
    // or, where the rows' line breaks are not there, to the next row; in a view of a
    // JSON string, to the string's end if that comes first (its quote is no part of the value).
    if line.get(q) == Some(&b'|') && (before.is_empty() || before.ends_with(b" ")) {
        let json = memchr::memchr(b'"', &line[..s]).is_some();
        let a = blanks(line, q + 1);
        let b = a + line[a..eol]
            .iter()
            .position(|&c| c.is_ascii_whitespace() || json && c == b'"')
            .unwrap_or(eol - a);
        let rest = &line[b..eol];
        let next_row = rest.trim_ascii_start();
        let ends = next_row.is_empty() || json && rest.starts_with(b"\"") || {
            // The next row's name and its bar.
            let n = next_row
                .iter()
                .position(|c| !name_byte(*c))
                .unwrap_or(next_row.len());
            n > 0 && blanks(next_row, n) < next_row.len() && next_row[blanks(next_row, n)] == b'|'
        };
        if a < b && q + 1 < a && ends && !line[a..b].contains(&b'|') {
            return value(line, s, a, b, Strength::Weak, lname, false);
        }
        return None;
    }
    let gap = &line[e..q];
    let aligned = gap.contains(&b'\t') || gap.len() >= 2 && gap.iter().all(|&b| b == b' ');
    if !before.iter().all(|b| matches!(b, b' ' | b'\t')) || p != e || !aligned || q >= eol {
        return None;
    }
    let end = run_end(line, q, None);
    let rest = &line[end..eol];
    if !rest[..before_json_end(rest)]
        .iter()
        .all(u8::is_ascii_whitespace)
    {
        return None; // more words: prose or another column
    }
    value(line, s, q, end, strength, lname, false)
}
