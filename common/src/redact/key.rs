//! Private-key blocks. A header is a key only if a key body follows it: on the same line (a
//! JSON-escaped PEM, whose line breaks are `\n` escapes) or on the next lines. A header alone —
//! quoted in code, in a diff, in prose — is text like any other, and nothing after it is lost.
//! A block ends at its footer or at the first line that is not key body, so output always
//! resumes at a line's start or right after the footer, never inside a token, whatever the
//! chunking.

use super::rules::{Rules, Span, Tail};

/// A private-key header (PEM, OpenSSH, PGP), or PuTTY's private part.
pub(crate) const BEGIN: &str =
    r"(?-u)-----BEGIN[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----|Private-Lines: [0-9]{1,4}";
/// The matching footer.
pub(crate) const END: &str = r"(?-u)-----END[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----";
/// Base64 bytes a body's first line must start with.
pub(crate) const MIN_BODY: usize = 20;

fn b64(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=')
}

/// How a line after a header reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    /// Key body (or an armour header such as `Proc-Type:` before it).
    Body,
    /// The footer.
    Footer,
    /// Anything else: the block is over.
    Other,
    /// Too little of it to tell yet.
    Unknown,
}

/// Classify `line` (without its line end; `complete` if the line end was seen). `first` is
/// whether no body line was seen yet (then an armour header or a blank line may come, and the
/// body must be at least [`MIN_BODY`] bytes).
pub(crate) fn classify_line(rules: &Rules, line: &[u8], complete: bool, first: bool) -> Next {
    let t = trim(line);
    if rules.key_end.is_match(t) {
        return Next::Footer;
    }
    if first && (armour(t) || t.is_empty() && complete) {
        return Next::Body;
    }
    if first && !complete && !t.is_empty() && ARMOUR.iter().any(|a| a.starts_with(t)) {
        return Next::Unknown; // the start of an armour header
    }
    if t.iter().any(|&b| !b64(b)) {
        let footer_start = t.starts_with(b"-----END") || b"-----END".starts_with(t);
        return if !complete && footer_start {
            Next::Unknown
        } else {
            Next::Other
        };
    }
    if t.is_empty() {
        return if complete { Next::Other } else { Next::Unknown };
    }
    if first && t.len() < MIN_BODY {
        return if complete { Next::Other } else { Next::Unknown };
    }
    Next::Body
}

/// Whether `t` starts with an armour header, which may come (one or more, then a blank line)
/// between a key's header and its body: a traditional encrypted PEM's `Proc-Type:` and
/// `DEK-Info:`, an OpenPGP block's `Version:` and `Comment:`.
pub(crate) fn armour(t: &[u8]) -> bool {
    ARMOUR.iter().any(|a| t.starts_with(a))
}

const ARMOUR: [&[u8]; 5] = [
    b"Proc-Type:",
    b"DEK-Info:",
    b"Version:",
    b"Comment:",
    b"Hash:",
];

fn trim(line: &[u8]) -> &[u8] {
    let s = line
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(line.len());
    let e = line
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(s, |p| p + 1);
    &line[s..e.max(s)]
}

/// Key blocks inside one line's view: a header followed on the same line by a body (and maybe
/// its footer) becomes a span; a header that ends the line is reported as [`Tail::Header`] for
/// the caller to decide with the next line.
pub(crate) fn blocks(rules: &Rules, view: &[u8], complete: bool, found: &mut Vec<Span>) -> Tail {
    let mut from = 0;
    while let Some(h) = rules.key_begin.find_at(view, from) {
        // Blanks and escaped line breaks, and armour headers each on a line of its own.
        let mut skip = h.end();
        loop {
            skip += view[skip..]
                .iter()
                .take_while(|b| matches!(b, b' ' | b'\t' | b'\n'))
                .count();
            let own_line = view[h.end()..skip].contains(&b'\n');
            match memchr::memchr(b'\n', &view[skip..]) {
                Some(p) if own_line && armour(&view[skip..]) => skip += p,
                _ => break,
            }
        }
        let rest = &view[h.end()..];
        let blank = skip - h.end();
        let body = rest[blank..].iter().take_while(|&&b| b64(b)).count();
        if body >= MIN_BODY {
            // Body runs on through base64, blanks and escaped line breaks.
            let more = blank
                + rest[blank..]
                    .iter()
                    .take_while(|&&b| b64(b) || matches!(b, b' ' | b'\t' | b'\n'))
                    .count();
            let mut end = h.end() + more;
            if let Some(f) = rules.key_end.find_at(view, end)
                && f.start() == end
            {
                end = f.end();
            }
            found.push(Span {
                start: h.start(),
                end,
                rule: 0,
                ctx: h.start(),
            });
            from = end;
            continue;
        }
        let only_blanks = rest.iter().all(|b| b.is_ascii_whitespace());
        if only_blanks && complete {
            return Tail::Header(h.start());
        }
        from = h.end();
    }
    Tail::Closed
}
