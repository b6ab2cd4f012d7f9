//! Reading a command line as the shell's words, without a shell: where a command starts and
//! ends on a line (also inside a JSON string, or a view of a tool's output whose line breaks
//! were escaped), its words from either end, a flag's argument, and an `echo` piped into it.
//! What [`super::commands`] reads commands' secrets with.

use super::text::COMMAND_REACH;
use super::{READ_ARROW, before_json_end, blanks, line_start};

/// Where the command holding `at` ends: at a pipe, a `;`, a `&` or the line's end; on a
/// stream-json line, also at the end of the JSON string that holds it (a Bash call's
/// `"command":"…"}`, a tool's output whose last line it is). At most [`COMMAND_REACH`] bytes
/// after `at`.
pub(super) fn command_end(line: &[u8], at: usize) -> usize {
    let reach = line.len().min(at + COMMAND_REACH);
    let end = line[at..reach]
        .iter()
        .position(|&b| matches!(b, b'|' | b';' | b'&' | b'\n'))
        .map_or(reach, |p| at + p);
    if line.first() == Some(&b'{') {
        at + before_json_end(&line[at..end])
    } else {
        end
    }
}

/// The shell words of `bytes`, split at blanks and quotes (no quoting: only the commands' own
/// words are read this way, also inside a JSON string: `"command":"setx NAME VALUE"`), and at
/// a JSON escape of a line break, a tab or a quote (`…\nipmitool -P …` in a tool's output read
/// as it came, before its view). Lazy from either end: a name's words before it are read from
/// the name back, however long its line.
pub(super) fn words(bytes: &[u8]) -> Words<'_> {
    Words {
        bytes,
        front: 0,
        back: bytes.len(),
    }
}

/// See [`words`].
pub(super) struct Words<'a> {
    bytes: &'a [u8],
    front: usize,
    back: usize,
}

impl Words<'_> {
    /// The length of the separator that starts at `i`, or 0.
    fn sep_at(&self, i: usize) -> usize {
        match self.bytes[i] {
            b' ' | b'\t' | b'"' | b'\'' => 1,
            b'\\' if matches!(self.bytes.get(i + 1), Some(b'n' | b'r' | b't' | b'"')) => 2,
            // The arrow after a line's number in Claude Code's Read tool (`     2→poetry …`).
            0xe2 if self.bytes.get(i + 1..i + 3) == Some(&READ_ARROW[1..]) => 3,
            _ => 0,
        }
    }

    /// The length of the separator that ends at `j` (exclusive), or 0.
    fn sep_before(&self, j: usize) -> usize {
        let b = self.bytes;
        match b[j - 1] {
            b'"' | b'n' | b'r' | b't' if j >= 2 && b[j - 2] == b'\\' => 2,
            b' ' | b'\t' | b'"' | b'\'' => 1,
            0x92 if j >= 3 && b[j - 3..j] == *READ_ARROW => 3,
            _ => 0,
        }
    }
}

impl<'a> Iterator for Words<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        while self.front < self.back {
            match self.sep_at(self.front) {
                0 => break,
                n => self.front += n,
            }
        }
        if self.front >= self.back {
            return None;
        }
        let start = self.front;
        while self.front < self.back && self.sep_at(self.front) == 0 {
            self.front += 1;
        }
        Some(&self.bytes[start..self.front.min(self.back)])
    }
}

impl DoubleEndedIterator for Words<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        while self.back > self.front {
            match self.sep_before(self.back) {
                0 => break,
                n => self.back -= n.min(self.back - self.front),
            }
        }
        if self.back <= self.front {
            return None;
        }
        let end = self.back;
        while self.back > self.front && self.sep_before(self.back) == 0 {
            self.back -= 1;
        }
        Some(&self.bytes[self.back..end])
    }
}

/// The words before the shell word that holds the name at `s` (`npm config set` before
/// `//registry.npmjs.org/:_authToken`), on its line.
pub(super) fn words_before(line: &[u8], s: usize) -> &[u8] {
    let from = line_start(line, s);
    let w = line[from..s]
        .iter()
        .rposition(|&b| matches!(b, b' ' | b'\t' | b'"' | b'\'' | b'='))
        .map_or(from, |p| from + p + 1);
    line[from..w].trim_ascii_end()
}

/// The blank-separated words of `line[from..to]`, as `(start, end)`.
pub(super) fn words_at(
    line: &[u8],
    from: usize,
    to: usize,
) -> impl Iterator<Item = (usize, usize)> + '_ {
    let mut at = from;
    std::iter::from_fn(move || {
        at = blanks(&line[..to], at);
        let w = at;
        while at < to && !matches!(line[at], b' ' | b'\t') {
            at += 1;
        }
        (w < at).then_some((w, at))
    })
}

/// The last argument of an `echo`, `printf` or `yes` piped into the command that holds `s`, as
/// `(start, end)` without its quotes.
pub(super) fn echoed(line: &[u8], s: usize) -> Option<(usize, usize)> {
    let from = line_start(line, s);
    let bar = from + line[from..s].iter().rposition(|&b| b == b'|')?;
    // Where the `echo` starts: after a separator, or the quote that opens a JSON string
    // (`"command":"echo … | sudo -S …"`).
    let mut seg = command_start(line, bar).max(from);
    // `printf 'VALUE\n' | …`, `printf '%s\n' VALUE | …`: a view of escaped text reads the
    // `\n` as a line break, so a quote left open before the `|` opened on the line before.
    // (`printf '…\n…\n' | passwd bob`: as many lines back as the quote holds, within reach.)
    let open = |seg: usize, q: u8| line[seg..bar].iter().filter(|&&b| b == q).count() % 2 == 1;
    while seg == line_start(line, seg)
        && seg > 0
        && bar - seg < COMMAND_REACH
        && line[seg - 1] == b'\n'
        && (open(seg, b'\'') || open(seg, b'"'))
    {
        seg = command_start(line, seg - 1);
    }
    let body = line[seg..bar].trim_ascii();
    // The segment's last `echo` or `printf`: in a view of a tool's output the lines before
    // the command read as words before it (`$ date Thu Dec 3 … echo … | …`).
    let first = words(body)
        .rev()
        .find(|w| matches!(*w, b"echo" | b"printf" | b"yes"))?;
    let end = seg + (line[seg..bar].trim_ascii_end().len());
    match line[end - 1] {
        q @ (b'"' | b'\'') => {
            let open = line[seg..end - 1].iter().rposition(|&b| b == q)? + seg;
            // Without the line break the value ends with (`printf 'VALUE\n'`).
            let mut close = end - 1;
            while close > open + 1 && matches!(line[close - 1], b'\n' | b'\r') {
                close -= 1;
            }
            Some((open + 1, close))
        }
        _ => {
            let w = line[seg..end]
                .iter()
                .rposition(|&b| matches!(b, b' ' | b'\t'))
                .map_or(seg, |p| seg + p + 1);
            (w < end && &line[w..end] != first).then_some((w, end))
        }
    }
}

/// The argument after the first of `flags` among `args` (shell words as spans of the line), or
/// joined to it by `=` (`--flag=VALUE`, `-t=VALUE`).
pub(super) fn flag_argument<'a>(
    args: &[(usize, usize)],
    word: &impl Fn((usize, usize)) -> &'a [u8],
    flags: &[&[u8]],
) -> Option<(usize, usize)> {
    args.iter().enumerate().find_map(|(i, &a)| {
        if flags.contains(&word(a)) {
            args.get(i + 1).copied()
        } else {
            flags
                .iter()
                .find(|f| word(a).starts_with(f) && word(a).get(f.len()) == Some(&b'='))
                .map(|f| (a.0 + f.len() + 1, a.1))
        }
    })
}

/// A command word's program, without its directory (`/usr/bin/xh`, `C:\Tools\PsExec.exe`).
pub(super) fn program(w: &[u8]) -> &[u8] {
    w.rsplit(|&b| b == b'/' || b == b'\\').next().unwrap_or(w)
}

/// Where the command starting at `s` ends, `end` its end by [`command_end`]: at the `)` or
/// backtick that closes the command substitution or subshell it opens (`useradd -p
/// $(openssl passwd -6 VALUE) bob`), else at `end`.
pub(super) fn substitution_end(line: &[u8], s: usize, end: usize) -> usize {
    let start = command_start(line, s);
    let close = match start.checked_sub(1).map(|i| line[i]) {
        Some(b'(') => b')',
        Some(b'`') => b'`',
        _ => return end,
    };
    memchr::memchr(close, &line[s..end]).map_or(end, |p| s + p)
}

/// Where the command holding `at` starts: after a pipe, a `;`, a `&`, the quote that opens a
/// JSON string value (`"command":"docker login …`) or the line's start.
pub(super) fn command_start(line: &[u8], at: usize) -> usize {
    let from = line_start(line, at);
    (from..at)
        .rev()
        .find(|&i| match line[i] {
            b'|' | b';' | b'&' | b'(' | b'`' => true,
            b'"' => i > 0 && line[i - 1] == b':',
            _ => false,
        })
        .map_or(from, |p| p + 1)
}

/// Whether the command word at `at` starts a word: the line's start, a blank, a quote or a
/// shell operator before it (`mc` of `mc alias`, not of `rpmc alias`; `net user`, not
/// `planet user`).
pub(super) fn starts_command_word(line: &[u8], at: usize) -> bool {
    line_start(line, at) == at
        || matches!(
            line[at - 1],
            b' ' | b'\t' | b'"' | b'\'' | b';' | b'&' | b'|' | b'(' | b'`' | b'>'
        )
}

#[cfg(test)]
mod words_tests {
    use super::words;

    /// The words read from the back are the words read from the front, in reverse, for any
    /// bytes: blanks, quotes, backslashes and the letters of escapes in every order.
    #[test]
    fn words_read_from_either_end_agree() {
        let alphabet = b" \t\"'\\nrtab-";
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for len in 0..400 {
            let line: Vec<u8> = (0..len % 24)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    alphabet[(x % alphabet.len() as u64) as usize]
                })
                .collect();
            let forward: Vec<&[u8]> = words(&line).collect();
            let mut backward: Vec<&[u8]> = words(&line).rev().collect();
            backward.reverse();
            assert_eq!(forward, backward, "{:?}", String::from_utf8_lossy(&line));
        }
        let line = br#"$ date\nipmitool -P x \"quoted\" 'a b'"#;
        let w: Vec<&[u8]> = words(line).collect();
        assert_eq!(
            w,
            [
                &b"$"[..],
                b"date",
                b"ipmitool",
                b"-P",
                b"x",
                b"quoted",
                b"a",
                b"b"
            ]
        );
    }
}
