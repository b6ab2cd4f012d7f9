//! The matching view of a line: terminal escape sequences removed, and every run of backslashes
//! that JSON escaping (one level or several) put before a quote, a slash or a control letter
//! collapsed — `\\\"` reads `"`, `\\n` and `\r` read as a line break and `\t` as a tab, so
//! rules that need a line's start or end find the lines of a tool's output inside stream-json
//! (rules that read across lines skip breaks as blanks: `context::gaps`). Rules match the view;
//! each view byte remembers the original bytes it stands for, so a match maps back to exact
//! offsets.

use super::ansi;

const ESC: u8 = 0x1b;

/// A line as rules see it, and the way back to the original.
pub(crate) struct View {
    pub bytes: Vec<u8>,
    /// The view in pieces, in order: bytes copied as they are, or one byte standing for
    /// several (an escape). A piece per stretch rather than two offsets per byte: a 4 MiB
    /// stream-json line made 32 MiB of offsets, written one at a time.
    pieces: Vec<Piece>,
}

/// Where view bytes from `at` come from: `start + k` for the `k`-th of a copied stretch, or,
/// for the one view byte of an escape, `start..end`.
#[derive(Debug, Clone, Copy)]
struct Piece {
    at: u32,
    start: u32,
    /// `None` for a copied stretch (it ends where the next piece begins).
    end: Option<u32>,
}

impl View {
    /// The view of `line`, or `None` if it would be `line` itself (no ESC, no backslash).
    pub fn of(line: &[u8]) -> Option<Self> {
        memchr::memchr2(ESC, b'\\', line)?;
        let mut v = View::empty(line.len());
        let mut i = 0;
        while i < line.len() {
            match line[i] {
                ESC => i += ansi::sequence_len(&line[i..]),
                b'\\' => {
                    let mut j = i;
                    while j < line.len() && line[j] == b'\\' {
                        j += 1;
                    }
                    if line[j..].starts_with(b"u001b") || line[j..].starts_with(b"u001B") {
                        // A JSON-escaped ESC (`\u001b[31m` in stream-json): the sequence goes.
                        let mut seq = vec![ESC];
                        seq.extend_from_slice(&line[j + 5..line.len().min(j + 5 + 256)]);
                        i = j + 5 + ansi::sequence_len(&seq) - 1;
                        continue;
                    }
                    if line[j..].starts_with(b"u0000") {
                        // A JSON-escaped NUL (`/proc/PID/environ` in a tool's output): it ends
                        // a value as the byte does.
                        v.push(0, i, j + 5);
                        i = j + 5;
                        continue;
                    }
                    match line.get(j) {
                        Some(b'"' | b'\'' | b'/' | b'`') => {
                            v.push(line[j], i, j + 1);
                            i = j + 1;
                        }
                        Some(b'n' | b'r') => {
                            v.push(b'\n', i, j + 1);
                            i = j + 1;
                        }
                        Some(b't') => {
                            v.push(b'\t', i, j + 1);
                            i = j + 1;
                        }
                        _ => {
                            for k in i..j {
                                v.push(b'\\', k, k + 1);
                            }
                            i = j;
                        }
                    }
                }
                _ => {
                    // Ordinary bytes up to the next ESC or backslash stand for themselves.
                    let j = memchr::memchr2(ESC, b'\\', &line[i..]).map_or(line.len(), |p| i + p);
                    v.copy(&line[i..j], i);
                    i = j;
                }
            }
        }
        Some(v)
    }

    /// An empty view, to be built byte by byte (a decoded view, see `encoded`).
    pub(crate) fn empty(capacity: usize) -> Self {
        View {
            bytes: Vec::with_capacity(capacity),
            pieces: Vec::new(),
        }
    }

    /// Whether the last piece is a copied stretch that original offset `start` continues.
    #[inline]
    fn continues(&self, start: usize) -> bool {
        self.pieces.last().is_some_and(|p| {
            p.end.is_none() && (p.start as usize) + (self.bytes.len() - p.at as usize) == start
        })
    }

    /// Append `bytes`, copied from original offset `start` on.
    fn copy(&mut self, bytes: &[u8], start: usize) {
        if !self.continues(start) {
            self.pieces.push(Piece {
                at: self.bytes.len() as u32,
                start: start as u32,
                end: None,
            });
        }
        self.bytes.extend_from_slice(bytes);
    }

    /// Append view byte `b`, standing for original range `start..end`.
    #[inline]
    pub(crate) fn push(&mut self, b: u8, start: usize, end: usize) {
        if end == start + 1 {
            self.copy(&[b], start);
            return;
        }
        self.pieces.push(Piece {
            at: self.bytes.len() as u32,
            start: start as u32,
            end: Some(end as u32),
        });
        self.bytes.push(b);
    }

    /// The original range of view byte `i`.
    fn origin(&self, i: usize) -> (usize, usize) {
        let p = self.pieces[self.pieces.partition_point(|p| p.at as usize <= i) - 1];
        match p.end {
            Some(end) => (p.start as usize, end as usize),
            None => {
                let o = p.start as usize + (i - p.at as usize);
                (o, o + 1)
            }
        }
    }

    /// The original range of view range `start..end` (non-empty).
    pub fn original(&self, start: usize, end: usize) -> (usize, usize) {
        (self.origin(start).0, self.origin(end - 1).1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_backslash_runs_collapse_and_map_back() {
        let line = &[
            &br#"a\\\"pw\\\":\\\"x"#[..],
            b"\x1b[31m",
            br#"y\\\"\tz\\w\nq"#,
        ]
        .concat();
        let v = View::of(line).unwrap();
        assert_eq!(v.bytes, b"a\"pw\":\"xy\"\tz\\\\w\nq");
        let (s, e) = v.original(1, 5);
        assert_eq!(&line[s..e], br#"\\\"pw\\\""#);
        let (s, e) = v.original(7, 9);
        assert_eq!(&line[s..e], b"x\x1b[31my");
        assert!(View::of(b"plain line").is_none());
    }
}
