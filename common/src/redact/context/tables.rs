//! Printed tables: a secret's name and its value in aligned columns (`vault kv get`), a
//! Markdown or box-drawn row (`| password | VALUE |`, `│ DB_PASSWORD │ VALUE │`), psql's
//! expanded display (`password | VALUE`); a query result's secret column, in a Markdown table,
//! MySQL's or psql's.

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
/// blanks or more, or a tab, between them, and nothing after the value, `vault kv get`'s
/// `api_key    VALUE`, or another column after a value shaped like a token), or a Markdown row's first two cells (`| password | VALUE |`, judged as
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
        // A value in bold (`| Password | **…** |`).
        if b >= a + 5 && line[a..b].starts_with(b"**") && line[a..b].ends_with(b"**") {
            (a, b) = (a + 2, b - 2);
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
    // (Or the name ends a path at the line's start, a tab after it: AWS's parameters listed
    // as `--query 'Parameters[*].[Name,Value]' --output text`, `/prod/db/password<TAB>…`.)
    let path = before.first() == Some(&b'/')
        && before.ends_with(b"/")
        && !before.iter().any(u8::is_ascii_whitespace)
        && gap == b"\t";
    // (Or the first line of a tool's output in stream-json, right after its string's quote.)
    let string_start = line.first() == Some(&b'{') && before.ends_with(b"\":\"");
    if !(path || string_start || before.iter().all(|b| matches!(b, b' ' | b'\t')))
        || p != e
        || !aligned
        || q >= eol
    {
        return None;
    }
    let (mut q, mut end) = (q, run_end(line, q, None));
    // Azure's app settings with `-o table`: `NAME  False  VALUE`, the setting's slot flag
    // between its name and its value.
    if matches!(&line[q..end], b"False" | b"True" | b"false" | b"true")
        && line[end..eol].starts_with(b"  ")
    {
        q = blanks(line, end);
        end = run_end(line, q, None);
    }
    let rest = &line[end..eol];
    let rest = &rest[..before_json_end(rest)];
    // More words: prose, or another column (`gh variable list`'s `NAME<TAB>VALUE<TAB>UPDATED`),
    // where only a token's shape counts (a listing of secrets gives their dates and types).
    if !rest.iter().all(u8::is_ascii_whitespace)
        && !((rest.starts_with(b"\t") || rest.starts_with(b"  "))
            && super::prose::mixed_token(&line[q..end]))
    {
        return None;
    }
    value(line, s, q, end, strength, lname, false)
}

/// A Markdown table's header row that names a secret's column (`| Service | URL |
/// Credentials |`, `| Service | User | Password |`): the rows after its delimiter row give the
/// values, one a row in that column ([`column_value`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    /// The column, counted from 0 (the first is a row's name, never the secret's column).
    pub col: usize,
    pub strength: Strength,
    /// The column gives a user and a password split by a slash (`Credentials`, `Username /
    /// Password`): its value is the password.
    pub pair: bool,
    /// The column's name in the row it was read from.
    pub name: (usize, usize),
    /// A psql table's layout (its rows have no rule at their ends); `None` for a Markdown or
    /// MySQL table.
    pub psql: Option<Layout>,
    /// A tab-separated table's number of columns (the MySQL client's batch output, as a
    /// command whose output is no terminal prints it): no delimiter row under its header.
    pub tabbed: Option<usize>,
}

/// The layout of psql's aligned output (`psql -c …`), read off its header row: the row's width
/// and where its bars are, which the delimiter row under it repeats (` id | password ` over
/// `----+----------`, the same width, a `+` under each `|`), and its number of columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Layout {
    width: usize,
    cols: usize,
    /// The places of the bars (or the delimiter's `+`), hashed.
    bars: u64,
}

/// A row without its line break.
fn body(row: &[u8]) -> &[u8] {
    let row = row.strip_suffix(b"\n").unwrap_or(row);
    row.strip_suffix(b"\r").unwrap_or(row)
}

/// The places of `bar` in `row`, hashed.
fn bars(row: &[u8], bar: u8) -> u64 {
    memchr::memchr_iter(bar, row).fold(0xcbf2_9ce4_8422_2325, |h, i| {
        (h ^ i as u64).wrapping_mul(0x100_0000_01b3)
    })
}

/// The cells of a psql row (` a | b | c`, the line break allowed after it): split at each
/// ` | `, the first from the row's start and the last to its end. `None` unless the row starts
/// with a blank, as psql pads every cell.
fn psql_cells(row: &[u8]) -> Option<Vec<(usize, usize)>> {
    let row = body(row);
    if row.first() != Some(&b' ') {
        return None;
    }
    let mut out = Vec::new();
    let mut start = 0;
    for i in memchr::memchr_iter(b'|', row) {
        if row[i - 1] != b' ' || row.get(i + 1).is_some_and(|&c| c != b' ') {
            return None;
        }
        out.push((start, i));
        start = i + 1;
    }
    out.push((start, row.len()));
    Some(out)
}

/// The layout of `row` if it can be psql's header row, and its cells: a blank at each end
/// (psql centres each name in its column and pads the last too), and bars between blanks.
fn psql_header(row: &[u8]) -> Option<(Layout, Vec<(usize, usize)>)> {
    let b = body(row);
    if b.len() < 3 || b[b.len() - 1] != b' ' || b.trim_ascii().is_empty() {
        return None;
    }
    let cells = psql_cells(b)?;
    let bars = bars(b, b'|');
    let layout = Layout {
        width: b.len(),
        cols: cells.len(),
        bars,
    };
    Some((layout, cells))
}

/// The cells of a tab-separated row (`id\tuser\tpassword`), two or more.
fn tab_cells(row: &[u8]) -> Option<Vec<(usize, usize)>> {
    let row = body(row);
    memchr::memchr(b'\t', row)?;
    let mut out = Vec::new();
    let mut start = 0;
    for i in memchr::memchr_iter(b'\t', row) {
        out.push((start, i));
        start = i + 1;
    }
    out.push((start, row.len()));
    Some(out)
}

/// A tab-separated header row: every cell a column's name (name bytes only), none empty.
fn tab_header(row: &[u8]) -> Option<Vec<(usize, usize)>> {
    let cells = tab_cells(row)?;
    cells
        .iter()
        .all(|&(a, b)| a < b && b - a <= 64 && body(row)[a..b].iter().all(|&c| name_byte(c)))
        .then_some(cells)
}

/// The cells of a Markdown table row, `| a | b |` (blanks around it allowed), as their
/// ranges in `row` between the rules; `None` if `row` is no such row.
fn cells(row: &[u8]) -> Option<Vec<(usize, usize)>> {
    let a = blanks(row, 0);
    let b = row.iter().rposition(|c| !c.is_ascii_whitespace())? + 1;
    if a >= b || row[a] != b'|' || row[b - 1] != b'|' || b - a < 3 {
        return None;
    }
    let mut out = Vec::new();
    let mut start = a + 1;
    for i in memchr::memchr_iter(b'|', &row[a + 1..b]).map(|p| a + 1 + p) {
        out.push((start, i));
        start = i + 1;
    }
    (out.len() >= 2).then_some(out)
}

/// A cell's text, trimmed, without Markdown's bold or a code span around it.
fn cell_text(row: &[u8], (a, b): (usize, usize)) -> (usize, usize) {
    let (mut a, mut b) = (a, b);
    while a < b && row[a].is_ascii_whitespace() {
        a += 1;
    }
    while b > a && row[b - 1].is_ascii_whitespace() {
        b -= 1;
    }
    for mark in [&b"**"[..], b"`"] {
        if b - a > 2 * mark.len() && row[a..].starts_with(mark) && row[..b].ends_with(mark) {
            (a, b) = (a + mark.len(), b - mark.len());
        }
    }
    (a, b)
}

/// The header row `row` if it names a secret's column (see [`Header`]): a cell of a name's
/// words only (`API Key`, `Username / Password`) that names a secret, not the first.
pub(crate) fn header(row: &[u8]) -> Option<Header> {
    if row.len() > HEADER_REACH {
        return None;
    }
    // (psql's first column may be the secret's: its rows name nothing.)
    let mut tabbed = None;
    let (cells, first, psql) = match cells(row) {
        Some(_) if delimiter(row) => return None,
        Some(cells) => (cells, 1, None),
        None => match psql_header(row) {
            Some((layout, cells)) => (cells, 0, Some(layout)),
            None => {
                // (Not the first column: a row of names and values, `SHOW VARIABLES`'
                // `old_passwords\tOFF`, would read as a header.)
                let cells = tab_header(row)?;
                tabbed = Some(cells.len());
                (cells, 1, None)
            }
        },
    };
    cells.iter().enumerate().skip(first).find_map(|(col, &c)| {
        let (a, b) = cell_text(row, c);
        let text = &row[a..b];
        if text.is_empty()
            || text.len() > 40
            || !text.iter().all(|&c| name_byte(c) || c == b' ' || c == b'/')
        {
            return None;
        }
        // `Username / Password`: the name after the slash.
        let (pair, n) = match text.iter().rposition(|&c| c == b'/') {
            Some(p) => (true, a + p + 1),
            None => (false, a),
        };
        // (A cell may end in the slash, `User /`: no name after it, and no blank past the cell.)
        let n = blanks(row, n).min(b);
        // A name of two words at most (`API Key`, `Admin Password`), not a measure's (`ms per
        // pass`) or a test's verdict (`Pass`).
        let mut words = row[n..b].split(|&c| c == b' ').filter(|w| !w.is_empty());
        if words.clone().count() > 2
            || words
                .next_back()
                .is_some_and(|w| w.eq_ignore_ascii_case(b"pass"))
        {
            return None;
        }
        let name: Vec<u8> = row[n..b]
            .iter()
            .map(|&c| if c == b' ' { b'_' } else { c })
            .collect();
        let strength = super::names::classify(&name)?;
        let pair = pair || name.to_ascii_lowercase().starts_with(b"credential");
        Some(Header {
            col,
            strength,
            pair,
            name: (n, b),
            psql,
            tabbed,
        })
    })
}

/// Whether `row` is a Markdown table's delimiter row (`|---|:--:|`), or the border under a
/// MySQL client's header row (`+----+------+`).
pub(crate) fn delimiter(row: &[u8]) -> bool {
    // The MySQL and MariaDB clients' border, `+----+-------+`, under their header row.
    let t = row.trim_ascii();
    if t.len() >= 3 && t[0] == b'+' && t[t.len() - 1] == b'+' {
        return t.contains(&b'-') && t.iter().all(|c| matches!(c, b'-' | b'+'));
    }
    cells(row).is_some_and(|cells| {
        cells.iter().all(|&(a, b)| {
            let t = row[a..b].trim_ascii();
            t.contains(&b'-') && t.iter().all(|c| matches!(c, b'-' | b':'))
        })
    })
}

/// Whether `row` is the delimiter row under the header `h`: a Markdown or MySQL delimiter
/// ([`delimiter`]), or for psql's header its dashes, of the header's width with a `+` under each
/// of its bars.
pub(crate) fn delimiter_under(h: &Header, row: &[u8]) -> bool {
    let Some(layout) = h.psql else {
        return delimiter(row);
    };
    let b = body(row);
    b.len() == layout.width
        && b.first() == Some(&b'-')
        && b.last() == Some(&b'-')
        && b.iter().all(|c| matches!(c, b'-' | b'+'))
        && bars(b, b'+') == layout.bars
}

/// Whether a delimiter row comes under the header `h` (none under a tab-separated one).
pub(crate) fn has_delimiter(h: &Header) -> bool {
    h.tabbed.is_none()
}

/// Whether `row` is a row of the table under `h`: the table goes on.
pub(crate) fn is_row(h: &Header, row: &[u8]) -> bool {
    row_cells(h, row).is_some()
}

/// The cells of `row` as a row of the table under `h`.
fn row_cells(h: &Header, row: &[u8]) -> Option<Vec<(usize, usize)>> {
    if let Some(cols) = h.tabbed {
        return tab_cells(row).filter(|c| c.len() == cols);
    }
    match h.psql {
        None => cells(row),
        Some(layout) => psql_cells(row).filter(|c| c.len() == layout.cols),
    }
}

/// The value a row of the table under `h` gives in its secret's column, judged at the column
/// name's strength (a `user / password` pair's password as after a strong name): its range in
/// `row`. Words (`none`, `see .env`) are none.
pub(crate) fn column_value(row: &[u8], h: &Header) -> Option<(usize, usize)> {
    if h.psql.is_none() && h.tabbed.is_none() && delimiter(row) {
        return None;
    }
    let cells = row_cells(h, row)?;
    let (a, b) = *cells.get(h.col)?;
    let w = blanks(row, a);
    if h.pair
        && let Some((va, vb)) = super::logins::user_slash_password(&row[..b], w, false)
    {
        let closed = vb + usize::from(row.get(vb) == Some(&b'`'));
        return (va < vb
            && row[closed..b].iter().all(u8::is_ascii_whitespace)
            && super::values::plausible(&row[va..vb], Strength::Strong))
        .then_some((va, vb));
    }
    let (va, vb) = cell_text(row, (a, b));
    let v = &row[va..vb];
    (!v.is_empty()
        && !v.iter().any(u8::is_ascii_whitespace)
        && super::values::plausible(v, h.strength))
    .then_some((va, vb))
}

/// Longest header row read.
const HEADER_REACH: usize = 1024;
/// Most rows of a table read in a view after its header.
const MOST_ROWS: usize = 256;

/// In a view whose lines hold a whole Markdown table (Claude's text in stream-json), the
/// header around the hit at `s` if it names a secret's column there, and the values its rows
/// give (absolute ranges). The raw stream's tables are read line by line by the redactor
/// ([`super::NextLine::Column`]).
pub(crate) fn table_in_view(line: &[u8], s: usize) -> Option<(Header, Vec<(usize, usize)>)> {
    // (Bounded looks: every hit of a scanned line asks, and a line may be megabytes long. A
    // header's cell holds a short name, its row at most `HEADER_REACH` bytes.)
    let (start, end) = match markdown_header_in_view(line, s) {
        Some(row) => row,
        None => match psql_header_in_view(line, s) {
            Some(row) => row,
            None => tab_header_in_view(line, s)?,
        },
    };
    let mut h = header(&line[start..end])?;
    h.name = (start + h.name.0, start + h.name.1);
    if !(h.name.0..h.name.1).contains(&s) || end == line.len() {
        return None;
    }
    let mut at = end + 1;
    let mut out = Vec::new();
    let mut first = true;
    let mut rows = 0;
    // (At most `MOST_ROWS` rows: a view of header rows, each with a delimiter row after it,
    // would read the rest of the view for each.)
    while at < line.len() && rows < MOST_ROWS {
        rows += 1;
        let e = memchr::memchr(b'\n', &line[at..]).map_or(line.len(), |p| at + p);
        // The last row of a JSON string ends at its closing quote: `… |","type":…`, or psql's
        // `… | VALUE","tool_use_id":…`.
        let close = match h.psql.is_some() || h.tabbed.is_some() {
            false => memchr::memmem::find(&line[at..e], b"|\"").map(|p| p + 1),
            true => memchr::memchr_iter(b'"', &line[at..e])
                .find(|&p| matches!(line.get(at + p + 1), Some(b',' | b'}') | None)),
        };
        let row = &line[at..close.map_or(e, |p| at + p)];
        if first && has_delimiter(&h) {
            if !delimiter_under(&h, row) {
                return None;
            }
            first = false;
        } else if !is_row(&h, row) {
            break;
        } else if let Some((a, b)) = column_value(row, &h) {
            out.push((at + a, at + b));
        }
        at = e + 1;
    }
    Some((h, out))
}

/// The Markdown row around `s` in a view (from its line's start or its JSON string's, to its
/// line's end), if it starts with a rule: `(start, end)`.
fn markdown_header_in_view(line: &[u8], s: usize) -> Option<(usize, usize)> {
    let near = s.saturating_sub(64);
    memchr::memrchr(b'|', &line[near..s])?;
    let floor = s.saturating_sub(HEADER_REACH);
    let mut start = memchr::memrchr(b'\n', &line[floor..s]).map_or(floor, |p| floor + p + 1);
    if !line[start..s].trim_ascii_start().starts_with(b"|") {
        // The first row of a JSON string: `"text":"| Service | …`.
        start += memchr::memmem::find(&line[start..s], b"\"|")? + 1;
    }
    let reach = line.len().min(s + HEADER_REACH);
    let end = memchr::memchr(b'\n', &line[s..reach]).map_or(reach, |p| s + p);
    if end == reach && reach < line.len() {
        return None;
    }
    Some((start, end))
}

/// The row around `s` in a view if it can be psql's header row (a tool's output in
/// stream-json): names, blanks and bars only, from a line break or a JSON string's quote to a
/// line break. `(start, end)`.
fn psql_header_in_view(line: &[u8], s: usize) -> Option<(usize, usize)> {
    let in_row = |c: &u8| name_byte(*c) || matches!(c, b' ' | b'|' | b'/');
    // (Every hit of a view asks: first the row's break, a blank before it and the delimiter's
    // first dash after it, which turn away all but such a header.)
    let reach = line.len().min(s + HEADER_REACH);
    let end = s + memchr::memchr(b'\n', &line[s..reach])?;
    if line[end - 1] != b' ' || line.get(end + 1) != Some(&b'-') || !line[s..end].iter().all(in_row)
    {
        return None;
    }
    let floor = s.saturating_sub(HEADER_REACH);
    let before = floor + line[floor..s].iter().rposition(|c| !in_row(c))?;
    matches!(line[before], b'\n' | b'"').then_some((before + 1, end))
}

/// The row around `s` in a view if it can be a tab-separated header row (the MySQL client's
/// batch output in stream-json): names and tabs only, a tab among them, from a line break or
/// a JSON string's quote to a line break. `(start, end)`.
fn tab_header_in_view(line: &[u8], s: usize) -> Option<(usize, usize)> {
    let in_row = |c: &u8| name_byte(*c) || *c == b'\t';
    // (Every hit of a view asks: the secret's column is never the first, so its name
    // follows a tab, which turns away all but such a header at once; then the first byte
    // past the names that is no name byte or tab must be the row's break.)
    if s == 0 || line[s - 1] != b'\t' {
        return None;
    }
    let reach = line.len().min(s + HEADER_REACH);
    let end = s + line[s..reach].iter().position(|c| !in_row(c))?;
    if line[end] != b'\n' {
        return None;
    }
    let floor = s.saturating_sub(HEADER_REACH);
    let before = floor + line[floor..s].iter().rposition(|c| !in_row(c))?;
    (matches!(line[before], b'\n' | b'"')
        && memchr::memchr(b'\t', &line[before + 1..end]).is_some())
    .then_some((before + 1, end))
}
