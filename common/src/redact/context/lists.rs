//! Lists of secrets: every item of a secret's name's list is a secret, not only the first.
//! JSON's and TOML's arrays and YAML's flow sequences on one line (`"api_keys": ["…", "…"]`),
//! a YAML block sequence read in a view (`api_keys:   - …   - …`), and a name in the plural with
//! comma-separated values (`API_KEYS=…,…`). The first item is found with the name
//! ([`first_item`], [`unbracketed`]); the rest follow it ([`next_in_list`]). Lists over real
//! lines are the redactor's, held as the other next-line forms ([`super::NextLine::Items`]).

use super::values::plausible_item;
use super::{Found, Strength, blanks, code_span, gaps, quoted_or_word, skip_read_number, value};

/// The first item of a list given as the value at `v` of the name at `s` (`q` at its
/// operator): `None` if no list is there, else what [`super::at`] returns.
pub(super) fn first_item(
    line: &[u8],
    s: usize,
    q: usize,
    v: usize,
    strength: Strength,
    lname: &[u8],
) -> Option<Option<Found>> {
    // A YAML block sequence read in a view, its line breaks crossed (`api_keys:\n  - …\n  - …`).
    let dashed = line[q] == b':' && v > q + 1 && line[v..].starts_with(b"- ");
    if line.get(v) != Some(&b'[') && !dashed {
        return None;
    }
    let first = gaps(line, v + if dashed { 2 } else { 1 });
    let (a, b) = quoted_or_word(line, skip_read_number(line, first));
    if line.get(b) == Some(&b';') {
        return Some(None); // Rust's array type or repeat (`secret: [0u8; 64]`), not a list
    }
    // Code that builds a value from pieces (`["postgres://gw", ":…@db"].concat()`); a URL's
    // secret is its user-info's, found by the URL rule.
    let close = line[v..].iter().position(|&c| c == b']' || c == b'\n');
    if close.is_some_and(|c| line.get(v + c + 1) == Some(&b'.'))
        || memchr::memmem::find(&line[a..b], b"://").is_some()
    {
        return Some(None);
    }
    let f = value(line, s, a, b, strength, lname, false)
        .filter(|f| plausible_item(&line[f.start..f.end], strength));
    Some(f.map(|f| Found {
        list: Some(strength),
        ..f
    }))
}

/// `f`, the unquoted value of a name in the plural followed by a comma (`API_KEYS=…,…`), marked
/// as a list's first item; any other value as it is.
pub(super) fn unbracketed(
    line: &[u8],
    f: Found,
    quote: Option<u8>,
    strength: Strength,
    lname: &[u8],
) -> Found {
    let list = quote.is_none()
        && line.get(f.end) == Some(&b',')
        && PLURALS.iter().any(|p| lname.ends_with(p));
    Found {
        list: list.then_some(strength),
        ..f
    }
}

/// Last parts of a name in the plural whose unquoted value may be a comma-separated list
/// (`API_KEYS=…,…`, `ALLOWED_TOKENS=…,…,…`).
const PLURALS: &[&[u8]] = &[b"keys", b"tokens", b"secrets", b"passwords"];

/// The item of a list after `f` (see [`Found::list`]): past the item's closing quote, a comma
/// and blanks, the next item, quoted or not; none at the list's end or where an item is not a
/// plausible secret. An unbracketed list (`TOKENS=a,b`) has no blank after its commas, and
/// its items no `=` or `:` (`password=…,vers=3.0` are mount's options).
pub(crate) fn next_in_list(line: &[u8], f: &Found) -> Option<Found> {
    let strength = f.list?;
    let mut i = f.end;
    let quote = f.start.checked_sub(1).map(|q| line[q]);
    if matches!(quote, Some(b'"' | b'\'')) && line.get(i) == quote.as_ref() {
        i += 1;
    }
    let sep = skip_read_number(line, gaps(line, i));
    // A YAML sequence's items each after `- ` (read in a view, across its escaped line
    // breaks); the others' after a comma.
    let item = f.start - usize::from(matches!(quote, Some(b'"' | b'\'')));
    let w = if line[..item].ends_with(b"- ") {
        if sep == i || !line[sep..].starts_with(b"- ") {
            return None;
        }
        sep + 2
    } else if line.get(sep) == Some(&b',') {
        skip_read_number(line, gaps(line, sep + 1))
    } else {
        return None;
    };
    // An object's members keyed by host (Composer's `"bearer": {"HOST": "…", …}`).
    let before = line[..item].trim_ascii_end();
    if before.ends_with(b":") && line[f.ctx..f.start].contains(&b'{') {
        let g = super::data::host_member(line, f.ctx, w)?;
        return Some(Found { list: f.list, ..g });
    }
    let (a, b) = quoted_or_word(line, w);
    let bracketed = line[f.ctx..f.start].contains(&b'[');
    let spaced = line[sep] == b',' && w != sep + 1;
    if !bracketed && (spaced || line[a..b].iter().any(|c| matches!(c, b'=' | b':'))) {
        return None;
    }
    let g = value(line, f.ctx, a, b, strength, b"", false)?;
    plausible_item(&line[g.start..g.end], strength).then_some(Found { list: f.list, ..g })
}

/// The new value of a changed setting after the quoted value `f` (Terraform's plan: `~
/// api_token = "OLD" -> "NEW"`), judged as after a strong name; `-> (sensitive value)` and `->
/// null` are none. In prose, after `from OLD` (`Changed the root password from `…` to `…``),
/// the word after `to`, judged as the old one was.
pub(crate) fn changed_to(line: &[u8], f: &Found) -> Option<Found> {
    let opened = f.start > 0 && matches!(line[f.start - 1], b'`' | b'\'' | b'"');
    let closed = f.end + usize::from(opened && line.get(f.end) == Some(&line[f.start - 1]));
    if line[..f.start - usize::from(opened)].ends_with(b"from ")
        && line[closed..].starts_with(b" to ")
    {
        let w = blanks(line, closed + 4);
        let (a, b) = code_span(line, w).unwrap_or_else(|| quoted_or_word(line, w));
        return value(line, f.ctx, a, b, Strength::Weak, b"password", true);
    }
    let quote = *line.get(f.start.checked_sub(1)?)?;
    if !matches!(quote, b'"' | b'\'') || line.get(f.end) != Some(&quote) {
        return None;
    }
    let arrow = gaps(line, f.end + 1);
    if !line[arrow..].starts_with(b"-> ") {
        return None;
    }
    let w = gaps(line, arrow + 3);
    if line.get(w) != Some(&quote) {
        return None;
    }
    let (a, b) = quoted_or_word(line, w);
    value(line, f.ctx, a, b, Strength::Strong, b"", false)
}
