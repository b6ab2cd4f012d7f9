//! Reading a line's text for the rules: where a line starts (a line as Claude Code's Read tool
//! numbers it, too) and where it ends (its break, or the JSON string that holds it), blanks
//! and escaped line breaks, and a value's extent: quoted, a word, a code span.

use super::data::skip;

/// How far the readers of a command look back or ahead from a keyword hit for its line's or
/// its command's ends: every hit of a scanned line asks, so a line of megabytes without a
/// break (a tool's output in one stream-json line) would cost its length for each hit.
pub(crate) const COMMAND_REACH: usize = 4096;

/// Where the line holding `at` starts (at most [`COMMAND_REACH`] bytes before it).
pub(super) fn line_start(line: &[u8], at: usize) -> usize {
    let floor = at.saturating_sub(COMMAND_REACH);
    let p = memchr::memrchr(b'\n', &line[floor..at]).map_or(floor, |p| floor + p + 1);
    // A file's line as Claude Code's Read tool shows it starts after its number (`     3→`).
    let d = skip(&line[..at], p, b" ");
    let digits = line[d..at]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    let arrow = d + digits + READ_ARROW.len();
    if digits > 0 && arrow <= at && line[d + digits..].starts_with(READ_ARROW) {
        arrow
    } else {
        p
    }
}

/// Whether Markdown's bold opens right before the name at `s` or before up to three words
/// that qualify it, one blank apart (`**Admin password**`, `**Root DB password:**`), as Claude
/// labels what it made in a summary.
pub(super) fn bold_before(line: &[u8], s: usize) -> bool {
    bold_open(line, s).is_some()
}

/// Where the `**` that [`bold_before`] finds starts.
pub(super) fn bold_open(line: &[u8], s: usize) -> Option<usize> {
    let mut i = s;
    for _ in 0..4 {
        if i >= 2 && &line[i - 2..i] == b"**" {
            return Some(i - 2);
        }
        if i == 0 || line[i - 1] != b' ' {
            return None;
        }
        let w = line[..i - 1]
            .iter()
            .rev()
            .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
            .count();
        if w == 0 {
            return None;
        }
        i -= 1 + w;
    }
    None
}

/// Where the rest of a line, `rest`, ends once the end of the JSON string that holds the line
/// is taken off (a tool's output or Claude's text in stream-json, read in its view: the
/// string's quote, then `}`, `]` or `,`): the first quote so followed, or `rest.len()`.
pub(super) fn before_json_end(rest: &[u8]) -> usize {
    rest.windows(2)
        .position(|w| w[0] == b'"' && matches!(w[1], b'}' | b']' | b','))
        .unwrap_or(rest.len())
}

/// Where the blanks at `p` end.
pub(super) fn blanks(line: &[u8], p: usize) -> usize {
    skip(line, p, b" \t")
}

/// Where the blanks and line breaks at `p` end: in a view of a JSON string, the escaped line
/// breaks too (`"password:\n  …"`), which a real line has only at its end.
pub(super) fn gaps(line: &[u8], p: usize) -> usize {
    skip(line, p, b" \t\n\r")
}

/// The value starting at `v`, quoted (its quotes left out) or up to a byte that ends a value.
pub(super) fn quoted_or_word(line: &[u8], v: usize) -> (usize, usize) {
    match line.get(v) {
        Some(&q @ (b'"' | b'\'')) => (v + 1, run_end(line, v + 1, Some(q))),
        _ => (v, run_end(line, v, None)),
    }
}

/// Where a string starts at `v` past its prefix in Python and C# (`b'…'`, `f"…"`, `r'…'`,
/// `u"…"`, `@"…"`): at its quote.
pub(super) fn after_string_prefix(line: &[u8], v: usize) -> usize {
    // (Bash's `$'…'` and `$"…"`, C#'s `$"…"`, too.)
    let prefixed = matches!(
        line.get(v),
        Some(b'b' | b'f' | b'r' | b'u' | b'B' | b'F' | b'R' | b'@' | b'$')
    ) && matches!(line.get(v + 1), Some(b'"' | b'\''));
    v + usize::from(prefixed)
}

/// A word in Markdown's bold at `v` (`**admin**`), its asterisks left out.
pub(super) fn bold_word(line: &[u8], v: usize) -> Option<(usize, usize)> {
    emphasized_word(line, v).filter(|&(a, _)| a == v + 2)
}

/// A word in Markdown's bold or italics at `v` (`**admin**`, `*admin*`), its asterisks left
/// out: a value as a summary gives one (a mask, `********`, is none).
pub(super) fn emphasized_word(line: &[u8], v: usize) -> Option<(usize, usize)> {
    let n = match line.get(v..)? {
        [b'*', b'*', ..] => 2,
        [b'*', ..] => 1,
        _ => return None,
    };
    let a = v + n;
    let reach = line.len().min(a + 128);
    let b = a + line[a..reach]
        .iter()
        .position(|&c| c.is_ascii_whitespace() || c == b'*')?;
    (b > a && line[b..].starts_with(&b"**"[..n])).then_some((a, b))
}

/// A Markdown code span of one word at `v` (`` `…` ``), its backticks left out.
pub(super) fn code_span(line: &[u8], v: usize) -> Option<(usize, usize)> {
    if line.get(v) != Some(&b'`') {
        return None;
    }
    let close = v
        + 1
        + line[v + 1..]
            .iter()
            .position(|&b| b == b'`' || b.is_ascii_whitespace())?;
    // A short one ending in a separator names a token's prefix (`` `whsec_` ``, `` `ghp_` ``).
    let prefix = close - v <= 12 && matches!(line[close - 1], b'_' | b'-');
    (line[close] == b'`' && close > v + 1 && !prefix).then_some((v + 1, close))
}

/// Bytes that end an unquoted value (NUL too: `/proc/PID/environ` and `env -0` end each
/// `NAME=VALUE` with one).
fn ends_value(b: u8) -> bool {
    b.is_ascii_whitespace()
        || matches!(
            b,
            b'"' | b'\'' | b',' | b';' | b'&' | b'<' | b'>' | b'`' | b'\0'
        )
}

/// Most bytes of a value the reader of `NAME=VALUE` looks at to judge it. A value that goes on
/// past it is judged on its first bytes and, if it is a secret, redacted whole: every keyword
/// hit of a line reads its value, and in a line of one assignment repeated (`pass=pass=…`)
/// each value is the rest of the line, so reading each whole was quadratic.
pub(crate) const VALUE_REACH: usize = 4096;

/// [`run_end`] looking at most [`VALUE_REACH`] bytes: the end found, and whether the run goes
/// on past the look.
pub(super) fn run_end_within(line: &[u8], v: usize, quote: Option<u8>) -> (usize, bool) {
    let reach = line.len().min(v + VALUE_REACH);
    let end = run_end(&line[..reach], v, quote);
    (end, end == reach && reach < line.len())
}

pub(super) fn run_end(line: &[u8], v: usize, quote: Option<u8>) -> usize {
    match quote {
        Some(q) => {
            let end = line[v..].iter().position(|&b| b == q || b == b'\n');
            end.map_or(line.len(), |p| v + p)
        }
        None => line[v..]
            .iter()
            .position(|&b| ends_value(b))
            .map_or(line.len(), |p| v + p),
    }
}

/// The line number Claude Code's Read tool puts before each line of a file (`     12→`).
pub(crate) const READ_ARROW: &[u8] = "\u{2192}".as_bytes();

/// Past a Read tool's line number and the blanks after it at `at` (`12→    `), or `at`.
pub(super) fn skip_read_number(line: &[u8], at: usize) -> usize {
    let digits = line[at..].iter().take_while(|b| b.is_ascii_digit()).count();
    if digits > 0 && line[at + digits..].starts_with(READ_ARROW) {
        blanks(line, at + digits + READ_ARROW.len())
    } else {
        at
    }
}

/// The colon after a remark in brackets at `q` (`(save this, it won't be shown again): …`), when
/// the remark has two words or more (`(str)`, a type in a parameter's documentation, has one)
/// and one word follows the colon to the line's end (or its JSON string's): a value, where a
/// description has more words.
pub(super) fn remark_colon(line: &[u8], q: usize) -> Option<usize> {
    if line.get(q) != Some(&b'(') {
        return None;
    }
    let reach = line.len().min(q + 64);
    let close = q + line[q..reach].iter().position(|&b| b == b')')?;
    let remark = &line[q + 1..close];
    if !remark.contains(&b' ')
        || remark
            .iter()
            .any(|&b| matches!(b, b'(' | b'\n' | b'\r' | b'"'))
        || !line[close..].starts_with(b"): ")
    {
        return None;
    }
    let v = blanks(line, close + 3);
    // (At most `COMMAND_REACH` bytes on: a run of megabytes after a remark is no value.)
    let reach = line.len().min(v + COMMAND_REACH);
    let end = v + line[v..reach]
        .iter()
        .position(|&b| b.is_ascii_whitespace() || b == b'"')
        .unwrap_or(line.len() - v);
    if end > reach {
        return None;
    }
    let rest = &line[end..];
    let alone = rest
        .iter()
        .position(|&b| !matches!(b, b' ' | b'\t'))
        .is_none_or(|i| matches!(rest[i], b'\n' | b'\r' | b'"'));
    (end > v && alone).then_some(close + 1)
}
